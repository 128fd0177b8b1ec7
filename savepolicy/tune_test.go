package savepolicy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func elastic() Storage { return Storage{Mode: Elastic, Prices: DefaultPrices()} }

// TestTuneMeetsRPOAtEveryRate checks the proposal independently of the
// search: by the closed form at many rates, and by simulating a day at the
// ends of the range.
func TestTuneMeetsRPOAtEveryRate(t *testing.T) {
	current, _ := Parse(Default)
	in := TuneInput{RPO: 2 * time.Minute, Lo: 1, Hi: 500, RDBBytes: 114e6, Storage: elastic(), Current: current}
	tn, err := Tune(in)
	if err != nil {
		t.Fatal(err)
	}
	if !tn.Feasible || tn.Proposed == nil || !tn.Proposed.MeetsRPO {
		t.Fatalf("tuning %+v: a 2 min RPO with a 4 s BGSAVE is reachable", tn)
	}
	d := SaveDuration(114e6, DefaultSaveMiBps)
	for _, r := range LogSpace(in.Lo, in.Hi, 200) {
		if p := Predict(tn.ProposedRules(), r, d); !p.Fires || p.OldestLostWrite > in.RPO {
			t.Fatalf("at %s the proposal %q loses writes %v old, over the RPO", FormatRate(r), tn.ProposedRules(), p.OldestLostWrite)
		}
	}
	for _, r := range []float64{in.Lo, in.Hi} {
		sim := Clock{UnixFraction: 310 * time.Millisecond, TickPhase: 40 * time.Millisecond}.Simulate(tn.ProposedRules(), ConstantRate(r), BGSave{Duration: d}, 24*time.Hour)
		if sim.OldestLostWrite > in.RPO {
			t.Fatalf("simulated at %s the proposal loses writes %v old", FormatRate(r), sim.OldestLostWrite)
		}
	}
	if tn.Current.MeetsRPO || tn.Proposed.BytesPerDayHi >= tn.Current.BytesPerDayHi {
		t.Errorf("current %+v vs proposed %+v: the defaults miss 2 min at 1/s and write more at 500/s", tn.Current, tn.Proposed)
	}
	// Nothing cheaper fits: a rule one second longer would miss the RPO.
	longer := tn.ProposedRules()[0]
	longer.Seconds++
	if p := Predict(Rules{longer}, in.Hi, d); p.OldestLostWrite <= in.RPO {
		t.Errorf("%q also fits and saves less often: the search missed it", longer)
	}
	var out bytes.Buffer
	if err := tn.WriteText(&out); err != nil || !strings.Contains(out.String(), "proposed") || !strings.Contains(out.String(), "$/day") {
		t.Errorf("tune text (%v):\n%s", err, out.String())
	}
	if _, err := json.Marshal(tn); err != nil {
		t.Errorf("tuning does not encode as JSON: %v", err)
	}
}

// TestTuneExplainsWhenBGSaveAloneExceedsRPO, and checks the remedies it
// names actually work when applied.
func TestTuneExplainsWhenBGSaveAloneExceedsRPO(t *testing.T) {
	in := TuneInput{RPO: 10 * time.Second, Lo: 1, Hi: 500, RDBBytes: 114e6, Storage: elastic()}
	tn, err := Tune(in)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Feasible || tn.BestPossibleS <= 10 {
		t.Fatalf("%+v: a 4.3 s BGSAVE cannot give a 10 s RPO", tn)
	}
	text := strings.Join(tn.Findings, "\n")
	for _, want := range []string{"AOF", "faster saves", "smaller dataset"} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	faster := in
	faster.Storage.SaveMiBps = tn.NeedMiBps * 1.01
	if ok, _ := Tune(faster); !ok.Feasible {
		t.Errorf("at the %.1f MiB/s it names, the RPO is still missed", tn.NeedMiBps)
	}
	smaller := in
	smaller.RDBBytes = tn.MaxRDBBytes * 99 / 100
	if ok, _ := Tune(smaller); !ok.Feasible {
		t.Errorf("with the %d bytes it names, the RPO is still missed", tn.MaxRDBBytes)
	}
}

func TestTuneBurstingNeedsSustainableSaves(t *testing.T) {
	in := TuneInput{RPO: 5 * time.Minute, Lo: 1, Hi: 500, RDBBytes: 114e6, Storage: Storage{Mode: Bursting, Prices: DefaultPrices()}}
	tn, err := Tune(in)
	if err != nil {
		t.Fatal(err)
	}
	if tn.Feasible {
		t.Fatalf("%+v: a save every 5 min of 114 MB is 33 GB/day, far over a 1 GiB file system's 4.4 GB/day baseline", tn)
	}
	if !strings.Contains(strings.Join(tn.Findings, " "), "Elastic") {
		t.Errorf("findings %q should point to Elastic", tn.Findings)
	}
	in.Storage.Mode = Elastic
	if el, _ := Tune(in); !el.Feasible {
		t.Errorf("on Elastic the same RPO is reachable: %+v", el)
	}
}

func TestTuneRejectsBadInput(t *testing.T) {
	for _, in := range []TuneInput{{RPO: 0, Lo: 1, Hi: 2}, {RPO: time.Minute, Lo: 0, Hi: 2}, {RPO: time.Minute, Lo: 5, Hi: 2}} {
		if _, err := Tune(in); err == nil {
			t.Errorf("Tune(%+v) accepted it", in)
		}
	}
}

func BenchmarkTune(b *testing.B) {
	current, _ := Parse(Default)
	in := TuneInput{RPO: 2 * time.Minute, Lo: 0.01, Hi: 1000, RDBBytes: 114e6, Storage: elastic(), Current: current}
	for i := 0; i < b.N; i++ {
		if _, err := Tune(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSimulateDay(b *testing.B) {
	rules, _ := Parse(Default)
	for i := 0; i < b.N; i++ {
		Simulate(rules, ConstantRate(200), BGSave{Duration: 4 * time.Second}, 24*time.Hour)
	}
}
