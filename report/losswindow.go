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
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// typicalBGSave is the median duration of the background saves the trials
// measured: the model's d.
func typicalBGSave(run *result.Run) float64 {
	var ds []float64
	for _, t := range run.Trials {
		if t.BGSaveS > 0 {
			ds = append(ds, t.BGSaveS)
		}
	}
	if len(ds) == 0 {
		return 0
	}
	sort.Float64s(ds)
	return ds[len(ds)/2]
}

// curvePoint is the predicted worst-case window at one rate, with the index
// of the rule that fires there.
type curvePoint struct {
	rate, window float64
	rule         int
}

// predictedCurve evaluates the save rules over log-spaced rates (and both
// sides of every threshold) with the sawtooth chart's evaluator, which
// applies savepolicy.Predict: the same model the runner uses per trial.
func predictedCurve(rules savepolicy.Rules, lo, hi, bgsave float64) []curvePoint {
	s := evalCurve(SawtoothCurve{Rules: rules, BGSave: seconds(bgsave)}, lo, hi)
	var out []curvePoint
	for i, r := range s.rates {
		if math.IsNaN(s.worst[i]) || s.rule[i] < 0 {
			continue
		}
		out = append(out, curvePoint{rate: r, window: s.worst[i], rule: s.rule[i]})
	}
	return out
}

// windowPoints are measured loss windows: the estimate with the bracket as
// asymmetric error bars.
type windowPoints []struct{ x, y, lo, hi float64 }

func (w windowPoints) Len() int                        { return len(w) }
func (w windowPoints) XY(i int) (float64, float64)     { return w[i].x, w[i].y }
func (w windowPoints) YError(i int) (float64, float64) { return w[i].y - w[i].lo, w[i].hi - w[i].y }

// windowGroup is how a trial's point on the loss-window chart may be read.
type windowGroup int

const (
	groupCrash        windowGroup = iota // crash and other faults: held to the rules' window
	groupGracefulLoss                    // a graceful stop (stop, rolling deploy) that lost writes
	groupNoLoss                          // nothing lost, plotted at 0
	groupInvalid                         // says nothing about Valkey
)

func windowGroupOf(t *result.Trial) windowGroup {
	switch {
	case t.Verdict == result.Invalid:
		return groupInvalid
	case t.Lost == 0:
		return groupNoLoss
	case graceful(t):
		return groupGracefulLoss
	}
	return groupCrash
}

// lossWindowChart plots every trial's measured loss window against its write
// rate over the sawtooth the save rules predict. ok is false when no trial
// has a rate to place.
func lossWindowChart(run *result.Run) (png []byte, ok bool, err error) {
	var rates []float64
	for _, t := range run.Trials {
		if t.RatePerS > 0 {
			rates = append(rates, t.RatePerS)
		}
	}
	if len(rates) == 0 {
		return nil, false, nil
	}
	sort.Float64s(rates)
	lo := math.Pow(10, math.Floor(math.Log10(rates[0]/3)))
	hi := math.Pow(10, math.Ceil(math.Log10(rates[len(rates)-1]*3)))
	scale := run.Target.TimeScale
	if scale <= 0 {
		scale = 1
	}
	p := newPlot("Loss window against write rate: measured trials over the save rules' prediction",
		fmt.Sprintf("write rate (writes/s%s, log scale)", atScale(scale)),
		fmt.Sprintf("loss window (s%s)", atScale(scale)))
	var legend []legendItem
	yMax := 1.0

	bgsave := typicalBGSave(run)
	rules, perr := savepolicy.Parse(run.Target.Save)
	realRules, _ := savepolicy.Parse(run.Target.SaveReal)
	var notes []string
	if perr == nil && len(rules) > 0 {
		curve := predictedCurve(rules, lo, hi, bgsave)
		xys := make(plotter.XYs, len(curve))
		for i, c := range curve {
			xys[i] = plotter.XY{X: c.rate, Y: c.window}
			yMax = math.Max(yMax, c.window)
		}
		if len(xys) > 1 {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, false, err
			}
			l.LineStyle = lineStyle(colPredict, 1.5, nil)
			p.Add(l)
			legend = append(legend, legendItem{fmt.Sprintf("predicted worst case, rules \"%s\", BGSAVE %.2f s", rules, bgsave), []plot.Thumbnailer{lineThumb(l.LineStyle)}})
			labels, err := ruleLabels(curve, rules, realRules, scale)
			if err != nil {
				return nil, false, err
			}
			p.Add(labels)
		}
	} else {
		notes = append(notes, fmt.Sprintf("no prediction: save rules %q could not be read", run.Target.Save))
	}

	// Measured trials, grouped by how they may be read.
	var crash, stopLoss, noLoss, invalid windowPoints
	for _, t := range run.Trials {
		if t.RatePerS <= 0 || !readBack(&t) {
			continue // never recovered or never read back: no window to plot
		}
		pt := struct{ x, y, lo, hi float64 }{x: t.RatePerS}
		if w := t.LossWindowS; w != nil && t.Lost > 0 {
			pt.y, pt.lo, pt.hi = w.Estimate, math.Min(w.Low, w.Estimate), math.Max(w.High, w.Estimate)
		}
		yMax = math.Max(yMax, pt.hi)
		switch windowGroupOf(&t) {
		case groupInvalid:
			invalid = append(invalid, pt)
		case groupNoLoss:
			noLoss = append(noLoss, pt)
		case groupGracefulLoss:
			stopLoss = append(stopLoss, pt)
		default:
			crash = append(crash, pt)
		}
	}
	groups := []struct {
		pts   windowPoints
		label string
		glyph draw.GlyphStyle
	}{
		{crash, "measured (crash and other faults): estimate, bracket as error bar", draw.GlyphStyle{Color: colFault, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}},
		{stopLoss, "measured graceful stop that lost writes", draw.GlyphStyle{Color: errorColours["loading"], Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}},
		{noLoss, "nothing lost (plotted at 0)", draw.GlyphStyle{Color: colSaveOK, Radius: vg.Points(4), Shape: draw.RingGlyph{}}},
		{invalid, invalidLabel, draw.GlyphStyle{Color: colInvalid, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}},
	}
	for _, g := range groups {
		if len(g.pts) == 0 {
			continue
		}
		var bars windowPoints
		for _, pt := range g.pts {
			if pt.hi > pt.lo && g.label != invalidLabel {
				bars = append(bars, pt)
			}
		}
		if len(bars) > 0 {
			eb, err := plotter.NewYErrorBars(bars)
			if err != nil {
				return nil, false, err
			}
			eb.LineStyle = lineStyle(g.glyph.Color, 1.2, nil)
			p.Add(eb)
		}
		sc, err := plotter.NewScatter(g.pts)
		if err != nil {
			return nil, false, err
		}
		sc.GlyphStyle = g.glyph
		p.Add(sc)
		legend = append(legend, legendItem{fmt.Sprintf("%s (%d)", g.label, len(g.pts)), []plot.Thumbnailer{glyphThumb(g.glyph)}})
	}

	useLogX(p, lo, hi)
	p.Y.Min, p.Y.Max = 0, yMax*1.15
	f := &figure{height: 5.5 * vg.Inch, panels: []panel{{p, 1}}, legend: legend, notes: notes}
	png, err = f.render()
	return png, err == nil, err
}

// ruleLabels names the rule that fires along each stretch of the curve, at
// the stretch's geometric middle, with the real-time rule it stands for.
func ruleLabels(curve []curvePoint, rules, realRules savepolicy.Rules, scale float64) (*plotter.Labels, error) {
	var xys plotter.XYs
	var texts []string
	for i := 0; i < len(curve); {
		j := i
		for j < len(curve) && curve[j].rule == curve[i].rule {
			j++
		}
		// Anchor at the start of the stretch's longest flat run,
		// left-aligned so the text runs along the line.
		mid, best := curve[i], 0
		for a := i; a < j; {
			b := a + 1
			for b < j && math.Abs(curve[b].window-curve[a].window) <= 1e-3*curve[a].window {
				b++
			}
			if b-a > best {
				mid, best = curve[a], b-a
			}
			a = b
		}
		text := fmt.Sprintf("rule \"%s\"", rules[mid.rule])
		if scale != 1 && mid.rule < len(realRules) {
			text = fmt.Sprintf("rule \"%s\" (real \"%s\")", rules[mid.rule], realRules[mid.rule])
		}
		xys = append(xys, plotter.XY{X: mid.rate, Y: mid.window})
		texts = append(texts, text)
		i = j
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].Font.Size = vg.Points(9)
		l.TextStyle[i].XAlign = draw.XLeft
		l.TextStyle[i].Color = colPredict
	}
	l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(5)}
	return l, nil
}

const invalidLabel = "invalid trial: not evidence"

func atScale(scale float64) string {
	if scale == 1 {
		return ""
	}
	return fmt.Sprintf(" at time scale %g", scale)
}
