package report

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
)

// sizePoint is what one dataset size cost: the slowest warm-up and final
// save seen at that size.
type sizePoint struct {
	keys      int64
	rdbBytes  int64
	warmup    float64 // 0: none measured
	finalSave float64 // 0: none measured
}

// sizePoints groups trials by the dataset they ran on (today the run's
// dataset; a capacity sweep records one per run) and keeps the worst times.
func sizePoints(runs []*result.Run) []sizePoint {
	by := map[int64]*sizePoint{}
	for _, run := range runs {
		ds := run.Target.Dataset
		if ds.Keys <= 0 && ds.RDBBytes <= 0 {
			continue
		}
		key := ds.Keys
		if ds.RDBBytes > 0 {
			key = ds.RDBBytes
		}
		sp := by[key]
		if sp == nil {
			sp = &sizePoint{keys: ds.Keys, rdbBytes: ds.RDBBytes}
			by[key] = sp
		}
		for _, t := range run.Trials {
			if t.Verdict == "invalid" {
				continue
			}
			if t.Dataset != nil {
				continue // a sweep's trial: its own point, below
			}
			if t.WarmupS != nil {
				sp.warmup = math.Max(sp.warmup, *t.WarmupS)
			}
			if t.FinalSaveS != nil {
				sp.finalSave = math.Max(sp.finalSave, *t.FinalSaveS)
			}
		}
	}
	// A capacity sweep records each trial's dataset.
	for _, run := range runs {
		for _, t := range run.Trials {
			if t.Verdict == "invalid" || t.Dataset == nil {
				continue
			}
			key := t.Dataset.Keys
			if t.Dataset.RDBBytes > 0 {
				key = t.Dataset.RDBBytes
			}
			sp := by[key]
			if sp == nil {
				sp = &sizePoint{keys: t.Dataset.Keys, rdbBytes: t.Dataset.RDBBytes}
				by[key] = sp
			}
			if t.WarmupS != nil {
				sp.warmup = math.Max(sp.warmup, *t.WarmupS)
			}
			if t.FinalSaveS != nil {
				sp.finalSave = math.Max(sp.finalSave, *t.FinalSaveS)
			}
		}
	}
	out := make([]sizePoint, 0, len(by))
	for _, sp := range by {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].rdbBytes != out[j].rdbBytes {
			return out[i].rdbBytes < out[j].rdbBytes
		}
		return out[i].keys < out[j].keys
	})
	return out
}

// sizeChart draws warm-up and final-save time against dataset size, with
// the stop timeout as the line a final save must stay under. ok is false
// with fewer than two sizes: one point is not a trend.
func sizeChart(points []sizePoint, stopTimeout float64) ([]byte, bool, error) {
	if len(points) < 2 {
		return nil, false, nil
	}
	byRDB := true
	for _, sp := range points {
		if sp.rdbBytes <= 0 {
			byRDB = false
		}
	}
	xLabel := "dataset (keys)"
	x := func(sp sizePoint) float64 { return float64(sp.keys) }
	if byRDB {
		xLabel = "dataset (RDB file, MB)"
		x = func(sp sizePoint) float64 { return float64(sp.rdbBytes) / 1e6 }
	}
	p := newPlot("Warm-up and final save against dataset size", xLabel, "seconds")
	var legend []legendItem
	yMax := 1.0
	for _, s := range []struct {
		label string
		get   func(sizePoint) float64
		sty   draw.LineStyle
		glyph draw.GlyphStyle
	}{
		{"warm-up: start to first non-LOADING reply (slowest trial)", func(sp sizePoint) float64 { return sp.warmup }, lineStyle(errorColours["loading"], 1.6, nil), draw.GlyphStyle{Color: errorColours["loading"], Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}},
		{"final save on SIGTERM (slowest stop trial)", func(sp sizePoint) float64 { return sp.finalSave }, lineStyle(colFinalSave, 1.6, nil), draw.GlyphStyle{Color: colFinalSave, Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}},
	} {
		var xys plotter.XYs
		for _, sp := range points {
			if v := s.get(sp); v > 0 {
				xys = append(xys, plotter.XY{X: x(sp), Y: v})
				yMax = math.Max(yMax, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		lp, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, false, err
		}
		lp.LineStyle, sc.GlyphStyle = s.sty, s.glyph
		p.Add(lp, sc)
		legend = append(legend, legendItem{s.label, []plot.Thumbnailer{lineThumb(s.sty), glyphThumb(s.glyph)}})
	}
	if len(legend) == 0 {
		return nil, false, nil
	}
	if stopTimeout > 0 {
		sty := lineStyle(colFault, 1.2, []vg.Length{vg.Points(6), vg.Points(3)})
		p.Add(hline{stopTimeout, sty})
		legend = append(legend, legendItem{fmt.Sprintf("stop timeout %.0f s: a final save above it ends in SIGKILL", stopTimeout), []plot.Thumbnailer{lineThumb(sty)}})
		yMax = math.Max(yMax, stopTimeout)
	}
	p.X.Min = 0
	p.Y.Min, p.Y.Max = 0, yMax*1.15
	f := &figure{height: 5 * vg.Inch, panels: []panel{{p, 1}}, legend: legend}
	png, err := f.render()
	return png, err == nil, err
}
