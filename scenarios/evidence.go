package scenarios

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// evidence holds what each phase of one trial returned. runTrial stores
// each phase's value here as it gets it; conclude turns it into the
// trial's result and has it judged. Zero values mean the phase never ran.
type evidence struct {
	server    started
	dataset   result.Dataset
	snapshot  probe.Snapshot
	leaks     leaks
	replan    replanned
	load      loadDone
	placement placement
	fault     injected
	recovery  recovered
	log       serverLog
	found     readBackDone
	storage   storageDone
	reads     readsDone
	hostLoss  *result.HostLoss
	memory    memoryDone
	drill     drillDone
	latency   *hdrhistogram.Histogram // the writes' latency, once recordLoad made it
}

// conclude assembles the trial's result from the evidence, writes its
// artifacts and has the judge decide. It returns no trial when the server
// never started.
func (ev *evidence) conclude(ctx context.Context, env *trialEnv, runErr error) trialDone {
	if ev.server.inst.ID == "" && ev.server.inst.Addr == "" {
		return trialDone{}
	}
	t := ev.baseTrial(env)
	ev.recordFault(env, t)
	if h := ev.load.history; h != nil {
		if err := ev.recordWrites(env, t); err != nil && runErr == nil {
			runErr = err
		}
		if err := writeArtifacts(env, t, h, ev.latency, ev.found, ev.log.lines); err != nil && runErr == nil {
			runErr = err
		}
		defer ev.dropSpool(env, t) // the trial's summaries read the History until judged
	}
	ev.taskOverlapNote(env, t)
	keptData(env, t)
	ev.recordDrill(env, t)
	if h := ev.load.history; h != nil && h.Err() != nil && runErr == nil {
		runErr = fmt.Errorf("the writes' history: %w", h.Err())
	}
	if ev.reads.err != nil && runErr == nil {
		runErr = ev.reads.err
	}
	t.Assumptions = ev.assumptions(env, t, runErr)
	if ctx.Err() != nil {
		t.Interrupted = fmt.Sprintf("cut short: %v", context.Cause(ctx))
	}
	switch {
	case ev.found.cut != "":
		t.StoppedServing = ev.found.cut
		t.Unread = "the read-back was cut short: the server stopped serving after it had recovered"
	case !ev.found.done && t.ReplacementExited == "":
		when := "the trial ended before recovery"
		if !ev.recovery.serving.IsZero() {
			when = "the replacement served, then the read-back failed"
		}
		t.Unread = "the keys were never read back: " + when + " (" + unreadWhy(ctx, runErr) + ")"
	}
	t.Problems = dedupe(t.Problems)
	judge.Apply(t, slices.Concat(env.plan.Scenario.expect, env.cfg.slos))
	return trialDone{trial: t, learned: learnedTarget{
		serverVersion: ev.server.inst.ServerVersion, rules: ev.server.rules,
		stopTimeout: ev.fault.rep.StopTimeout, dataset: ev.dataset, storage: storageMode(ev.storage.note),
	}}
}

func unreadWhy(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "interrupted"
	case err != nil:
		return err.Error()
	}
	return "no fault was injected"
}

func (ev *evidence) baseTrial(env *trialEnv) *result.Trial {
	p := env.plan
	t := &result.Trial{
		Scenario: p.Scenario.Name, Index: p.Index, Fault: string(p.Fault), Seed: env.cfg.Seed + int64(p.Seq),
		TrialStartUnixMs: env.base.UnixMilli(), RatePerS: p.Rate, Reasons: []string{}, Steps: []result.Step{},
	}
	if ev.replan.rate > 0 {
		t.RatePerS = ev.replan.rate
	}
	if p.Client == loadgen.WriterClientRESP {
		t.WriterClient = string(p.Client)
	}
	if p.RuleIndex >= 0 {
		t.Rule = p.RealRules[p.RuleIndex].String()
	}
	if ev.replan.note != "" {
		t.Notes = append(t.Notes, ev.replan.note)
	}
	if p.Scenario.sizeKeys > 0 {
		ds := ev.dataset
		ds.RDBBytes = ev.leaks.rdbBytes
		t.Dataset = &ds
	}
	t.Leaks = ev.leaks.temp
	t.StorageFaults, t.Storage = ev.storage.events, ev.storage.note
	if pl := ev.placement; pl.found && pl.pred.Fires {
		t.PredictedLossWindowS = pl.pred.WorstWindow.Seconds()
		t.PredictedRule = pl.pred.Rule.String()
		t.BGSaveS = pl.cycle.Ended.Sub(pl.cycle.Started).Seconds()
	}
	if st := p.Strategy; st != "" && st != savepolicy.StrategyRDB {
		t.Persistence = string(st)
		a := st.AllowedLoss(strategyFault(p, ev.hostLoss != nil), seconds(t.PredictedLossWindowS))
		t.AllowedLoss = &result.AllowedLoss{Everything: a.Everything, WindowS: a.WindowS, Why: a.Why}
	}
	t.HostLoss = ev.hostLoss
	recordMemory(t, ev.memory)
	if ev.reads.summary != nil {
		t.Reader = ev.reads.summary
	}
	return t
}

// recordFault records the fault and the recovery's target-side steps.
func (ev *evidence) recordFault(env *trialEnv, t *result.Trial) {
	if ev.fault.tFault.IsZero() {
		return
	}
	rep := ev.fault.rep
	t.TFaultUnixMs = ev.fault.tFault.UnixMilli()
	t.StopEscalated = rep.Escalated
	t.StopTimeoutS = rep.StopTimeout.Seconds()
	addStep(env, t, "fault", ev.fault.tFault, "client")
	if !rep.Confirmed {
		return
	}
	addStep(env, t, "old_gone", rep.GoneAt, "process")
	for _, m := range ev.recovery.rec.Milestones {
		addStep(env, t, m.Name, m.At, m.Source)
	}
	if rec := ev.recovery.rec; len(rec.StaleTempFiles) > 0 {
		t.Leaks = &result.TempFileLeak{Files: rec.StaleTempFiles, Bytes: rec.StaleTempBytes, Removed: rec.TempRemoved}
	}
	t.Problems = append(t.Problems, ev.recovery.problems...)
}

// recordWrites fills the numbers DESIGN.md defines from the History, the
// read-back and the server log. The error is the History's (a spool that
// cannot be read): the numbers are then incomplete.
func (ev *evidence) recordWrites(env *trialEnv, t *result.Trial) error {
	h := ev.load.history
	sum := ev.log.summary
	t.Saves = saveRows(env, sum, ev.load.saves)
	if sum.finalSave > 0 {
		fs := sum.finalSave.Seconds()
		t.FinalSaveS = &fs
	}
	tFault := ev.faultOffset(env)
	switch {
	case ev.recovery.exited != "":
		ev.recordUnrecovered(env, t)
	case ev.found.done:
		if err := ev.recordClassification(env, t); err != nil {
			return err
		}
		ev.recordTimeline(env, t)
	case ev.found.cut != "":
		// The replacement recovered and served, then went away: its
		// timeline stands; what was lost is unknown.
		t.Writes = h.Len()
		t.Acked, t.Failed, t.Unknown = h.Counts()
		t.OverlapS = ev.overlap(env)
		ev.recordTimeline(env, t)
	default:
		t.Writes = h.Len()
		t.Acked, t.Failed, t.Unknown = h.Counts()
		if !ev.recovery.serving.IsZero() {
			ev.recordTimeline(env, t) // it served, then the read-back failed: the RTO was measured
		}
	}
	if tFault > 0 {
		refused, problems := noteRefusals(h, tFault, ev.storage.events)
		t.Refused = refused
		t.Problems = append(t.Problems, problems...)
		t.Problems = append(t.Problems, noteStorage(t, ev.storage.events, tFault)...)
	}
	ev.latency = recordLoad(env, t, h)
	if err := h.Err(); err != nil {
		return fmt.Errorf("the writes' history: %w", err)
	}
	return nil
}

// floorF is the fork of the dataset's snapshot, the oldest snapshot the
// replacement may legitimately load; 0 (unknown) without one.
func (ev *evidence) floorF(env *trialEnv) time.Duration {
	if ev.snapshot.ForkAfter.IsZero() {
		return 0
	}
	return ev.snapshot.ForkAfter.Sub(env.base)
}

// overlap is when the replacement ran while the old server had not yet
// exited: from the servers' own lines when the target can tell (their
// tasks may overlap while a single-writer lock kept the servers apart),
// else from the tasks' instants.
func (ev *evidence) overlap(env *trialEnv) *result.Span {
	if w := ev.log.writers; w != nil {
		if !w.Decided || !w.Overlapped {
			// Undecided: the new server's start line lies inside the old
			// exit's bracket (a lock hands over at once). The tasks'
			// overlap is then no evidence that two servers wrote; lost
			// writes and anomalies still say so if they did.
			return nil
		}
		to := w.OldGoneBy
		if to.IsZero() {
			to = ev.fault.rep.GoneAt
		}
		if w.NewServerStarted.Before(to) {
			return &result.Span{From: env.offset(w.NewServerStarted), To: env.offset(to)}
		}
		return nil
	}
	return overlapOf(env, ev.fault.rep)
}

// faultOffset is the fault's offset from the trial base; 0 when none.
func (ev *evidence) faultOffset(env *trialEnv) time.Duration {
	if ev.fault.tFault.IsZero() {
		return 0
	}
	return ev.fault.tFault.Sub(env.base)
}

// lossTo is the instant the loss window is measured to: the fault; the
// replacement's start when the two servers overlapped (overlap.go); the
// old process's exit when a stop escalated after the server kept serving
// past SIGTERM (its final save failed: "can't exit" in its log, or writes
// sent well after SIGTERM were acknowledged).
func (ev *evidence) lossTo(env *trialEnv) time.Time {
	rep, tFault := ev.fault.rep, ev.fault.tFault
	to := tFault
	if ov := ev.overlap(env); ov != nil {
		// The snapshot that matters is the one the replacement loaded.
		if from := env.base.Add(seconds(ov.From)); from.After(tFault) {
			to = from
		}
	}
	if !rep.Escalated || rep.GoneAt.IsZero() || ev.load.history == nil {
		return to
	}
	if ev.log.summary.keptServing {
		return rep.GoneAt
	}
	// A write sent within a few serverCron ticks of SIGTERM is answered
	// before the shutdown begins; one sent later means the server went on.
	after := tFault.Add(2 * savepolicy.Tick).Sub(env.base)
	kept := false
	ev.load.history.Each(func(op *loadgen.Op) bool {
		kept = op.Outcome == loadgen.OK && op.Sent > after && op.Sent < rep.GoneAt.Sub(env.base)
		return !kept
	})
	if kept {
		return rep.GoneAt
	}
	return to
}

func (ev *evidence) recordClassification(env *trialEnv, t *result.Trial) error {
	var replacement time.Duration
	if st := ev.replacementStart(); !st.IsZero() {
		replacement = st.Sub(env.base)
	}
	lossTo := ev.lossTo(env)
	var ops check.OpStream = ev.load.history
	found := ev.found.found
	skip, evicted, expired := excluded(ev.memory.events, env.plan.Prefix)
	t.Evicted, t.Expired = evicted, expired
	if len(skip) > 0 {
		var err error
		if ops, found, err = withoutSeqs(ops, found, skip); err != nil {
			return err
		}
	}
	in := check.Input{
		Found: found, Unexpected: ev.found.unexpected,
		TFault: lossTo.Sub(env.base), Replacement: replacement,
		SaveStarts: ev.log.summary.completedForks(env.base), FloorF: ev.floorF(env),
		CompletedSaves: ev.completedSaves(env, lossTo),
	}
	keysLoaded := ev.log.keysLoaded
	if ev.memory.summary.EvictedKeys > 0 || ev.memory.summary.ExpiredKeys > 0 {
		keysLoaded = -1 // the dataset shrank on its own: its key count says nothing about staleness
	}
	t.Classified = classifiedInput(in, ev.dataset.Keys, keysLoaded)
	for seq := range skip {
		t.Classified.Excluded = append(t.Classified.Excluded, seq)
	}
	slices.Sort(t.Classified.Excluded)
	t.OverlapS = ev.overlap(env)
	c, err := check.ClassifyStream(ops, in)
	if err != nil {
		return err
	}
	applyClassification(t, c, env.base, t.Classified)
	return nil
}

// applyClassification fills the numbers DESIGN.md defines from one
// classification; live trials and `valkey-chaos check` share it.
func applyClassification(t *result.Trial, c check.Classification, base time.Time, ci *result.Classified) {
	t.Writes, t.Acked, t.Failed, t.Unknown = c.Writes, c.Acked, c.Failed, c.Unknown
	t.Lost, t.Recovered, t.Unexpected, t.Corrupt = c.Lost, c.Recovered, c.Unexpected, c.Corrupt
	t.Anomalies = c.Anomalies
	// Two examples say what kind of anomaly it was; the count follows in
	// the verdict, and long reason lists bury it in the report's table.
	for _, ex := range c.AnomalyExamples[:min(2, len(c.AnomalyExamples))] {
		t.Problems = append(t.Problems, "anomaly: "+ex)
	}
	t.LostSpanS, t.SnapshotUnixMs, t.SnapshotSource, t.LossWindowS, t.OldestLostS = nil, 0, "", nil, nil
	if c.HasLost {
		t.LostSpanS = &result.Span{From: c.LostFirst.Seconds(), To: c.LostLast.Seconds()}
		if ci != nil && ci.TFaultS > 0 {
			oldest := ci.TFaultS - c.LostFirst.Seconds()
			t.OldestLostS = &oldest
		}
	}
	if c.Snapshot != nil && c.Lost > 0 && !c.Snapshot.LowUnbounded {
		t.SnapshotUnixMs = base.Add(c.Snapshot.Estimate).UnixMilli()
		t.SnapshotSource = c.Snapshot.Source
	}
	switch w := c.LossWindow; {
	case c.Lost == 0:
		t.LossWindowS = &result.Window{} // nothing lost: the cache went back no time
	case w != nil && !w.HighUnbounded:
		t.LossWindowS = &result.Window{Low: w.Low.Seconds(), High: w.High.Seconds(), Estimate: w.Estimate.Seconds(), OneSided: w.OneSided}
	} // lost writes without a bracket: not measured (nil), never a zero window
	t.StaleLoad = staleLoad(c, ci.DatasetKeys, ci.KeysLoaded)
}

// classifiedInput records what Classify was given besides the ops and the
// read-back (those are files), so the classification can be redone.
func classifiedInput(in check.Input, datasetKeys, keysLoaded int64) *result.Classified {
	ci := &result.Classified{TFaultS: in.TFault.Seconds(), ReplacementS: in.Replacement.Seconds(), FloorFS: in.FloorF.Seconds(),
		Unexpected: in.Unexpected, DatasetKeys: datasetKeys, KeysLoaded: keysLoaded}
	for _, s := range in.SaveStarts {
		ci.SaveStartsS = append(ci.SaveStartsS, s.Seconds())
	}
	for _, s := range in.CompletedSaves {
		ci.CompletedSaves = append(ci.CompletedSaves, result.SaveFork{ForkLowS: s.ForkLow.Seconds(), ForkHighS: s.ForkHigh.Seconds(), EndS: s.End.Seconds(), Source: s.Source})
	}
	return ci
}

// completedSaves are the saves of the faulted server that completed before
// the replacement could load (the old server gone, or the replacement
// started): what the replacement must have loaded, the latest of them. The
// dataset snapshot is always one. Both witnesses count: the server log's
// saves (ms instants), and those the INFO save watcher saw that the log
// does not hold (its lines lost: a log delivered in part), so a stale load
// is named even when the log lost the last save.
func (ev *evidence) completedSaves(env *trialEnv, lossTo time.Time) []check.SaveFork {
	cutoff := lossTo
	if g := ev.fault.rep.GoneAt; !g.IsZero() && g.After(cutoff) {
		cutoff = g
	}
	if st := ev.replacementStart(); !st.IsZero() && st.Before(cutoff) {
		cutoff = st
	}
	off := func(t time.Time) time.Duration { return t.Sub(env.base) }
	var out []check.SaveFork
	if !ev.snapshot.ForkAfter.IsZero() {
		out = append(out, check.SaveFork{ForkLow: off(ev.snapshot.ForkAfter), ForkHigh: off(ev.snapshot.ForkBy), End: off(ev.snapshot.Ended), Source: "harness"})
	}
	logged := ev.log.summary.saves
	for _, s := range logged {
		if s.ok && !s.end.IsZero() && !s.end.After(cutoff) {
			out = append(out, check.SaveFork{ForkLow: off(s.start), ForkHigh: off(s.start) + time.Millisecond, End: off(s.end), Source: result.SourceServerLog})
		}
	}
	for _, s := range ev.load.saves {
		if s.OK && !s.StartedAfter.IsZero() && !s.EndedBy.IsZero() && !s.EndedBy.After(cutoff) && !inLog(logged, s) {
			out = append(out, check.SaveFork{ForkLow: off(s.StartedAfter), ForkHigh: off(s.StartedBy), End: off(s.Ended), Source: "info"})
		}
	}
	return out
}

// inLog: the server log holds the save the watcher saw, its start line
// (ms, truncated) within the watcher's fork bracket.
func inLog(logged []saveSpan, s probe.SaveEvent) bool {
	for _, l := range logged {
		if !l.start.Before(s.StartedAfter.Truncate(time.Millisecond)) && !l.start.After(s.StartedBy) {
			return true
		}
	}
	return false
}

// staleLoad names a replacement that loaded an older snapshot than the last
// completed save: from the lost writes, or from what it says it loaded.
func staleLoad(c check.Classification, datasetKeys, keysLoaded int64) *result.StaleLoad {
	if c.LastSave == nil {
		return nil
	}
	base := datasetKeys + 1 // the preload and the marker
	min, max := base+int64(c.AckedBeforeLastSave), base+int64(c.SentBeforeLastSave)
	s := &result.StaleLoad{LastSaveForkS: c.LastSave.ForkLow.Seconds(), KeysLoaded: keysLoaded, KeysExpectedMin: min, KeysExpectedMax: max}
	switch {
	case c.StaleLoad != nil:
		s.LostBefore = c.StaleLoad.LostBefore
		s.Detail = strings.TrimPrefix(strings.TrimPrefix(c.StaleLoad.Example, "the replacement loaded a snapshot older than the last completed save"), " ")
		if s.KeysLoaded >= 0 {
			s.Detail += fmt.Sprintf("; it loaded %d keys, the last completed save (forked at %+.3fs) held at least %d", s.KeysLoaded, s.LastSaveForkS, min)
		}
	case s.KeysLoaded >= 0 && s.KeysLoaded < min:
		s.Detail = fmt.Sprintf("it loaded %d keys, but the last completed save (forked at %+.3fs) held at least %d", s.KeysLoaded, s.LastSaveForkS, min)
	default:
		return nil
	}
	return s
}

// recordTimeline turns the recovery instants into warm-up, RTO and steps.
func (ev *evidence) recordTimeline(env *trialEnv, t *result.Trial) {
	rec, ready, sum := ev.recovery.rec, ev.recovery.ready, ev.log.summary
	newStarted := rec.Instance.StartedAt
	locked := false // the task started before the old server was gone, but its server waited for it
	if w := ev.log.writers; w != nil && !(w.Decided && w.Overlapped) && !w.NewServerStarted.IsZero() && w.NewServerStarted.After(newStarted) {
		newStarted, locked = w.NewServerStarted, true
		addStep(env, t, "server_started", w.NewServerStarted, "server-log")
	}
	tl := check.Recovery(check.Instants{
		Fault: ev.fault.tFault, OldGone: ev.fault.rep.GoneAt, NewStarted: newStarted,
		PortAccepts: ready.Accepted, FirstReply: ready.FirstReply, Ready: ready.Ready, Serving: ev.recovery.serving,
		ServerLoadSeconds: sum.loadSeconds, HasServerLoad: sum.hasLoad,
	})
	t.WarmupS, t.RTOS, t.ServerLoadS = tl.WarmupS, tl.RTOS, tl.ServerLoadS
	// The first look already met a loaded server: warm-up is only bounded.
	t.WarmupUpperBound = t.WarmupS != nil && (rec.WarmupUpperBound || ready.LoadingReplies == 0 && ready.Refused == 0 && ready.Errors == 0)
	if t.OverlapS != nil {
		t.WarmupS = nil // not observed: the probe met the replacement long after its load
	}
	addStep(env, t, "port_accepts", ready.Accepted, "probe")
	addStep(env, t, "first_reply", ready.FirstReply, "probe")
	addStep(env, t, "ready", ready.Ready, "probe")
	addStep(env, t, "serving", ev.recovery.serving, "probe")
	if !sum.loadedAt.IsZero() {
		addStep(env, t, "loaded", sum.loadedAt, "server-log")
	}
	for _, p := range tl.Problems {
		if (t.OverlapS != nil || locked) && strings.Contains(p, "comes before old_gone") {
			continue // two servers overlapped (reported as the overlap it is), or a lock kept them apart
		}
		t.Problems = append(t.Problems, "timeline: "+p)
	}
	sort.SliceStable(t.Steps, func(i, j int) bool { return t.Steps[i].AtS < t.Steps[j].AtS })
}

func addStep(env *trialEnv, t *result.Trial, name string, at time.Time, source string) {
	if at.IsZero() {
		return
	}
	t.Steps = append(t.Steps, result.Step{Name: name, AtS: env.offset(at), UnixMs: at.UnixMilli(), Source: source})
}
