package valkeyconn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
	"github.com/trigpointing/valkey-chaos/valkeyconn/valkeyconntest"
)

const (
	user     = "chaos"
	password = "s3cret-pw"
)

// harnessRules are the module's harness ACL (terraform/modules/valkey).
var harnessRules = []string{"~vc:*", "-@all", "+@read", "+@write", "-@dangerous", "+ping", "+info", "+config|get", "+bgsave"}

func spawn(t *testing.T, sec local.Security) string {
	t.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	srv, err := local.Spawn(local.ServerConfig{Dir: t.TempDir(), Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.KillGroup(); <-srv.Exited() })
	if err := srv.WaitAccepting(context.Background(), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return srv.Addr()
}

func tlsSettings(t *testing.T, ca []byte, name string, auth valkeyconn.Auth) valkeyconn.Settings {
	t.Helper()
	cfg, err := valkeyconn.TLSConfig(ca, name)
	if err != nil {
		t.Fatal(err)
	}
	return valkeyconn.Settings{Auth: auth, TLS: cfg}
}

func TestCheckAgainstACLAndTLSServers(t *testing.T) {
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	good := valkeyconn.Auth{User: user, Password: password}
	users := []local.ACLUser{{Name: user, Password: password, Rules: harnessRules}}
	aclAddr := spawn(t, local.Security{Users: users})
	tlsAddr := spawn(t, local.Security{Users: users,
		TLS:    &local.TLSFiles{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
		Client: tlsSettings(t, certs.CAPEM, "", valkeyconn.Auth{})})
	openAddr := spawn(t, local.Security{})
	cases := []struct {
		name     string
		addr     string
		settings valkeyconn.Settings
		want     string // "" = accepted; else a substring of the one-line error
	}{
		{"acl, right password", aclAddr, valkeyconn.Settings{Auth: good}, ""},
		{"acl, wrong password", aclAddr, valkeyconn.Settings{Auth: valkeyconn.Auth{User: user, Password: "nope"}}, "WRONGPASS"},
		{"acl, no password", aclAddr, valkeyconn.Settings{}, "requires authentication"},
		{"open server, password given", openAddr, valkeyconn.Settings{Auth: valkeyconn.Auth{Password: password}}, "no password set"},
		{"tls, right everything", tlsAddr, tlsSettings(t, certs.CAPEM, "", good), ""},
		{"tls, server name in cert", tlsAddr, tlsSettings(t, certs.CAPEM, valkeyconntest.ServerName, good), ""},
		{"tls server, no --tls", tlsAddr, valkeyconn.Settings{Auth: good}, "pass --tls"},
		{"tls, untrusted CA", tlsAddr, tlsSettings(t, nil, "", good), "--tls-ca"},
		{"tls, wrong server name", tlsAddr, tlsSettings(t, certs.CAPEM, "other.test", good), "--tls-server-name"},
		{"tls, wrong password", tlsAddr, tlsSettings(t, certs.CAPEM, "", valkeyconn.Auth{User: user, Password: "x"}), "WRONGPASS"},
		{"--tls to a plaintext server", openAddr, tlsSettings(t, certs.CAPEM, "", valkeyconn.Auth{}), "speak TLS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.settings.Check(context.Background(), c.addr, 2*time.Second)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, valkeyconn.ErrRejected) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Check = %v, want ErrRejected mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error leaks the password or spans lines: %q", err)
			}
		})
	}
}

// TestGoRedisClientAuthenticatesOverTLS: the go-redis options carry the
// same settings, the ACL limits the harness user to its prefix, and a
// refusal explains itself the way Check does.
func TestGoRedisClientAuthenticatesOverTLS(t *testing.T) {
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	s := tlsSettings(t, certs.CAPEM, "", valkeyconn.Auth{User: user, Password: password})
	addr := spawn(t, local.Security{
		Users:  []local.ACLUser{{Name: user, Password: password, Rules: harnessRules}},
		TLS:    &local.TLSFiles{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
		Client: s})
	ctx := context.Background()
	c := s.NewClient(addr, 1, valkeyconn.Timeouts{Dial: 5 * time.Second, Read: 5 * time.Second})
	defer c.Close()
	if err := c.Set(ctx, "vc:test:1", "v", 0).Err(); err != nil {
		t.Fatalf("SET under the prefix: %v", err)
	}
	if got, err := c.Get(ctx, "vc:test:1").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v", got, err)
	}
	if err := c.Set(ctx, "other:1", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("SET outside the prefix = %v, want NOPERM", err)
	}
	errs, err := c.Info(ctx, "errorstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errs, "errorstat_ERR") {
		t.Fatalf("the client caused ERR replies (maintenance notifications on?): %s", errs)
	}
	bad := tlsSettings(t, certs.CAPEM, "", valkeyconn.Auth{User: user, Password: "wrong"})
	bc := bad.NewClient(addr, 1, valkeyconn.Timeouts{Dial: 5 * time.Second, Read: 5 * time.Second})
	defer bc.Close()
	err = bad.Explain(addr, bc.Ping(ctx).Err())
	if !errors.Is(err, valkeyconn.ErrRejected) || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password via go-redis = %v, want ErrRejected WRONGPASS", err)
	}
}

func TestStringNeverShowsThePassword(t *testing.T) {
	s := valkeyconn.Settings{Auth: valkeyconn.Auth{User: "u", Password: password}}
	if strings.Contains(s.String(), password) {
		t.Fatalf("String() = %q", s)
	}
}
