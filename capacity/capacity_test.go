package capacity

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

const mib = 1 << 20

// base is a task no limit binds for a small dataset: 8 GiB, a 2-minute stop
// timeout, a generous health check, elastic storage.
func base() Input {
	rules, _ := savepolicy.Parse("900 1 300 10 60 10000")
	return Input{
		CPU: 1024, MemoryBytes: 8192 * mib, StopTimeout: 120 * time.Second,
		HealthCheck: HealthCheck{Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 600 * time.Second},
		Storage:     savepolicy.Storage{Mode: savepolicy.Elastic, SaveMiBps: 25},
		Rules:       rules, DatasetBytes: 100 * mib, WritesPerS: 100,
	}
}

func limit(t *testing.T, r Result, name string) Limit {
	t.Helper()
	for _, l := range r.Limits {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no %s limit in %+v", name, r.Limits)
	return Limit{}
}

func bytesOf(f float64) int64 { return int64(f) }

func near(got, want int64) bool { return math.Abs(float64(got-want)) <= float64(want)*0.001+1 }

func TestEachLimitBindsWhereItShould(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Input)
		binding string
		want    int64 // largest dataset, computed by hand
	}{
		// 30 s x 90% x 25 MiB/s of RDB at 0.7 RDB bytes per heap byte.
		{"stop timeout", func(in *Input) { in.StopTimeout = 30 * time.Second }, StopTimeoutLimit, bytesOf(0.9 * 30 * 25 * mib / 0.7)},
		// Half a vCPU saves at half the rate.
		{"stop timeout, half a vCPU", func(in *Input) { in.StopTimeout, in.CPU = 30*time.Second, 512 }, StopTimeoutLimit, bytesOf(0.9 * 30 * 12.5 * mib / 0.7)},
		// 10 s + 3 x 30 s = 100 s of loading at 20 MiB/s.
		{"health check", func(in *Input) { in.HealthCheck.StartPeriod = 10 * time.Second }, HealthCheckLimit, bytesOf(100 * 20 * mib / 0.7)},
		// The module's LOADING grace outlasts the start period: 40 s + 3 x 30 s.
		{"health check, LOADING grace", func(in *Input) {
			in.HealthCheck.StartPeriod, in.HealthCheck.LoadingGrace = 10*time.Second, 40*time.Second
		}, HealthCheckLimit, bytesOf(130 * 20 * mib / 0.7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(&in)
			r, err := Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Binding != tc.binding || !near(r.MaxDatasetBytes, tc.want) || !r.Holds {
				t.Errorf("binding %s at %d bytes (holds %v), want %s at %d", r.Binding, r.MaxDatasetBytes, r.Holds, tc.binding, tc.want)
			}
			if l := limit(t, r, tc.binding); l.MaxWritesPerS != unlimited || l.Detail == "" {
				t.Errorf("%+v: a size limit does not depend on the rate", l)
			}
		})
	}
}

func TestMemoryBindsAForkOOMTask(t *testing.T) {
	in := base()
	in.MemoryBytes, in.DatasetBytes, in.WritesPerS = 256*mib, 160*mib, 20_000
	r, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	mem := limit(t, r, MemoryLimit)
	if r.Binding != MemoryLimit || mem.Holds || r.Holds {
		t.Fatalf("result %+v: want memory binding and broken", r)
	}
	if !strings.Contains(mem.Detail, "copy-on-write") {
		t.Errorf("detail %q", mem.Detail)
	}
	// At the largest dataset the need just fits; 1% above it does not.
	in.normalise()
	at, _ := in.memory(mem.MaxDatasetBytes, in.WritesPerS)
	above, _ := in.memory(mem.MaxDatasetBytes*101/100, in.WritesPerS)
	if !at.Fits || above.Fits {
		t.Errorf("at %d: %+v; 1%% above: %+v", mem.MaxDatasetBytes, at, above)
	}
	// The highest rate at 160 MB: its need fits, 1% more does not.
	fit, _ := in.memory(in.DatasetBytes, mem.MaxWritesPerS)
	over, _ := in.memory(in.DatasetBytes, mem.MaxWritesPerS*1.01)
	if mem.MaxWritesPerS <= 0 || !fit.Fits || over.Fits {
		t.Errorf("max rate %g: %+v / %+v", mem.MaxWritesPerS, fit, over)
	}
	if r.CowPeakBytes < 150*mib {
		t.Errorf("cow peak %d: 20k overwrites/s over a whole save copy nearly all", r.CowPeakBytes)
	}
}

func TestBurstCreditsRunOutUnderFrequentSaves(t *testing.T) {
	in := base()
	in.Storage.Mode = savepolicy.Bursting
	in.Rules, _ = savepolicy.Parse("60 1")
	in.DatasetBytes = 1024 * mib
	r, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	b := limit(t, r, BurstLimit)
	if b.Holds || r.Holds || !strings.Contains(b.Detail, "days") || b.MaxDatasetBytes <= 0 || b.MaxDatasetBytes >= in.DatasetBytes {
		t.Errorf("burst %+v, want broken at 1 GiB with a smaller largest dataset", b)
	}
	// The bound: at the largest dataset the account balances.
	in.normalise()
	if !in.burst(b.MaxDatasetBytes, in.WritesPerS).Sustainable || in.burst(b.MaxDatasetBytes*101/100, in.WritesPerS).Sustainable {
		t.Errorf("largest dataset %d is not where the credits balance", b.MaxDatasetBytes)
	}
	// Asked to last 3 days from a full balance (it lasts about 3.2), it holds.
	in.BurstHorizon = 72 * time.Hour
	if r, _ := Evaluate(in); !limit(t, r, BurstLimit).Holds {
		t.Errorf("a 72 h horizon: %+v", limit(t, r, BurstLimit))
	}
	in.BurstHorizon = 96 * time.Hour
	if r, _ := Evaluate(in); limit(t, r, BurstLimit).Holds {
		t.Errorf("a 96 h horizon: %+v", limit(t, r, BurstLimit))
	}
}

func TestRPOIsTheRulesWindow(t *testing.T) {
	in := base()
	r, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	in.normalise()
	pred := savepolicy.Predict(in.Rules, in.WritesPerS, in.saveTime(in.DatasetBytes))
	if r.RPO != pred.WorstWindow || r.RPO <= 0 || r.MeanRPO != pred.MeanWindow {
		t.Errorf("rpo %v / %v, predicted %v / %v", r.RPO, r.MeanRPO, pred.WorstWindow, pred.MeanWindow)
	}
}

func TestBoundaries(t *testing.T) {
	in := base()
	in.MemoryBytes = 1024 * mib
	rates := []float64{0, 1000, 10_000, 100_000}
	b, err := Boundaries(in, rates)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(rates); i++ {
		if b[MemoryLimit][i] > b[MemoryLimit][i-1] {
			t.Errorf("memory boundary grows with the rate: %v", b[MemoryLimit])
		}
		if b[StopTimeoutLimit][i] != b[StopTimeoutLimit][0] {
			t.Errorf("stop-timeout boundary depends on the rate: %v", b[StopTimeoutLimit])
		}
	}
	if b[MemoryLimit][len(rates)-1] >= b[MemoryLimit][0] {
		t.Errorf("memory boundary %v: heavy overwrites must shrink it", b[MemoryLimit])
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		edit func(*Input)
		want string
	}{
		{func(in *Input) { in.MemoryBytes = 0 }, "task memory"},
		{func(in *Input) { in.StopTimeout = 0 }, "stop timeout"},
		{func(in *Input) { in.HealthCheck = HealthCheck{} }, "health check"},
		{func(in *Input) { in.WritesPerS = math.Inf(1) }, "finite"},
		{func(in *Input) { in.CPU = -1 }, "cpu"},
	}
	for _, tc := range tests {
		in := base()
		tc.edit(&in)
		_, err := Evaluate(in)
		if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("err %v, want one line naming %q", err, tc.want)
		}
	}
}

func TestZipfWritesAllowMoreThanUniform(t *testing.T) {
	in := base()
	in.MemoryBytes, in.DatasetBytes, in.WritesPerS = 512*mib, 200*mib, 2000
	uni, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Dist = "zipf"
	zipf, err := Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	u, z := limit(t, uni, MemoryLimit), limit(t, zipf, MemoryLimit)
	if z.MaxDatasetBytes <= u.MaxDatasetBytes || zipf.CowPeakBytes >= uni.CowPeakBytes {
		t.Errorf("zipf %+v (cow %d) vs uniform %+v (cow %d): a hot set copies less", z, zipf.CowPeakBytes, u, uni.CowPeakBytes)
	}
}
