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
	tr := &result.Trial{Scenario: "corrupt-rdb", Fault: "stop", Verdict: "fail", Acked: 500, ReplacementExited: "exit status 1"}
	row := trialTableRow(tr, "a")
	if row.Lost != "unknown" || strings.Contains(row.LossWindow, "nothing lost") || row.RTO != "never served" {
		t.Errorf("row %+v, want lost unknown, no 'nothing lost', RTO never served", row)
	}
	if got := afterRecoveryText(tr); !strings.Contains(got, "no recovery") {
		t.Errorf("after recovery: %q", got)
	}
}
