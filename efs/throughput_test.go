package efs

import (
	"math"
	"testing"
	"time"
)

// drive sends total bytes in chunk-sized requests from one client that waits
// out each reservation, on a fake clock, and returns the time it took.
func drive(m *meter, start time.Time, total, chunk int, read bool) (time.Time, time.Duration) {
	now := start
	for sent := 0; sent < total; sent += chunk {
		now = now.Add(m.reserve(now, min(chunk, total-sent), read))
	}
	// The last request's own service time is inside the pacer's tolerance.
	return now, now.Sub(start)
}

func TestMeterHoldsTheModelledRate(t *testing.T) {
	stored20GiB := func(c Config) Config { c.StoredBytes = 20 * gib; return c }
	provisioned := func(rate, metering float64) Config {
		c := DefaultConfig(Provisioned)
		c.ProvisionedMiBps, c.ReadMetering = rate, metering
		return c
	}
	tests := []struct {
		name  string
		cfg   Config
		total int
		read  bool
		want  time.Duration
	}{
		{"provisioned 5 MiB/s writes 50 MiB", provisioned(5, 1.0/3), 50 * mib, false, 10 * time.Second},
		{"provisioned 5 MiB/s reads metered at a third", provisioned(5, 1.0/3), 50 * mib, true, 10 * time.Second / 3},
		{"provisioned 5 MiB/s reads metered in full", provisioned(5, 1), 50 * mib, true, 10 * time.Second},
		{"provisioned above the client limit is capped", provisioned(2000, 1), 5000 * mib, false, 10 * time.Second},
		{"bursting with full credits bursts", stored20GiB(DefaultConfig(Bursting)), 1000 * mib, false, 10 * time.Second},
		{"bursting with no credits runs at the baseline", func() Config {
			c := stored20GiB(DefaultConfig(Bursting))
			c.CreditBytes = 0
			return c
		}(), 10 * mib, false, time.Duration(10 * mib / (1000.0 * kib) * float64(time.Second))},
		{"elastic runs at the client limit", DefaultConfig(Elastic), 15000 * mib, false, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.cfg.resolve(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Unix(1000, 0)
			_, got := drive(newMeter(cfg, start), start, tt.total, mib, tt.read)
			// The pacer lets its tolerance through free.
			want := tt.want - pacerTolerance
			if math.Abs(got.Seconds()-want.Seconds()) > 0.01*want.Seconds()+0.001 {
				t.Errorf("moving %s took %v, want %v", FormatBytes(int64(tt.total)), got, want)
			}
		})
	}
}

func TestBurstingFallsToBaselineWhenCreditsRunOut(t *testing.T) {
	c := DefaultConfig(Bursting)
	c.CreditBytes = 10 * mib
	c.StoredBytes = 20 * gib // baseline 1000 KiB/s
	start := time.Unix(1000, 0)
	m := newMeter(c, start)
	if s := m.state(start); s.limit != 100*mib || s.credits != 10*mib {
		t.Fatalf("fresh meter: limit %.0f B/s, credits %.0f; want the burst rate and 10 MiB", s.limit, s.credits)
	}
	now, burst := drive(m, start, 10*mib, mib, false)
	if burst > 100*time.Millisecond {
		t.Errorf("10 MiB on 10 MiB of credits took %v, want about 0.1 s at the burst rate", burst)
	}
	if s := m.state(now); s.limit != c.BaselineBytesPerSec() {
		t.Errorf("credits spent: limit %.0f B/s, want the baseline %.0f", s.limit, c.BaselineBytesPerSec())
	}
	_, slow := drive(m, now, 5*mib, mib, false)
	rate := 5 * mib / slow.Seconds()
	if math.Abs(rate-c.BaselineBytesPerSec()) > 0.05*c.BaselineBytesPerSec() {
		t.Errorf("after the credits: %.0f B/s, want the baseline %.0f B/s", rate, c.BaselineBytesPerSec())
	}
}

func TestCreditsAreEarnedBackAtTheBaselineUpToTheCap(t *testing.T) {
	c := DefaultConfig(Bursting)
	c.CreditBytes = 0
	c.MaxCreditBytes = 30 * mib
	c.StoredBytes = 20 * gib
	start := time.Unix(1000, 0)
	m := newMeter(c, start)
	if got, want := m.state(start.Add(10*time.Second)).credits, 10*c.BaselineBytesPerSec(); math.Abs(got-want) > 1 {
		t.Errorf("after 10 s idle: credits %.0f, want %.0f (10 s at the baseline)", got, want)
	}
	if got := m.state(start.Add(time.Hour)).credits; got != 30*mib {
		t.Errorf("after an hour idle: credits %.0f, want the 30 MiB cap", got)
	}
}

func TestPartlyCoveredRequestSplitsBetweenRates(t *testing.T) {
	c := DefaultConfig(Bursting)
	c.CreditBytes = mib / 2
	c.StoredBytes = 20 * gib
	start := time.Unix(1000, 0)
	m := newMeter(c, start)
	m.reserve(start, mib, false)
	want := serviceTime(mib/2, 100*mib) + serviceTime(mib/2, c.BaselineBytesPerSec())
	if m.ideal != want {
		t.Errorf("1 MiB on 0.5 MiB of credits costs %v, want %v (half at the burst rate, half at the baseline)", m.ideal, want)
	}
}

func TestPacerCountsSaturatedTimeOnce(t *testing.T) {
	p := pacer{tolerance: 0}
	now := time.Unix(1000, 0)
	// Three requests of 1 s each at once: the pacer holds them for 1, 2 and
	// 3 s, overlapping; it was saturated for 3 s, not 6.
	for range 3 {
		p.reserve(now, time.Second)
	}
	if p.saturated != 3*time.Second {
		t.Errorf("saturated %v, want 3s", p.saturated)
	}
}

func TestUnlimitedNeverWaits(t *testing.T) {
	start := time.Unix(1000, 0)
	m := newMeter(DefaultConfig(Unlimited), start)
	if _, d := drive(m, start, 1000*mib, mib, false); d != 0 {
		t.Errorf("unlimited mode waited %v", d)
	}
}
