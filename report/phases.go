package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// phaseDef is one stretch of the recovery timeline, between two steps.
type phaseDef struct {
	name, to, meaning string
	colour            color.Color
}

// phaseDefs run from the fault, each ending at a step of DESIGN.md's
// recovery timeline.
var phaseDefs = []phaseDef{
	{"stop", "old_gone", "fault to old process gone (final save on a stop)", rgb(0xd6, 0x27, 0x28)},
	{"restart", "new_started", "old gone to replacement started", rgb(0x94, 0x67, 0xbd)},
	{"accept", "port_accepts", "started to port accepting", rgb(0x8c, 0x56, 0x4b)},
	{"load", "ready", "port accepting to first non-LOADING reply (RDB load)", rgb(0xff, 0x7f, 0x0e)},
	{"first serve", "serving", "ready to first read of a surviving key", rgb(0x2c, 0xa0, 0x2c)},
}

// recoveryPhases splits fault..serving into phaseDefs. A missing step gives
// its phase 0 and the next phase starts from the last step seen; missing
// names them. ok is false without a fault.
func recoveryPhases(t *result.Trial) (durs []float64, missing []string, ok bool) {
	cur, ok := faultAt(t)
	if !ok {
		return nil, nil, false
	}
	durs = make([]float64, len(phaseDefs))
	for i, ph := range phaseDefs {
		at, found := stepAt(t, ph.to)
		if !found || at < cur {
			missing = append(missing, ph.to)
			continue
		}
		durs[i] = at - cur
		cur = at
	}
	return durs, missing, true
}

// phasesChart draws each trial's recovery as a horizontal stacked bar.
func phasesChart(run *result.Run) ([]byte, bool, error) {
	n := len(run.Trials)
	if n == 0 {
		return nil, false, nil
	}
	p := newPlot("Recovery phases per trial", "seconds since the fault", "")
	stacks := make([]plotter.Values, len(phaseDefs))
	for i := range stacks {
		stacks[i] = make(plotter.Values, n)
	}
	names := make([]string, n)
	totals := make(plotter.XYs, n)
	totalText := make([]string, n)
	maxTotal := 0.0
	anyPhase := false
	// Bars bottom to top in reverse so the first trial is at the top.
	for k := range run.Trials {
		t := &run.Trials[n-1-k]
		names[k] = trialLabel(t)
		if t.Verdict == "invalid" {
			names[k] += " (invalid)"
		}
		durs, missing, ok := recoveryPhases(t)
		total := 0.0
		for i, d := range durs {
			stacks[i][k] = d
			total += d
		}
		totals[k] = plotter.XY{X: total, Y: float64(k)}
		switch {
		case !ok:
			totalText[k] = "no fault recorded"
		case t.RTOS == nil && t.NeverServed:
			totalText[k] = fmt.Sprintf("%.2f s, never served (RTO unbounded)", total)
		case t.RTOS == nil:
			totalText[k] = fmt.Sprintf("%.2f s, RTO not measured", total)
		default:
			totalText[k] = fmt.Sprintf("RTO %.2f s", *t.RTOS)
		}
		if len(missing) > 0 && ok {
			totalText[k] += fmt.Sprintf(" (no %s step)", joinWords(missing))
		}
		if total > 0 {
			anyPhase = true
		}
		maxTotal = math.Max(maxTotal, total)
	}
	if !anyPhase {
		return nil, false, nil
	}
	barW := vg.Points(14)
	var legend []legendItem
	var below *plotter.BarChart
	for i, ph := range phaseDefs {
		bc, err := plotter.NewBarChart(stacks[i], barW)
		if err != nil {
			return nil, false, err
		}
		bc.Horizontal = true
		bc.Color = ph.colour
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		legend = append(legend, legendItem{ph.name + ": " + ph.meaning, []plot.Thumbnailer{boxThumb{ph.colour}}})
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: totals, Labels: totalText})
	if err != nil {
		return nil, false, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = vg.Points(9)
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	labels.Offset = vg.Point{X: vg.Points(5)}
	p.Add(labels)
	p.NominalY(names...)
	p.X.Min = 0
	// Room on the right for the longest total label.
	p.X.Max = math.Max(maxTotal*1.45, 0.1)
	f := &figure{height: vg.Length(1.7+0.38*float64(n)) * vg.Inch, panels: []panel{{p, 1}}, legend: legend}
	png, err := f.render()
	return png, err == nil, err
}

// trialLabel is the trial's label, naming the default RDB strategy too when
// the trial records a strategy or has a reader (its scenario weighs
// persistence); Label already names every other strategy.
func trialLabel(t *result.Trial) string {
	if strategyOf(t) == string(savepolicy.StrategyRDB) && (t.Persistence != "" || t.Reader != nil) {
		return t.Label() + " (" + strategyOf(t) + ")"
	}
	return t.Label()
}

func joinWords(ws []string) string {
	switch len(ws) {
	case 0:
		return ""
	case 1:
		return ws[0]
	}
	out := ws[0]
	for _, w := range ws[1 : len(ws)-1] {
		out += ", " + w
	}
	return out + " or " + ws[len(ws)-1]
}
