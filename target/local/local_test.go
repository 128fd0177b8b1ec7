package local

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

func newTarget(t *testing.T, cfg Config) *Target {
	t.Helper()
	if _, err := ResolveBin(cfg.ServerBin); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	if cfg.LogDir == "" {
		cfg.LogDir = t.TempDir()
	}
	if cfg.WorkDir == "" {
		cfg.WorkDir = t.TempDir()
	}
	tg, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("new local target: %v", err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// resp sends one inline command and returns the first reply line.
func resp(t *testing.T, addr, cmd string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(cmd + "\r\n")); err != nil {
		t.Fatalf("write %q: %v", cmd, err)
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read reply to %q: %v", cmd, err)
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "$") && line != "$-1" {
		body, _ := r.ReadString('\n')
		return strings.TrimSpace(body)
	}
	return line
}

func waitValue(t *testing.T, addr, key string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			v := resp(t, addr, "GET "+key)
			if !strings.HasPrefix(v, "-LOADING") {
				return v
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("server on %s never served", addr)
	return ""
}

func TestFaultsLoseWhatTheyShould(t *testing.T) {
	tests := []struct {
		fault    target.FaultKind
		survives bool // the write after the last save
		wantExit string
	}{
		{target.Crash, false, "signal: killed"},
		{target.Stop, true, "exit status 0"},
		{target.ShutdownNoSave, false, "exit status 0"},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			tg := newTarget(t, Config{})
			inst, err := tg.Start(context.Background(), target.StartSpec{Save: "3600 1", Label: "t"})
			if err != nil {
				t.Fatal(err)
			}
			resp(t, inst.Addr, "SET saved 1")
			if got := resp(t, inst.Addr, "SAVE"); got != "+OK" {
				t.Fatalf("SAVE: %s", got)
			}
			resp(t, inst.Addr, "SET unsaved 1")
			rep, err := tg.Inject(context.Background(), tc.fault)
			if err != nil {
				t.Fatalf("inject: %v", err)
			}
			if !rep.Confirmed || rep.GoneAt.Before(rep.IssuedAt) || !strings.Contains(rep.ExitDetail, tc.wantExit) {
				t.Fatalf("fault report %+v, want confirmed exit %q", rep, tc.wantExit)
			}
			rec, err := tg.Recover(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Instance.Addr != inst.Addr {
				t.Errorf("replacement on %s, want the same address %s", rec.Instance.Addr, inst.Addr)
			}
			if got := waitValue(t, rec.Instance.Addr, "saved"); got != "1" {
				t.Errorf("saved key after %s = %q, want 1", tc.fault, got)
			}
			got := resp(t, rec.Instance.Addr, "GET unsaved")
			if survived := got == "1"; survived != tc.survives {
				t.Errorf("unsaved key after %s survived=%v, want %v", tc.fault, survived, tc.survives)
			}
			lines, err := tg.ServerLog(context.Background())
			if err != nil || len(lines) == 0 {
				t.Fatalf("server log: %d lines, %v", len(lines), err)
			}
			if len(tg.LogFiles()) != 2 {
				t.Errorf("log files %v, want one per process", tg.LogFiles())
			}
			dir := tg.DataDir()
			if err := tg.Finish(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("data dir %s left behind: %v", dir, err)
			}
		})
	}
}

func TestStopEscalatesAfterTimeout(t *testing.T) {
	tg := newTarget(t, Config{})
	// SIGSTOP keeps the server from handling SIGTERM: the stop timeout must
	// end it with SIGKILL, as ECS does with a container that won't exit.
	inst, err := tg.Start(context.Background(), target.StartSpec{Save: "3600 1", StopTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := tg.cur.Signal(19 /* SIGSTOP */); err != nil {
		t.Fatal(err)
	}
	rep, err := tg.Inject(context.Background(), target.Stop)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Escalated || !rep.Confirmed {
		t.Fatalf("stop of a hung server: %+v, want escalated and confirmed", rep)
	}
	if took := rep.GoneAt.Sub(rep.IssuedAt); took < 300*time.Millisecond {
		t.Errorf("SIGKILL after %v, want after the 300ms stop timeout", took)
	}
	_ = inst
}

func TestStaleTempFilesReportedAndRemoved(t *testing.T) {
	tg := newTarget(t, Config{})
	if _, err := tg.Start(context.Background(), target.StartSpec{Save: ""}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(tg.DataDir(), "temp-4242.rdb")
	if err := os.WriteFile(stale, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Inject(context.Background(), target.Crash); err != nil {
		t.Fatal(err)
	}
	rec, err := tg.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.StaleTempFiles) != 1 || rec.StaleTempBytes != 1000 || !rec.TempRemoved {
		t.Fatalf("recovery %+v, want temp-4242.rdb (1000 B) reported and removed", rec)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale file still there: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	if _, err := ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed: %v", err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing binary", Config{ServerBin: "valkey-server-does-not-exist", LogDir: t.TempDir()}, "not found"},
		{"port taken", Config{Port: taken, LogDir: t.TempDir()}, "in use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want bad input mentioning %q", err, tc.want)
			}
		})
	}
}
