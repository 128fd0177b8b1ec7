package report

import (
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/result"
)

// judgedTrial is a crash trial that lost writes within a 2.5 s prediction
// and served again, edited, then decided by the judge as the runner does:
// the report reads what the judge recorded, nothing else.
func judgedTrial(edit func(*result.Trial)) result.Trial {
	rto := 1.2
	tr := result.Trial{Scenario: "crash", Fault: "crash", Acked: 1000, Lost: 40, PredictedLossWindowS: 2.5,
		LossWindowS: &result.Window{Low: 1.8, High: 2.0, Estimate: 1.9}, SnapshotSource: result.SourceClientBracket, RTOS: &rto,
		Assumptions: []result.Assumption{{Name: "finished", Held: true}, {Name: "pacing", Held: true}}}
	edit(&tr)
	judge.Apply(&tr, nil)
	return tr
}

// faulted: the fault took the old server away (old_gone) at a known instant.
func faulted(tr *result.Trial) {
	tr.TFaultUnixMs = 1_700_000_000_000
	tr.Steps = append(tr.Steps, result.Step{Name: "fault", AtS: 3}, result.Step{Name: "old_gone", AtS: 3.01})
}

func findingsOf(tr result.Trial) []Finding {
	return Findings(&result.Run{RunID: "r", Complete: true, Target: result.Target{StopTimeoutS: 30}, Trials: []result.Trial{tr}})
}

func mentions(fs []Finding, level, text string) bool {
	for _, f := range fs {
		if (level == "" || f.Level == level) && strings.Contains(f.Text, text) {
			return true
		}
	}
	return false
}

// Defect (review, findings 1): every null rto_s was reported as "the cache
// never served again", a failure. RTO is null too when no fault was
// injected, the trial went invalid before its fault, or the target
// produced no replacement (nothing read back). The report says "never
// served" only where the judge found it (result.Trial.NeverServed): in the
// findings, the trial tables, JUnit's line and the metrics.
func TestNeverServedOnlyWhereTheJudgeFoundIt(t *testing.T) {
	cases := []struct {
		name string
		edit func(*result.Trial)
		want bool
	}{
		{"no fault injected", func(tr *result.Trial) { tr.Lost, tr.LossWindowS = 0, nil }, false},
		{"invalid before its fault", func(tr *result.Trial) {
			tr.Assumptions[1] = result.Assumption{Name: "pacing", Detail: "the write rate fell 12% short"}
		}, false},
		{"no replacement, nothing read back", func(tr *result.Trial) {
			faulted(tr)
			tr.Unread, tr.Lost, tr.LossWindowS = "the target produced no replacement", 0, nil
		}, false},
		{"watched and never served", func(tr *result.Trial) {
			faulted(tr)
			tr.Steps = append(tr.Steps, result.Step{Name: "new_started", AtS: 3.05})
		}, true},
		{"the replacement exited while starting (a crash loop)", func(tr *result.Trial) {
			faulted(tr)
			tr.ReplacementExited = "exit status 1"
			tr.Problems = []string{"the replacement exited while starting (exit status 1): on ECS the task would crash-loop: RTO unbounded"}
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := judgedTrial(func(tr *result.Trial) { c.edit(tr); tr.RTOS = nil })
			if tr.NeverServed != c.want {
				t.Fatalf("the judge's never_served %v, want %v (verdict %s, reasons %q): the fixture is wrong", tr.NeverServed, c.want, tr.Verdict, tr.Reasons)
			}
			fs := findingsOf(tr)
			if got := mentions(fs, "", "never served"); got != c.want {
				t.Errorf("findings %+v: \"never served\" %v, want %v", fs, got, c.want)
			}
			wantRTO := "not measured"
			if c.want {
				wantRTO = "never served"
			}
			if got := trialTableRow(&tr, "a").RTO; got != wantRTO {
				t.Errorf("trial table RTO %q, want %q", got, wantRTO)
			}
			if got := trialSummary(&tr); !strings.HasSuffix(got, "RTO "+wantRTO) {
				t.Errorf("JUnit line %q, want it to end with RTO %s", got, wantRTO)
			}
			run := &result.Run{Trials: []result.Trial{tr}}
			if m := Metrics(run)[0]; m.RTOS != nil || m.NeverServed != c.want {
				t.Errorf("metrics rto_s %v never_served %v, want null and %v", m.RTOS, m.NeverServed, c.want)
			}
		})
	}
}

// Defect (review, findings 2): a "fail" finding whenever the bracket's high
// end exceeded the prediction, though only the low end proves a breach and
// the judge said inconclusive. The loss-window finding follows the judge's
// verdict on it (result.Trial.LossWindowVerdict).
func TestLossWindowFindingFollowsTheJudge(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*result.Trial)
		level string // of the loss-window finding; "" for none
		text  string
	}{
		{"within the prediction", func(*result.Trial) {}, "", ""},
		{"straddles the prediction", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 2.0, High: 3.1, Estimate: 2.55}
		}, "warn", "is inconclusive on its loss window: the bracket [2 s, 3.1 s] straddles the 2.5 s"},
		{"one-sided, straddles", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 2.0, High: 9, Estimate: 2.0, OneSided: true}
		}, "warn", "one-sided bracket (no write survived) [2 s, 9 s] straddles"},
		{"not bracketed", func(tr *result.Trial) { tr.LossWindowS = nil }, "warn", "could not be bracketed"},
		{"low end beyond", func(tr *result.Trial) {
			tr.LossWindowS = &result.Window{Low: 2.6, High: 3, Estimate: 2.8}
		}, "fail", "the loss window exceeded the 2.5 s the save rules allow: measured 2.8 s [2.6 s, 3 s]"},
		{"pinned by the server log beyond", func(tr *result.Trial) {
			tr.SnapshotSource, tr.LossWindowS = result.SourceServerLog, &result.Window{Low: 2, High: 3, Estimate: 2.6}
		}, "fail", "snapshot instant from the server-log"},
		// The trial fails for another reason: its window is still undecided.
		{"straddles, failed for corruption", func(tr *result.Trial) {
			tr.LossWindowS, tr.Corrupt = &result.Window{Low: 2.0, High: 3.1, Estimate: 2.55}, 3
		}, "warn", "straddles"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := judgedTrial(c.edit)
			fs := findingsOf(tr)
			var window []Finding
			for _, f := range fs {
				if strings.Contains(f.Text, "loss window") {
					window = append(window, f)
				}
			}
			if c.level == "" {
				if len(window) > 0 {
					t.Errorf("verdict %s: findings %+v, want none on the loss window", tr.Verdict, window)
				}
				return
			}
			if len(window) != 1 || window[0].Level != c.level || !strings.Contains(window[0].Text, c.text) {
				t.Errorf("verdict %s (loss window %q): findings %+v, want one %s finding with %q", tr.Verdict, tr.LossWindowVerdict, window, c.level, c.text)
			}
			if tr.Verdict == result.Inconclusive && mentions(fs, "fail", "") {
				t.Errorf("an inconclusive trial has a failure finding: %+v", fs)
			}
		})
	}
}

// Defect (review, findings 3): the report tested Fault == "stop", so a
// rolling deployment, which the judge holds to a stop's rules, was read
// as a crash: no final-save finding, its loss listed among the crashes,
// no final_save or lost_on_stop in compare, no capacity row, a crash's
// glyph on the loss-window chart. One predicate (target's Graceful) now.
func TestRollingDeployIsGracefulThroughoutTheReport(t *testing.T) {
	fs := 2.0
	deploy := func(lost int) result.Trial {
		return judgedTrial(func(tr *result.Trial) {
			tr.Fault, tr.Lost, tr.FinalSaveS = "rolling-deploy", lost, &fs
			tr.Dataset = &result.Dataset{Keys: int64(1000 + lost), RDBBytes: 1 << 20}
		})
	}
	saved, lost := deploy(0), deploy(7)
	if !mentions(findingsOf(saved), "ok", "lost nothing: the final save took 2 s, 7% of the 30 s stop timeout") {
		t.Errorf("findings %+v lack the final save's headroom", findingsOf(saved))
	}
	if !mentions(findingsOf(lost), "fail", "a graceful stop lost 7 acknowledged writes") {
		t.Errorf("findings %+v lack the graceful stop's loss", findingsOf(lost))
	}
	for _, m := range compareMetrics {
		if m.name != "final_save" && m.name != "lost_on_stop" {
			continue
		}
		if _, ok := m.get(&lost); !ok {
			t.Errorf("compare: %s does not apply to a rolling deploy", m.name)
		}
	}
	run := &result.Run{Target: result.Target{StopTimeoutS: 30}, Trials: []result.Trial{saved, lost}}
	if v := capacity(run); v == nil || len(v.Rows) != 2 {
		t.Errorf("capacity %+v, want a row per rolling deploy", v)
	}
	if g := windowGroupOf(&lost); g != groupGracefulLoss {
		t.Errorf("loss-window chart group %d, want the graceful stops' (%d)", g, groupGracefulLoss)
	}
}
