// Package judge is the one place that decides a trial's verdict. It reads
// what the trial's phases recorded in result.Trial and decides, in order
// (as etcd's robustness tests validate):
//
//  1. the harness's own assumptions (pacing held, a snapshot completed
//     during the load, the fault was confirmed and landed in the planned
//     cycle, the rule that fired is the one planned): one that did not
//     hold makes the trial invalid, never evidence; with one exception,
//     a harness that only fell behind its rate (pacing) still fails a
//     trial on what its data proves at any rate (rateFree);
//  2. the system's invariants: loss only within what the save rules allow,
//     nothing lost and no escalation on a graceful stop, no anomalies, no
//     stale load, no corruption, the cache serves again and keeps serving
//     through the read-back;
//  3. the SLOs.
//
// Evidence that cannot decide (a loss-window bracket that straddles the
// prediction or an SLO's limit, an SLO whose metric is unknown, keys never
// read back) makes the trial inconclusive: missing evidence never passes.
// Reports and exit codes read the verdict; nothing else computes one.
package judge

import (
	"fmt"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
)

// Decision is what Decide concludes about one trial.
type Decision struct {
	Verdict result.Verdict
	Reasons []string
	Checks  []result.Check
	// NeverServed and LossWindow are the invariants' conclusions that
	// sinks word on their own (result.Trial.NeverServed, LossWindowVerdict).
	NeverServed bool
	LossWindow  result.Verdict
}

// Apply decides t and records the decision in it.
func Apply(t *result.Trial, slos []slo.SLO) {
	d := Decide(t, slos)
	t.Verdict, t.Reasons, t.Checks = d.Verdict, d.Reasons, d.Checks
	t.NeverServed, t.LossWindowVerdict = d.NeverServed, d.LossWindow
}

// Decide judges one trial from its recorded evidence.
func Decide(t *result.Trial, slos []slo.SLO) Decision {
	var invalid []string
	for _, a := range t.Assumptions {
		if !a.Held {
			invalid = append(invalid, a.Detail)
		}
	}
	fails, unsure, lw, proven, windowWhy := invariants(t)
	d := Decision{Checks: slo.Evaluate(t, slos), NeverServed: neverServed(t), LossWindow: lw}
	for _, c := range d.Checks {
		switch {
		case c.Observed == nil:
			// Missing evidence never passes: an SLO on an unknown value
			// fails as unknown (issue 10), never passes with 0.
			fails = append(fails, fmt.Sprintf("SLO %s failed: its metric is unknown for this trial (not observed)", c.Name))
		case c.Undecided:
			// A bracket straddling the limit: the evidence cannot decide.
			unsure = append(unsure, undecidedReason(c))
		case !c.Pass:
			fails = append(fails, fmt.Sprintf("SLO %s failed: observed %s", c.Name, slo.Observed(c)))
		}
	}
	if len(invalid) > 0 && len(proven) > 0 && onlyPacing(t) {
		// A harness that fell behind its rate tested another rate than
		// planned, which voids what depends on the rate (the rules' window,
		// the SLOs), not what the data proves at any rate: a stale load, a
		// lost write on a graceful stop, anomalies, corruption. Those fail
		// the trial (exit 3, not "rerun"); the rest is said to be unjudged.
		// Every other reason judged (problems, no recovery, unread) stays.
		var rest []string
		for _, why := range append(append([]string{}, fails...), unsure...) {
			if why != windowWhy && !strings.HasPrefix(why, "SLO ") {
				rest = append(rest, why)
			}
		}
		d.Verdict, d.LossWindow = result.Fail, ""
		d.Reasons = dedupe(append(append(proven, rest...), "not judged, the harness's rate did not hold: the loss window against the rules and the SLOs ("+strings.Join(invalid, "; ")+")"))
		return d
	}
	if len(invalid) > 0 {
		// What went wrong besides stays visible, after the cause.
		d.Verdict, d.Reasons = result.Invalid, dedupe(append(invalid, append(fails, unsure...)...))
		return d
	}
	switch {
	case len(fails) > 0:
		d.Verdict, d.Reasons = result.Fail, dedupe(append(fails, unsure...))
	case len(unsure) > 0:
		d.Verdict, d.Reasons = result.Inconclusive, dedupe(unsure)
	default:
		d.Verdict, d.Reasons = result.Pass, []string{}
	}
	return d
}

// undecidedReason says why an SLO check could not be decided.
func undecidedReason(c result.Check) string {
	return fmt.Sprintf("SLO %s undecided: observed %s, a bracket that straddles the limit (rerun, or pin the snapshot with the server log)", c.Name, slo.Observed(c))
}

// onlyPacing: every assumption that did not hold is the writer's pace.
func onlyPacing(t *result.Trial) bool {
	for _, a := range t.Assumptions {
		if !a.Held && a.Name != "pacing" {
			return false
		}
	}
	return true
}

// invariants returns the failure reasons, the undecidable ones, how the
// loss window held against the prediction ("" when it was not held), and
// the failures that hold at any write rate (rateFree: proven).
func invariants(t *result.Trial) (fails, unsure []string, lw result.Verdict, proven []string, windowWhy string) {
	// rateFree is a failure the data proves whatever rate the writer kept.
	rateFree := func(why string) {
		fails = append(fails, why)
		proven = append(proven, why)
	}
	if t.Unread != "" {
		// Nothing was read back: lost, anomalies and the rest are unknown,
		// so no invariant on them can hold; the trial is no pass.
		unsure = append(unsure, "what was lost is unknown: "+t.Unread)
	}
	if t.OverlapS != nil {
		rateFree(overlapReason(t)) // first: it names the anomalies
	} else if t.Anomalies > 0 {
		rateFree(fmt.Sprintf("%d consistency anomalies: survivors are not a point-in-time prefix (two writers of dump.rdb, or a stale file)", t.Anomalies))
	}
	if s := t.StaleLoad; s != nil {
		sep := ": "
		if strings.HasPrefix(s.Detail, "(") {
			sep = " "
		}
		rateFree("the replacement loaded a snapshot older than the last completed save" + sep + s.Detail)
	}
	if graceful(t) && (t.AllowedLoss == nil || !t.AllowedLoss.Everything) {
		for _, why := range stopReasons(t) {
			rateFree(why)
		}
	}
	if t.Corrupt > 0 {
		rateFree(fmt.Sprintf("%d keys came back with wrong values", t.Corrupt))
	}
	if t.Unexpected > 0 {
		rateFree(fmt.Sprintf("%d keys under the run prefix were never written", t.Unexpected))
	}
	if t.AllowedLoss != nil {
		fails = append(fails, strategyLoss(t)...)
	} else {
		var why string
		lw, why = lossWindow(t)
		windowWhy = why
		if lw == result.Fail {
			fails = append(fails, why)
		} else if lw == result.Inconclusive {
			unsure = append(unsure, why)
		}
	}
	if t.StoppedServing != "" {
		fails = append(fails, "the cache stopped serving after it had recovered, during the read-back ("+t.StoppedServing+"): what was lost is unknown")
	}
	if t.RTOS == nil && recoveryWatched(t) {
		fails = append(fails, "the cache never served again: RTO unbounded")
	}
	fails = append(fails, t.Problems...)
	return fails, unsure, lw, proven, windowWhy
}

// neverServed: the judge's finding that the cache never served again (RTO
// unbounded): a recovery watched to the end without serving (the reason
// above), or a replacement that exited while starting (scenarios records
// it as a crash loop, with its own reason). Any other null RTO (no fault,
// invalid before the fault, cut short) says nothing about serving.
func neverServed(t *result.Trial) bool {
	return t.RTOS == nil && (recoveryWatched(t) || t.ReplacementExited != "")
}

// recoveryWatched: a fault took the old server away (confirmed gone) and
// a replacement started that the probe then watched, to the end: only
// then does a missing RTO mean the cache never served again. A trial that
// went invalid before its fault, a fault that did not take, a target that
// produced no replacement, a cut-short trial, an exited replacement or a
// drill's failed save (each with its own line) says nothing about it.
func recoveryWatched(t *result.Trial) bool {
	if t.TFaultUnixMs == 0 || t.ReplacementExited != "" || t.Interrupted != "" || t.SaveFailed != "" {
		return false
	}
	var gone, started bool
	for _, a := range t.Assumptions {
		gone = gone || a.Name == "fault_confirmed" && a.Held
	}
	for _, s := range t.Steps {
		gone = gone || s.Name == "old_gone"
		started = started || s.Name == "new_started"
	}
	return gone && started
}

// graceful: the fault ends the old server with SIGTERM and its final save
// (a stop, or a rolling deployment, whose scheduler stops the old task the
// same way): it is judged as a stop, whatever the save rules' window.
func graceful(t *result.Trial) bool { return target.FaultKind(t.Fault).Graceful() }

// stopReasons: a graceful stop loses nothing and finishes its final save
// within the stop timeout; an escalation to SIGKILL is a failure even when
// nothing happened to be lost. Writes lost to an overlap of two servers
// are the overlap's reason, not the stop's.
func stopReasons(t *result.Trial) []string {
	timeout := "the stop timeout"
	if t.StopTimeoutS > 0 {
		timeout = fmt.Sprintf("the %gs stop timeout", t.StopTimeoutS)
	}
	switch {
	case t.StopEscalated && t.Lost > 0:
		return []string{fmt.Sprintf("the final save did not finish within %s: SIGKILL, %d acknowledged writes lost", timeout, t.Lost)}
	case t.StopEscalated:
		return []string{fmt.Sprintf("the final save did not finish within %s: SIGKILL (a graceful stop must save and exit in time; this time no acknowledged write happened to be lost)", timeout)}
	case t.Lost > 0 && t.OverlapS == nil:
		what := "a graceful stop"
		if t.Fault == string(target.RollingDeploy) {
			what = "a rolling deployment (the old task's final save must hold them)"
		}
		return []string{fmt.Sprintf("%d acknowledged writes lost on %s", t.Lost, what)}
	}
	return nil
}

// lossWindow holds the measured window against the prediction: its
// verdict and, for a fail or an inconclusive one, the reason. Only
// evidence that the window exceeded the prediction fails a trial: the
// server log's fork instant (ms, truncated: +1 ms), or a bracket's low
// end. A bracket whose low end is within the prediction but whose high
// end is beyond it cannot decide. "" when the window is not held against
// the prediction at all.
func lossWindow(t *result.Trial) (result.Verdict, string) {
	pred := t.PredictedLossWindowS
	if t.Lost == 0 || pred <= 0 || graceful(t) {
		return "", "" // a graceful fault may lose nothing at all: stopReasons
	}
	w := t.LossWindowS
	if w == nil {
		return result.Inconclusive, fmt.Sprintf("%d acknowledged writes lost but the loss window could not be bracketed: it cannot be held against the %.2fs prediction", t.Lost, pred)
	}
	if t.SnapshotSource == result.SourceServerLog && !w.OneSided {
		if w.Estimate+0.001 > pred {
			return result.Fail, fmt.Sprintf("loss window (pinned by the server log) %.2fs exceeds the %.2fs the save rules promise", w.Estimate+0.001, pred) + windowCause(t)
		}
		return result.Pass, ""
	}
	side := "bracket"
	if w.OneSided {
		side = "one-sided bracket (no write survived)"
	}
	switch {
	case w.Low > pred:
		return result.Fail, fmt.Sprintf("loss window at least %.2fs (%s low end) exceeds the %.2fs the save rules promise", w.Low, side, pred) + windowCause(t)
	case w.High > pred:
		return result.Inconclusive, fmt.Sprintf("loss window %s [%.2f..%.2f]s straddles the %.2fs prediction: the evidence cannot decide (rerun, or pin the snapshot with the server log)", side, w.Low, w.High, pred)
	}
	return result.Pass, ""
}

// windowCause names what the trial's saves show about a window beyond the
// prediction, which assumes every save takes the cycle's measured BGSAVE
// and succeeds: a save that failed since the last good one, or the save
// in flight at the fault running longer than that BGSAVE (slow storage, a
// busy machine). "" when the saves show neither.
func windowCause(t *result.Trial) string {
	if t.TFaultUnixMs == 0 || t.TrialStartUnixMs == 0 {
		return ""
	}
	fault := float64(t.TFaultUnixMs-t.TrialStartUnixMs) / 1000
	var lastGood float64
	for _, s := range t.Saves {
		if s.OK && s.EndS > 0 && s.EndS <= fault && s.Trigger != "shutdown" {
			lastGood = max(lastGood, s.StartS)
		}
	}
	for _, s := range t.Saves {
		failed := !s.OK && s.EndS > 0 && s.EndS <= fault // ended, not OK; a save still running has no end
		if failed && s.StartS > lastGood && s.Trigger != "shutdown" {
			return fmt.Sprintf(": the save forked at %.2fs failed, so the snapshot was the one forked at %.2fs", s.StartS, lastGood)
		}
	}
	for _, s := range t.Saves {
		running := s.StartS > lastGood && s.StartS < fault && (s.EndS == 0 || s.EndS > fault)
		if running && s.Trigger != "shutdown" && t.BGSaveS > 0 && fault-s.StartS > t.BGSaveS {
			return fmt.Sprintf(": the save in flight at the fault had run %.2fs, longer than the %.2fs BGSAVE the prediction assumed (slow storage or a busy machine)", fault-s.StartS, t.BGSaveS)
		}
	}
	return ""
}

// everysecSlack is how far past an AOF strategy's window the oldest lost
// write may lie: Valkey's background fsync runs on its own timer, so the
// 2 s bound is reached a little late under load.
const everysecSlack = 1.1

// strategyLoss holds the loss against what the persistence strategy
// allows (the AOF strategies, none): none at all, or only writes
// acknowledged within the window before the fault.
func strategyLoss(t *result.Trial) []string {
	a := t.AllowedLoss
	switch {
	case a.Everything || t.Lost == 0 || t.Unread != "" || t.ReplacementExited != "":
		return nil
	case a.WindowS == 0:
		return []string{fmt.Sprintf("%d acknowledged writes lost under persistence %s, which allows none (%s)", t.Lost, t.Persistence, a.Why)}
	case t.OldestLostS != nil && *t.OldestLostS > a.WindowS*everysecSlack:
		return []string{fmt.Sprintf("acknowledged writes up to %.2fs old were lost under persistence %s, which allows about %.1fs (%s)", *t.OldestLostS, t.Persistence, a.WindowS, a.Why)}
	}
	return nil
}

// overlapReason is the verdict's line for a trial whose servers
// overlapped: what happened, what it cost, and the fix.
func overlapReason(t *result.Trial) string {
	o := t.OverlapS
	cost := "no acknowledged write was lost this time, but the old server's saves raced the new one's load"
	if t.Lost > 0 {
		cost = fmt.Sprintf("%d acknowledged writes lost, %d of them acknowledged by the old server during the overlap (consistency anomalies)", t.Lost, t.Anomalies)
	}
	return fmt.Sprintf("the replacement started %.2fs before the old server was gone (overlap %+.2fs..%+.2fs): two servers shared dump.rdb, %s; "+
		"fix: a single-writer guard that does not depend on the scheduler (the module's start-up lock on the volume, single_writer_lock in terraform/modules/valkey); "+
		"deployment minimum healthy 0 %% / maximum 100 %% alone does not prevent it, since ECS counts only RUNNING and PENDING tasks against maximumPercent and a STOPPING task may still be writing its final save",
		o.To-o.From, o.From, o.To, cost)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Outcome is what a scheduler acts on: ErrFailed naming each failed trial,
// else ErrInconclusive when a trial was invalid or inconclusive, else nil.
// It reads verdicts and never recomputes them.
func Outcome(run *result.Run) error {
	if f := Failures(run); len(f) > 0 {
		return fmt.Errorf("%w: %d of %d trials failed: %s", result.ErrFailed, len(f), len(run.Trials), strings.Join(f, " | "))
	}
	counts := map[result.Verdict]int{}
	for _, t := range run.Trials {
		counts[t.Verdict]++
	}
	if n := counts[result.Invalid] + counts[result.Inconclusive]; n > 0 {
		sentinel := result.ErrInconclusive
		if counts[result.Inconclusive] == 0 {
			sentinel = result.ErrInvalid // scheduled runs publish the two apart
		}
		return fmt.Errorf("%w: %d of %d trials were invalid (their preconditions did not hold) and %d inconclusive (the evidence could not decide); see the reasons and rerun",
			sentinel, counts[result.Invalid], len(run.Trials), counts[result.Inconclusive])
	}
	return nil
}

// Failures lists every failed trial with its reasons, one line each.
func Failures(run *result.Run) []string {
	var out []string
	for i := range run.Trials {
		t := &run.Trials[i]
		if t.Verdict != result.Fail {
			continue
		}
		why := strings.Join(t.Reasons, "; ")
		if why == "" {
			why = "failed"
		}
		out = append(out, t.Label()+": "+why)
	}
	return out
}
