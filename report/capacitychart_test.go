package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	envelope "github.com/trigpointing/valkey-chaos/capacity"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

func TestCapacityChart(t *testing.T) {
	rules, _ := savepolicy.Parse("900 1 300 10 60 10000")
	in := envelope.Input{
		CPU: 1024, MemoryBytes: 1 << 30, StopTimeout: 30 * time.Second,
		HealthCheck: envelope.HealthCheck{Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 10 * time.Second},
		Storage:     savepolicy.Storage{Mode: savepolicy.Elastic, SaveMiBps: 25}, Rules: rules,
	}
	c := CapacityChart{
		Title: "capacity of a 1 vCPU / 1 GiB task", Input: in, RateLo: 10, RateHi: 1e5,
		Measured: []CapacityPoint{{DatasetBytes: 700e6, WritesPerS: 20_000, Label: "700 MB at 20k/s: OOM-killed", Failed: true}, {DatasetBytes: 50e6, WritesPerS: 100, Label: "thresholds: pass"}},
	}
	data, err := CapacityPNG(c)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil || img.Bounds().Dx() != 1500 {
		t.Fatalf("png %v: %v", img.Bounds(), err)
	}
	// The binding limit's boundary is where the shade starts: at 20k/s
	// memory binds (the red shade), at 10/s the stop timeout.
	rates := []float64{10, 20_000}
	b, _ := envelope.Boundaries(in, rates)
	got := bindingAt(b, []string{envelope.StopTimeoutLimit, envelope.HealthCheckLimit, envelope.MemoryLimit, envelope.BurstLimit}, len(rates))
	if got[1] != envelope.MemoryLimit {
		t.Errorf("binding at 20k/s = %q, want memory (bounds %v)", got[1], b)
	}
	if out := os.Getenv("CAPACITY_CHART_OUT"); out != "" {
		if err := WriteCapacityChart(filepath.Join(out, "capacity.png"), c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CapacityPNG(CapacityChart{Input: in, RateLo: 5, RateHi: 1}); err == nil {
		t.Error("an empty rate range must fail")
	}
}

// TestCapacityChartDeterministic: the same input renders the same bytes
// (a committed chart does not churn), and zeros, which a log axis cannot
// show (an idle trial, an empty dataset), are left off instead of panicking.
func TestCapacityChartDeterministic(t *testing.T) {
	rules, _ := savepolicy.Parse("900 1 300 10 60 10000")
	in := envelope.Input{
		CPU: 256, MemoryBytes: 512 << 20, StopTimeout: 120 * time.Second,
		HealthCheck: envelope.HealthCheck{Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 120 * time.Second, LoadingGrace: 600 * time.Second},
		Storage:     savepolicy.Storage{Mode: savepolicy.Bursting, SaveMiBps: 25}, Rules: rules,
	}
	c := CapacityChart{Title: "capacity", Input: in, RateLo: 1, RateHi: 1e5, Measured: []CapacityPoint{
		{DatasetBytes: 85e6, WritesPerS: 100, Label: "a: pass"}, {DatasetBytes: 85e6, WritesPerS: 100, Label: "a: pass"},
		{DatasetBytes: 0, WritesPerS: 100, Label: "empty"}, {DatasetBytes: 50e6, WritesPerS: 0, Label: "idle"},
		{DatasetBytes: 400e6, WritesPerS: 20_000, Label: "b: fail", Failed: true},
	}}
	first, err := CapacityPNG(c)
	if err != nil {
		t.Fatal(err)
	}
	second, err := CapacityPNG(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < 10_000 || !bytes.Equal(first, second) {
		t.Errorf("renders of %d and %d bytes differ (or are nearly empty)", len(first), len(second))
	}
	if _, err := png.Decode(bytes.NewReader(first)); err != nil {
		t.Error(err)
	}
	c.Measured = c.Measured[:1]
	fewer, _ := CapacityPNG(c)
	if bytes.Equal(first, fewer) {
		t.Error("the measured trials are not drawn")
	}
}
