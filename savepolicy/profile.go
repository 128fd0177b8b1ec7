package savepolicy

import (
	"math"
	"sort"
	"time"
)

// Step is a stretch of steady writing in a Profile.
type Step struct {
	For      time.Duration // how long this rate lasts
	RatePerS float64       // changes per second (Valkey's dirty counter, not commands)
}

// Profile is a piecewise-constant write rate starting at time 0. The last
// step continues forever, unless Repeat makes the whole sequence cycle (a
// rate sampled over a few minutes, replayed over a day).
type Profile struct {
	Steps  []Step
	Repeat bool
}

// ConstantRate is a Profile that writes ratePerS forever.
func ConstantRate(ratePerS float64) Profile {
	return Profile{Steps: []Step{{For: time.Hour, RatePerS: ratePerS}}}
}

// MeanRate is the average rate over one pass of the steps (over a cycle
// when repeating); for a non-repeating profile it is the rate it settles on.
func (p Profile) MeanRate() float64 {
	c := p.cumulative()
	if p.Repeat && c.cycle > 0 {
		return c.writes[len(c.writes)-1] / c.cycle
	}
	return c.last
}

// Writes is the number of changes made in [0, t) (fractional: the k-th
// change happens when Writes reaches k).
func (p Profile) Writes(t time.Duration) float64 {
	return p.cumulative().writesAt(t.Seconds())
}

// cumulative is the profile prepared for lookups: step boundaries in
// seconds and the writes made before each.
type cumulative struct {
	starts []float64 // start of step i, seconds
	writes []float64 // writes before step i; one extra entry: after the last
	rates  []float64
	cycle  float64 // total length of the steps, seconds (0 when none)
	repeat bool
	last   float64 // rate after the last step when not repeating
}

func (p Profile) cumulative() cumulative {
	c := cumulative{repeat: p.Repeat}
	t, w := 0.0, 0.0
	for _, s := range p.Steps {
		rate := s.RatePerS
		if math.IsNaN(rate) || rate < 0 || math.IsInf(rate, 0) {
			rate = 0
		}
		dur := math.Max(s.For.Seconds(), 0)
		c.starts = append(c.starts, t)
		c.writes = append(c.writes, w)
		c.rates = append(c.rates, rate)
		t += dur
		w += rate * dur
		c.last = rate
	}
	c.writes = append(c.writes, w)
	c.cycle = t
	if c.cycle <= 0 || w <= 0 {
		c.repeat = false // a cycle of nothing: treat as the last rate forever
	}
	return c
}

// within is the writes made in [0, x) of one pass, x >= 0. Beyond the steps
// the last rate continues.
func (c cumulative) within(x float64) float64 {
	if len(c.starts) == 0 {
		return 0
	}
	i := sort.SearchFloat64s(c.starts, x)
	if i == len(c.starts) || c.starts[i] > x {
		i--
	}
	if i < 0 {
		return 0
	}
	if i == len(c.starts)-1 && x > c.cycle {
		return c.writes[i+1] + c.last*(x-c.cycle)
	}
	return c.writes[i] + c.rates[i]*(x-c.starts[i])
}

func (c cumulative) writesAt(t float64) float64 {
	if t <= 0 {
		return 0
	}
	if !c.repeat {
		return c.within(t)
	}
	k := math.Floor(t / c.cycle)
	return k*c.writes[len(c.writes)-1] + c.within(t-k*c.cycle)
}

// timeOf is the earliest t >= 0 with writesAt(t) >= n; ok is false when the
// profile never gets there.
func (c cumulative) timeOf(n float64) (float64, bool) {
	if n <= 0 {
		return 0, true
	}
	if c.repeat {
		perCycle := c.writes[len(c.writes)-1]
		k := math.Ceil(n/perCycle) - 1
		t, ok := c.timeWithin(n - k*perCycle)
		return k*c.cycle + t, ok
	}
	return c.timeWithin(n)
}

func (c cumulative) timeWithin(n float64) (float64, bool) {
	if len(c.starts) == 0 {
		return 0, false
	}
	total := c.writes[len(c.writes)-1]
	if n > total {
		if c.repeat || c.last <= 0 {
			return 0, false
		}
		return c.cycle + (n-total)/c.last, true
	}
	// The first step whose end reaches n.
	i := sort.SearchFloat64s(c.writes[1:], n)
	for i < len(c.rates) && c.rates[i] <= 0 {
		i++
	}
	if i >= len(c.rates) {
		return c.cycle, true
	}
	return c.starts[i] + (n-c.writes[i])/c.rates[i], true
}
