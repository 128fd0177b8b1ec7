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
	"testing"
)

// results/sample is a committed real run; `valkey-chaos report` must
// reproduce its report exactly from result.json and the trial files, so the
// numbers and charts the README shows are the ones the code computes.
func TestSampleReportReproducesTheCommittedRun(t *testing.T) {
	sample := filepath.Join("..", "..", "results", "sample")
	if _, err := os.Stat(filepath.Join(sample, "result.json")); err != nil {
		t.Fatalf("results/sample is part of the repository: %v", err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(sample)); err != nil {
		t.Fatal(err)
	}
	// Render from the run's inputs only.
	for _, rendered := range []string{"report.md", "report.html", "plots"} {
		if err := os.RemoveAll(filepath.Join(dir, rendered)); err != nil {
			t.Fatal(err)
		}
	}
	if err := execute(t, "report", dir); err != nil {
		t.Fatalf("report results/sample: %v", err)
	}
	for _, name := range []string{"report.md", "report.html", "plots/loss-window.png", "plots/recovery-phases.png", "plots/timeline-thresholds-crash-60-10000-0.png"} {
		want, err := os.ReadFile(filepath.Join(sample, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("report did not write %s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s re-rendered differs from the committed results/sample/%s: regenerate the sample with `make demo`-style run --run-id sample if the change is intended", name, name)
		}
	}
}

// `valkey-chaos check results/sample` re-judges the committed run from its
// files alone and reproduces every verdict and number.
func TestCheckReproducesTheCommittedSample(t *testing.T) {
	sample := filepath.Join("..", "..", "results", "sample")
	if err := execute(t, "check", sample); err != nil {
		t.Fatalf("check results/sample: %v", err)
	}
}
