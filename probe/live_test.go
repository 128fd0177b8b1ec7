package probe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
)

func TestDoAndInfo(t *testing.T) {
	srv := startServer(t, t.TempDir(), "", "")
	waitAccepting(t, srv)
	ctx := context.Background()
	addr := srv.Addr()

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"SET", "probe:k", "v\r\nwith crlf"}, "OK"},
		{[]string{"GET", "probe:k"}, `"v\r\nwith crlf"`},
		{[]string{"GET", "probe:absent"}, "(nil)"},
		{[]string{"INCR", "probe:n"}, "1"},
		{[]string{"RPUSH", "probe:l", "a", "b"}, "2"},
		{[]string{"LRANGE", "probe:l", "0", "-1"}, `["a" "b"]`},
		{[]string{"NOSUCHCOMMAND"}, "-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: "},
	}
	for _, tc := range tests {
		rep, err := probe.Do(ctx, addr, time.Second, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := rep.String(); got != tc.want {
			t.Errorf("%v = %s, want %s", tc.args, got, tc.want)
		}
	}

	info, err := probe.Info(ctx, addr, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if info["loading"] != "0" || info["rdb_bgsave_in_progress"] != "0" || info["rdb_last_bgsave_status"] != "ok" {
		t.Errorf("INFO persistence fields: loading=%q in_progress=%q status=%q", info["loading"], info["rdb_bgsave_in_progress"], info["rdb_last_bgsave_status"])
	}

	// Nothing listening: a connect error, quickly.
	port, err := local.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := probe.Do(ctx, "127.0.0.1:"+strconv.Itoa(port), time.Second, "PING"); err == nil {
		t.Error("PING to a closed port succeeded")
	}
	// A cancelled context aborts at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := probe.Do(cctx, addr, time.Second, "PING"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled PING: %v, want context.Canceled", err)
	}
}

// TestWaitReadyMatchesServerLog restarts a server on a 1M-key RDB and checks
// the probe's ready instant against the server's own "Ready to accept
// connections" line (ms resolution; the log is written just before the
// event loop answers the waiting PINGs).
func TestWaitReadyMatchesServerLog(t *testing.T) {
	dir := datasetDir(t)
	logFile := filepath.Join(t.TempDir(), "server.log")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServer(t, dir, "", logFile)
	rd, err := probe.WaitReady(ctx, fixed(srv.Addr()), 2*time.Millisecond)
	if err != nil {
		t.Fatalf("wait ready: %v (%+v)", err, rd)
	}
	served, rep, err := probe.WaitServing(ctx, fixed(srv.Addr()), "d:123", 2*time.Millisecond)
	if err != nil {
		t.Fatalf("wait serving: %v", err)
	}
	evs := readLog(t, logFile)
	loaded := firstOf(t, evs, probe.DBLoaded)
	ready := firstOf(t, evs, probe.Ready)
	done := firstOf(t, evs, probe.DoneLoading)

	if done.Keys != datasetKeys {
		t.Errorf("log says %d keys loaded, want %d", done.Keys, datasetKeys)
	}
	if !(rd.Began.Before(rd.Accepted) && !rd.FirstReply.Before(rd.Accepted) && rd.FirstReply.Before(rd.Ready)) {
		t.Errorf("out of order: began %v accepted %v first reply %v ready %v", rd.Began, rd.Accepted, rd.FirstReply, rd.Ready)
	}
	if rd.LoadingReplies == 0 || rd.ReadyReply != "PONG" {
		t.Errorf("%d LOADING replies, ready reply %q: want some LOADING, then PONG", rd.LoadingReplies, rd.ReadyReply)
	}
	// ms truncation of the log time allows up to 1 ms the other way.
	detect := rd.Ready.Sub(ready.Time)
	if detect < -2*time.Millisecond || detect > 100*time.Millisecond {
		t.Errorf("ready detected %v after the log's Ready line, want within [0, 100ms]", detect)
	}
	if gap := ready.Time.Sub(loaded.Time); gap < 0 || gap > 100*time.Millisecond {
		t.Errorf("log: Ready %v after DB loaded, want a small non-negative gap", gap)
	}
	if served.Before(rd.Ready) || rep.Str == "" {
		t.Errorf("served %v (reply %s) before ready %v", served, rep, rd.Ready)
	}
	warmup := rd.Ready.Sub(srv.StartedAt())
	t.Logf("load %.3f s (log); warm-up %v; accept %v, first reply %v after start; detection %v after the log's Ready line; %d polls, %d refused, %d LOADING",
		loaded.Seconds, warmup.Round(time.Millisecond), rd.Accepted.Sub(srv.StartedAt()).Round(time.Millisecond),
		rd.FirstReply.Sub(srv.StartedAt()).Round(time.Millisecond), detect.Round(100*time.Microsecond), rd.Polls, rd.Refused, rd.LoadingReplies)
	if loaded.Seconds < 0.5 {
		t.Logf("note: the load took %.3f s, under the 0.5 s this test aims for (fast machine)", loaded.Seconds)
	}
	if warmup < time.Duration(loaded.Seconds*float64(time.Second)) {
		t.Errorf("warm-up %v shorter than the server's own load time %.3f s", warmup, loaded.Seconds)
	}
}

func TestWaitReadyFollowsAddressAndGivesUp(t *testing.T) {
	port, err := local.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rd, err := probe.WaitReady(ctx, fixed("127.0.0.1:"+strconv.Itoa(port)), 5*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nothing listening: err %v, want deadline exceeded", err)
	}
	if rd.Refused < 10 || !rd.Accepted.IsZero() {
		t.Errorf("nothing listening: %d refused, accepted %v; want ~40 refused polls and no accept", rd.Refused, rd.Accepted)
	}

	// The address becomes known only later (an ECS task's IP): empty means wait.
	srv := startServer(t, t.TempDir(), "", "")
	known := time.Now().Add(50 * time.Millisecond)
	addr := func() string {
		if time.Now().Before(known) {
			return ""
		}
		return srv.Addr()
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	rd, err = probe.WaitReady(ctx2, addr, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if rd.Ready.Before(known) || rd.ReadyReply != "PONG" {
		t.Errorf("ready %v before the address was known %v (reply %q)", rd.Ready, known, rd.ReadyReply)
	}
}

// TestServerLogEvents drives one server through a save cycle, a graceful
// stop, a reload and a save error, following its log as the runner would,
// and checks each message parses to its kind with its numbers.
func TestServerLogEvents(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log1, log2 := filepath.Join(tmp, "1.log"), filepath.Join(tmp, "2.log")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	follow := probe.FollowLog(ctx, log1, time.Local, 5*time.Millisecond)
	expect := func(events <-chan probe.LogEvent, kind probe.LogKind) probe.LogEvent {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("log closed before %s", kind)
				}
				if ev.Kind == kind {
					return ev
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("no %s line within 15 s", kind)
			}
		}
	}
	begin := time.Now().Add(-time.Second) // log times are truncated to ms

	// 1. An automatic save: rule "1 1" fires after one change and a second.
	srv := startServer(t, dir, "1 1", log1)
	waitAccepting(t, srv)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := probe.Do(ctx, srv.Addr(), time.Second, "SET", k, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if ev := expect(follow, probe.SaveTriggered); ev.Trigger != "1 1" || ev.Time.Before(begin) {
		t.Errorf("save trigger %q at %v", ev.Trigger, ev.Time)
	}
	if ev := expect(follow, probe.BGSaveStarted); ev.ChildPID <= 0 || ev.Role != 'M' {
		t.Errorf("bgsave started: child %d role %c", ev.ChildPID, ev.Role)
	}
	if ev := expect(follow, probe.DBSaved); ev.Role != 'C' {
		t.Errorf("DB saved by role %c, want the child", ev.Role)
	}
	expect(follow, probe.BGSaveOK)

	// 2. A BGSAVE command.
	if rep, err := probe.Do(ctx, srv.Addr(), time.Second, "BGSAVE"); err != nil || !strings.Contains(rep.Str, "started") {
		t.Fatalf("BGSAVE: %v %v", rep, err)
	}
	expect(follow, probe.BGSaveStarted)
	expect(follow, probe.BGSaveOK)

	// 3. SIGTERM: a final foreground save, then exit.
	if _, err := probe.Do(ctx, srv.Addr(), time.Second, "SET", "d", "after the last save"); err != nil {
		t.Fatal(err)
	}
	sigterm(t, srv)
	if ev := expect(follow, probe.ShutdownSignal); ev.Signal != "SIGTERM" || !ev.Coarse {
		t.Errorf("shutdown signal %q coarse=%v", ev.Signal, ev.Coarse)
	}
	expect(follow, probe.ShutdownRequested)
	final := expect(follow, probe.FinalSaveStarted)
	if ev := expect(follow, probe.DBSaved); ev.Role != 'M' || ev.Time.Before(final.Time) {
		t.Errorf("final DB saved by %c at %v, want the main process after %v", ev.Role, ev.Time, final.Time)
	}
	expect(follow, probe.ReadyToExit)

	// 4. Restart: load, then ready; the log follower moves to the new file.
	follow2 := probe.FollowLog(ctx, log2, time.Local, 5*time.Millisecond)
	srv2 := startServer(t, dir, "1 1", log2)
	expect(follow2, probe.LoadingStarted)
	if ev := expect(follow2, probe.DoneLoading); ev.Keys != 4 {
		t.Errorf("keys loaded %d, want 4 (the key written after the last BGSAVE survives the stop)", ev.Keys)
	}
	if ev := expect(follow2, probe.DBLoaded); ev.Seconds < 0 || ev.Seconds > 5 {
		t.Errorf("DB loaded in %v s", ev.Seconds)
	}
	expect(follow2, probe.Ready)
	waitAccepting(t, srv2)

	// 5. The data dir vanishes (FACTS §3 #18): saves fail; SIGTERM cannot exit.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.Do(ctx, srv2.Addr(), time.Second, "BGSAVE"); err != nil {
		t.Fatal(err)
	}
	if ev := expect(follow2, probe.FailedOpeningTemp); ev.Role != 'C' || ev.ChildPID <= 0 {
		t.Errorf("failed opening temp: role %c child %d", ev.Role, ev.ChildPID)
	}
	expect(follow2, probe.BGSaveError)
	if err := srv2.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	expect(follow2, probe.FinalSaveStarted)
	expect(follow2, probe.SaveErrorCantExit)
	if !srv2.Running() {
		t.Error("server exited although its final save failed")
	}
	if rep, err := probe.Do(ctx, srv2.Addr(), time.Second, "PING"); err != nil || !strings.HasPrefix(rep.Str, "MISCONF") {
		t.Errorf("PING after failed save: %v %v, want -MISCONF", rep, err)
	}
}

// TestSaveWatcherMatchesServerLog watches INFO persistence through a
// successful BGSAVE, a failed one, and one cut short by a crash.
func TestSaveWatcherMatchesServerLog(t *testing.T) {
	dir := datasetDir(t)
	logFile := filepath.Join(t.TempDir(), "server.log")
	// Bounds, not tolerances: a 1M-key BGSAVE under -race on a busy machine
	// has taken over 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startServer(t, dir, "", logFile)
	waitAccepting(t, srv)
	if _, err := probe.WaitReady(ctx, fixed(srv.Addr()), 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The replacement below takes the same port, as local recovery does.
	w := probe.WatchSaves(ctx, fixed(srv.Addr()), 5*time.Millisecond)
	defer w.Stop()

	// A good save: the watcher's instants agree with the log's.
	before := time.Now()
	if _, err := probe.Do(ctx, srv.Addr(), time.Second, "BGSAVE"); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	ev, err := w.WaitEnd(wctx, before)
	if err != nil {
		t.Fatalf("%v; events %+v", err, w.Events())
	}
	evs := readLog(t, logFile)
	started, ok := firstOf(t, evs, probe.BGSaveStarted), firstOf(t, evs, probe.BGSaveOK)
	if !ev.OK {
		t.Errorf("save reported failed: %+v", ev)
	}
	for _, c := range []struct {
		name          string
		after, by, at time.Time
	}{{"start", ev.StartedAfter, ev.StartedBy, started.Time}, {"end", ev.EndedAfter, ev.EndedBy, ok.Time}} {
		// Containment, not a tolerance: the log's instant (ms, truncated,
		// so it may read up to 1 ms early) lies after the send of the poll
		// that last saw the old state and before the reply of the first
		// poll that saw the new one, however busy the machine is.
		if !c.at.Add(time.Millisecond).After(c.after) || !c.at.Before(c.by) {
			t.Errorf("save %s logged at %s, outside the polls' bracket (%s, %s)", c.name,
				c.at.Format(time.StampMicro), c.after.Format(time.StampMicro), c.by.Format(time.StampMicro))
		}
	}
	t.Logf("BGSAVE %v by the watcher, %v by the log; start seen +%v, end +%v",
		ev.Ended.Sub(ev.Started).Round(time.Millisecond), ok.Time.Sub(started.Time),
		ev.Started.Sub(started.Time).Round(100*time.Microsecond), ev.Ended.Sub(ok.Time).Round(100*time.Microsecond))

	// A save cut short: the process group is killed mid-save and a new
	// server takes the port. That save never ends.
	before = time.Now()
	if _, err := probe.Do(ctx, srv.Addr(), time.Second, "BGSAVE"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		evs := w.Events()
		return len(evs) > 0 && evs[len(evs)-1].Started.After(before)
	})
	if err := srv.KillGroup(); err != nil {
		t.Fatal(err)
	}
	stopServer(srv)
	port := srv.Addr()[strings.LastIndexByte(srv.Addr(), ':')+1:]
	portN, _ := strconv.Atoi(port)
	nextDir := t.TempDir()
	next, err := local.Spawn(local.ServerConfig{Dir: nextDir, Port: portN})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(next) })
	waitAccepting(t, next)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	if ev, err := w.WaitEnd(short, before); err == nil {
		t.Errorf("a save killed with its server ended: %+v", ev)
	}
	// A failed save: the data dir is gone (FACTS §3 #18).
	if err := os.RemoveAll(nextDir); err != nil {
		t.Fatal(err)
	}
	before = time.Now()
	if _, err := probe.Do(ctx, next.Addr(), time.Second, "BGSAVE"); err != nil {
		t.Fatal(err)
	}
	if ev, err := w.WaitEnd(ctx, before); err != nil || ev.OK {
		t.Errorf("save into a missing dir: %+v %v, want ended and not OK", ev, err)
	}

	all := w.Events()
	if len(all) != 3 {
		t.Fatalf("watcher saw %d saves, want 3 (good, killed, failed): %+v", len(all), all)
	}
	if killed := all[1]; !killed.Ended.IsZero() || killed.OK {
		t.Errorf("killed save recorded as %+v, want no end", killed)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
