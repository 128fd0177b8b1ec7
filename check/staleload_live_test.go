package check_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// TestStaleLoadAgainstServer runs a real crash twice: a preloaded dataset
// saved (the floor), writes, a second save, more writes, SIGKILL, a
// replacement on the same dir. The fresh replacement loads the second save;
// the stale one is handed the preload's dump.rdb (a volume restored from an
// old backup). The server's own "keys loaded" is the oracle for what was
// loaded, and the last-save bounds must hold it.
func TestStaleLoadAgainstServer(t *testing.T) {
	for _, stale := range []bool{false, true} {
		name := "fresh"
		if stale {
			name = "stale"
		}
		t.Run(name, func(t *testing.T) { staleLoadTrial(t, stale) })
	}
}

// staleTrial is what one run of staleLoadTrial observed.
type staleTrial struct {
	in         check.Input
	keysLoaded int64 // the replacement's "Done loading RDB, keys loaded: N"
	lastStart  time.Duration
}

const staleDataset = 2000

func staleLoadTrial(t *testing.T, stale bool) {
	tr := runStaleTrial(t, stale)
	c := check.Classify(tr.in)
	measured := int(tr.keysLoaded - staleDataset)
	t.Logf("keys loaded %d (%d measured); last save holds [%d, %d]; lost %d of %d acked; snapshot %+v; window %+v",
		tr.keysLoaded, measured, c.AckedBeforeLastSave, c.SentBeforeLastSave, c.Lost, c.Acked, c.Snapshot, c.LossWindow)
	if c.LastSave == nil || c.LastSave.ForkLow != tr.lastStart {
		t.Fatalf("last save %+v, want the one the log started at %v", c.LastSave, tr.lastStart)
	}
	if c.AckedBeforeLastSave == 0 || c.Anomalies != 0 || c.Snapshot == nil || c.LossWindow == nil {
		t.Fatalf("%+v: want writes before the last save, no anomaly, a bracket", c)
	}
	mismatch := c.KeysLoadedMismatch(tr.keysLoaded, staleDataset)
	if !stale {
		if mismatch != "" {
			t.Errorf("keys loaded: %s", mismatch)
		}
		if c.StaleLoad != nil {
			t.Errorf("stale load %+v, but the replacement loaded the last save", c.StaleLoad)
		}
		if measured < c.AckedBeforeLastSave || measured > c.SentBeforeLastSave {
			t.Errorf("the server loaded %d measured writes, outside the bounds [%d, %d]", measured, c.AckedBeforeLastSave, c.SentBeforeLastSave)
		}
		if s := c.Snapshot; s.OneSided || tr.lastStart+time.Millisecond <= s.Low || tr.lastStart >= s.High {
			t.Errorf("snapshot %+v: want two-sided around the last save's start %v", *s, tr.lastStart)
		}
		return
	}
	if measured != 0 {
		t.Fatalf("the server loaded %d measured writes: the preload's file was not what it loaded", measured)
	}
	if !strings.Contains(mismatch, "older than the last completed save") {
		t.Errorf("keys loaded %d against bounds [%d, %d]: %q, want the stale load named", tr.keysLoaded, c.AckedBeforeLastSave, c.SentBeforeLastSave, mismatch)
	}
	if sl := c.StaleLoad; sl == nil || sl.LostBefore != c.AckedBeforeLastSave ||
		!strings.Contains(sl.Example, "the replacement loaded a snapshot older than the last completed save") {
		t.Errorf("stale load %+v, want all %d writes acknowledged before the last fork named", sl, c.AckedBeforeLastSave)
	}
	if s := c.Snapshot; !s.OneSided || s.LowUnbounded || s.Low != tr.in.FloorF || s.High > tr.lastStart {
		t.Errorf("snapshot %+v: want one-sided from the floor %v to below the last save %v", *s, tr.in.FloorF, tr.lastStart)
	}
	// The proven low end of the window exceeds what the last save allowed.
	if w := c.LossWindow; !w.OneSided || w.HighUnbounded || w.Low <= tr.in.TFault-tr.lastStart-time.Millisecond {
		t.Errorf("loss window %+v: want its low end beyond the fault minus the last save (%v)", *w, tr.in.TFault-tr.lastStart)
	}
}

// runStaleTrial does the crash and gathers the Input and the server's count.
func runStaleTrial(t *testing.T, stale bool) staleTrial {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log1, log2 := filepath.Join(tmp, "old.log"), filepath.Join(tmp, "new.log")
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	old := startServer(t, dir, 0, "", log1)
	addr := old.Addr()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	const prefix = "vc:stale-load:"
	if _, err := loadgen.Preload(ctx, valkeyconn.Settings{}, addr, prefix, staleDataset, 100, 2); err != nil {
		t.Fatal(err)
	}
	base := time.Now()
	do(t, addr, "BGSAVE")
	waitCompletedSaves(ctx, t, log1, 1)
	preloadRDB, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: fixed(addr), Prefix: prefix, Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 2000},
		Base: base, MaxOps: 100_000, MaxDuration: 30 * time.Second, OpTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Stop()
	time.Sleep(300 * time.Millisecond)
	do(t, addr, "BGSAVE")
	waitCompletedSaves(ctx, t, log1, 2)
	time.Sleep(200 * time.Millisecond) // writes the last save does not hold
	fault := time.Now()
	if err := old.KillGroup(); err != nil {
		t.Fatal(err)
	}
	stopServer(old)
	if stale {
		if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), preloadRDB, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	replacement := startServer(t, dir, port, "", log2)
	time.Sleep(100 * time.Millisecond) // the replacement takes writes too
	h := writer.Stop()
	found, err := check.ReadBack(ctx, valkeyconn.Settings{}, addr, prefix, h.Ops, 500)
	if err != nil {
		t.Fatal(err)
	}
	tr := staleTrial{in: check.Input{Ops: h.Ops, Found: found, TFault: fault.Sub(base), Replacement: replacement.StartedAt().Sub(base)}}
	for i, s := range completedSaves(parseLog(t, log1)) {
		f := check.SaveFork{ForkLow: s.Started.Sub(base), ForkHigh: s.Started.Sub(base) + time.Millisecond, End: s.Ended.Sub(base), Source: "server-log"}
		if i == 0 {
			tr.in.FloorF = f.ForkLow // the preload's snapshot
		}
		tr.in.CompletedSaves, tr.in.SaveStarts = append(tr.in.CompletedSaves, f), append(tr.in.SaveStarts, f.ForkLow)
		tr.lastStart = f.ForkLow
	}
	for _, ev := range parseLog(t, log2) {
		if ev.Kind == probe.DoneLoading {
			tr.keysLoaded = ev.Keys
		}
	}
	if len(tr.in.CompletedSaves) != 2 || tr.keysLoaded == 0 {
		t.Fatalf("saves %+v, keys loaded %d: want two saves in the old log and a load in the new", tr.in.CompletedSaves, tr.keysLoaded)
	}
	return tr
}

// completedSaves pairs each save start in a log with its success.
func completedSaves(evs []probe.LogEvent) []probe.SaveEvent {
	var out []probe.SaveEvent
	var open time.Time
	for _, ev := range evs {
		switch ev.Kind {
		case probe.BGSaveStarted:
			open = ev.Time
		case probe.BGSaveOK:
			if !open.IsZero() {
				out = append(out, probe.SaveEvent{Started: open, Ended: ev.Time, OK: true})
			}
			open = time.Time{}
		case probe.BGSaveError, probe.BGSaveKilled:
			open = time.Time{}
		}
	}
	return out
}

// waitCompletedSaves polls the server log until it shows n completed saves.
func waitCompletedSaves(ctx context.Context, t *testing.T, logFile string, n int) {
	t.Helper()
	for len(completedSaves(parseLog(t, logFile))) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("the log never showed %d completed saves: %v", n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
