package scenarios

import (
	"context"

	"github.com/trigpointing/valkey-chaos/target"
)

// Target is what the Runner drives: a place where one Valkey runs, can be
// faulted, and comes back. target/local and target/ecs implement it and
// return the same report types, so results never depend on where a run
// happened.
type Target interface {
	// Start makes a server available for one trial (local: a fresh process
	// and data dir with spec.Save; ECS: locate the service's running task,
	// checking guardrails) and returns it ready to serve.
	Start(ctx context.Context, spec target.StartSpec) (target.Instance, error)
	// Inject applies the fault and blocks until the old instance is
	// confirmed gone (or the attempt fails). Load keeps running meanwhile.
	Inject(ctx context.Context, kind target.FaultKind) (target.FaultReport, error)
	// Recover brings up the replacement on the same data (local: a new
	// process on the same dir; ECS: waits for the scheduler's new task) and
	// returns as soon as it has been started, so the probe times the rest.
	Recover(ctx context.Context) (target.Recovery, error)
	// ServerLog returns every server log line of the current trial.
	ServerLog(ctx context.Context) ([]target.LogLine, error)
	// Finish ends the trial: what Start created is stopped and removed.
	Finish(ctx context.Context) error
	// Close releases everything, on every exit path; idempotent.
	Close() error
}
