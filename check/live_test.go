package check_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// TestCrashTrial runs one real crash: writes at 2000/s under --save "1 1",
// SIGKILL of the process group 400 ms after a save completed (well before
// the next can start), a replacement on the same dir and port while the
// writer keeps going, then read-back and classification.
func TestCrashTrial(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log1, log2 := filepath.Join(tmp, "old.log"), filepath.Join(tmp, "new.log")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	old := startServer(t, dir, 0, "1 1", log1)
	addr := old.Addr()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	const prefix = "vc:crash-trial:"
	base := time.Now()
	saves := probe.WatchSaves(ctx, fixed(addr), 5*time.Millisecond)
	defer saves.Stop()
	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: fixed(addr), Prefix: prefix, Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 2000},
		Base: base, MaxOps: 100_000, MaxDuration: 30 * time.Second, OpTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Stop()

	// A save that began once writes were flowing, then the fault late enough
	// that writes after it exist, early enough that no other save began.
	saved, err := saves.WaitEnd(ctx, base.Add(100*time.Millisecond))
	if err != nil || !saved.OK {
		t.Fatalf("no good save after writes began: %+v %v", saved, err)
	}
	time.Sleep(400 * time.Millisecond)
	fault := time.Now()
	if err := old.KillGroup(); err != nil {
		t.Fatal(err)
	}
	stopServer(old)
	saves.Stop()

	time.Sleep(100 * time.Millisecond) // the outage: writes are refused
	replacement := startServer(t, dir, port, "1 1", log2)
	rd, err := probe.WaitReady(ctx, fixed(addr), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	served, _, err := probe.WaitServing(ctx, fixed(addr), loadgen.Key(prefix, 1), 2*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the replacement takes writes too
	h := writer.Stop()

	found, err := check.ReadBack(ctx, valkeyconn.Settings{}, addr, prefix, h.Ops, 500)
	if err != nil {
		t.Fatal(err)
	}
	first, last := h.Ops[0].Seq, h.Ops[len(h.Ops)-1].Seq
	unexpected, err := check.ScanUnexpected(ctx, valkeyconn.Settings{}, addr, prefix, func(seq uint64) bool { return seq >= first && seq <= last })
	if err != nil {
		t.Fatal(err)
	}
	oldLog, newLog := parseLog(t, log1), parseLog(t, log2)
	var starts []time.Duration
	var lastBeforeFault time.Time
	for _, s := range completedSaveStarts(oldLog) {
		starts = append(starts, s.Sub(base))
		if s.Before(fault) {
			lastBeforeFault = s
		}
	}
	v := check.Classify(check.Input{
		Ops: h.Ops, Found: found, Unexpected: unexpected,
		TFault: fault.Sub(base), Replacement: replacement.StartedAt().Sub(base), SaveStarts: starts,
		CompletedSaves: lastSaveFork(oldLog, base, fault),
	})
	t.Logf("writes %d: acked %d, failed %d, unknown %d; lost %d, recovered %d, unexpected %d, corrupt %d, anomalies %d",
		v.Writes, v.Acked, v.Failed, v.Unknown, v.Lost, v.Recovered, v.Unexpected, v.Corrupt, v.Anomalies)

	t.Run("survivors are a point-in-time prefix", func(t *testing.T) {
		if v.Lost == 0 || v.Anomalies != 0 || v.Corrupt != 0 || v.Unexpected != 0 {
			t.Errorf("lost %d anomalies %d corrupt %d unexpected %d, want lost > 0 and no anomaly, corruption or stray key (examples %q)",
				v.Lost, v.Anomalies, v.Corrupt, v.Unexpected, v.AnomalyExamples)
		}
		// Every lost write was acknowledged after the fork of the last save
		// (the log stamps its start truncated to the ms, so at or before the
		// fork; the watcher's poll can lag it by any amount on a busy machine)
		// and sent before the old server was gone (a reply it wrote before
		// the kill may be read any time later).
		logStart, gone := lastBeforeFault.Sub(base), old.ExitedAt().Sub(base)
		for i, op := range h.Ops {
			if op.Outcome == loadgen.OK && !found[i].Match && (op.Done <= logStart || op.Sent >= gone) {
				t.Errorf("seq %d sent %v acked %v is lost: want it acked after the save's start in the log (%v) and sent before the old server was gone (%v)",
					op.Seq, op.Sent, op.Done, logStart, gone)
				break
			}
		}
		if !v.HasLost || v.LostFirst <= logStart {
			t.Errorf("lost span %v..%v (has %v), want it after the save's start in the log (%v)", v.LostFirst, v.LostLast, v.HasLost, logStart)
		}
		if v.StaleLoad != nil {
			t.Errorf("stale load %+v: the replacement loaded the last save", v.StaleLoad)
		}
	})

	t.Run("snapshot bracket contains the server log's save start", func(t *testing.T) {
		if v.Snapshot == nil || v.LossWindow == nil {
			t.Fatalf("no bracket: %+v", v)
		}
		logStart := lastBeforeFault.Sub(base)
		// The log stamps whole milliseconds, truncated.
		if logStart+time.Millisecond <= v.Snapshot.Low || logStart >= v.Snapshot.High {
			t.Errorf("log's save start %v outside the bracket (%v, %v)", logStart, v.Snapshot.Low, v.Snapshot.High)
		}
		if v.Snapshot.Source != check.SourceServerLog || v.Snapshot.Estimate != max(logStart, v.Snapshot.Low) {
			t.Errorf("estimate %v from %s, want the log's %v", v.Snapshot.Estimate, v.Snapshot.Source, logStart)
		}
		if w := v.LossWindow; w.Low < 0 || w.Low > w.Estimate || w.Estimate > w.High || w.High != fault.Sub(base)-v.Snapshot.Low {
			t.Errorf("loss window %+v inconsistent with bracket %+v and fault %v", w, v.Snapshot, fault.Sub(base))
		}
		t.Logf("snapshot bracket (%v, %v), width %v; log save start %v; loss window %.3f s (%.3f..%.3f)",
			v.Snapshot.Low, v.Snapshot.High, v.Snapshot.High-v.Snapshot.Low, logStart,
			v.LossWindow.Estimate.Seconds(), v.LossWindow.Low.Seconds(), v.LossWindow.High.Seconds())
	})

	t.Run("recovery timeline in order", func(t *testing.T) {
		in := check.Instants{
			Fault: fault, OldGone: old.ExitedAt(), NewStarted: replacement.StartedAt(),
			PortAccepts: rd.Accepted, FirstReply: rd.FirstReply, Ready: rd.Ready, Serving: served,
		}
		for _, ev := range newLog {
			if ev.Kind == probe.DBLoaded {
				in.ServerLoadSeconds, in.HasServerLoad = ev.Seconds, true
			}
		}
		tl := check.Recovery(in)
		if len(tl.Problems) != 0 || tl.RTOS == nil || tl.WarmupS == nil || !in.HasServerLoad {
			t.Errorf("timeline %+v, want every step in order, an RTO, a warm-up and the server's load time", tl)
		}
	})
}

// TestUnknownWriteThatSurvivedIsRecovered freezes the server (SIGSTOP) while
// the writer runs: the writes already sent on established connections time
// out (unknown) but stay in the server's socket buffers and are applied when
// it resumes. After a graceful stop and restart they are present: recovered,
// not lost. (Writes on connections opened during the freeze never leave the
// client, which waits for its HELLO reply first: unknown and absent.)
func TestUnknownWriteThatSurvivedIsRecovered(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := startServer(t, dir, 0, "3600 1", "")
	addr := srv.Addr()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	const prefix = "vc:unknown:"
	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: fixed(addr), Prefix: prefix, Conns: 2, Pacer: loadgen.ConstantPacer{Freq: 200},
		Base: time.Now(), MaxOps: 10_000, MaxDuration: 10 * time.Second, OpTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Stop()
	time.Sleep(200 * time.Millisecond)
	if err := srv.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := srv.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	h := writer.Stop()

	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("no exit after SIGTERM: %v", err)
	}
	srv = startServer(t, dir, port, "3600 1", "")
	found, err := check.ReadBack(ctx, valkeyconn.Settings{}, srv.Addr(), prefix, h.Ops, 0)
	if err != nil {
		t.Fatal(err)
	}
	v := check.Classify(check.Input{Ops: h.Ops, Found: found})
	t.Logf("writes %d: acked %d, unknown %d, failed %d; recovered %d, lost %d", v.Writes, v.Acked, v.Unknown, v.Failed, v.Recovered, v.Lost)
	if v.Unknown == 0 {
		t.Fatal("no write had an unknown outcome: the freeze did not bite")
	}
	if v.Recovered == 0 || v.Lost != 0 || v.Anomalies != 0 {
		t.Errorf("recovered %d lost %d anomalies %d, want the unknown writes recovered and nothing lost (examples %q)",
			v.Recovered, v.Lost, v.Anomalies, v.AnomalyExamples)
	}
}

// TestReadBackAndScanUnexpected checks each read-back class on a real server
// and that nothing outside the run's write prefix is counted or touched.
func TestReadBackAndScanUnexpected(t *testing.T) {
	srv := startServer(t, t.TempDir(), 0, "", "")
	addr := srv.Addr()
	ctx := context.Background()
	// A run id with glob characters: SCAN MATCH must treat them literally.
	const prefix = "vc:run[1]*?:"
	const n = 5000
	ops := make([]loadgen.Op, n)
	for i := range ops {
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Outcome: loadgen.OK}
	}
	var pipe []string
	for i, op := range ops {
		switch {
		case i%10 == 3: // never written: absent
		case i%10 == 7: // someone else's value: corrupt
			pipe = append(pipe, loadgen.Key(prefix, op.Seq), string(loadgen.Value(op.Seq+1, 0, 100)))
		case i%10 == 8: // a value that is not ours at all
			pipe = append(pipe, loadgen.Key(prefix, op.Seq), "garbage")
		default:
			pipe = append(pipe, loadgen.Key(prefix, op.Seq), string(loadgen.Value(op.Seq, time.Duration(i), 100)))
		}
	}
	for i := 0; i < len(pipe); i += 2000 {
		do(t, addr, append([]string{"MSET"}, pipe[i:min(i+2000, len(pipe))]...)...)
	}
	sentinels := map[string]string{
		"vc:run[1]*?:d:1":       "dataset key of this run", // preloaded, not a write
		"vc:run1:w:1":           "another run",             // what an unescaped glob would match
		"vc:run[1]*?:w:9999999": "stray write",             // under the prefix, never written
		"vc:run[1]*?:w:x":       "stray write",             // under the prefix, not a seq
		"sentinel":              "user data",
	}
	for k, val := range sentinels {
		do(t, addr, "SET", k, val)
	}

	found, err := check.ReadBack(ctx, valkeyconn.Settings{}, addr, prefix, ops, 300)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range found {
		want := check.Found{Present: true, Match: true}
		switch i % 10 {
		case 3:
			want = check.Found{}
		case 7, 8:
			want = check.Found{Present: true}
		}
		if f != want {
			t.Fatalf("key %d: %+v, want %+v", i+1, f, want)
		}
	}
	unexpected, err := check.ScanUnexpected(ctx, valkeyconn.Settings{}, addr, prefix, func(seq uint64) bool { return seq >= 1 && seq <= n })
	if err != nil {
		t.Fatal(err)
	}
	if unexpected != 2 {
		t.Errorf("unexpected %d, want the 2 stray writes under the prefix", unexpected)
	}
	for k, val := range sentinels {
		if got := do(t, addr, "GET", k); got.Str != val {
			t.Errorf("sentinel %s = %s, want it untouched", k, got)
		}
	}
	if got := do(t, addr, "DBSIZE"); got.Int != int64(n-n/10+len(sentinels)) {
		t.Errorf("DBSIZE %d after read-back: it must only read", got.Int)
	}
}

func TestReadBackFailsWhenServerUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	port, err := local.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ops := []loadgen.Op{{Seq: 1, Outcome: loadgen.OK}}
	if _, err := check.ReadBack(ctx, valkeyconn.Settings{}, "127.0.0.1:"+strconv.Itoa(port), "vc:x:", ops, 0); err == nil {
		t.Error("read-back from a closed port succeeded; a failed read-back must never look like total loss")
	}
}

// lastSaveFork is the server log's last save that completed before the
// fault, as a fork bracket.
func lastSaveFork(evs []probe.LogEvent, base, fault time.Time) []check.SaveFork {
	var out []check.SaveFork
	for _, s := range completedSaves(evs) {
		if s.Ended.Before(fault) {
			out = []check.SaveFork{{ForkLow: s.Started.Sub(base), ForkHigh: s.Started.Sub(base) + time.Millisecond, End: s.Ended.Sub(base), Source: "server-log"}}
		}
	}
	return out
}
