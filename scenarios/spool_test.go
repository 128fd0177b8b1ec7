package scenarios

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
)

// A trial spools its History when the writer's bound on ops exceeds the
// threshold: never at or below it, always when it is negative.
func TestSpoolForFollowsTheThreshold(t *testing.T) {
	out := t.TempDir()
	for _, tc := range []struct {
		above  int64
		maxOps uint64
		spool  bool
	}{
		{0, DefaultSpoolAboveOps, false}, {0, DefaultSpoolAboveOps + 1, true},
		{1000, 1000, false}, {1000, 1001, true}, {-1, 1, true},
	} {
		env := &trialEnv{cfg: Config{OutDir: out, SpoolAboveOps: tc.above}, plan: TrialPlan{Label: "crash/a b"}}
		got, err := spoolFor(env, tc.maxOps)
		want := ""
		if tc.spool {
			want = filepath.Join(out, "trials", result.SafeName("crash/a b")+spoolSuffix)
		}
		if err != nil || got != want {
			t.Errorf("above %d, up to %d ops: spool %q (%v), want %q", tc.above, tc.maxOps, got, err, want)
		}
	}
}

// lockedLog keeps the progress lines of a run, and logs them.
type lockedLog struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	return testWriter{l.t}.Write(p)
}

var _ io.Writer = (*lockedLog)(nil)

// A crash trial whose writer spools its History to disk (SpoolAboveOps
// negative) is measured from the spool against a real server like one
// kept in memory: a point-in-time suffix lost inside the prediction. The
// spool lived in the run's trials/ directory and is gone once history.bin
// holds every write, and `valkey-chaos check` re-judges the run from its
// files to the same numbers.
func TestSpooledTrialIsJudgedAndRecheckedFromItsFiles(t *testing.T) {
	var out string
	log := &lockedLog{t: t}
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000"}, trialOpts{out: &out, config: func(c *Config) {
		c.SpoolAboveOps = -1
		c.Progress = log
	}}, quick(t, "crash", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Pass || tr.Lost == 0 || tr.Anomalies != 0 || tr.LossWindowS == nil || tr.LossWindowS.High > tr.PredictedLossWindowS {
		t.Fatalf("verdict %s (%v): lost %d, anomalies %d, loss window %+v (predicted <= %v); want a pass losing a suffix inside the prediction",
			tr.Verdict, tr.Reasons, tr.Lost, tr.Anomalies, tr.LossWindowS, tr.PredictedLossWindowS)
	}
	spool := filepath.Join(out, strings.TrimSuffix(tr.Files.History, historySuffix)+spoolSuffix)
	if !strings.Contains(log.b.String(), "history streams to "+spool) {
		t.Errorf("the run never said it spooled to %s", spool)
	}
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Errorf("spool %s still there after the trial (%v)", spool, err)
	}
	f, err := os.Open(filepath.Join(out, tr.Files.History))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := loadgen.ReadHistory(f)
	if err != nil || h.Len() != tr.Writes || tr.Writes == 0 {
		t.Fatalf("history.bin: %d ops (%v), the trial counted %d writes", h.Len(), err, tr.Writes)
	}
	_, checked, err := Recheck(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 1 || checked[0].Skipped != "" || len(checked[0].Differences) > 0 {
		t.Errorf("recheck: %+v, want the same numbers from the files", checked)
	}

	// A read-back file that is not the history's (one result short) is
	// refused, never classified as no write at all.
	foundPath := filepath.Join(out, tr.Files.Found)
	ff, err := os.Open(foundPath)
	if err != nil {
		t.Fatal(err)
	}
	found, err := check.ReadFound(ff)
	ff.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := result.WriteAtomic(foundPath, func(w io.Writer) error { return check.WriteFound(w, found[:len(found)-1]) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Recheck(out); !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), "not of one trial") {
		t.Errorf("recheck with a read-back one result short: %v, want bad input naming the mismatch", err)
	}
}
