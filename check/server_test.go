package check_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// startServer spawns valkey-server on dir (port 0: a free one), waits until
// it answers without LOADING, and kills its process group when the test ends.
func startServer(t testing.TB, dir string, port int, save, logFile string) *local.Server {
	t.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	srv, err := local.Spawn(local.ServerConfig{Dir: dir, Port: port, Save: save, LogFile: logFile})
	if err != nil {
		t.Fatalf("spawn valkey-server: %v", err)
	}
	t.Cleanup(func() { stopServer(srv) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := probe.WaitReady(ctx, fixed(srv.Addr()), 2*time.Millisecond); err != nil {
		t.Fatalf("server on %s never ready: %v", srv.Addr(), err)
	}
	return srv
}

func stopServer(srv *local.Server) {
	if srv.Running() {
		_ = srv.KillGroup()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Wait(ctx)
}

func fixed(addr string) func() string { return func() string { return addr } }

// do runs one command and fails the test on a transport error or error reply.
func do(t testing.TB, addr string, args ...string) probe.Reply {
	t.Helper()
	rep, err := probe.Do(context.Background(), addr, 30*time.Second, args...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.IsError() {
		t.Fatalf("%v: %s", args, rep)
	}
	return rep
}

func parseLog(t testing.TB, path string) []probe.LogEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := probe.ParseLog(f, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// completedSaveStarts pairs each "Background saving started" with the
// "terminated with success" that follows it and returns the starts of the
// saves that completed.
func completedSaveStarts(evs []probe.LogEvent) []time.Time {
	var starts []time.Time
	var open time.Time
	for _, ev := range evs {
		switch ev.Kind {
		case probe.BGSaveStarted:
			open = ev.Time
		case probe.BGSaveOK:
			if !open.IsZero() {
				starts = append(starts, open)
			}
			open = time.Time{}
		case probe.BGSaveError, probe.BGSaveKilled:
			open = time.Time{}
		}
	}
	return starts
}
