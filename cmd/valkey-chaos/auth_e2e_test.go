package main

// Issue 14: the harness against an authenticated, TLS-only Valkey: a
// local server and the ECS twin's tasks started with an ACL user and TLS
// (certificates generated here), the harness given --user,
// --password-env, --tls and the CA.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
	"github.com/trigpointing/valkey-chaos/valkeyconn/valkeyconntest"
)

const (
	authUser     = "chaos"
	authPassword = "pw-that-must-never-be-printed"
	authEnv      = "VALKEY_CHAOS_TEST_PASSWORD"
)

// harnessACL is the module's harness user (terraform/modules/valkey
// main.tf harness_acl_rules) with SHUTDOWN, as when the crash fault is
// allowed.
var harnessACL = []string{"~vc:*", "&__keyevent@*__:*", "-@all", "+@read", "+@write", "-@dangerous",
	"+ping", "+echo", "+hello", "+client|setname", "+client|setinfo", "+client|id", "+select", "+dbsize", "+scan",
	"+info", "+config|get", "+bgsave", "+shutdown"}

// noSecretsIn fails when the password shows up in the output or any file
// the run wrote.
func noSecretsIn(t *testing.T, r e2eRun) {
	t.Helper()
	if strings.Contains(r.out, authPassword) || (r.err != nil && strings.Contains(r.err.Error(), authPassword)) {
		t.Errorf("the password appears in the output")
	}
	_ = filepath.Walk(r.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, rerr := os.ReadFile(path); rerr == nil && strings.Contains(string(b), authPassword) {
				t.Errorf("the password appears in %s", path)
			}
		}
		return nil
	})
}

func TestLocalRunWithACLUserAndTLS(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	t.Setenv(authEnv, authPassword)
	out := t.TempDir()
	r := runCLI(t, filepath.Join(out, "tls"), "run", "--save", e2eSave, "--rate", "2000/s", "--keys", "20000",
		"--out", out, "--run-id", "tls", "--no-report",
		"--user", authUser, "--password-env", authEnv, "--tls", "--tls-ca", certs.CAFile,
		"--server-tls-cert", certs.CertFile, "--server-tls-key", certs.KeyFile, "crash")
	if r.code != exitOK {
		t.Fatalf("exit %d (%v), want 0; output:\n%s", r.code, r.err, r.out)
	}
	if tr := r.trial(t, "crash"); tr.Verdict != result.Pass || tr.Acked == 0 || tr.Lost == 0 {
		t.Errorf("crash over TLS as %s: verdict %s, acked %d, lost %d: want a pass that measured a loss", authUser, tr.Verdict, tr.Acked, tr.Lost)
	}
	noSecretsIn(t, r)

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--user", authUser}, "needs a password"},
			{[]string{"--password-env", "VALKEY_CHAOS_UNSET_VAR"}, "VALKEY_CHAOS_UNSET_VAR"},
			{[]string{"--tls-ca", certs.CAFile}, "need --tls"},
			{[]string{"--tls", "--tls-ca", certs.KeyFile, "--server-tls-cert", certs.CertFile, "--server-tls-key", certs.KeyFile}, "PEM"},
			{[]string{"--tls"}, "--server-tls-cert"},
		} {
			r := runCLI(t, filepath.Join(out, "bad"), append([]string{"run", "--out", out, "--run-id", "bad", "crash"}, c.args...)...)
			r.oneLine(t, exitBadInput, c.want)
		}
	})
}

// The twin's tasks run with the module's harness ACL and TLS only; the
// crash trial passes, and wrong settings are one line, exit 2, with the
// outcome refused published before any trial.
func TestECSRunWithACLUserAndTLS(t *testing.T) {
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	client, err := valkeyconn.TLSConfig(certs.CAPEM, valkeyconntest.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	tw := startE2ETwin(t, ecstwin.Config{Security: local.Security{
		Users:  []local.ACLUser{{Name: authUser, Password: authPassword, Rules: harnessACL}},
		TLS:    &local.TLSFiles{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
		Client: valkeyconn.Settings{TLS: client},
	}})
	t.Setenv("VALKEY_CA_PEM", string(certs.CAPEM))
	t.Setenv(authEnv, authPassword)
	tlsArgs := []string{"--tls", "--tls-ca-env", "VALKEY_CA_PEM", "--tls-server-name", valkeyconntest.ServerName}
	good := append([]string{"--no-report", "--user", authUser, "--password-env", authEnv}, tlsArgs...)

	r := runECS(t, "e2e-tls", append(good, "crash")...)
	if r.code != exitOK {
		t.Fatalf("exit %d (%v), want 0; output:\n%s", r.code, r.err, r.out)
	}
	if tr := r.trial(t, "crash"); tr.Verdict != result.Pass || tr.Acked == 0 {
		t.Errorf("crash over TLS: verdict %s, acked %d; reasons %q", tr.Verdict, tr.Acked, tr.Reasons)
	}
	noSecretsIn(t, r)

	t.Setenv("VALKEY_CHAOS_WRONG", "not-the-password")
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"wrong password", append([]string{"--user", authUser, "--password-env", "VALKEY_CHAOS_WRONG"}, tlsArgs...), []string{"WRONGPASS", "--password-env"}},
		{"no password", tlsArgs, []string{"requires authentication", "--user"}},
		{"no --tls", []string{"--user", authUser, "--password-env", authEnv}, []string{"--tls"}},
		{"wrong server name", []string{"--user", authUser, "--password-env", authEnv, "--tls", "--tls-ca-env", "VALKEY_CA_PEM"}, []string{"--tls-server-name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := "ValkeyChaosAuth/" + strings.ReplaceAll(c.name, " ", "-")
			r := runECS(t, "e2e-tls-bad", append(append([]string{"--no-report", "--publish", "cloudwatch:" + ns}, c.args...), "crash")...)
			r.oneLine(t, exitBadInput, c.want...)
			if r.result != nil && len(r.result.Trials) > 0 && r.result.Trials[0].Writes > 0 {
				t.Errorf("the run wrote %d keys before finding the settings wrong", r.result.Trials[0].Writes)
			}
			if p := publishedIn(tw, ns); p.heartbeats != 1 || p.outcomes["refused"] != 1 {
				t.Errorf("published Heartbeat %v, Outcome %v: want 1 and refused", p.heartbeats, p.outcomes)
			}
		})
	}
}
