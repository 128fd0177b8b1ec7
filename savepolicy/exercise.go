package savepolicy

import (
	"fmt"
	"math"
	"time"
)

// Exercise is a write rate chosen to make one rule fire, at the scale the
// server runs, with the BGSAVE duration taken into account.
type Exercise struct {
	Rate float64 // writes/s at the run's scale
	// Regime says whether the rule waits for its seconds or its changes at
	// this rate; SameRegime is whether it does the same at the real rules
	// and the real rate (Rate × scale).
	CountBound, SameRegime bool
	// Note says, when the scaled trial is not representative of the real
	// rule, why (empty otherwise). Every figure in it is labelled.
	Note string
}

// exerciseSamples is how finely the rate axis is searched (log-spaced).
const exerciseSamples = 600

// ExerciseRateAt picks a rate at which scaled[i] is the rule that fires
// first under Predict with the measured bgsave (the save is never scaled),
// preferring rates at which the rule fires in the same regime (clock- or
// count-bound) as real[i] does at the real rate. Among candidates it takes
// the one nearest ExerciseRate's choice (which ignores the save), so the
// trial stays as close as it can to the real rate it was meant to stand
// for. ok is false when no rate makes the rule fire first.
func ExerciseRateAt(real Rules, scale float64, i int, bgsave time.Duration) (Exercise, bool) {
	scaled := real.Scale(scale)
	if i < 0 || i >= len(scaled) || scale <= 0 {
		return Exercise{}, false
	}
	var fires, same []float64 // candidate rates, ascending
	lo, hi := math.Log(1e-4), math.Log(1e7)
	for k := 0; k <= exerciseSamples; k++ {
		r := math.Exp(lo + (hi-lo)*float64(k)/exerciseSamples)
		p := Predict(scaled, r, bgsave)
		if !p.Fires || p.Rule != scaled[i] {
			continue
		}
		fires = append(fires, r)
		rp := Predict(real, r*scale, bgsave)
		if rp.Fires && rp.Rule == real[i] && rp.CountBound == p.CountBound {
			same = append(same, r)
		}
	}
	if len(fires) == 0 {
		return Exercise{}, false
	}
	pool, sameRegime := same, true
	if len(pool) == 0 {
		pool, sameRegime = fires, false
	}
	target, ok := ExerciseRate(scaled, i)
	if !ok {
		target = math.Sqrt(pool[0] * pool[len(pool)-1])
	}
	rate := nearestIn(pool, target)
	p := Predict(scaled, rate, bgsave)
	ex := Exercise{Rate: rate, CountBound: p.CountBound, SameRegime: sameRegime}
	ex.Note = representativeness(real, scale, i, rate, bgsave, sameRegime)
	return ex, true
}

func nearestIn(rates []float64, want float64) float64 {
	best := rates[0]
	for _, r := range rates {
		if math.Abs(math.Log(r/want)) < math.Abs(math.Log(best/want)) {
			best = r
		}
	}
	return best
}

// representativeness says why a scaled trial does not stand for the real
// rule: a different regime, or a BGSAVE that weighs far more in the scaled
// window than in the real one (it is never scaled).
func representativeness(real Rules, scale float64, i int, rate float64, bgsave time.Duration, sameRegime bool) string {
	if scale == 1 {
		return ""
	}
	scaled := real.Scale(scale)
	sp := Predict(scaled, rate, bgsave)
	rp := Predict(real, rate*scale, bgsave)
	regime := func(count bool) string {
		if count {
			return "its change count"
		}
		return "its clock"
	}
	if !sameRegime {
		return fmt.Sprintf("at time scale %g rule %q (scaled %q) fires on %s at %s (scaled), but the real rule at %s (real) fires on %s: no scaled rate keeps the regime, so this trial tests a different regime from the one it reports",
			scale, real[i], scaled[i], regime(sp.CountBound), FormatRate(rate), FormatRate(rate*scale), regime(rp.CountBound))
	}
	if bgsave <= 0 || sp.WorstWindow <= 0 || rp.WorstWindow <= 0 {
		return ""
	}
	scaledShare := 2 * bgsave.Seconds() / sp.WorstWindow.Seconds()
	realShare := 2 * bgsave.Seconds() / rp.WorstWindow.Seconds()
	if scaledShare < 0.25 {
		return ""
	}
	return fmt.Sprintf("the BGSAVE (%.2fs) is never scaled: twice it is %.0f%% of the scaled worst window (%.2fs at scale %g) but %.1f%% of the real one (%.1fs at scale 1), so the scaled trial overstates the save's weight in the loss window",
		bgsave.Seconds(), 100*scaledShare, sp.WorstWindow.Seconds(), scale, 100*realShare, rp.WorstWindow.Seconds())
}
