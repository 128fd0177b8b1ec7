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

// fellBehind marks tr's pacing assumption as not held.
func fellBehind(tr *result.Trial) {
	for i := range tr.Assumptions {
		if tr.Assumptions[i].Name == "pacing" {
			tr.Assumptions[i] = result.Assumption{Name: "pacing", Detail: "sent 1800/s before the fault, more than 5% short of the target 2000/s: the harness fell behind"}
		}
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
		// The saves say why: the one in flight at the fault ran longer
		// than the BGSAVE the prediction assumed, or one failed.
		{"beyond the prediction behind a slow save", func(tr *result.Trial) {
			tr.TrialStartUnixMs, tr.TFaultUnixMs, tr.BGSaveS = 1_000_000, 1_012_000, 0.3
			tr.Saves = []result.Save{{StartS: 5, EndS: 5.3, OK: true}, {StartS: 7.6, EndS: 7.9, OK: true}, {StartS: 10.1}}
			tr.LossWindowS = &result.Window{Low: 4.3, High: 4.5, Estimate: 4.4}
		}, nil, result.Fail, "the save in flight at the fault had run 1.90s, longer than the 0.30s BGSAVE"},
		{"beyond the prediction behind a failed save", func(tr *result.Trial) {
			tr.TrialStartUnixMs, tr.TFaultUnixMs, tr.BGSaveS = 1_000_000, 1_012_000, 0.3
			tr.Saves = []result.Save{{StartS: 7.6, EndS: 7.9, OK: true}, {StartS: 9.8, EndS: 9.9}}
			tr.LossWindowS = &result.Window{Low: 4.3, High: 4.5, Estimate: 4.4}
		}, nil, result.Fail, "the save forked at 9.80s failed, so the snapshot was the one forked at 7.60s"},
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
		{"never served", func(tr *result.Trial) { tr.RTOS = nil; recovering(tr) }, nil, result.Fail, "RTO unbounded"},
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
		// A harness that fell behind voids what rests on the rate, not
		// what the data proves at any rate (restored-backup at time scale
		// 0.01 on two cores exited 4, "rerun", over a proven stale load).
		{"harness fell behind, stale load proven", func(tr *result.Trial) {
			fellBehind(tr)
			tr.StaleLoad = &result.StaleLoad{Detail: "219417 acknowledged writes before that fork are lost", KeysLoaded: 20001}
		}, mustSLO("rto<=1s"), result.Fail, "before that fork are lost; not judged, the harness's rate did not hold: the loss window against the rules and the SLOs (sent 1800/s"},
		{"harness fell behind, stale load, and a phase's problem stays", func(tr *result.Trial) {
			fellBehind(tr)
			tr.StaleLoad = &result.StaleLoad{Detail: "seq 5 acknowledged before the fork is lost", KeysLoaded: -1}
			tr.Problems = []string{"writes were still refused"}
			tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8}
		}, nil, result.Fail, "older than the last completed save: seq 5 acknowledged before the fork is lost; writes were still refused; not judged"},
		{"harness fell behind, a graceful stop lost writes", func(tr *result.Trial) {
			fellBehind(tr)
			tr.Fault = "stop"
		}, nil, result.Fail, "lost on a graceful stop"},
		{"harness fell behind, window beyond the prediction: rests on the rate", func(tr *result.Trial) {
			fellBehind(tr)
			tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8}
		}, nil, result.Invalid, "sent 1800/s"},
		{"harness fell behind and the fault left its cycle, stale load: invalid", func(tr *result.Trial) {
			fellBehind(tr)
			tr.Assumptions = append(tr.Assumptions, result.Assumption{Name: "fault_in_cycle", Detail: "another save completed"})
			tr.StaleLoad = &result.StaleLoad{Detail: "seq 5 acknowledged before the fork is lost", KeysLoaded: -1}
		}, nil, result.Invalid, "another save completed"},
		{"SLO failed", func(*result.Trial) {}, mustSLO("rto<=1s"), result.Fail, "SLO rto<=1s failed: observed 1.2 s"},
		// Defect 10: an SLO on data nobody read back fails as unknown.
		{"SLO on unread data", func(tr *result.Trial) {
			tr.Unread, tr.Lost, tr.LossWindowS, tr.Interrupted = "interrupted", 0, nil, "cut short"
		}, mustSLO("lost==0"), result.Fail, "unknown"},
		// Without an SLO on it, a trial never read back is no pass either.
		{"unread, no SLO", func(tr *result.Trial) {
			tr.Unread, tr.Lost, tr.LossWindowS, tr.Interrupted = "interrupted", 0, nil, "cut short"
		}, nil, result.Inconclusive, "what was lost is unknown"},
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
			if c.want == result.Fail && strings.HasPrefix(c.name, "harness fell behind") && strings.Contains(strings.Join(d.Reasons, "; "), "SLO rto") {
				t.Errorf("reasons %q judge an SLO although the harness's rate did not hold", d.Reasons)
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

// A rolling deployment stops the old task as StopTask does (SIGTERM, final
// save, SIGKILL after the stop timeout): it is judged as a stop. The case
// found in review: the old task's stop escalated, 5612 of 7604
// acknowledged writes were lost, and the trial passed because the loss
// window fitted the rules' prediction.
func TestRollingDeployIsJudgedLikeAStop(t *testing.T) {
	deploy := func() result.Trial {
		tr := base()
		tr.Scenario, tr.Fault, tr.Acked, tr.Lost, tr.StopTimeoutS = "rolling-deploy", "rolling-deploy", 7604, 5612, 2
		return tr
	}
	cases := []struct {
		name   string
		edit   func(*result.Trial)
		want   result.Verdict
		reason string
	}{
		{"escalated, loss within the prediction", func(tr *result.Trial) { tr.StopEscalated = true }, result.Fail, "did not finish within the 2s stop timeout: SIGKILL, 5612 acknowledged writes lost"},
		{"escalated, nothing lost", func(tr *result.Trial) { tr.StopEscalated, tr.Lost, tr.LossWindowS = true, 0, &result.Window{} }, result.Fail, "SIGKILL"},
		{"final save in time, writes lost", func(*result.Trial) {}, result.Fail, "5612 acknowledged writes lost on a rolling deployment"},
		{"final save in time, nothing lost", func(tr *result.Trial) { tr.Lost, tr.LossWindowS = 0, &result.Window{} }, result.Pass, ""},
		{"aof-everysec allows nothing on a stop", func(tr *result.Trial) {
			tr.Persistence, tr.AllowedLoss, tr.OldestLostS = "aof-everysec", &result.AllowedLoss{WindowS: 0, Why: "SIGTERM flushes and fsyncs the AOF before exiting"}, f(0.5)
		}, result.Fail, "allows none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := deploy()
			c.edit(&tr)
			d := Decide(&tr, nil)
			if d.Verdict != c.want || !strings.Contains(strings.Join(d.Reasons, "; "), c.reason) {
				t.Fatalf("verdict %s (%q), want %s naming %q", d.Verdict, d.Reasons, c.want, c.reason)
			}
		})
	}
	// Writes lost to two servers on one dump.rdb are the overlap's reason.
	tr := deploy()
	tr.OverlapS, tr.Anomalies = &result.Span{From: 1, To: 2.5}, 5612
	d := Decide(&tr, nil)
	if why := strings.Join(d.Reasons, "; "); d.Verdict != result.Fail || !strings.Contains(why, "before the old server was gone") || strings.Contains(why, "lost on a rolling deployment") {
		t.Errorf("overlapped deployment: verdict %s (%q), want the overlap named as the cause", d.Verdict, d.Reasons)
	}
}

// Missing evidence never passes: for every kind of check, a trial whose
// value for it is unknown (null, or nothing read back) gets the check
// undecided with observed null, and the trial inconclusive unless an
// invariant fails it on its own.
func TestMissingEvidenceNeverPasses(t *testing.T) {
	unread := func(tr *result.Trial) {
		tr.Unread, tr.Lost, tr.LossWindowS = "the keys were never read back: the trial ended before recovery (interrupted)", 0, nil
	}
	stop := func(tr *result.Trial) {
		tr.Fault, tr.Lost, tr.LossWindowS, tr.FinalSaveS = "stop", 0, &result.Window{}, f(0.4)
	}
	missing := map[string]struct {
		edit func(*result.Trial)
		want result.Verdict
	}{
		"loss_window":      {func(tr *result.Trial) { tr.LossWindowS = nil }, result.Fail},
		"loss_window_high": {func(tr *result.Trial) { tr.LossWindowS = nil }, result.Fail},
		"rto":              {func(tr *result.Trial) { tr.RTOS = nil; recovering(tr) }, result.Fail}, // the cache never served: an invariant
		"warmup":           {func(tr *result.Trial) { tr.WarmupS = nil }, result.Fail},
		"server_load":      {func(tr *result.Trial) { tr.ServerLoadS = nil }, result.Fail},
		"final_save":       {func(tr *result.Trial) { stop(tr); tr.FinalSaveS = nil }, result.Fail},
		"lost":             {unread, result.Fail},
		"lost_on_stop":     {func(tr *result.Trial) { stop(tr); unread(tr) }, result.Fail},
		"lost_on_crash":    {unread, result.Fail},
		"anomalies":        {unread, result.Fail},
		"corrupt":          {unread, result.Fail},
		"unexpected":       {unread, result.Fail},
	}
	limit := func(m string) string {
		if slo.IsDuration(m) {
			return "1h"
		}
		return "0"
	}
	for _, m := range slo.Metrics() {
		c, ok := missing[m]
		if !ok {
			t.Errorf("metric %s has no missing-evidence case", m)
			continue
		}
		for _, op := range []string{"<=", ">=", "==", "!="} {
			expr := m + op + limit(m)
			t.Run(expr, func(t *testing.T) {
				tr := base()
				tr.WarmupS, tr.ServerLoadS = f(0.3), f(0.2)
				c.edit(&tr)
				d := Decide(&tr, mustParse(t, expr))
				if len(d.Checks) != 1 {
					t.Fatalf("checks %+v, want one", d.Checks)
				}
				// Issue 10: an SLO on unknown data fails as unknown.
				if ch := d.Checks[0]; ch.Pass || ch.Undecided || ch.Observed != nil {
					t.Errorf("check %+v, want failed with observed null", ch)
				}
				if d.Verdict == result.Pass || d.Verdict != c.want {
					t.Errorf("verdict %s (%q), want %s", d.Verdict, d.Reasons, c.want)
				}
			})
		}
		// Nothing read back: whatever the check, the trial is no pass.
		t.Run(m+" on an unread trial", func(t *testing.T) {
			tr := base()
			tr.WarmupS, tr.ServerLoadS, tr.FinalSaveS = f(0.3), f(0.2), f(0.4)
			unread(&tr)
			expr := m + ">=0"
			if slo.IsDuration(m) {
				expr += "s"
			}
			if d := Decide(&tr, mustParse(t, expr)); d.Verdict == result.Pass {
				t.Errorf("an unread trial passed: %q, checks %+v", d.Reasons, d.Checks)
			}
		})
	}
}

// A loss_window SLO on a bracket (client or one-sided) is decided by the
// bracket's ends: low end beyond the limit fails, high end within it
// passes, anything else is inconclusive, never a pass on the point
// estimate. A window pinned by the server log is decided by its value.
func TestLossWindowSLOIsDecidedByTheBracketsEnds(t *testing.T) {
	cases := []struct {
		name string
		w    result.Window
		src  string
		slo  string
		want result.Verdict
		why  string
	}{
		{"low end beyond", result.Window{Low: 2.1, High: 2.4, Estimate: 2.2}, result.SourceClientBracket, "loss_window<=2s", result.Fail, "SLO loss_window<=2s failed: observed 2.2 s in [2.1 s, 2.4 s]"},
		{"high end within", result.Window{Low: 1.5, High: 1.9, Estimate: 1.7}, result.SourceClientBracket, "loss_window<=2s", result.Pass, ""},
		{"high end on the limit", result.Window{Low: 1.5, High: 2, Estimate: 1.7}, result.SourceClientBracket, "loss_window<=2s", result.Pass, ""},
		{"straddles, estimate within", result.Window{Low: 1.5, High: 2.4, Estimate: 1.9}, result.SourceClientBracket, "loss_window<=2s", result.Inconclusive, "undecided: observed 1.9 s in [1.5 s, 2.4 s]"},
		{"straddles, estimate beyond", result.Window{Low: 1.5, High: 2.4, Estimate: 2.1}, result.SourceClientBracket, "loss_window<=2s", result.Inconclusive, "undecided"},
		{"one-sided, straddles", result.Window{Low: 1.8, High: 2.2, Estimate: 1.8, OneSided: true}, result.SourceServerLog, "loss_window<=2s", result.Inconclusive, "undecided"},
		{"one-sided, low end beyond", result.Window{Low: 2.05, High: 2.3, Estimate: 2.05, OneSided: true}, result.SourceClientBracket, "loss_window<=2s", result.Fail, "failed"},
		{"a lower bound, straddles", result.Window{Low: 1.5, High: 2.4, Estimate: 2.1}, result.SourceClientBracket, "loss_window>=2s", result.Inconclusive, "undecided"},
		{"a lower bound, low end above", result.Window{Low: 2.1, High: 2.4, Estimate: 2.2}, result.SourceClientBracket, "loss_window>=2s", result.Pass, ""},
		{"pinned by the server log", result.Window{Low: 1.5, High: 2.4, Estimate: 1.9}, result.SourceServerLog, "loss_window<=2s", result.Pass, ""},
		{"pinned beyond", result.Window{Low: 1.5, High: 2.4, Estimate: 2.1}, result.SourceServerLog, "loss_window<=2s", result.Fail, "observed 2.1 s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := base()
			w := c.w
			tr.LossWindowS, tr.SnapshotSource, tr.PredictedLossWindowS = &w, c.src, 10 // the rules' check holds: the SLO alone decides
			d := Decide(&tr, mustParse(t, c.slo))
			if d.Verdict != c.want || !strings.Contains(strings.Join(d.Reasons, "; "), c.why) {
				t.Fatalf("verdict %s (%q), want %s naming %q", d.Verdict, d.Reasons, c.want, c.why)
			}
			if ch := d.Checks[0]; ch.Undecided != (c.want == result.Inconclusive) || ch.Pass != (c.want == result.Pass) {
				t.Errorf("check %+v, want pass=%v undecided=%v", ch, c.want == result.Pass, c.want == result.Inconclusive)
			}
		})
	}
}

// recovering marks a trial whose fault took the old server away and whose
// replacement started, watched by the probe.
func recovering(tr *result.Trial) {
	tr.TFaultUnixMs = 1_700_000_000_000
	tr.Steps = append(tr.Steps, result.Step{Name: "fault", AtS: 3}, result.Step{Name: "old_gone", AtS: 3.01}, result.Step{Name: "new_started", AtS: 3.05})
}

// A recovery reason only where a fault took the old server away and the
// replacement was watched and never served: never on a trial that went
// invalid before its fault, nor on a fault that did not take.
func TestRecoveryReasonOnlyAfterAWatchedRecovery(t *testing.T) {
	cases := []struct {
		name string
		edit func(*result.Trial)
		want bool
	}{
		{"watched and never served", func(tr *result.Trial) { recovering(tr) }, true},
		{"invalid before the fault (pacing)", func(tr *result.Trial) {
			tr.Assumptions = append(tr.Assumptions, result.Assumption{Name: "pacing", Detail: "the write rate fell 12% short"})
		}, false},
		{"aborted before the fault (a stop condition)", func(tr *result.Trial) {
			tr.TFaultUnixMs = 1_700_000_000_000
			tr.Steps = []result.Step{{Name: "fault", AtS: 3}}
			tr.Assumptions = append(tr.Assumptions, result.Assumption{Name: "fault_confirmed", Detail: "aborted before the fault: stop condition"})
		}, false},
		{"no replacement from the target", func(tr *result.Trial) {
			recovering(tr)
			tr.Steps = tr.Steps[:2]
			tr.Assumptions = append(tr.Assumptions, result.Assumption{Name: "finished", Detail: "trial did not finish: recover: throttled"})
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := base()
			tr.RTOS = nil
			c.edit(&tr)
			d := Decide(&tr, nil)
			if got := strings.Contains(strings.Join(d.Reasons, "; "), "never served again"); got != c.want {
				t.Errorf("reasons %q: RTO reason %v, want %v", d.Reasons, got, c.want)
			}
			// The typed record sinks read says the same as the reason.
			if Apply(&tr, nil); tr.NeverServed != c.want {
				t.Errorf("never_served %v, want %v (reasons %q)", tr.NeverServed, c.want, tr.Reasons)
			}
		})
	}
	// A replacement that exited while starting is a crash loop (scenarios'
	// own reason): the cache never served again either.
	tr := base()
	tr.RTOS, tr.ReplacementExited = nil, "exit status 1"
	tr.Problems = []string{"the replacement exited while starting (exit status 1): on ECS the task would crash-loop: RTO unbounded"}
	recovering(&tr)
	if Apply(&tr, nil); !tr.NeverServed || tr.Verdict != result.Fail {
		t.Errorf("exited replacement: never_served %v, verdict %s", tr.NeverServed, tr.Verdict)
	}
}

// The judge records how the loss window held against the prediction, so
// that sinks word its verdict and never decide it again: only the
// server log's instant or the bracket's low end fails; a straddling or
// missing bracket is inconclusive; a window not held (nothing lost, a
// graceful fault) has none.
func TestLossWindowVerdictIsRecorded(t *testing.T) {
	cases := []struct {
		name string
		edit func(*result.Trial)
		want result.Verdict
	}{
		{"within the prediction", func(*result.Trial) {}, result.Pass},
		{"low end beyond", func(tr *result.Trial) { tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8} }, result.Fail},
		{"pinned by the server log beyond", func(tr *result.Trial) {
			tr.SnapshotSource, tr.LossWindowS = result.SourceServerLog, &result.Window{Low: 2, High: 3, Estimate: 2.6}
		}, result.Fail},
		{"straddles", func(tr *result.Trial) { tr.LossWindowS = &result.Window{Low: 2.0, High: 3.1, Estimate: 2.55} }, result.Inconclusive},
		{"not bracketed", func(tr *result.Trial) { tr.LossWindowS = nil }, result.Inconclusive},
		{"nothing lost", func(tr *result.Trial) { tr.Lost = 0 }, ""},
		{"a rolling deploy is a graceful stop", func(tr *result.Trial) { tr.Fault = "rolling-deploy" }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := base()
			c.edit(&tr)
			Apply(&tr, nil)
			if tr.LossWindowVerdict != c.want {
				t.Errorf("loss_window_verdict %q, want %q (verdict %s, reasons %q)", tr.LossWindowVerdict, c.want, tr.Verdict, tr.Reasons)
			}
		})
	}
}
