package report

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

// BenchmarkReportTenTrials renders the report of a ten-trial run as
// `valkey-chaos report DIR` does (issue 16: under 10 s): result.json
// loaded, every chart drawn, report.md, report.html and the terminal
// summary written. The run is the fixture's four trials repeated as further
// repetitions (each with its own charts). s/report is the slowest render.
// Run: go test -run '^$' -bench ReportTenTrials -benchtime 1x ./report
func BenchmarkReportTenTrials(b *testing.B) {
	dir := tenTrialRun(b)
	var worst time.Duration
	var plots int
	for b.Loop() {
		start := time.Now()
		run, err := result.Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := Write(dir, run); err != nil {
			b.Fatal(err)
		}
		if err := WriteSummary(io.Discard, run); err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		files, _ := filepath.Glob(filepath.Join(dir, PlotsDir, "*.png"))
		plots = len(files)
	}
	if plots < 20 {
		b.Fatalf("%d charts drawn for 10 trials, want a timeline and a latency chart each", plots)
	}
	b.ReportMetric(worst.Seconds(), "s/report")
	b.ReportMetric(float64(plots), "charts")
}

// tenTrialRun writes a run directory of ten trials built from the fixture.
func tenTrialRun(b *testing.B) string {
	b.Helper()
	src, err := result.Load(fixtureDir)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "trials"), 0o755); err != nil {
		b.Fatal(err)
	}
	hgrms, _ := filepath.Glob(filepath.Join(fixtureDir, "trials", "*.hgrm"))
	for _, p := range hgrms {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "trials", filepath.Base(p)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run := *src
	run.Trials = nil
	for i := range 10 {
		tr := src.Trials[i%len(src.Trials)]
		tr.Index = i / len(src.Trials)
		run.Trials = append(run.Trials, tr)
	}
	run.NamePlots()
	if err := result.Write(dir, &run); err != nil {
		b.Fatal(err)
	}
	return dir
}
