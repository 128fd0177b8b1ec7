package report

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// view is everything the report templates show, already formatted, so the
// Markdown and HTML carry the same content.
type view struct {
	RunID       string
	Status      string // PASS, FAIL, INCONCLUSIVE, PARTIAL, NO TRIALS
	StatusClass string
	Summary     string
	Verdicts    []verdictRow
	Findings    []Finding
	Config      []kv
	RunCharts   []chart
	Capacity    *capacityView // a capacity sweep's table; nil without one
	WorthIt     []worthItView // "Is persistence worth it?", per scenario
	Scenarios   []scenarioView
	Problems    []string // charts that could not be drawn
}

type kv struct{ Key, Value string }

type verdictRow struct {
	Anchor, Label, Fault, Rule, Rate, Verdict, LossWindow, RTO string
	Reasons                                                    []string
}

type scenarioView struct {
	Name   string
	Table  []trialRow
	Trials []trialView
}

// trialRow is one line of a scenario's numbers table.
type trialRow struct {
	Anchor, Label, Verdict                                                    string
	Rate, Acked, Lost, Recovered, Anomalies, LossWindow, Predicted, FinalSave string
	Warmup, ServerLoad, RTO                                                   string
}

type trialView struct {
	Anchor, Label, Verdict string
	Reasons                []string
	Numbers                []kv
	Checks                 []checkRow
	Steps                  []stepRow
	Phases                 []kv
	Charts                 []chart
}

type checkRow struct {
	Name, Observed, Result string
	Class                  string // pass, fail, inconclusive
	Pass                   bool
}

type stepRow struct {
	N                            int
	Name, At, SinceFault, Source string
}

func (v *view) allCharts() []chart {
	out := append([]chart{}, v.RunCharts...)
	for _, w := range v.WorthIt {
		out = append(out, w.Charts...)
	}
	for _, s := range v.Scenarios {
		for _, t := range s.Trials {
			out = append(out, t.Charts...)
		}
	}
	return out
}

// overallStatus: any failure fails the run; otherwise invalid trials make it
// inconclusive; an interrupted run is partial.
func overallStatus(run *result.Run) (status, class string) {
	var fail, invalid int
	for _, t := range run.Trials {
		switch t.Verdict {
		case result.Fail:
			fail++
		case result.Invalid, result.Inconclusive:
			invalid++ // rerun: no failure, no pass either
		}
	}
	switch {
	case len(run.Trials) == 0:
		return "NO TRIALS", "invalid"
	case fail > 0:
		return "FAIL", "fail"
	case invalid > 0:
		return "INCONCLUSIVE", "inconclusive"
	case !run.Complete:
		return "PARTIAL", "invalid"
	}
	return "PASS", "pass"
}

func verdictCounts(run *result.Run) string {
	counts := map[string]int{}
	for _, t := range run.Trials {
		counts[string(t.Verdict)]++
	}
	var parts []string
	known := []string{"pass", "fail", "invalid", "inconclusive"}
	for _, v := range known {
		if counts[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[v], v))
		}
	}
	var other []string // unknown verdicts stay visible
	for v := range counts {
		if !slices.Contains(known, v) {
			other = append(other, v)
		}
	}
	sort.Strings(other)
	for _, v := range other {
		parts = append(parts, fmt.Sprintf("%d %q", counts[v], v))
	}
	return fmt.Sprintf("%d trials: %s", len(run.Trials), strings.Join(parts, ", "))
}

// buildView renders every chart and formats every number.
func buildView(dir string, run *result.Run) *view {
	status, class := overallStatus(run)
	v := &view{RunID: run.RunID, Status: status, StatusClass: class, Summary: verdictCounts(run)}
	v.Findings = Findings(run)
	v.Config = configEcho(run)

	runChart := func(title, file string, draw func() ([]byte, bool, error)) {
		png, ok, err := renderSafely(title, draw)
		if err != nil {
			v.Problems = append(v.Problems, err.Error())
			return
		}
		if ok {
			v.RunCharts = append(v.RunCharts, chart{Title: title, Path: path.Join(PlotsDir, file), png: png})
		}
	}
	runChart("Loss window against write rate", "loss-window.png", func() ([]byte, bool, error) { return lossWindowChart(run) })
	runChart("Recovery phases", "recovery-phases.png", func() ([]byte, bool, error) { return phasesChart(run) })
	runChart("Latency distribution", "latency-distribution.png", func() ([]byte, bool, error) {
		png, ok, notes, err := distributionChart(dir, run)
		v.Problems = append(v.Problems, notes...)
		return png, ok, err
	})
	runChart("Warm-up and final save against dataset size", "dataset-size.png", func() ([]byte, bool, error) {
		return sizeChart(sizePoints([]*result.Run{run}), run.Target.StopTimeoutS)
	})

	v.Capacity = capacity(run)

	names := uniqueNames(run)
	v.WorthIt = worthItViews(run, names, &v.Problems)
	byScenario := map[string]*scenarioView{}
	var order []string
	for i := range run.Trials {
		t := &run.Trials[i]
		name := names[i]
		tv := trialView{Anchor: "trial-" + name, Label: trialLabel(t), Verdict: string(t.Verdict), Reasons: t.Reasons}
		tv.Numbers = trialNumbers(t)
		tv.Checks = checkRows(t)
		tv.Steps = stepRows(t)
		if durs, _, ok := recoveryPhases(t); ok {
			for j, ph := range phaseDefs {
				tv.Phases = append(tv.Phases, kv{ph.name, fmtSeconds(durs[j])})
			}
		}
		plots := result.PlotFiles(name) // the paths the run already recorded
		for _, c := range []struct {
			title, file string
			draw        func() ([]byte, bool, error)
		}{
			{"Timeline", plots[0], func() ([]byte, bool, error) {
				png, err := timelineChart(run, t)
				return png, err == nil, err
			}},
			{"Latency over time", plots[1], func() ([]byte, bool, error) { return latencyChart(run, t) }},
			{"What the reader saw", readerPlotFile(name), func() ([]byte, bool, error) { return readerChart(t) }},
		} {
			png, ok, err := renderSafely(c.title+" of "+tv.Label, c.draw)
			if err != nil {
				v.Problems = append(v.Problems, err.Error())
				continue
			}
			if ok {
				tv.Charts = append(tv.Charts, chart{Title: c.title, Path: c.file, png: png})
			}
		}
		sv := byScenario[t.Scenario]
		if sv == nil {
			sv = &scenarioView{Name: t.Scenario}
			byScenario[t.Scenario] = sv
			order = append(order, t.Scenario)
		}
		sv.Trials = append(sv.Trials, tv)
		sv.Table = append(sv.Table, trialTableRow(t, tv.Anchor))
		v.Verdicts = append(v.Verdicts, verdictRow{
			Anchor: tv.Anchor, Label: tv.Label, Fault: t.Fault, Rule: t.Rule, Rate: fmtRate(t.RatePerS) + "/s",
			Verdict: string(t.Verdict), Reasons: t.Reasons, LossWindow: lossWindowText(t), RTO: rtoText(t, "never served"),
		})
	}
	for _, name := range order {
		v.Scenarios = append(v.Scenarios, *byScenario[name])
	}
	return v
}

// uniqueNames gives every trial a file-name-safe name, unique in the run.
func uniqueNames(run *result.Run) []string { return result.TrialNames(run) }

func slug(s string) string { return result.Slug(s) }

func configEcho(run *result.Run) []kv {
	tg := run.Target
	out := []kv{
		{"Run", run.RunID},
		{"Started", fmtUnixMs(run.StartedUnixMs)},
		{"Finished", fmtUnixMs(run.FinishedUnixMs)},
	}
	if !run.Complete {
		out = append(out, kv{"Complete", "no: " + orDash(run.Interrupted)})
	}
	where := tg.Kind
	if tg.Cluster != "" || tg.Service != "" {
		where += fmt.Sprintf(" (cluster %s, service %s)", orDash(tg.Cluster), orDash(tg.Service))
	}
	out = append(out,
		kv{"Target", where},
		kv{"Server", strings.TrimSpace(orDash(tg.ServerVersion) + " " + tg.ServerBin)},
		kv{"Storage", orDash(tg.Storage)},
		kv{"Save rules (real time)", quoteOrNone(tg.SaveReal)},
		kv{"Save rules (as run)", quoteOrNone(tg.Save)},
		kv{"Time scale", fmt.Sprintf("%g (rule seconds ×%g, rates ×%g; saves, loads and the stop timeout are never scaled)", tg.TimeScale, tg.TimeScale, 1/nonZero(tg.TimeScale))},
		kv{"Stop timeout", fmtSeconds(tg.StopTimeoutS)},
		kv{"Dataset", datasetText(tg.Dataset)},
		kv{"SLOs (--slo)", orDash(strings.Join(run.SLOs, ", "))},
		kv{"Harness", strings.TrimSpace(orDash(run.Harness.Version) + " " + run.Harness.GoVersion)},
	)
	if len(run.Args) > 0 {
		out = append(out, kv{"Command", "valkey-chaos " + strings.Join(run.Args, " ")})
	}
	return out
}

func datasetText(d result.Dataset) string {
	if d.Keys == 0 && d.RDBBytes == 0 {
		return "none preloaded"
	}
	s := fmt.Sprintf("%s keys of %d B values", fmtCount(d.Keys), d.ValueBytes)
	if d.RDBBytes > 0 {
		s += ", RDB " + fmtBytes(d.RDBBytes)
	}
	return s
}

func trialTableRow(t *result.Trial, anchor string) trialRow {
	row := trialRow{
		Anchor: anchor, Label: trialLabel(t), Verdict: string(t.Verdict),
		Rate:  rateText(t),
		Acked: fmt.Sprint(t.Acked), Lost: readBackCount(t, t.Lost), Recovered: readBackCount(t, t.Recovered), Anomalies: readBackCount(t, t.Anomalies),
		LossWindow: lossWindowText(t), Predicted: orDash(predictedSeconds(t)),
		FinalSave: optSeconds(t.FinalSaveS, "-"),
		Warmup:    optSeconds(t.WarmupS, "none"), ServerLoad: optSeconds(t.ServerLoadS, "-"), RTO: rtoText(t, "never served"),
	}
	return row
}

func afterRecoveryText(t *result.Trial) string {
	switch {
	case t.ReplacementExited != "":
		return "no recovery: the replacement exited while starting (" + t.ReplacementExited + ")"
	case t.Unread != "":
		return "unknown: " + t.Unread
	}
	return fmt.Sprintf("%d lost, %d recovered (unknown but present), %d unexpected, %d corrupt, %d anomalies", t.Lost, t.Recovered, t.Unexpected, t.Corrupt, t.Anomalies)
}

func rateText(t *result.Trial) string {
	s := fmtRate(t.RatePerS) + "/s"
	if a := t.AchievedRatePerS; a > 0 && fmtRate(a) != fmtRate(t.RatePerS) {
		s += " (achieved " + fmtRate(a) + ")"
	}
	return s
}

func lossWindowText(t *result.Trial) string {
	w := t.LossWindowS
	switch {
	case t.ReplacementExited != "":
		return "unknown: the replacement never started, nothing could be read back"
	case t.Unread != "":
		return "unknown: never read back"
	case t.Lost == 0:
		return "nothing lost"
	case w == nil && t.AllowedLoss != nil && t.AllowedLoss.Everything:
		return fmt.Sprintf("everything (persistence %s)", strategyOf(t))
	case w == nil && t.OldestLostS != nil:
		return "oldest lost write " + fmtSeconds(*t.OldestLostS)
	case w == nil:
		return "not measured"
	}
	return fmt.Sprintf("%s [%s, %s]", fmtSeconds(w.Estimate), fmtSeconds(w.Low), fmtSeconds(w.High))
}

// rtoText is the trial's RTO; never when the judge found the cache never
// served again (result.Trial.NeverServed), "not measured" for any other
// null (no fault, invalid before it, cut short).
func rtoText(t *result.Trial, never string) string {
	switch {
	case t.RTOS != nil:
		return fmtSeconds(*t.RTOS)
	case t.NeverServed:
		return never
	}
	return "not measured"
}

func optSeconds(p *float64, none string) string {
	if p == nil {
		return none
	}
	return fmtSeconds(*p)
}

func trialNumbers(t *result.Trial) []kv {
	out := []kv{
		{"Write rate", rateText(t)},
		{"Writes", fmt.Sprintf("%d issued: %d acknowledged, %d failed, %d unknown outcome", t.Writes, t.Acked, t.Failed, t.Unknown)},
		{"After recovery", afterRecoveryText(t)},
		{"Loss window", lossWindowText(t)},
		{"Predicted worst window", predictedText(t)},
	}
	if t.LostSpanS != nil {
		out = append(out, kv{"Lost writes span", fmt.Sprintf("%.3f s to %.3f s after trial start", t.LostSpanS.From, t.LostSpanS.To)})
	}
	if t.SnapshotUnixMs > 0 {
		out = append(out, kv{"Snapshot instant", fmt.Sprintf("%s (from %s)", fmtUnixMsPrecise(t.SnapshotUnixMs), orDash(t.SnapshotSource))})
	}
	if t.BGSaveS > 0 {
		out = append(out, kv{"Last BGSAVE before the fault", fmtSeconds(t.BGSaveS)})
	}
	if t.FinalSaveS != nil || t.StopEscalated {
		fs := optSeconds(t.FinalSaveS, "did not finish")
		if t.StopEscalated {
			fs += "; stop timeout reached: SIGKILL"
		}
		out = append(out, kv{"Final save on stop", fs})
	}
	out = append(out,
		kv{"Warm-up", optSeconds(t.WarmupS, "no non-LOADING reply")},
		kv{"Server load (its log)", optSeconds(t.ServerLoadS, "-")},
		kv{"RTO", rtoText(t, "never served: unbounded")},
	)
	if l := t.Latency; l != nil && l.Count > 0 {
		out = append(out, kv{"Latency (acknowledged)", fmt.Sprintf("p50 %.3g ms, p90 %.3g ms, p99 %.3g ms, p99.9 %.3g ms, max %.3g ms over %d writes", l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)})
	}
	out = append(out, readerNumbers(t)...)
	if o := t.OverlapS; o != nil {
		out = append(out, kv{"Overlap (two servers on one dump.rdb)", fmt.Sprintf("%s, from +%.3fs to +%.3fs; %d acknowledged writes lost, %d during the overlap", fmtSeconds(o.To-o.From), o.From, o.To, t.Lost, t.Anomalies)})
	}
	if l := t.Leaks; l != nil && len(l.Files) > 0 {
		out = append(out, kv{"Stale temp files", fmt.Sprintf("%s (%s, removed: %v)", strings.Join(l.Files, ", "), fmtBytes(l.Bytes), l.Removed)})
	}
	if s := t.Storage; s != nil {
		out = append(out, kv{"Storage", fmt.Sprintf("%s, %.1f MiB/s limit, %.1f MiB/s observed, emulator bottleneck: %v", s.Mode, s.ThroughputMiBps, s.ObservedWriteMiBps, s.EmulatorBottleneck)})
		if s.Note != "" {
			out = append(out, kv{"Storage note", s.Note})
		}
	}
	if d := t.Dataset; d != nil {
		out = append(out, kv{"Dataset (this trial)", datasetText(*d)})
	}
	for _, f := range t.StorageFaults {
		lift := "never lifted"
		if f.LiftS > 0 {
			lift = fmt.Sprintf("lifted at %.3f s", f.LiftS)
		}
		out = append(out, kv{"Storage fault", fmt.Sprintf("%s on %s (%s) from %.3f s (%s), %s", f.Kind, orDash(f.Path), orDash(strings.Join(f.Ops, ",")), f.AtS, f.Trigger, lift)})
	}
	if r := t.Refused; r != nil {
		resumed := "did not resume before the fault"
		if r.ResumedS > 0 {
			resumed = fmt.Sprintf("acknowledged again from %.3f s", r.ResumedS)
		}
		out = append(out, kv{"Writes refused", fmt.Sprintf("%d refused with %s (fail, never applied) from %.3f s to %.3f s: %s; %s", r.Count, strings.ToUpper(r.Kind), r.FromS, r.ToS, fmtSeconds(r.Seconds), resumed)})
	}
	if t.ReplacementExited != "" {
		out = append(out, kv{"Replacement exited", t.ReplacementExited})
	}
	var files []string
	files = append(files, t.Files.ServerLogs...)
	for _, f := range []string{t.Files.Hgrm, t.Files.History} {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) > 0 {
		out = append(out, kv{"Files", strings.Join(files, ", ")})
	}
	return out
}

// predictedSeconds is the predicted worst window, "" when there is none
// (never a bound of 0 s).
func predictedSeconds(t *result.Trial) string {
	if t.PredictedLossWindowS <= 0 {
		return ""
	}
	return fmtSeconds(t.PredictedLossWindowS)
}

func predictedText(t *result.Trial) string {
	if t.PredictedLossWindowS <= 0 {
		return "-"
	}
	s := fmtSeconds(t.PredictedLossWindowS)
	if t.PredictedRule != "" {
		s += fmt.Sprintf(" (rule \"%s\")", t.PredictedRule)
	}
	return s
}

func checkRows(t *result.Trial) []checkRow {
	out := make([]checkRow, 0, len(t.Checks))
	for _, c := range t.Checks {
		r := checkRow{Name: c.Name, Observed: observed(t, c), Pass: c.Pass, Result: "pass", Class: "pass"}
		switch {
		case undecided(c):
			r.Result, r.Class = "INCONCLUSIVE", "inconclusive" // the evidence could not decide: no failure
		case !c.Pass:
			r.Result, r.Class = "FAIL", "fail"
		}
		out = append(out, r)
	}
	return out
}

func stepRows(t *result.Trial) []stepRow {
	tf, hasFault := faultAt(t)
	var out []stepRow
	for i, s := range sortedSteps(t) {
		r := stepRow{N: i + 1, Name: s.Name, At: fmt.Sprintf("%.3f s", s.AtS), Source: s.Source, SinceFault: "-"}
		if hasFault {
			r.SinceFault = fmt.Sprintf("%+.3f s", s.AtS-tf)
		}
		out = append(out, r)
	}
	return out
}

func fmtUnixMsPrecise(ms int64) string {
	return fmtUnixMs(ms)[:19] + fmt.Sprintf(".%03d UTC", ms%1000)
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func quoteOrNone(s string) string {
	if s == "" {
		return `"" (no save points)`
	}
	return `"` + s + `"`
}

func nonZero(f float64) float64 {
	if f == 0 {
		return 1
	}
	return f
}
