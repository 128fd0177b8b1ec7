package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// ErrCrashLoop marks a replacement that ECS itself gave up on or throttles:
// the deployment circuit breaker FAILED the rollout, or the service says it
// is unable to consistently start tasks.
var ErrCrashLoop = errors.New("crash loop")

// crashLoop reads the service's deployments and events: a FAILED rollout,
// or a throttling event since the fault, ends the wait with ECS's words.
func (t *Target) crashLoop(ctx context.Context) error {
	out, err := t.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(t.cfg.Cluster), Services: []string{t.cfg.Service}})
	if err != nil || len(out.Services) == 0 {
		return nil // the task polls go on; a service read failing is no verdict
	}
	svc := out.Services[0]
	for _, d := range svc.Deployments {
		if d.RolloutState == types.DeploymentRolloutStateFailed && aws.ToTime(d.UpdatedAt).After(t.issuedAt.Add(-time.Second)) {
			return fmt.Errorf("%w: ECS failed deployment %s: %s%s", ErrCrashLoop, aws.ToString(d.Id), aws.ToString(d.RolloutStateReason), t.recentEvents(svc))
		}
	}
	for _, ev := range svc.Events {
		if aws.ToTime(ev.CreatedAt).Before(t.issuedAt.Truncate(time.Second)) {
			break // newest first
		}
		if strings.Contains(aws.ToString(ev.Message), "unable to consistently start tasks") {
			return fmt.Errorf("%w: ECS says %q%s", ErrCrashLoop, aws.ToString(ev.Message), t.recentEvents(svc))
		}
	}
	return nil
}

// recentEvents quotes the service's events since the fault, newest first,
// at most five.
func (t *Target) recentEvents(svc types.Service) string {
	var msgs []string
	for _, ev := range svc.Events {
		if aws.ToTime(ev.CreatedAt).Before(t.issuedAt.Truncate(time.Second)) || len(msgs) == 5 {
			break
		}
		msgs = append(msgs, aws.ToString(ev.Message))
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (service events: " + strings.Join(msgs, " | ") + ")"
}

// failedReplacements explains a missing replacement: tasks started after
// the fault that stopped again (a crash loop, e.g. a corrupt dump.rdb).
func (t *Target) failedReplacements(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	stopped, err := t.serviceTasks(ctx, types.DesiredStatusStopped)
	if err != nil {
		return ""
	}
	var n int
	var last taskView
	for _, v := range stopped {
		if v.arn != t.old.arn && v.createdAt.After(t.issuedAt) {
			if n == 0 {
				last = v
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d replacement task(s) stopped again, the latest with %s: a crash loop; check its log stream)", n, last.exitDetail())
}

// exitWatch caches ServerExited's answer: the runner asks every few
// milliseconds while it waits for the replacement, ECS is asked at most
// every PollEvery.
type exitWatch struct {
	mu      sync.Mutex
	checked time.Time
	arn     string
	exited  bool
	detail  string
}

// ServerExited reports whether the current (replacement) task's container
// has exited, and how, in ECS's words: the stop code and reason, the exit
// code, and the service's events since the fault (a crash loop: "unable to
// consistently start tasks"). The runner's readiness wait stops on it.
func (t *Target) ServerExited() (bool, string) {
	w := &t.exits
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.cur.arn == "" || t.cfg.DryRun {
		return false, ""
	}
	if w.arn == t.cur.arn && (w.exited || time.Since(w.checked) < t.cfg.PollEvery) {
		return w.exited, w.detail
	}
	w.arn, w.checked = t.cur.arn, time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := t.describeTask(ctx, t.cur.arn)
	if err != nil || !v.containerExited() {
		return false, ""
	}
	w.exited, w.detail = true, "task "+v.id+" "+v.exitDetail()
	if out, err := t.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String(t.cfg.Cluster), Services: []string{t.cfg.Service}}); err == nil && len(out.Services) == 1 {
		w.detail += t.recentEvents(out.Services[0])
	}
	return w.exited, w.detail
}
