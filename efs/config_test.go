package efs

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		check  func(Config) bool
		errHas string
	}{
		{
			name:   "bursting with a small credit balance",
			params: map[string]string{"mode": "bursting", "credits": "1GiB"},
			check: func(c Config) bool {
				return c.Mode == Bursting && c.CreditBytes == gib && c.BurstMiBps == 100 &&
					c.WriteLatency == DefaultWriteLatency && math.Abs(c.ReadMetering-1.0/3) < 1e-9
			},
		},
		{
			name:   "scenario spelling efs-provisioned",
			params: map[string]string{"mode": "efs-provisioned", "mibps": "5", "read_metering": "1"},
			check:  func(c Config) bool { return c.Mode == Provisioned && c.ProvisionedMiBps == 5 && c.ReadMetering == 1 },
		},
		{
			name:   "latencies and stored size",
			params: map[string]string{"mode": "bursting", "stored": "20GiB", "read_latency": "0", "write_latency": "5ms", "jitter": "0"},
			check: func(c Config) bool {
				return c.StoredBytes == 20*gib && c.ReadLatency == 0 && c.WriteLatency == 5*time.Millisecond && c.Jitter == 0
			},
		},
		{
			name:   "elastic meters reads in full",
			params: map[string]string{"mode": "elastic"},
			check:  func(c Config) bool { return c.Mode == Elastic && c.ReadMetering == 1 },
		},
		{name: "no mode", params: map[string]string{"credits": "1GiB"}, errHas: "need a mode"},
		{name: "unknown mode", params: map[string]string{"mode": "turbo"}, errHas: `unknown EFS mode "turbo"`},
		{name: "provisioned without a rate", params: map[string]string{"mode": "provisioned"}, errHas: "mibps"},
		{name: "unknown key", params: map[string]string{"mode": "elastic", "iops": "3"}, errHas: `unknown storage parameter "iops"`},
		{name: "bad bytes", params: map[string]string{"mode": "bursting", "credits": "lots"}, errHas: "credits"},
		{name: "bad fraction", params: map[string]string{"mode": "bursting", "read_metering": "3/2"}, errHas: "between 0 and 1"},
		{name: "negative rate", params: map[string]string{"mode": "provisioned", "mibps": "-5"}, errHas: "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.params)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("ParseConfig(%v) error = %v, want one mentioning %q", tt.params, err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig(%v): %v", tt.params, err)
			}
			if !tt.check(c) {
				t.Errorf("ParseConfig(%v) = %+v", tt.params, c)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1048576", 1 << 20}, {"512MiB", 512 << 20}, {"1.5GiB", 3 << 29},
		{"100MB", 100e6}, {"2T", 2 << 40}, {"4 KiB", 4096}, {"10b", 10},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1GiB", "1XB", "NaN"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted a bad byte count", bad)
		}
	}
}

func TestBaselineFollowsStoredSize(t *testing.T) {
	tests := []struct {
		stored int64
		want   float64 // KiB/s
	}{
		{0, 50}, {100 * mib, 50}, {gib, 50}, {20 * gib, 1000}, {1 << 40, 50 * 1024},
	}
	for _, tt := range tests {
		c := DefaultConfig(Bursting)
		c.StoredBytes = tt.stored
		if got := c.BaselineBytesPerSec() / kib; math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("baseline for %s stored = %.1f KiB/s, want %.1f", FormatBytes(tt.stored), got, tt.want)
		}
	}
}
