package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// readerPlotFile is the reader chart of the trial named name (a
// result.TrialNames entry), beside result.PlotFiles' charts.
func readerPlotFile(name string) string { return "plots/reader-" + name + ".png" }

// readerChart is the trial's hit ratio and origin load against time since
// the fault; no chart without a reader.
func readerChart(t *result.Trial) ([]byte, bool, error) {
	c, ok := readerCurve(t, strategyOf(t))
	if !ok {
		return nil, false, nil
	}
	png, err := StrategyChart([]StrategyCurve{c})
	return png, err == nil, err
}

// readerNumbers are what the cache-aside reader saw, for the trial's table.
func readerNumbers(t *result.Trial) []kv {
	r := t.Reader
	if r == nil {
		return nil
	}
	reached := func(ok bool, s float64) string {
		if ok {
			return fmtSeconds(s)
		}
		return "not reached"
	}
	out := []kv{
		{"Reader", fmt.Sprintf("%s reads: %s hits, %s misses, %s errors; %s fills from %s origin requests",
			fmtCount(int64(r.Reads)), fmtCount(int64(r.Hits)), fmtCount(int64(r.Misses)), fmtCount(int64(r.Errors)), fmtCount(int64(r.Fills)), fmtCount(int64(r.Origin)))},
		{"Reader steady state", fmt.Sprintf("hit ratio %.1f%% over %s reads from %s before the fault; origin %.0f requests/s",
			100*r.SteadyHitRatio, fmtCount(int64(r.SteadyReads)), fmtSeconds(-r.SteadyFromS), r.SteadyOriginPerS)},
		{"Hit ratio back to 90% / 99% of steady", fmt.Sprintf("%s / %s after the fault", reached(r.Reached90, r.To90S), reached(r.Reached99, r.To99S))},
	}
	rec := fmt.Sprintf("%s requests in %s (%.0f/s), %+.0f over the steady rate", fmtCount(int64(r.OriginDuringRecovery)), fmtSeconds(r.RecoveryS), r.OriginPerSRecovery, r.ExtraOrigin)
	if !r.RecoveryOK {
		rec += "; the hit ratio never got back to 99% (to the last read)"
	}
	out = append(out, kv{"Origin during recovery", rec})
	if len(r.ErrorsByKind) > 0 {
		kinds := make([]string, 0, len(r.ErrorsByKind))
		for k := range r.ErrorsByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %s", k, fmtCount(int64(r.ErrorsByKind[k])))
		}
		out = append(out, kv{"Read errors by kind", strings.Join(parts, ", ")})
	}
	gap := "no read got a reply after the fault"
	if r.ClientBackS >= 0 {
		gap = fmt.Sprintf("longest stretch without a reply %s, ended %s after the fault", fmtSeconds(r.ClientGapS), fmtSeconds(r.ClientBackS))
		if t.RTOS != nil {
			gap += fmt.Sprintf(" (the probe's RTO: %s)", fmtSeconds(*t.RTOS))
		}
	}
	out = append(out, kv{"Application client gap", gap})
	return out
}
