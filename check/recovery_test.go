package check_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
)

func TestRecovery(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	at := func(msOffset int) time.Time { return t0.Add(time.Duration(msOffset) * time.Millisecond) }
	normal := check.Instants{
		Fault: at(0), OldGone: at(20), NewStarted: at(120), PortAccepts: at(145),
		FirstReply: at(170), Ready: at(1870), Serving: at(1875),
		ServerLoadSeconds: 1.7, HasServerLoad: true,
	}
	tests := []struct {
		name     string
		mod      func(*check.Instants)
		warmup   float64 // -1: nil
		rto      float64 // -1: nil
		load     float64 // -1: nil
		steps    string
		problems []string // substrings, in order
	}{
		{
			name: "a complete recovery in order", mod: func(*check.Instants) {},
			warmup: 1.75, rto: 1.875, load: 1.7,
			steps: "fault old_gone new_started port_accepts first_reply ready serving",
		},
		{
			name:   "never served: no RTO, and the missing step is named",
			mod:    func(in *check.Instants) { in.Serving = time.Time{} },
			warmup: 1.75, rto: -1, load: 1.7,
			steps:    "fault old_gone new_started port_accepts first_reply ready",
			problems: []string{"no serving instant"},
		},
		{
			name:   "replacement started before the old process was gone: overlap is reported",
			mod:    func(in *check.Instants) { in.NewStarted = at(10) },
			warmup: 1.86, rto: 1.875, load: 1.7,
			steps:    "fault old_gone new_started port_accepts first_reply ready serving",
			problems: []string{"new_started at +0.010s comes before old_gone at +0.020s"},
		},
		{
			name:   "warm-up shorter than the server's own load time: the instants are wrong",
			mod:    func(in *check.Instants) { in.ServerLoadSeconds = 2.5 },
			warmup: 1.75, rto: 1.875, load: 2.5,
			steps:    "fault old_gone new_started port_accepts first_reply ready serving",
			problems: []string{"warm-up 1.750s is shorter than the server's own load time 2.500s"},
		},
		{
			name:   "no server log: no server load time, nothing else missing",
			mod:    func(in *check.Instants) { in.HasServerLoad = false },
			warmup: 1.75, rto: 1.875, load: -1,
			steps: "fault old_gone new_started port_accepts first_reply ready serving",
		},
		{
			name:   "no fault instant: no RTO, steps timed from the first one seen",
			mod:    func(in *check.Instants) { in.Fault, in.Ready = time.Time{}, at(100) },
			warmup: -0.02, rto: -1, load: 1.7,
			steps: "old_gone new_started port_accepts first_reply ready serving",
			problems: []string{"no fault instant", "ready at +0.080s comes before first_reply at +0.150s",
				"warm-up -0.020s is shorter"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := normal
			tc.mod(&in)
			tl := check.Recovery(in)
			checkSeconds(t, "warm-up", tl.WarmupS, tc.warmup)
			checkSeconds(t, "RTO", tl.RTOS, tc.rto)
			checkSeconds(t, "server load", tl.ServerLoadS, tc.load)
			var names []string
			for _, s := range tl.Steps {
				names = append(names, s.Name)
			}
			if got := strings.Join(names, " "); got != tc.steps {
				t.Errorf("steps %q, want %q", got, tc.steps)
			}
			if len(tl.Problems) != len(tc.problems) {
				t.Fatalf("problems %q, want %d like %q", tl.Problems, len(tc.problems), tc.problems)
			}
			for i, p := range tc.problems {
				if !strings.Contains(tl.Problems[i], p) {
					t.Errorf("problem %d = %q, want it to contain %q", i, tl.Problems[i], p)
				}
			}
		})
	}
}

func checkSeconds(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	switch {
	case want == -1 && got != nil:
		t.Errorf("%s = %v, want none", name, *got)
	case want != -1 && got == nil:
		t.Errorf("%s missing, want %v", name, want)
	case got != nil && (*got-want > 1e-9 || want-*got > 1e-9):
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}
