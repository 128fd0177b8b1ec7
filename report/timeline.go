package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
)

// stepAt returns the offset of the named step from trial start.
func stepAt(t *result.Trial, name string) (float64, bool) {
	for _, s := range t.Steps {
		if s.Name == name {
			return s.AtS, true
		}
	}
	return 0, false
}

// faultAt is the fault's offset from trial start: the "fault" step, else
// derived from the wall-clock fields.
func faultAt(t *result.Trial) (float64, bool) {
	if at, ok := stepAt(t, "fault"); ok {
		return at, true
	}
	if t.TFaultUnixMs > 0 && t.TrialStartUnixMs > 0 {
		return float64(t.TFaultUnixMs-t.TrialStartUnixMs) / 1000, true
	}
	return 0, false
}

// outage is [fault, serving]; open-ended (serving = +Inf) when no serving
// step was recorded (the cache never served again only when the judge
// says so: result.Trial.NeverServed).
func outage(t *result.Trial) (from, to float64, ok bool) {
	from, ok = faultAt(t)
	if !ok {
		return 0, 0, false
	}
	to, served := stepAt(t, "serving")
	if !served {
		to = math.Inf(1)
	}
	return from, to, true
}

// binCentres returns the x of each bin's middle.
func binCentres(s *result.Series, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = s.StartS + (float64(i)+0.5)*s.BinS
	}
	return xs
}

// timelineEnd is the last instant the trial recorded anything.
func timelineEnd(t *result.Trial) float64 {
	end := 0.0
	if s := t.Series; s != nil {
		end = s.StartS + float64(len(s.AckedPS))*s.BinS
	}
	for _, st := range t.Steps {
		end = math.Max(end, st.AtS)
	}
	for _, sv := range t.Saves {
		end = math.Max(end, math.Max(sv.StartS, sv.EndS))
	}
	if end <= 0 {
		end = 1
	}
	return end
}

// errorKinds lists the error kinds with at least one error, sorted.
func errorKinds(s *result.Series) []string {
	if s == nil {
		return nil
	}
	var kinds []string
	for k, vs := range s.ErrorsPS {
		for _, v := range vs {
			if v > 0 {
				kinds = append(kinds, k)
				break
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}

func errorColour(kind string, i int) color.Color {
	if c, ok := errorColours[kind]; ok {
		return c
	}
	return colourAt(i + 3)
}

// timelineChart draws one trial: writes and errors per second, saves, the
// recovery steps, the loss window and the outage on top; p99 latency below.
func timelineChart(run *result.Run, t *result.Trial) ([]byte, error) {
	xMax := timelineEnd(t)
	top := newPlot(trialTitle(run, t), "", "ops/s by intended send time")
	bottom := newPlot("", "time since trial start (s)", "p99 latency (ms)")
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = 0, xMax*1.01
	}

	var legend []legendItem
	ofrom, oto, hasOutage := outage(t)
	never := hasOutage && math.IsInf(oto, 1)

	// Shading underneath everything else.
	if tf, ok := faultAt(t); ok && t.LossWindowS != nil && t.Lost > 0 {
		w := t.LossWindowS
		top.Add(span{tf - w.Estimate, tf, colLoss})
		top.Add(span{tf - w.High, tf - w.Low, colBracket})
		legend = append(legend,
			legendItem{fmt.Sprintf("loss window %.2f s (writes after the snapshot)", w.Estimate), []plot.Thumbnailer{boxThumb{colLoss}}},
			legendItem{fmt.Sprintf("snapshot instant bracket [%.2f, %.2f] s before fault", w.Low, w.High), []plot.Thumbnailer{boxThumb{colBracket}}})
	}
	if hasOutage {
		for _, p := range []*plot.Plot{top, bottom} {
			p.Add(span{ofrom, oto, colOutage})
		}
		label := fmt.Sprintf("outage: fault to serving, %.2f s", oto-ofrom)
		switch {
		case never && t.NeverServed:
			label = "outage: fault onwards, never served again"
		case never:
			label = "outage: fault onwards, no serving observed"
		}
		legend = append(legend, legendItem{label, []plot.Thumbnailer{boxThumb{colOutage}}})
	}

	// Writes and errors per second, split at the outage and at empty bins;
	// at low rates bins are averaged within each piece, never across a gap.
	yMax := 1.0
	if s := t.Series; s != nil && len(s.AckedPS) > 0 {
		k := displayFactor(s, t.RatePerS)
		inOutage := outageBins(t)
		ackSty := lineStyle(colAcked, 1.6, nil)
		acked := ackedSegments(t)
		if err := addSegments(top, acked, ackSty); err != nil {
			return nil, err
		}
		label := "acknowledged writes/s, by intended send time (late acks: latency below)"
		if k > 1 {
			label += fmt.Sprintf(" (averaged over %.3g s)", s.BinS*float64(k))
		}
		legend = append(legend, legendItem{label, []plot.Thumbnailer{lineThumb(ackSty)}})
		yMax = math.Max(yMax, maxY(acked))
		for i, kind := range errorKinds(s) {
			vs := s.ErrorsPS[kind]
			sty := lineStyle(errorColour(kind, i), 1.3, nil)
			// Averaged bins span the whole outage so errors and writes share a scale.
			keep := func(i int) bool { return vs[i] > 0 || (k > 1 && inOutage(i)) }
			segs := rebinSegments(segments(binCentres(s, len(vs)), vs, keep), k)
			if err := addSegments(top, segs, sty); err != nil {
				return nil, err
			}
			legend = append(legend, legendItem{"errors/s: " + kind, []plot.Thumbnailer{lineThumb(sty)}})
			yMax = math.Max(yMax, maxY(segs))
		}
	}
	// Headroom above the data for the step badges and the save lane.
	top.Y.Min, top.Y.Max = 0, yMax*1.35

	// Saves as bars in a lane near the top.
	if len(t.Saves) > 0 {
		unfinishedEnd := xMax
		if gone, ok := stepAt(t, "old_gone"); ok {
			unfinishedEnd = gone
		}
		top.Add(saveLane{saves: t.Saves, end: unfinishedEnd})
		var bg, final, failed bool
		for _, sv := range t.Saves {
			switch {
			case !sv.OK:
				failed = true
			case sv.Trigger == "shutdown":
				final = true
			default:
				bg = true
			}
		}
		if bg {
			legend = append(legend, legendItem{"snapshot (BGSAVE, start to end)", []plot.Thumbnailer{boxThumb{colSaveOK}}})
		}
		if final {
			legend = append(legend, legendItem{"final save on shutdown", []plot.Thumbnailer{boxThumb{colFinalSave}}})
		}
		if failed {
			legend = append(legend, legendItem{"failed or unfinished save", []plot.Thumbnailer{boxThumb{colSaveFail}}})
		}
	}

	// Latency p99 from the intended send time, log scale, gaps where a bin had no acks.
	var latNote string
	if s := t.Series; s != nil && len(s.LatP99Ms) > 0 {
		if lo, hi, ok := logRange(s.LatP99Ms); ok {
			useLogY(bottom, lo, hi)
			sty := lineStyle(colP99, 1.4, nil)
			if err := addSegments(bottom, segments(binCentres(s, len(s.LatP99Ms)), s.LatP99Ms, func(i int) bool { return s.LatP99Ms[i] > 0 }), sty); err != nil {
				return nil, err
			}
			legend = append(legend, legendItem{"p99 latency from intended send time (ms)", []plot.Thumbnailer{lineThumb(sty)}})
		} else {
			latNote = "no latency samples"
		}
	} else {
		latNote = "no latency series recorded"
	}
	if latNote != "" {
		bottom.Y.Min, bottom.Y.Max = 0, 1
		bottom.Title.Text = latNote
	}

	// Recovery steps: numbered lines on both panels, named in the key below.
	steps := sortedSteps(t)
	var notes []string
	if len(steps) > 0 {
		top.Add(stepMarks{steps: steps, badges: true})
		bottom.Add(stepMarks{steps: steps})
		legend = append(legend,
			legendItem{"fault", []plot.Thumbnailer{lineThumb(lineStyle(colFault, 1.4, nil))}},
			legendItem{"recovery step (numbered below)", []plot.Thumbnailer{lineThumb(lineStyle(colStep, 1, []vg.Length{vg.Points(4), vg.Points(2)}))}})
		notes = stepKey(t, steps)
	}

	f := &figure{
		height: 7 * vg.Inch,
		panels: []panel{{top, 0.62}, {bottom, 0.38}},
		legend: legend,
		notes:  notes,
	}
	return f.render()
}

// outageBins reports whether series bin i overlaps the outage.
func outageBins(t *result.Trial) func(i int) bool {
	s := t.Series
	from, to, ok := outage(t)
	return func(i int) bool {
		lo, hi := s.StartS+float64(i)*s.BinS, s.StartS+float64(i+1)*s.BinS
		return ok && hi > from && lo < to
	}
}

// ackedSegments is the acknowledged-writes line as drawn: split wherever a
// bin in the outage had no acknowledged write, so the outage is a gap and
// never a bridge, then averaged within each piece at low rates.
func ackedSegments(t *result.Trial) []plotter.XYs {
	s := t.Series
	inOutage := outageBins(t)
	keep := func(i int) bool { return !(inOutage(i) && s.AckedPS[i] == 0) }
	return rebinSegments(segments(binCentres(s, len(s.AckedPS)), s.AckedPS, keep), displayFactor(s, t.RatePerS))
}

// displayFactor groups series bins so that one drawn bin holds about five
// writes at the target rate, keeping at least a dozen bins: at 1 write/s,
// 250 ms bins would draw a comb of 0 and 4 writes/s.
func displayFactor(s *result.Series, rate float64) int {
	if rate <= 0 || s.BinS <= 0 {
		return 1
	}
	k := int(math.Ceil(5 / (rate * s.BinS)))
	if limit := len(s.AckedPS) / 12; k > limit {
		k = limit
	}
	return max(k, 1)
}

// rebinSegments averages groups of k points within each segment (the last
// group over the points it has), at the mean x of the group.
func rebinSegments(segs []plotter.XYs, k int) []plotter.XYs {
	if k <= 1 {
		return segs
	}
	out := make([]plotter.XYs, 0, len(segs))
	for _, seg := range segs {
		var r plotter.XYs
		for i := 0; i < len(seg); i += k {
			j := min(i+k, len(seg))
			var sx, sy float64
			for _, p := range seg[i:j] {
				sx += p.X
				sy += p.Y
			}
			n := float64(j - i)
			r = append(r, plotter.XY{X: sx / n, Y: sy / n})
		}
		out = append(out, r)
	}
	return out
}

func maxY(segs []plotter.XYs) float64 {
	m := 0.0
	for _, seg := range segs {
		for _, p := range seg {
			m = math.Max(m, p.Y)
		}
	}
	return m
}

func maxOf(vs []float64) float64 {
	m := 0.0
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			m = math.Max(m, v)
		}
	}
	return m
}

func sortedSteps(t *result.Trial) []result.Step {
	steps := append([]result.Step(nil), t.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].AtS < steps[j].AtS })
	return steps
}

// stepKey names every numbered step with its time: absolute for the fault,
// relative to it after.
func stepKey(t *result.Trial, steps []result.Step) []string {
	tf, hasFault := faultAt(t)
	out := make([]string, len(steps))
	for i, s := range steps {
		switch {
		case s.Name == "fault" || !hasFault:
			out[i] = fmt.Sprintf("%d %s at %.3f s", i+1, s.Name, s.AtS)
		default:
			out[i] = fmt.Sprintf("%d %s +%.3f s", i+1, s.Name, s.AtS-tf)
		}
	}
	return out
}

func trialTitle(run *result.Run, t *result.Trial) string {
	title := fmt.Sprintf("%s: %s", t.Scenario, t.Fault)
	if t.Rule != "" {
		title += fmt.Sprintf(", rule \"%s\"", t.Rule)
	}
	title += fmt.Sprintf(", %s writes/s", fmtRate(t.RatePerS))
	if a := t.AchievedRatePerS; a > 0 && math.Abs(a-t.RatePerS) > 0.05*t.RatePerS {
		title += fmt.Sprintf(" (achieved %s)", fmtRate(a))
	}
	if run.Target.TimeScale > 0 && run.Target.TimeScale != 1 {
		title += fmt.Sprintf(" (time scale %g)", run.Target.TimeScale)
	}
	if t.Index > 0 {
		title += fmt.Sprintf(", repetition %d", t.Index+1)
	}
	return title
}

// saveLane draws each save as a bar in a strip just below the step badges.
type saveLane struct {
	saves []result.Save
	end   float64
}

func (l saveLane) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	h := c.Max.Y - c.Min.Y
	y1 := c.Max.Y - h*0.14
	y0 := y1 - h*0.045
	for _, sv := range l.saves {
		end := sv.EndS
		if end <= sv.StartS {
			end = l.end // never finished: cut short by the fault's process exit
		}
		lo, hi := math.Max(sv.StartS, p.X.Min), math.Min(end, p.X.Max)
		if hi < lo {
			continue
		}
		x0, x1 := trX(lo), trX(hi)
		if x1-x0 < vg.Points(2) {
			x1 = x0 + vg.Points(2)
		}
		col := colSaveOK
		switch {
		case !sv.OK:
			col = colSaveFail
		case sv.Trigger == "shutdown":
			col = colFinalSave
		}
		c.SetColor(col)
		c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: y0}, Max: vg.Point{X: x1, Y: y1}}.Path())
	}
}

// stepMarks draws the recovery steps as vertical lines; with badges, numbered
// boxes at the top, pushed right when steps are closer than a badge width so
// no two numbers overlap, each tied to its line by a short leader.
type stepMarks struct {
	steps  []result.Step
	badges bool
}

var badgeText = legendText

func (m stepMarks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	faultSty := lineStyle(colFault, 1.4, nil)
	stepSty := lineStyle(colStep, 0.8, []vg.Length{vg.Points(4), vg.Points(2)})
	for _, s := range m.steps {
		if s.AtS < p.X.Min || s.AtS > p.X.Max {
			continue
		}
		x := trX(s.AtS)
		sty := stepSty
		if s.Name == "fault" {
			sty = faultSty
		}
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
	}
	if !m.badges {
		return
	}
	h := badgeText.Height("0") + vg.Points(4)
	yTop := c.Max.Y - vg.Points(2)
	next := c.Min.X
	for i, s := range m.steps {
		if s.AtS < p.X.Min || s.AtS > p.X.Max {
			continue
		}
		label := fmt.Sprint(i + 1)
		w := badgeText.Width(label) + vg.Points(6)
		x := trX(s.AtS)
		bx := vg.Length(math.Max(float64(x-w/2), float64(next)))
		if bx+w > c.Max.X {
			bx = c.Max.X - w
		}
		next = bx + w + vg.Points(2)
		box := vg.Rectangle{Min: vg.Point{X: bx, Y: yTop - h}, Max: vg.Point{X: bx + w, Y: yTop}}
		c.SetColor(color.White)
		c.Fill(box.Path())
		edge := colStep
		if s.Name == "fault" {
			edge = colFault
		}
		c.StrokeLines(lineStyle(edge, 0.8, nil), []vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}, box.Min})
		c.FillText(badgeText, vg.Point{X: bx + vg.Points(3), Y: yTop - h + vg.Points(2.5)}, label)
		if cx := bx + w/2; math.Abs(float64(cx-x)) > float64(vg.Points(1)) {
			c.StrokeLine2(lineStyle(edge, 0.6, nil), cx, yTop-h, x, yTop-h-vg.Points(6))
		}
	}
}

// fmtRate prints a write rate compactly: 0.89, 105, 12000.
func fmtRate(r float64) string {
	switch {
	case r == 0:
		return "0"
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.3g", r)
}

var _ plot.Plotter = span{}
var _ plot.Plotter = vline{}
var _ plot.Plotter = hline{}
var _ plot.Plotter = saveLane{}
var _ plot.Plotter = stepMarks{}
