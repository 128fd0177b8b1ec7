package savepolicy

import (
	"math"
	"sort"
	"time"
)

// Tick is serverCron's period at the default hz 10: rules are checked, and a
// finished child is noticed, only on ticks.
const Tick = 100 * time.Millisecond

// Granularity is the worst extra delay before a time-bound rule fires:
// lastsave and the clock are whole seconds (up to 1 s) and serverCron checks
// every 100 ms (hz 10). See FACTS.md §1.
const Granularity = 1100 * time.Millisecond

// timeLag is how long after Seconds a time-bound rule fires, counted from
// the end of the previous save, once the cycle has settled. The fork that
// fires on time lands on the first tick after a whole second; the parent
// notices the child's end at the first tick D >= d after the fork (at least
// one tick), so lastsave is that many whole seconds later, and the next
// fork comes s + 1 + floor(D) seconds after the last one: an integer period
// that keeps the fork just after the second boundary. It lies in (0, 1.1 s].
func timeLag(d float64) float64 {
	tick := Tick.Seconds()
	noticed := math.Max(math.Ceil(d/tick-1e-9)*tick, tick)
	return 1 + math.Floor(noticed+1e-9) - d
}

// Prediction is what the rules promise at one steady write rate.
type Prediction struct {
	// Rule is the save point that fires first at this rate (zero if none does).
	Rule Rule
	// Fires is false when no rule ever fires (no writes, or no rules).
	Fires bool
	// CountBound is true when Rule waits for its change count rather than
	// its seconds (the window then follows changes/rate).
	CountBound bool
	// NextForkAfterEnd is the earliest time from the end of one save to the
	// fork of the next, ignoring clock granularity.
	NextForkAfterEnd time.Duration
	// WorstWindow bounds the loss window: a crash just before the next save
	// completes loses everything since the previous fork,
	// max(s + g + d, c/r + tick) + d, the smallest such bound over the rules.
	WorstWindow time.Duration
	// OldestLostWrite bounds the age, at the crash, of the oldest write the
	// crash loses. It equals WorstWindow less the gap between the snapshot
	// and the first write after it: for slow writers under a count-bound rule
	// (a save follows the write that completes the count) it is much smaller.
	// Zero when there are no writes.
	OldestLostWrite time.Duration
	// Period is the expected time from one fork to the next.
	Period time.Duration
	// MeanWindow is the expected loss window for a fault uniform in time:
	// the window climbs from d to Period + d over each cycle.
	MeanWindow time.Duration
	// SavesPerDay is 24 h / Period (0 when no rule fires).
	SavesPerDay float64
}

// ruleBounds is one rule's fork time after a save ends, at a steady rate.
type ruleBounds struct {
	low, mean, high float64 // seconds from the end of the previous save
	countBound      bool
	ageHigh         float64 // bound on (fork - first write after the snapshot)
}

func boundsFor(r Rule, rate, d float64) (ruleBounds, bool) {
	g, tick := Granularity.Seconds(), Tick.Seconds()
	s := float64(r.Seconds)
	var count, countAge float64 // count condition met, from the save's end
	switch {
	case r.Changes == 0:
		count, countAge = math.Inf(-1), math.Inf(-1)
	case rate <= 0:
		return ruleBounds{}, false
	default:
		// dirty counts from the fork, so the count is met c/r after the fork,
		// c/r - d after the end; the first write after the fork came c-1
		// intervals before the one that completes the count.
		count = float64(r.Changes)/rate - d
		countAge = float64(r.Changes-1) / rate
	}
	b := ruleBounds{
		low:        math.Max(s, count),
		mean:       math.Max(s+timeLag(d), count+tick/2),
		high:       math.Max(s+g, count+tick),
		countBound: count+tick/2 > s+timeLag(d),
		ageHigh:    math.Max(s+g+d, countAge+tick),
	}
	if count >= s+g {
		// The count always arrives after the clock allows: the save follows
		// the write that completes the count within a tick.
		b.ageHigh = countAge + tick
	}
	return b, true
}

// Predict applies Valkey's serverCron rules at a steady rate (writes/s), with
// bgsave the duration of one background save. Writes during a save carry
// over (dirty counts from the fork), the time condition counts from the end.
func Predict(rules Rules, ratePerS float64, bgsave time.Duration) Prediction {
	best := Prediction{WorstWindow: time.Duration(math.MaxInt64)}
	if math.IsNaN(ratePerS) || ratePerS < 0 || len(rules) == 0 {
		return best
	}
	d := math.Max(bgsave.Seconds(), 0)
	bestMean, worst, age, low := math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)
	for _, r := range rules {
		b, ok := boundsFor(r, ratePerS, d)
		if !ok {
			continue
		}
		// The earliest rule wins; which one Valkey logs is the first in
		// order among those due, so keep the first on ties.
		if b.mean < bestMean {
			bestMean = b.mean
			best.Rule, best.Fires, best.CountBound = r, true, b.countBound
		}
		// Every rule's bound holds on its own, so the smallest bounds the fork.
		worst = math.Min(worst, b.high)
		age = math.Min(age, b.ageHigh)
		low = math.Min(low, b.low)
	}
	if !best.Fires {
		return best
	}
	period := d + bestMean
	best.NextForkAfterEnd = seconds(math.Max(low, 0))
	best.WorstWindow = seconds(d + worst + d)
	if ratePerS > 0 {
		best.OldestLostWrite = seconds(math.Min(age+d, d+worst+d))
	}
	best.Period = seconds(period)
	best.MeanWindow = seconds(d + period/2)
	best.SavesPerDay = 86400 / period
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

// Regime names what sets the snapshot period over a range of rates: one
// rule, waiting either for its seconds or for its change count.
type Regime struct {
	Rule       Rule
	CountBound bool
}

// Threshold is a write rate at which the sawtooth bends: below it one regime
// sets the period, above it another.
type Threshold struct {
	Rate         float64
	Below, Above Regime
}

// Thresholds lists the rates where the window's regime changes, ignoring
// the BGSAVE duration and clock granularity (they shift each threshold by a
// few percent at most for saves much shorter than the rules' seconds).
func Thresholds(rules Rules) []Threshold {
	var candidates []float64
	for _, a := range rules {
		for _, b := range rules {
			if a.Changes > 0 {
				candidates = append(candidates, float64(a.Changes)/float64(b.Seconds))
			}
		}
	}
	sort.Float64s(candidates)
	var out []Threshold
	for i, c := range candidates {
		if i > 0 && c <= candidates[i-1]*(1+1e-9) {
			continue
		}
		below, okB := regimeAt(rules, c*(1-1e-6))
		above, okA := regimeAt(rules, c*(1+1e-6))
		if okB && okA && below != above {
			out = append(out, Threshold{Rate: c, Below: below, Above: above})
		}
	}
	return out
}

// regimeAt is the regime of the idealised cycle min over rules of
// max(s, c/r): the same rule and branch Predict would pick with d = 0 and no
// granularity.
func regimeAt(rules Rules, rate float64) (Regime, bool) {
	best, ok, bestFork := Regime{}, false, math.Inf(1)
	for _, r := range rules {
		count := math.Inf(-1)
		if r.Changes > 0 {
			count = float64(r.Changes) / rate
		}
		fork := math.Max(float64(r.Seconds), count)
		if fork < bestFork {
			best, ok, bestFork = Regime{Rule: r, CountBound: count > float64(r.Seconds)}, true, fork
		}
	}
	return best, ok
}

// SweepRates returns at least max(n, 8) steady write rates spread across the
// sawtooth of rules: every regime between two thresholds gets a rate at its
// geometric middle (so each threshold has a rate on both sides, robust to the
// BGSAVE shifting it a little), the rest go where the regimes are widest.
// Below the lowest threshold it reaches a factor 4 down, above the highest a
// factor 2 up (the top regime is flat). Rates are ascending.
func SweepRates(rules Rules, n int) []float64 {
	n = max(n, 8)
	th := Thresholds(rules)
	var edges []float64
	for _, t := range th {
		edges = append(edges, t.Rate)
	}
	if len(edges) == 0 {
		// One flat regime (e.g. only zero-change rules): any spread will do.
		edges = []float64{1}
	}
	// Regime k spans [lo_k, hi_k] in log space.
	type regime struct {
		lo, hi float64
		points int
	}
	regimes := []regime{{lo: math.Log(edges[0] / 4), hi: math.Log(edges[0])}}
	for i := 1; i < len(edges); i++ {
		regimes = append(regimes, regime{lo: math.Log(edges[i-1]), hi: math.Log(edges[i])})
	}
	regimes = append(regimes, regime{lo: math.Log(edges[len(edges)-1]), hi: math.Log(edges[len(edges)-1] * 2)})
	total := 0
	for i := range regimes {
		regimes[i].points = 1
		total++
	}
	for ; total < n; total++ {
		widest, width := 0, -1.0
		for i, r := range regimes {
			if w := (r.hi - r.lo) / float64(r.points+1); w > width {
				widest, width = i, w
			}
		}
		regimes[widest].points++
	}
	var rates []float64
	for _, r := range regimes {
		for j := 1; j <= r.points; j++ {
			rates = append(rates, math.Exp(r.lo+(r.hi-r.lo)*float64(j)/float64(r.points+1)))
		}
	}
	return rates
}

// seconds converts to a Duration, saturating instead of overflowing.
func seconds(s float64) time.Duration {
	ns := s * float64(time.Second)
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return time.Duration(math.MaxInt64)
	case ns <= math.MinInt64:
		return time.Duration(math.MinInt64)
	}
	return time.Duration(ns)
}

// NextFork is the earliest instant the rules allow the next fork, at a
// steady rate, given the last fork and Valkey's lastsave (INFO
// rdb_last_save_time, whole unix seconds, set when the parent noticed the
// save's end). A rule is due once the writes since the fork reach its
// changes (dirty counts from the fork) and the whole-second clock is past
// lastsave + seconds; the fork itself lands on the first serverCron tick at
// or after that instant, at most Tick later. ok is false when no rule can
// fire (no writes and every rule needs changes).
func NextFork(rules Rules, ratePerS float64, forked time.Time, lastSave int64) (at time.Time, ok bool) {
	for _, r := range rules {
		due := time.Unix(lastSave+r.Seconds+1, 0)
		if r.Changes > 0 {
			if ratePerS <= 0 || math.IsNaN(ratePerS) {
				continue
			}
			if counted := forked.Add(seconds(float64(r.Changes) / ratePerS)); counted.After(due) {
				due = counted
			}
		}
		if !ok || due.Before(at) {
			at, ok = due, true
		}
	}
	return at, ok
}
