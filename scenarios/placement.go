package scenarios

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// placement is where the fault was placed: after the save the rules fired
// during the load (the snapshot a crash falls back to), at fault_at of the
// way to the next fork the rules allow, or as fault_after/fault_during say.
type placement struct {
	found     bool   // a save fired by the rules completed during the load
	noSave    string // why not, when !found
	cycle     probe.SaveEvent
	pred      savepolicy.Prediction // at the measured BGSAVE of that save
	nextFork  time.Time
	planned   time.Time // the fault's moment
	byFaultAt bool      // placed by fault_at, so it must land within this cycle
	during    bool      // placed by fault_during, inside a save the rules fire
	// changes are the server's rdb_changes_since_last_save just after the
	// cycle's save and just before the fault, with their instants: the
	// server's own change rate, to hold against the writer's.
	changes [2]changeSample
}

type changeSample struct {
	asked   time.Time // the INFO was sent: the server counted at or after it
	at      time.Time // its reply came back: the server counted before it
	changes int64
	ok      bool
}

// placeFault waits for a save fired by the rules during the load, then
// until the fault's moment.
// afterSave runs once the cycle's save ended (the overwrites that make the
// next fork copy).
func placeFault(ctx context.Context, env *trialEnv, load *loadRun, storage *storageRun, afterSave func() error) (placement, error) {
	if !env.plan.Strategy.Snapshots() {
		return placeWithoutCycle(ctx, env, load, storage)
	}
	pred := savepolicy.Predict(load.rules, load.rate, 0)
	cycle := pred.NextForkAfterEnd + savepolicy.Granularity
	bound := 2*(cycle+load.bgsave) + 2*time.Minute // the save itself takes about as long as the dataset's
	waitCtx, cancel := context.WithTimeout(ctx, bound)
	doneWaiting := env.waiting(ctx, "waiting for a save fired by the rules", cycle+load.bgsave)
	ev, err := load.saves.WaitEnd(waitCtx, load.start)
	doneWaiting("a save ended")
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return placement{}, ctx.Err()
		}
		return placement{noSave: fmt.Sprintf("no snapshot completed during the load within %v (rules %q at %s, the dataset's BGSAVE %v)", bound.Round(100*time.Millisecond), load.rules, savepolicy.FormatRate(load.rate), load.bgsave.Round(time.Millisecond))}, nil
	}
	if !ev.OK {
		return placement{noSave: "the background save during the load failed: no valid snapshot before the fault"}, nil
	}
	pl := placement{found: true, cycle: ev, changes: [2]changeSample{sampleChanges(ctx, env.probe(), env.currentAddr())}}
	bgsave := ev.Ended.Sub(ev.Started)
	pl.pred = savepolicy.Predict(load.rules, load.rate, bgsave)
	storage.phase("save")
	if err := afterSave(); err != nil {
		return pl, err
	}
	pl.nextFork = nextFork(ctx, env.probe(), env.currentAddr(), load, ev, pl.pred)
	pl.planned, pl.byFaultAt = faultMoment(env.plan, ev.Ended, pl.nextFork)
	pl.during = env.plan.Scenario.FaultDuring != ""
	env.logf("save ended (took %.2fs); next fork due %.2fs after it; %s", bgsave.Seconds(), pl.nextFork.Sub(ev.Ended).Seconds(), faultWhen(env.plan))
	doneWaiting = env.waiting(ctx, "waiting for the fault's moment", time.Until(pl.planned))
	err = sleepUntilOrExit(ctx, env.cfg.Target, pl.planned)
	doneWaiting("fault now")
	if err != nil {
		return pl, err
	}
	if err := waitFaultMoment(ctx, env, 2*cycle+time.Minute); err != nil {
		return pl, err
	}
	pl.changes[1] = sampleChanges(ctx, env.probe(), env.currentAddr())
	return pl, nil
}

// placeWithoutCycle places the fault of a trial with no snapshot cycle
// (persistence none or AOF alone): fault_after the load began, else once
// the reader has had its steady window (3 s without a reader).
func placeWithoutCycle(ctx context.Context, env *trialEnv, load *loadRun, storage *storageRun) (placement, error) {
	wait := time.Duration(env.plan.Scenario.FaultAfter)
	if wait <= 0 {
		wait = 3 * time.Second
		if spec := env.plan.Scenario.Reader; spec != nil {
			if _, steady, ok := env.plan.readerConfig(env); ok {
				wait = steady + time.Second // the reader's steady state comes before the fault
			}
		}
	}
	pl := placement{found: true, planned: load.start.Add(wait)}
	storage.phase("save")
	env.logf("persistence %s: no snapshot cycle; fault %v after the load began", env.plan.Strategy, wait)
	done := env.waiting(ctx, "waiting for the fault's moment", time.Until(pl.planned))
	err := sleepUntilOrExit(ctx, env.cfg.Target, pl.planned)
	done("fault now")
	return pl, err
}

// sleepUntilOrExit waits for the fault's moment, or until the server died
// on its own first (an OOM kill): then the fault that happened is the one
// to record, and the replacement starts as a scheduler would start it.
func sleepUntilOrExit(ctx context.Context, tgt Target, t time.Time) error {
	w, ok := tgt.(ServerWatcher)
	if !ok {
		return sleepUntil(ctx, t)
	}
	for time.Now().Before(t) {
		if exited, _ := w.ServerExited(); exited {
			return nil
		}
		step := min(time.Until(t), 20*time.Millisecond)
		if err := sleepUntil(ctx, time.Now().Add(step)); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// faultMoment is when the fault lands: fault_after is a fixed delay after
// the save; otherwise fault_at of the way from its end to the next fork,
// never later than just before that fork.
func faultMoment(p TrialPlan, saveEnded, nextFork time.Time) (at time.Time, byFaultAt bool) {
	if d := time.Duration(p.Scenario.FaultAfter); d > 0 {
		return saveEnded.Add(d), false
	}
	at = saveEnded.Add(time.Duration(p.FaultAt * float64(nextFork.Sub(saveEnded))))
	if latest := nextFork.Add(-forkMargin); at.After(latest) {
		at = latest
	}
	return at, p.Scenario.FaultDuring == ""
}

func faultWhen(p TrialPlan) string {
	switch s := p.Scenario; {
	case s.FaultDuring != "":
		return "fault during the next " + s.FaultDuring
	case s.FaultAfter > 0:
		return fmt.Sprintf("fault %v after it", time.Duration(s.FaultAfter))
	}
	return fmt.Sprintf("fault at %.0f%% of the cycle", p.FaultAt*100)
}

// waitFaultMoment holds a fault_during: bgsave fault until a background
// save runs (the writer keeps the rules firing).
func waitFaultMoment(ctx context.Context, env *trialEnv, limit time.Duration) error {
	if env.plan.Scenario.FaultDuring != "bgsave" {
		return nil
	}
	if err := env.probe().WaitBGSave(ctx, env.currentAddr(), true, limit); err != nil {
		return err
	}
	// Into the save, so its temp file has data, yet well before its end.
	return sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
}

// nextFork is when the rules allow the next fork after the save ev, from
// the server's own lastsave (whole seconds) and the fork instant; without
// lastsave, the model's earliest fork after the end.
func nextFork(ctx context.Context, pr probe.Client, addr string, load *loadRun, ev probe.SaveEvent, pred savepolicy.Prediction) time.Time {
	fallback := ev.Ended.Add(pred.NextForkAfterEnd)
	lastSave, err := pr.LastSaveTime(ctx, addr)
	if err != nil {
		return fallback
	}
	at, ok := savepolicy.NextFork(load.rules, load.rate, ev.Started, lastSave)
	if !ok || at.Before(ev.Ended) {
		return fallback
	}
	return at
}

func sampleChanges(ctx context.Context, pr probe.Client, addr string) changeSample {
	asked := time.Now()
	info, err := pr.Persistence(ctx, addr)
	if err != nil {
		return changeSample{}
	}
	n, err := strconv.ParseInt(info["rdb_changes_since_last_save"], 10, 64)
	return changeSample{asked: asked, at: time.Now(), changes: n, ok: err == nil}
}

// serverRate is the server's own change rate between the two samples (no
// save may complete between them: the fault lands within the cycle).
func (pl placement) serverRate() (float64, bool) {
	a, b := pl.changes[0], pl.changes[1]
	if !a.ok || !b.ok || !b.at.After(a.at) || b.changes < a.changes {
		return 0, false
	}
	return float64(b.changes-a.changes) / b.at.Sub(a.at).Seconds(), true
}

// leaks is what the crashes during BGSAVE (bgsave_crashes) left.
type leaks struct {
	rdbBytes int64 // the dataset's dump.rdb, when the target can see it
	temp     *result.TempFileLeak
}

// crashDuringBGSaves runs what a scenario asks for between the snapshot
// and the measured phase: it records the dataset's RDB size and crashes
// the server during BGSAVEs (bgsave_crashes), leaving temp files behind.
func crashDuringBGSaves(ctx context.Context, env *trialEnv, inst target.Instance) (leaks, error) {
	var out leaks
	if inst.DataDir != "" {
		out.rdbBytes = fileSize(filepath.Join(inst.DataDir, "dump.rdb"))
	}
	n := env.plan.Scenario.BGSaveCrashes
	for i := 1; i <= n; i++ {
		rec, err := crashDuringBGSave(ctx, env)
		if err != nil {
			return out, fmt.Errorf("crash %d of %d during BGSAVE: %w", i, n, err)
		}
		if len(rec.StaleTempFiles) > 0 {
			// With keep_temp_files they pile up: the latest count is the total.
			out.temp = &result.TempFileLeak{Files: rec.StaleTempFiles, Bytes: rec.StaleTempBytes, Removed: rec.TempRemoved}
		}
		env.logf("crash %d during BGSAVE: %d temp file(s) on the volume, %.1f MB", i, len(rec.StaleTempFiles), float64(rec.StaleTempBytes)/1e6)
	}
	return out, nil
}

// crashDuringBGSave starts a BGSAVE, kills the server (group) while it
// runs, and brings the replacement up: the killed child's temp-<pid>.rdb
// stays behind. No measured write is lost: the preload is on disk already.
func crashDuringBGSave(ctx context.Context, env *trialEnv) (target.Recovery, error) {
	if err := env.probe().StartBGSave(ctx, env.currentAddr()); err != nil {
		return target.Recovery{}, err
	}
	// Let the child write part of the file, as a kill mid-save does.
	if err := sleepUntil(ctx, time.Now().Add(100*time.Millisecond)); err != nil {
		return target.Recovery{}, err
	}
	rep, err := env.cfg.Target.Inject(ctx, target.Crash)
	if err != nil {
		return target.Recovery{}, err
	}
	if !rep.Confirmed {
		return target.Recovery{}, fmt.Errorf("the server did not go away")
	}
	rec, err := env.cfg.Target.Recover(ctx)
	if err != nil {
		return rec, fmt.Errorf("recover: %w", err)
	}
	env.addr.Store(rec.Instance.Addr)
	readyCtx, cancel := readyContext(ctx, env.cfg.Target, 5*time.Minute)
	_, err = env.probe().WaitReady(readyCtx, env.currentAddr, probeEvery)
	cancel()
	if err != nil {
		return rec, fmt.Errorf("replacement after the crash: %w", err)
	}
	return rec, nil
}
