package scenarios

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
)

const (
	probeEvery = 2 * time.Millisecond  // readiness resolution (FACTS: 1-10 ms)
	infoEvery  = 10 * time.Millisecond // save-cycle watcher
	// forkMargin keeps a fault placed "at the next fork" (fault_at: 1) just
	// before it: the fork lands on the first serverCron tick at or after
	// the instant the rules allow, never earlier.
	forkMargin = 50 * time.Millisecond
	// readyLimit and servingLimit bound the waits for the replacement: a
	// large RDB on throttled storage loads for minutes.
	readyLimit   = 10 * time.Minute
	servingLimit = 2 * time.Minute
	// longPreload is the dataset size (keys) from which the preload shows
	// progress: about two seconds at the measured ~1M keys/s.
	longPreload = 2_000_000
)

// trialEnv is what every phase of one trial reads: the run's settings, the
// resolved plan, the trial's clock origin and the current endpoint (it
// moves when ECS replaces the task). Phases never write into it, except
// the endpoint, which the recovery phase moves.
type trialEnv struct {
	cfg  Config
	plan TrialPlan
	out  *progress.Printer
	base time.Time // the trial's clock origin (monotonic)
	addr atomic.Value
}

func (env *trialEnv) logf(format string, args ...any) {
	env.out.Logf("  %6.2fs  %s", time.Since(env.base).Seconds(), fmt.Sprintf(format, args...))
}

func (env *trialEnv) currentAddr() string { return env.addr.Load().(string) }

// probe is the raw RESP probe with the run's connection settings.
func (env *trialEnv) probe() probe.Client { return probe.Client{Conn: env.cfg.Conn} }

// offset is t in seconds from the trial's start; 0 for a zero time.
func (env *trialEnv) offset(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(env.base).Seconds()
}

func (env *trialEnv) markerKey() string { return env.plan.Prefix + "marker" }

// trialDone is what one trial returns: its result (nil when it never got
// far enough to say anything) and what it learned about the target.
type trialDone struct {
	trial   *result.Trial
	learned learnedTarget
}

// runTrial walks one trial through its phases, in order:
// prepare -> preload -> snapshot -> load -> place fault -> inject ->
// recover -> observe -> read back -> judge. Each phase returns what it
// learned; the evidence is assembled and judged once, on every exit path.
func runTrial(ctx context.Context, cfg Config, plan TrialPlan, out *progress.Printer) (done trialDone, err error) {
	env := &trialEnv{cfg: cfg, plan: plan, out: out, base: time.Now()}
	ev := &evidence{}
	defer func() { done = ev.conclude(ctx, env, err) }()

	if ev.server, err = prepare(ctx, env); err != nil {
		return done, err
	}
	defer finishTarget(ctx, env, &err)
	defer func() { ev.drill.dumps = readDumps(ev.server.inst.DataDir) }() // before Finish removes the directory
	storage := startStorage(env)
	defer func() { ev.storage = storage.end() }() // before Finish: the note needs the mount
	defer cleanupKeys(ctx, env, ev)

	if ev.dataset, err = preload(ctx, env); err != nil {
		return done, err
	}
	if plan.Strategy.Snapshots() { // with none or AOF alone the trial takes no snapshot
		if ev.snapshot, err = snapshotDataset(ctx, env); err != nil {
			return done, expectedSaveFailure(ctx, env, ev, err)
		}
	}
	if err = keepOldest(env); err != nil {
		return done, err
	}
	if ev.leaks, err = crashDuringBGSaves(ctx, env, ev.server.inst); err != nil {
		return done, err
	}
	ev.replan = plan.replan(ev.snapshot.Duration())
	mem := startMemory(ctx, env)
	defer func() { ev.memory.summary, ev.memory.events = mem.stopLoad(), mem.stopEvents() }()
	load, err := startLoad(ctx, env, ev.replan.rate, ev.server.rules, ev.snapshot.Duration())
	if err != nil {
		return done, err
	}
	defer func() { ev.load = load.stop() }()
	reader, err := startReader(ctx, env, load.limit)
	if err != nil {
		return done, err
	}
	defer func() { ev.reads = reader.stop(ev.fault.tFault) }()
	storage.phase("load")

	if ev.placement, err = placeFault(ctx, env, load, storage, func() error { return mem.startOverwrite(ctx, env) }); err != nil || !ev.placement.found {
		return done, err
	}
	storage.phase("fault")
	mem.watch.Mark()
	if ev.fault, err = inject(ctx, env, load); err != nil || !ev.fault.rep.Confirmed {
		return done, err
	}
	ev.memory.report, ev.memory.hasRep = memoryReport(env)
	if err = restoreOldest(env); err != nil {
		return done, err
	}
	if ev.hostLoss, err = dropUnsynced(env); err != nil {
		return done, err
	}
	storage.phase("recover")
	if ev.recovery, err = recoverServer(ctx, env); err != nil {
		return done, err
	}
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(plan.Scenario.AfterRecover))); err != nil {
		return done, err // keep writing a little after recovery so the timeline shows it
	}
	ev.load, ev.reads = load.stop(), reader.stop(ev.fault.tFault)
	ev.memory.summary = mem.stopLoad()
	ev.log = observe(ctx, env, ev.recovery)
	if ev.recovery.exited != "" {
		return done, nil // nothing to read back: the replacement never started
	}
	ev.found, err = readBack(ctx, env, ev.load.history)
	ev.memory.events = mem.stopEvents()
	return done, err
}

// finishTarget ends the trial on the target: what Start created goes away.
func finishTarget(ctx context.Context, env *trialEnv, err *error) {
	if ferr := env.cfg.Target.Finish(context.WithoutCancel(ctx)); ferr != nil && *err == nil {
		*err = fmt.Errorf("finish trial: %w", ferr)
	}
}

// ServerDiscarder is a target whose server and data directory go away with
// the trial (target/local on a directory of its own): deleting the trial's
// keys first only costs time, minutes for a 20M-key dataset.
type ServerDiscarder interface {
	DiscardsServer() bool
}

// cleanupKeys deletes the trial's keys on every exit path, unless the
// replacement never started (its keys live only in its dump.rdb) or the
// target discards the server anyway.
func cleanupKeys(ctx context.Context, env *trialEnv, ev *evidence) {
	if ev.recovery.exited != "" {
		return
	}
	if d, ok := env.cfg.Target.(ServerDiscarder); ok && d.DiscardsServer() {
		return
	}
	if n, err := check.DeletePrefix(context.WithoutCancel(ctx), env.cfg.Conn, env.currentAddr(), env.plan.Prefix); err != nil {
		env.logf("cleanup of %s* failed after %d keys: %v", env.plan.Prefix, n, err)
	}
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
