package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// cancelOn is an output that cancels the run when a line containing the
// marker is written: an in-process Ctrl-C at a known point.
type cancelOn struct {
	syncBuffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	n, err := c.syncBuffer.Write(p)
	if strings.Contains(c.String(), c.marker) {
		c.cancel()
	}
	return n, err
}

// published sums what the twin received in namespace ns.
type published struct {
	heartbeats float64
	outcomes   map[string]float64 // Outcome dimension -> sum
	perTrial   int                // data points with a Scenario dimension
}

func publishedIn(tw *ecstwin.Twin, ns string) published {
	p := published{outcomes: map[string]float64{}}
	for _, m := range tw.Metrics() {
		if m.Namespace != ns {
			continue
		}
		switch {
		case m.Name == "Heartbeat" && len(m.Dimensions) == 0:
			p.heartbeats += m.Value
		case m.Name == "Outcome" && len(m.Dimensions) == 1:
			p.outcomes[m.Dimensions["Outcome"]] += m.Value
		case m.Dimensions["Scenario"] != "":
			p.perTrial++
		}
	}
	return p
}

// Every exit path of a scheduled run publishes Heartbeat 1 and exactly one
// Outcome datum whose dimension matches the exit code's outcome, plus the
// per-trial metrics when trials ran (terraform/modules/chaos-schedule's
// metric contract; its alarms treat missing data as breaching).
func TestEveryExitPathPublishesHeartbeatAndOutcome(t *testing.T) {
	tw := startE2ETwin(t, ecstwin.Config{Alarms: map[string]string{"valkey-health": "OK", "always-red": "ALARM"}})
	cases := []struct {
		name       string
		want       outcome
		wantTrials bool
		before     func() // twin set-up for this case
		args       []string
		cancelAt   string // cancel the run when the output shows this
	}{
		{name: "pass", want: outcomePass, wantTrials: true, args: []string{"crash"}},
		{name: "fail", want: outcomeFail, wantTrials: true, args: []string{"--slo", "lost<0", "crash"}},
		{name: "inconclusive (stop condition)", want: outcomeInconclusive, args: []string{"--alarm", "always-red", "crash"}},
		{name: "refused (bad input after --publish)", want: outcomeRefused, args: []string{"--time-scale", "-1", "crash"}},
		{name: "refused (access denied)", want: outcomeRefused, args: []string{"crash"},
			before: func() { tw.FailCalls("DescribeServices", "AccessDeniedException", 1) }},
		{name: "interrupted", want: outcomeInterrupted, args: []string{"crash"}, cancelAt: "[1/1]"},
		// Last: every DescribeServices fails from here on.
		{name: "harness error", want: outcomeHarnessError, args: []string{"crash"},
			before: func() { tw.FailCalls("DescribeServices", "InvalidParameterException", -1) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before()
			}
			ns := fmt.Sprintf("ValkeyChaosOutcome/%d", i)
			out := t.TempDir()
			runID := fmt.Sprintf("outcome-%d", i)
			args := append([]string{"run", "--target", "ecs", "--cluster", "chaos", "--service", "valkey",
				"--save", e2eSave, "--rate", "2000/s", "--keys", "20000", "--poll-every", "100ms", "--ecs-timeout", "30s",
				"--no-report", "--out", out, "--run-id", runID, "--publish", "cloudwatch:" + ns}, c.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			w := &cancelOn{marker: c.cancelAt, cancel: cancel}
			if c.cancelAt == "" {
				w.marker = "\x00never"
			}
			root := newRootCmd()
			root.SetOut(w)
			root.SetErr(w)
			root.SetArgs(args)
			err := root.ExecuteContext(ctx)
			if got := outcomeOf(err); got != c.want {
				t.Fatalf("outcome %s (exit %d, %v), want %s; output:\n%s", got.name, got.code, err, c.want.name, w.String())
			}
			p := publishedIn(tw, ns)
			if p.heartbeats != 1 || len(p.outcomes) != 1 || p.outcomes[c.want.name] != 1 {
				t.Errorf("published Heartbeat %v and Outcome %v, want 1 and {%s: 1}; output:\n%s", p.heartbeats, p.outcomes, c.want.name, w.String())
			}
			if c.wantTrials != (p.perTrial > 0) {
				t.Errorf("%d per-trial data points published, want some: %v", p.perTrial, c.wantTrials)
			}
		})
	}
}

// The outcome of each sentinel and its exit code come from one table.
func TestOutcomeOfEachSentinel(t *testing.T) {
	invalidRun := &result.Run{Trials: []result.Trial{{Verdict: result.Invalid}, {Verdict: result.Pass}}}
	inconclusiveRun := &result.Run{Trials: []result.Trial{{Verdict: result.Invalid}, {Verdict: result.Inconclusive}}}
	for _, c := range []struct {
		err  error
		want outcome
	}{
		{nil, outcomePass},
		{fmt.Errorf("x: %w", result.ErrFailed), outcomeFail},
		{judge.Outcome(invalidRun), outcomeInvalid},
		{judge.Outcome(inconclusiveRun), outcomeInconclusive},
		{fmt.Errorf("alarm: %w", target.ErrStopCondition), outcomeInconclusive},
		{fmt.Errorf("%w: --save", result.ErrBadInput), outcomeRefused},
		{fmt.Errorf("first connection: %w", valkeyconn.ErrRejected), outcomeRefused},
		{context.Canceled, outcomeInterrupted},
		{errors.New("boom"), outcomeHarnessError},
		// A failure found before a later trial was refused (ECS: the task
		// definition's rules or the password changed mid-run) still stands.
		{fmt.Errorf("%w; then %w", result.ErrFailed, fmt.Errorf("%w: the server runs save rules", result.ErrBadInput)), outcomeFail},
		{fmt.Errorf("%w; then %w", result.ErrFailed, valkeyconn.ErrRejected), outcomeFail},
	} {
		if got := outcomeOf(c.err); got != c.want {
			t.Errorf("outcomeOf(%v) = %s, want %s", c.err, got.name, c.want.name)
		}
	}
	seen := map[string]bool{}
	for _, o := range outcomes {
		if seen[o.name] {
			t.Errorf("outcome %s listed twice", o.name)
		}
		seen[o.name] = true
	}
	if len(seen) != 7 {
		t.Errorf("%d outcomes, want the 7 of the metric contract", len(seen))
	}
}
