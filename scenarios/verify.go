package scenarios

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
)

// verify reads back every key the History wrote, joins the server log, and
// fills the trial's numbers exactly as DESIGN.md defines them.
func (tr *trialRun) verify(ctx context.Context, h *loadgen.History, rep target.FaultReport, rec target.Recovery,
	ready probe.Readiness, serving, tFault, writerStart time.Time, watched []probe.SaveEvent) error {
	t := tr.trial
	addr := tr.currentAddr()
	tFaultOff := tFault.Sub(tr.base)
	// When the replacement started before the old server was gone, the loss
	// window runs to the replacement's start (see overlap.go).
	t.OverlapS = tr.overlapOf(rep)
	lossTo := classifyFault(rep, tFault).Sub(tr.base)

	// Server log: save instants, load time, final save.
	lines, err := tr.serverLog(ctx)
	if err != nil {
		tr.logf("server log unavailable: %v", err)
	}
	events := parseLog(lines)
	logView := summarizeLog(events, rec.Instance.StartedAt)

	tr.logf("reading back %d writes", len(h.Ops))
	found, err := check.ReadBack(ctx, addr, tr.prefix, h.Ops, 1000)
	if err != nil {
		return fmt.Errorf("read back %d keys: %w", len(h.Ops), err)
	}
	written := make(map[uint64]bool, len(h.Ops))
	for _, op := range h.Ops {
		written[op.Seq] = true
	}
	unexpected, err := check.ScanUnexpected(ctx, addr, tr.prefix, func(seq uint64) bool { return written[seq] })
	if err != nil {
		return fmt.Errorf("scan for unexpected keys: %w", err)
	}

	// Writes sent once the replacement started may have reached it rather
	// than the old server: check leaves them out of the snapshot bracket and
	// the prefix check, and counts a lost one as an anomaly.
	var replacement time.Duration
	if !rec.Instance.StartedAt.IsZero() {
		replacement = rec.Instance.StartedAt.Sub(tr.base)
	}
	v := check.Classify(check.Input{Ops: h.Ops, Found: found, Unexpected: unexpected, TFault: lossTo, Replacement: replacement, SaveStarts: logView.completedForks(tr.base)})

	t.Writes, t.Acked, t.Failed, t.Unknown = v.Writes, v.Acked, v.Failed, v.Unknown
	t.Lost, t.Recovered, t.Unexpected, t.Corrupt = v.Lost, v.Recovered, v.Unexpected, v.Corrupt
	t.Anomalies = v.Anomalies
	// Two examples say what kind of anomaly it was; the count follows in
	// the verdict, and long reason lists bury it in the report's table.
	for _, ex := range v.AnomalyExamples[:min(2, len(v.AnomalyExamples))] {
		tr.reasons = append(tr.reasons, "anomaly: "+ex)
	}
	if v.HasLost {
		t.LostSpanS = &result.Span{From: v.LostFirst.Seconds(), To: v.LostLast.Seconds()}
	}
	if v.Snapshot != nil && v.Lost > 0 {
		t.SnapshotUnixMs = tr.base.Add(v.Snapshot.Estimate).UnixMilli()
		t.SnapshotSource = v.Snapshot.Source
	}
	if v.LossWindow != nil && v.Lost > 0 {
		t.LossWindowS = &result.Window{Low: v.LossWindow.Low.Seconds(), High: v.LossWindow.High.Seconds(), Estimate: v.LossWindow.Estimate.Seconds()}
	} else if v.Lost == 0 {
		t.LossWindowS = &result.Window{} // nothing lost: the cache went back no time
	} // lost writes without a bracket: not measured (nil), never a zero window

	// Recovery timeline.
	tl := check.Recovery(check.Instants{
		Fault:             tFault,
		OldGone:           rep.GoneAt,
		NewStarted:        rec.Instance.StartedAt,
		PortAccepts:       ready.Accepted,
		FirstReply:        ready.FirstReply,
		Ready:             ready.Ready,
		Serving:           serving,
		ServerLoadSeconds: logView.loadSeconds,
		HasServerLoad:     logView.hasLoad,
	})
	t.WarmupS, t.RTOS, t.ServerLoadS = tl.WarmupS, tl.RTOS, tl.ServerLoadS
	if t.OverlapS != nil {
		t.WarmupS = nil // not observed: the probe met the replacement long after its load
	}
	tr.addStep("port_accepts", ready.Accepted, "probe")
	tr.addStep("first_reply", ready.FirstReply, "probe")
	tr.addStep("ready", ready.Ready, "probe")
	tr.addStep("serving", serving, "probe")
	if !logView.loadedAt.IsZero() {
		tr.addStep("loaded", logView.loadedAt, "server-log")
	}
	for _, p := range tl.Problems {
		tr.reasons = append(tr.reasons, "timeline: "+p)
	}
	sort.SliceStable(t.Steps, func(i, j int) bool { return t.Steps[i].AtS < t.Steps[j].AtS })
	if logView.finalSave > 0 {
		fs := logView.finalSave.Seconds()
		t.FinalSaveS = &fs
	}
	t.Saves = tr.saves(logView, watched)

	tr.noteStorage(h, tFaultOff)
	// Writes a storage fault got refused are the outcome under test, not a
	// harness that fell behind: the rate is judged up to the first one.
	tFaultOff = tr.rateWindowEnd(tFaultOff)

	tr.checkPacing(h, writerStart, tFaultOff)
	return tr.recordLoad(h)
}

// checkPacing is the harness's own validity gate: the writer kept its rate
// up to the end offset (the fault, or the first write a storage fault got
// refused). A trial that fell short is invalid, never evidence.
func (tr *trialRun) checkPacing(h *loadgen.History, writerStart time.Time, end time.Duration) {
	achieved := h.AchievedRate(writerStart.Sub(tr.base), end)
	tr.trial.AchievedRatePerS = achieved
	// Open-loop pacing places ops on a fixed schedule, so over a short span
	// at a slow rate the count can be one op short without any lag.
	span := (end - writerStart.Sub(tr.base)).Seconds()
	if expected := tr.rate * span; achieved*span < expected-math.Max(0.05*expected, 1) {
		tr.invalid = append(tr.invalid, fmt.Sprintf("achieved %s before the fault, more than 5%% short of the target %s", savepolicy.FormatRate(achieved), savepolicy.FormatRate(tr.rate)))
	}
}

// recordLoad stores the whole trial's latency summary and binned series
// for the report, and writes the history and .hgrm files.
func (tr *trialRun) recordLoad(h *loadgen.History) error {
	t := tr.trial
	end := time.Since(tr.base)
	hist := h.Latency(0, end)
	t.Latency = &result.Latency{
		P50: float64(hist.ValueAtQuantile(50)) / 1000, P90: float64(hist.ValueAtQuantile(90)) / 1000,
		P99: float64(hist.ValueAtQuantile(99)) / 1000, P999: float64(hist.ValueAtQuantile(99.9)) / 1000,
		Max: float64(hist.Max()) / 1000, Count: hist.TotalCount(),
	}
	series := h.Series(0, end, seriesBin(end, tr.rate))
	t.Series = &series
	return tr.writeArtifacts(h, hist)
}

// serverLog fetches the trial's server log once (on ECS a CloudWatch Logs
// read), bounded in time even when the run is being cancelled.
func (tr *trialRun) serverLog(ctx context.Context) ([]target.LogLine, error) {
	if tr.logLines != nil {
		return tr.logLines, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	lines, err := tr.cfg.Target.ServerLog(ctx)
	if err == nil {
		tr.logLines = lines
	}
	return lines, err
}

// seriesBin keeps a plot at a few hundred bins whatever the trial length,
// and wide enough that a steady rate does not alias into a comb (105/s in
// 50 ms bins reads as 100, 120, 100, ...): at least 20 ops a bin, up to 1 s.
func seriesBin(d time.Duration, rate float64) time.Duration {
	for _, b := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 15 * time.Second, time.Minute} {
		if d/b > 600 {
			continue
		}
		if rate*b.Seconds() >= 20 || b >= time.Second {
			return b
		}
	}
	return 5 * time.Minute
}

func (tr *trialRun) saves(v logSummary, watched []probe.SaveEvent) []result.Save {
	var out []result.Save
	if len(v.saves) > 0 {
		for _, s := range v.saves {
			rs := result.Save{StartS: tr.offset(s.start), OK: s.ok, Trigger: s.trigger, Source: "server-log"}
			if !s.end.IsZero() {
				rs.EndS = tr.offset(s.end)
			}
			out = append(out, rs)
		}
		return out
	}
	for _, w := range watched {
		rs := result.Save{StartS: tr.offset(w.Started), OK: w.OK, Source: "info"}
		if !w.Ended.IsZero() {
			rs.EndS = tr.offset(w.Ended)
		}
		out = append(out, rs)
	}
	return out
}

func (tr *trialRun) writeArtifacts(h *loadgen.History, hist *hdrhistogram.Histogram) error {
	t := tr.trial
	name := result.SafeName(tr.plan.Label)
	for _, path := range tr.logFiles() {
		t.Files.ServerLogs = append(t.Files.ServerLogs, path)
	}
	histPath := filepath.Join("trials", name+".history.bin")
	if err := result.WriteAtomic(filepath.Join(tr.cfg.OutDir, histPath), func(w io.Writer) error { _, err := h.WriteTo(w); return err }); err != nil {
		return err
	}
	t.Files.History = histPath
	hgrmPath := filepath.Join("trials", name+".hgrm")
	if err := result.WriteAtomic(filepath.Join(tr.cfg.OutDir, hgrmPath), func(w io.Writer) error {
		return loadgen.WriteHgrm(w, hist) // the same distribution as the result's summary
	}); err != nil {
		return err
	}
	t.Files.Hgrm = hgrmPath
	return nil
}

// logFiles copies nothing: local server logs are written straight into the
// run's logs/ directory; other targets' lines are saved there.
func (tr *trialRun) logFiles() []string {
	type logFiler interface{ LogFiles() []string }
	var out []string
	if lf, ok := tr.cfg.Target.(logFiler); ok {
		for _, p := range lf.LogFiles() {
			if rel, err := filepath.Rel(tr.cfg.OutDir, p); err == nil && !strings.HasPrefix(rel, "..") {
				out = append(out, rel)
			} else {
				out = append(out, p)
			}
		}
		return out
	}
	lines, err := tr.serverLog(context.Background())
	if err != nil || len(lines) == 0 {
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "[%s] %s\n", l.Instance, l.Text)
	}
	rel := filepath.Join("logs", result.SafeName(tr.plan.Label)+"-server.log")
	if err := result.WriteFileAtomic(filepath.Join(tr.cfg.OutDir, rel), []byte(b.String())); err != nil {
		return nil
	}
	return []string{rel}
}

// finishVerdict decides pass, fail or invalid. Invalid (the harness's own
// preconditions did not hold) is never counted as a pass or as evidence.
func (tr *trialRun) finishVerdict(runErr error) {
	t := tr.trial
	reasons := append([]string{}, tr.reasons...)
	fault := target.FaultKind(t.Fault)
	if runErr != nil && len(tr.invalid) == 0 {
		tr.invalid = append(tr.invalid, "trial did not finish: "+runErr.Error())
	}
	if len(tr.invalid) > 0 {
		t.Verdict = "invalid"
		t.Reasons = append(tr.invalid, reasons...)
		return
	}
	if t.Lost > 0 && (fault == target.Stop) {
		if t.StopEscalated {
			reasons = append(reasons, fmt.Sprintf("the final save did not finish within the %gs stop timeout: SIGKILL, %d acknowledged writes lost", tr.stopTimeout.Seconds(), t.Lost))
		} else {
			reasons = append(reasons, fmt.Sprintf("%d acknowledged writes lost on a graceful stop", t.Lost))
		}
	}
	if t.OverlapS != nil {
		// First, so summaries lead with the cause; it names the anomalies.
		reasons = append([]string{overlapReason(t)}, reasons...)
	} else if t.Anomalies > 0 {
		reasons = append(reasons, fmt.Sprintf("%d consistency anomalies: survivors are not a point-in-time prefix (two writers of dump.rdb, or a stale file)", t.Anomalies))
	}
	if t.Corrupt > 0 {
		reasons = append(reasons, fmt.Sprintf("%d keys came back with wrong values", t.Corrupt))
	}
	if t.Unexpected > 0 {
		reasons = append(reasons, fmt.Sprintf("%d keys under the run prefix were never written", t.Unexpected))
	}
	if w, how := measuredWindow(t); w > t.PredictedLossWindowS && t.PredictedLossWindowS > 0 {
		reasons = append(reasons, fmt.Sprintf("loss window %s %.2fs exceeds the %.2fs the save rules promise", how, w, t.PredictedLossWindowS))
	}
	if t.RTOS == nil && t.ReplacementExited == "" { // an exited replacement has its own reason
		reasons = append(reasons, "the cache never served again: RTO unbounded")
	}
	t.Checks = slo.Evaluate(t, slices.Concat(tr.plan.Scenario.expect, tr.cfg.slos))
	for _, c := range t.Checks {
		if !c.Pass {
			reasons = append(reasons, fmt.Sprintf("SLO %s failed: observed %g", c.Name, c.Observed))
		}
	}
	t.Reasons = dedupe(reasons)
	if len(t.Reasons) > 0 {
		t.Verdict = "fail"
	} else {
		t.Verdict = "pass"
	}
}

// measuredWindow is the loss window held against the prediction: the
// server log's fork instant (ms, truncated: +1 ms) when it pinned the
// snapshot, else the client bracket's high end, which at slow rates spans
// the gap between two writes.
func measuredWindow(t *result.Trial) (seconds float64, how string) {
	if t.LossWindowS == nil || t.Lost == 0 {
		return 0, ""
	}
	if t.SnapshotSource == check.SourceServerLog {
		return t.LossWindowS.Estimate + 0.001, "(pinned by the server log)"
	}
	return t.LossWindowS.High, "up to"
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
