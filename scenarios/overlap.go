package scenarios

import (
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Overlap: the replacement started before the old server was gone.
//
// With ECS's default deployment settings (minimum healthy 100 %, maximum
// 200 %) a forced deployment starts the new task, which loads dump.rdb,
// while the old task still serves, runs its background saves and, on
// SIGTERM, its final save. Writes the old task acknowledges after the
// snapshot the new one loaded are gone from the cache that keeps serving,
// although every save succeeded. The runner keeps writing to the old
// endpoint until Inject confirms it gone, so those writes are in the
// History, acknowledged, and missing after recovery.
//
// How the runner reads such a trial:
//   - overlap_s is [replacement started, old server gone], from the target's
//     FaultReport (ECS: the new task's startedAt, the old container's exit);
//   - the snapshot that matters is the one the replacement loaded, so the
//     loss window is measured to the replacement's start, not to the API
//     call that began the deployment (the old task kept saving after it);
//   - writes sent after the replacement started and missing are the
//     consistency anomalies the overlap caused (check.Classify counts them);
//   - the probe reached the replacement only once the old server was gone,
//     long after it had loaded: its warm-up was not observed and is left
//     out (server_load_s, from the server's own log, still says how long
//     the load took).

// overlapOf returns the overlap interval as offsets from the trial base, or
// nil when the replacement did not start before the old server was gone.
func overlapOf(env *trialEnv, rep target.FaultReport) *result.Span {
	if rep.OverlapFrom.IsZero() || rep.OverlapTo.IsZero() || !rep.OverlapFrom.Before(rep.OverlapTo) {
		return nil
	}
	return &result.Span{From: env.offset(rep.OverlapFrom), To: env.offset(rep.OverlapTo)}
}

// replacementStart is when the replacement's server started: its own start
// line where the target can tell (a task held at the single-writer lock
// starts its server only once the old one has exited, so the old server's
// final save is what it must load), else the instance's start (the task's,
// on ECS). Zero when no replacement started.
func (ev *evidence) replacementStart() time.Time {
	st := ev.recovery.rec.Instance.StartedAt
	if w := ev.log.writers; w != nil && !w.NewServerStarted.IsZero() && (st.IsZero() || w.NewServerStarted.After(st)) {
		return w.NewServerStarted
	}
	return st
}

// taskOverlapNote keeps, as a note, that the replacement's task started
// before the old server was gone when its server did not (the lock held
// it back) or when that cannot be told: the verdict rests on the servers,
// the note says what the scheduler did.
func (ev *evidence) taskOverlapNote(env *trialEnv, t *result.Trial) {
	tasks := overlapOf(env, ev.fault.rep)
	if tasks == nil || ev.overlap(env) != nil {
		return // no task overlap, or the servers' own: overlap_s, a failure
	}
	held := "the loss is measured from the task's start (whether its server waited is not known)"
	if st := ev.replacementStart(); !st.Equal(ev.recovery.rec.Instance.StartedAt) {
		held = fmt.Sprintf("its server started at %+.3fs, so it is held to the old server's last save, its final save included", env.offset(st))
	}
	servers := "its server's start line is not in the log"
	if w := ev.log.writers; w != nil && w.Detail != "" {
		servers = w.Detail
	}
	t.Notes = append(t.Notes, fmt.Sprintf("the replacement task started %.2fs before the old server was gone (tasks overlapped %+.2fs..%+.2fs): %s; %s",
		tasks.To-tasks.From, tasks.From, tasks.To, servers, held))
}

// FaultSupporter is a target that says which faults it can inject.
type FaultSupporter interface {
	Supports(kind target.FaultKind) error
}

// checkFaults refuses, before any trial runs, a fault the target cannot
// inject, in the target's own words.
func checkFaults(cfg Config, plans []TrialPlan) error {
	fs, ok := cfg.Target.(FaultSupporter)
	for _, p := range plans {
		if !ok {
			continue // a target that cannot say is trusted to refuse in Inject
		}
		if err := fs.Supports(p.Fault); err != nil {
			return fmt.Errorf("%w: scenario %s: %w", result.ErrBadInput, p.Scenario.Name, err)
		}
	}
	return nil
}

func targetKind(cfg Config) string {
	if cfg.TargetInfo.Kind == "" {
		return "local"
	}
	return cfg.TargetInfo.Kind
}
