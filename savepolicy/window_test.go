package savepolicy

import (
	"math"
	"testing"
	"time"
)

func TestExerciseRateMatchesIssueRates(t *testing.T) {
	rules, err := Parse(Default)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rule     int
		min, max float64
	}{
		{0, 0.005, 0.011}, // 900 1: about 0.01/s
		{1, 0.5, 2},       // 300 10: about 1/s
		{2, 167, 250},     // 60 10000: about 200/s
	}
	for _, tc := range tests {
		rate, ok := ExerciseRate(rules, tc.rule)
		if !ok || rate < tc.min || rate > tc.max {
			t.Errorf("rule %v: rate %v ok=%v, want in [%v, %v]", rules[tc.rule], rate, ok, tc.min, tc.max)
		}
		p := Predict(rules, rate, 2*time.Second)
		if p.Rule != rules[tc.rule] {
			t.Errorf("at %v/s the predicted rule is %v, want %v", rate, p.Rule, rules[tc.rule])
		}
	}
}

// TestSawtooth pins the shape the issue describes for the default rules
// (900 s at the slowest rates, 300 s, then changes/rate, then about 61 s
// above 167 writes/s), with expectations written as FACTS.md §1.2b's
// formulas: time-bound max(s + 1.1 + d) + d, count-bound c/r + 0.1 + d.
func TestSawtooth(t *testing.T) {
	rules, _ := Parse(Default)
	g, tick := Granularity.Seconds(), Tick.Seconds()
	for _, d := range []float64{0, 3} {
		tests := []struct {
			rate       float64
			rule       Rule
			countBound bool
			worst      float64
		}{
			{0.0005, Rule{900, 1}, true, 1/0.0005 + tick + d},
			{0.005, Rule{900, 1}, false, 900 + g + 2*d},
			{0.02, Rule{300, 10}, true, 10/0.02 + tick + d},
			{1, Rule{300, 10}, false, 300 + g + 2*d},
			{30, Rule{300, 10}, false, 300 + g + 2*d},
			{50, Rule{60, 10000}, true, 10000.0/50 + tick + d},
			{100, Rule{60, 10000}, true, 10000.0/100 + tick + d},
			{200, Rule{60, 10000}, false, 60 + g + 2*d},
			{5000, Rule{60, 10000}, false, 60 + g + 2*d},
		}
		for _, tc := range tests {
			p := Predict(rules, tc.rate, seconds(d))
			if !p.Fires || p.Rule != tc.rule || p.CountBound != tc.countBound {
				t.Errorf("d=%v at %v/s: rule %v count-bound=%v fires=%v; want %v count-bound=%v", d, tc.rate, p.Rule, p.CountBound, p.Fires, tc.rule, tc.countBound)
			}
			if math.Abs(p.WorstWindow.Seconds()-tc.worst) > 1e-6 {
				t.Errorf("d=%v at %v/s: worst window %.3f s, want %.3f s", d, tc.rate, p.WorstWindow.Seconds(), tc.worst)
			}
		}
	}
}

// TestFACTSExamples checks FACTS.md §1.2b: heavy writers under "60 10000"
// lose up to about 61 s + 2d; 100 writes/s lose up to 100 s + d (the 60 s
// rule needs 167 writes/s).
func TestFACTSExamples(t *testing.T) {
	rules, _ := Parse(Default)
	d := 4 * time.Second
	heavy := Predict(rules, 2000, d)
	if w := heavy.WorstWindow.Seconds(); w < 61+2*d.Seconds()-0.1 || w > 61+2*d.Seconds()+Granularity.Seconds() {
		t.Errorf("heavy writer: worst %.2f s, want about 61 s + 2d = %.0f s", w, 61+2*d.Seconds())
	}
	medium := Predict(rules, 100, d)
	if w := medium.WorstWindow.Seconds(); math.Abs(w-(100+d.Seconds())) > Granularity.Seconds() {
		t.Errorf("100 writes/s: worst %.2f s, want about 100 s + d = %.0f s", w, 100+d.Seconds())
	}
	if r, ok := ExerciseRate(Rules{{60, 10000}}, 0); !ok || r < 10000.0/60 {
		t.Errorf("the 60 s rule alone needs 10000/60 = 167 writes/s, got %v", r)
	}
}

func TestPredictNoWritesNeverFires(t *testing.T) {
	rules, _ := Parse(Default)
	if p := Predict(rules, 0, time.Second); p.Fires {
		t.Fatalf("no writes should never fire a save, got %+v", p)
	}
	if p := Predict(Rules{}, 100, time.Second); p.Fires {
		t.Fatalf(`save "" should never fire, got %+v`, p)
	}
}

// TestZeroChangeRuleSavesWhenIdle: Valkey accepts "30 0", which saves
// every 30 s even with nothing to save.
func TestZeroChangeRuleSavesWhenIdle(t *testing.T) {
	rules, _ := Parse("30 0")
	p := Predict(rules, 0, 0)
	if !p.Fires || p.OldestLostWrite != 0 {
		t.Fatalf("idle under \"30 0\": %+v, want it to fire and lose nothing", p)
	}
	sim := Simulate(rules, ConstantRate(0), BGSave{}, time.Hour)
	if n := len(sim.Saves); n < 3600/32 || n > 3600/30 {
		t.Fatalf("an idle hour under \"30 0\" made %d saves, want one every 31 s", n)
	}
}

func TestThresholds(t *testing.T) {
	rules, _ := Parse(Default)
	want := []struct {
		rate         float64
		below, above Regime
	}{
		{1.0 / 900, Regime{Rule{900, 1}, true}, Regime{Rule{900, 1}, false}},
		{10.0 / 900, Regime{Rule{900, 1}, false}, Regime{Rule{300, 10}, true}},
		{10.0 / 300, Regime{Rule{300, 10}, true}, Regime{Rule{300, 10}, false}},
		{10000.0 / 300, Regime{Rule{300, 10}, false}, Regime{Rule{60, 10000}, true}},
		{10000.0 / 60, Regime{Rule{60, 10000}, true}, Regime{Rule{60, 10000}, false}},
	}
	got := Thresholds(rules)
	if len(got) != len(want) {
		t.Fatalf("thresholds %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if math.Abs(got[i].Rate-w.rate) > 1e-9*w.rate || got[i].Below != w.below || got[i].Above != w.above {
			t.Errorf("threshold %d = %+v, want %v/s %+v -> %+v", i, got[i], w.rate, w.below, w.above)
		}
	}
}

// TestSweepRatesStraddleEveryThreshold is what the rate-sweep scenario
// needs: at least 8 rates, and on both sides of every threshold a rate
// whose regime is that side's.
func TestSweepRatesStraddleEveryThreshold(t *testing.T) {
	for _, spec := range []string{Default, "3600 1 300 100 60 10000", "60 1000", "9 1 3 10 1 10000"} {
		rules, _ := Parse(spec)
		for _, n := range []int{0, 8, 12} {
			rates := SweepRates(rules, n)
			if len(rates) < max(n, 8) {
				t.Errorf("%q n=%d: %d rates, want at least %d", spec, n, len(rates), max(n, 8))
			}
			for i := 1; i < len(rates); i++ {
				if !(rates[i] > rates[i-1]) {
					t.Fatalf("%q: rates not ascending: %v", spec, rates)
				}
			}
			for _, th := range Thresholds(rules) {
				var below, above bool
				for _, r := range rates {
					reg, _ := regimeAt(rules, r)
					below = below || (r < th.Rate && reg == th.Below)
					above = above || (r > th.Rate && reg == th.Above)
				}
				if !below || !above {
					t.Errorf("%q n=%d: threshold %.4g/s lacks a rate in its regime below (%v) or above (%v): %v", spec, n, th.Rate, below, above, rates)
				}
			}
		}
	}
}

// TestPredictMatchesSimulation cross-checks the closed form against the
// discrete-event simulation over a day, for rates across the sawtooth,
// several BGSAVE durations and clock phases: the simulated worst window
// never exceeds the bound and comes within the granularity of it, and the
// period, expected window and rule agree.
func TestPredictMatchesSimulation(t *testing.T) {
	rules, _ := Parse(Default)
	rates := append(SweepRates(rules, 10), 0.0005, 2000)
	for _, d := range []time.Duration{0, 370 * time.Millisecond, 2400 * time.Millisecond, 4300 * time.Millisecond} {
		for _, rate := range rates {
			pred := Predict(rules, rate, d)
			for _, clk := range []Clock{{}, {UnixFraction: 450 * time.Millisecond, TickPhase: 30 * time.Millisecond}, {UnixFraction: 930 * time.Millisecond, TickPhase: 70 * time.Millisecond}} {
				sim := clk.Simulate(rules, ConstantRate(rate), BGSave{Duration: d}, 24*time.Hour)
				name := func() string { return FormatRate(rate) + " d=" + d.String() }
				if sim.WorstWindow > pred.WorstWindow {
					t.Errorf("%s: simulated worst %v exceeds the bound %v", name(), sim.WorstWindow, pred.WorstWindow)
				}
				if sim.WorstWindow < pred.WorstWindow-Granularity {
					t.Errorf("%s: simulated worst %v is more than the granularity under the bound %v", name(), sim.WorstWindow, pred.WorstWindow)
				}
				if sim.OldestLostWrite > pred.OldestLostWrite {
					t.Errorf("%s: simulated oldest lost write %v exceeds the bound %v", name(), sim.OldestLostWrite, pred.OldestLostWrite)
				}
				// The first write after the snapshot comes up to one write
				// interval after it, depending on phase.
				if slack := Granularity + seconds(1/rate); sim.OldestLostWrite < pred.OldestLostWrite-slack {
					t.Errorf("%s: simulated oldest lost write %v is more than %v under the bound %v", name(), sim.OldestLostWrite, slack, pred.OldestLostWrite)
				}
				if math.Abs(sim.MeanWindow.Seconds()-pred.MeanWindow.Seconds()) > 0.01*pred.MeanWindow.Seconds()+0.2 {
					t.Errorf("%s: simulated expected window %v, closed form %v", name(), sim.MeanWindow, pred.MeanWindow)
				}
				if math.Abs(sim.SavesPerDay-pred.SavesPerDay) > 0.01*pred.SavesPerDay+1 {
					t.Errorf("%s: simulated %.1f saves/day, closed form %.1f", name(), sim.SavesPerDay, pred.SavesPerDay)
				}
				counts := sim.RuleCounts()
				if counts[pred.Rule] < len(sim.Saves)*9/10 {
					t.Errorf("%s: rule %v fired %d of %d saves, want nearly all", name(), pred.Rule, counts[pred.Rule], len(sim.Saves))
				}
			}
		}
	}
}

func TestNextForkFollowsTheWholeSecondClockAndTheChangeCount(t *testing.T) {
	rules, err := Parse("9 1 3 10 1 10000")
	if err != nil {
		t.Fatal(err)
	}
	fork := time.Unix(1000, 50e6) // forked 50 ms after a second boundary
	const lastSave = 1000         // the parent noticed the end within that second
	tests := []struct {
		name string
		rate float64
		want time.Time
	}{
		// 1 change arrives at once; the clock must pass 1000+9: due at 1010.
		{"slow writer: the 9 s rule on its clock", 0.5, time.Unix(1010, 0)},
		// 10 changes at 2/s take 5 s, beyond the 3 s clock: fork + 5 s.
		{"the 3 s rule waits for its 10 changes", 2, fork.Add(5 * time.Second)},
		// 10 changes arrive in 0.1 s: the 3 s rule is due on its clock at 1004.
		{"the 3 s rule on its clock", 100, time.Unix(1004, 0)},
		// 10000 changes at 20000/s take 0.5 s; the 1 s clock allows 1002.
		{"the 1 s rule on its clock", 20000, time.Unix(1002, 0)},
		// 10000 changes at 5000/s take 2 s: fork + 2 s beats the 3 s rule's 1004.
		{"the 1 s rule waits for its changes", 5000, fork.Add(2 * time.Second)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NextFork(rules, tc.rate, fork, lastSave)
			if !ok || !got.Equal(tc.want) {
				t.Fatalf("NextFork at %g/s = %v (ok %v), want %v", tc.rate, got, ok, tc.want)
			}
			// Never later than the model's worst case, never before its earliest.
			pred := Predict(rules, tc.rate, 0)
			if got.Sub(fork) > pred.WorstWindow {
				t.Errorf("next fork %v after the fork exceeds the worst window %v", got.Sub(fork), pred.WorstWindow)
			}
		})
	}
	if _, ok := NextFork(rules, 0, fork, lastSave); ok {
		t.Error("no writes: no rule with changes can fire")
	}
}
