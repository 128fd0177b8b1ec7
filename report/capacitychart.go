package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	envelope "github.com/trigpointing/valkey-chaos/capacity" // report.capacity is the sweep table
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// CapacityChart is the chart of `valkey-chaos capacity`: dataset size
// against write rate, each limit's boundary drawn, the region beyond the
// binding one shaded in its colour, measured trials on top.
type CapacityChart struct {
	Title          string
	Input          envelope.Input
	RateLo, RateHi float64 // writes/s, log scale
	Measured       []CapacityPoint
}

// CapacityPoint is one measured trial.
type CapacityPoint struct {
	DatasetBytes int64
	WritesPerS   float64
	Label        string // e.g. "fork-oom: OOM-killed"
	Failed       bool
}

// capacityPoints is how many rates each boundary is evaluated at.
const capacityPoints = 120

// limitColours gives each limit one colour across the chart.
var limitColours = map[string]color.Color{
	envelope.StopTimeoutLimit: rgb(0x1f, 0x77, 0xb4),
	envelope.HealthCheckLimit: rgb(0xff, 0x7f, 0x0e),
	envelope.MemoryLimit:      rgb(0xd6, 0x27, 0x28),
	envelope.BurstLimit:       rgb(0x94, 0x67, 0xbd),
}

func faded(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 0x38}
}

// WriteCapacityChart renders c to a PNG at path, atomically.
func WriteCapacityChart(path string, c CapacityChart) error {
	png, err := CapacityPNG(c)
	if err != nil {
		return fmt.Errorf("capacity chart %s: %w", path, err)
	}
	if err := result.WriteFileAtomic(path, png); err != nil {
		return fmt.Errorf("%w: cannot write the chart (%v): choose a writable --out", result.ErrBadInput, err)
	}
	return nil
}

// CapacityPNG draws the chart.
func CapacityPNG(c CapacityChart) ([]byte, error) {
	if !(c.RateLo > 0 && c.RateHi > c.RateLo) {
		return nil, fmt.Errorf("rate range %g..%g: need 0 < lo < hi", c.RateLo, c.RateHi)
	}
	rates := savepolicy.LogSpace(c.RateLo, c.RateHi, capacityPoints)
	bounds, err := envelope.Boundaries(c.Input, rates)
	if err != nil {
		return nil, err
	}
	names := []string{envelope.StopTimeoutLimit, envelope.HealthCheckLimit, envelope.MemoryLimit, envelope.BurstLimit}
	var all []float64
	for _, n := range names {
		for _, b := range bounds[n] {
			all = append(all, float64(b)/1e6)
		}
	}
	for _, m := range c.Measured {
		all = append(all, float64(m.DatasetBytes)/1e6)
	}
	yLo, yHi, ok := logRange(all)
	if !ok {
		return nil, fmt.Errorf("no limit binds between %g and %g writes/s: nothing to draw", c.RateLo, c.RateHi)
	}
	p := newPlot(c.Title, "write rate during saves (overwrites/s, log scale)", "dataset in memory (MB, log scale)")
	useLogX(p, c.RateLo, c.RateHi)
	useLogY(p, yLo, yHi)
	binding := bindingAt(bounds, names, len(rates))
	p.Add(capacityShade{rates: rates, bounds: bounds, binding: binding})
	var legend []legendItem
	for _, n := range names {
		b, present := bounds[n]
		if !present {
			continue
		}
		ys := make([]float64, len(b))
		for i, v := range b {
			ys[i] = float64(v) / 1e6
			if v < 0 {
				ys[i] = math.NaN() // no limit at this rate
			}
		}
		sty := lineStyle(limitColours[n], 2, nil)
		if err := addSegments(p, segments(rates, ys, func(int) bool { return true }), sty); err != nil {
			return nil, err
		}
		label := n + " limit"
		if contains(binding, n) {
			label += " (shaded where it binds)"
		}
		legend = append(legend, legendItem{label, []plot.Thumbnailer{boxThumb{fill: faded(limitColours[n])}, lineThumb(sty)}})
	}
	legend = append(legend, measuredPoints(p, c.Measured)...)
	legend = append(legend, workloadPoint(p, c.Input)...)
	f := figure{height: 6 * vg.Inch, panels: []panel{{p: p, weight: 1}}, legend: legend, notes: capacityNotes(c.Input)}
	return f.render()
}

// bindingAt names the limit with the smallest boundary at each rate ("" where none binds).
func bindingAt(bounds map[string][]int64, names []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		best := int64(-1)
		for _, name := range names {
			b, ok := bounds[name]
			if ok && b[i] >= 0 && (best < 0 || b[i] < best) {
				best, out[i] = b[i], name
			}
		}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func measuredPoints(p *plot.Plot, ms []CapacityPoint) []legendItem {
	var ok, failed plotter.XYs
	var labels plotter.XYLabels
	// Repetitions land on one spot: label it once, with how many more.
	at, more := map[string]int{}, map[int]int{}
	for _, m := range ms {
		xy := plotter.XY{X: m.WritesPerS, Y: float64(m.DatasetBytes) / 1e6}
		if xy.X < p.X.Min || xy.X > p.X.Max || xy.Y <= 0 {
			continue
		}
		if m.Failed {
			failed = append(failed, xy)
		} else {
			ok = append(ok, xy)
		}
		spot := fmt.Sprintf("%.2g|%.2g|%v", xy.X, xy.Y, m.Failed)
		if i, seen := at[spot]; seen {
			more[i]++
			continue
		}
		at[spot] = len(labels.Labels)
		labels.XYs = append(labels.XYs, xy)
		labels.Labels = append(labels.Labels, " "+m.Label)
	}
	for i, n := range more {
		labels.Labels[i] += fmt.Sprintf(" (+%d more)", n)
	}
	var legend []legendItem
	add := func(pts plotter.XYs, g draw.GlyphStyle, label string) {
		if len(pts) == 0 {
			return
		}
		sc, _ := plotter.NewScatter(pts)
		sc.GlyphStyle = g
		p.Add(sc)
		legend = append(legend, legendItem{label, []plot.Thumbnailer{glyphThumb(g)}})
	}
	add(ok, draw.GlyphStyle{Color: colSaveOK, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}, "measured trial: passed")
	add(failed, draw.GlyphStyle{Color: color.Black, Radius: vg.Points(5), Shape: draw.PyramidGlyph{}}, "measured trial: failed")
	if len(labels.XYs) > 0 {
		if l, err := plotter.NewLabels(labels); err == nil {
			p.Add(l)
		}
	}
	return legend
}

// workloadPoint marks the dataset and rate the limits were read at.
func workloadPoint(p *plot.Plot, in envelope.Input) []legendItem {
	xy := plotter.XY{X: in.WritesPerS, Y: float64(in.DatasetBytes) / 1e6}
	if xy.X < p.X.Min || xy.X > p.X.Max || xy.Y < p.Y.Min || xy.Y > p.Y.Max {
		return nil
	}
	sc, err := plotter.NewScatter(plotter.XYs{xy})
	if err != nil {
		return nil
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(6), Shape: draw.RingGlyph{}}
	p.Add(sc)
	label := fmt.Sprintf("the table's workload: %s at %s", savepolicy.FormatBytes(float64(in.DatasetBytes)), savepolicy.FormatRate(in.WritesPerS))
	return []legendItem{{label, []plot.Thumbnailer{glyphThumb(sc.GlyphStyle)}}}
}

func capacityNotes(in envelope.Input) []string {
	h := in.HealthCheck
	return []string{
		fmt.Sprintf("task: %d cpu, %d MiB memory, stop timeout %s", in.CPU, in.MemoryBytes>>20, savepolicy.FormatDuration(in.StopTimeout)),
		fmt.Sprintf("health check: max(startPeriod %s, LOADING grace %s) + %d x %s = %s of loading", savepolicy.FormatDuration(h.StartPeriod),
			savepolicy.FormatDuration(h.LoadingGrace), h.Retries, savepolicy.FormatDuration(h.Interval), savepolicy.FormatDuration(h.Budget())),
		fmt.Sprintf("storage: %s, saves at %.0f MiB/s%s", in.Storage.Mode, in.Storage.WriteMiBps(), burstNote(in)),
		"writes: overwrites " + orDefault(in.Dist, "uniform"),
	}
}

func burstNote(in envelope.Input) string {
	if in.Storage.Mode != savepolicy.Bursting {
		return ""
	}
	if in.BurstHorizon > 0 {
		return fmt.Sprintf(", burst credits to last %.0f days", in.BurstHorizon.Hours()/24)
	}
	return ", burst credits sustainable"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// capacityShade fills, at each rate, from the binding boundary to the top
// of the chart in that limit's faded colour: the sizes the task cannot hold.
type capacityShade struct {
	rates   []float64
	bounds  map[string][]int64
	binding []string
}

func (s capacityShade) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i := 0; i+1 < len(s.rates); i++ {
		name := s.binding[i]
		if name == "" {
			continue
		}
		y := float64(s.bounds[name][i]) / 1e6
		py := c.Min.Y
		if y > p.Y.Min {
			py = trY(math.Min(y, p.Y.Max))
		}
		x0, x1 := trX(s.rates[i]), trX(s.rates[i+1])
		c.SetColor(faded(limitColours[name]))
		c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: py}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
	}
}
