package report

import (
	"fmt"
	"sort"

	"github.com/trigpointing/valkey-chaos/result"
)

// capacityView is the table of a capacity sweep (scenario sizes): for each
// dataset size, what a graceful stop's final save cost and whether it fit in
// the stop timeout, and the warm-up of the replacement.
type capacityView struct {
	StopTimeout string
	Rows        []capacityRow
	// Largest names the largest dataset that still stopped gracefully.
	Largest string
	// Estimate is stop timeout x the final saves' observed throughput:
	// where the model puts the limit.
	Estimate string
}

type capacityRow struct {
	Keys, RDB, FinalSave, Throughput, Outcome, Warmup, Lost string
}

// capacity builds the sweep table from the graceful-stop trials (a stop or
// a rolling deployment: both end with a final save) that carry their own
// dataset; nil when the run swept no sizes.
func capacity(run *result.Run) *capacityView {
	var trials []result.Trial
	for _, t := range run.Trials {
		if t.Dataset != nil && graceful(&t) && t.Verdict != "invalid" {
			trials = append(trials, t)
		}
	}
	if len(trials) < 2 {
		return nil
	}
	sort.SliceStable(trials, func(i, j int) bool { return trials[i].Dataset.Keys < trials[j].Dataset.Keys })
	stop := run.Target.StopTimeoutS
	v := &capacityView{StopTimeout: fmtSeconds(stop)}
	var largest *result.Trial
	var bytes, seconds float64
	for i := range trials {
		t := &trials[i]
		ds := t.Dataset
		row := capacityRow{Keys: fmtCount(ds.Keys), RDB: "-", FinalSave: "did not finish", Throughput: "-", Warmup: optSeconds(t.WarmupS, "none"), Lost: fmt.Sprint(t.Lost)}
		if ds.RDBBytes > 0 {
			row.RDB = fmtBytes(ds.RDBBytes)
		}
		if t.FinalSaveS != nil {
			row.FinalSave = fmtSeconds(*t.FinalSaveS)
			if *t.FinalSaveS > 0 && ds.RDBBytes > 0 {
				row.Throughput = fmt.Sprintf("%.1f MiB/s", float64(ds.RDBBytes)/(1<<20) / *t.FinalSaveS)
				bytes += float64(ds.RDBBytes)
				seconds += *t.FinalSaveS
			}
		}
		if t.StopEscalated {
			row.Outcome = "SIGKILL at the stop timeout"
		} else {
			row.Outcome = "graceful"
			largest = t
		}
		v.Rows = append(v.Rows, row)
	}
	if largest != nil {
		v.Largest = fmt.Sprintf("%s keys (RDB %s)", fmtCount(largest.Dataset.Keys), fmtBytes(largest.Dataset.RDBBytes))
	} else {
		v.Largest = "none: every size ended in SIGKILL"
	}
	if seconds > 0 && stop > 0 {
		v.Estimate = fmt.Sprintf("about %s of RDB (stop timeout %s x %.1f MiB/s observed final-save throughput)", fmtBytes(int64(stop*bytes/seconds)), fmtSeconds(stop), bytes/(1<<20)/seconds)
	}
	return v
}
