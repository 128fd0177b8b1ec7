package capacity

import (
	"fmt"
	"math"

	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// Names of the limits, in the order they are reported.
const (
	StopTimeoutLimit = "stop-timeout" // the final save within the stop timeout
	HealthCheckLimit = "health-check" // the load within the health check's budget
	MemoryLimit      = "memory"       // dataset + overhead + copy-on-write within the task memory
	BurstLimit       = "efs-burst"    // EFS Bursting credits do not run out
)

// constraint is one limit as a predicate over (dataset, rate).
type constraint struct {
	name   string
	fits   func(dataset int64, rate float64) bool
	detail func(dataset int64, rate float64) string
}

func (in Input) constraints() []constraint {
	cs := []constraint{
		{StopTimeoutLimit, func(d int64, _ float64) bool {
			return in.saveTime(d).Seconds() <= stopMargin*in.StopTimeout.Seconds()
		}, func(d int64, _ float64) string {
			return fmt.Sprintf("final save of %s at %s/s takes %s of the %s stop timeout (%.0f%% usable)",
				fmtBytes(in.rdbBytes(d)), fmtBytes(int64(in.Storage.WriteMiBps()*in.cpuShare()*(1<<20))),
				savepolicy.FormatDuration(in.saveTime(d)), savepolicy.FormatDuration(in.StopTimeout), 100*stopMargin)
		}},
		{HealthCheckLimit, func(d int64, _ float64) bool {
			return in.loadTime(d) <= in.HealthCheck.Budget()
		}, func(d int64, _ float64) string {
			h := in.HealthCheck
			grace := "startPeriod " + savepolicy.FormatDuration(h.StartPeriod)
			if h.LoadingGrace > h.StartPeriod {
				grace = "LOADING grace " + savepolicy.FormatDuration(h.LoadingGrace)
			}
			return fmt.Sprintf("load of %s takes %s against %s + %d retries x %s interval = %s",
				fmtBytes(in.rdbBytes(d)), savepolicy.FormatDuration(in.loadTime(d)), grace,
				h.Retries, savepolicy.FormatDuration(h.Interval), savepolicy.FormatDuration(h.Budget()))
		}},
		{MemoryLimit, func(d int64, r float64) bool {
			n, err := in.memory(d, r)
			return err == nil && n.Fits
		}, func(d int64, r float64) string {
			n, _ := in.memory(d, r)
			return fmt.Sprintf("dataset %s + overhead %s + copy-on-write %s = %s of %s",
				fmtBytes(n.DatasetBytes), fmtBytes(n.OverheadBytes), fmtBytes(n.CowPeakBytes), fmtBytes(n.NeedBytes), fmtBytes(n.LimitBytes))
		}},
	}
	if in.Storage.Mode == savepolicy.Bursting {
		cs = append(cs, constraint{BurstLimit, func(d int64, r float64) bool {
			b := in.burst(d, r)
			return b.Sustainable || (in.BurstHorizon > 0 && b.DaysFromFull*24 >= in.BurstHorizon.Hours())
		}, func(d int64, r float64) string {
			b := in.burst(d, r)
			s := fmt.Sprintf("saves and loads meter %s/s against a baseline of %s/s", fmtBytes(int64(b.DemandBytesPerS)), fmtBytes(int64(b.BaselineBytesPerS)))
			if !b.Sustainable {
				s += fmt.Sprintf(": a full balance lasts %.1f days", b.DaysFromFull)
			}
			return s
		}})
	}
	return cs
}

func (in Input) memory(dataset int64, rate float64) (savepolicy.TaskMemoryNeed, error) {
	return savepolicy.TaskMemory(savepolicy.TaskMemoryInput{
		LimitBytes: in.MemoryBytes, OverheadBytes: in.OverheadBytes, Model: in.Cow,
		Cow: savepolicy.CowInput{DatasetBytes: max(dataset, 1), Keys: max(int64(float64(dataset)/in.BytesPerKey), 1),
			WritesPerS: rate, BGSave: in.saveTime(dataset), Kind: savepolicy.Overwrite, Dist: in.Dist},
	})
}

func (in Input) burst(dataset int64, rate float64) savepolicy.Burst {
	pred := savepolicy.Predict(in.Rules, rate, in.saveTime(dataset))
	return in.Storage.Bursting(in.rdbBytes(dataset), pred.SavesPerDay, in.RestartsPerDay)
}

// Evaluate reads every limit at the input workload.
func Evaluate(in Input) (Result, error) {
	if err := in.normalise(); err != nil {
		return Result{}, err
	}
	res := Result{MaxDatasetBytes: unlimited, MaxWritesPerS: unlimited, Holds: true,
		SaveDuration: in.saveTime(in.DatasetBytes), LoadDuration: in.loadTime(in.DatasetBytes)}
	for _, c := range in.constraints() {
		l := Limit{
			Name:            c.name,
			MaxDatasetBytes: maxDataset(func(d int64) bool { return c.fits(d, in.WritesPerS) }),
			MaxWritesPerS:   maxRate(func(r float64) bool { return c.fits(in.DatasetBytes, r) }),
			Holds:           c.fits(in.DatasetBytes, in.WritesPerS),
			Detail:          c.detail(in.DatasetBytes, in.WritesPerS),
		}
		res.Limits = append(res.Limits, l)
		res.Holds = res.Holds && l.Holds
		if below(l.MaxDatasetBytes, res.MaxDatasetBytes) {
			res.MaxDatasetBytes, res.Binding = l.MaxDatasetBytes, l.Name
		}
		if l.MaxWritesPerS != unlimited && (res.MaxWritesPerS == unlimited || l.MaxWritesPerS < res.MaxWritesPerS) {
			res.MaxWritesPerS = l.MaxWritesPerS
		}
	}
	if n, err := in.memory(in.DatasetBytes, in.WritesPerS); err == nil {
		res.CowPeakBytes = n.CowPeakBytes
	}
	pred := savepolicy.Predict(in.Rules, in.WritesPerS, res.SaveDuration)
	res.RPO, res.MeanRPO = pred.WorstWindow, pred.MeanWindow
	return res, nil
}

// Boundaries gives, for each limit, the largest dataset at each rate: the
// curves a capacity chart draws (-1: no limit at that rate).
func Boundaries(in Input, rates []float64) (map[string][]int64, error) {
	if err := in.normalise(); err != nil {
		return nil, err
	}
	out := map[string][]int64{}
	for _, c := range in.constraints() {
		for _, r := range rates {
			out[c.name] = append(out[c.name], maxDataset(func(d int64) bool { return c.fits(d, r) }))
		}
	}
	return out, nil
}

// below compares largest datasets where -1 means no limit.
func below(a, b int64) bool {
	return a != unlimited && (b == unlimited || a < b)
}

// maxDataset is the largest dataset below which everything fits: found by
// doubling from 1 MiB to the first dataset that does not fit, then
// bisecting (a limit need not be monotone all the way: EFS Bursting's
// baseline grows with the data stored, so huge datasets balance again).
// -1 when nothing up to 1 PiB fails.
func maxDataset(fits func(int64) bool) int64 {
	if !fits(1) {
		return 0
	}
	lo, hi := int64(1), int64(1<<20)
	for fits(hi) {
		if hi >= maxDatasetBytes {
			return unlimited
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > max(lo>>12, 1) { // to 0.025%
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// maxRate bisects the highest write rate that fits; 0 when even no writes
// do not, -1 when every rate does.
func maxRate(fits func(float64) bool) float64 {
	if !fits(0) {
		return 0
	}
	lo, hi := 0.0, 1.0
	for fits(hi) {
		if hi > 1e9 {
			return unlimited
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > math.Max(hi*1e-4, 1e-9) { // save rules matter down to 1/900 s and below
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

func fmtBytes(b int64) string { return savepolicy.FormatBytes(float64(b)) }
