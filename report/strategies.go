package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// StrategyCurve is what the cache-aside reader saw through one fault under
// one persistence strategy: loadgen.ReadSummary's bins, as plain series.
type StrategyCurve struct {
	Label       string    // e.g. "rdb, crash"
	BinS        float64   // bin width, s
	SinceFaultS []float64 // bin starts, s from the fault
	Reads       []int     // reads per bin; a bin without reads is a gap
	HitRatio    []float64 // 0..1
	OriginPerS  []float64 // origin requests/s
}

// StrategyChart draws the comparison of strategies: the reader's hit ratio
// against time since the fault (top) and the load on the origin (bottom),
// one line per strategy, the fault at 0.
func StrategyChart(curves []StrategyCurve) ([]byte, error) {
	if len(curves) == 0 {
		return nil, errors.New("strategy chart: no curves")
	}
	hit := newPlot("What the application saw: hit ratio after the fault", "", "hit ratio (%)")
	origin := newPlot("Load on the origin (the database behind the cache)", "time since the fault (s)", "origin requests/s (0.5 s mean)")
	origin.Title.Padding = vg.Points(10) // clear of the hit ratio's tick labels above
	lo, hi := math.Inf(1), math.Inf(-1)
	maxOrigin := 1.0
	var legend []legendItem
	for i, c := range curves {
		if len(c.SinceFaultS) != len(c.HitRatio) || len(c.SinceFaultS) != len(c.OriginPerS) || len(c.SinceFaultS) != len(c.Reads) {
			return nil, fmt.Errorf("strategy chart: curve %q has series of different lengths", c.Label)
		}
		xs := make([]float64, len(c.SinceFaultS))
		pct := make([]float64, len(c.HitRatio))
		for k := range xs {
			xs[k] = c.SinceFaultS[k] + c.BinS/2
			pct[k] = 100 * c.HitRatio[k]
			lo, hi = math.Min(lo, c.SinceFaultS[k]), math.Max(hi, c.SinceFaultS[k]+c.BinS)
		}
		smooth := movingMean(c.OriginPerS, c.Reads, int(math.Round(originMeanS/math.Max(c.BinS, 1e-9))))
		for _, o := range smooth {
			maxOrigin = math.Max(maxOrigin, o)
		}
		sty := lineStyle(colourAt(i), 1.6, dashAt(i))
		if err := addSegments(hit, segments(xs, pct, func(k int) bool { return c.Reads[k] > 0 }), sty); err != nil {
			return nil, err
		}
		if err := addSegments(origin, segments(xs, smooth, func(k int) bool { return c.Reads[k] > 0 }), sty); err != nil {
			return nil, err
		}
		legend = append(legend, legendItem{label: c.Label, thumbs: []plot.Thumbnailer{lineThumb(sty)}})
	}
	if math.IsInf(lo, 0) {
		return nil, errors.New("strategy chart: the curves have no bins")
	}
	fault := vline{xs: []float64{0}, style: lineStyle(colFault, 1.2, []vg.Length{vg.Points(4), vg.Points(3)})}
	for _, p := range []*plot.Plot{hit, origin} {
		p.Add(fault)
		p.X.Min, p.X.Max = lo, hi
	}
	hit.Y.Min, hit.Y.Max = 0, 100
	origin.Y.Min, origin.Y.Max = 0, maxOrigin*1.08
	legend = append(legend, legendItem{label: "fault", thumbs: []plot.Thumbnailer{lineThumb(fault.style)}})
	f := &figure{height: 6.5 * vg.Inch, panels: []panel{{hit, 1.2}, {origin, 1}}, legend: legend}
	return f.render()
}

// originMeanS is the window the origin load is averaged over: per 100 ms
// bin it is mostly noise (a handful of fetches each).
const originMeanS = 0.5

// movingMean averages v over a centred window of n bins, skipping bins
// without reads (gaps).
func movingMean(v []float64, reads []int, n int) []float64 {
	out := make([]float64, len(v))
	if n <= 1 {
		copy(out, v)
		return out
	}
	for k := range v {
		sum, cnt := 0.0, 0
		for j := max(k-n/2, 0); j <= min(k+(n-1)/2, len(v)-1); j++ {
			if reads[j] > 0 {
				sum += v[j]
				cnt++
			}
		}
		if cnt > 0 {
			out[k] = sum / float64(cnt)
		}
	}
	return out
}

// StrategyRow is one strategy under one fault in the comparison table. Nil
// pointers are unknown (not measured) and show as "-".
type StrategyRow struct {
	Strategy string
	Fault    string
	Verdict  string // the judge's
	Anchor   string // the trial's section, for links
	// Lost is the acknowledged writes lost; LossEverything marks a strategy
	// allowed to lose everything (none) that did.
	Lost           *int64
	LossEverything bool
	// LossWindowS is the observed RPO of the snapshot (t_fault - F);
	// OldestLostS how old the oldest lost write was (the AOF's bound).
	LossWindowS *float64
	OldestLostS *float64
	WriteP99Ms  *float64
	WarmupS     *float64 // first non-LOADING reply after start
	ServerLoadS *float64 // RDB load or AOF replay, by the server's log
	// To99S is the time from the fault until the reader's hit ratio is back
	// to 99% of steady state (To99Reached false: the last read, never got
	// there); OriginDuringRecovery the origin requests in that time and
	// ExtraOrigin those beyond the steady rate.
	To99S                *float64
	To99Reached          bool
	OriginDuringRecovery *int64
	ExtraOrigin          *float64
	WritesPerS           float64 // the rate the cost is modelled at
	USDPerDay            *float64
	USDPerMonth          *float64
}

// strategyHeader names the comparison's columns.
var strategyHeader = []string{"strategy", "fault", "lost", "loss window / oldest lost write", "write p99", "warm-up (server load)",
	"to 99% hit ratio", "origin requests during recovery (extra)", "EFS $/day", "EFS $/month", "verdict"}

// cells formats the row for both tables.
func (r StrategyRow) cells() []string {
	lost := optInt(r.Lost)
	if r.LossEverything {
		lost += " (allowed)"
	}
	loss := "-"
	switch {
	case r.Lost != nil && *r.Lost == 0:
		loss = "nothing lost"
	case r.LossWindowS != nil:
		loss = optFloat(r.LossWindowS, "%.2f s window")
	case r.OldestLostS != nil:
		loss = optFloat(r.OldestLostS, "oldest %.2f s")
	}
	warm := optFloat(r.WarmupS, "%.3f s")
	if r.ServerLoadS != nil {
		warm += optFloat(r.ServerLoadS, " (load %.3f s)")
	}
	to99 := optFloat(r.To99S, "%.1f s")
	if r.To99S != nil && !r.To99Reached {
		to99 = optFloat(r.To99S, "not within %.1f s")
	}
	origin := optInt(r.OriginDuringRecovery)
	if r.ExtraOrigin != nil {
		origin += optFloat(r.ExtraOrigin, " (%+.0f)")
	}
	return []string{r.Strategy, r.Fault, lost, loss, optFloat(r.WriteP99Ms, "%.2f ms"), warm, to99, origin,
		optUSD(r.USDPerDay), optUSD(r.USDPerMonth), orDash(r.Verdict)}
}

// WriteStrategyTable writes the comparison as a Markdown table, one row per
// strategy per fault.
func WriteStrategyTable(w io.Writer, rows []StrategyRow) error {
	var b strings.Builder
	b.WriteString("| " + strings.Join(strategyHeader, " | ") + " |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		c := r.cells()
		for i := range c {
			c[i] = mdCell(c[i])
		}
		if r.Anchor != "" {
			c[0] = "[" + c[0] + "](#" + r.Anchor + ")"
		}
		c[len(c)-1] = "**" + c[len(c)-1] + "**"
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func optFloat(v *float64, format string) string {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func optUSD(v *float64) string {
	if v == nil || !isFinite(*v) {
		return "-"
	}
	return usd(*v)
}

func optInt(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmtCount(*v)
}
