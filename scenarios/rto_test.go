package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// alarmBeforeFault aborts at the fault as an alarm in ALARM does on ECS:
// nothing is injected, the old server keeps serving.
type alarmBeforeFault struct{ Target }

func (alarmBeforeFault) Inject(context.Context, target.FaultKind) (target.FaultReport, error) {
	return target.FaultReport{}, fmt.Errorf("%w: alarm %q is in ALARM (test): no fault injected, the run stops here", target.ErrStopCondition, "valkey-health")
}

// Defect (review, item 8): a trial that went invalid before its fault got
// "the cache never served again: RTO unbounded" besides its cause. A
// recovery reason needs a fault that took the old server away and a
// replacement that was watched and never served.
func TestNoRecoveryReasonBeforeTheFault(t *testing.T) {
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000", keys: 2000}, trialOpts{wrap: func(tg Target) Target { return alarmBeforeFault{tg} }}, quick(t, "crash", "5s"))
	if !errors.Is(err, target.ErrStopCondition) {
		t.Fatalf("run returned %v, want the stop condition", err)
	}
	if len(run.Trials) != 1 {
		t.Fatalf("%d trials, want the aborted one", len(run.Trials))
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Invalid || !strings.Contains(reasons(tr), "aborted before the fault") {
		t.Fatalf("verdict %s (%s), want invalid, aborted before the fault", tr.Verdict, reasons(tr))
	}
	if strings.Contains(reasons(tr), "never served again") || tr.NeverServed {
		t.Errorf("reasons %q, never_served %v: a recovery reason on a trial whose fault was never injected", reasons(tr), tr.NeverServed)
	}
}

// replacementLostAfterServing shuts the replacement down once the probe
// saw it serve (when the runner asks for the server log, before the
// read-back): the read-back fails, yet the cache did serve again.
type replacementLostAfterServing struct {
	Target
	addr string
}

func (r *replacementLostAfterServing) Recover(ctx context.Context) (target.Recovery, error) {
	rec, err := r.Target.Recover(ctx)
	r.addr = rec.Instance.Addr
	return rec, err
}

func (r *replacementLostAfterServing) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	if r.addr != "" {
		_, _ = probe.Do(ctx, r.addr, 5*time.Second, "SHUTDOWN", "NOSAVE") // the connection closes: no reply
	}
	return r.Target.ServerLog(ctx)
}

// The RTO of a replacement that served is measured even when the read-back
// fails afterwards: no "never served again" on a cache that served. The
// server going away during the read-back fails the trial (stopped_serving),
// not the run.
func TestRTOMeasuredWhenTheReadBackFails(t *testing.T) {
	run, err := runTrialsWith(t, context.Background(), runSetup{save: "1 1000", keys: 2000}, trialOpts{wrap: func(tg Target) Target { return &replacementLostAfterServing{Target: tg} }}, quick(t, "crash", "5s"))
	if err != nil {
		t.Fatalf("run: %v (a server gone during the read-back is the trial's finding, not a harness error)", err)
	}
	if len(run.Trials) != 1 {
		t.Fatalf("%d trials, want one", len(run.Trials))
	}
	tr := run.Trials[0]
	if tr.Verdict != result.Fail || tr.Unread == "" || tr.StoppedServing == "" {
		t.Fatalf("verdict %s, unread %q, stopped serving %q (%s): want failed, never read back, stopped serving", tr.Verdict, tr.Unread, tr.StoppedServing, reasons(tr))
	}
	if tr.RTOS == nil || strings.Contains(reasons(tr), "never served again") || tr.NeverServed {
		t.Errorf("RTO %v, reasons %q: the replacement served before the read-back failed", tr.RTOS, reasons(tr))
	}
}
