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

func TestPredictHeavyWriterWindow(t *testing.T) {
	rules, _ := Parse(Default)
	d := 3 * time.Second
	p := Predict(rules, 200, d)
	want := 60 + Granularity.Seconds() + 2*d.Seconds() // 61 s plus 2d
	if math.Abs(p.WorstWindow.Seconds()-want) > 1e-6 {
		t.Fatalf("worst window at 200/s = %v, want %vs", p.WorstWindow, want)
	}
	if !p.Fires || p.Rule != (Rule{60, 10000}) {
		t.Fatalf("rule = %v, want 60 10000", p.Rule)
	}
}

func TestPredictNoWritesNeverFires(t *testing.T) {
	rules, _ := Parse(Default)
	if p := Predict(rules, 0, time.Second); p.Fires {
		t.Fatalf("no writes should never fire a save, got %+v", p)
	}
}
