package report

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// JUnit XML as CI systems read it (Jenkins, GitLab, GitHub actions): one
// testsuite per run, one testcase per trial and per SLO check.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func (s *junitSuite) add(c junitCase) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

// WriteJUnit writes the run's verdicts as JUnit XML: a testcase per trial
// (failed with its reasons; invalid and inconclusive trials skipped with
// theirs) and per SLO check of each trial (an undecided check skipped).
func WriteJUnit(w io.Writer, run *result.Run) error {
	suite := junitSuite{Name: "valkey-chaos " + run.RunID}
	if run.StartedUnixMs > 0 {
		suite.Timestamp = fmtUnixMsISO(run.StartedUnixMs)
	}
	for i := range run.Trials {
		t := &run.Trials[i]
		class := "valkey-chaos." + slug(t.Scenario) + "." + slug(t.Fault)
		tc := junitCase{Name: trialLabel(t), Classname: class, SystemOut: trialSummary(t)}
		why := strings.Join(t.Reasons, "; ")
		switch t.Verdict {
		case result.Pass:
		case result.Invalid:
			tc.Skipped = &junitSkipped{Message: "invalid trial (not evidence): " + why}
		case result.Inconclusive:
			// Not a failure: the evidence could not decide. JUnit has no
			// third outcome; a skipped case with its reasons is what CI
			// reporters show as neither passed nor failed (exit 4 says rerun).
			tc.Skipped = &junitSkipped{Message: "inconclusive trial (the evidence cannot decide): " + why}
		default:
			if why == "" {
				why = "verdict " + string(t.Verdict)
			}
			tc.Failure = &junitFailure{Message: why, Type: "verdict", Body: strings.Join(t.Reasons, "\n")}
		}
		suite.add(tc)
		for _, c := range t.Checks {
			cc := junitCase{Name: trialLabel(t) + ": " + c.Name, Classname: class + ".slo"}
			switch {
			case t.Verdict == result.Invalid:
				cc.Skipped = &junitSkipped{Message: "trial invalid: " + why}
			case undecided(c):
				cc.Skipped = &junitSkipped{Message: fmt.Sprintf("SLO %s undecided (inconclusive): observed %s", c.Name, observed(t, c))}
			case !c.Pass:
				msg := fmt.Sprintf("SLO %s failed: observed %s", c.Name, observed(t, c))
				cc.Failure = &junitFailure{Message: msg, Type: "slo", Body: msg}
			}
			suite.add(cc)
		}
	}
	return writeJUnit(w, "valkey-chaos "+run.RunID, []junitSuite{suite})
}

func writeJUnit(w io.Writer, name string, suites []junitSuite) error {
	doc := junitSuites{Name: name, Suites: suites}
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// trialSummary is the one line of numbers CI shows next to a test case.
func trialSummary(t *result.Trial) string {
	return fmt.Sprintf("rate %s/s, acked %d, lost %s, loss window %s, warm-up %s, RTO %s",
		fmtRate(t.RatePerS), t.Acked, readBackCount(t, t.Lost), lossWindowText(t), optSeconds(t.WarmupS, "none"), rtoText(t, "never served"))
}

func fmtUnixMsISO(ms int64) string {
	return fmtUnixMs(ms)[:10] + "T" + fmtUnixMs(ms)[11:19]
}

// WriteFileWith creates path atomically from what fill writes, for the
// CLI's --junit and --metrics files.
func WriteFileWith(path string, fill func(io.Writer) error) error {
	var b strings.Builder
	if err := fill(&b); err != nil {
		return err
	}
	if err := result.WriteFileAtomic(path, []byte(b.String())); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %v: choose a writable path", result.ErrBadInput, err)
		}
		return err
	}
	return nil
}
