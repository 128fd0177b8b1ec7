package report

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// worthItView is the "Is persistence worth it?" section of one scenario:
// the strategies side by side, one row per strategy per fault, and the
// reader's hit ratio and origin load after each fault.
type worthItView struct {
	Scenario string
	Rows     []StrategyRow
	Cells    []strategyCells // Rows formatted, for the HTML table
	Header   []string
	Charts   []chart
	CostNote string
}

// strategyCells is one formatted row: the strategy (linked), the numbers,
// the verdict.
type strategyCells struct {
	Anchor, Verdict, Name, Fault string
	Numbers                      []string
}

// strategyOf names a trial's persistence strategy; empty is rdb.
func strategyOf(t *result.Trial) string {
	if t.Persistence == "" {
		return string(savepolicy.StrategyRDB)
	}
	return t.Persistence
}

// worthItTrials groups, per scenario in run order, the trials that compare
// strategies: a scenario qualifies when any trial has a reader or it ran
// more than one strategy.
func worthItTrials(run *result.Run) (order []string, by map[string][]int) {
	by = map[string][]int{}
	reader := map[string]bool{}
	strategies := map[string]map[string]bool{}
	for i := range run.Trials {
		t := &run.Trials[i]
		if _, ok := by[t.Scenario]; !ok {
			order = append(order, t.Scenario)
			strategies[t.Scenario] = map[string]bool{}
		}
		by[t.Scenario] = append(by[t.Scenario], i)
		reader[t.Scenario] = reader[t.Scenario] || t.Reader != nil
		strategies[t.Scenario][strategyOf(t)] = true
	}
	var keep []string
	for _, s := range order {
		if reader[s] || len(strategies[s]) > 1 {
			keep = append(keep, s)
		}
	}
	return keep, by
}

// firstSeen lists the distinct values of key over idx, in first-seen order.
func firstSeen(run *result.Run, idx []int, key func(*result.Trial) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, i := range idx {
		k := key(&run.Trials[i])
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// worthItViews builds the section of every qualifying scenario. names are
// result.TrialNames, for anchors and chart files.
func worthItViews(run *result.Run, names []string, problems *[]string) []worthItView {
	order, by := worthItTrials(run)
	var out []worthItView
	for _, sc := range order {
		idx := by[sc]
		faults := firstSeen(run, idx, func(t *result.Trial) string { return t.Fault })
		strategies := firstSeen(run, idx, strategyOf)
		v := worthItView{Scenario: sc, Header: strategyHeader}
		for _, f := range faults {
			var curves []StrategyCurve
			for _, st := range strategies {
				for _, i := range idx {
					t := &run.Trials[i]
					if t.Fault != f || strategyOf(t) != st {
						continue
					}
					row := strategyRow(run, t)
					row.Anchor = "trial-" + names[i]
					v.Rows = append(v.Rows, row)
					c := row.cells()
					v.Cells = append(v.Cells, strategyCells{Anchor: row.Anchor, Verdict: row.Verdict, Name: c[0], Fault: c[1], Numbers: c[2 : len(c)-1]})
					if c, ok := readerCurve(t, st); ok {
						curves = append(curves, c)
					}
				}
			}
			if len(curves) == 0 {
				continue
			}
			title := fmt.Sprintf("Hit ratio and origin load after a %s, per strategy", f)
			png, _, err := renderSafely(title, func() ([]byte, bool, error) {
				png, err := StrategyChart(curves)
				return png, err == nil, err
			})
			if err != nil {
				*problems = append(*problems, err.Error())
				continue
			}
			file := path.Join(PlotsDir, "strategies-"+result.Slug(sc+"-"+f)+".png")
			v.Charts = append(v.Charts, chart{Title: title, Path: file, png: png})
		}
		v.CostNote = costNote(run, idx)
		out = append(out, v)
	}
	return out
}

// readerCurve is one trial's reader bins as a chart line.
func readerCurve(t *result.Trial, strategy string) (StrategyCurve, bool) {
	r := t.Reader
	if r == nil || len(r.Bins) == 0 {
		return StrategyCurve{}, false
	}
	label := strategy
	if t.Index > 0 {
		label += fmt.Sprintf(" #%d", t.Index+1)
	}
	c := StrategyCurve{Label: label, BinS: r.BinS}
	for _, b := range r.Bins {
		c.SinceFaultS = append(c.SinceFaultS, b.SinceFaultS)
		c.Reads = append(c.Reads, b.Reads)
		c.HitRatio = append(c.HitRatio, b.HitRatio)
		c.OriginPerS = append(c.OriginPerS, b.OriginPerS)
	}
	return c, true
}

// strategyRow reads one trial's numbers for the comparison; the verdict is
// the judge's.
func strategyRow(run *result.Run, t *result.Trial) StrategyRow {
	row := StrategyRow{Strategy: strategyOf(t), Fault: faultText(t), Verdict: string(t.Verdict)}
	if t.Index > 0 {
		row.Strategy += fmt.Sprintf(" #%d", t.Index+1)
	}
	if t.ReplacementExited == "" && t.Unread == "" {
		lost := int64(t.Lost)
		row.Lost = &lost
		row.LossEverything = t.AllowedLoss != nil && t.AllowedLoss.Everything && t.Lost > 0
		if t.Lost > 0 && t.LossWindowS != nil && strategyOf(t) == string(savepolicy.StrategyRDB) {
			row.LossWindowS = &t.LossWindowS.Estimate
		}
		row.OldestLostS = t.OldestLostS
	}
	if l := t.Latency; l != nil && l.Count > 0 {
		row.WriteP99Ms = &l.P99
	}
	row.WarmupS, row.ServerLoadS = t.WarmupS, t.ServerLoadS
	if r := t.Reader; r != nil {
		row.To99S, row.To99Reached = &r.To99S, r.Reached99
		if !r.Reached99 {
			row.To99S = &r.RecoveryS
		}
		n := int64(r.OriginDuringRecovery)
		row.OriginDuringRecovery, row.ExtraOrigin = &n, &r.ExtraOrigin
	}
	if c, ok := trialStrategyCost(run, t); ok {
		row.USDPerDay, row.USDPerMonth = &c.Cost.TotalUSD, &c.Cost.TotalUSDPerMonth
		row.WritesPerS = writeRate(run, t)
	}
	return row
}

func faultText(t *result.Trial) string {
	if t.HostLoss != nil {
		return t.Fault + " + host"
	}
	return t.Fault
}

// writeRate is the changes per second the strategy persists, in real time:
// the writer's acknowledged rate plus the reader's fills (a fill is a SET
// like any write), from the steady window before the fault.
func writeRate(run *result.Run, t *result.Trial) float64 {
	w := t.AchievedRatePerS
	if w <= 0 {
		w = t.RatePerS
	}
	if r := t.Reader; r != nil && r.Origin > 0 {
		w += r.SteadyOriginPerS * float64(r.Fills) / float64(r.Origin)
	}
	scale := run.Target.TimeScale
	if scale <= 0 {
		scale = 1
	}
	return w * scale
}

// Key sizes the cost model assumes: the harness's own keys.
const costKeyBytes = 32

// rdbBytesOf is the snapshot size: the run's record, else an estimate from
// the dataset (key, value and ~16 B of RDB framing per key).
func rdbBytesOf(run *result.Run, t *result.Trial) (bytes int64, estimated bool) {
	ds := run.Target.Dataset
	if t.Dataset != nil {
		ds = *t.Dataset
	}
	if ds.RDBBytes > 0 {
		return ds.RDBBytes, false
	}
	return ds.Keys * int64(costKeyBytes+ds.ValueBytes+16), true
}

// storageOf is the EFS mode the run's storage stands for; Elastic (which
// charges for every byte moved) when the run was not on EFS-like storage.
func storageOf(run *result.Run) savepolicy.Storage {
	mode := savepolicy.Elastic
	switch run.Target.Storage {
	case "efs-bursting":
		mode = savepolicy.Bursting
	case "efs-provisioned":
		mode = savepolicy.Provisioned
	}
	return savepolicy.Storage{Mode: mode, Prices: savepolicy.DefaultPrices()}
}

// trialStrategyCost models what the trial's strategy costs on EFS at the
// measured write rate, one restart a day.
func trialStrategyCost(run *result.Run, t *result.Trial) (savepolicy.StrategyCost, bool) {
	st, err := savepolicy.ParseStrategy(strategyOf(t))
	if err != nil {
		return savepolicy.StrategyCost{}, false
	}
	rdb, _ := rdbBytesOf(run, t)
	rate := writeRate(run, t)
	ds := run.Target.Dataset
	if t.Dataset != nil {
		ds = *t.Dataset
	}
	in := savepolicy.StrategyCostInput{Strategy: st, RDBBytes: rdb, WritesPerS: rate, KeyBytes: costKeyBytes,
		ValueBytes: max(ds.ValueBytes, 1), RestartsPerDay: 1}
	if st.Snapshots() {
		rules, err := savepolicy.Parse(run.Target.SaveReal)
		if err != nil || len(rules) == 0 {
			rules, _ = savepolicy.Parse(run.Target.Save)
		}
		in.SavesPerDay = savepolicy.Predict(rules, rate, seconds(t.BGSaveS)).SavesPerDay
	}
	return storageOf(run).StrategyCost(in), true
}

// costNote says what the cost columns assume.
func costNote(run *result.Run, idx []int) string {
	if len(idx) == 0 {
		return ""
	}
	t := &run.Trials[idx[0]]
	rdb, est := rdbBytesOf(run, t)
	size := fmtBytes(rdb)
	if est {
		size = "about " + size + " (estimated from the dataset; the run recorded no RDB size)"
	}
	return fmt.Sprintf("EFS cost: %s throughput at us-east-1 list prices, the measured write rate (the writer's acknowledged writes plus the reader's fills, real time), an RDB of %s, %d-byte keys, one restart a day; $/month is $/day × 365/12.",
		storageOf(run).Mode, size, costKeyBytes)
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Markdown is the section's table for report.md.
func (w worthItView) Markdown() string {
	var b strings.Builder
	if err := WriteStrategyTable(&b, w.Rows); err != nil {
		return err.Error()
	}
	return b.String()
}
