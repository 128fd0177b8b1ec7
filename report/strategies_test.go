package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
)

// curve builds a reader curve from -2 s to 8 s in 100 ms bins: steady hit
// ratio, an outage of outage s after the fault, then a recovery that starts
// at start and approaches steady with time constant tau.
func curve(label string, start, outage, tau float64) StrategyCurve {
	c := StrategyCurve{Label: label, BinS: 0.1}
	for k := -20; k < 80; k++ {
		t := float64(k) / 10
		ratio, reads := 0.85, 100
		switch {
		case t >= 0 && t < outage:
			ratio, reads = 0, 0
		case t >= outage:
			ratio = 0.85 - (0.85-start)*math.Exp(-(t-outage)/tau)
		}
		c.SinceFaultS = append(c.SinceFaultS, t)
		c.Reads = append(c.Reads, reads)
		c.HitRatio = append(c.HitRatio, ratio)
		c.OriginPerS = append(c.OriginPerS, float64(reads)*10*(1-ratio))
	}
	return c
}

func TestStrategyChartRenders(t *testing.T) {
	curves := []StrategyCurve{
		curve("none, crash", 0, 0.3, 2.5),
		curve("rdb, crash", 0.8, 0.8, 0.3),
		curve("aof-everysec, crash", 0.84, 1.1, 0.2),
	}
	img, err := StrategyChart(curves)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if cfg.Width != 1500 || cfg.Height != 975 {
		t.Errorf("chart %dx%d, want 1500x975 (10 x 6.5 in at 150 DPI)", cfg.Width, cfg.Height)
	}
	if out := os.Getenv("STRATEGY_CHART_OUT"); out != "" {
		if err := os.WriteFile(out, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := StrategyChart(nil); err == nil {
		t.Error("no curves: want an error")
	}
	bad := curves[0]
	bad.Reads = bad.Reads[:3]
	if _, err := StrategyChart([]StrategyCurve{bad}); err == nil || !strings.Contains(err.Error(), "none, crash") {
		t.Errorf("mismatched series: %v, want an error naming the curve", err)
	}
}

func TestWriteStrategyTable(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	n := func(v int64) *int64 { return &v }
	var b strings.Builder
	err := WriteStrategyTable(&b, []StrategyRow{
		{Strategy: "none", Fault: "crash", Verdict: "pass", Anchor: "trial-x", Lost: n(12000), LossEverything: true, OldestLostS: f(4.02),
			To99S: f(6.2), OriginDuringRecovery: n(31000), ExtraOrigin: f(1234.4), USDPerDay: f(0), USDPerMonth: f(0)},
		{Strategy: "aof-everysec", Fault: "crash", Verdict: "invalid", Lost: n(0), LossWindowS: f(0.96), WriteP99Ms: f(1.234), WarmupS: f(0.4),
			ServerLoadS: f(0.25), To99S: f(0.3), To99Reached: true, USDPerDay: f(0.33), USDPerMonth: f(10.11)},
		{Strategy: "rdb", Fault: "crash + host", Verdict: "pass", Lost: n(1335), LossWindowS: f(2.6678), OldestLostS: f(2.6674), USDPerDay: f(0.004), USDPerMonth: f(0.1217)},
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"| [none](#trial-x) | crash | 12,000 (allowed) | oldest 4.02 s | - | - | not within 6.2 s | 31,000 (+1234) | $0 | $0 | **pass** |",
		"| aof-everysec | crash | 0 | nothing lost | 1.23 ms | 0.400 s (load 0.250 s) | 0.3 s | - | $0.330 | $10.11 | **invalid** |",
		"| rdb | crash + host | 1,335 | 2.67 s window | - | - | - | - | $0.00400 | $0.122 | **pass** |",
	}
	if len(lines) != 5 || lines[2] != want[0] || lines[3] != want[1] || lines[4] != want[2] {
		t.Errorf("table:\n%s\nwant rows:\n%s", b.String(), strings.Join(want, "\n"))
	}
}
