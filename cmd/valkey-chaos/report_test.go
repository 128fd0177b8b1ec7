//go:build !race

// Rendering runs in one goroutine: the race detector has nothing to check in
// these tests and makes a render 25x slower (results/sample: 53 s against
// 2 s). `make unit` runs them in its pass without -race (NORACE_TESTS in the
// Makefile; TestNoRaceTestsRunInMakeUnit keeps that list whole).

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// fixtureRun copies the report package's fixture run into a temp dir,
// optionally changed, and returns the directory.
func fixtureRun(t *testing.T, change func(*result.Run)) string {
	t.Helper()
	run, err := result.Load(filepath.Join("..", "..", "report", "testdata", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(run)
	}
	dir := t.TempDir()
	if err := result.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	return dir
}

// onlyPassing keeps the trials that passed.
func onlyPassing(r *result.Run) {
	var keep []result.Trial
	for _, tr := range r.Trials {
		if tr.Verdict == "pass" {
			keep = append(keep, tr)
		}
	}
	r.Trials = keep
}

func TestReportExitCodes(t *testing.T) {
	failing := fixtureRun(t, nil)
	passing := fixtureRun(t, onlyPassing)
	cases := []struct {
		name string
		dir  string
		opts reportOpts
		exit int
		says string
	}{
		{"a failed trial", failing, reportOpts{}, exitFailed, "thresholds crash 900 1: SLO loss_window<=6s failed"},
		{"all passed", passing, reportOpts{}, exitOK, ""},
		{"an SLO added after the fact", passing, reportOpts{slos: []string{"rto<=3s"}}, exitFailed, "SLO rto<=3s failed"},
		{"a bad SLO", passing, reportOpts{slos: []string{"rto<=3"}}, exitBadInput, `SLO "rto<=3"`},
		{"no run", filepath.Join(passing, "missing"), reportOpts{}, exitBadInput, "not found"},
	}
	for _, c := range cases {
		var out bytes.Buffer
		err := runReport(&out, c.dir, c.opts)
		if got := exitCode(err); got != c.exit {
			t.Errorf("%s: exit %d (%v), want %d", c.name, got, err, c.exit)
		}
		if c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)) {
			t.Errorf("%s: error %v does not say %q", c.name, err, c.says)
		}
	}
}

func TestReportWritesJUnitAndMetrics(t *testing.T) {
	dir := fixtureRun(t, nil)
	junit, metrics := filepath.Join(t.TempDir(), "junit.xml"), filepath.Join(t.TempDir(), "metrics.jsonl")
	var out bytes.Buffer
	_ = runReport(&out, dir, reportOpts{junit: junit, metrics: metrics})
	for _, f := range []string{junit, metrics, filepath.Join(dir, "report.md"), filepath.Join(dir, "report.html")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if !strings.Contains(out.String(), "report: "+filepath.Join(dir, "report.md")) {
		t.Errorf("output does not say where the report is:\n%s", out.String())
	}
}

func TestCompareExitCodes(t *testing.T) {
	base := fixtureRun(t, nil)
	worse := fixtureRun(t, func(r *result.Run) {
		r.RunID = "later"
		fs := 41.0
		r.Trials[1].FinalSaveS, r.Trials[1].StopEscalated, r.Trials[1].Lost = &fs, true, 200
	})
	cases := []struct {
		name string
		args []string
		opts compareOpts
		exit int
		says string
	}{
		{"itself", []string{base, base}, compareOpts{tolerance: "10%"}, exitOK, ""},
		{"worse", []string{base, worse}, compareOpts{tolerance: "10%"}, exitFailed, "thresholds stop 300 10: final_save 2.05 s -> 41 s"},
		{"one run", []string{base}, compareOpts{tolerance: "10%"}, exitBadInput, "at least two runs"},
		{"bad tolerance", []string{base, base}, compareOpts{tolerance: "lots"}, exitBadInput, "--tolerance"},
	}
	for _, c := range cases {
		c.opts.out = t.TempDir()
		var out bytes.Buffer
		err := runCompare(&out, c.args, c.opts)
		if got := exitCode(err); got != c.exit {
			t.Errorf("%s: exit %d (%v), want %d", c.name, got, err, c.exit)
		}
		if c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)) {
			t.Errorf("%s: error %v does not say %q", c.name, err, c.says)
		}
	}
}
