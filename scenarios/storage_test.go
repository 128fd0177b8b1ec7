package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/efs"
	"github.com/trigpointing/valkey-chaos/internal/leakcheck"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target/local"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// storageSetup is one small-scale run of catalog scenarios on EFS-like
// storage: rules "1 1000" at 3000 writes/s make a save every second or so.
type storageSetup struct {
	keys        int64 // -1: the scenario's dataset
	stopTimeout time.Duration
}

func runStorage(t *testing.T, st storageSetup, scens ...*Scenario) *result.Run {
	t.Helper()
	leakcheck.RequireFUSE(t)
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	out := t.TempDir()
	tg, err := local.New(context.Background(), local.Config{LogDir: filepath.Join(out, "logs"), WorkDir: t.TempDir()})
	if err == nil {
		err = os.MkdirAll(filepath.Join(out, "logs"), 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tg.Close(); err != nil {
			t.Errorf("close target: %v", err)
		}
		if left := leakcheck.LeftBehind(); left != "" {
			t.Errorf("left behind: %s", left)
		}
	})
	rules, _ := savepolicy.Parse("1 1000")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := Run(ctx, Config{
		RunID: "test", OutDir: out, SaveReal: rules, TimeScale: 1, Keys: st.keys, Rate: 3000,
		StopTimeout: st.stopTimeout,
		Target:      tg, TargetInfo: result.Target{Kind: "local", ServerVersion: tg.Version(), Storage: "local-disk"},
		Progress: testWriter{t},
	}, scens)
	if errors.Is(err, efs.ErrNoFUSE) {
		t.Skipf("skipping: this machine cannot mount FUSE: %v", err)
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return run
}

func catalogScenario(t *testing.T, name string) *Scenario {
	t.Helper()
	scens, err := Resolve([]string{name})
	if err != nil {
		t.Fatal(err)
	}
	c := *scens[0] // tests shrink it; the catalog stays as it is
	return &c
}

func reasons(tr result.Trial) string { return strings.Join(tr.Reasons, "; ") }

func TestEFSWriteErrorsRefuseWritesWithMISCONFUntilTheStorageHeals(t *testing.T) {
	run := runStorage(t, storageSetup{keys: 5000}, catalogScenario(t, "efs-write-errors"))
	tr := run.Trials[0]
	if tr.Verdict != "pass" {
		t.Fatalf("verdict %s: %s", tr.Verdict, reasons(tr))
	}
	r := tr.Refused
	if r == nil || r.Count == 0 {
		t.Fatalf("no writes refused while every snapshot failed (failed %d)", tr.Failed)
	}
	if tr.Failed < r.Count {
		t.Errorf("%d MISCONF refusals but only %d writes failed: a refusal must be fail, not unknown", r.Count, tr.Failed)
	}
	if len(tr.StorageFaults) != 1 || tr.StorageFaults[0].LiftS == 0 {
		t.Fatalf("storage faults %+v, want one eio lifted mid-trial", tr.StorageFaults)
	}
	lift := tr.StorageFaults[0].LiftS
	if r.ResumedS == 0 || r.ResumedS < lift || r.ResumedS > lift+8 {
		t.Errorf("writes resumed at %.2fs, want within the ~6 s BGSAVE retry after the lift at %.2fs", r.ResumedS, lift)
	}
	if r.Seconds < 1 {
		t.Errorf("writes refused for only %.2fs", r.Seconds)
	}
	if tr.Storage == nil || tr.Storage.Mode != "efs-elastic" {
		t.Errorf("storage note %+v", tr.Storage)
	}
	if !strings.Contains(run.Target.Storage, "efs-elastic") {
		t.Errorf("run storage %q does not name efs-elastic", run.Target.Storage)
	}
	t.Logf("MISCONF: %d writes refused for %.2fs (%.2fs to %.2fs), lift at %.2fs, resumed at %.2fs", r.Count, r.Seconds, r.FromS, r.ToS, lift, r.ResumedS)
}

func TestEFSWriteErrorsWithoutStopWritesGrowTheLossWindow(t *testing.T) {
	s := catalogScenario(t, "efs-write-errors-continue")
	s.FaultAfter = Duration(5 * time.Second)
	run := runStorage(t, storageSetup{keys: 5000}, s)
	tr := run.Trials[0]
	if tr.Refused != nil {
		t.Errorf("writes refused %+v with stop-writes-on-bgsave-error no", tr.Refused)
	}
	if tr.LossWindowS == nil || tr.LossWindowS.Estimate < 4 || tr.LossWindowS.Estimate <= tr.PredictedLossWindowS {
		t.Fatalf("loss window %+v (predicted %.2fs): want it to grow past the promise while saves fail", tr.LossWindowS, tr.PredictedLossWindowS)
	}
	if tr.Verdict != "fail" || !strings.Contains(reasons(tr), "exceeds") {
		t.Errorf("verdict %s (%s), want fail: the loss window exceeds what the rules promise", tr.Verdict, reasons(tr))
	}
	t.Logf("loss window %.2fs [%.2f, %.2f], predicted <= %.2fs, lost %d", tr.LossWindowS.Estimate, tr.LossWindowS.Low, tr.LossWindowS.High, tr.PredictedLossWindowS, tr.Lost)
}

func TestEFSStallThenStopLosesEverythingSinceTheLastGoodSave(t *testing.T) {
	run := runStorage(t, storageSetup{keys: 5000, stopTimeout: 1500 * time.Millisecond}, catalogScenario(t, "efs-stall"))
	tr := run.Trials[0]
	if !tr.StopEscalated {
		t.Fatalf("the stop did not end in SIGKILL with the storage stalled: %s", reasons(tr))
	}
	if tr.FinalSaveS != nil {
		t.Errorf("a final save finished (%.2fs) on stalled storage", *tr.FinalSaveS)
	}
	if tr.Lost == 0 || tr.Anomalies != 0 {
		t.Fatalf("lost %d anomalies %d: want a point-in-time loss", tr.Lost, tr.Anomalies)
	}
	// The last good save is the one during the load; the stall came right
	// after it. Everything since its fork is gone.
	var lastGood float64
	for _, s := range tr.Saves {
		if s.OK && s.Trigger != "shutdown" {
			lastGood = s.StartS
		}
	}
	tFault := float64(tr.TFaultUnixMs-tr.TrialStartUnixMs) / 1000
	want := tFault - lastGood
	if w := tr.LossWindowS; w == nil || w.Estimate < want-0.3 || w.Estimate > want+0.3 {
		t.Errorf("loss window %+v, want about %.2fs: the fault at %.2fs minus the last good save's fork at %.2fs", w, want, tFault, lastGood)
	}
	if tr.Verdict != "fail" || !strings.Contains(reasons(tr), "stop timeout") || !strings.Contains(reasons(tr), "last good save") {
		t.Errorf("verdict %s (%s): want fail naming the stop timeout and the last good save", tr.Verdict, reasons(tr))
	}
}

func TestCorruptRDBMakesTheReplacementRefuseToStart(t *testing.T) {
	run := runStorage(t, storageSetup{keys: 5000}, catalogScenario(t, "corrupt-rdb"))
	tr := run.Trials[0]
	if tr.ReplacementExited == "" {
		t.Fatalf("the replacement came up on a truncated dump.rdb: %s", reasons(tr))
	}
	if tr.RTOS != nil || !tr.NeverServed {
		t.Errorf("RTO %v, never_served %v: want unbounded (null), and the judge's record that the cache never served again", tr.RTOS, tr.NeverServed)
	}
	why := reasons(tr)
	if tr.Verdict != "fail" || !strings.Contains(why, "RTO unbounded") || !strings.Contains(why, "crash-loop") || !strings.Contains(why, "Remedy: move the bad dump.rdb aside") {
		t.Errorf("verdict %s (%s): want fail saying crash-loop, RTO unbounded and the remedy", tr.Verdict, why)
	}
	if !strings.Contains(why, "Short read") && !strings.Contains(why, "Unexpected EOF") {
		t.Errorf("reasons do not quote the server's refusal: %s", why)
	}
}

func TestTempFileLeakPilesUpAcrossCrashesDuringBGSAVE(t *testing.T) {
	run := runStorage(t, storageSetup{keys: -1}, catalogScenario(t, "temp-file-leak"))
	tr := run.Trials[0]
	l := tr.Leaks
	if l == nil || len(l.Files) != 4 {
		t.Fatalf("temp files %+v, want 4: three crashes during BGSAVE after the preload and the trial's own", l)
	}
	if l.Removed || l.Bytes <= 0 {
		t.Errorf("temp files removed %v, %d bytes: want them kept and counted", l.Removed, l.Bytes)
	}
	if tr.Anomalies != 0 {
		t.Errorf("%d anomalies: %s", tr.Anomalies, reasons(tr))
	}
	t.Logf("%d temp files, %.1f MB: %v", len(l.Files), float64(l.Bytes)/1e6, l.Files)
}

func TestStopTimeoutVsSizeFindsTheLargestGracefulStop(t *testing.T) {
	s := catalogScenario(t, "stop-timeout-vs-size")
	s.Sizes = []int64{15000, 40000, 120000}
	stopTimeout := 1500 * time.Millisecond
	run := runStorage(t, storageSetup{keys: -1, stopTimeout: stopTimeout}, s)
	if len(run.Trials) != 3 {
		t.Fatalf("%d trials, want one per size", len(run.Trials))
	}
	const mibps = 5.0
	capacity := mibps * (1 << 20) * stopTimeout.Seconds() // bytes a final save can write in time
	var largest int64
	for _, tr := range run.Trials {
		if tr.Dataset == nil || tr.Dataset.RDBBytes == 0 {
			t.Fatalf("trial %d has no per-trial dataset: %+v", tr.Index, tr.Dataset)
		}
		rdb := tr.Dataset.RDBBytes
		save := "-"
		if tr.FinalSaveS != nil {
			save = fmt.Sprintf("%.2fs", *tr.FinalSaveS)
		}
		t.Logf("%d keys, RDB %.1f MB: final save %s, escalated %v, warm-up %v, lost %d", tr.Dataset.Keys, float64(rdb)/1e6, save, tr.StopEscalated, deref(tr.WarmupS), tr.Lost)
		if !tr.StopEscalated {
			largest = max(largest, rdb)
			if tr.Lost != 0 {
				t.Errorf("graceful stop of %d keys lost %d", tr.Dataset.Keys, tr.Lost)
			}
		}
		// size / throughput decides: well under the capacity it must stop in
		// time, well over it it cannot.
		switch {
		case float64(rdb) < 0.6*capacity && tr.StopEscalated:
			t.Errorf("RDB %.1f MB needs about %.2fs at %g MiB/s but the stop escalated", float64(rdb)/1e6, float64(rdb)/(mibps*(1<<20)), mibps)
		case float64(rdb) > 1.4*capacity && !tr.StopEscalated:
			t.Errorf("RDB %.1f MB needs about %.2fs at %g MiB/s yet stopped within %v", float64(rdb)/1e6, float64(rdb)/(mibps*(1<<20)), mibps, stopTimeout)
		}
	}
	if largest == 0 || float64(largest) > capacity {
		t.Errorf("largest graceful RDB %.1f MB, want above 0 and within stop_timeout x throughput = %.1f MB", float64(largest)/1e6, capacity/1e6)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func TestStorageSpecErrorsNameTheFieldAndTheFix(t *testing.T) {
	base := "name: x\nfaults: [crash]\nload: {rate: 1/s}\n"
	tests := []struct{ name, yaml, want string }{
		{"faults need efs", base + "storage_faults: [{kind: eio, at: save}]\n", "storage: {mode: efs-elastic}"},
		{"unknown kind", base + "storage: {mode: efs-elastic}\nstorage_faults: [{kind: melt, at: save}]\n", "storage_faults[0].kind"},
		{"no at", base + "storage: {mode: efs-elastic}\nstorage_faults: [{kind: eio}]\n", "storage_faults[0].at is required"},
		{"bad phase", base + "storage: {mode: efs-elastic}\nstorage_faults: [{kind: eio, at: lunch}]\n", "save+2s"},
		{"lift first", base + "storage: {mode: efs-elastic}\nstorage_faults: [{kind: eio, at: recover, lift: save}]\n", "lift save comes before at recover"},
		{"slow rate", base + "storage: {mode: efs-elastic}\nstorage_faults: [{kind: slow, at: save}]\n", "mibps"},
		{"unknown field", base + "storage_faults: [{kind: eio, at: save, when: now}]\n", "line 4"},
		{"fault_during", base + "fault_during: rename\n", "fault_during"},
		{"sizes order", base + "sizes: [100, 10]\n", "increasing"},
		{"sizes and keys", base + "sizes: [100]\ndataset: {keys: 5}\n", "dataset.keys"},
		{"both placements", base + "fault_at: 0.5\nfault_after: 2s\n", "fault_after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml), "bad.yaml")
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want bad input mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSizesExpandToOneTrialPerSize(t *testing.T) {
	s := catalogScenario(t, "stop-timeout-vs-size")
	scens, err := prepareScenarios(Config{}, []*Scenario{s})
	if err != nil {
		t.Fatal(err)
	}
	if len(scens) != len(s.Sizes) {
		t.Fatalf("%d scenarios from %d sizes", len(scens), len(s.Sizes))
	}
	for i, c := range scens {
		if c.sizeKeys != s.Sizes[i] || c.Name != s.Name {
			t.Errorf("expanded %d: name %s keys %d", i, c.Name, c.sizeKeys)
		}
	}
}
