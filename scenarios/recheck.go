package scenarios

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
)

// Rechecked is one trial classified and judged again from its files.
type Rechecked struct {
	Label    string
	Recorded result.Verdict
	Now      result.Verdict
	// Differences name every number or verdict that came out differently.
	Differences []string
	Skipped     string // why the trial could not be rechecked (no history or read-back file)
	// Unread says the trial was never read back: it was judged again
	// from its record alone, and what it lost is unknown.
	Unread string
}

// String is the trial's line for `valkey-chaos check`.
func (r Rechecked) String() string {
	var s string
	switch {
	case r.Skipped != "":
		return fmt.Sprintf("%-40s  skipped: %s", r.Label, r.Skipped)
	case len(r.Differences) == 0:
		s = fmt.Sprintf("%-40s  %s (reproduced)", r.Label, r.Now)
	default:
		s = fmt.Sprintf("%-40s  %s -> %s: %s", r.Label, r.Recorded, r.Now, strings.Join(r.Differences, "; "))
	}
	if r.Unread != "" {
		s += "; never read back, judged from its record: what was lost is unknown (" + r.Unread + ")"
	}
	return s
}

// Recheck classifies and judges every trial of a finished run again from
// its own files (history, per-key read-back, the recorded classification
// inputs), with this build's checker and judge, so a fixed checker can be
// applied to old runs. It returns the re-judged run and, per trial, what
// differs from what was recorded. It reads only; it writes nothing.
func Recheck(dir string) (*result.Run, []Rechecked, error) {
	run, err := result.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if filepath.Base(dir) == result.FileName {
		dir = filepath.Dir(dir)
	}
	var out []Rechecked
	for i := range run.Trials {
		t := &run.Trials[i]
		rc, err := recheckTrial(dir, t)
		if err != nil {
			return nil, nil, fmt.Errorf("trial %s: %w", t.Label(), err)
		}
		out = append(out, rc)
	}
	return run, out, nil
}

func recheckTrial(dir string, t *result.Trial) (Rechecked, error) {
	rc := Rechecked{Label: t.Label(), Recorded: t.Verdict, Now: t.Verdict}
	if unread := neverReadBack(t); unread != "" && len(t.Assumptions) > 0 {
		return rejudgeUnread(t, rc, unread)
	}
	if t.Files.History == "" || t.Files.Found == "" || t.Classified == nil {
		rc.Skipped = "no history, read-back or classification inputs recorded (a run from an older build)"
		return rc, nil
	}
	// From the file, a chunk at a time: a long trial's ops need not fit.
	histPath := filepath.Join(dir, t.Files.History)
	h, err := loadgen.OpenHistory(histPath)
	if err != nil {
		return rc, badFile(histPath, err)
	}
	foundPath := filepath.Join(dir, t.Files.Found)
	found, err := readFile(foundPath, check.ReadFound)
	if err != nil {
		return rc, err
	}
	if len(found) != h.Len() {
		// Classified, they would count no write at all: lost 0.
		return rc, fmt.Errorf("%w: %s holds %d read-back results but %s holds %d writes: the files are not of one trial", result.ErrBadInput, foundPath, len(found), histPath, h.Len())
	}
	slos, err := judge.RecordedSLOs(t)
	if err != nil {
		return rc, err
	}
	before := *t
	ci := t.Classified
	var ops check.OpStream = h
	if len(ci.Excluded) > 0 {
		skip := map[uint64]bool{}
		for _, seq := range ci.Excluded {
			skip[seq] = true
		}
		if ops, found, err = withoutSeqs(ops, found, skip); err != nil {
			return rc, err
		}
	}
	c, err := check.ClassifyStream(ops, check.Input{
		Found: found, Unexpected: ci.Unexpected, TFault: seconds(ci.TFaultS), Replacement: seconds(ci.ReplacementS),
		SaveStarts: durations(ci.SaveStartsS), FloorF: seconds(ci.FloorFS), CompletedSaves: saveForks(ci.CompletedSaves),
	})
	if err != nil {
		return rc, err
	}
	t.Problems = withoutAnomalyExamples(t.Problems)
	applyClassification(t, c, time.UnixMilli(t.TrialStartUnixMs), ci)
	t.Problems = dedupe(t.Problems)
	judge.Apply(t, slos)
	rc.Now = t.Verdict
	rc.Differences = differences(&before, t)
	return rc, nil
}

// neverReadBack is why a trial has nothing to classify ("" when it was read
// back): it was cut short first, or its replacement never started.
func neverReadBack(t *result.Trial) string {
	switch {
	case t.Unread != "":
		return t.Unread
	case t.ReplacementExited != "":
		return "the replacement exited while starting: " + t.ReplacementExited
	}
	return ""
}

// rejudgeUnread has the judge decide a trial that was never read back
// again from its record: nothing to classify, and nothing shown as lost.
func rejudgeUnread(t *result.Trial, rc Rechecked, unread string) (Rechecked, error) {
	slos, err := judge.RecordedSLOs(t)
	if err != nil {
		return rc, err
	}
	before := *t
	judge.Apply(t, slos)
	rc.Now, rc.Unread = t.Verdict, unread
	rc.Differences = differences(&before, t)
	return rc, nil
}

func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, badFile(path, err)
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, badFile(path, err)
	}
	return v, nil
}

// badFile names a run file that is missing or cannot be read as bad input.
func badFile(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s is missing: the run directory is incomplete", result.ErrBadInput, path)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err // the file is there but cannot be read: not the input's fault
	}
	return fmt.Errorf("%w: %s: %w", result.ErrBadInput, path, err)
}

func withoutAnomalyExamples(problems []string) []string {
	var out []string
	for _, p := range problems {
		if !strings.HasPrefix(p, "anomaly: ") {
			out = append(out, p)
		}
	}
	return out
}

// differences lists what re-judging changed. The snapshot instant is
// compared at the trial clock's millisecond: the live run kept its base
// in nanoseconds, result.json in milliseconds.
func differences(a, b *result.Trial) []string {
	var out []string
	diff := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s: recorded %v, now %v", name, x, y))
		}
	}
	diff("verdict", a.Verdict, b.Verdict)
	diff("lost", a.Lost, b.Lost)
	diff("recovered", a.Recovered, b.Recovered)
	diff("corrupt", a.Corrupt, b.Corrupt)
	diff("anomalies", a.Anomalies, b.Anomalies)
	diff("loss_window_s", fmtWindow(a.LossWindowS), fmtWindow(b.LossWindowS))
	diff("snapshot_source", a.SnapshotSource, b.SnapshotSource)
	diff("stale_load", a.StaleLoad != nil, b.StaleLoad != nil)
	diff("never_served", a.NeverServed, b.NeverServed)
	diff("loss_window_verdict", a.LossWindowVerdict, b.LossWindowVerdict)
	diff("reasons", strings.Join(a.Reasons, "; "), strings.Join(b.Reasons, "; "))
	if d := a.SnapshotUnixMs - b.SnapshotUnixMs; d > 1 || d < -1 {
		diff("snapshot_unix_ms", a.SnapshotUnixMs, b.SnapshotUnixMs)
	}
	return out
}

func fmtWindow(w *result.Window) string {
	if w == nil {
		return "null"
	}
	return fmt.Sprintf("[%.6f..%.6f] %.6f one-sided=%v", w.Low, w.High, w.Estimate, w.OneSided)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func durations(ss []float64) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = seconds(s)
	}
	return out
}

func saveForks(in []result.SaveFork) []check.SaveFork {
	out := make([]check.SaveFork, len(in))
	for i, s := range in {
		out[i] = check.SaveFork{ForkLow: seconds(s.ForkLowS), ForkHigh: seconds(s.ForkHighS), End: seconds(s.EndS), Source: s.Source}
	}
	return out
}
