package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// SawtoothCurve is one rule set whose loss window is drawn across rates.
type SawtoothCurve struct {
	Label  string // names the rule set, e.g. "current" (may be empty for one)
	Rules  savepolicy.Rules
	BGSave time.Duration
}

// Sawtooth is the chart of `valkey-chaos plan --rate lo..hi` and `tune`:
// the loss window the rules predict against the write rate, log-log.
type Sawtooth struct {
	Title  string
	Lo, Hi float64 // write rates, changes/s
	Curves []SawtoothCurve
	RPO    time.Duration // drawn as a limit when > 0
}

// sawtoothPoints is how many log-spaced rates each curve is evaluated at
// (plus both sides of every threshold, so the corners are sharp).
const sawtoothPoints = 400

// WriteSawtooth renders s to a PNG at path, atomically.
func WriteSawtooth(path string, s Sawtooth) error {
	png, err := SawtoothPNG(s)
	if err != nil {
		return fmt.Errorf("sawtooth chart %s: %w", path, err)
	}
	if err := result.WriteFileAtomic(path, png); err != nil {
		return fmt.Errorf("%w: cannot write the chart (%v): choose a writable --out", result.ErrBadInput, err)
	}
	return nil
}

// sawtoothSeries is one curve evaluated: the worst window, the expected one
// and the oldest lost write at each rate (NaN where no rule fires).
type sawtoothSeries struct {
	rates, worst, mean, oldest []float64
	rule                       []int
}

func evalCurve(c SawtoothCurve, lo, hi float64) sawtoothSeries {
	rates := savepolicy.LogSpace(lo, hi, sawtoothPoints)
	for _, t := range savepolicy.Thresholds(c.Rules) {
		for _, r := range []float64{t.Rate * (1 - 1e-6), t.Rate * (1 + 1e-6)} {
			if r > lo && r < hi {
				rates = append(rates, r)
			}
		}
	}
	sort.Float64s(rates)
	s := sawtoothSeries{rates: rates}
	for _, r := range rates {
		p := savepolicy.Predict(c.Rules, r, c.BGSave)
		w, m, o, idx := math.NaN(), math.NaN(), math.NaN(), -1
		if p.Fires {
			w, m, o = p.WorstWindow.Seconds(), p.MeanWindow.Seconds(), p.OldestLostWrite.Seconds()
			for j, rule := range c.Rules {
				if rule == p.Rule {
					idx = j
					break
				}
			}
		}
		s.worst, s.mean, s.oldest, s.rule = append(s.worst, w), append(s.mean, m), append(s.oldest, o), append(s.rule, idx)
	}
	return s
}

// SawtoothPNG draws the chart: for a single rule set its worst-case window,
// expected window and oldest lost write, with the firing rule named along
// the curve and the thresholds marked; for several, each one's worst window
// and oldest lost write in its own colour; the RPO as a limit.
func SawtoothPNG(s Sawtooth) ([]byte, error) {
	if !(s.Lo > 0 && s.Hi > s.Lo) {
		return nil, fmt.Errorf("rate range %g..%g: need 0 < lo < hi", s.Lo, s.Hi)
	}
	if len(s.Curves) == 0 {
		return nil, fmt.Errorf("no rule sets to draw")
	}
	p := newPlot(s.Title, "write rate (changes/s, log scale)", "seconds (log scale)")
	var legend []legendItem
	var notes []string
	var all [][]float64
	series := make([]sawtoothSeries, len(s.Curves))
	for i, c := range s.Curves {
		series[i] = evalCurve(c, s.Lo, s.Hi)
		all = append(all, series[i].worst, series[i].oldest)
		if len(s.Curves) == 1 {
			all = append(all, series[i].mean)
		}
	}
	if s.RPO > 0 {
		all = append(all, []float64{s.RPO.Seconds()})
	}
	yLo, yHi, ok := logRange(all...)
	if !ok {
		return nil, fmt.Errorf("no rule fires anywhere in %g..%g writes/s: nothing to draw", s.Lo, s.Hi)
	}

	if s.RPO > 0 {
		// A zone rather than a line: a curve sitting just under the RPO
		// must stay visible.
		zone := rpoZone{y: s.RPO.Seconds(), fill: colLoss, edge: lineStyle(colFault, 0.8, nil)}
		p.Add(zone)
		legend = append(legend, legendItem{fmt.Sprintf("misses the RPO (%s)", savepolicy.FormatDuration(s.RPO)), []plot.Thumbnailer{boxThumb{fill: colLoss}}})
	}
	single := len(s.Curves) == 1
	for i, c := range s.Curves {
		sr := series[i]
		type line struct {
			ys    []float64
			style draw.LineStyle
			label string
		}
		var lines []line
		if single {
			lines = []line{
				{sr.worst, lineStyle(colPredict, 2, nil), "worst-case window (since the snapshot)"},
				{sr.mean, lineStyle(colPredict, 1.2, []vg.Length{vg.Points(6), vg.Points(3)}), "expected window (fault uniform in time)"},
				{sr.oldest, lineStyle(colourAt(1), 1.4, []vg.Length{vg.Points(2), vg.Points(2)}), "oldest write a crash loses (worst)"},
			}
		} else {
			// Comparing rule sets: the oldest lost write is what an RPO
			// limits, so it is the solid line.
			col := colourAt(i)
			lines = []line{{sr.oldest, lineStyle(col, 2.2, nil), c.Label + ": oldest write a crash loses"}}
			if differ(sr.oldest, sr.worst, 0.02) {
				lines = append(lines, line{sr.worst, lineStyle(col, 1, []vg.Length{vg.Points(5), vg.Points(3)}), c.Label + ": window since the snapshot"})
			}
		}
		for _, l := range lines {
			segs := splitJumps(segments(sr.rates, l.ys, func(int) bool { return true }))
			if err := addSegments(p, segs, l.style); err != nil {
				return nil, err
			}
			legend = append(legend, legendItem{l.label, []plot.Thumbnailer{lineThumb(l.style)}})
		}
		if !single {
			notes = append(notes, fmt.Sprintf("%s: save %q, BGSAVE %.1f s", c.Label, c.Rules, c.BGSave.Seconds()))
			continue
		}
		labels, err := sawtoothRuleLabels(sr, c.Rules)
		if err != nil {
			return nil, err
		}
		if labels != nil {
			p.Add(labels)
		}
		var ths []float64
		var names []string
		for _, t := range savepolicy.Thresholds(c.Rules) {
			if t.Rate > s.Lo && t.Rate < s.Hi {
				ths = append(ths, t.Rate)
				names = append(names, savepolicy.FormatRate(t.Rate))
			}
		}
		if len(ths) > 0 {
			sty := lineStyle(colMax, 0.8, []vg.Length{vg.Points(1), vg.Points(3)})
			p.Add(vline{xs: ths, style: sty})
			legend = append(legend, legendItem{"thresholds (BGSAVE shifts them a little): " + strings.Join(names, ", "), []plot.Thumbnailer{lineThumb(sty)}})
		}
		note := fmt.Sprintf("save %q, BGSAVE %.1f s", c.Rules, c.BGSave.Seconds())
		if c.Label != "" {
			note = c.Label + ": " + note
		}
		notes = append(notes, note)
	}
	useLogX(p, s.Lo, s.Hi)
	useLogY(p, yLo, yHi)
	f := &figure{height: 5.5 * vg.Inch, panels: []panel{{p, 1}}, legend: legend, notes: notes}
	return f.render()
}

// differ reports whether a and b part by more than the relative tolerance
// anywhere (a line drawn exactly under another would hide in the legend).
func differ(a, b []float64, tol float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol*math.Max(math.Abs(a[i]), math.Abs(b[i])) {
			return true
		}
	}
	return false
}

// rpoZone shades everything above y: the windows that miss the RPO.
type rpoZone struct {
	y    float64
	fill color.Color
	edge draw.LineStyle
}

func (z rpoZone) Plot(c draw.Canvas, p *plot.Plot) {
	if z.y > p.Y.Max {
		return
	}
	_, trY := p.Transforms(&c)
	y := c.Min.Y
	if z.y >= p.Y.Min {
		y = trY(z.y)
	}
	c.SetColor(z.fill)
	c.Fill(vg.Rectangle{Min: vg.Point{X: c.Min.X, Y: y}, Max: c.Max}.Path())
	c.StrokeLine2(z.edge, c.Min.X, y, c.Max.X, y)
}

// splitJumps breaks a segment where the curve jumps by more than half
// between neighbouring rates (a regime change, not a slope), so the line
// does not draw a connector through values the model never takes.
func splitJumps(segs []plotter.XYs) []plotter.XYs {
	var out []plotter.XYs
	for _, seg := range segs {
		start := 0
		for i := 1; i < len(seg); i++ {
			a, b := seg[i-1].Y, seg[i].Y
			if math.Max(a, b) > 1.5*math.Min(a, b) {
				out = append(out, seg[start:i])
				start = i
			}
		}
		out = append(out, seg[start:])
	}
	return out
}

// sawtoothRuleLabels names the rule that fires along each stretch of the
// worst-case curve.
func sawtoothRuleLabels(sr sawtoothSeries, rules savepolicy.Rules) (*plotter.Labels, error) {
	var curve []curvePoint
	for i, r := range sr.rates {
		if sr.rule[i] >= 0 {
			curve = append(curve, curvePoint{rate: r, window: sr.worst[i], rule: sr.rule[i]})
		}
	}
	if len(curve) == 0 {
		return nil, nil
	}
	return ruleLabels(curve, rules, rules, 1)
}
