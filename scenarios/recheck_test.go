package scenarios

import (
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// Every judged figure a re-check can change is named when it changes, and
// nothing is named when it does not.
func TestDifferencesNameEveryJudgedFigure(t *testing.T) {
	base := result.Trial{Verdict: result.Pass, Lost: 3, Recovered: 10, LossWindowS: &result.Window{Low: 1, High: 2, Estimate: 1.5},
		SnapshotSource: "server-log", SnapshotUnixMs: 1000, Reasons: []string{"r"}, LossWindowVerdict: result.Pass}
	tests := []struct {
		name   string
		change func(*result.Trial)
	}{
		{"verdict", func(t *result.Trial) { t.Verdict = result.Fail }},
		{"lost", func(t *result.Trial) { t.Lost++ }},
		{"recovered", func(t *result.Trial) { t.Recovered++ }},
		{"corrupt", func(t *result.Trial) { t.Corrupt++ }},
		{"anomalies", func(t *result.Trial) { t.Anomalies++ }},
		{"loss_window_s", func(t *result.Trial) { t.LossWindowS = &result.Window{Low: 1, High: 3, Estimate: 1.5} }},
		{"snapshot_source", func(t *result.Trial) { t.SnapshotSource = "info" }},
		{"stale_load", func(t *result.Trial) { t.StaleLoad = &result.StaleLoad{} }},
		{"never_served", func(t *result.Trial) { t.NeverServed = true }},
		{"loss_window_verdict", func(t *result.Trial) { t.LossWindowVerdict = result.Inconclusive }},
		{"reasons", func(t *result.Trial) { t.Reasons = nil }},
		{"snapshot_unix_ms", func(t *result.Trial) { t.SnapshotUnixMs += 2 }},
	}
	if d := differences(&base, &base); len(d) != 0 {
		t.Errorf("no change gave differences %v", d)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := base
			tt.change(&now)
			d := differences(&base, &now)
			if len(d) != 1 || !strings.HasPrefix(d[0], tt.name+": ") {
				t.Errorf("differences %v, want one naming %s", d, tt.name)
			}
		})
	}
	now := base
	now.SnapshotUnixMs++ // the clock's millisecond rounding
	if d := differences(&base, &now); len(d) != 0 {
		t.Errorf("a 1 ms snapshot difference gave %v", d)
	}
}
