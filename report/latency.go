package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
)

// hgrmPoint is one row of an HdrHistogram percentile distribution.
type hgrmPoint struct {
	value      float64 // in the file's unit
	percentile float64 // 0..1
}

// hgrm is a parsed .hgrm file (HdrHistogram's PercentilesPrint format, as
// written by hdrhistogram-go and the Java and C implementations).
type hgrm struct {
	points []hgrmPoint
	max    float64 // from the footer; 0 if absent
	count  int64
}

// parseHgrm reads the percentile rows and the footer, ignoring the header.
func parseHgrm(r io.Reader) (*hgrm, error) {
	h := &hgrm{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "" || strings.HasPrefix(text, "Value"):
			continue
		case strings.HasPrefix(text, "#["):
			// #[Max     =        6.303, Total count    =         1417]
			body := strings.Trim(text, "#[]")
			for _, part := range strings.Split(body, ",") {
				k, v, ok := strings.Cut(part, "=")
				if !ok {
					continue
				}
				k, v = strings.TrimSpace(k), strings.TrimSpace(v)
				switch k {
				case "Max":
					h.max, _ = strconv.ParseFloat(v, 64)
				case "Total count":
					h.count, _ = strconv.ParseInt(v, 10, 64)
				}
			}
			continue
		}
		f := strings.Fields(text)
		// HdrHistogram writes the 100th percentile without 1/(1-Percentile).
		if len(f) != 4 && !(len(f) == 3 && strings.HasPrefix(f[1], "1.0")) {
			return nil, fmt.Errorf("line %d: want 4 columns (Value Percentile TotalCount 1/(1-Percentile)), got %q", line, text)
		}
		v, err1 := strconv.ParseFloat(f[0], 64)
		p, err2 := strconv.ParseFloat(f[1], 64)
		if err1 != nil || err2 != nil || p < 0 || p > 1 {
			return nil, fmt.Errorf("line %d: not a value and a percentile: %q", line, text)
		}
		h.points = append(h.points, hgrmPoint{value: v, percentile: p})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h.points) == 0 {
		return nil, fmt.Errorf("no percentile rows")
	}
	return h, nil
}

// hgrmToMs is the factor that turns the file's values into milliseconds.
// The format carries no unit, so it is inferred by matching the file's max
// to the trial's max_ms (µs and ns files are common); without that, ms.
func hgrmToMs(h *hgrm, lat *result.Latency) float64 {
	if lat == nil || lat.Max <= 0 || h.max <= 0 {
		return 1
	}
	best, bestDist := 1.0, math.Inf(1)
	for _, f := range []float64{1e-6, 1e-3, 1, 1e3} {
		if d := math.Abs(math.Log10(h.max * f / lat.Max)); d < bestDist {
			best, bestDist = f, d
		}
	}
	return best
}

// loadHgrm reads a trial's .hgrm from the run directory, in milliseconds.
func loadHgrm(dir string, t *result.Trial) (*hgrm, error) {
	if t.Files.Hgrm == "" {
		return nil, os.ErrNotExist
	}
	path := t.Files.Hgrm
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := parseHgrm(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	k := hgrmToMs(h, t.Latency)
	for i := range h.points {
		h.points[i].value *= k
	}
	h.max *= k
	return h, nil
}

// latencyChart draws p50, p99 and max per bin for one trial on a log scale,
// with gaps where a bin had no acknowledged write and the outage shaded.
func latencyChart(run *result.Run, t *result.Trial) ([]byte, bool, error) {
	s := t.Series
	if s == nil {
		return nil, false, nil
	}
	lo, hi, ok := logRange(s.LatP50Ms, s.LatP99Ms, s.LatMaxMs)
	if !ok {
		return nil, false, nil
	}
	p := newPlot("Latency of acknowledged writes, from intended send time: "+trialLabel(t), "time since trial start (s)", "latency (ms, log)")
	p.X.Min, p.X.Max = 0, timelineEnd(t)*1.01
	useLogY(p, lo, hi)
	var legend []legendItem
	if from, to, ok := outage(t); ok {
		p.Add(span{from, to, colOutage})
		legend = append(legend, legendItem{"outage: fault to serving", []plot.Thumbnailer{boxThumb{colOutage}}})
	}
	for _, q := range []struct {
		vs    []float64
		label string
		sty   draw.LineStyle
	}{
		{s.LatP99Ms, "p99 per bin", lineStyle(colP99, 1.5, nil)},
		{s.LatP50Ms, "p50 per bin", lineStyle(colP50, 1.5, nil)},
	} {
		if len(q.vs) == 0 {
			continue
		}
		vs := q.vs
		if err := addSegments(p, segments(binCentres(s, len(vs)), vs, func(i int) bool { return vs[i] > 0 }), q.sty); err != nil {
			return nil, false, err
		}
		legend = append(legend, legendItem{q.label, []plot.Thumbnailer{lineThumb(q.sty)}})
	}
	// Max as dots on top: with few writes per bin it equals p99 and a line
	// would vanish under it.
	var maxes plotter.XYs
	for i, x := range binCentres(s, len(s.LatMaxMs)) {
		if v := s.LatMaxMs[i]; v > 0 {
			maxes = append(maxes, plotter.XY{X: x, Y: v})
		}
	}
	if len(maxes) > 0 {
		sc, err := plotter.NewScatter(maxes)
		if err != nil {
			return nil, false, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: colMax, Radius: vg.Points(1.6), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		legend = append(legend, legendItem{"max per bin", []plot.Thumbnailer{glyphThumb(sc.GlyphStyle)}})
	}
	if tf, ok := faultAt(t); ok {
		p.Add(vline{[]float64{tf}, lineStyle(colFault, 1.4, nil)})
		legend = append(legend, legendItem{"fault", []plot.Thumbnailer{lineThumb(lineStyle(colFault, 1.4, nil))}})
	}
	legend = append(legend, legendItem{fmt.Sprintf("bins of %.3g s; gaps: no acknowledged write in the bin", s.BinS), nil})
	f := &figure{height: 4.2 * vg.Inch, panels: []panel{{p, 1}}, legend: legend}
	png, err := f.render()
	return png, err == nil, err
}

// percentileTicks label the 1/(1-p) axis as percentiles: 0%, 50%, 90%,
// 99%, 99.9%, ... with unlabelled ticks between the decades.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := 0; math.Pow(10, float64(e)) <= max*1.0001; e++ {
		base := math.Pow(10, float64(e))
		for i := 1; i < 10; i++ {
			v := base * float64(i)
			if v < min || v > max*1.0001 {
				continue
			}
			t := plot.Tick{Value: v}
			switch {
			case i == 1:
				t.Label = percentLabel(e)
			case e == 0 && i == 2:
				t.Label = "50%"
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// percentLabel names 1/(1-p) = 10^e: 0%, 90%, 99%, 99.9%, ...
func percentLabel(e int) string {
	if e == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100-100/math.Pow(10, float64(e)), 'f', max(e-2, 0), 64) + "%"
}

// distributionChart draws the whole-run latency distribution of every trial:
// latency against percentile, from the .hgrm files, or from the trial's
// summary percentiles when a file is missing.
func distributionChart(dir string, run *result.Run) ([]byte, bool, []string, error) {
	p := newPlot("Latency distribution per trial (acknowledged writes, from intended send time)", "percentile", "latency (ms, log)")
	var legend []legendItem
	var notes []string
	var all []float64
	xMax := 1000.0
	for i := range run.Trials {
		t := &run.Trials[i]
		var xys plotter.XYs
		source := ""
		h, err := loadHgrm(dir, t)
		switch {
		case err == nil:
			for _, pt := range h.points {
				if pt.percentile >= 1 || pt.value <= 0 {
					continue
				}
				xys = append(xys, plotter.XY{X: 1 / (1 - pt.percentile), Y: pt.value})
			}
			source = fmt.Sprintf("max %.3g ms", h.max)
		case t.Latency != nil && t.Latency.Count > 0:
			l := t.Latency
			for _, q := range []struct{ p, v float64 }{{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {0.999, l.P999}} {
				if q.v > 0 {
					xys = append(xys, plotter.XY{X: 1 / (1 - q.p), Y: q.v})
				}
			}
			source = fmt.Sprintf("max %.3g ms; summary percentiles only", l.Max)
			if t.Files.Hgrm != "" {
				notes = append(notes, fmt.Sprintf("%s: %v", trialLabel(t), err))
			}
		default:
			continue
		}
		if len(xys) < 2 {
			continue
		}
		for _, xy := range xys {
			all = append(all, xy.Y)
			xMax = math.Max(xMax, xy.X)
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, false, nil, err
		}
		l.LineStyle = lineStyle(colourAt(i), 1.6, dashAt(i))
		p.Add(l)
		legend = append(legend, legendItem{fmt.Sprintf("%s (%s)", trialLabel(t), source), []plot.Thumbnailer{lineThumb(l.LineStyle)}})
	}
	if len(legend) == 0 {
		return nil, false, notes, nil
	}
	lo, hi, _ := logRange(all)
	useLogY(p, lo, hi)
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	p.X.Min, p.X.Max = 1, math.Pow(10, math.Ceil(math.Log10(xMax)))
	f := &figure{height: 5 * vg.Inch, panels: []panel{{p, 1}}, legend: legend}
	png, err := f.render()
	return png, err == nil, notes, err
}
