package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
)

// Finding is one plain-language conclusion drawn from the numbers.
type Finding struct {
	Level string // fail, warn, ok, info: how urgently to act
	Text  string
}

var levelOrder = map[string]int{"fail": 0, "warn": 1, "ok": 2, "info": 3}

// Findings derives what an engineer should know from a run, most urgent
// first; the order is stable so reports re-render byte for byte.
func Findings(run *result.Run) []Finding {
	var out []Finding
	add := func(level, format string, args ...any) {
		out = append(out, Finding{Level: level, Text: fmt.Sprintf(format, args...)})
	}
	if !run.Complete {
		why := "it did not finish"
		if run.Interrupted != "" {
			why = run.Interrupted
		}
		add("warn", "This run is partial (%s): %d trial(s) recorded. Treat missing scenarios as not tested.", why, len(run.Trials))
	}
	out = append(out, rpoFindings(run)...)
	for i := range run.Trials {
		out = append(out, trialFindings(run, &run.Trials[i])...)
	}
	out = append(out, noteFindings(run)...)
	out = append(out, warmupFindings(run)...)
	out = append(out, worthItFindings(run)...)
	out = append(out, costFinding(run)...)
	sort.SliceStable(out, func(i, j int) bool { return levelOrder[out[i].Level] < levelOrder[out[j].Level] })
	return out
}

// noteFindings carry what the trials themselves noted (a scaled trial that
// does not represent the real rule, an undecided overlap), once each.
func noteFindings(run *result.Run) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for i := range run.Trials {
		t := &run.Trials[i]
		for _, n := range t.Notes {
			if !seen[n] {
				seen[n] = true
				out = append(out, Finding{Level: "info", Text: trialLabel(t) + ": " + n})
			}
		}
	}
	return out
}

// rpoFindings say, per write rate, which save rule fires in real time and
// the effective RPO that buys, next to what the trials measured.
func rpoFindings(run *result.Run) []Finding {
	realRules, err := savepolicy.Parse(run.Target.SaveReal)
	if err != nil || len(realRules) == 0 {
		realRules, err = savepolicy.Parse(run.Target.Save)
		if err != nil || len(realRules) == 0 {
			return nil
		}
	}
	scale := run.Target.TimeScale
	if scale <= 0 {
		scale = 1
	}
	bgsave := typicalBGSave(run)
	// One finding per distinct rate, with the crash trials measured there.
	type atRate struct {
		rate    float64
		crashes []*result.Trial
	}
	var rates []*atRate
	for i := range run.Trials {
		t := &run.Trials[i]
		if t.RatePerS <= 0 {
			continue
		}
		var ar *atRate
		for _, r := range rates {
			if math.Abs(r.rate-t.RatePerS) <= 1e-9*t.RatePerS {
				ar = r
			}
		}
		if ar == nil {
			ar = &atRate{rate: t.RatePerS}
			rates = append(rates, ar)
		}
		if !graceful(t) && t.Verdict != "invalid" && t.LossWindowS != nil && t.Lost > 0 && strategyOf(t) == string(savepolicy.StrategyRDB) {
			ar.crashes = append(ar.crashes, t)
		}
	}
	sort.Slice(rates, func(i, j int) bool { return rates[i].rate < rates[j].rate })

	var out []Finding
	for _, ar := range rates {
		real := ar.rate * scale
		pred := savepolicy.Predict(realRules, real, seconds(bgsave))
		if !pred.Fires {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "At %s writes/s", fmtRate(real))
		if scale != 1 {
			fmt.Fprintf(&b, " real time (%s/s at time scale %g)", fmtRate(ar.rate), scale)
		}
		fmt.Fprintf(&b, " rule \"%s\" is the one that fires", pred.Rule)
		// Shorter rules that never fire at this rate are why the RPO is long.
		var never []string
		for _, r := range realRules {
			if r.Seconds < pred.Rule.Seconds {
				need := float64(r.Changes) / float64(r.Seconds)
				never = append(never, fmt.Sprintf("the %d s rule \"%s\" needs %s writes/s and never fires", r.Seconds, r, fmtRate(need)))
			}
		}
		level := "info"
		if len(never) > 0 {
			level = "warn"
			fmt.Fprintf(&b, ": %s", strings.Join(never, "; "))
		}
		fmt.Fprintf(&b, ". Your effective RPO is up to %s", fmtSeconds(pred.WorstWindow.Seconds()))
		switch {
		case pred.CountBound:
			fmt.Fprintf(&b, " (its %d changes take %s at this rate, longer than its %d s; a 0.1 s tick; and the %s BGSAVE twice)",
				pred.Rule.Changes, fmtSeconds(float64(pred.Rule.Changes)/real), pred.Rule.Seconds, fmtSeconds(bgsave))
		case bgsave > 0:
			fmt.Fprintf(&b, " (the rule's %d s, up to %.1f s of clock granularity, and the %s BGSAVE twice)", pred.Rule.Seconds, savepolicy.Granularity.Seconds(), fmtSeconds(bgsave))
		}
		b.WriteString(".")
		for _, t := range ar.crashes {
			w := t.LossWindowS
			fmt.Fprintf(&b, " Measured (%s): %s, bracket [%s, %s], against %s predicted at this scale.",
				trialLabel(t), fmtSeconds(w.Estimate), fmtSeconds(w.Low), fmtSeconds(w.High), fmtSeconds(t.PredictedLossWindowS))
		}
		out = append(out, Finding{Level: level, Text: b.String()})
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// graceful: the fault ends the old server with SIGTERM and its final save
// (a stop, or a rolling deployment): target's predicate, the judge's too.
func graceful(t *result.Trial) bool { return target.FaultKind(t.Fault).Graceful() }

// lossWindowFinding words the judge's verdict on the loss window against
// the prediction (result.Trial.LossWindowVerdict): a failure only when the
// judge found one, inconclusive when its evidence could not decide.
func lossWindowFinding(t *result.Trial) []Finding {
	label, pred := trialLabel(t), fmtSeconds(t.PredictedLossWindowS)
	w := t.LossWindowS
	switch {
	case t.LossWindowVerdict == result.Fail && w != nil:
		return []Finding{{Level: "fail", Text: fmt.Sprintf("%s: the loss window exceeded the %s the save rules allow: measured %s, snapshot instant from the %s. Look for a failed or slow BGSAVE, or a second writer of dump.rdb.",
			label, pred, lossWindowText(t), orDash(t.SnapshotSource))}}
	case t.LossWindowVerdict == result.Inconclusive && w == nil:
		return []Finding{{Level: "warn", Text: fmt.Sprintf("%s is inconclusive: %d acknowledged writes were lost but the loss window could not be bracketed, so it cannot be held against the %s the save rules allow. Rerun it.",
			label, t.Lost, pred)}}
	case t.LossWindowVerdict == result.Inconclusive:
		side := "bracket"
		if w.OneSided {
			side = "one-sided bracket (no write survived)"
		}
		return []Finding{{Level: "warn", Text: fmt.Sprintf("%s is inconclusive on its loss window: the %s [%s, %s] straddles the %s the save rules allow, so the evidence cannot decide (only the low end beyond it would prove a breach). Rerun it, or pin the snapshot with the server log.",
			label, side, fmtSeconds(w.Low), fmtSeconds(w.High), pred)}}
	}
	return nil
}

// trialFindings cover one trial: stop-timeout headroom, loss beyond the
// prediction, anomalies, SLOs, leaked temp files, invalidity.
func trialFindings(run *result.Run, t *result.Trial) []Finding {
	var out []Finding
	add := func(level, format string, args ...any) {
		out = append(out, Finding{Level: level, Text: fmt.Sprintf(format, args...)})
	}
	label := trialLabel(t)
	if t.Verdict == "invalid" {
		add("warn", "%s is invalid, so it says nothing about Valkey: %s. Rerun it.", label, strings.Join(t.Reasons, "; "))
		return out
	}
	if t.StoppedServing != "" {
		add("fail", "%s: the cache stopped serving after it had recovered, during the read-back (%s), so what was lost is unknown. Find what took it down: a health check that killed the task, the OOM killer, a restart.",
			label, t.StoppedServing)
	}
	timeout := run.Target.StopTimeoutS
	if a := t.AllowedLoss; !readBack(t) {
		// what was lost is unknown: nothing to say of it
	} else if a != nil && a.Everything {
		add("info", "%s lost %d acknowledged writes, as persistence %s allows: %s.", label, t.Lost, strategyOf(t), a.Why)
	} else if graceful(t) {
		switch {
		case t.StopEscalated:
			add("fail", "%s: the final save did not finish within the %s stop timeout; SIGKILL came and %d acknowledged writes were lost: a StopTask loses data. Raise stop_timeout (120 s is the Fargate maximum), shrink the dataset or give the save faster storage.",
				label, fmtSeconds(timeout), t.Lost)
		case t.FinalSaveS != nil && timeout > 0 && *t.FinalSaveS > timeout:
			add("fail", "%s: the final save took %s, above the %s stop timeout: a StopTask loses data.", label, fmtSeconds(*t.FinalSaveS), fmtSeconds(timeout))
		case t.Lost > 0:
			add("fail", "%s: a graceful stop lost %d acknowledged writes.", label, t.Lost)
		case t.FinalSaveS != nil && timeout > 0 && *t.FinalSaveS > timeout/2:
			add("warn", "%s: the final save took %s, %.0f%% of the %s stop timeout; about %.1f× this dataset and a StopTask loses data.",
				label, fmtSeconds(*t.FinalSaveS), 100**t.FinalSaveS/timeout, fmtSeconds(timeout), timeout / *t.FinalSaveS)
		case t.FinalSaveS != nil && timeout > 0:
			add("ok", "%s lost nothing: the final save took %s, %.0f%% of the %s stop timeout (room for about %.0f× this dataset at this storage speed).",
				label, fmtSeconds(*t.FinalSaveS), 100**t.FinalSaveS/timeout, fmtSeconds(timeout), math.Floor(timeout / *t.FinalSaveS))
		default:
			add("ok", "%s lost nothing.", label)
		}
	}
	out = append(out, lossWindowFinding(t)...)
	if t.Anomalies > 0 {
		add("fail", "%s: %d consistency anomalies: the survivors are not a point-in-time prefix, so two processes wrote dump.rdb or a stale file was loaded.", label, t.Anomalies)
	}
	if t.Corrupt > 0 {
		add("fail", "%s: %d keys came back with the wrong value.", label, t.Corrupt)
	}
	if t.NeverServed {
		add("fail", "%s: the cache never served again: the RTO is unbounded.", label)
	}
	for _, c := range t.Checks {
		switch {
		case undecided(c):
			add("warn", "%s: SLO %s is undecided: observed %s; the evidence cannot decide it (rerun, or pin the snapshot with the server log).", label, c.Name, observed(t, c))
		case !c.Pass:
			add("fail", "%s: SLO %s failed: observed %s.", label, c.Name, observed(t, c))
		}
	}
	if l := t.Leaks; l != nil && len(l.Files) > 0 {
		what := "left in the data directory"
		if l.Removed {
			what = "removed by the harness"
		}
		add("warn", "%s: the kill interrupted a BGSAVE and left %s (%s, %s). Nothing cleans these up in production; on EFS they cost storage until removed.",
			label, strings.Join(l.Files, ", "), fmtBytes(l.Bytes), what)
	}
	if s := t.Storage; s != nil && s.EmulatorBottleneck {
		add("warn", "%s: the storage emulator itself limited throughput (%.1f MiB/s observed), so its save and load times are not EFS figures.", label, s.ObservedWriteMiBps)
	}
	return out
}

// warmupFindings summarise warm-up and RTO across the valid trials.
func warmupFindings(run *result.Run) []Finding {
	var worst *result.Trial
	for i := range run.Trials {
		t := &run.Trials[i]
		if t.Verdict == "invalid" || t.WarmupS == nil {
			continue
		}
		if worst == nil || *t.WarmupS > *worst.WarmupS {
			worst = t
		}
	}
	if worst == nil {
		return nil
	}
	ds := run.Target.Dataset
	var b strings.Builder
	fmt.Fprintf(&b, "Warm-up (replacement started to first non-LOADING reply) took up to %s", fmtSeconds(*worst.WarmupS))
	if ds.Keys > 0 {
		fmt.Fprintf(&b, " for %s keys", fmtCount(ds.Keys))
		if ds.RDBBytes > 0 {
			fmt.Fprintf(&b, " (%s RDB)", fmtBytes(ds.RDBBytes))
		}
	}
	if worst.ServerLoadS != nil {
		fmt.Fprintf(&b, "; the server's own log says the load took %s", fmtSeconds(*worst.ServerLoadS))
		if ds.RDBBytes > 0 && *worst.ServerLoadS > 0 {
			fmt.Fprintf(&b, " (%.0f MB/s)", float64(ds.RDBBytes)/1e6 / *worst.ServerLoadS)
		}
	}
	b.WriteString(".")
	// Worst RTO per fault kind, in a stable order.
	rto := map[string]float64{}
	for _, t := range run.Trials {
		if t.Verdict != "invalid" && t.RTOS != nil {
			rto[t.Fault] = math.Max(rto[t.Fault], *t.RTOS)
		}
	}
	var kinds []string
	for k := range rto {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, " After a %s the cache served again within %s (RTO).", k, fmtSeconds(rto[k]))
	}
	return []Finding{{Level: "info", Text: b.String()}}
}

// observed renders a check's observation, "null" when the trial had none.
// observed is what the check recorded (with its bracket, when it has
// one); a check without a record (an older build's) reads the trial.
func observed(t *result.Trial, c result.Check) string {
	if c.Observed != nil || c.Undecided {
		return slo.Observed(c)
	}
	v, _, known := slo.Observe(t, c.Metric)
	if !known {
		return "null (never measured)"
	}
	return slo.Format(c.Metric, v)
}

// undecided: the judge could not decide the check (its metric unknown, or
// its bracket straddling the limit): inconclusive, never a failure.
func undecided(c result.Check) bool { return c.Undecided }

// readBack is false when the trial never read its keys back (cut short,
// or its replacement never started): its counts are unknown, never 0
// (slo's rule, so every sink shows what the judge saw).
func readBack(t *result.Trial) bool {
	_, _, known := slo.Observe(t, "lost")
	return known
}

// readBackCount renders one of the read-back counts (lost, recovered, anomalies):
// "unknown" when nothing was read back.
func readBackCount(t *result.Trial, n int) string {
	if !readBack(t) {
		return "unknown"
	}
	return fmt.Sprint(n)
}

// fmtSeconds prints a duration in seconds with sensible precision.
func fmtSeconds(s float64) string { return slo.Seconds(s) }

func fmtBytes(b int64) string {
	switch {
	case b >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(b)/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(b)/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(b)/1e3)
	}
	return fmt.Sprintf("%d B", b)
}

// fmtCount groups thousands: 500,000.
func fmtCount(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + fmtCount(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
