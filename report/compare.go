package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/trigpointing/valkey-chaos/result"
)

// LoadedRun is a run with the directory it was read from.
type LoadedRun struct {
	Dir string
	Run *result.Run
}

// LoadRuns reads runs in the order given. Each argument may be a run
// directory, a result.json, a directory holding run directories (taken in
// start order), or a glob of any of these.
func LoadRuns(args []string) ([]LoadedRun, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no run directories given: pass results/<run-id> ...", result.ErrBadInput)
	}
	var out []LoadedRun
	for _, arg := range args {
		paths := []string{arg}
		if strings.ContainsAny(arg, "*?[") {
			m, err := filepath.Glob(arg)
			if err != nil {
				return nil, fmt.Errorf("%w: pattern %q: %w", result.ErrBadInput, arg, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("%w: %q matches nothing: pass run directories made by 'valkey-chaos run'", result.ErrBadInput, arg)
			}
			paths = m
		}
		for _, p := range paths {
			runs, err := loadPath(p)
			if err != nil {
				return nil, err
			}
			out = append(out, runs...)
		}
	}
	return out, nil
}

func loadPath(p string) ([]LoadedRun, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s not found: pass a run directory made by 'valkey-chaos run' (results/<run-id>)", result.ErrBadInput, p)
		}
		return nil, fmt.Errorf("%w: %w", result.ErrBadInput, err)
	}
	if !st.IsDir() || fileExists(filepath.Join(p, result.FileName)) {
		run, err := result.Load(p)
		if err != nil {
			return nil, err
		}
		dir := p
		if !st.IsDir() {
			dir = filepath.Dir(p)
		}
		return []LoadedRun{{Dir: dir, Run: run}}, nil
	}
	// A directory of runs, such as results/.
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", result.ErrBadInput, p, err)
	}
	var out []LoadedRun
	for _, e := range entries {
		sub := filepath.Join(p, e.Name())
		if !e.IsDir() || !fileExists(filepath.Join(sub, result.FileName)) {
			continue
		}
		run, err := result.Load(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, LoadedRun{Dir: sub, Run: run})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s holds no runs (no %s in it or its subdirectories)", result.ErrBadInput, p, result.FileName)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Run, out[j].Run
		if a.StartedUnixMs != b.StartedUnixMs {
			return a.StartedUnixMs < b.StartedUnixMs
		}
		return a.RunID < b.RunID
	})
	return out, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ParseTolerance reads "10%" or "0.1" as the fraction 0.1.
func ParseTolerance(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct := strings.HasSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(t, "%"), 64)
	if err == nil && pct {
		v /= 100
	}
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: --tolerance %q: give a percentage such as 10%% (or a fraction such as 0.1)", result.ErrBadInput, s)
	}
	return v, nil
}

// compareMetric is one number compared across runs: larger is worse.
type compareMetric struct {
	name, unit string
	// floor is the least absolute change that counts, so noise in a tiny
	// value (a 40 ms warm-up) is not a regression.
	floor float64
	get   func(t *result.Trial) (float64, bool)
}

var compareMetrics = []compareMetric{
	{"loss_window", "s", 0.1, func(t *result.Trial) (float64, bool) {
		if !readBack(t) {
			return 0, false
		}
		if t.Lost == 0 {
			return 0, true
		}
		if t.LossWindowS == nil {
			return 0, false
		}
		return t.LossWindowS.Estimate, true
	}},
	{"rto", "s", 0.1, func(t *result.Trial) (float64, bool) { return derefOK(t.RTOS) }},
	{"warmup", "s", 0.1, func(t *result.Trial) (float64, bool) { return derefOK(t.WarmupS) }},
	{"final_save", "s", 0.1, func(t *result.Trial) (float64, bool) {
		if !graceful(t) {
			return 0, false
		}
		return derefOK(t.FinalSaveS)
	}},
	// Loss on a crash scales with the rate and is judged by the window; a
	// graceful stop (a stop or a rolling deployment) must lose nothing.
	{"lost_on_stop", "writes", 0, func(t *result.Trial) (float64, bool) {
		return float64(t.Lost), graceful(t)
	}},
	{"anomalies", "", 0, func(t *result.Trial) (float64, bool) { return float64(t.Anomalies), true }},
}

func derefOK(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// nullIsWorst names metrics whose null means "never happened" on a trial
// the judge found never served again (result.Trial.NeverServed): worse
// than any number. Any other null was not measured and is left out.
var nullIsWorst = map[string]bool{"rto": true, "warmup": true}

// cell is one metric of one scenario in one run.
type cell struct {
	present bool // the scenario ran (a valid trial) in this run
	known   bool // the metric had a value
	v       float64
}

// CompareRow is one metric of one scenario across the runs.
type CompareRow struct {
	Key    string // "thresholds crash 300 10"
	Metric string
	Unit   string
	cells  []cell
	// Values are the formatted cells; Regressed marks cells worse than the
	// baseline beyond the tolerance.
	Values    []string
	Regressed []bool
}

// Regression is a later run worse than the baseline for one scenario and
// metric.
type Regression struct {
	Key, Metric, RunID, Baseline, Value, Change string
}

func (r Regression) String() string {
	return fmt.Sprintf("%s: %s %s -> %s (%s) in run %s", r.Key, r.Metric, r.Baseline, r.Value, r.Change, r.RunID)
}

// Comparison puts runs side by side against the first (the baseline).
type Comparison struct {
	Runs        []LoadedRun
	Tolerance   float64
	Rows        []CompareRow
	Regressions []Regression
	Notes       []string
}

// trialKey identifies "the same trial" across runs: scenario, fault, the
// rule its rate exercises (thresholds runs one per rule) and the
// persistence strategy (one row per strategy per fault; rdb trials record
// none, so older runs keep their keys).
func trialKey(t *result.Trial) string {
	k := t.Scenario + " " + t.Fault
	if t.Rule != "" {
		k += " " + t.Rule
	}
	if t.Persistence != "" {
		k += " " + t.Persistence
	}
	return k
}

// Compare computes, for each scenario and metric, every run's worst valid
// trial and flags later runs worse than the baseline by more than tolerance
// (a fraction: 0.1 is 10%).
func Compare(runs []LoadedRun, tolerance float64) *Comparison {
	c := &Comparison{Runs: runs, Tolerance: tolerance}
	var keys []string
	seen := map[string]bool{}
	verdicts := make([]map[string]string, len(runs))
	for ri, lr := range runs {
		verdicts[ri] = map[string]string{}
		for i := range lr.Run.Trials {
			t := &lr.Run.Trials[i]
			k := trialKey(t)
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
			// The worst verdict of the repetitions: fail > invalid > pass.
			if rank(string(t.Verdict)) > rank(verdicts[ri][k]) {
				verdicts[ri][k] = string(t.Verdict)
			}
		}
	}
	for _, k := range keys {
		for _, m := range compareMetrics {
			row := CompareRow{Key: k, Metric: m.name, Unit: m.unit, cells: make([]cell, len(runs))}
			applies := false
			for ri, lr := range runs {
				for i := range lr.Run.Trials {
					t := &lr.Run.Trials[i]
					if trialKey(t) != k || t.Verdict == "invalid" {
						continue
					}
					v, ok := m.get(t)
					if !ok && !(nullIsWorst[m.name] && t.NeverServed) {
						continue
					}
					applies = true
					row.cells[ri] = worst(row.cells[ri], v, ok)
				}
			}
			if !applies {
				continue
			}
			c.finishRow(&row, m)
			c.Rows = append(c.Rows, row)
		}
		// A verdict that turned from pass to fail is a regression by itself.
		base := verdicts[0][k]
		for ri := 1; ri < len(runs); ri++ {
			if base == "pass" && verdicts[ri][k] == "fail" {
				c.Regressions = append(c.Regressions, Regression{Key: k, Metric: "verdict", RunID: runs[ri].Run.RunID, Baseline: "pass", Value: "fail", Change: "now failing"})
			}
		}
		for ri := range runs {
			if verdicts[ri][k] == "" {
				c.Notes = append(c.Notes, fmt.Sprintf("%s did not run in %s", k, runs[ri].Run.RunID))
			} else if verdicts[ri][k] == "invalid" && ri == 0 {
				c.Notes = append(c.Notes, fmt.Sprintf("%s was invalid in the baseline %s: later runs are not judged against it", k, runs[0].Run.RunID))
			}
		}
	}
	return c
}

// worst folds one repetition into a cell: the larger value wins, and a
// null (the judge's never served) beats any value.
func worst(cl cell, v float64, known bool) cell {
	switch {
	case !known:
		return cell{present: true, known: false, v: math.Inf(1)}
	case !cl.present:
		return cell{present: true, known: true, v: v}
	case cl.known && v > cl.v:
		cl.v = v
	}
	return cl
}

func rank(verdict string) int {
	switch verdict {
	case "":
		return 0
	case "pass":
		return 1
	case "invalid":
		return 2
	}
	return 3
}

func (c *Comparison) finishRow(row *CompareRow, m compareMetric) {
	row.Values = make([]string, len(row.cells))
	row.Regressed = make([]bool, len(row.cells))
	for ri, cl := range row.cells {
		row.Values[ri] = formatCell(cl, m)
	}
	base := row.cells[0]
	if !base.present {
		return
	}
	for ri := 1; ri < len(row.cells); ri++ {
		cl := row.cells[ri]
		if !cl.present {
			continue
		}
		var worse bool
		var change string
		switch {
		case !base.known && !cl.known:
		case !cl.known:
			worse, change = true, "now never measured"
		case !base.known:
		default:
			d := cl.v - base.v
			worse = d > m.floor && cl.v > base.v*(1+c.Tolerance)
			if base.v > 0 {
				change = fmt.Sprintf("%+.0f%%", 100*d/base.v)
			} else {
				change = fmt.Sprintf("+%s from 0", formatValue(d, m))
			}
		}
		if worse {
			row.Regressed[ri] = true
			c.Regressions = append(c.Regressions, Regression{Key: row.Key, Metric: row.Metric, RunID: c.Runs[ri].Run.RunID,
				Baseline: row.Values[0], Value: row.Values[ri], Change: change})
		}
	}
}

func formatCell(cl cell, m compareMetric) string {
	switch {
	case !cl.present:
		return "-"
	case !cl.known:
		return "null"
	}
	return formatValue(cl.v, m)
}

func formatValue(v float64, m compareMetric) string {
	if m.unit == "s" {
		return fmtSeconds(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Err is nil without regressions, else ErrFailed naming each scenario and
// metric that got worse.
func (c *Comparison) Err() error {
	if len(c.Regressions) == 0 {
		return nil
	}
	parts := make([]string, len(c.Regressions))
	for i, r := range c.Regressions {
		parts[i] = r.String()
	}
	return fmt.Errorf("%w: %d regression(s) beyond %s tolerance against baseline %s: %s",
		result.ErrFailed, len(c.Regressions), fmtPercent(c.Tolerance), c.Runs[0].Run.RunID, strings.Join(parts, "; "))
}

func fmtPercent(f float64) string { return strconv.FormatFloat(100*f, 'f', -1, 64) + "%" }

// WriteTable prints the comparison for a terminal: one line per scenario
// and metric, a column per run, regressions marked with "!".
func (c *Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"scenario", "metric"}
	for i, lr := range c.Runs {
		head = append(head, fmt.Sprintf("#%d %s", i+1, lr.Run.RunID))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range c.Rows {
		cols := []string{r.Key, r.Metric}
		for i, v := range r.Values {
			if r.Regressed[i] {
				v += " !"
			}
			cols = append(cols, v)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Regressions) == 0 {
		_, err := fmt.Fprintf(w, "no regression beyond %s against %s\n", fmtPercent(c.Tolerance), c.Runs[0].Run.RunID)
		return err
	}
	for _, r := range c.Regressions {
		if _, err := fmt.Fprintf(w, "REGRESSION %s\n", r); err != nil {
			return err
		}
	}
	return nil
}

// WriteComparisonJUnit writes one testcase per scenario and metric: failed
// when a later run regressed.
func WriteComparisonJUnit(w io.Writer, c *Comparison) error {
	suite := junitSuite{Name: "valkey-chaos compare"}
	for _, r := range c.Rows {
		tc := junitCase{Name: r.Key + ": " + r.Metric, Classname: "valkey-chaos.compare." + slug(r.Key),
			SystemOut: strings.Join(r.Values, " | ")}
		var msgs []string
		for _, g := range c.Regressions {
			if g.Key == r.Key && g.Metric == r.Metric {
				msgs = append(msgs, g.String())
			}
		}
		if len(msgs) > 0 {
			tc.Failure = &junitFailure{Message: strings.Join(msgs, "; "), Type: "regression", Body: strings.Join(msgs, "\n")}
		}
		suite.add(tc)
	}
	for _, g := range c.Regressions {
		if g.Metric == "verdict" {
			suite.add(junitCase{Name: g.Key + ": verdict", Classname: "valkey-chaos.compare." + slug(g.Key),
				Failure: &junitFailure{Message: g.String(), Type: "regression"}})
		}
	}
	return writeJUnit(w, "valkey-chaos compare", []junitSuite{suite})
}

// trendChart draws one metric per scenario across the runs; a missing value
// leaves a gap.
func (c *Comparison) trendChart(metric, title, yLabel string) ([]byte, bool, error) {
	p := newPlot(title, "run (see the table for ids; #1 is the baseline)", yLabel)
	var legend []legendItem
	yMax := 0.0
	var rows []CompareRow
	for _, r := range c.Rows {
		if r.Metric == metric {
			rows = append(rows, r)
		}
	}
	// Series side by side around each run, so equal values do not hide
	// each other.
	dodge := math.Min(0.3/float64(max(len(rows), 1)), 0.06)
	n := 0
	for k, r := range rows {
		off := (float64(k) - float64(len(rows)-1)/2) * dodge
		xs := make([]float64, len(r.cells))
		ys := make([]float64, len(r.cells))
		for i, cl := range r.cells {
			xs[i], ys[i] = float64(i+1)+off, cl.v
			if cl.known {
				yMax = math.Max(yMax, cl.v)
			}
		}
		keep := func(i int) bool { return r.cells[i].present && r.cells[i].known }
		sty := lineStyle(colourAt(n), 1.6, dashes[n%len(dashes)])
		glyph := draw.GlyphStyle{Color: colourAt(n), Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
		var pts plotter.XYs
		for i := range xs {
			if keep(i) {
				pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		if err := addSegments(p, segments(xs, ys, keep), sty); err != nil {
			return nil, false, err
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, false, err
		}
		sc.GlyphStyle = glyph
		p.Add(sc)
		legend = append(legend, legendItem{r.Key, []plot.Thumbnailer{lineThumb(sty), glyphThumb(glyph)}})
		n++
	}
	if n == 0 {
		return nil, false, nil
	}
	ticks := make([]plot.Tick, len(c.Runs))
	for i := range c.Runs {
		ticks[i] = plot.Tick{Value: float64(i + 1), Label: fmt.Sprintf("#%d", i+1)}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 0.6, float64(len(c.Runs))+0.4
	p.Y.Min, p.Y.Max = 0, math.Max(yMax*1.15, 0.1)
	f := &figure{height: 4.5 * vg.Inch, panels: []panel{{p, 1}}, legend: legend}
	png, err := f.render()
	return png, err == nil, err
}

// compareView feeds the compare templates.
type compareView struct {
	Status, StatusClass string
	Tolerance           string
	Runs                []compareRunRef
	Rows                []CompareRow
	Regressions         []Regression
	Notes               []string
	Charts              []chart
	Problems            []string
}

type compareRunRef struct {
	N                          int
	RunID, Dir, Started, Scale string
	Save, Server, Summary      string
}

// WriteComparison writes compare.md, a self-contained compare.html and the
// trend charts into dir (plots/ under it).
func WriteComparison(dir string, c *Comparison) error {
	if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return fmt.Errorf("%w: create %s: %v: choose a writable --out", result.ErrBadInput, dir, err)
	}
	v := compareView{Status: "NO REGRESSION", StatusClass: "pass", Tolerance: fmtPercent(c.Tolerance),
		Rows: c.Rows, Regressions: c.Regressions, Notes: c.Notes}
	if len(c.Regressions) > 0 {
		v.Status, v.StatusClass = "REGRESSION", "fail"
	}
	for i, lr := range c.Runs {
		r := lr.Run
		v.Runs = append(v.Runs, compareRunRef{N: i + 1, RunID: r.RunID, Dir: lr.Dir, Started: fmtUnixMs(r.StartedUnixMs),
			Scale: strconv.FormatFloat(r.Target.TimeScale, 'g', -1, 64), Save: r.Target.SaveReal,
			Server: strings.TrimSpace(r.Target.Kind + " " + r.Target.ServerVersion), Summary: verdictCounts(r)})
	}
	runs := make([]*result.Run, len(c.Runs))
	for i, lr := range c.Runs {
		runs[i] = lr.Run
	}
	for _, ch := range []struct{ metric, title, y, file string }{
		{"loss_window", "Loss window per scenario across runs", "loss window (s)", "trend-loss-window.png"},
		{"warmup", "Warm-up per scenario across runs", "warm-up (s)", "trend-warmup.png"},
		{"rto", "RTO per scenario across runs", "RTO (s)", "trend-rto.png"},
	} {
		png, ok, err := renderSafely(ch.title, func() ([]byte, bool, error) { return c.trendChart(ch.metric, ch.title, ch.y) })
		if err != nil {
			v.Problems = append(v.Problems, err.Error())
		} else if ok {
			v.Charts = append(v.Charts, chart{Title: ch.title, Path: path.Join(PlotsDir, ch.file), png: png})
		}
	}
	stopTimeout := c.Runs[len(c.Runs)-1].Run.Target.StopTimeoutS
	png, ok, err := renderSafely("dataset size", func() ([]byte, bool, error) { return sizeChart(sizePoints(runs), stopTimeout) })
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
	} else if ok {
		v.Charts = append(v.Charts, chart{Title: "Warm-up and final save against dataset size", Path: path.Join(PlotsDir, "dataset-size.png"), png: png})
	}
	for _, ch := range v.Charts {
		if err := result.WriteFileAtomic(filepath.Join(dir, filepath.FromSlash(ch.Path)), ch.png); err != nil {
			return err
		}
	}
	md, err := executeText("templates/compare.md.tmpl", v)
	if err != nil {
		return err
	}
	if err := result.WriteFileAtomic(filepath.Join(dir, "compare.md"), md); err != nil {
		return err
	}
	html, err := executeHTML("templates/compare.html.tmpl", v)
	if err != nil {
		return err
	}
	return result.WriteFileAtomic(filepath.Join(dir, "compare.html"), html)
}
