package savepolicy

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestPlanAcceptance: at 200/s the default rules save on "60 10000" and a
// crash can lose about 61 s plus the BGSAVE time (twice: the previous save
// and the one in flight).
func TestPlanAcceptance(t *testing.T) {
	rules, _ := Parse(Default)
	in := PlanInput{Rules: rules, RatePerS: 200, RDBBytes: 114e6, StopTimeout: 30 * time.Second,
		Storage: Storage{Mode: Elastic, Prices: DefaultPrices()}}
	p := MakePlan(in)
	d := SaveDuration(114e6, DefaultSaveMiBps).Seconds()
	if p.Rule != "60 10000" || p.BoundBy != "seconds" {
		t.Fatalf("rule %q bound by %s, want 60 10000 on its seconds", p.Rule, p.BoundBy)
	}
	if math.Abs(p.WorstWindowS-(61.1+2*d)) > 1e-6 {
		t.Errorf("worst window %.2f s, want 61.1 s + 2 x %.2f s", p.WorstWindowS, d)
	}
	if p.StopTimeoutExceeded || p.Cost == nil || p.Cost.WriteBytesPerDay != 114e6*p.SavesPerDay {
		t.Errorf("plan %+v: want the save to fit 30 s and bytes/day = RDB x saves/day", p)
	}
	var out bytes.Buffer
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"60 10000", "worst loss window", "saves/day", "EFS elastic", "fits"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := json.Marshal(p); err != nil {
		t.Errorf("plan does not encode as JSON: %v", err)
	}
}

func TestPlanFlagsStopTimeout(t *testing.T) {
	rules, _ := Parse(Default)
	p := MakePlan(PlanInput{Rules: rules, RatePerS: 200, RDBBytes: 2 << 30, StopTimeout: 30 * time.Second,
		Storage: Storage{Mode: Elastic, Prices: DefaultPrices()}})
	if !p.StopTimeoutExceeded || p.FinalSaveS < 80 {
		t.Fatalf("a 2 GiB final save at 25 MiB/s takes about 82 s: %+v", p)
	}
	found := false
	for _, f := range p.Findings {
		found = found || strings.Contains(f, "SIGKILL")
	}
	if !found {
		t.Errorf("findings %q do not warn about the SIGKILL", p.Findings)
	}
}

func TestPlanBurstingUnsustainable(t *testing.T) {
	rules, _ := Parse(Default)
	p := MakePlan(PlanInput{Rules: rules, RatePerS: 200, RDBBytes: 114e6, StopTimeout: 30 * time.Second,
		Storage: Storage{Mode: Bursting, Prices: DefaultPrices()}})
	if p.Burst == nil || p.Burst.Sustainable || p.WorstWindowAtBaselineS < 2000 {
		t.Fatalf("plan %+v: a save every minute on a 1 GiB Bursting file system must drain the credits", p)
	}
	if p.StopTimeoutExceeded {
		t.Errorf("with credits in hand the final save runs at burst speed and fits: %+v", p)
	}
}

// TestPlanRangeFollowsSawtooth: across rates the window is 900 s-ish at the
// slowest, 300 s-ish, then changes/rate, then about 61 s above 167/s.
func TestPlanRangeFollowsSawtooth(t *testing.T) {
	rules, _ := Parse(Default)
	plans := PlanRange(PlanInput{Rules: rules}, 0.002, 1000, 24)
	for _, p := range plans {
		var want float64
		switch r := p.RatePerS; {
		case r < 10.0/900:
			want = 901.1
		case r < 10.0/300:
			want = 10/r + 0.1
		case r < 10000.0/300:
			want = 301.1
		case r < 10000.0/60:
			want = 10000/r + 0.1
		default:
			want = 61.1
		}
		if math.Abs(p.WorstWindowS-want) > 1e-6*want+1e-9 {
			t.Errorf("at %s: worst %.2f s, want %.2f s", FormatRate(p.RatePerS), p.WorstWindowS, want)
		}
	}
	var out bytes.Buffer
	if err := WriteRangeText(&out, plans); err != nil || strings.Count(out.String(), "\n") != len(plans)+2 {
		t.Errorf("range table (%v):\n%s", err, out.String())
	}
}

func TestPlanWithoutRules(t *testing.T) {
	p := MakePlan(PlanInput{Rules: Rules{}, RatePerS: 100})
	if p.Fires || len(p.Findings) == 0 || !strings.Contains(p.Findings[0], "no snapshots") {
		t.Fatalf(`save "": %+v, want a finding that nothing is ever saved`, p)
	}
}
