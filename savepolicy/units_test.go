package savepolicy

import (
	"errors"
	"math"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want float64 // 0: an error
	}{
		{"200/s", 200}, {"200", 200}, {"12000/min", 200}, {"720/h", 0.2}, {" 5 / s ", 5},
		{"0.01/s", 0.01}, {"1e3/s", 1000}, {"3/MIN", 0.05},
		{"", 0}, {"x", 0}, {"-1/s", 0}, {"0", 0}, {"NaN", 0}, {"inf/s", 0}, {"5/fortnight", 0}, {"1e12/s", 0},
	}
	for _, tc := range tests {
		got, err := ParseRate(tc.in)
		if tc.want == 0 {
			if err == nil || !errors.Is(err, result.ErrBadInput) {
				t.Errorf("ParseRate(%q) = %v, %v; want a bad-input error", tc.in, got, err)
			}
			continue
		}
		if err != nil || math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRateRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi float64
		ok     bool
	}{
		{"1/s..500/s", 1, 500, true},
		{"60/min..12000/min", 1, 200, true},
		{"200/s", 200, 200, true},
		{"500..1", 0, 0, false},
		{"1..1", 0, 0, false},
		{"..5", 0, 0, false},
		{"1..x", 0, 0, false},
	}
	for _, tc := range tests {
		lo, hi, err := ParseRateRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (math.Abs(lo-tc.lo) > 1e-9 || math.Abs(hi-tc.hi) > 1e-9)) {
			t.Errorf("ParseRateRange(%q) = %v, %v, %v; want %v, %v ok=%v", tc.in, lo, hi, err, tc.lo, tc.hi, tc.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // -1: an error
	}{
		{"114MB", 114e6}, {"114 MiB", 114 << 20}, {"2GiB", 2 << 30}, {"35800000", 35800000},
		{"1.5GB", 1.5e9}, {"0", 0}, {"10kb", 10000},
		{"", -1}, {"MB", -1}, {"12 parsecs", -1}, {"-5MB", -1}, {"2PB", -1},
	}
	for _, tc := range tests {
		got, err := ParseSize(tc.in)
		if tc.want < 0 {
			if err == nil || !errors.Is(err, result.ErrBadInput) {
				t.Errorf("ParseSize(%q) = %v, %v; want a bad-input error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
