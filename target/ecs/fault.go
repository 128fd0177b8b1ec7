package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Inject checks the stop-condition alarms, applies the fault to the task
// Start found and waits until the old container has exited: the end of the
// stop is the container's exit (executionStoppedAt, or the first poll that
// sees the container STOPPED), not the task's stoppedAt, which on Fargate
// follows tens of seconds of deprovisioning. With DryRun it prints the call
// and returns an unconfirmed report.
func (t *Target) Inject(ctx context.Context, kind target.FaultKind) (target.FaultReport, error) {
	rep := target.FaultReport{Kind: kind, StopTimeout: t.def.stopTimeout}
	if t.cur.arn == "" {
		return rep, errors.New("ecs target: Inject before Start")
	}
	if t.faulted {
		return rep, errors.New("ecs target: one fault per trial; call Finish and Start for the next")
	}
	switch kind {
	case target.Stop, target.Crash, target.ShutdownNoSave, target.RollingDeploy:
	default:
		return rep, fmt.Errorf("%w: fault %q is not supported by the ECS target (use stop, crash, shutdown-nosave or rolling-deploy)", result.ErrBadInput, kind)
	}
	if err := t.checkAlarms(ctx, false); err != nil {
		return rep, err
	}
	// The task must still be the service's one running task.
	cur, err := t.describeTask(ctx, t.cur.arn)
	if err != nil {
		return rep, err
	}
	if !cur.running() || cur.group != "service:"+t.cfg.Service {
		return rep, fmt.Errorf("task %s is %s (desired %s) in group %q: the service changed under the run; no fault injected", cur.id, cur.lastStatus, cur.desiredStatus, cur.group)
	}
	t.faulted = true
	if t.cfg.DryRun {
		return t.dryInject(kind, rep), nil
	}
	rep.IssuedAt = time.Now()
	t.issuedAt = rep.IssuedAt
	switch kind {
	case target.Stop:
		_, err = t.ecs.StopTask(ctx, &awsecs.StopTaskInput{Cluster: aws.String(t.cfg.Cluster), Task: aws.String(cur.arn), Reason: aws.String(t.reason())})
		err = t.explain("ecs:StopTask", err)
	case target.Crash, target.ShutdownNoSave:
		err = shutdownNoSave(ctx, t.probe(), t.addr)
	case target.RollingDeploy:
		_, err = t.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String(t.cfg.Cluster), Service: aws.String(t.cfg.Service), ForceNewDeployment: true})
		err = t.explain("ecs:UpdateService", err)
	}
	if err != nil {
		return rep, err
	}
	old, err := t.waitContainerExit(ctx, cur, kind, &rep)
	rep.ExitDetail = old.exitDetail()
	if err != nil {
		return rep, err
	}
	t.old, t.gone = old, rep
	rep.Confirmed = true
	// SIGKILL after SIGTERM shows as exit code 137; so does an OOM kill,
	// which the container's reason tells apart.
	if old.oomKilled() {
		rep.OOMKilled = target.OOMParent
	}
	rep.Escalated = kind != target.Crash && kind != target.ShutdownNoSave && old.exitCode != nil && *old.exitCode == 137 && !old.oomKilled()
	if news, err := t.serviceTasks(ctx, types.DesiredStatusRunning); err == nil {
		for _, n := range news {
			if from, to, ok := overlap(old, n); ok && n.arn != old.arn {
				rep.OverlapFrom, rep.OverlapTo = from, to
				break
			}
		}
	}
	return rep, nil
}

// waitContainerExit polls the old task until its container has exited
// and fills the report's exit instant and bracket: the poll that last saw
// it running and the poll that first saw it gone, narrowed by
// executionStoppedAt (whole seconds on Fargate: [t, t+1 s)).
func (t *Target) waitContainerExit(ctx context.Context, cur taskView, kind target.FaultKind, rep *target.FaultReport) (taskView, error) {
	old := cur
	after := rep.IssuedAt
	var by time.Time
	limit := t.def.stopTimeout + t.cfg.Timeout
	lastService := time.Now()
	err := t.poll(ctx, limit, func(ctx context.Context) (bool, error) {
		if kind == target.RollingDeploy && time.Since(lastService) >= t.cfg.PollEvery {
			// A new deployment that crash-loops never gets to stop the old
			// task: ECS's circuit breaker says so.
			lastService = time.Now()
			if err := t.crashLoop(ctx); err != nil {
				return false, err
			}
		}
		before := time.Now()
		v, derr := t.describeTask(ctx, cur.arn)
		if derr != nil {
			return false, derr
		}
		old = v
		if !v.containerExited() {
			after = before // still there when this poll was sent
			return false, nil
		}
		by = time.Now()
		return true, nil
	})
	if errors.Is(err, errGaveUp) {
		return old, fmt.Errorf("task %s still %s %v after the %s fault: the fault is unconfirmed", cur.id, old.lastStatus, limit, kind)
	}
	if err != nil {
		return old, err
	}
	rep.GoneAfter, rep.GoneBy = after, by
	rep.GoneAt, rep.GoneSource = by, "container-status"
	if esa := old.executionStoppedAt; !esa.IsZero() {
		hi := esa
		if esa.Equal(esa.Truncate(time.Second)) {
			hi = esa.Add(time.Second) // whole seconds: the exit is in [esa, esa+1 s)
		}
		if esa.After(rep.GoneAfter) {
			rep.GoneAfter = esa
		}
		if hi.Before(rep.GoneBy) {
			rep.GoneBy = hi
		}
		rep.GoneAt, rep.GoneSource = esa, "executionStoppedAt"
		if rep.GoneAt.Before(rep.GoneAfter) {
			rep.GoneAt = rep.GoneAfter // a whole-second stamp below the poll that saw it running
		}
	}
	return old, nil
}

func (t *Target) reason() string { return "valkey-chaos run " + t.label }

// dryInject prints the exact calls a fault would make.
func (t *Target) dryInject(kind target.FaultKind, rep target.FaultReport) target.FaultReport {
	switch kind {
	case target.Stop:
		t.dryCall("ecs:StopTask", map[string]any{"cluster": t.cfg.Cluster, "reason": t.reason(), "task": t.cur.arn})
	case target.Crash, target.ShutdownNoSave:
		fmt.Fprintf(t.cfg.Out, "dry-run: would send SHUTDOWN NOSAVE to %s (task %s; a Valkey command, not an AWS call)\n", t.addr, t.cur.id)
	case target.RollingDeploy:
		t.dryCall("ecs:UpdateService", map[string]any{"cluster": t.cfg.Cluster, "forceNewDeployment": true, "service": t.cfg.Service})
	}
	fmt.Fprintf(t.cfg.Out, "dry-run: then ecs:DescribeTasks %s every %v until the container has exited (executionStoppedAt)\n",
		mustJSON(map[string]any{"cluster": t.cfg.Cluster, "tasks": []string{t.cur.arn}}), t.cfg.PollEvery)
	rep.IssuedAt = time.Now()
	rep.ExitDetail = "dry-run: nothing injected"
	return rep
}

func (t *Target) dryCall(op string, input map[string]any) {
	fmt.Fprintf(t.cfg.Out, "dry-run: would call %s %s\n", op, mustJSON(input))
}

func mustJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(data)
}

// shutdownNoSave asks Valkey to exit without saving. The server closes the
// connection instead of replying, so EOF (or a reset) is success.
func shutdownNoSave(ctx context.Context, pr probe.Client, addr string) error {
	rep, err := pr.Do(ctx, addr, 10*time.Second, "SHUTDOWN", "NOSAVE")
	switch {
	case err == nil && rep.IsError():
		return fmt.Errorf("SHUTDOWN NOSAVE refused by %s: %s (is SHUTDOWN renamed or denied by an ACL?)", addr, rep.Str)
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return nil
	}
	return fmt.Errorf("send SHUTDOWN NOSAVE: %w", err)
}

// Recover waits for the scheduler's replacement task to reach RUNNING and
// returns it with the ECS milestones of both tasks. It watches from the
// fault on, not from the old task's STOPPED: once a replacement exists it
// polls every FastPoll and dials the replacement's port between polls, so
// the probe meets the server as it comes up. A crash loop ends the wait
// early with ECS's own words (a FAILED rollout, the service's events).
// With DryRun, nothing was faulted and the current task is returned as it
// is.
func (t *Target) Recover(ctx context.Context) (target.Recovery, error) {
	if !t.faulted {
		return target.Recovery{}, errors.New("ecs target: Recover before Inject")
	}
	if t.cfg.DryRun {
		fmt.Fprintf(t.cfg.Out, "dry-run: no replacement to wait for; task %s still serves\n", t.cur.id)
		return target.Recovery{Instance: t.instance(t.cur, t.addr)}, nil
	}
	found, err := t.waitReplacement(ctx)
	if err != nil {
		return target.Recovery{}, err
	}
	addr, err := t.endpoint(found)
	if err != nil {
		return target.Recovery{}, err
	}
	t.cur, t.addr = found, addr
	t.trialTasks = append(t.trialTasks, found)
	if v, err := t.describeTask(ctx, t.old.arn); err == nil {
		t.old = v // its stoppedAt, if deprovisioning is over by now
	}
	rec := target.Recovery{Instance: t.instance(found, addr), Milestones: milestones(t.old, found)}
	// One look now: a reply other than -LOADING means the load ended before
	// anyone could watch it.
	if rep, err := t.probe().Do(ctx, addr, 2*time.Second, "PING"); err == nil {
		rec.FirstReplyAt = time.Now()
		rec.WarmupUpperBound = !(rep.IsError() && len(rep.Str) >= 7 && rep.Str[:7] == "LOADING")
	}
	return rec, nil
}

// waitReplacement polls for a task other than the old one that is RUNNING.
func (t *Target) waitReplacement(ctx context.Context) (taskView, error) {
	pctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	lastService := time.Time{}
	for {
		tasks, err := t.serviceTasks(pctx, types.DesiredStatusRunning)
		if err != nil && ctx.Err() == nil && pctx.Err() == nil {
			return taskView{}, err
		}
		var pending *taskView
		for i, v := range tasks {
			if v.arn == t.old.arn {
				continue
			}
			if v.lastStatus == "RUNNING" && !v.startedAt.IsZero() {
				return v, nil
			}
			pending = &tasks[i]
		}
		if time.Since(lastService) >= t.cfg.PollEvery {
			lastService = time.Now()
			if err := t.crashLoop(pctx); err != nil {
				return taskView{}, err
			}
		}
		if ctx.Err() != nil {
			return taskView{}, ctx.Err()
		}
		if pctx.Err() != nil {
			return taskView{}, fmt.Errorf("no replacement for task %s reached RUNNING within %v%s", t.old.id, t.cfg.Timeout, t.failedReplacements(ctx))
		}
		every := t.cfg.PollEvery
		if pending != nil {
			every = t.cfg.FastPoll
			if addr, err := t.endpoint(*pending); err == nil {
				dialUntil(pctx, addr, every) // returns early once the port accepts
				continue
			}
		}
		select {
		case <-pctx.Done():
		case <-time.After(every):
		}
	}
}

// dialUntil dials addr every 10 ms for up to d, returning as soon as a
// connection is accepted.
func dialUntil(ctx context.Context, addr string, d time.Duration) {
	deadline := time.Now().Add(d)
	var dialer net.Dialer
	for time.Now().Before(deadline) && ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		c, err := dialer.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}
