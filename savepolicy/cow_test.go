package savepolicy

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestCowBound(t *testing.T) {
	const mib = 1 << 20
	m := CowModel{PageBytes: 4096, PagesPerWrite: 3, BaseBytes: mib}
	ds := CowInput{DatasetBytes: 160 * mib, Keys: 950_000, BGSave: 5 * time.Second}
	with := func(rate float64, kind WriteKind, dist string) CowInput {
		in := ds
		in.WritesPerS, in.Kind, in.Dist = rate, kind, dist
		return in
	}
	tests := []struct {
		name     string
		in       CowInput
		lo, hi   int64 // bytes
		saturate bool
	}{
		{"idle save copies the base", with(0, Overwrite, ""), mib, mib, false},
		// FACTS: 100k inserts into 950k keys copy about 10 MB: one bucket
		// page each of an 8 MiB table.
		{"100k inserts copy the bucket table", with(20_000, Insert, ""), 8*mib + mib - 4096, 9 * mib, false},
		// FACTS: 100k overwrites copy about 173 MB: all of a 160 MB heap.
		{"100k overwrites copy nearly everything", with(20_000, Overwrite, ""), 160 * mib, 161 * mib, false},
		{"a million overwrites copy everything", with(200_000, Overwrite, ""), 161 * mib, 161 * mib, true},
		{"a few overwrites copy pages per key", with(20, Overwrite, ""), mib + 290*4096, mib + 300*4096, false},
		{"zipf copies less", with(2000, Overwrite, "zipf"), 2 * mib, 60 * mib, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			est, err := m.Bound(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if est.Bytes < tc.lo || est.Bytes > tc.hi || est.Saturated != tc.saturate {
				t.Errorf("bound %d (saturated %v), want %d..%d (saturated %v)", est.Bytes, est.Saturated, tc.lo, tc.hi, tc.saturate)
			}
		})
	}
	uni, _ := m.Bound(with(2000, Overwrite, "uniform"))
	zipf, _ := m.Bound(with(2000, Overwrite, "zipf"))
	if zipf.DistinctKeys >= uni.DistinctKeys/2 || zipf.Bytes >= uni.Bytes {
		t.Errorf("zipf %+v vs uniform %+v: want fewer keys and bytes", zipf, uni)
	}
}

func TestDistinctKeys(t *testing.T) {
	tests := []struct {
		keys   int64
		writes float64
		dist   string
		want   float64
	}{
		{1, 5, "uniform", 1},
		{2, 1, "uniform", 1},
		{2, 2, "uniform", 1.5},
		{10, 0, "uniform", 0},
		{1, 3, "zipf", 1},
		{1000, 1000, "uniform", 1000 * (1 - math.Pow(0.999, 1000))},
	}
	for _, tc := range tests {
		if got := DistinctKeys(tc.keys, tc.writes, tc.dist, 0); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("DistinctKeys(%d, %g, %s) = %g, want %g", tc.keys, tc.writes, tc.dist, got, tc.want)
		}
	}
	// Zipf over two keys with s: p0 = 1/(1+2^-s); two draws miss key 1 with (p0)^2.
	s := 2.0
	p0 := 1 / (1 + math.Pow(2, -s))
	want := 2 - p0*p0 - (1-p0)*(1-p0)
	if got := DistinctKeys(2, 2, "zipf", s); math.Abs(got-want) > 1e-12 {
		t.Errorf("zipf two keys = %g, want %g", got, want)
	}
}

func TestFitCowRecoversTheModel(t *testing.T) {
	truth := CowModel{PageBytes: 4096, PagesPerWrite: 2.5, BaseBytes: 1 << 20}
	var runs []CowRun
	for _, rate := range []float64{0, 50, 100, 400, 5000} {
		in := CowInput{DatasetBytes: 20 << 20, Keys: 100_000, WritesPerS: rate, BGSave: 12 * time.Second}
		est, _ := truth.Bound(in)
		runs = append(runs, CowRun{In: in, Measured: est.Bytes})
	}
	m, err := FitCow(runs, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if m.BaseBytes != truth.BaseBytes || math.Abs(m.PagesPerWrite-truth.PagesPerWrite) > 0.01 {
		t.Errorf("fitted %+v, want %+v", m, truth)
	}
	if _, err := FitCow(runs[:1], 4096); err == nil {
		t.Error("a fit with no loaded save must fail")
	}
}

func TestCowInputErrors(t *testing.T) {
	ok := CowInput{DatasetBytes: 1, Keys: 1}
	tests := []struct {
		edit func(*CowInput)
		want string
	}{
		{func(c *CowInput) { c.Keys = 0 }, "keys"},
		{func(c *CowInput) { c.WritesPerS = math.NaN() }, "finite"},
		{func(c *CowInput) { c.Kind = "append" }, "overwrite or insert"},
		{func(c *CowInput) { c.Dist = "pareto" }, "uniform or zipf"},
		{func(c *CowInput) { c.Dist, c.ZipfS = "zipf", 0.9 }, "> 1"},
	}
	for _, tc := range tests {
		in := ok
		tc.edit(&in)
		_, err := DefaultCowModel.Bound(in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, result.ErrBadInput) {
			t.Errorf("%+v: err %v, want bad input naming %q", in, err, tc.want)
		}
	}
}

func TestTaskMemory(t *testing.T) {
	const mib = 1 << 20
	m := CowModel{PageBytes: 4096, PagesPerWrite: 3, BaseBytes: mib}
	cow := CowInput{DatasetBytes: 160 * mib, Keys: 950_000, BGSave: 5 * time.Second}
	tests := []struct {
		name    string
		limit   int64
		rate    float64
		fits    bool
		maxRate string // zero, finite or inf
	}{
		// The fork-oom scenario: 256 MiB cannot hold 160 MiB twice.
		{"fork-oom at 20k/s", 256 * mib, 20_000, false, "finite"},
		{"1 GiB holds a full copy", 1024 * mib, 20_000, true, "inf"},
		{"idle save fits 256 MiB", 256 * mib, 0, true, "finite"},
		{"too small even idle", 170 * mib, 0, false, "zero"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cow
			c.WritesPerS = tc.rate
			tin := TaskMemoryInput{LimitBytes: tc.limit, Cow: c, OverheadBytes: 10 * mib, Model: m}
			n, err := TaskMemory(tin)
			if err != nil {
				t.Fatal(err)
			}
			maxRate, err := MaxWritesWithin(tin)
			if err != nil {
				t.Fatal(err)
			}
			if n.Fits != tc.fits || n.NeedBytes != n.DatasetBytes+n.OverheadBytes+n.CowPeakBytes || n.HeadroomBytes != tc.limit-n.NeedBytes {
				t.Errorf("need %+v, want fits=%v", n, tc.fits)
			}
			budget := tc.limit - 170*mib
			switch tc.maxRate {
			case "inf":
				if !math.IsInf(maxRate, 1) {
					t.Errorf("max rate %g, want +Inf", maxRate)
				}
			case "zero":
				if maxRate != 0 {
					t.Errorf("max rate %g, want 0", maxRate)
				}
			default:
				// The bound meets the budget there and exceeds it 1% above.
				c.WritesPerS = maxRate
				at, _ := m.Bound(c)
				c.WritesPerS = maxRate * 1.01
				above, _ := m.Bound(c)
				if maxRate <= 0 || at.Bytes > budget || above.Bytes <= budget {
					t.Errorf("max rate %g: bound %d there, %d 1%% above, budget %d", maxRate, at.Bytes, above.Bytes, budget)
				}
			}
		})
	}
	if got := SafeMaxmemory(256*mib, 10*mib, 1.2); got != int64(float64(246*mib)/2.4) {
		t.Errorf("safe maxmemory %d", got)
	}
	if _, err := TaskMemory(TaskMemoryInput{}); !errors.Is(err, result.ErrBadInput) {
		t.Errorf("zero limit: %v", err)
	}
}

func TestZipfDistinctKeysMatchesTheExactSum(t *testing.T) {
	exact := func(keys int64, writes, s float64) float64 {
		var norm, d float64
		for k := int64(0); k < keys; k++ {
			norm += math.Pow(1+float64(k), -s)
		}
		for k := int64(0); k < keys; k++ {
			d += -math.Expm1(writes * math.Log1p(-math.Pow(1+float64(k), -s)/norm))
		}
		return d
	}
	for _, tc := range []struct {
		keys   int64
		writes float64
		s      float64
	}{{100_000, 5000, 1.1}, {950_000, 100_000, 1.1}, {300_000, 1e6, 1.5}, {1500, 800, 1.2}} {
		want := exact(tc.keys, tc.writes, tc.s)
		if got := DistinctKeys(tc.keys, tc.writes, "zipf", tc.s); math.Abs(got-want) > 0.005*want {
			t.Errorf("zipf %+v: %g distinct, exact sum %g", tc, got, want)
		}
	}
}
