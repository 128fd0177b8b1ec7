package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

// The data is the third witness of fault_in_cycle: after a crash under RDB
// alone, survivors sent after the planned cycle's save ended prove that a
// later snapshot was loaded, even when neither the log nor the INFO watcher
// saw that save (it ran between the watcher's last poll and the fault, a
// busy machine's race that let TestFaultOutsideThePlannedCycleIsInvalid's
// case "the log lost its lines" pass a trial it must not).
func TestSurvivorsWitnessASaveInTheCycle(t *testing.T) {
	ended := time.Date(2026, 12, 2, 18, 0, 2, 930e6, time.UTC)
	fault := ended.Add(2360 * time.Millisecond)
	crash := func(high float64) *result.Trial {
		return &result.Trial{Fault: "crash", Lost: 1390, LossWindowS: &result.Window{Low: high - 0.01, High: high, Estimate: high}}
	}
	cases := []struct {
		name string
		tr   *result.Trial
		held bool
	}{
		{"the cycle's own snapshot: survivors all sent before it ended", crash(2.6), true},
		{"a snapshot forked 0.47 s before the fault: a save nobody saw", crash(0.47), false},
		{"within the 100 ms clock allowance", crash(2.3), true},
		{"a stop's final save is expected", func() *result.Trial { tr := crash(0.47); tr.Fault = "stop"; return tr }(), true},
		{"AOF replays past the snapshot", func() *result.Trial { tr := crash(0.47); tr.Persistence = "aof-everysec"; return tr }(), true},
		{"no survivor: a one-sided bracket says nothing of it", func() *result.Trial { tr := crash(0.47); tr.LossWindowS.OneSided = true; return tr }(), true},
		{"nothing lost: no bracket", func() *result.Trial { tr := crash(0.47); tr.Lost = 0; return tr }(), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			held, detail := survivorsInCycle(c.tr, ended, fault)
			if held != c.held {
				t.Fatalf("held %v (%q), want %v", held, detail, c.held)
			}
			if !held && !strings.Contains(detail, "did not land in the planned cycle") {
				t.Errorf("detail %q does not say the fault left its cycle", detail)
			}
		})
	}
}
