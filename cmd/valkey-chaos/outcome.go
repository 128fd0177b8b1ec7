package main

import (
	"context"
	"errors"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// Exit codes, documented in the README: schedulers act on them.
const (
	exitOK           = 0
	exitHarnessError = 1
	exitBadInput     = 2
	exitFailed       = 3 // an SLO, invariant or regression failed
	exitInvalid      = 4 // no failure, but some trial's preconditions did not hold: rerun
	exitInterrupted  = 5 // a signal (Ctrl-C, ECS StopTask's SIGTERM) ended the run early: rerun
)

// outcome is how a command ended: the exit code a scheduler acts on and
// the Outcome dimension a scheduled run publishes (the chaos-schedule
// module's metric contract). One mapping feeds both, so they never disagree.
type outcome struct {
	name string
	code int
}

var (
	outcomePass         = outcome{"pass", exitOK}
	outcomeFail         = outcome{"fail", exitFailed}
	outcomeInconclusive = outcome{"inconclusive", exitInvalid}
	outcomeInvalid      = outcome{"invalid", exitInvalid}
	outcomeRefused      = outcome{"refused", exitBadInput}
	outcomeInterrupted  = outcome{"interrupted", exitInterrupted}
	outcomeHarnessError = outcome{"harness-error", exitHarnessError}
)

// outcomes lists every outcome, for tests and documentation.
var outcomes = []outcome{outcomePass, outcomeFail, outcomeInconclusive, outcomeInvalid, outcomeRefused, outcomeInterrupted, outcomeHarnessError}

// outcomeOf classifies a command's error. The order matters where one
// error carries two marks: a failure found before the run ended early (a
// later trial refused, a signal) is a failure, exit 3, whatever ended it;
// a refusal is reported as such even if a signal arrived meanwhile.
func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return outcomePass
	case errors.Is(err, result.ErrFailed):
		return outcomeFail
	case errors.Is(err, result.ErrBadInput), errors.Is(err, valkeyconn.ErrRejected):
		return outcomeRefused
	case errors.Is(err, errInterrupted), errors.Is(err, context.Canceled):
		// A signal (main wraps it as errInterrupted), or a cancelled
		// context without one (in-process callers).
		return outcomeInterrupted
	case errors.Is(err, result.ErrInvalid):
		return outcomeInvalid
	case errors.Is(err, result.ErrInconclusive), errors.Is(err, target.ErrStopCondition):
		// A stop-condition alarm aborted the run before a fault: no
		// evidence either way, like an inconclusive trial.
		return outcomeInconclusive
	}
	return outcomeHarnessError
}
