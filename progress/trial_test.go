package progress

import (
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

// A trial without a prediction (it went invalid before its cycle was
// found, or its persistence has none) says so; it never prints
// "predicted <= 0.00s", a bound of zero nobody predicted.
func TestTrialLineSaysWhenThereIsNoPrediction(t *testing.T) {
	rto := 1.25
	cases := []struct {
		name  string
		trial result.Trial
		want  []string
		never []string
	}{
		{"no prediction", result.Trial{Verdict: result.Invalid, Acked: 300, Reasons: []string{"no snapshot completed during the load"}},
			[]string{"INVALID", "(no prediction)", "no snapshot completed"}, []string{"predicted <="}},
		{"a prediction", result.Trial{Verdict: result.Pass, Acked: 9000, Lost: 40, PredictedLossWindowS: 2.5, RTOS: &rto,
			LossWindowS: &result.Window{Low: 1.8, High: 2, Estimate: 1.9}},
			[]string{"PASS", "lost 40", "loss window 1.90s [1.80..2.00] (predicted <= 2.50s)", "RTO 1.250s"}, []string{"no prediction"}},
		{"never read back", result.Trial{Verdict: result.Invalid, Acked: 300, PredictedLossWindowS: 2.5, Unread: "interrupted"},
			[]string{"lost unknown", "loss window unknown (not read back)"}, []string{"lost 0", "nothing lost"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := TrialLine(&c.trial)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			for _, n := range c.never {
				if strings.Contains(line, n) {
					t.Errorf("%q says %q", line, n)
				}
			}
		})
	}
}
