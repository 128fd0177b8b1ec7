package report

import (
	"fmt"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

// ApplySLOs evaluates slos against every trial (as `report --slo` does after
// the fact): a check replaces an earlier one of the same name, a failed
// check fails a passing trial with a reason, and invalid trials stay
// invalid: their numbers are not evidence either way.
func ApplySLOs(run *result.Run, slos []slo.SLO) {
	if len(slos) == 0 {
		return
	}
	for i := range run.Trials {
		t := &run.Trials[i]
		for _, c := range slo.Evaluate(t, slos) {
			replaced := false
			for j := range t.Checks {
				if t.Checks[j].Name == c.Name {
					t.Checks[j], replaced = c, true
				}
			}
			if !replaced {
				t.Checks = append(t.Checks, c)
			}
			if !c.Pass && t.Verdict != "invalid" {
				t.Verdict = "fail"
				t.Reasons = appendOnce(t.Reasons, fmt.Sprintf("SLO %s failed: observed %s", c.Name, observed(t, c)))
			}
		}
	}
	for _, s := range slos {
		run.SLOs = appendOnce(run.SLOs, s.Expr)
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Failures lists every failed trial with its reasons, one line each.
func Failures(run *result.Run) []string {
	var out []string
	for i := range run.Trials {
		t := &run.Trials[i]
		if t.Verdict != "fail" {
			continue
		}
		why := strings.Join(t.Reasons, "; ")
		if why == "" {
			why = "failed"
		}
		out = append(out, trialLabel(t)+": "+why)
	}
	return out
}

// Verdict is nil when no trial failed, else ErrFailed naming each failure.
// Invalid trials are not failures (the CLI reports them separately).
func Verdict(run *result.Run) error {
	f := Failures(run)
	if len(f) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d trials failed: %s", ErrFailed, len(f), len(run.Trials), strings.Join(f, " | "))
}
