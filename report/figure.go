package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi of every PNG: plot.Save would give 96, too coarse for the small labels.
const dpi = 150

// figureWidth is the width of every chart: 1500 px at 150 DPI.
const figureWidth = 10 * vg.Inch

func init() {
	// The default is Liberation Serif; an unknown typeface would silently
	// fall back, so name one that gonum embeds.
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont // labels copy it at package init
}

// Colours used across charts, so a kind of thing looks the same everywhere.
var (
	colAcked     = rgb(0x1f, 0x77, 0xb4)
	colP50       = rgb(0x17, 0xbe, 0xcf)
	colP99       = rgb(0x1f, 0x4e, 0x9c)
	colMax       = rgb(0x7f, 0x7f, 0x7f)
	colFault     = rgb(0xd6, 0x27, 0x28)
	colStep      = rgb(0x44, 0x44, 0x44)
	colOutage    = color.NRGBA{0x70, 0x70, 0x70, 0x40}
	colLoss      = color.NRGBA{0xd6, 0x27, 0x28, 0x30}
	colBracket   = color.NRGBA{0xd6, 0x27, 0x28, 0x90}
	colSaveOK    = rgb(0x2c, 0xa0, 0x2c)
	colSaveFail  = rgb(0xd6, 0x27, 0x28)
	colFinalSave = rgb(0x17, 0x7e, 0x89)
	colInvalid   = rgb(0xa0, 0xa0, 0xa0)
	colPredict   = rgb(0x55, 0x55, 0x55)

	// errorColours by kind; unknown kinds use colourAt.
	errorColours = map[string]color.Color{
		"loading": rgb(0xff, 0x7f, 0x0e),
		"refused": rgb(0xbc, 0xbd, 0x22),
		"misconf": rgb(0x94, 0x67, 0xbd),
		"timeout": rgb(0x8c, 0x56, 0x4b),
		"conn":    rgb(0xe3, 0x77, 0xc2),
		"other":   rgb(0x7f, 0x7f, 0x7f),
	}

	// palette for series without a fixed meaning (trials, scenarios).
	palette = []color.Color{
		rgb(0x1f, 0x77, 0xb4), rgb(0xff, 0x7f, 0x0e), rgb(0x2c, 0xa0, 0x2c), rgb(0xd6, 0x27, 0x28),
		rgb(0x94, 0x67, 0xbd), rgb(0x8c, 0x56, 0x4b), rgb(0xe3, 0x77, 0xc2), rgb(0x7f, 0x7f, 0x7f),
		rgb(0xbc, 0xbd, 0x22), rgb(0x17, 0xbe, 0xcf),
	}
	dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}}
)

func rgb(r, g, b uint8) color.Color { return color.NRGBA{r, g, b, 0xff} }

// colourAt and dashAt give the i-th series a distinct look: colours first,
// then dash patterns, so even 40 series stay apart.
func colourAt(i int) color.Color { return palette[i%len(palette)] }
func dashAt(i int) []vg.Length   { return dashes[(i/len(palette))%len(dashes)] }

func lineStyle(c color.Color, width float64, dash []vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(width), Dashes: dash}
}

// newPlot returns a plot with the house style: sans text, light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	p.Y.Tick.Label.Font.Size = vg.Points(10)
	p.X.Tick.Marker = niceTicks{n: 10}
	p.Y.Tick.Marker = niceTicks{n: 5}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{0xe0}
	grid.Horizontal.Color = color.Gray{0xe0}
	p.Add(grid)
	return p
}

// legendItem is one entry of the legend drawn below the panels, where it
// cannot hide data.
type legendItem struct {
	label  string
	thumbs []plot.Thumbnailer
}

// panel is one plot stacked in a figure; weight shares the height left after
// the legend.
type panel struct {
	p      *plot.Plot
	weight float64
}

// figure stacks panels that share an x axis (their data areas aligned) over
// a legend and an optional key of notes.
type figure struct {
	height vg.Length
	panels []panel
	legend []legendItem
	notes  []string // short items laid out in rows under the legend
}

var (
	legendText = text.Style{Color: color.Black, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(10)), Handler: plot.DefaultTextHandler}
	margin     = vg.Points(8)
	thumbW     = vg.Points(22)
	itemGap    = vg.Points(16)
)

// rows lays items of the given widths into rows no wider than w.
func rows(widths []vg.Length, w vg.Length) [][]int {
	var out [][]int
	var cur []int
	var used vg.Length
	for i, iw := range widths {
		if len(cur) > 0 && used+iw > w {
			out = append(out, cur)
			cur, used = nil, 0
		}
		cur = append(cur, i)
		used += iw + itemGap
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func (f *figure) legendLayout(w vg.Length) (legendRows, noteRows [][]int, lineH vg.Length) {
	lineH = legendText.Height("Mg") * 1.45
	lw := make([]vg.Length, len(f.legend))
	for i, it := range f.legend {
		lw[i] = thumbW + vg.Points(4) + legendText.Width(it.label)
	}
	nw := make([]vg.Length, len(f.notes))
	for i, n := range f.notes {
		nw[i] = legendText.Width(n)
	}
	return rows(lw, w), rows(nw, w), lineH
}

// render draws the figure as a PNG at 150 DPI, in memory: a failed render
// never leaves an empty file behind.
func (f *figure) render() ([]byte, error) {
	w, h := figureWidth, f.height
	inner := w - 2*margin
	legendRows, noteRows, lineH := f.legendLayout(inner)
	bottom := margin + lineH*vg.Length(len(legendRows)+len(noteRows))
	if len(legendRows)+len(noteRows) > 0 {
		bottom += vg.Points(6)
	}
	if h-bottom-margin < vg.Inch {
		return nil, fmt.Errorf("figure too small for its legend: %d legend rows in %.1f in", len(legendRows)+len(noteRows), float64(h/vg.Inch))
	}

	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	// Panels top to bottom, sharing the space above the legend.
	var total float64
	for _, pn := range f.panels {
		total += pn.weight
	}
	avail := h - bottom - margin
	top := h - margin
	canvases := make([]draw.Canvas, len(f.panels))
	for i, pn := range f.panels {
		ph := avail * vg.Length(pn.weight/total)
		canvases[i] = draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: margin, Y: top - ph},
			Max: vg.Point{X: w - margin, Y: top},
		}}
		top -= ph
	}
	alignX(f.panels, canvases)
	for i, pn := range f.panels {
		pn.p.Draw(canvases[i])
	}

	// Legend, then notes, left to right in rows.
	y := bottom - vg.Points(6) - lineH
	for _, row := range legendRows {
		x := margin
		for _, i := range row {
			it := f.legend[i]
			icon := &draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x, Y: y + lineH*0.15},
				Max: vg.Point{X: x + thumbW, Y: y + lineH*0.85},
			}}
			for _, t := range it.thumbs {
				t.Thumbnail(icon)
			}
			dc.FillText(legendText, vg.Point{X: x + thumbW + vg.Points(4), Y: y + lineH*0.25}, it.label)
			x += thumbW + vg.Points(4) + legendText.Width(it.label) + itemGap
		}
		y -= lineH
	}
	for _, row := range noteRows {
		x := margin
		for _, i := range row {
			dc.FillText(legendText, vg.Point{X: x, Y: y + lineH*0.25}, f.notes[i])
			x += legendText.Width(f.notes[i]) + itemGap
		}
		y -= lineH
	}

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// alignX narrows each panel's canvas so that all data areas share the same
// left and right edges, whatever the width of their y tick labels.
func alignX(panels []panel, cs []draw.Canvas) {
	var left, right vg.Length
	lefts := make([]vg.Length, len(panels))
	rights := make([]vg.Length, len(panels))
	for i, pn := range panels {
		da := pn.p.DataCanvas(cs[i])
		lefts[i] = da.Min.X - cs[i].Min.X
		rights[i] = cs[i].Max.X - da.Max.X
		left = vg.Length(math.Max(float64(left), float64(lefts[i])))
		right = vg.Length(math.Max(float64(right), float64(rights[i])))
	}
	for i := range panels {
		cs[i].Min.X += left - lefts[i]
		cs[i].Max.X -= right - rights[i]
	}
}

// lineThumb, boxThumb and glyphThumb draw legend thumbnails for things that
// are not plotters themselves (split series, spans).
type lineThumb draw.LineStyle

func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(draw.LineStyle(l), c.Min.X, y, c.Max.X, y)
}

type boxThumb struct{ fill color.Color }

func (b boxThumb) Thumbnail(c *draw.Canvas) {
	c.SetColor(b.fill)
	c.Fill(c.Rectangle.Path())
}

type glyphThumb draw.GlyphStyle

func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyphNoClip(draw.GlyphStyle(g), c.Center())
}

// segments splits a series into runs of points where keep is true, so a
// plotter.Line never bridges a gap (an outage, a bin with no data).
func segments(xs, ys []float64, keep func(i int) bool) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	for i := range xs {
		if !keep(i) || math.IsNaN(ys[i]) || math.IsInf(ys[i], 0) {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, plotter.XY{X: xs[i], Y: ys[i]})
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// addSegments draws each segment as a line; single points (a run of one
// bin) get a dot so they stay visible.
func addSegments(p *plot.Plot, segs []plotter.XYs, sty draw.LineStyle) error {
	for _, s := range segs {
		if len(s) == 1 {
			sc, err := plotter.NewScatter(s)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: sty.Width + vg.Points(0.8), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			continue
		}
		l, err := plotter.NewLine(s)
		if err != nil {
			return err
		}
		l.LineStyle = sty
		p.Add(l)
	}
	return nil
}

// span shades [From, To] of the x axis over the full height of the data
// area. It has no DataRange: the caller sets the axis range.
type span struct {
	from, to float64
	fill     color.Color
}

func (s span) Plot(c draw.Canvas, p *plot.Plot) {
	lo, hi := math.Max(s.from, p.X.Min), math.Min(s.to, p.X.Max)
	if hi <= lo {
		return
	}
	trX, _ := p.Transforms(&c)
	x0, x1 := trX(lo), trX(hi)
	if x1-x0 < vg.Points(1) { // keep an instant visible
		x1 = x0 + vg.Points(1)
	}
	c.SetColor(s.fill)
	c.Fill(vg.Rectangle{Min: vg.Point{X: x0, Y: c.Min.Y}, Max: vg.Point{X: x1, Y: c.Max.Y}}.Path())
}

// vline draws vertical lines at xs over the full data height.
type vline struct {
	xs    []float64
	style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, x := range v.xs {
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		px := trX(x)
		c.StrokeLine2(v.style, px, c.Min.Y, px, c.Max.Y)
	}
}

// hline draws a horizontal reference line (a timeout, a limit).
type hline struct {
	y     float64
	style draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	if h.y < p.Y.Min || h.y > p.Y.Max {
		return
	}
	_, trY := p.Transforms(&c)
	py := trY(h.y)
	c.StrokeLine2(h.style, c.Min.X, py, c.Max.X, py)
}

// logRange returns a log axis range around the positive values, or ok=false
// when there are none (a log axis must never see zero).
func logRange(vals ...[]float64) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, vs := range vals {
		for _, v := range vs {
			if v > 0 && !math.IsInf(v, 0) && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 0, false
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)))
	hi = math.Pow(10, math.Ceil(math.Log10(hi*1.05)))
	if hi <= lo {
		hi = lo * 10
	}
	return lo, hi, true
}

// useLogY switches p's y axis to a log scale over [lo, hi].
func useLogY(p *plot.Plot, lo, hi float64) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = decadeTicks{}
	p.Y.Min, p.Y.Max = lo, hi
}

func useLogX(p *plot.Plot, lo, hi float64) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = decadeTicks{}
	p.X.Min, p.X.Max = lo, hi
}

// decadeTicks labels every power of ten in range with minor ticks between:
// plot.LogTicks truncates the first decade and loses its label below 1.
type decadeTicks struct{}

func (decadeTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min) + 1e-9); e <= math.Ceil(math.Log10(max)-1e-9); e++ {
		base := math.Pow(10, e)
		for i := 1; i < 10; i++ {
			v := base * float64(i)
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 {
				t.Label = strconv.FormatFloat(v, 'f', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// niceTicks puts about n labelled ticks at 1, 2 or 5 times a power of ten,
// with unlabelled ticks between: gonum's default gives two or three.
type niceTicks struct{ n int }

func (t niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) {
		return []plot.Tick{{Value: min, Label: strconv.FormatFloat(min, 'g', 4, 64)}}
	}
	raw := (max - min) / float64(t.n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	minor := step / 2
	if step/mag == 2 {
		minor = step / 4
	}
	prec := int(math.Max(0, -math.Floor(math.Log10(step)+1e-9)))
	var ticks []plot.Tick
	for v := math.Ceil(min/minor-1e-9) * minor; v <= max+minor*1e-6; v += minor {
		if math.Abs(v) < minor*1e-6 {
			v = 0
		}
		tick := plot.Tick{Value: v}
		if r := math.Abs(math.Remainder(v, step)); r < step*1e-6 {
			tick.Label = strconv.FormatFloat(v, 'f', prec, 64)
		}
		ticks = append(ticks, tick)
	}
	return ticks
}
