package progress

import (
	"fmt"
	"math"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// TrialLine is the one line a run prints when a trial ends: its verdict
// and numbers as result.json has them. Unknown stays unknown: a trial that
// was never read back shows its loss as unknown, never 0, and a trial
// without a prediction (no rule fired, or persistence without one) says
// so instead of "predicted <= 0.00s".
func TrialLine(t *result.Trial) string {
	if t == nil {
		return "no result"
	}
	w := "n/a"
	switch {
	case t.ReplacementExited != "":
		w = "unknown (never recovered)"
	case t.Unread != "":
		w = "unknown (not read back)"
	case t.Lost == 0 && t.Verdict != result.Invalid:
		w = "none, nothing lost"
	case t.LossWindowS != nil:
		w = fmt.Sprintf("%.2fs [%.2f..%.2f]", t.LossWindowS.Estimate, t.LossWindowS.Low, t.LossWindowS.High)
	}
	lost := fmt.Sprint(t.Lost)
	if t.ReplacementExited != "" || t.Unread != "" {
		lost = "unknown"
	}
	pred := "no prediction"
	if t.PredictedLossWindowS > 0 {
		pred = fmt.Sprintf("predicted <= %.2fs", t.PredictedLossWindowS)
	}
	f := func(p *float64) string {
		if p == nil || math.IsNaN(*p) {
			return "n/a"
		}
		return fmt.Sprintf("%.3fs", *p)
	}
	line := fmt.Sprintf("%s: acked %d, lost %s, recovered %d, anomalies %d, loss window %s (%s), warm-up %s, server load %s, RTO %s",
		strings.ToUpper(string(t.Verdict)), t.Acked, lost, t.Recovered, t.Anomalies, w, pred, f(t.WarmupS), f(t.ServerLoadS), f(t.RTOS))
	if len(t.Reasons) > 0 {
		line += "; " + strings.Join(t.Reasons, "; ")
	}
	return line
}
