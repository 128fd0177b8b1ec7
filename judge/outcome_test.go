package judge

import (
	"errors"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestOutcomeIsWhatASchedulerActsOn(t *testing.T) {
	tests := []struct {
		name     string
		verdicts []string
		want     error
	}{
		{"all pass", []string{"pass", "pass"}, nil},
		{"a failure", []string{"pass", "fail"}, result.ErrFailed},
		{"invalid only: rerun", []string{"pass", "invalid"}, result.ErrInconclusive},
		{"inconclusive only: rerun", []string{"pass", "inconclusive"}, result.ErrInconclusive},
		{"a failure outweighs invalid", []string{"invalid", "fail"}, result.ErrFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := &result.Run{}
			for i, v := range tc.verdicts {
				run.Trials = append(run.Trials, result.Trial{Scenario: "crash", Index: i, Fault: "crash", Verdict: result.Verdict(v), Reasons: []string{"because"}})
			}
			err := Outcome(run)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Outcome = %v, want %v", err, tc.want)
			}
		})
	}
}
