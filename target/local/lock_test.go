package local

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
)

func mustServer(t *testing.T) string {
	t.Helper()
	bin, err := ResolveBin("")
	if err != nil {
		t.Fatalf("valkey-server is required (run scripts/setup.sh): %v", err)
	}
	return bin
}

// The second server on a directory under the writer lock does not start
// (does not even listen) until the first has exited, and its own log says
// it started after that exit.
func TestWriterLockSerializesServers(t *testing.T) {
	bin := mustServer(t)
	dir, logs := t.TempDir(), t.TempDir()
	lock := filepath.Join(dir, WriterLockFile)
	spawn := func(name string) *Server {
		srv, err := Spawn(ServerConfig{Bin: bin, Dir: dir, LogFile: filepath.Join(logs, name+".log"), WriterLock: lock, LockWait: 60 * time.Second})
		if err != nil {
			t.Fatalf("spawn %s: %v", name, err)
		}
		t.Cleanup(func() { _ = srv.KillGroup(); _ = srv.Wait(context.Background()) })
		return srv
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := spawn("first")
	if err := first.WaitAccepting(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	second := spawn("second")
	// While the first holds the lock the second never listens: sample its
	// port a bounded number of times.
	for i := 0; i < 20; i++ {
		if c, err := net.DialTimeout("tcp", second.Addr(), 50*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("second server accepted on %s while the first held the writer lock", second.Addr())
		}
		if !second.Running() {
			t.Fatalf("second server exited while waiting for the lock: %s", second.ExitDetail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.WaitAccepting(ctx, time.Minute); err != nil {
		t.Fatalf("second server after the first exited: %v", err)
	}
	f, err := os.Open(filepath.Join(logs, "second.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := probe.ParseLog(f, second.LogZone())
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Kind == probe.ServerStarting {
			// The log has ms resolution: the start lies at or after the exit's ms.
			if ev.Time.Before(first.ExitedAt().Truncate(time.Millisecond)) {
				t.Fatalf("second server started at %v, before the first exited at %v", ev.Time, first.ExitedAt())
			}
			return
		}
	}
	t.Fatalf("no start line in the second server's log (%d events)", len(events))
}

// Servers log in UTC whatever the harness's zone, and LogZone says so: a
// harness in Asia/Kolkata parses the start line between spawn and now.
func TestServerLogsInUTC(t *testing.T) {
	bin := mustServer(t)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Fatal(err)
	}
	defer func(saved *time.Location) { time.Local = saved }(time.Local)
	time.Local = kolkata
	logFile := filepath.Join(t.TempDir(), "s.log")
	srv, err := Spawn(ServerConfig{Bin: bin, Dir: t.TempDir(), LogFile: logFile})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.KillGroup(); _ = srv.Wait(context.Background()) }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.WaitAccepting(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if srv.LogZone() != time.UTC {
		t.Fatalf("LogZone = %v, want UTC", srv.LogZone())
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := probe.ParseLog(f, srv.LogZone())
	if err != nil || len(events) == 0 {
		t.Fatalf("parse log: %v (%d events)", err, len(events))
	}
	at := events[0].Time
	if at.Before(srv.StartedAt().Truncate(time.Millisecond)) || at.After(after) {
		t.Fatalf("first line at %v, not between spawn %v and %v", at, srv.StartedAt(), after)
	}
}
