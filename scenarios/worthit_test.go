package scenarios

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// Issue 13's acceptance: every strategy crashed under the same load and
// reader, on EFS-like storage whose host goes with the crash.
func TestPersistenceStrategiesOnACrashedHost(t *testing.T) {
	s := mustScenario(t, `
name: strategies
faults: [crash]
persistence: [none, rdb, aof-everysec, aof-always]
load: {rate: 500/s, conns: 8}
dataset: {keys: 5000}
fault_at: 0.9
after_recover: 2s
storage: {mode: efs-elastic}
host_loss: true
reader: {rate: 1000/s, keys: 10000, zipf: 1.1, steady: 2s}
`)
	run, err := runTrials(t, context.Background(), runSetup{save: "2 100", keys: -1}, s)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]result.Trial{}
	for _, tr := range run.Trials {
		p := tr.Persistence
		if p == "" {
			p = "rdb"
		}
		by[p] = tr
		if tr.Verdict != result.Pass {
			t.Errorf("%s: verdict %s: %q", p, tr.Verdict, tr.Reasons)
		}
		if tr.Reader == nil || tr.Reader.Reads == 0 || tr.HostLoss == nil {
			t.Fatalf("%s: reader %+v host loss %+v: want reads and the host lost", p, tr.Reader, tr.HostLoss)
		}
		t.Logf("%-12s lost %5d of %5d, oldest lost %v s, RTO %v, hit ratio steady %.2f, back to 90%% at %.2fs, extra origin %.0f",
			p, tr.Lost, tr.Acked, orNull(tr.OldestLostS), orNull(tr.RTOS), tr.Reader.SteadyHitRatio, tr.Reader.To90S, tr.Reader.ExtraOrigin)
	}
	if tr := by["aof-always"]; tr.Lost != 0 {
		t.Errorf("aof-always lost %d acknowledged writes on a crash", tr.Lost)
	}
	if tr := by["aof-everysec"]; tr.OldestLostS != nil && *tr.OldestLostS > 2.2 {
		t.Errorf("aof-everysec on the host-losing storage lost writes %.2fs old, beyond 2.2 s", *tr.OldestLostS)
	}
	none := by["none"]
	// The server's own word: the replacement loaded nothing.
	if none.Classified == nil || none.Classified.KeysLoaded != 0 || none.Lost == 0 {
		t.Errorf("none: classified %+v, lost %d of %d: want an empty restart that lost the writes", none.Classified, none.Lost, none.Acked)
	}
	if first := firstBinAfter(none); first == nil || first.HitRatio > 0.5*none.Reader.SteadyHitRatio {
		t.Errorf("none: the reader's first bin after the restart %+v: want a hit ratio starting near 0 (steady %.2f)", first, none.Reader.SteadyHitRatio)
	}
	rdb := by["rdb"]
	if rdb.RTOS == nil || !rdb.Reader.Reached90 || rdb.Reader.To90S > *rdb.RTOS+1+rdb.Reader.BinS {
		t.Errorf("rdb: hit ratio back to 90%% of steady at %.2fs after the fault, RTO %v: want within 1 s of serving", rdb.Reader.To90S, rdb.RTOS)
	}
}

func orNull(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// firstBinAfter is the reader's first bin with reads once the cache served again.
func firstBinAfter(t result.Trial) *result.ReadBin {
	if t.Reader == nil || t.RTOS == nil {
		return nil
	}
	for i := range t.Reader.Bins {
		b := &t.Reader.Bins[i]
		if b.SinceFaultS >= *t.RTOS && b.Reads > 0 {
			return b
		}
	}
	return nil
}

// A reader given a spool (here every trial spools) streams its reads to
// the trial's directory, its summary is made from the file, and the file
// goes once summarised: the same figures as in memory, which the loadgen
// tests hold the spooled summary to. Its reads go through the resp client,
// which the summary names.
func TestSpooledReaderIsSummarisedAndItsSpoolRemoved(t *testing.T) {
	var out string
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "2 100", keys: -1},
		trialOpts{out: &out, config: func(c *Config) { c.SpoolAboveOps = -1 }}, mustScenario(t, `
name: spooled-reader
faults: [crash]
load: {rate: 500/s, conns: 8}
dataset: {keys: 2000}
after_recover: 1s
reader: {rate: 1000/s, keys: 4000, steady: 1s, client: resp}
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	r := tr.Reader
	if r == nil || r.Reads == 0 || r.SteadyReads == 0 || r.Hits+r.Misses+r.Errors != r.Reads {
		t.Fatalf("reader summary %+v: want reads before the fault, every one counted once", r)
	}
	if r.Client != "resp" {
		t.Errorf("reader client %q, want resp (the scenario's)", r.Client)
	}
	after := 0
	for _, b := range r.Bins {
		if b.SinceFaultS >= 0 {
			after += b.Reads
		}
	}
	if after == 0 {
		t.Errorf("no reads binned after the fault: %+v", r.Bins)
	}
	left, _ := filepath.Glob(filepath.Join(out, "trials", "*.reads.spool"))
	if len(left) != 0 {
		t.Errorf("the reader's spool was left behind: %v", left)
	}
}
