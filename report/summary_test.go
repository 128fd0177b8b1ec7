package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestSummaryHasOneLinePerTrial(t *testing.T) {
	run := &result.Run{}
	for i, v := range []result.Verdict{result.Pass, result.Fail, result.Invalid} {
		run.Trials = append(run.Trials, result.Trial{Scenario: "crash", Index: i, Fault: "crash", Verdict: v, Reasons: []string{"because"}})
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, run); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != len(run.Trials)+1 {
		t.Errorf("summary has %d lines, want a header and one per trial:\n%s", lines, b.String())
	}
}

// A replacement that never started leaves nothing to read back: the report
// must not show that as zero lost.
func TestNeverRecoveredTrialIsNotShownAsNothingLost(t *testing.T) {
	// never_served as the judge records it for a replacement that exited
	// while starting (a crash loop).
	tr := &result.Trial{Scenario: "corrupt-rdb", Fault: "stop", Verdict: "fail", Acked: 500, ReplacementExited: "exit status 1", NeverServed: true}
	row := trialTableRow(tr, "a")
	if row.Lost != "unknown" || strings.Contains(row.LossWindow, "nothing lost") || row.RTO != "never served" {
		t.Errorf("row %+v, want lost unknown, no 'nothing lost', RTO never served", row)
	}
	if got := afterRecoveryText(tr); !strings.Contains(got, "no recovery") {
		t.Errorf("after recovery: %q", got)
	}
}

// Defect (review, item 10): a trial that was never read back (cut short)
// showed "lost 0" in the summary table where its own line said unknown.
// Unknown renders as unknown in every sink: the summary, the report's
// table, JUnit's line, the metrics.
func TestUnreadTrialIsUnknownInEverySink(t *testing.T) {
	tr := result.Trial{Scenario: "crash", Fault: "crash", Verdict: result.Invalid, Acked: 500, RatePerS: 100,
		Unread: "the keys were never read back: the trial ended before recovery (interrupted)", Reasons: []string{"trial did not finish: interrupted"}}
	run := &result.Run{Trials: []result.Trial{tr}}
	var b bytes.Buffer
	if err := WriteSummary(&b, run); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	f := strings.Fields(lines[1])
	if len(f) < 9 || f[4] != "unknown" || f[5] != "unknown" || f[6] != "unknown" || f[7] != "unknown" || f[8] != "-" {
		t.Errorf("summary row %q: want lost, recovered, anomalies and the window unknown, no prediction", lines[1])
	}
	row := trialTableRow(&tr, "a")
	if row.Lost != "unknown" || row.Recovered != "unknown" || row.Anomalies != "unknown" || !strings.Contains(row.LossWindow, "unknown") || row.Predicted != "-" {
		t.Errorf("report row %+v: want the read-back counts and the window unknown", row)
	}
	if got := afterRecoveryText(&tr); !strings.Contains(got, "unknown") || strings.Contains(got, "0 lost") {
		t.Errorf("after recovery: %q", got)
	}
	if got := trialSummary(&tr); !strings.Contains(got, "lost unknown") || strings.Contains(got, "nothing lost") {
		t.Errorf("JUnit line %q: want lost unknown", got)
	}
	if m := Metrics(run)[0]; m.Lost != nil || m.Recovered != nil || m.Anomalies != nil || m.LossWindowS != nil {
		t.Errorf("metrics %+v: want lost, recovered, anomalies and the window null", m)
	}
}

// A trial whose keys were never read back (the run was interrupted first,
// or the replacement went away during the read-back) has lost 0 in its
// numbers only because nothing was counted: no view may show it as
// nothing lost or as a zero loss window, and one that stopped serving is
// a failure finding.
func TestUnreadTrialIsNotShownAsNothingLost(t *testing.T) {
	gone := result.Trial{Scenario: "crash", Fault: "stop", Verdict: "fail", Acked: 500, RatePerS: 100, RTOS: f64(0.2), FinalSaveS: f64(0.1),
		Unread: "the read-back was cut short: the server stopped serving after it had recovered", StoppedServing: "scan for unexpected keys: EOF"}
	interrupted := result.Trial{Scenario: "crash", Index: 1, Fault: "crash", Verdict: "invalid", Acked: 500, RatePerS: 100,
		Unread: "the keys were never read back: the trial ended before recovery (interrupted)", Interrupted: "cut short: interrupted"}
	run := &result.Run{Complete: true, Target: result.Target{StopTimeoutS: 30}, Trials: []result.Trial{gone, interrupted}}
	for i := range run.Trials {
		tr := &run.Trials[i]
		row := trialTableRow(tr, "a")
		if row.Lost != "unknown" || !strings.HasPrefix(row.LossWindow, "unknown") {
			t.Errorf("%s: row lost %q, loss window %q; want both unknown", tr.Label(), row.Lost, row.LossWindow)
		}
		if got := afterRecoveryText(tr); !strings.HasPrefix(got, "unknown") {
			t.Errorf("%s: after recovery %q, want unknown", tr.Label(), got)
		}
		if m := Metrics(run)[i]; m.LossWindowS != nil {
			t.Errorf("%s: metrics loss window %v, want null", tr.Label(), *m.LossWindowS)
		}
		if v, ok := compareMetrics[0].get(tr); ok {
			t.Errorf("%s: compared loss window %v, want none", tr.Label(), v)
		}
	}
	var b bytes.Buffer
	if err := WriteSummary(&b, run); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "unknown") || !strings.Contains(lines[2], "unknown") {
		t.Errorf("summary, want lost unknown on each trial's line:\n%s", b.String())
	}
	var stopped, nothing bool
	for _, fd := range Findings(run) {
		stopped = stopped || fd.Level == "fail" && strings.Contains(fd.Text, "stopped serving after it had recovered")
		nothing = nothing || strings.Contains(fd.Text, "lost nothing")
	}
	if !stopped || nothing {
		t.Errorf("findings %+v: want the stop in service as a failure, and no 'lost nothing'", Findings(run))
	}
}

func f64(v float64) *float64 { return &v }
