package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// worthItFindings say per scenario and fault what persistence bought, with
// the run's numbers: the origin's extra load without it, and what AOF
// changes against the snapshot in loss, latency and EFS cost. Invalid
// trials are no evidence and are left out.
func worthItFindings(run *result.Run) []Finding {
	order, by := worthItTrials(run)
	var out []Finding
	for _, sc := range order {
		idx := by[sc]
		for _, f := range firstSeen(run, idx, func(t *result.Trial) string { return t.Fault }) {
			pick := func(st savepolicy.Strategy) *result.Trial {
				for _, i := range idx {
					t := &run.Trials[i]
					if t.Fault == f && strategyOf(t) == string(st) && t.Verdict != result.Invalid {
						return t
					}
				}
				return nil
			}
			none, rdb := pick(savepolicy.StrategyNone), pick(savepolicy.StrategyRDB)
			if fd, ok := originFinding(sc, f, none, rdb); ok {
				out = append(out, fd)
			}
			for _, st := range []savepolicy.Strategy{savepolicy.StrategyAOFEverysec, savepolicy.StrategyAOFAlways, savepolicy.StrategyRDBAOF} {
				if fd, ok := aofFinding(run, sc, f, rdb, pick(st)); ok {
					out = append(out, fd)
				}
			}
		}
	}
	return out
}

// originFinding: what the database behind the cache took after a restart
// without persistence, against the snapshot.
func originFinding(sc, fault string, none, rdb *result.Trial) (Finding, bool) {
	if none == nil || none.Reader == nil {
		return Finding{}, false
	}
	r := none.Reader
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s: without persistence (none) the cache came back empty and the origin took %s requests over %s after the fault (%s extra over its steady %.0f/s)",
		sc, fault, fmtCount(int64(r.OriginDuringRecovery)), fmtSeconds(r.RecoveryS), fmtCount(int64(math.Round(r.ExtraOrigin))), r.SteadyOriginPerS)
	if r.RecoveryOK {
		fmt.Fprintf(&b, " before the hit ratio was back to 99%% of its steady %.0f%%", 100*r.SteadyHitRatio)
	} else {
		fmt.Fprintf(&b, "; the hit ratio was still below 99%% of its steady %.0f%% when the trial ended, so the extra load went on", 100*r.SteadyHitRatio)
	}
	level := "info"
	if rr := rdbReader(rdb); rr != nil {
		fmt.Fprintf(&b, "; with the snapshot (rdb) it took %s extra over %s", fmtCount(int64(math.Round(math.Max(rr.ExtraOrigin, 0)))), fmtSeconds(rr.RecoveryS))
		if r.ExtraOrigin > math.Max(rr.ExtraOrigin, 0) {
			level = "warn"
		}
	}
	b.WriteString(". Every restart without the snapshot puts that load on the database.")
	return Finding{Level: level, Text: b.String()}, true
}

func rdbReader(t *result.Trial) *result.ReadSummary {
	if t == nil {
		return nil
	}
	return t.Reader
}

// aofFinding: an AOF strategy against the snapshot, under one fault.
func aofFinding(run *result.Run, sc, fault string, rdb, aof *result.Trial) (Finding, bool) {
	if aof == nil || rdb == nil {
		return Finding{}, false
	}
	st := strategyOf(aof)
	var parts []string
	if fault == "crash" {
		parts = append(parts, fmt.Sprintf("cuts the loss on a %s from %s to %s", faultText(aof), lossText(rdb), lossText(aof)))
	} else if aof.Lost == 0 && rdb.Lost == 0 {
		parts = append(parts, "loses nothing, like the snapshot")
	} else {
		parts = append(parts, fmt.Sprintf("loses %s where the snapshot lost %s", lossText(aof), lossText(rdb)))
	}
	if a, r := aof.Latency, rdb.Latency; a != nil && r != nil && a.Count > 0 && r.Count > 0 {
		parts = append(parts, fmt.Sprintf("writes at p99 %.3g ms against the snapshot's %.3g ms", a.P99, r.P99))
	}
	ca, okA := trialStrategyCost(run, aof)
	cr, okR := trialStrategyCost(run, rdb)
	if okA && okR {
		d := ca.Cost.TotalUSD - cr.Cost.TotalUSD
		more := "more"
		if d < 0 {
			more = "less"
		}
		parts = append(parts, fmt.Sprintf("costs %s/day (%s/month) %s than the snapshot on EFS at this rate (%s writes/s with the reader's fills: %s/day against %s/day)",
			usd(math.Abs(d)), usd(math.Abs(d)*365/12), more, fmtRate(writeRate(run, aof)), usd(ca.Cost.TotalUSD), usd(cr.Cost.TotalUSD)))
	}
	return Finding{Level: "info", Text: fmt.Sprintf("%s, %s: %s %s.", sc, fault, st, joinAnd(parts))}, true
}

// lossText is a trial's loss in words: nothing, the snapshot's window or the
// oldest lost write.
func lossText(t *result.Trial) string {
	switch {
	case t.Lost == 0:
		return "nothing"
	case t.LossWindowS != nil && strategyOf(t) == string(savepolicy.StrategyRDB):
		return fmt.Sprintf("a %s window (%s writes)", fmtSeconds(t.LossWindowS.Estimate), fmtCount(int64(t.Lost)))
	case t.OldestLostS != nil:
		return fmt.Sprintf("%s writes, the oldest %s old", fmtCount(int64(t.Lost)), fmtSeconds(*t.OldestLostS))
	}
	return fmtCount(int64(t.Lost)) + " writes"
}

// The deployment's own cost estimate (the seed change's summary).
const (
	seedEstimateLowUSDMonth  = 0.02
	seedEstimateHighUSDMonth = 0.06
)

// costFinding sets the deployment's estimate against the model at the
// fastest measured write rate of a valid rdb trial, and names the
// cheapest throughput mode that keeps the snapshots (hence the RPO) on
// schedule.
func costFinding(run *result.Run) []Finding {
	var worst *result.Trial
	for i := range run.Trials {
		t := &run.Trials[i]
		if strategyOf(t) != string(savepolicy.StrategyRDB) || t.Verdict == result.Invalid {
			continue
		}
		if worst == nil || writeRate(run, t) > writeRate(run, worst) {
			worst = t
		}
	}
	if worst == nil {
		return nil
	}
	c, ok := trialStrategyCost(run, worst)
	if !ok || c.Cost.TotalUSD <= 0 {
		return nil
	}
	rdb, est := rdbBytesOf(run, worst)
	size := fmtBytes(rdb)
	if est {
		size = "about " + size + " (estimated)"
	}
	fills := ""
	if worst.Reader != nil {
		fills = ", the reader's fills included"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Cost: the deployment estimated $%.2f–%.2f/month for EFS. At the measured %s writes/s (real time%s) and an RDB of %s, the model gives %s/day, %s/month on %s throughput (%s written per hour)",
		seedEstimateLowUSDMonth, seedEstimateHighUSDMonth, fmtRate(writeRate(run, worst)), fills, size, usd(c.Cost.TotalUSD), usd(c.Cost.TotalUSDPerMonth),
		storageOf(run).Mode, fmtBytes(int64(c.WriteBytesPerHour)))
	if mode := storageOf(run).Mode; mode != savepolicy.Bursting {
		st := savepolicy.Storage{Mode: savepolicy.Bursting, Prices: savepolicy.DefaultPrices()}
		saves := c.SnapshotBytesPerDay / math.Max(float64(rdb), 1)
		burst := st.Bursting(rdb, saves, 1)
		bc := st.DailyCost(rdb, saves, 1)
		if burst.Sustainable {
			fmt.Fprintf(&b, "; Bursting throughput sustains these snapshots on its baseline and costs %s/day, %s/month (storage only), the cheapest mode that keeps the RPO", usd(bc.TotalUSD), usd(bc.TotalUSDPerMonth))
		} else {
			fmt.Fprintf(&b, "; Bursting would cost %s/day (%s/month) but its baseline cannot sustain the snapshots (a full credit balance lasts %.1f days, then saves crawl at the baseline), so in the long run it would not keep the RPO", usd(bc.TotalUSD), usd(bc.TotalUSDPerMonth), burst.DaysFromFull)
		}
	}
	b.WriteString(".")
	level := "info"
	if c.Cost.TotalUSDPerMonth > 2*seedEstimateHighUSDMonth {
		level = "warn"
	}
	return []Finding{{Level: level, Text: b.String()}}
}

// joinAnd lists clauses: "a", "a and b", "a, b and c".
func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// usd prints dollars with the precision small sums need.
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case math.Abs(v) < 0.01:
		return fmt.Sprintf("$%.5f", v)
	case math.Abs(v) < 1:
		return fmt.Sprintf("$%.3f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}
