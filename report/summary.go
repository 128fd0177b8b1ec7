package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// WriteSummary prints one line per trial for a terminal or a CI log.
func WriteSummary(w io.Writer, run *result.Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trial\tfault\trate\tacked\tlost\trecovered\tanomalies\tloss window s\tpredicted s\twarm-up s\tserver load s\tRTO s\tverdict\t")
	for _, t := range run.Trials {
		win := "-"
		if t.LossWindowS != nil && t.Lost > 0 {
			win = fmt.Sprintf("%.2f [%.2f..%.2f]", t.LossWindowS.Estimate, t.LossWindowS.Low, t.LossWindowS.High)
		}
		lost := fmt.Sprint(t.Lost)
		if unread(&t) { // nothing (or not everything) could be read back
			lost, win = "unknown", "unknown"
		}
		label := t.Scenario
		if t.Rule != "" {
			label += " " + t.Rule
		}
		if t.Dataset != nil { // a size sweep: the size tells the trials apart
			label += " " + fmtCount(t.Dataset.Keys) + " keys"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%.2f\t%s\t%s\t%s\t%s\t\n", label, t.Fault, savepolicy.FormatRate(t.RatePerS), t.Acked, lost, t.Recovered, t.Anomalies,
			win, t.PredictedLossWindowS, summarySeconds(t.WarmupS), summarySeconds(t.ServerLoadS), summarySeconds(t.RTOS), t.Verdict)
	}
	return tw.Flush()
}

func summarySeconds(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *p)
}
