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
	origin := newPlot("Load on the origin (the database behind the cache)", "time since the fault (s)", "origin requests/s")
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
			maxOrigin = math.Max(maxOrigin, c.OriginPerS[k])
		}
		sty := lineStyle(colourAt(i), 1.6, dashAt(i))
		if err := addSegments(hit, segments(xs, pct, func(k int) bool { return c.Reads[k] > 0 }), sty); err != nil {
			return nil, err
		}
		if err := addSegments(origin, segments(xs, c.OriginPerS, func(k int) bool { return c.Reads[k] > 0 }), sty); err != nil {
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

// StrategyRow is one strategy under one fault in the comparison table. Nil
// pointers are unknown (not measured) and show as "-".
type StrategyRow struct {
	Strategy string
	Fault    string
	// LossWindowS is the observed RPO (t_fault - F); Lost the acknowledged
	// writes lost.
	LossWindowS *float64
	Lost        *int64
	WriteP99Ms  *float64
	WarmupS     *float64 // RDB load or AOF replay
	// To99S is the time from the fault until the reader's hit ratio is back
	// to 99% of steady state; OriginDuringRecovery the origin requests in
	// that time.
	To99S                *float64
	OriginDuringRecovery *int64
	USDPerDay            *float64
	USDPerMonth          *float64
}

// WriteStrategyTable writes the comparison as a Markdown table, one row per
// strategy per fault.
func WriteStrategyTable(w io.Writer, rows []StrategyRow) error {
	var b strings.Builder
	b.WriteString("| strategy | fault | lost | loss window (RPO) | write p99 | warm-up | to 99% hit ratio | origin requests during recovery | EFS $/day | EFS $/month |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Strategy, r.Fault,
			optInt(r.Lost), optFloat(r.LossWindowS, "%.1f s"), optFloat(r.WriteP99Ms, "%.2f ms"), optFloat(r.WarmupS, "%.2f s"),
			optFloat(r.To99S, "%.1f s"), optInt(r.OriginDuringRecovery), optFloat(r.USDPerDay, "$%.2f"), optFloat(r.USDPerMonth, "$%.2f"))
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

func optInt(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmtCount(*v)
}
