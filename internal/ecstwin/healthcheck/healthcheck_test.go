package healthcheck_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin/healthcheck"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
)

func needTools(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"valkey-server", "valkey-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (run scripts/setup.sh): %v", bin, err)
		}
	}
}

func targetOf(t *testing.T, addr string) healthcheck.Target {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return healthcheck.Target{Host: host, Port: p}
}

func spawn(t *testing.T, dir string, extra ...string) *local.Server {
	t.Helper()
	srv, err := local.Spawn(local.ServerConfig{Dir: dir, LogFile: filepath.Join(t.TempDir(), "s.log"), ExtraArgs: extra})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.KillGroup(); _ = srv.Wait(context.Background()) })
	return srv
}

// The module's command against a server still LOADING its dataset fails
// (valkey-cli prints the LOADING error and exits 0; grep finds no PONG),
// and passes once the load is done: the check's verdicts bracket the load
// the server's own log reports.
func TestModuleCheckFailsWhileLoading(t *testing.T) {
	needTools(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seed := spawn(t, dir, "--enable-debug-command", "yes")
	if err := seed.WaitAccepting(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"DEBUG", "POPULATE", "2000"}, {"SAVE"}, {"SHUTDOWN", "NOSAVE"}} {
		_, _ = probe.Do(ctx, seed.Addr(), 30*time.Second, cmd...)
	}
	_ = seed.Wait(ctx)
	// 1 ms per key: a two-second load, answering -LOADING every 1 KB.
	logFile := filepath.Join(t.TempDir(), "load.log")
	srv, err := local.Spawn(local.ServerConfig{Dir: dir, LogFile: logFile, ExtraArgs: []string{"--key-load-delay", "1000", "--loading-process-events-interval-bytes", "1024"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.KillGroup(); _ = srv.Wait(context.Background()) })
	spec := healthcheck.ModuleSpec(0)
	spec.Timeout = 2 * time.Second
	var results []healthcheck.Result
	for i := 0; i < 600; i++ {
		res := healthcheck.RunOnce(ctx, spec, targetOf(t, srv.Addr()))
		results = append(results, res)
		if res.Passed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	last := results[len(results)-1]
	if !last.Passed {
		t.Fatal("the check never passed")
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events, err := probe.ParseLog(f, srv.LogZone())
	if err != nil {
		t.Fatal(err)
	}
	var loadStart, loadEnd time.Time
	for _, ev := range events {
		switch ev.Kind {
		case probe.LoadingStarted:
			loadStart = ev.Time
		case probe.DBLoaded:
			loadEnd = ev.Time
		}
	}
	if loadStart.IsZero() || loadEnd.IsZero() {
		t.Fatalf("no load in the server log (%d events)", len(events))
	}
	// The log has ms resolution; compare at it.
	if last.Ended.Before(loadEnd.Truncate(time.Millisecond)) {
		t.Fatalf("the check passed (run ended %v) before the server logged its load's end %v", last.Ended, loadEnd)
	}
	for _, r := range results[:len(results)-1] {
		if r.At.After(loadStart.Add(time.Millisecond)) && r.Ended.Before(loadEnd.Truncate(time.Millisecond)) {
			return // a run entirely inside the load failed
		}
	}
	t.Fatalf("no failed run lay inside the load [%v, %v] (%d runs)", loadStart, loadEnd, len(results))
}

// Failures inside the start period do not count; after it, `retries`
// consecutive failures make the container UNHEALTHY, reported once.
func TestUnhealthyAfterStartPeriodAndRetries(t *testing.T) {
	needTools(t)
	port, err := local.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	spec := healthcheck.Spec{Command: []string{"CMD-SHELL", "valkey-cli ping | grep -q PONG"},
		Interval: 50 * time.Millisecond, Timeout: time.Second, Retries: 3, StartPeriod: 300 * time.Millisecond}
	started := time.Now()
	changes := make(chan healthcheck.Status, 4)
	c, err := healthcheck.Start(spec, healthcheck.Target{Host: "127.0.0.1", Port: port}, started, func(s healthcheck.Status, _ healthcheck.Result) { changes <- s })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	select {
	case s := <-changes:
		if s != healthcheck.Unhealthy {
			t.Fatalf("status became %s, want UNHEALTHY", s)
		}
	case <-time.After(time.Minute):
		t.Fatal("never UNHEALTHY")
	}
	var counted int
	for _, r := range c.History() {
		if r.Passed {
			t.Fatalf("a run passed with nothing listening: %+v", r)
		}
		if !r.At.Before(started.Add(spec.StartPeriod)) {
			counted++
		}
	}
	if counted != spec.Retries {
		t.Fatalf("UNHEALTHY after %d counted failures, want %d (history %d runs)", counted, spec.Retries, len(c.History()))
	}
	if b := spec.Budget(); time.Since(started) < 300*time.Millisecond || b < spec.StartPeriod {
		t.Fatalf("budget %v is shorter than the start period", b)
	}
}

// A CMD-form check against a live server passes and makes it HEALTHY.
func TestCMDFormHealthy(t *testing.T) {
	needTools(t)
	srv := spawn(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.WaitAccepting(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	spec := healthcheck.Spec{Command: []string{"CMD", "valkey-cli", "ping"}, Interval: 50 * time.Millisecond}
	changes := make(chan healthcheck.Status, 4)
	c, err := healthcheck.Start(spec, targetOf(t, srv.Addr()), time.Now(), func(s healthcheck.Status, _ healthcheck.Result) { changes <- s })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	select {
	case s := <-changes:
		if s != healthcheck.Healthy || c.Last().Output != "PONG" {
			t.Fatalf("status %s, output %q; want HEALTHY after PONG", s, c.Last().Output)
		}
	case <-time.After(time.Minute):
		t.Fatal("never HEALTHY")
	}
	if _, err := healthcheck.Start(healthcheck.Spec{Command: []string{"ping"}}, healthcheck.Target{}, time.Now(), nil); err == nil {
		t.Fatal("a command without CMD or CMD-SHELL was accepted")
	}
}
