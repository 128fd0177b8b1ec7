package savepolicy

import (
	"math"
	"testing"
	"time"
)

// TestSimulateMatchesObservedFirstSaves replays FACTS.md §1.2's two
// measurements of when a fresh server's first save fires.
func TestSimulateMatchesObservedFirstSaves(t *testing.T) {
	tests := []struct {
		name  string
		rules string
		clock Clock
		want  time.Duration // after boot
	}{
		// Rule "5 1": LASTSAVE 19:33:43, save fired at 19:33:49.1: the
		// clock must be strictly more than 5 s past, so 6 s, plus the tick.
		{"5 1 from a whole second", "5 1", Clock{TickPhase: 99 * time.Millisecond}, 6099 * time.Millisecond},
		// Started 19:37:29.4 with 1M SETs: "10000 changes in 60 seconds.
		// Saving..." at 19:38:30.07: lastsave is the whole second 29, so the
		// rule allows a save from :38:30.0, 60.6 s after the start.
		{"60 10000 from 29.4", "60 10000", Clock{UnixFraction: 400 * time.Millisecond, TickPhase: 70 * time.Millisecond}, 60670 * time.Millisecond},
	}
	for _, tc := range tests {
		rules, _ := Parse(tc.rules)
		sim := tc.clock.Simulate(rules, ConstantRate(5000), BGSave{Duration: time.Second}, 5*time.Minute)
		if len(sim.Saves) == 0 {
			t.Fatalf("%s: no save", tc.name)
		}
		if got := sim.Saves[0].Fork; got < tc.want-time.Millisecond || got > tc.want+time.Millisecond {
			t.Errorf("%s: first save forked at %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSimulateWritesDuringSaveCarryOver: dirty counts from the fork, so a
// save's change count covers the whole time since the previous fork,
// including the writes made while that save ran (FACTS.md §1.3).
func TestSimulateWritesDuringSaveCarryOver(t *testing.T) {
	rules, _ := Parse("10 100")
	const rate = 50.0
	sim := Simulate(rules, ConstantRate(rate), BGSave{Duration: 5 * time.Second}, 10*time.Minute)
	if len(sim.Saves) < 5 {
		t.Fatalf("only %d saves", len(sim.Saves))
	}
	for i := 1; i < len(sim.Saves); i++ {
		prev, cur := sim.Saves[i-1], sim.Saves[i]
		want := rate * (cur.Fork - prev.Fork).Seconds()
		if math.Abs(float64(cur.Changes)-want) > 1 {
			t.Fatalf("save %d counted %d changes, want %.0f: the changes since the previous fork, save time included", i, cur.Changes, want)
		}
	}
}

// TestSimulateRetryAfterFailedSave: while storage is broken each attempt
// fails, lastsave stays put, and the rules retry once the whole-second clock
// is more than 5 s past the failed fork (observed: every 6 s); the window
// keeps growing until a save succeeds (FACTS.md §1.4).
func TestSimulateRetryAfterFailedSave(t *testing.T) {
	rules, _ := Parse("5 1")
	outage := Outage{From: 100 * time.Second, To: 160 * time.Second}
	sim := Simulate(rules, ConstantRate(20), BGSave{Duration: 500 * time.Millisecond, Outages: []Outage{outage}}, 5*time.Minute)
	var failed []SimSave
	for _, s := range sim.Saves {
		if !s.OK {
			failed = append(failed, s)
		}
	}
	if len(failed) < 8 {
		t.Fatalf("%d failed attempts in a 60 s outage, want one about every 6 s", len(failed))
	}
	for i := 1; i < len(failed); i++ {
		gap := failed[i].Fork - failed[i-1].Fork
		if gap < 6*time.Second-Tick || gap > 6*time.Second+Tick {
			t.Errorf("retry %d came %v after the previous attempt, want 6 s", i, gap)
		}
	}
	var lastGood SimSave
	for _, s := range sim.Saves {
		if s.OK && s.Fork < outage.From {
			lastGood = s
		}
	}
	if min := outage.To - lastGood.Fork; sim.WorstWindow < min {
		t.Errorf("worst window %v, want at least the outage since the last good fork (%v)", sim.WorstWindow, min)
	}
	if sim.Attempts != len(sim.Saves) || sim.Attempts <= len(sim.Saves)-len(failed) {
		t.Errorf("attempts %d, saves %d, failed %d", sim.Attempts, len(sim.Saves), len(failed))
	}
}

// TestSimulatePiecewiseProfile: a busy spell then a trickle; the busy part
// saves on the 60 s rule, the trickle on 300 10 waiting for its changes,
// each within its own closed-form bound.
func TestSimulatePiecewiseProfile(t *testing.T) {
	rules, _ := Parse(Default)
	d := 2 * time.Second
	profile := Profile{Steps: []Step{{For: 30 * time.Minute, RatePerS: 400}, {For: time.Hour, RatePerS: 0.02}}}
	sim := Simulate(rules, profile, BGSave{Duration: d}, 6*time.Hour)
	busy, quiet := Predict(rules, 400, d), Predict(rules, 0.02, d)
	counts := sim.RuleCounts()
	if counts[busy.Rule] < 20 || counts[quiet.Rule] < 20 {
		t.Fatalf("rule counts %v: want both %v (busy) and %v (quiet) to fire many times", counts, busy.Rule, quiet.Rule)
	}
	for _, w := range sim.Windows {
		bound := quiet.WorstWindow
		if w.To <= 30*time.Minute {
			bound = busy.WorstWindow
		}
		if w.From > 40*time.Minute || w.To <= 30*time.Minute { // skip the transition
			if got := w.To - w.Snapshot; got > bound {
				t.Errorf("window ending %v is %v, over the bound %v", w.To, got, bound)
			}
		}
	}
	// The windows tile the horizon.
	for i := 1; i < len(sim.Windows); i++ {
		if sim.Windows[i].From != sim.Windows[i-1].To {
			t.Fatalf("windows %d and %d do not meet: %+v %+v", i-1, i, sim.Windows[i-1], sim.Windows[i])
		}
	}
	if last := sim.Windows[len(sim.Windows)-1]; last.To != 6*time.Hour || sim.Windows[0].From != 0 {
		t.Fatalf("windows do not cover the horizon: first %+v last %+v", sim.Windows[0], last)
	}
}

func TestProfileWritesAndInverse(t *testing.T) {
	profiles := []Profile{
		ConstantRate(200),
		{Steps: []Step{{For: 10 * time.Second, RatePerS: 5}, {For: 20 * time.Second, RatePerS: 0}, {For: 5 * time.Second, RatePerS: 100}}},
		{Steps: []Step{{For: 10 * time.Second, RatePerS: 5}, {For: 20 * time.Second, RatePerS: 0}, {For: 5 * time.Second, RatePerS: 100}}, Repeat: true},
	}
	for i, p := range profiles {
		c := p.cumulative()
		for _, n := range []float64{1, 49, 50, 51, 549, 550, 551, 10000} {
			at, ok := c.timeOf(n)
			if !ok {
				t.Errorf("profile %d: %v writes never reached", i, n)
				continue
			}
			if w := c.writesAt(at); math.Abs(w-n) > 1e-6*n {
				t.Errorf("profile %d: writes at timeOf(%v)=%v is %v", i, n, at, w)
			}
			if at > 0 && c.writesAt(at-1e-3) >= n {
				t.Errorf("profile %d: timeOf(%v)=%v is not the earliest", i, n, at)
			}
		}
	}
	stopping := Profile{Steps: []Step{{For: time.Second, RatePerS: 10}, {For: time.Second, RatePerS: 0}}}
	if _, ok := stopping.cumulative().timeOf(11); ok {
		t.Errorf("a profile that stops at 10 writes reached 11")
	}
	if got := profiles[2].MeanRate(); math.Abs(got-(50+500)/35.0) > 1e-9 {
		t.Errorf("mean rate of the repeating profile %v, want %v", got, (50+500)/35.0)
	}
}
