package probe_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
	"github.com/trigpointing/valkey-chaos/valkeyconn/valkeyconntest"
)

// Against a TLS-only server with ACL users the probe authenticates on every
// connection: readiness is a PONG (never the NOAUTH an unauthenticated PING
// gets, which is not -LOADING and would pass for ready), INFO works, and
// wrong credentials never look ready.
func TestClientAuthenticatesOverTLS(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	tlsCfg, err := valkeyconn.TLSConfig(certs.CAPEM, "")
	if err != nil {
		t.Fatal(err)
	}
	good := valkeyconn.Settings{Auth: valkeyconn.Auth{User: "chaos", Password: "pw"}, TLS: tlsCfg}
	srv, err := local.Spawn(local.ServerConfig{Dir: t.TempDir(), Security: local.Security{
		Users:  []local.ACLUser{{Name: "chaos", Password: "pw"}},
		TLS:    &local.TLSFiles{CertFile: certs.CertFile, KeyFile: certs.KeyFile, CAFile: certs.CAFile},
		Client: good,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.KillGroup(); <-srv.Exited() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitAccepting(ctx, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	addr := func() string { return srv.Addr() }
	cl := probe.Client{Conn: good}
	rd, err := cl.WaitReady(ctx, addr, 2*time.Millisecond)
	if err != nil || rd.ReadyReply != "PONG" {
		t.Fatalf("WaitReady = %+v, %v: want PONG", rd, err)
	}
	if info, err := cl.Info(ctx, srv.Addr(), "server"); err != nil || info["tcp_port"] == "" {
		t.Fatalf("INFO server = %v, %v", info["tcp_port"], err)
	}
	// Polls reuse the connections that answered: ~150 polls of a missing
	// key open at most a handful (maxInFlight 8) connections.
	before, err := cl.Info(ctx, srv.Addr(), "stats")
	if err != nil {
		t.Fatal(err)
	}
	polling, stopPolling := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stopPolling()
	if _, _, err := cl.WaitServing(polling, addr, "vc:absent", 2*time.Millisecond); err == nil {
		t.Fatal("WaitServing found a value for a key never written")
	}
	after, err := cl.Info(ctx, srv.Addr(), "stats")
	if err != nil {
		t.Fatal(err)
	}
	opened := atoi(t, after["total_connections_received"]) - atoi(t, before["total_connections_received"])
	calls := atoi(t, after["total_commands_processed"]) - atoi(t, before["total_commands_processed"])
	if calls < 20 || opened > 10 {
		t.Errorf("%d commands over %d new connections: want many polls over at most 10 kept connections (the INFO included)", calls, opened)
	}
	t.Logf("%d commands over %d new connections", calls, opened)
	wrong := probe.Client{Conn: valkeyconn.Settings{Auth: valkeyconn.Auth{User: "chaos", Password: "nope"}, TLS: tlsCfg}}
	short, stop := context.WithTimeout(ctx, 300*time.Millisecond)
	defer stop()
	if rd, err := wrong.WaitReady(short, addr, 5*time.Millisecond); err == nil {
		t.Fatalf("a wrong password looked ready: %+v", rd)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
