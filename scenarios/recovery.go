package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// injected is what the fault did.
type injected struct {
	rep    target.FaultReport
	tFault time.Time
	err    error // the fault could not be confirmed
}

// inject applies the trial's fault through the target; the load keeps
// running through it.
func inject(ctx context.Context, env *trialEnv, load *loadRun) (injected, error) {
	if rep, ok := oomBeforeFault(env); ok {
		// The kernel got there first: the fault that happened is the OOM kill.
		env.logf("the server was OOM-killed before the planned %s: %s", env.plan.Fault, rep.ExitDetail)
		return injected{rep: rep, tFault: rep.IssuedAt}, nil
	}
	env.logf("injecting %s (acked so far %d)", env.plan.Fault, load.writer.Stats().Acked)
	rep, err := env.cfg.Target.Inject(ctx, env.plan.Fault)
	in := injected{rep: rep, tFault: rep.IssuedAt}
	if in.tFault.IsZero() {
		in.tFault = time.Now()
	}
	if errors.Is(err, target.ErrStopCondition) {
		// Nothing was injected: the trial is no evidence, and the run ends.
		in.err = err
		return in, err
	}
	if err != nil {
		in.err = err
		return in, err
	}
	if !rep.Confirmed {
		return in, nil
	}
	if rep.Escalated {
		env.logf("final save did not finish within stop timeout %v: SIGKILL", rep.StopTimeout)
	}
	env.logf("old server gone after %.3fs (%s)", rep.GoneAt.Sub(in.tFault).Seconds(), rep.ExitDetail)
	return in, nil
}

// recovered is what the recovery phase saw of the replacement.
type recovered struct {
	rec      target.Recovery
	ready    probe.Readiness
	serving  time.Time
	exited   string   // the replacement exited while starting: how
	problems []string // never ready, never served
}

// recoverServer brings up the replacement and times it: accepts, first
// non-LOADING reply, first read of a surviving key. A replacement that
// exits while starting ends the wait at once (it would crash-loop).
func recoverServer(ctx context.Context, env *trialEnv) (recovered, error) {
	var out recovered
	rec, err := env.cfg.Target.Recover(ctx)
	if err != nil {
		return out, fmt.Errorf("recover: %w", err)
	}
	out.rec = rec
	env.addr.Store(rec.Instance.Addr)
	if len(rec.StaleTempFiles) > 0 {
		env.logf("%d stale temp RDB file(s), %.1f MB, left by the killed save", len(rec.StaleTempFiles), float64(rec.StaleTempBytes)/1e6)
	}
	readyCtx, cancel := readyContext(ctx, env.cfg.Target, readyLimit)
	doneWaiting := env.waiting(ctx, "waiting for the replacement to load and answer", 0)
	ready, rerr := env.probe().WaitReady(readyCtx, env.currentAddr, probeEvery)
	doneWaiting("the replacement answered")
	cancel()
	out.ready = ready
	if exited, detail := replacementExited(env.cfg.Target); exited {
		out.exited = detail
		env.logf("replacement exited while starting: %s", detail)
		return out, nil
	}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	if rerr != nil {
		out.problems = append(out.problems, fmt.Sprintf("the replacement never became ready: %v", rerr))
	}
	if env.plan.Strategy == savepolicy.StrategyNone {
		// Nothing survives to be read: the cache serves (empty) once it answers.
		out.serving = ready.Ready
		env.logf("replacement answered %.3fs after start, empty (persistence none)", ready.Ready.Sub(rec.Instance.StartedAt).Seconds())
		return out, nil
	}
	servingCtx, cancel := context.WithTimeout(ctx, servingLimit)
	serving, _, serr := env.probe().WaitServing(servingCtx, env.currentAddr, env.markerKey(), probeEvery)
	cancel()
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	if serr != nil {
		out.problems = append(out.problems, fmt.Sprintf("no surviving key could be read after recovery: %v", serr))
	}
	out.serving = serving
	readyText, servingText := "never ready", "never served"
	if !ready.Ready.IsZero() {
		readyText = fmt.Sprintf("ready %.3fs after start", ready.Ready.Sub(rec.Instance.StartedAt).Seconds())
	}
	if !serving.IsZero() {
		servingText = fmt.Sprintf("serving %.3fs after start", serving.Sub(rec.Instance.StartedAt).Seconds())
	}
	env.logf("replacement %s, %s", readyText, servingText)
	return out, nil
}

// ServerWatcher is implemented by targets that see their server process
// exit (local). A replacement that exits while starting would crash-loop
// under a scheduler: the runner stops waiting for it at once.
type ServerWatcher interface {
	ServerExited() (exited bool, detail string)
}

// errReplacementExited marks a replacement that died while starting.
var errReplacementExited = errors.New("the replacement server exited while starting")

// readyContext bounds the wait for the replacement and ends it as soon as
// the replacement process exits (a target that can tell).
func readyContext(ctx context.Context, tgt Target, limit time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("not ready within %v", limit))
	w, ok := tgt.(ServerWatcher)
	if !ok {
		return ctx, cancel
	}
	ctx, cancelCause := context.WithCancelCause(ctx)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			if exited, _ := w.ServerExited(); exited {
				cancelCause(errReplacementExited)
				return
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-finished
		cancelCause(nil)
		cancel()
	}
}

// replacementExited says whether the replacement died, and how.
func replacementExited(tgt Target) (bool, string) {
	w, ok := tgt.(ServerWatcher)
	if !ok {
		return false, ""
	}
	return w.ServerExited()
}
