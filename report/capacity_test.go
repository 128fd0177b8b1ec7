package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestCapacitySweepTableAndSizeChart(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	trial := func(keys, rdb int64, save *float64, escalated bool, warmup float64, lost int) result.Trial {
		verdict := result.Pass
		if escalated {
			verdict = result.Fail
		}
		return result.Trial{Scenario: "stop-timeout-vs-size", Fault: "stop", Verdict: verdict, Reasons: []string{}, Steps: []result.Step{},
			Dataset: &result.Dataset{Keys: keys, ValueBytes: 100, RDBBytes: rdb}, FinalSaveS: save, StopEscalated: escalated, WarmupS: f(warmup), Lost: lost,
			Storage: &result.StorageNote{Mode: "efs-provisioned", ThroughputMiBps: 5}}
	}
	run := &result.Run{Schema: result.Schema, RunID: "sweep", Complete: true,
		Target: result.Target{Kind: "local", Storage: "efs-provisioned", StopTimeoutS: 1.5, TimeScale: 1},
		Trials: []result.Trial{
			trial(15000, 1_800_000, f(0.52), false, 0.18, 0),
			trial(40000, 4_800_000, f(1.18), false, 0.38, 0),
			trial(120000, 14_500_000, nil, true, 0.96, 14246),
		}}
	dir := t.TempDir()
	if err := Write(dir, run); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	text := string(md)
	for _, want := range []string{"### Capacity: final save and warm-up against dataset size", "Largest dataset that stopped gracefully: **40,000 keys", "SIGKILL at the stop timeout", "| 120,000 |"} {
		if !strings.Contains(text, want) {
			t.Errorf("report.md lacks %q:\n%s", want, text)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !strings.Contains(string(html), `id="capacity"`) {
		t.Error("report.html has no capacity table")
	}
	if _, err := os.Stat(filepath.Join(dir, PlotsDir, "dataset-size.png")); err != nil {
		t.Errorf("no warm-up/final-save against size chart from the sweep's trials: %v", err)
	}
}
