package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

const (
	probeEvery = 2 * time.Millisecond  // readiness resolution (FACTS: 1-10 ms)
	infoEvery  = 10 * time.Millisecond // save-cycle watcher
	adminLimit = 10 * time.Minute      // SAVE/BGSAVE of a big dataset on slow storage
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

// trialRun carries one trial through its phases. Only the Runner knows the
// order of phases; each phase is a method.
type trialRun struct {
	cfg  Config
	plan TrialPlan
	seq  int
	out  *progress.Printer

	base          time.Time // the trial's clock origin (monotonic)
	prefix        string
	addr          atomic.Value // string: current endpoint; changes on ECS replacement
	rules         savepolicy.Rules
	rate          float64 // scaled writes/s
	dataset       result.Dataset
	serverVersion string
	stopTimeout   time.Duration
	storage       *storageRun

	logLines []target.LogLine // the server log, once fetched

	trial   *result.Trial
	reasons []string
	invalid []string
}

func (tr *trialRun) logf(format string, args ...any) {
	tr.out.Logf("  %6.2fs  %s", time.Since(tr.base).Seconds(), fmt.Sprintf(format, args...))
}

func (tr *trialRun) currentAddr() string { return tr.addr.Load().(string) }

func (tr *trialRun) offset(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return t.Sub(tr.base).Seconds()
}

// execute runs the trial; the returned Trial is non-nil whenever the trial
// got far enough to say something, even on error (partial results).
func (tr *trialRun) execute(ctx context.Context) (trial *result.Trial, err error) {
	s := tr.plan.Scenario
	tr.base = time.Now()
	tr.prefix = keyPrefix(tr.cfg.RunID, tr.seq)
	tr.rate = tr.plan.RealRate / tr.cfg.TimeScale
	tr.trial = &result.Trial{
		Scenario:         s.Name,
		Index:            tr.plan.Index,
		Fault:            string(tr.plan.Fault),
		Seed:             tr.cfg.Seed + int64(tr.seq),
		TrialStartUnixMs: tr.base.UnixMilli(),
		RatePerS:         tr.rate,
		Reasons:          []string{},
		Steps:            []result.Step{},
	}
	if tr.plan.RuleIndex >= 0 {
		tr.trial.Rule = tr.cfg.SaveReal[tr.plan.RuleIndex].String()
	}
	defer func() {
		if trial != nil {
			tr.finishVerdict(err)
		}
	}()

	scaled := tr.cfg.SaveReal.Scale(tr.cfg.TimeScale)
	inst, err := tr.cfg.Target.Start(ctx, tr.plan.startSpec(tr.cfg))
	if err != nil {
		return nil, err
	}
	defer func() {
		if ferr := tr.cfg.Target.Finish(context.WithoutCancel(ctx)); ferr != nil && err == nil {
			err = fmt.Errorf("finish trial: %w", ferr)
		}
	}()
	tr.storage = newStorageRun(tr)
	defer tr.storage.end() // before Finish: the storage note needs the mount
	tr.addr.Store(inst.Addr)
	tr.serverVersion = inst.ServerVersion
	tr.logf("server %s up at %s (%s)", inst.ID, inst.Addr, inst.ServerVersion)

	// The rules in force are what the server says, not what we asked for
	// (an ECS task runs its task definition's rules).
	if tr.rules, err = savepolicy.FromServer(ctx, inst.Addr); err != nil {
		return tr.trial, fmt.Errorf("read the save rules of the server just started: %w", err)
	}
	if tr.rules.String() != scaled.String() {
		if tr.cfg.TargetInfo.Kind == "local" {
			return tr.trial, fmt.Errorf("server runs save rules %q, asked for %q", tr.rules, scaled)
		}
		// Rates planned from --save (load.rule) would exercise the wrong
		// rule against other rules; an explicit rate is measured against the
		// rules the server runs.
		if tr.plan.Scenario.Load.Rule != "" && tr.cfg.Rate == 0 {
			return tr.trial, fmt.Errorf("%w: the server runs save rules %q (its task definition), but the run planned rates for %q: pass --save %q (and --time-scale 1)",
				result.ErrBadInput, tr.rules, scaled, tr.rules)
		}
	}
	// Keys of this trial are cleaned up on every exit path.
	defer func() {
		if tr.trial.ReplacementExited != "" {
			return // no server to clean: the keys live only in its dump.rdb
		}
		if n, cerr := check.DeletePrefix(context.WithoutCancel(ctx), tr.currentAddr(), tr.prefix); cerr != nil {
			tr.logf("cleanup of %s* failed after %d keys: %v", tr.prefix, n, cerr)
		}
	}()

	if err := tr.preload(ctx); err != nil {
		return tr.trial, err
	}
	if err := tr.afterPreload(ctx, inst); err != nil {
		return tr.trial, err
	}
	return tr.trial, tr.measure(ctx)
}

// preload builds the dataset, writes the marker key the serving probe reads,
// and takes a snapshot so the dataset is on disk before the measured phase.
func (tr *trialRun) preload(ctx context.Context) error {
	s := tr.plan.Scenario
	keys := tr.plan.Keys
	valueSize := s.Dataset.ValueSize
	if valueSize == 0 {
		valueSize = 100
	}
	tr.dataset = result.Dataset{Keys: keys, ValueBytes: valueSize}
	if keys > 0 {
		tr.logf("preloading %d keys of %d B", keys, valueSize)
		var onBatch func(int64)
		var ph *progress.Phase
		if keys >= longPreload {
			ph = tr.out.Phase("preload", float64(keys), "keys")
			onBatch = func(n int64) { ph.Add(float64(n)) }
		}
		st, err := loadgen.PreloadWithProgress(ctx, tr.currentAddr(), tr.prefix, keys, valueSize, 4, onBatch)
		if ph != nil {
			ph.Done("")
		}
		if err != nil {
			return fmt.Errorf("preload %d keys: %w", keys, err)
		}
		tr.logf("preloaded %d keys (%.1f MB) in %.2fs", st.Keys, float64(st.Bytes)/1e6, st.Duration.Seconds())
	}
	if _, err := probe.Do(ctx, tr.currentAddr(), 5*time.Second, "SET", tr.markerKey(), "marker"); err != nil {
		return fmt.Errorf("write marker key: %w", err)
	}
	start := time.Now()
	if err := snapshotNow(ctx, tr.currentAddr()); err != nil {
		return fmt.Errorf("snapshot the preloaded dataset: %w", err)
	}
	tr.logf("dataset snapshot taken in %.2fs", time.Since(start).Seconds())
	return nil
}

func (tr *trialRun) markerKey() string { return tr.prefix + "marker" }

// measure runs the steady load, places the fault late in the snapshot cycle,
// recovers, and verifies.
func (tr *trialRun) measure(ctx context.Context) error {
	s := tr.plan.Scenario
	conns := s.Load.Conns
	if conns <= 0 {
		conns = 16
	}
	valueSize := s.Load.ValueSize
	if valueSize <= 0 {
		valueSize = 100
	}
	faultAt := tr.plan.FaultAt
	pred := savepolicy.Predict(tr.rules, tr.rate, 0)
	if !pred.Fires {
		return fmt.Errorf("%w: at %s no save rule of %q ever fires: nothing to measure", result.ErrBadInput, savepolicy.FormatRate(tr.rate), tr.rules)
	}
	// Bound the writer generously, so it never stops mid-outage: three
	// cycles, the stop timeout in force (at most Fargate's 120 s when the
	// scenario leaves it to the target), the replacement's ready and serving
	// waits, and the writes after recovery.
	cycle := pred.NextForkAfterEnd + savepolicy.Granularity
	stopLimit := tr.plan.StopTimeout
	if stopLimit <= 0 {
		stopLimit = 2 * time.Minute
	}
	limit := 3*cycle + 2*stopLimit + readyLimit + servingLimit + time.Duration(s.AfterRecover) + time.Minute
	saves := probe.WatchSaves(ctx, tr.currentAddr, infoEvery)
	defer saves.Stop()

	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr:        tr.currentAddr,
		Prefix:      tr.prefix,
		Conns:       conns,
		ValueSize:   valueSize,
		Pacer:       loadgen.ConstantPacer{Freq: tr.rate},
		Base:        tr.base,
		MaxOps:      uint64(tr.rate*limit.Seconds()) + 1000,
		MaxDuration: limit,
		OpTimeout:   time.Second,
	})
	if err != nil {
		return fmt.Errorf("start writer: %w", err)
	}
	writerStart := time.Now()
	tr.storage.phase("load")
	stopped := false
	defer func() {
		if !stopped {
			writer.Stop()
		}
	}()
	tr.logf("writing at %s on %d connections; waiting for a save during load (rule %s expected)", savepolicy.FormatRate(tr.rate), conns, pred.Rule)

	// Phase: a save fired by the rules while the load runs. Its fork is the
	// snapshot the crash will fall back to.
	waitCtx, cancel := context.WithTimeout(ctx, 2*cycle+2*time.Minute)
	doneWaiting := tr.waiting(ctx, "waiting for a save fired by the rules", cycle)
	ev, err := saves.WaitEnd(waitCtx, writerStart)
	doneWaiting("a save ended")
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tr.invalid = append(tr.invalid, fmt.Sprintf("no snapshot completed during the load within %v (rules %q at %s)", 2*cycle+2*time.Minute, tr.rules, savepolicy.FormatRate(tr.rate)))
		return nil
	}
	if !ev.OK {
		tr.invalid = append(tr.invalid, "the background save during the load failed: no valid snapshot before the fault")
	}
	bgsave := ev.Ended.Sub(ev.Started)
	pred = savepolicy.Predict(tr.rules, tr.rate, bgsave)
	tr.trial.PredictedLossWindowS = pred.WorstWindow.Seconds()
	tr.trial.PredictedRule = pred.Rule.String()
	tr.trial.BGSaveS = bgsave.Seconds()
	tr.storage.phase("save")
	nextFork := tr.nextFork(ctx, ev, pred)
	faultTime := ev.Ended.Add(time.Duration(faultAt * float64(nextFork.Sub(ev.Ended))))
	if latest := nextFork.Add(-forkMargin); faultTime.After(latest) {
		faultTime = latest
	}
	faultTime = tr.faultMoment(faultTime, ev.Ended)
	when := fmt.Sprintf("fault at %.0f%% of the cycle", faultAt*100)
	switch s := tr.plan.Scenario; {
	case s.FaultDuring != "":
		when = "fault during the next " + s.FaultDuring
	case s.FaultAfter > 0:
		when = fmt.Sprintf("fault %v after it", time.Duration(s.FaultAfter))
	}
	tr.logf("save ended (took %.2fs); next fork due %.2fs after it; %s", bgsave.Seconds(), nextFork.Sub(ev.Ended).Seconds(), when)
	doneWaiting = tr.waiting(ctx, "waiting for the fault's moment", time.Until(faultTime))
	err = sleepUntil(ctx, faultTime)
	doneWaiting("fault now")
	if err != nil {
		return err
	}
	if err := tr.waitFaultMoment(ctx, 2*cycle+time.Minute); err != nil {
		return err
	}
	tr.storage.phase("fault")

	// Phase: the fault.
	before := writer.Stats()
	tr.logf("injecting %s (acked so far %d)", tr.plan.Fault, before.Acked)
	rep, ferr := tr.cfg.Target.Inject(ctx, tr.plan.Fault)
	if errors.Is(ferr, target.ErrStopCondition) {
		// Nothing was injected: the trial is no evidence, and the run ends.
		tr.invalid = append(tr.invalid, "aborted before the fault: "+ferr.Error())
		return ferr
	}
	tFault := rep.IssuedAt
	if tFault.IsZero() {
		tFault = time.Now()
	}
	tr.stopTimeout = rep.StopTimeout
	tr.trial.TFaultUnixMs = tFault.UnixMilli()
	tr.trial.StopEscalated = rep.Escalated
	tr.addStep("fault", tFault, "client")
	if ferr != nil {
		tr.invalid = append(tr.invalid, fmt.Sprintf("fault could not be confirmed: %v", ferr))
		return ferr
	}
	if !rep.Confirmed {
		tr.invalid = append(tr.invalid, "fault could not be confirmed: the old server did not go away")
		return nil
	}
	tr.addStep("old_gone", rep.GoneAt, "process")
	if rep.Escalated {
		tr.logf("final save did not finish within stop timeout %v: SIGKILL", rep.StopTimeout)
	}
	tr.logf("old server gone after %.3fs (%s)", rep.GoneAt.Sub(tFault).Seconds(), rep.ExitDetail)

	// Phase: recovery.
	tr.storage.phase("recover")
	rec, err := tr.cfg.Target.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	tr.addr.Store(rec.Instance.Addr)
	for _, m := range rec.Milestones {
		tr.addStep(m.Name, m.At, m.Source)
	}
	if len(rec.StaleTempFiles) > 0 {
		tr.trial.Leaks = &result.TempFileLeak{Files: rec.StaleTempFiles, Bytes: rec.StaleTempBytes, Removed: rec.TempRemoved}
		tr.logf("%d stale temp RDB file(s), %.1f MB, left by the killed save", len(rec.StaleTempFiles), float64(rec.StaleTempBytes)/1e6)
	}
	readyCtx, cancel := tr.readyContext(ctx, readyLimit)
	doneWaiting = tr.waiting(ctx, "waiting for the replacement to load and answer", 0)
	ready, rerr := probe.WaitReady(readyCtx, tr.currentAddr, probeEvery)
	doneWaiting("the replacement answered")
	cancel()
	if exited, detail := tr.replacementExited(); exited {
		stopped = true
		history := writer.Stop()
		saves.Stop()
		return tr.unrecovered(ctx, history, rec, ready, tFault, writerStart, detail, saves.Events())
	}
	if rerr != nil {
		tr.reasons = append(tr.reasons, fmt.Sprintf("the replacement never became ready: %v", rerr))
	}
	servingCtx, cancel := context.WithTimeout(ctx, servingLimit)
	serving, _, serr := probe.WaitServing(servingCtx, tr.currentAddr, tr.markerKey(), probeEvery)
	cancel()
	if serr != nil {
		tr.reasons = append(tr.reasons, fmt.Sprintf("no surviving key could be read after recovery: %v", serr))
	}
	readyText, servingText := "never ready", "never served"
	if !ready.Ready.IsZero() {
		readyText = fmt.Sprintf("ready %.3fs after start", ready.Ready.Sub(rec.Instance.StartedAt).Seconds())
	}
	if !serving.IsZero() {
		servingText = fmt.Sprintf("serving %.3fs after the fault", serving.Sub(tFault).Seconds())
	}
	tr.logf("replacement %s, %s", readyText, servingText)

	// Keep writing a little after recovery so the timeline shows it.
	if err := sleepUntil(ctx, time.Now().Add(time.Duration(s.AfterRecover))); err != nil {
		return err
	}
	stopped = true
	history := writer.Stop()
	saves.Stop()

	// Phase: verify.
	return tr.verify(ctx, history, rep, rec, ready, serving, tFault, writerStart, saves.Events())
}

// nextFork is when the rules allow the next fork after the save ev, from
// the server's own lastsave (whole seconds) and the fork instant; without
// lastsave, the model's earliest fork after the end.
func (tr *trialRun) nextFork(ctx context.Context, ev probe.SaveEvent, pred savepolicy.Prediction) time.Time {
	fallback := ev.Ended.Add(pred.NextForkAfterEnd)
	info, err := persistence(ctx, tr.currentAddr())
	if err != nil {
		return fallback
	}
	lastSave, err := strconv.ParseInt(info["rdb_last_save_time"], 10, 64)
	if err != nil {
		return fallback
	}
	at, ok := savepolicy.NextFork(tr.rules, tr.rate, ev.Started, lastSave)
	if !ok || at.Before(ev.Ended) {
		return fallback
	}
	return at
}

func (tr *trialRun) addStep(name string, at time.Time, source string) {
	if at.IsZero() {
		return
	}
	tr.trial.Steps = append(tr.trial.Steps, result.Step{Name: name, AtS: tr.offset(at), UnixMs: at.UnixMilli(), Source: source})
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

// snapshotNow waits out any running save, then runs BGSAVE and waits for it,
// so the dataset is on disk and the dirty counter starts from zero.
func snapshotNow(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, adminLimit)
	defer cancel()
	before, err := persistence(ctx, addr)
	if err != nil {
		return err
	}
	for tries := 0; ; tries++ {
		if err := waitBGSave(ctx, addr, false, adminLimit); err != nil {
			return err
		}
		r, err := probe.Do(ctx, addr, time.Minute, "BGSAVE")
		if err != nil {
			return fmt.Errorf("BGSAVE: %w", err)
		}
		if r.Kind != '-' {
			break
		}
		if tries > 50 {
			return fmt.Errorf("BGSAVE refused: %s", r.Str)
		}
		// "Background save already in progress": a rule fired meanwhile.
		if err := sleepUntil(ctx, time.Now().Add(20*time.Millisecond)); err != nil {
			return fmt.Errorf("wait to retry BGSAVE: %w", err)
		}
	}
	if err := waitBGSave(ctx, addr, false, adminLimit); err != nil {
		return err
	}
	after, err := persistence(ctx, addr)
	if err != nil {
		return err
	}
	if after["rdb_last_bgsave_status"] != "ok" {
		return fmt.Errorf("BGSAVE failed (rdb_last_bgsave_status %s): check the server log", after["rdb_last_bgsave_status"])
	}
	if after["rdb_saves"] == before["rdb_saves"] {
		return errors.New("BGSAVE reported started but no save was counted")
	}
	return nil
}

func persistence(ctx context.Context, addr string) (map[string]string, error) {
	info, err := probe.Info(ctx, addr, "persistence")
	if err != nil {
		return nil, fmt.Errorf("INFO persistence: %w", err)
	}
	return info, nil
}

// waitBGSave polls INFO persistence until a background save is running
// (running) or none is, for at most limit.
func waitBGSave(ctx context.Context, addr string, running bool, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	want := map[bool]string{true: "1", false: "0"}[running]
	for {
		info, err := persistence(ctx, addr)
		if err != nil {
			return err
		}
		if info["rdb_bgsave_in_progress"] == want {
			return nil
		}
		select {
		case <-ctx.Done():
			if running {
				return fmt.Errorf("no background save started within %v: %w", limit, ctx.Err())
			}
			return fmt.Errorf("wait for the running save to end: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// fileSize returns the size of path, or 0 when it cannot be seen.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
