package ecstwin

import (
	"fmt"
	"time"
)

// The service's own record: events as DescribeServices lists them, the
// deployment circuit breaker, the throttling of failing relaunches, and
// the rollout's completion.

type serviceEvent struct {
	id        string
	createdAt time.Time
	message   string
}

// maxEvents is how many events DescribeServices returns (ECS: the 100 most
// recent).
const maxEvents = 100

// breakerThreshold is the circuit breaker's failure threshold for one
// desired task: 0.5 × desiredCount, at least 3 and at most 200.
const breakerThreshold = 3

func (tw *Twin) eventLocked(at time.Time, format string, args ...any) {
	ev := serviceEvent{id: randomHex(18), createdAt: at, message: fmt.Sprintf(format, args...)}
	tw.events = append([]serviceEvent{ev}, tw.events...)
	if len(tw.events) > maxEvents {
		tw.events = tw.events[:maxEvents]
	}
	if ev.message != fmt.Sprintf("(service %s) has reached a steady state.", tw.cfg.Service) {
		tw.steady = false
	}
}

// taskFailedLocked counts a task that failed to start or to stay up: its
// deployment's failedTasks (the circuit breaker trips at the threshold
// while the rollout is in progress) and, for a task that never reached
// RUNNING, the service's failure streak, which throttles the next launch
// once failures repeat.
func (tw *Twin) taskFailedLocked(t *task, now time.Time) {
	if t.everHealthy {
		return // it ran healthy: a later exit is no start-up failure
	}
	for _, d := range tw.deployments {
		if d.id != t.deployment {
			continue
		}
		d.failed++
		if tw.cfg.CircuitBreaker && d.rollout == "IN_PROGRESS" && d.failed >= breakerThreshold {
			d.rollout, d.reason = "FAILED", "ECS deployment circuit breaker: tasks failed to start."
			d.updatedAt = now
			tw.eventLocked(now, "(service %s) (deployment %s) deployment failed: tasks failed to start.", tw.cfg.Service, d.id)
		}
	}
	// ECS throttles only tasks that never reached RUNNING (PENDING to
	// STOPPED); one that exits after it does not start the throttle logic.
	if !t.startedAt.IsZero() {
		return
	}
	tw.failStreak++
	if tw.failStreak >= 2 {
		wait := tw.cfg.RelaunchBackoff << min(tw.failStreak-2, 20)
		wait = min(wait, tw.cfg.RelaunchBackoffMax)
		tw.nextLaunch = now.Add(wait)
		tw.eventLocked(now, "(service %s) is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.", tw.cfg.Service)
	}
}

// settleLocked completes the rollout once the primary deployment runs its
// one task, healthy, and no other deployment has a task left; the service
// then says it reached a steady state.
func (tw *Twin) settleLocked(now time.Time) {
	keep := tw.deployments[:1]
	for _, d := range tw.deployments[1:] {
		if tw.countLocked(func(t *task) bool { return t.deployment == d.id && t.lastStatus != statusStopped }) > 0 {
			keep = append(keep, d)
		}
	}
	tw.deployments = keep
	primary := tw.deployments[0]
	settled := len(tw.deployments) == 1 &&
		tw.countLocked(func(t *task) bool { return t.deployment == primary.id && tw.healthyLocked(t, now) }) == 1 &&
		tw.countLocked(func(t *task) bool { return t.lastStatus != statusStopped }) == 1
	if !settled {
		return
	}
	if primary.rollout == "IN_PROGRESS" {
		primary.rollout, primary.reason, primary.updatedAt = "COMPLETED", "ECS deployment "+primary.id+" completed.", now
		tw.eventLocked(now, "(service %s) (deployment %s) deployment completed.", tw.cfg.Service, primary.id)
	}
	if !tw.steady {
		tw.eventLocked(now, "(service %s) has reached a steady state.", tw.cfg.Service)
		tw.steady = true
	}
}
