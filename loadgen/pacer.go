package loadgen

import (
	"math"
	"time"
)

// A Pacer decides when each op is due. It is a pure function of the time
// elapsed since the schedule started and the number of ops already issued
// (hits), with no clock inside, so it can be tested without sleeping
// (vegeta's lib/pacer.go).
type Pacer interface {
	// Pace returns how long to wait before op number hits (0-based) is due;
	// 0 when it is due or overdue. stop ends the schedule.
	Pace(elapsed time.Duration, hits uint64) (wait time.Duration, stop bool)
	// Rate is the target rate in ops per second at elapsed.
	Rate(elapsed time.Duration) float64
}

// ConstantPacer issues Freq ops per second: op n is due at n/Freq seconds.
// Freq +Inf makes every op due at once (a throughput test); Freq <= 0 or NaN
// issues nothing.
type ConstantPacer struct {
	Freq float64 // ops per second
}

var _ Pacer = ConstantPacer{}

// Pace implements Pacer.
func (p ConstantPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if !(p.Freq > 0) {
		return 0, true
	}
	if math.IsInf(p.Freq, 1) {
		return 0, false
	}
	dueNs := math.Round(float64(hits) / p.Freq * 1e9)
	if dueNs >= math.MaxInt64 {
		return 0, true // beyond any representable schedule
	}
	due := time.Duration(dueNs)
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

// Rate implements Pacer.
func (p ConstantPacer) Rate(time.Duration) float64 {
	if !(p.Freq > 0) {
		return 0
	}
	return p.Freq
}

// dueAt is the schedule offset at which op hits falls due: the earliest
// elapsed time at which p.Pace(elapsed, hits) returns 0. now is the current
// offset and floor the due time of the previous op (pacers are monotone, so
// op hits is never due before it). stop reports the end of the schedule.
func dueAt(p Pacer, hits uint64, floor, now time.Duration) (due time.Duration, stop bool) {
	wait, stop := p.Pace(now, hits)
	if stop {
		return 0, true
	}
	if wait > 0 {
		return now + wait, false
	}
	if floor >= now {
		return now, false
	}
	// Overdue: find when it fell due. For a constant pacer asking at the
	// floor gives the answer in one step; bisect for any other pacer.
	wait, _ = p.Pace(floor, hits)
	if wait == 0 {
		return floor, false
	}
	if cand := floor + wait; cand <= now {
		if w, _ := p.Pace(cand, hits); w == 0 {
			if w, _ := p.Pace(cand-1, hits); w > 0 {
				return cand, false
			}
		}
	}
	lo, hi := floor, now // Pace(lo) > 0, Pace(hi) == 0
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if w, _ := p.Pace(mid, hits); w == 0 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, false
}
