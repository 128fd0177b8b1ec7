package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestCompareRunWithItselfHasNoRegression(t *testing.T) {
	dir, _ := copyFixture(t)
	runs, err := LoadRuns([]string{dir, dir})
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(runs, 0.10)
	if err := c.Err(); err != nil {
		t.Fatalf("a run compared with itself regressed: %v", err)
	}
	if len(c.Rows) == 0 {
		t.Fatal("no rows compared")
	}
	out := t.TempDir()
	if err := WriteComparison(out, c); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "compare.md"))
	if err != nil || !strings.Contains(string(md), "**NO REGRESSION**") {
		t.Fatalf("compare.md: %v\n%s", err, md)
	}
	for _, f := range []string{"trend-loss-window.png", "trend-warmup.png", "trend-rto.png"} {
		data, err := os.ReadFile(filepath.Join(out, PlotsDir, f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if w, h := decodePNG(t, f, data); w != 1500 || h != 675 {
			t.Errorf("%s: %dx%d px, want 1500x675", f, w, h)
		}
	}
	html, _ := os.ReadFile(filepath.Join(out, "compare.html"))
	if strings.Count(string(html), `src="data:image/png;base64,`) != 3 {
		t.Errorf("compare.html does not embed its 3 trend charts")
	}
}

// worsen writes a copy of the fixture whose graceful stop overran the stop
// timeout: SIGKILL, writes lost, a long RTO.
func worsen(t *testing.T) string {
	t.Helper()
	dir, run := copyFixture(t)
	run.RunID = "20260116-101500-cd34"
	run.StartedUnixMs += 86_400_000
	st := &run.Trials[1]
	fs, rto := 35.2, 35.6
	st.FinalSaveS, st.RTOS, st.StopEscalated, st.Lost = &fs, &rto, true, 120
	st.Verdict, st.Reasons = "fail", []string{"the final save did not finish within the 30s stop timeout: SIGKILL, 120 acknowledged writes lost"}
	if err := result.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompareWorseRunFailsNamingScenarioAndMetric(t *testing.T) {
	base, _ := copyFixture(t)
	worse := worsen(t)
	runs, err := LoadRuns([]string{base, worse})
	if err != nil {
		t.Fatal(err)
	}
	c := Compare(runs, 0.10)
	err = c.Err()
	if !errors.Is(err, result.ErrFailed) {
		t.Fatalf("Err() = %v, want ErrFailed", err)
	}
	for _, want := range []string{
		"thresholds stop 300 10: final_save 2.05 s -> 35.2 s",
		"thresholds stop 300 10: lost_on_stop 0 -> 120",
		"thresholds stop 300 10: rto 4.93 s -> 35.6 s",
		"thresholds stop 300 10: verdict pass -> fail",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "crash") {
		t.Errorf("unchanged crash trials reported as regressions: %v", err)
	}
	// The baseline is the first run: the better run second is no regression.
	if err := Compare([]LoadedRun{runs[1], runs[0]}, 0.10).Err(); err != nil {
		t.Errorf("an improvement was reported as a regression: %v", err)
	}
	// A generous tolerance still flags loss on a stop (0 -> 120 is not a
	// percentage of anything).
	if err := Compare(runs, 100).Err(); err == nil || !strings.Contains(err.Error(), "lost_on_stop") {
		t.Errorf("tolerance 10000%%: %v", err)
	}

	var buf bytes.Buffer
	if err := WriteComparisonJUnit(&buf, c); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("compare JUnit does not parse: %v", err)
	}
	if doc.Failures != 4 {
		t.Errorf("compare JUnit failures = %d, want 4", doc.Failures)
	}
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]float64{"10%": 0.1, "0.25": 0.25, " 5 % ": -1, "0%": 0, "abc": -1, "-3%": -1} {
		got, err := ParseTolerance(in)
		switch {
		case want < 0 && err == nil:
			t.Errorf("ParseTolerance(%q) accepted %g", in, got)
		case want < 0 && !errors.Is(err, result.ErrBadInput):
			t.Errorf("ParseTolerance(%q) error %v is not bad input", in, err)
		case want >= 0 && (err != nil || got != want):
			t.Errorf("ParseTolerance(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
}

func TestLoadRunsBadInput(t *testing.T) {
	good, _ := copyFixture(t)
	truncated := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(good, result.FileName))
	_ = os.WriteFile(filepath.Join(truncated, result.FileName), data[:len(data)/2], 0o644)
	future := t.TempDir()
	_ = os.WriteFile(filepath.Join(future, result.FileName), []byte(`{"schema":"valkey-chaos/result/v9","run_id":"x"}`), 0o644)
	empty := t.TempDir()
	_ = os.Mkdir(filepath.Join(empty, "not-a-run"), 0o755)

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{filepath.Join(empty, "nope")}, "not found"},
		{"truncated", []string{truncated}, "truncated"},
		{"unknown schema", []string{future}, "valkey-chaos/result/v9"},
		{"no runs", []string{empty}, "holds no runs"},
		{"glob without match", []string{filepath.Join(empty, "run-*")}, "matches nothing"},
		{"nothing", nil, "no run directories"},
	}
	for _, c := range cases {
		_, err := LoadRuns(c.args)
		if !errors.Is(err, result.ErrBadInput) {
			t.Errorf("%s: error %v is not bad input", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: want one line saying %q, got %q", c.name, c.want, err)
		}
	}
}

func TestLoadRunsExpandsDirectoriesAndGlobs(t *testing.T) {
	parent := t.TempDir()
	base, _ := copyFixture(t)
	worse := worsen(t)
	// Later run first on disk order: results/ is taken in start order.
	if err := os.Rename(worse, filepath.Join(parent, "a-later")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(base, filepath.Join(parent, "b-earlier")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{parent}, {filepath.Join(parent, "*")}} {
		runs, err := LoadRuns(args)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 2 {
			t.Fatalf("%v: %d runs", args, len(runs))
		}
		if len(args) == 1 && args[0] == parent && runs[0].Run.RunID != "20260115-101500-ab12" {
			t.Errorf("%v: runs not in start order: %s first", args, runs[0].Run.RunID)
		}
	}
}
