package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

var update = flag.Bool("update", false, "rewrite testdata/report.md.golden from the fixture")

// copyFixture copies testdata/run into a temp dir and loads it, so tests
// render where they may write.
func copyFixture(t *testing.T) (string, *result.Run) {
	t.Helper()
	return copyFixtureFrom(t, fixtureDir)
}

// copyFixtureFrom copies the run directory src into a temp dir and loads it.
func copyFixtureFrom(t *testing.T, src string) (string, *result.Run) {
	t.Helper()
	dir := t.TempDir()
	if err := copyTree(src, dir); err != nil {
		t.Fatal(err)
	}
	run, err := result.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, run
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

// The fixture rendered once, for the tests that only read what was drawn
// (a render of 11 charts takes most of a minute under -race on a busy
// machine; six of them made this package the suite's slowest).
// TestRenderIsDeterministic renders it again and compares with this one.
var rendered struct {
	once sync.Once
	dir  string
	err  error
}

func renderedFixture(t *testing.T) string {
	t.Helper()
	rendered.once.Do(func() {
		rendered.dir, rendered.err = os.MkdirTemp("", "report-fixture-")
		if rendered.err != nil {
			return
		}
		if rendered.err = copyTree(fixtureDir, rendered.dir); rendered.err != nil {
			return
		}
		run, err := result.Load(rendered.dir)
		if err != nil {
			rendered.err = err
			return
		}
		rendered.err = Write(rendered.dir, run)
	})
	if rendered.err != nil {
		t.Fatalf("render the fixture: %v", rendered.err)
	}
	return rendered.dir
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if rendered.dir != "" {
		os.RemoveAll(rendered.dir)
	}
	os.Exit(code)
}

func decodePNG(t *testing.T, name string, data []byte) (w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode as PNG: %v", name, err)
	}
	b := img.Bounds()
	return b.Dx(), b.Dy()
}

// Every chart renders from the fixture at 150 DPI and the size the figure
// promises: 10 in wide, so 1500 px.
func TestChartsRenderAtExpectedSize(t *testing.T) {
	dir, run := copyFixture(t)
	crash := &run.Trials[0]
	other := *run
	other.Target.Dataset = result.Dataset{Keys: 1_000_000, ValueBytes: 100, RDBBytes: 114_000_000}
	for i := range other.Trials {
		w := *other.Trials[i].WarmupS * 2
		other.Trials[i].WarmupS = &w
	}
	cases := []struct {
		name   string
		height int
		draw   func() ([]byte, bool, error)
	}{
		{"timeline", 1050, func() ([]byte, bool, error) { b, err := timelineChart(run, crash); return b, err == nil, err }},
		{"latency over time", 630, func() ([]byte, bool, error) { return latencyChart(run, crash) }},
		{"loss window vs rate", 825, func() ([]byte, bool, error) { return lossWindowChart(run) }},
		{"recovery phases", int((1.7 + 0.38*4) * 150), func() ([]byte, bool, error) { return phasesChart(run) }},
		{"latency distribution", 750, func() ([]byte, bool, error) {
			b, ok, notes, err := distributionChart(dir, run)
			if len(notes) > 0 {
				t.Errorf("distribution notes for a complete fixture: %v", notes)
			}
			return b, ok, err
		}},
		{"dataset size", 750, func() ([]byte, bool, error) { return sizeChart(sizePoints([]*result.Run{run, &other}), 30) }},
	}
	for _, c := range cases {
		data, ok, err := c.draw()
		if err != nil || !ok {
			t.Errorf("%s: not drawn (ok=%v): %v", c.name, ok, err)
			continue
		}
		w, h := decodePNG(t, c.name, data)
		if w != 1500 || h != c.height {
			t.Errorf("%s: %dx%d px, want 1500x%d", c.name, w, h, c.height)
		}
	}
}

func TestSizeChartNeedsTwoSizes(t *testing.T) {
	_, run := copyFixture(t)
	if _, ok, err := sizeChart(sizePoints([]*result.Run{run}), 30); ok || err != nil {
		t.Fatalf("one dataset size drew a trend (ok=%v, err=%v)", ok, err)
	}
}

// The outage must show as a gap: no point of the acknowledged-writes line
// lies strictly inside fault..serving, and the line is split there.
func TestTimelineOutageIsAGap(t *testing.T) {
	_, run := copyFixture(t)
	for i := range run.Trials {
		tr := &run.Trials[i]
		from, to, ok := outage(tr)
		if !ok {
			t.Fatalf("%s: fixture has no outage", trialLabel(tr))
		}
		segs := ackedSegments(tr)
		if len(segs) < 2 {
			t.Errorf("%s: acked line has %d segment(s); the outage should split it", trialLabel(tr), len(segs))
		}
		bin := tr.Series.BinS * float64(displayFactor(tr.Series, tr.RatePerS))
		for _, seg := range segs {
			for _, p := range seg {
				if p.X > from+bin && p.X < to-bin {
					t.Errorf("%s: acked point at %.2f s inside the outage %.2f..%.2f s", trialLabel(tr), p.X, from, to)
				}
			}
			if len(seg) > 1 && seg[0].X < from && seg[len(seg)-1].X > to {
				t.Errorf("%s: a segment bridges the outage", trialLabel(tr))
			}
		}
	}
}

func TestHgrmUnitsAreInferred(t *testing.T) {
	const file = ` Value	Percentile	TotalCount	1/(1-Percentile)

     250.000     0.000000            1         1.00
     310.000     0.500000          500         2.00
    4800.000     0.990000          990       100.00
    6303.000     1.000000         1000          inf
#[Mean    =      416.000, StdDeviation   =      635.000]
#[Max     =     6303.000, Total count    =         1000]
#[Buckets =           16, SubBuckets     =         2048]
`
	h, err := parseHgrm(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.points) != 4 || h.count != 1000 || h.max != 6303 {
		t.Fatalf("parsed %+v", h)
	}
	// The trial says max 6.3 ms: the file is in microseconds.
	if k := hgrmToMs(h, &result.Latency{Max: 6.303}); k != 1e-3 {
		t.Fatalf("scale %g, want 1e-3 for a µs file", k)
	}
	if k := hgrmToMs(h, nil); k != 1 {
		t.Fatalf("scale %g without a summary, want 1 (ms)", k)
	}
	if _, err := parseHgrm(strings.NewReader("garbage here\n")); err == nil {
		t.Fatal("a malformed .hgrm parsed")
	}
}

// report.md is golden-tested: a change to numbers or wording shows up as a
// diff; rerun with -update after checking it.
func TestReportMarkdownGolden(t *testing.T) {
	dir := renderedFixture(t)
	got, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("report.md differs from %s (rerun with -update if intended):\n%s", golden, firstDiff(string(want), string(got)))
	}
	// Every chart linked from the Markdown exists and is a PNG.
	for _, line := range strings.Split(string(got), "\n") {
		if i := strings.Index(line, "](plots/"); i >= 0 && strings.HasPrefix(line, "![") {
			rel := strings.TrimSuffix(line[i+2:], ")")
			data, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Errorf("report.md links %s: %v", rel, err)
				continue
			}
			decodePNG(t, rel, data)
		}
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + w + "\ngot:  " + g
		}
	}
	return ""
}

// Re-rendering a run gives byte-identical files: no clock, stable order.
func TestRenderIsDeterministic(t *testing.T) {
	dirA := renderedFixture(t)
	dirB, runB := copyFixture(t)
	// Write draws the charts the run names, and changes nothing in it.
	runB.NamePlots()
	before, _ := json.Marshal(runB)
	if err := Write(dirB, runB); err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(runB); !bytes.Equal(before, after) {
		t.Error("Write changed the run it rendered")
	}
	files := []string{MarkdownFile, HTMLFile}
	plots, _ := filepath.Glob(filepath.Join(dirA, PlotsDir, "*.png"))
	if len(plots) < 6 {
		t.Fatalf("only %d plots rendered: %v", len(plots), plots)
	}
	for _, p := range plots {
		files = append(files, filepath.Join(PlotsDir, filepath.Base(p)))
	}
	for _, f := range files {
		a, errA := os.ReadFile(filepath.Join(dirA, f))
		b, errB := os.ReadFile(filepath.Join(dirB, f))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v %v", f, errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renders of the same run", f)
		}
	}
	for _, tr := range runB.Trials {
		if len(tr.Files.Plots) != 2 {
			t.Errorf("%s: Files.Plots = %v, want timeline and latency", trialLabel(&tr), tr.Files.Plots)
		}
		for _, p := range tr.Files.Plots {
			if _, err := os.Stat(filepath.Join(dirB, p)); err != nil {
				t.Errorf("%s: named chart %s not drawn: %v", trialLabel(&tr), p, err)
			}
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	dir := renderedFixture(t)
	html, err := os.ReadFile(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, bad := range []string{`src="http`, `href="http`, `<link`, `src="plots/`, "@import", "url("} {
		if strings.Contains(s, bad) {
			t.Errorf("report.html contains %q: it must need no other file or network", bad)
		}
	}
	if n := strings.Count(s, `src="data:image/png;base64,`); n < 11 {
		t.Errorf("report.html embeds %d images, want every chart (11)", n)
	}
	// The verdict table comes before the configuration and the charts.
	if v, c := strings.Index(s, `id="verdicts"`), strings.Index(s, `id="configuration"`); v < 0 || c < 0 || v > c {
		t.Errorf("verdict table is not first (verdicts at %d, configuration at %d)", v, c)
	}
}

func TestFindingsSpeakPlainly(t *testing.T) {
	_, run := copyFixture(t)
	text := func(fs []Finding) string {
		var b strings.Builder
		for _, f := range fs {
			b.WriteString(f.Level + ": " + f.Text + "\n")
		}
		return b.String()
	}
	got := text(Findings(run))
	for _, want := range []string{
		`fail: thresholds crash 900 1: SLO loss_window<=6s failed: observed 10.5 s.`,
		`At 1.05 writes/s real time (105/s at time scale 0.01) rule "300 10" is the one that fires: the 60 s rule "60 10000" needs 167 writes/s and never fires. Your effective RPO is up to 306 s`,
		`ok: thresholds stop 300 10 lost nothing: the final save took 2.05 s, 7% of the 30 s stop timeout`,
		`warn: thresholds crash 60 10000 is invalid, so it says nothing about Valkey`,
		`took up to 2.83 s for 500,000 keys (57.0 MB RDB)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %q; got:\n%s", want, got)
		}
	}
	if strings.Index(got, "fail:") > strings.Index(got, "warn:") {
		t.Errorf("failures are not listed first:\n%s", got)
	}

	// A final save beyond the stop timeout is called out as data loss.
	slow := 41.0
	run.Trials[1].FinalSaveS = &slow
	got = text(Findings(run))
	if !strings.Contains(got, "fail: thresholds stop 300 10: the final save took 41 s, above the 30 s stop timeout: a StopTask loses data.") {
		t.Errorf("no stop-timeout finding:\n%s", got)
	}
}

func TestApplySLOsFailsTrialsAndNamesThem(t *testing.T) {
	_, run := copyFixture(t)
	slos, err := slo.ParseAll([]string{"rto<=3s", "warmup<=5s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := judge.Rejudge(run, slos); err != nil {
		t.Fatal(err)
	}
	byLabel := map[string]*result.Trial{}
	for i := range run.Trials {
		byLabel[trialLabel(&run.Trials[i])] = &run.Trials[i]
	}
	if v := byLabel["thresholds stop 300 10"].Verdict; v != "fail" {
		t.Errorf("stop trial with RTO 4.93 s against rto<=3s: verdict %s", v)
	}
	if v := byLabel["thresholds crash 300 10"].Verdict; v != "pass" {
		t.Errorf("crash trial within both SLOs: verdict %s", v)
	}
	if v := byLabel["thresholds crash 60 10000"].Verdict; v != "invalid" {
		t.Errorf("invalid trial became %s", v)
	}
	err = judge.Outcome(run)
	if !errors.Is(err, result.ErrFailed) {
		t.Fatalf("Outcome = %v, want ErrFailed", err)
	}
	if !strings.Contains(err.Error(), "thresholds stop 300 10: SLO rto<=3s failed: observed 4.93 s") {
		t.Errorf("verdict error does not name the trial and SLO: %v", err)
	}
	// Applying the same SLOs again adds nothing.
	n := len(byLabel["thresholds stop 300 10"].Checks)
	if err := judge.Rejudge(run, slos); err != nil {
		t.Fatal(err)
	}
	if m := len(byLabel["thresholds stop 300 10"].Checks); m != n {
		t.Errorf("re-applying SLOs grew the checks from %d to %d", n, m)
	}
}

func TestJUnitParses(t *testing.T) {
	_, run := copyFixture(t)
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit output does not parse: %v\n%s", err, buf.String())
	}
	want := 0
	for _, tr := range run.Trials {
		want += 1 + len(tr.Checks)
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != want || doc.Tests != want {
		t.Fatalf("%d suites, tests=%d, want one suite of %d cases (a trial and each of its checks)", len(doc.Suites), doc.Tests, want)
	}
	cases := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		switch {
		case c.Failure != nil:
			cases[c.Name] = "failure: " + c.Failure.Message
		case c.Skipped != nil:
			cases[c.Name] = "skipped: " + c.Skipped.Message
		default:
			cases[c.Name] = "pass"
		}
	}
	for name, want := range map[string]string{
		"thresholds crash 300 10":                 "pass",
		"thresholds crash 900 1":                  "failure: SLO loss_window<=6s failed: observed 10.52",
		"thresholds crash 900 1: loss_window<=6s": "failure: SLO loss_window<=6s failed: observed 10.5 s",
		"thresholds crash 60 10000":               "skipped: invalid trial (not evidence): achieved 9100 writes/s",
		"thresholds crash 60 10000: anomalies==0": "skipped: trial invalid",
		"thresholds stop 300 10: lost_on_stop==0": "pass",
	} {
		if got := cases[name]; !strings.HasPrefix(got, want) {
			t.Errorf("case %q: %q, want prefix %q", name, got, want)
		}
	}
	if doc.Failures != 2 || doc.Skipped != 3 {
		t.Errorf("failures=%d skipped=%d, want 2 and 3", doc.Failures, doc.Skipped)
	}
}

func TestMetricsAreOneLinePerTrial(t *testing.T) {
	_, run := copyFixture(t)
	var buf bytes.Buffer
	if err := WriteMetrics(&buf, run); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(run.Trials) {
		t.Fatalf("%d lines for %d trials", len(lines), len(run.Trials))
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		for _, k := range []string{"run_id", "scenario", "fault", "verdict", "loss_window_s", "rto_s", "warmup_s", "lost"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %s", i+1, k)
			}
		}
	}
	var stop MetricLine
	_ = json.Unmarshal([]byte(lines[1]), &stop)
	if stop.Fault != "stop" || stop.LossWindowS == nil || *stop.LossWindowS != 0 || stop.FinalSaveS == nil || *stop.FinalSaveS != 2.05 {
		t.Errorf("stop line: %+v", stop)
	}
}
