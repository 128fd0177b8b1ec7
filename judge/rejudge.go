package judge

import (
	"fmt"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

// Rejudge decides every trial of a finished run again with the SLOs it
// was judged by (its recorded checks) plus extra ones (`report --slo`): a
// check replaces an earlier one of the same name. Trials recorded before
// the judge kept its evidence (no assumptions) keep their verdict and
// reasons, and only a failed extra SLO fails a passing one.
func Rejudge(run *result.Run, extra []slo.SLO) error {
	for i := range run.Trials {
		t := &run.Trials[i]
		slos, err := RecordedSLOs(t)
		if err != nil {
			return fmt.Errorf("trial %s: %w", t.Label(), err)
		}
		slos = mergeSLOs(slos, extra)
		if len(t.Assumptions) == 0 {
			legacy(t, slos)
			continue
		}
		Apply(t, slos)
	}
	for _, s := range extra {
		run.SLOs = appendOnce(run.SLOs, s.Expr)
	}
	return nil
}

// RecordedSLOs are the SLOs a trial was judged by, from its checks.
func RecordedSLOs(t *result.Trial) ([]slo.SLO, error) {
	var out []slo.SLO
	for _, c := range t.Checks {
		s, err := slo.Parse(c.Name)
		if err != nil {
			return nil, fmt.Errorf("recorded check %q: %w", c.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func mergeSLOs(have, extra []slo.SLO) []slo.SLO {
	out := append([]slo.SLO{}, have...)
	for _, e := range extra {
		replaced := false
		for i := range out {
			if out[i].Expr == e.Expr {
				out[i], replaced = e, true
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// legacy re-evaluates SLOs on a trial without recorded assumptions: its
// verdict stays unless an SLO fails a trial that was not invalid (an
// unknown metric fails as unknown), or one whose bracket straddles its
// limit makes a passing trial inconclusive.
func legacy(t *result.Trial, slos []slo.SLO) {
	t.Checks = slo.Evaluate(t, slos)
	for _, c := range t.Checks {
		switch {
		case c.Pass || t.Verdict == result.Invalid:
		case c.Observed == nil:
			t.Verdict = result.Fail
			t.Reasons = appendOnce(t.Reasons, fmt.Sprintf("SLO %s failed: its metric is unknown for this trial (not observed)", c.Name))
		case c.Undecided:
			if t.Verdict == result.Pass {
				t.Verdict = result.Inconclusive
			}
			t.Reasons = appendOnce(t.Reasons, undecidedReason(c))
		default:
			t.Verdict = result.Fail
			t.Reasons = appendOnce(t.Reasons, fmt.Sprintf("SLO %s failed: observed %s", c.Name, slo.Observed(c)))
		}
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
