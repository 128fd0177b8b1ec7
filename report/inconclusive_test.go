package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

// Defect (review, item 11): an undecided check (inconclusive: its bracket
// straddles the limit) showed as FAIL in the report and as a failure in
// JUnit. It shows as inconclusive: the report's check row and status say
// so, JUnit skips it with the reason (CI reporters show a skipped case as
// neither passed nor failed, which is what inconclusive means; the exit
// code 4 asks for a rerun), the metrics count it apart, and no finding
// calls it a failure.
func TestUndecidedCheckIsInconclusiveNotFailed(t *testing.T) {
	rto := 1.2
	tr := result.Trial{Scenario: "crash", Fault: "crash", Acked: 1000, Lost: 40, PredictedLossWindowS: 10,
		LossWindowS: &result.Window{Low: 1.5, High: 2.4, Estimate: 1.9}, SnapshotSource: result.SourceClientBracket, RTOS: &rto,
		Assumptions: []result.Assumption{{Name: "finished", Held: true}}}
	slos, err := slo.ParseAll([]string{"loss_window<=2s"})
	if err != nil {
		t.Fatal(err)
	}
	judge.Apply(&tr, slos)
	if tr.Verdict != result.Inconclusive || len(tr.Checks) != 1 || !tr.Checks[0].Undecided {
		t.Fatalf("verdict %s checks %+v: the fixture needs an undecided check", tr.Verdict, tr.Checks)
	}
	run := &result.Run{RunID: "r", Complete: true, Trials: []result.Trial{tr}}

	rows := checkRows(&run.Trials[0])
	if rows[0].Result != "INCONCLUSIVE" || rows[0].Class != "inconclusive" || !strings.Contains(rows[0].Observed, "[1.5 s, 2.4 s]") {
		t.Errorf("check row %+v, want INCONCLUSIVE with its bracket", rows[0])
	}
	if status, _ := overallStatus(run); status != "INCONCLUSIVE" {
		t.Errorf("status %s, want INCONCLUSIVE", status)
	}
	if got := verdictCounts(run); !strings.Contains(got, "1 inconclusive") {
		t.Errorf("counts %q", got)
	}
	for _, f := range Findings(run) {
		if f.Level == "fail" {
			t.Errorf("finding %q calls an undecided check a failure", f.Text)
		}
	}
	if m := Metrics(run)[0]; m.ChecksFailed != 0 || m.ChecksUndecided != 1 {
		t.Errorf("metrics: %d checks failed, %d undecided; want 0 and 1", m.ChecksFailed, m.ChecksUndecided)
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, run); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Failures != 0 || doc.Skipped != 2 {
		t.Errorf("JUnit failures=%d skipped=%d, want 0 and 2 (the trial and its check)", doc.Failures, doc.Skipped)
	}
	for _, c := range doc.Suites[0].Cases {
		if c.Skipped == nil || !strings.Contains(c.Skipped.Message, "inconclusive") {
			t.Errorf("case %q: skipped %+v, want skipped naming inconclusive", c.Name, c.Skipped)
		}
	}
}
