package scenarios

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/procstat"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Defect 1: a replacement that loads an older dump.rdb than the last
// completed save loses every measured write; with no survivor the window
// is one-sided, and the trial fails with the stale load named.
func TestStaleLoadIsNamedAndFails(t *testing.T) {
	scens, err := Resolve([]string{"restored-backup"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: -1}, scens...)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Fail || !strings.Contains(reasons(tr), "older than the last completed save") || !strings.Contains(reasons(tr), "Remedy: do not restore a cache volume") {
		t.Fatalf("verdict %s (%s), want fail naming the stale load and the remedy", tr.Verdict, reasons(tr))
	}
	if tr.StaleLoad == nil || tr.StaleLoad.LostBefore == 0 {
		t.Fatalf("stale load %+v, want lost writes acknowledged before the last save's fork", tr.StaleLoad)
	}
	// The server's own word as an oracle: it loaded the dataset and the
	// marker only, fewer keys than the last completed save held.
	if s := tr.StaleLoad; s.KeysLoaded != 20001 || s.KeysLoaded >= s.KeysExpectedMin {
		t.Errorf("keys loaded %d (expected at least %d in the last save), want the 20001 of the old snapshot", s.KeysLoaded, s.KeysExpectedMin)
	}
	// Every write the old server acknowledged is lost (the replacement's
	// own acks after recovery survive): no survivor, a one-sided window.
	if tr.Lost == 0 || tr.LossWindowS == nil || !tr.LossWindowS.OneSided {
		t.Fatalf("lost %d of %d acked, window %+v: want a one-sided window", tr.Lost, tr.Acked, tr.LossWindowS)
	}
	if tr.LossWindowS.Low <= tr.PredictedLossWindowS {
		t.Errorf("one-sided window low end %.2fs within the %.2fs prediction: the cache went back further than the rules allow", tr.LossWindowS.Low, tr.PredictedLossWindowS)
	}
}

// lateSavesUnlogged is a server log that lost the lines of every save
// after the first (a log delivered in part): the saves that followed are
// known from INFO only.
type lateSavesUnlogged struct{ Target }

var _ SnapshotRestorer = lateSavesUnlogged{}

func (l lateSavesUnlogged) KeepSnapshot(name string) error {
	return l.Target.(SnapshotRestorer).KeepSnapshot(name)
}

func (l lateSavesUnlogged) RestoreSnapshot(name string) error {
	return l.Target.(SnapshotRestorer).RestoreSnapshot(name)
}

func (l lateSavesUnlogged) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	lines, err := l.Target.ServerLog(ctx)
	var kept []target.LogLine
	firstDone := false
	for _, line := range lines {
		ev, ok := probe.ParseLogLine(line.Text, line.Zone)
		switch save := ok && (ev.Kind == probe.SaveTriggered || ev.Kind == probe.BGSaveStarted || ev.Kind == probe.DBSaved || ev.Kind == probe.BGSaveOK); {
		case save && firstDone:
			continue
		case save && ev.Kind == probe.BGSaveOK:
			firstDone = true
		}
		kept = append(kept, line)
	}
	return kept, err
}

// Defect (review, item 5): when the server log lost the last save's lines,
// the stale load is still named, from the saves the INFO watcher saw.
func TestStaleLoadIsNamedWhenTheLogLostTheLastSave(t *testing.T) {
	scens, err := Resolve([]string{"restored-backup"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000", keys: -1}, trialOpts{wrap: func(tg Target) Target { return lateSavesUnlogged{tg} }}, scens...)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Fail || !strings.Contains(reasons(tr), "older than the last completed save") {
		t.Fatalf("verdict %s (%s), want fail naming the stale load", tr.Verdict, reasons(tr))
	}
	if s := tr.StaleLoad; s == nil || s.LostBefore == 0 || !strings.Contains(s.Detail, "info") {
		t.Fatalf("stale load %+v: want writes acknowledged before the last save's fork lost, that save known from INFO", tr.StaleLoad)
	}
}

// breakingTarget runs one BGSAVE to completion just before the fault, as
// another writer's activity (or clock skew against lastsave) would.
type breakingTarget struct {
	Target
	addr     string
	from, to time.Time // around that save
}

func (b *breakingTarget) Start(ctx context.Context, spec target.StartSpec) (target.Instance, error) {
	inst, err := b.Target.Start(ctx, spec)
	b.addr = inst.Addr
	return inst, err
}

func (b *breakingTarget) Inject(ctx context.Context, kind target.FaultKind) (target.FaultReport, error) {
	b.from = time.Now()
	if _, err := probe.TakeSnapshot(ctx, b.addr); err != nil {
		return target.FaultReport{}, err
	}
	b.to = time.Now().Add(50 * time.Millisecond) // the parent's "terminated" line comes at its reap
	return b.Target.Inject(ctx, kind)
}

// unloggedBreak is a breakingTarget whose server log lost that save's
// lines (a log delivered in part: awslogs in non-blocking mode drops
// lines): only the INFO save watcher, or the survivors, saw it.
type unloggedBreak struct{ *breakingTarget }

func (u unloggedBreak) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	lines, err := u.Target.ServerLog(ctx)
	var kept []target.LogLine
	dropped := 0
	for _, l := range lines {
		ev, ok := probe.ParseLogLine(l.Text, l.Zone)
		save := ok && (ev.Kind == probe.BGSaveStarted || ev.Kind == probe.DBSaved || ev.Kind == probe.BGSaveOK)
		if save && !ev.Time.Before(u.from.Truncate(time.Millisecond)) && !ev.Time.After(u.to) {
			dropped++
			continue
		}
		kept = append(kept, l)
	}
	if dropped == 0 && !u.from.IsZero() {
		return nil, fmt.Errorf("test target: the extra save's lines were not found in the log, nothing dropped")
	}
	return kept, err
}

// Defect 9: another save between the planned cycle's save and the fault
// makes the trial invalid, whatever it lost; the same when the server log
// lost that save's lines.
func TestFaultOutsideThePlannedCycleIsInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		wrap func(Target) Target
	}{
		{"the log saw the save", func(tg Target) Target { return &breakingTarget{Target: tg} }},
		{"the log lost its lines", func(tg Target) Target { return unloggedBreak{&breakingTarget{Target: tg}} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			run, err := runTrialsWith(t, context.Background(), runSetup{save: "2 1000", keys: -1}, trialOpts{wrap: c.wrap}, quick(t, "crash", "5s"))
			if err != nil {
				t.Fatal(err)
			}
			tr := run.Trials[0]
			if len(tr.Saves) == 0 {
				t.Fatalf("no saves recorded: the log must still hold the cycle's saves")
			}
			if tr.Verdict != result.Invalid || !strings.Contains(reasons(tr), "did not land in the planned cycle") {
				t.Fatalf("verdict %s (%s), want invalid: the fault left its cycle", tr.Verdict, reasons(tr))
			}
		})
	}
}

// Defect 7: a stop whose final save fails keeps serving until SIGKILL; the
// window runs to the old process's exit, so it covers every lost ack.
func TestEscalatedStopWindowRunsToTheExit(t *testing.T) {
	s := mustScenario(t, `
name: final-save-fails
faults: [stop]
load: {rate: 2000/s, conns: 8}
dataset: {keys: 5000}
fault_at: 0.5
stop_timeout: 2s
after_recover: 300ms
storage: {mode: efs-elastic}
storage_faults: [{kind: eio, path: "temp-*.rdb", ops: [create], at: fault, lift: recover}]
`)
	run, err := runTrials(t, context.Background(), runSetup{save: "2 1000"}, s)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if !tr.StopEscalated || tr.Verdict != result.Fail {
		t.Fatalf("escalated %v verdict %s (%s), want an escalated, failed stop", tr.StopEscalated, tr.Verdict, reasons(tr))
	}
	if tr.LostSpanS == nil || tr.LossWindowS == nil {
		t.Fatalf("lost span %+v window %+v", tr.LostSpanS, tr.LossWindowS)
	}
	var fault float64
	for _, st := range tr.Steps {
		if st.Name == "fault" {
			fault = st.AtS
		}
	}
	if tr.LostSpanS.To <= fault+0.5 {
		t.Fatalf("last lost ack at %.2fs, fault at %.2fs: the server did not keep serving after SIGTERM", tr.LostSpanS.To, fault)
	}
	if span := tr.LostSpanS.To - tr.LostSpanS.From; tr.LossWindowS.High < span {
		t.Errorf("loss window %+v is shorter than the span of lost acks %.2fs: it was measured to SIGTERM, not to the exit", tr.LossWindowS, span)
	}
}

// The interrupted trial is named in result.json on disk, and it never
// shows "nothing lost".
func TestInterruptedTrialIsMarkedOnDisk(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	s := mustScenario(t, "name: slow\nfaults: [crash]\nload: {rate: 10/s}\ndataset: {keys: 100}\n")
	var out string
	_, _ = runTrialsWith(t, ctx, runSetup{save: "60 1"}, trialOpts{out: &out}, s)
	run, err := result.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if run.Complete || !strings.Contains(run.Interrupted, "during trial slow crash") || len(run.Trials) != 1 {
		t.Fatalf("on disk: complete %v interrupted %q trials %d, want the cut trial named", run.Complete, run.Interrupted, len(run.Trials))
	}
	tr := run.Trials[0]
	if tr.Interrupted == "" || tr.Unread == "" || tr.Verdict != result.Invalid {
		t.Errorf("trial interrupted %q unread %q verdict %s, want it marked, unread and invalid", tr.Interrupted, tr.Unread, tr.Verdict)
	}
	if line := progress.TrialLine(&tr); strings.Contains(line, "nothing lost") {
		t.Errorf("summary says nothing lost for a trial never read back: %s", line)
	}
	if _, err := os.Stat(filepath.Join(out, result.FileName)); err != nil {
		t.Fatal(err)
	}
}

// foreignWriter writes its own keys beside the trial, as a valkey-benchmark
// on the same server would: bounded in count and time.
type foreignWriter struct {
	Target
	t      *testing.T
	writer *loadgen.Writer
}

func (f *foreignWriter) Start(ctx context.Context, spec target.StartSpec) (target.Instance, error) {
	inst, err := f.Target.Start(ctx, spec)
	if err != nil {
		return inst, err
	}
	f.writer, err = loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: func() string { return inst.Addr }, Prefix: "foreign:", Conns: 4, ValueSize: 16,
		Pacer: loadgen.ConstantPacer{Freq: 12000}, Base: time.Now(), MaxOps: 12000 * 30, MaxDuration: 30 * time.Second,
	})
	return inst, err
}

func (f *foreignWriter) Inject(ctx context.Context, kind target.FaultKind) (target.FaultReport, error) {
	if f.writer != nil {
		f.writer.Stop()
	}
	return f.Target.Inject(ctx, kind)
}

// Defect 4: another writer makes a faster rule fire than the one the
// trial was planned for; the trial is invalid, never a pass at the slow
// rule's prediction.
func TestForeignWritesMakeTheTrialInvalid(t *testing.T) {
	s := mustScenario(t, "name: slow-rule\nfaults: [crash]\nload: {rule: \"0\", conns: 2}\ndataset: {keys: 1000}\nafter_recover: 200ms\n")
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "3 1 1 10000", keys: -1}, trialOpts{wrap: func(tg Target) Target {
		return &foreignWriter{Target: tg, t: t}
	}}, s)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	why := reasons(tr)
	if tr.Verdict != result.Invalid || !(strings.Contains(why, "fired during the load") || strings.Contains(why, "another writer")) {
		t.Fatalf("verdict %s (%s), want invalid naming the rule that fired or the other writer", tr.Verdict, why)
	}
	t.Logf("fired %v, server %.0f changes/s vs planned %.2f/s: %s", tr.FiredRules, tr.ServerChangesPerS, tr.RatePerS, why)
}

// A finished run re-judged from its own files reproduces every verdict and
// number; a tampered record is caught.
func TestRecheckReproducesTheRunFromItsFiles(t *testing.T) {
	scens, err := Resolve([]string{"restored-backup"})
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if _, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000", keys: -1}, trialOpts{out: &out}, quick(t, "crash", "5s"), scens[0]); err != nil {
		t.Fatal(err)
	}
	_, checked, err := Recheck(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 2 {
		t.Fatalf("%d trials rechecked, want 2", len(checked))
	}
	for _, c := range checked {
		if c.Skipped != "" || len(c.Differences) > 0 {
			t.Errorf("%s: skipped %q, differences %v", c.Label, c.Skipped, c.Differences)
		}
	}
	// Negative control: a record that says less was lost is caught.
	run, err := result.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	// The harness's own peak RSS is recorded, no less than what it uses now.
	if now, err := procstat.CurrentRSS(); err != nil || run.Harness.PeakRSSBytes <= 0 || run.Harness.PeakRSSBytes > 64<<30 {
		t.Errorf("harness.peak_rss_bytes %d (current %d, %v): want the run's own peak", run.Harness.PeakRSSBytes, now, err)
	}
	run.Trials[1].Lost--
	if err := result.Write(out, run); err != nil {
		t.Fatal(err)
	}
	if _, checked, err = Recheck(out); err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(checked[1].Differences, "; "); !strings.Contains(d, "lost: recorded") {
		t.Errorf("a tampered lost count was not caught: %q", d)
	}
}

// Defect (review, item 7): `valkey-chaos check DIR` skipped a trial that
// was never read back. It is judged again from its record, never shown as
// nothing lost, and a tampered verdict on it is caught.
func TestRecheckJudgesTrialsNeverReadBack(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	s := mustScenario(t, "name: slow\nfaults: [crash]\nload: {rate: 10/s}\ndataset: {keys: 100}\n")
	var out string
	_, _ = runTrialsWith(t, ctx, runSetup{save: "60 1"}, trialOpts{out: &out}, s)
	_, checked, err := Recheck(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(checked) != 1 {
		t.Fatalf("%d trials rechecked, want the one cut short", len(checked))
	}
	c := checked[0]
	if c.Skipped != "" || c.Unread == "" || c.Now != result.Invalid || len(c.Differences) > 0 {
		t.Fatalf("rechecked %+v: want it judged again from its record (invalid, unread), not skipped", c)
	}
	if line := c.String(); !strings.Contains(line, "what was lost is unknown") || strings.Contains(line, "nothing lost") {
		t.Errorf("check's line %q: want the loss unknown, never nothing lost", line)
	}
	// Negative control: a record that claims a pass is caught.
	run, err := result.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	run.Trials[0].Verdict, run.Trials[0].Reasons = result.Pass, []string{}
	if err := result.Write(out, run); err != nil {
		t.Fatal(err)
	}
	if _, checked, err = Recheck(out); err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(checked[0].Differences, "; "); !strings.Contains(d, "verdict: recorded pass, now invalid") {
		t.Errorf("a tampered verdict on an unread trial was not caught: %q", d)
	}
}
