package judge

import (
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

func f(v float64) *float64 { return &v }

// base is a crash trial that passes: every assumption held, something was
// lost within the prediction, the cache served again.
func base() result.Trial {
	return result.Trial{
		Scenario: "crash", Fault: "crash", Acked: 1000, Lost: 40, PredictedLossWindowS: 2.5,
		LossWindowS: &result.Window{Low: 1.8, High: 2.0, Estimate: 1.9}, SnapshotSource: result.SourceClientBracket,
		RTOS:        f(1.2),
		Assumptions: []result.Assumption{{Name: "finished", Held: true}, {Name: "pacing", Held: true}},
	}
}

func TestDecideInOrderAssumptionsInvariantsSLOs(t *testing.T) {
	mustSLO := func(expr string) []slo.SLO {
		s, err := slo.ParseAll([]string{expr})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name   string
		edit   func(*result.Trial)
		slos   []slo.SLO
		want   result.Verdict
		reason string
	}{
		{"within the prediction", func(*result.Trial) {}, nil, result.Pass, ""},
		{"pinned by the server log beyond the prediction", func(tr *result.Trial) {
			tr.SnapshotSource, tr.LossWindowS = result.SourceServerLog, &result.Window{Low: 2, High: 3, Estimate: 2.6}
		}, nil, result.Fail, "pinned by the server log"},
		{"bracket's low end beyond the prediction", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8}
		}, nil, result.Fail, "at least 2.60s"},
		// Defect 5: only the low end proves a breach.
		{"bracket straddles the prediction", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 2.0, High: 3.1, Estimate: 2.55}
		}, nil, result.Inconclusive, "straddles"},
		// Defect 1: no survivor, a one-sided bracket whose low end is beyond.
		{"every measured write lost, one-sided low end beyond", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 3.7, High: 9, Estimate: 3.7, OneSided: true}
		}, nil, result.Fail, "one-sided"},
		{"stale load named", func(tr *result.Trial) {
			tr.StaleLoad = &result.StaleLoad{Detail: "seq 5 acknowledged before the fork is lost", KeysLoaded: -1}
		}, nil, result.Fail, "the replacement loaded a snapshot older than the last completed save"},
		// Defect 6: an escalated stop fails even when nothing was lost.
		{"stop escalated, nothing lost", func(tr *result.Trial) {
			tr.Fault, tr.Lost, tr.StopEscalated, tr.StopTimeoutS, tr.LossWindowS = "stop", 0, true, 30, &result.Window{}
		}, nil, result.Fail, "did not finish within the 30s stop timeout"},
		{"graceful stop lost writes", func(tr *result.Trial) { tr.Fault = "stop" }, nil, result.Fail, "lost on a graceful stop"},
		{"never served", func(tr *result.Trial) { tr.RTOS = nil }, nil, result.Fail, "RTO unbounded"},
		// The replacement recovered, then went away during the read-back
		// (a health check killed it): a failure of the system, whose loss
		// is unknown, never a pass with nothing lost.
		{"stopped serving during the read-back", func(tr *result.Trial) {
			tr.Lost, tr.LossWindowS = 0, nil
			tr.Unread, tr.StoppedServing = "the read-back was cut short", "scan for unexpected keys: scan vc:w:*: EOF"
		}, nil, result.Fail, "stopped serving after it had recovered, during the read-back (scan for unexpected keys: scan vc:w:*: EOF): what was lost is unknown"},
		{"a phase's problem fails", func(tr *result.Trial) { tr.Problems = []string{"writes were still refused"} }, nil, result.Fail, "still refused"},
		{"assumption first: invalid even though it also lost too much", func(tr *result.Trial) {
			tr.Assumptions = append(tr.Assumptions, result.Assumption{Name: "fault_in_cycle", Detail: "another save completed"})
			tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8}
		}, nil, result.Invalid, "another save completed"},
		{"SLO failed", func(*result.Trial) {}, mustSLO("rto<=1s"), result.Fail, "SLO rto<=1s failed: observed 1.2 s"},
		// Defect 10: an SLO on data nobody read back fails as unknown.
		{"SLO on unread data", func(tr *result.Trial) {
			tr.Unread, tr.Lost, tr.LossWindowS, tr.Interrupted = "interrupted", 0, nil, "cut short"
		}, mustSLO("lost==0"), result.Fail, "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := base()
			c.edit(&tr)
			d := Decide(&tr, c.slos)
			if d.Verdict != c.want {
				t.Fatalf("verdict %s, want %s (reasons %q)", d.Verdict, c.want, d.Reasons)
			}
			if c.reason != "" && !strings.Contains(strings.Join(d.Reasons, "; "), c.reason) {
				t.Errorf("reasons %q lack %q", d.Reasons, c.reason)
			}
			if c.want == result.Pass && len(d.Reasons) != 0 {
				t.Errorf("a pass with reasons %q", d.Reasons)
			}
		})
	}
}

// A check on an unknown metric records observed null, never 0.
func TestUnknownMetricIsRecordedAsNull(t *testing.T) {
	tr := base()
	tr.ReplacementExited = "exit status 1"
	tr.Lost = 0
	d := Decide(&tr, mustParse(t, "lost_on_crash==0"))
	if len(d.Checks) != 1 || d.Checks[0].Observed != nil || d.Checks[0].Pass {
		t.Fatalf("checks %+v, want one failing check with observed null", d.Checks)
	}
}

func mustParse(t *testing.T, exprs ...string) []slo.SLO {
	t.Helper()
	s, err := slo.ParseAll(exprs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Re-judging keeps the trial's own SLOs and adds the new ones.
func TestRejudgeAddsSLOsToTheRecordedOnes(t *testing.T) {
	tr := base()
	Apply(&tr, mustParse(t, "rto<=5s"))
	run := &result.Run{Trials: []result.Trial{tr}}
	if err := Rejudge(run, mustParse(t, "warmup<=1s")); err != nil {
		t.Fatal(err)
	}
	got := run.Trials[0]
	if len(got.Checks) != 2 || got.Verdict != result.Fail {
		t.Fatalf("checks %+v verdict %s, want the recorded SLO kept and the unknown warm-up failing", got.Checks, got.Verdict)
	}
}

// Each persistence strategy is held to what it allows, not to the rules.
func TestStrategyLossRules(t *testing.T) {
	old := func(v float64) *float64 { return &v }
	cases := []struct {
		name    string
		allowed result.AllowedLoss
		lost    int
		oldest  *float64
		fault   string
		want    result.Verdict
	}{
		{"none loses everything on a crash", result.AllowedLoss{Everything: true}, 500, old(9), "crash", result.Pass},
		{"none loses everything on a stop", result.AllowedLoss{Everything: true}, 500, old(9), "stop", result.Pass},
		{"aof-always loses nothing", result.AllowedLoss{}, 0, nil, "crash", result.Pass},
		{"aof-always lost one", result.AllowedLoss{}, 1, old(0.01), "crash", result.Fail},
		{"everysec within 2 s", result.AllowedLoss{WindowS: 2}, 80, old(1.9), "crash", result.Pass},
		{"everysec beyond 2.2 s", result.AllowedLoss{WindowS: 2}, 80, old(2.5), "crash", result.Fail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := base()
			tr.Fault, tr.Persistence, tr.Lost, tr.OldestLostS = c.fault, "aof-everysec", c.lost, c.oldest
			a := c.allowed
			tr.AllowedLoss = &a
			tr.LossWindowS = &result.Window{Low: 8, High: 9, Estimate: 8.5} // beyond the rules' prediction: not the rule here
			if d := Decide(&tr, nil); d.Verdict != c.want {
				t.Errorf("verdict %s, want %s: %q", d.Verdict, c.want, d.Reasons)
			}
		})
	}
}
