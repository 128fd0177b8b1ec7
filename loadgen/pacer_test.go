package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestConstantPacerPace(t *testing.T) {
	tests := []struct {
		name    string
		freq    float64
		elapsed time.Duration
		hits    uint64
		wait    time.Duration
		stop    bool
	}{
		{"first op is due at once", 1, 0, 0, 0, false},
		{"second op waits a full interval", 1, 0, 1, time.Second, false},
		{"waits the rest of the interval", 1, 400 * time.Millisecond, 1, 600 * time.Millisecond, false},
		{"due exactly on time", 1, time.Second, 1, 0, false},
		{"behind schedule: send now", 1, 5 * time.Second, 2, 0, false},
		{"ahead of schedule", 1000, 10 * time.Millisecond, 20, 10 * time.Millisecond, false},
		{"fractional rate", 0.01, 0, 1, 100 * time.Second, false},
		{"20k/s interval", 20000, 0, 1, 50 * time.Microsecond, false},
		{"zero rate issues nothing", 0, 0, 0, 0, true},
		{"negative rate issues nothing", -5, 0, 0, 0, true},
		{"NaN rate issues nothing", math.NaN(), 0, 0, 0, true},
		{"infinite rate: always due", math.Inf(1), 0, 1 << 40, 0, false},
		{"schedule beyond int64 stops", 1e-9, 0, 1 << 40, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wait, stop := ConstantPacer{Freq: tt.freq}.Pace(tt.elapsed, tt.hits)
			if wait != tt.wait || stop != tt.stop {
				t.Errorf("Pace(%v, %d) at %v/s = (%v, %v), want (%v, %v)", tt.elapsed, tt.hits, tt.freq, wait, stop, tt.wait, tt.stop)
			}
		})
	}
}

func TestConstantPacerRate(t *testing.T) {
	for _, tt := range []struct{ freq, want float64 }{{250, 250}, {0, 0}, {-1, 0}} {
		if got := (ConstantPacer{Freq: tt.freq}).Rate(time.Minute); got != tt.want {
			t.Errorf("Rate at Freq %v = %v, want %v", tt.freq, got, tt.want)
		}
	}
}

// rampPacer is a pacer whose due times are not linear in hits (op n is due at
// sqrt(n) seconds), so dueAt has to bisect.
type rampPacer struct{}

var _ Pacer = rampPacer{}

func (rampPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	due := time.Duration(math.Sqrt(float64(hits)) * 1e9)
	if due <= elapsed {
		return 0, false
	}
	return due - elapsed, false
}

func (rampPacer) Rate(elapsed time.Duration) float64 { return 2 * elapsed.Seconds() }

func TestDueAt(t *testing.T) {
	tests := []struct {
		name  string
		pacer Pacer
		hits  uint64
		floor time.Duration
		now   time.Duration
		due   time.Duration
		stop  bool
	}{
		{"future op: now plus wait", ConstantPacer{Freq: 10}, 5, 400 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond, false},
		{"overdue op: its own due time, not now", ConstantPacer{Freq: 10}, 5, 400 * time.Millisecond, 3 * time.Second, 500 * time.Millisecond, false},
		{"overdue at the floor", ConstantPacer{Freq: 10}, 5, 500 * time.Millisecond, 3 * time.Second, 500 * time.Millisecond, false},
		{"infinite rate: the floor", ConstantPacer{Freq: math.Inf(1)}, 99, 0, time.Second, 0, false},
		{"stopped pacer", ConstantPacer{}, 0, 0, 0, 0, true},
		{"non-linear pacer, overdue: bisected", rampPacer{}, 4, time.Second, 10 * time.Second, 2 * time.Second, false},
		{"non-linear pacer, future", rampPacer{}, 9, 2 * time.Second, time.Second, 3 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, stop := dueAt(tt.pacer, tt.hits, tt.floor, tt.now)
			if due != tt.due || stop != tt.stop {
				t.Errorf("dueAt(hits %d, floor %v, now %v) = (%v, %v), want (%v, %v)", tt.hits, tt.floor, tt.now, due, stop, tt.due, tt.stop)
			}
		})
	}
}
