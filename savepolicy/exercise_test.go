package savepolicy

import (
	"strings"
	"testing"
	"time"
)

// Rule choice with realistic BGSAVE durations at small time scales: the
// planned rule is the one Predict says fires, and the regime of the real
// rule is kept where a scaled rate can keep it.
func TestExerciseRateAtFiresThePlannedRuleWithTheMeasuredBGSave(t *testing.T) {
	real, err := Parse(Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scale  float64
		bgsave time.Duration
	}{{0.01, 0}, {0.01, 900 * time.Millisecond}, {0.01, 2 * time.Second}, {0.1, 4 * time.Second}, {1, 5 * time.Second}} {
		scaled := real.Scale(c.scale)
		for i := range real {
			ex, ok := ExerciseRateAt(real, c.scale, i, c.bgsave)
			if !ok {
				t.Errorf("scale %g bgsave %v: no rate fires %q", c.scale, c.bgsave, scaled[i])
				continue
			}
			p := Predict(scaled, ex.Rate, c.bgsave)
			if p.Rule != scaled[i] {
				t.Errorf("scale %g bgsave %v: at %s rule %q fires, planned %q", c.scale, c.bgsave, FormatRate(ex.Rate), p.Rule, scaled[i])
			}
			if !ex.SameRegime && ex.Note == "" {
				t.Errorf("scale %g rule %q: regime changed without a note", c.scale, scaled[i])
			}
			if ex.SameRegime {
				rp := Predict(real, ex.Rate*c.scale, c.bgsave)
				if rp.CountBound != p.CountBound || rp.Rule != real[i] {
					t.Errorf("scale %g rule %q: scaled regime count=%v, real count=%v rule %q", c.scale, scaled[i], p.CountBound, rp.CountBound, rp.Rule)
				}
			}
		}
	}
}

// The example: at scale 0.01, "60 10000" becomes "1 10000"; at
// 12000/s it fires on its clock while the real rule at 120/s fires on its
// count. The planner picks a rate at which both agree.
func TestExerciseRateAtKeepsTheRealRegimeOfTheFastestRule(t *testing.T) {
	real, _ := Parse(Default)
	ex, ok := ExerciseRateAt(real, 0.01, 2, 600*time.Millisecond)
	if !ok || !ex.SameRegime {
		t.Fatalf("rate %+v ok=%v, want the regime kept", ex, ok)
	}
	scaled := real.Scale(0.01)
	old := 12000.0 // the rate the thresholds suite used to run
	if a, b := Predict(scaled, old, 600*time.Millisecond), Predict(real, old*0.01, 600*time.Millisecond); a.CountBound == b.CountBound {
		t.Fatalf("the example no longer shows the problem: scaled count=%v, real count=%v", a.CountBound, b.CountBound)
	}
	a, b := Predict(scaled, ex.Rate, 600*time.Millisecond), Predict(real, ex.Rate*0.01, 600*time.Millisecond)
	if a.CountBound != b.CountBound || a.CountBound != ex.CountBound {
		t.Errorf("at %s the scaled rule is count-bound=%v, the real one at %s count-bound=%v", FormatRate(ex.Rate), a.CountBound, FormatRate(ex.Rate*0.01), b.CountBound)
	}
	// A long save at a small scale is called out.
	ex, _ = ExerciseRateAt(real, 0.01, 2, 2*time.Second)
	if !strings.Contains(ex.Note, "never scaled") {
		t.Errorf("a 2 s BGSAVE at scale 0.01 is not called unrepresentative: %q", ex.Note)
	}
}
