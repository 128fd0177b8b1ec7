package savepolicy

import (
	"math"
	"time"
)

// Granularity is the worst extra delay before a time-bound rule fires:
// lastsave and the clock are whole seconds (up to 1 s) and serverCron checks
// every 100 ms (hz 10). See FACTS.md §1.
const Granularity = 1100 * time.Millisecond

// Prediction is what the rules promise at one steady write rate.
type Prediction struct {
	// Rule is the save point that fires first at this rate (zero if none does).
	Rule Rule
	// Fires is false when no rule ever fires (no writes, or no rules).
	Fires bool
	// NextForkAfterEnd is the earliest time from the end of one save to the
	// fork of the next, ignoring clock granularity.
	NextForkAfterEnd time.Duration
	// WorstWindow bounds the loss window: a crash just before the next save
	// completes loses everything since the previous fork,
	// max(s + g + d, c/r) + d.
	WorstWindow time.Duration
}

// Predict applies Valkey's serverCron rules at a steady rate (writes/s), with
// bgsave the duration of one background save. Writes during a save carry
// over (dirty counts from the fork), the time condition counts from the end.
func Predict(rules Rules, ratePerS float64, bgsave time.Duration) Prediction {
	best := Prediction{WorstWindow: time.Duration(math.MaxInt64)}
	if ratePerS <= 0 || len(rules) == 0 {
		return best
	}
	d := bgsave.Seconds()
	bestFork := math.Inf(1)
	for _, r := range rules {
		byTime := float64(r.Seconds)               // from save end
		byCount := float64(r.Changes)/ratePerS - d // from save end (count started at fork)
		fork := math.Max(byTime, byCount)
		if fork < bestFork {
			bestFork = fork
			worst := math.Max(float64(r.Seconds)+Granularity.Seconds()+d, float64(r.Changes)/ratePerS) + d
			best = Prediction{
				Rule:             r,
				Fires:            true,
				NextForkAfterEnd: seconds(math.Max(fork, 0)),
				WorstWindow:      seconds(worst),
			}
		}
	}
	return best
}

// ExerciseRate is a steady write rate at which rules[i] is the rule that
// fires: fast enough that its change count is met within its seconds, slow
// enough that no shorter rule's count is met first. Between those bounds it
// takes the geometric middle, raised towards the upper bound (with a 20%
// margin) so a cycle carries at least ten writes. ok is false when no rate
// makes rules[i] fire first.
func ExerciseRate(rules Rules, i int) (rate float64, ok bool) {
	r := rules[i]
	lower := float64(r.Changes) / float64(r.Seconds)
	upper := math.Inf(1)
	for j, o := range rules {
		if j == i || o.Seconds >= r.Seconds {
			continue
		}
		// A shorter rule o fires first once its count arrives before r's time.
		upper = math.Min(upper, float64(o.Changes)/float64(r.Seconds))
	}
	if lower >= upper {
		return 0, false
	}
	if math.IsInf(upper, 1) {
		return lower * 1.2, true
	}
	rate = math.Sqrt(lower * upper)
	enough := math.Min(10/(0.9*float64(r.Seconds)), 0.8*upper)
	return math.Max(rate, enough), true
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
