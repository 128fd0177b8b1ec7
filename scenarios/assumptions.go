package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// assumptions are the harness's own preconditions, as observed, in the
// order the judge reads them.
func (ev *evidence) assumptions(env *trialEnv, t *result.Trial, runErr error) []result.Assumption {
	var out []result.Assumption
	add := func(name string, held bool, detail string) {
		out = append(out, result.Assumption{Name: name, Held: held, Detail: detail})
	}
	add("finished", runErr == nil, finishedDetail(runErr))
	if errs := ev.storage.errs; len(errs) > 0 {
		add("storage_faults", false, errs[0])
	}
	if ev.load.history == nil || ev.drill.saveFailed != "" {
		return out // no load, or a drill whose failed save is its outcome
	}
	pl := ev.placement
	if env.plan.Strategy.Snapshots() {
		add("snapshot_during_load", pl.found, pl.noSave)
	}
	if !pl.found {
		return out
	}
	if !ev.fault.tFault.IsZero() {
		add("fault_confirmed", ev.fault.err == nil && ev.fault.rep.Confirmed, confirmDetail(ev.fault))
	}
	if ev.fault.rep.Confirmed && !pl.cycle.Started.IsZero() {
		held, detail := ev.faultInCycle(t)
		add("fault_in_cycle", held, detail)
		held, detail = ev.ruleFired(t)
		add("rule_fired", held, detail)
		held, detail = ev.ownWrites(env, t)
		add("own_writes", held, detail)
	}
	held, detail := ev.pacing(env, t)
	add("pacing", held, detail)
	return out
}

func finishedDetail(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, target.ErrStopCondition):
		return "aborted before the fault: " + err.Error()
	}
	return "trial did not finish: " + err.Error()
}

func confirmDetail(in injected) string {
	switch {
	case errors.Is(in.err, target.ErrStopCondition):
		return "aborted before the fault: " + in.err.Error()
	case in.err != nil:
		return fmt.Sprintf("fault could not be confirmed: %v", in.err)
	case !in.rep.Confirmed:
		return "fault could not be confirmed: the old server did not go away"
	}
	return ""
}

// faultInCycle: a fault placed by fault_at must land in the planned cycle;
// another save completing between the cycle's save and the fault (foreign
// writes on a shared server, clock skew against lastsave) moves it. Both
// witnesses are read: the server log's ms instants, and the INFO save
// watcher, which sees a save whose log lines were lost (a log delivered in
// part, or not at all). A fault placed by fault_after or fault_during may
// follow later saves, but only saves the rules fired (savesFiredByRules).
func (ev *evidence) faultInCycle(t *result.Trial) (bool, string) {
	pl := ev.placement
	if !pl.byFaultAt {
		return ev.savesFiredByRules(t)
	}
	breach := func(start, end time.Time) (bool, string) {
		return false, fmt.Sprintf("another save completed (%s to %s) between the planned cycle's save and the fault: the fault did not land in the planned cycle (other writers on the server, or its clock against lastsave)",
			start.Format("15:04:05.000"), end.Format("15:04:05.000"))
	}
	tFault := ev.fault.tFault
	// The log's ms instants: a save that began after the cycle's save
	// ended and finished by the fault.
	for _, s := range ev.log.summary.saves {
		if s.ok && s.start.After(pl.cycle.Ended) && !s.end.IsZero() && !s.end.After(tFault) {
			return breach(s.start, s.end)
		}
	}
	// The watcher's polls: a save first seen running after the cycle's
	// save ended, and seen finished by the fault.
	for _, s := range ev.load.saves {
		if s.OK && s.Started.After(pl.cycle.Ended) && !s.EndedBy.IsZero() && !s.EndedBy.After(tFault) {
			return breach(s.Started, s.EndedBy)
		}
	}
	return survivorsInCycle(t, pl.cycle.Ended, tFault)
}

// savesFiredByRules holds a fault placed by fault_after or fault_during,
// which the rules' own later saves may precede, to saves the rules fired:
// each save that completed between the cycle's save and the fault must
// follow a "N changes in S seconds" line of the server's, and fork more
// than the shortest rule's seconds after the previous completed save
// ended (Valkey fires a rule when more than its seconds passed since
// lastsave, the end of the last good save). A BGSAVE from another client
// (an operator's cron, a backup agent) breaks either, and the snapshot the
// fault falls back to is then not one the rules made. Only the server log
// can tell who started a save: without its saves this is not checked.
func (ev *evidence) savesFiredByRules(t *result.Trial) (bool, string) {
	saves := ev.log.summary.saves
	shortest := time.Duration(0)
	for i, r := range ev.server.rules {
		if d := time.Duration(r.Seconds) * time.Second; i == 0 || d < shortest {
			shortest = d
		}
	}
	if len(saves) == 0 {
		return ev.unloggedSavesFiredByRules(t, shortest)
	}
	cycleEnded, tFault := ev.placement.cycle.Ended, ev.fault.tFault
	var prevEnd, lastGood time.Time
	for _, s := range saves {
		// fault_during places the fault inside a save: the rules' own.
		if ev.placement.during && s.trigger == "" && s.start.After(cycleEnded.Add(-slack)) && s.start.Before(tFault) && (s.end.IsZero() || s.end.After(tFault)) {
			return false, fmt.Sprintf("the fault landed in a save the rules did not fire (forked %s with no \"changes in seconds\" line: a BGSAVE from another client?)", s.start.Format("15:04:05.000"))
		}
		inWindow := s.ok && s.start.After(cycleEnded.Add(-slack)) && !s.end.IsZero() && !s.end.After(tFault) && s.trigger != "shutdown"
		switch {
		case !inWindow:
		case s.trigger == "":
			return false, fmt.Sprintf("a save the rules did not fire (no \"changes in seconds\" line before it: a BGSAVE from another client?) completed (%s to %s) between the cycle's save and the fault: the fault fell back to a snapshot the rules did not make",
				s.start.Format("15:04:05.000"), s.end.Format("15:04:05.000"))
		case !prevEnd.IsZero() && s.start.Before(prevEnd.Add(shortest-slack)):
			return false, fmt.Sprintf("a save forked at %s, %.2fs after the previous save ended (%s), sooner than the shortest rule (%v) allows: another client started it, and the fault fell back to a snapshot the rules did not make",
				s.start.Format("15:04:05.000"), s.start.Sub(prevEnd).Seconds(), prevEnd.Format("15:04:05.000"), shortest)
		}
		if s.ok && !s.end.IsZero() {
			prevEnd = s.end
			if !s.end.After(tFault) {
				lastGood = s.end
			}
		}
	}
	// A log that lost a save's lines cannot say who started it: the INFO
	// watcher's completed saves must each be one the log has (its fork in
	// the watcher's bracket). A save seen running before the fault and
	// then seen ended OK completed on the old server, even when the poll
	// that saw it ended came just after the fault's instant.
	for _, w := range ev.load.saves {
		if !w.OK || w.EndedBy.IsZero() || !w.Started.After(cycleEnded) || !w.Started.Before(tFault) {
			continue
		}
		after, by := w.StartedAfter, w.StartedBy
		if after.IsZero() || by.IsZero() {
			after, by = w.Started, w.Started
		}
		logged := slices.ContainsFunc(saves, func(s saveSpan) bool {
			return s.start.After(after.Add(-slack)) && s.start.Before(by.Add(slack))
		})
		if !logged {
			return false, fmt.Sprintf("a save the INFO watcher saw (%s to %s) between the cycle's save and the fault has no lines in the server log: whether the rules fired it cannot be told (a log delivered in part)",
				w.Started.Format("15:04:05.000"), w.EndedBy.Format("15:04:05.000"))
		}
	}
	// The data itself: a snapshot forked after the last good save the log
	// knows of came from a save whose lines were lost (its end was never
	// polled when the fault came right after it).
	if !lastGood.IsZero() {
		if held, detail := survivorsInCycle(t, lastGood, tFault); !held {
			return false, "the server log has no lines for the save the replacement loaded: " + detail
		}
	}
	return true, "fault_after/fault_during: every save between the cycle's save and the fault was fired by the rules (server log, the INFO watcher's saves and the survivors agree)"
}

// slack is what the saves' instants are compared with: the log's ms
// truncation and the harness's clock against the server's (the cycle's end
// may come from the INFO watcher).
const slack = 100 * time.Millisecond

// unloggedSavesFiredByRules is savesFiredByRules without the server log's
// saves: no trigger line can be seen, but the rules' pace can. A save the
// INFO watcher saw fork sooner than the shortest rule allows after the
// previous one ended, or a snapshot whose fork the survivors place that
// soon after the last save the watcher knows, was not the rules'.
func (ev *evidence) unloggedSavesFiredByRules(t *result.Trial, shortest time.Duration) (bool, string) {
	tFault := ev.fault.tFault
	// The earliest each save can have ended, the latest it can have forked.
	endedAfter := func(w probe.SaveEvent) time.Time {
		if !w.EndedAfter.IsZero() {
			return w.EndedAfter
		}
		return w.Ended
	}
	forkedBy := func(w probe.SaveEvent) time.Time {
		if !w.StartedBy.IsZero() {
			return w.StartedBy
		}
		return w.Started
	}
	prev := ev.placement.cycle
	for _, w := range ev.load.saves {
		if !w.OK || w.Ended.IsZero() || !w.Started.After(prev.Ended) || !w.Started.Before(tFault) {
			continue
		}
		if end := endedAfter(prev); forkedBy(w).Before(end.Add(shortest - slack)) {
			return false, fmt.Sprintf("a save the INFO watcher saw forked by %s, %.2fs after the previous save ended, sooner than the shortest rule (%v) allows: another client started it (the server log holds no saves to say)",
				forkedBy(w).Format("15:04:05.000"), forkedBy(w).Sub(end).Seconds(), shortest)
		}
		prev = w
	}
	if low, high, ok := snapshotFork(t, tFault); ok {
		end := endedAfter(prev)
		if low.After(end.Add(slack)) && high.Before(end.Add(shortest-slack)) {
			return false, fmt.Sprintf("the replacement loaded a snapshot forked in [%s, %s] (writes sent then survived), after the last save the INFO watcher knows (ended %s) and sooner than the shortest rule (%v) allows: another client started it (the server log holds no saves to say)",
				low.Format("15:04:05.000"), high.Format("15:04:05.000"), end.Format("15:04:05.000"), shortest)
		}
	}
	return true, "fault_after/fault_during: trigger lines not checked (the server log holds no saves); the saves' pace checked from the INFO watcher and the survivors"
}

// snapshotFork is where the survivors place the loaded snapshot's fork
// after a crash under RDB alone: after low (the window's high end before
// the fault) and before high (its low end); ok is false when they cannot
// (nothing lost, a one-sided bracket, a graceful fault, another strategy).
func snapshotFork(t *result.Trial, tFault time.Time) (low, high time.Time, ok bool) {
	w := t.LossWindowS
	if w == nil || w.OneSided || t.Lost == 0 || target.FaultKind(t.Fault).Graceful() || (t.Persistence != "" && t.Persistence != "rdb") {
		return time.Time{}, time.Time{}, false
	}
	return tFault.Add(-time.Duration(w.High * float64(time.Second))), tFault.Add(-time.Duration(w.Low * float64(time.Second))), true
}

// survivorsInCycle is the third witness, the data itself: after a crash
// under RDB alone the replacement loads the last completed snapshot, whose
// fork F is after every survivor was sent (tFault - F <= the window's high
// end). F later than the planned cycle's save means a save that neither
// the log nor the INFO watcher saw (its lines lost, and it ran between the
// watcher's last poll and the fault) completed in the cycle.
func survivorsInCycle(t *result.Trial, cycleEnded, tFault time.Time) (bool, string) {
	forkAfter, _, ok := snapshotFork(t, tFault)
	if !ok {
		return true, ""
	}
	// 100 ms for the server's clock against the harness's (the cycle's end
	// may come from the log) and the log's ms truncation.
	if !forkAfter.After(cycleEnded.Add(100 * time.Millisecond)) {
		return true, ""
	}
	return false, fmt.Sprintf("another save completed between the planned cycle's save (ended %s) and the fault: the replacement loaded a snapshot forked after %s (writes sent then survived), so the fault did not land in the planned cycle (other writers on the server, or its clock against lastsave)",
		cycleEnded.Format("15:04:05.000"), forkAfter.Format("15:04:05.000"))
}

// ruleFired: the save rule that fired during the load (the server log's
// trigger, or the model at the server's own change rate) is the one the
// trial was planned for.
func (ev *evidence) ruleFired(t *result.Trial) (bool, string) {
	pl := ev.placement
	planned := pl.pred.Rule.String()
	from, to := ev.load.start, ev.fault.tFault
	for _, s := range ev.log.summary.saves {
		if s.trigger == "" || s.trigger == "shutdown" || s.start.Before(from) || s.start.After(to) {
			continue
		}
		if !slices.Contains(t.FiredRules, s.trigger) {
			t.FiredRules = append(t.FiredRules, s.trigger)
		}
	}
	for _, r := range t.FiredRules {
		if r != planned {
			return false, fmt.Sprintf("rule %q fired during the load (server log), not the %q the trial was planned for: the trial measured another rule than it reports", r, planned)
		}
	}
	if len(t.FiredRules) > 0 {
		return true, ""
	}
	if rate, ok := pl.serverRate(); ok && rate > 0 {
		bgsave := pl.cycle.Ended.Sub(pl.cycle.Started)
		if got := savepolicy.Predict(ev.server.rules, rate, bgsave).Rule.String(); got != planned {
			return false, fmt.Sprintf("at the server's own change rate (%s) rule %q fires, not the planned %q", savepolicy.FormatRate(rate), got, planned)
		}
	}
	return true, ""
}

// ownWrites holds the server's changes between the two samples against
// every change the harness may have made in that time (its writes in flight
// or caught up included, so a busy machine is not taken for another writer):
// more changes than that mean another writer shares the server.
func (ev *evidence) ownWrites(env *trialEnv, t *result.Trial) (bool, string) {
	pl := ev.placement
	rate, ok := pl.serverRate()
	if !ok {
		return true, ""
	}
	t.ServerChangesPerS = rate
	first, second := pl.changes[0], pl.changes[1]
	// The server counted within [first.asked, second.at].
	a, b := first.asked.Sub(env.base), second.at.Sub(env.base)
	ours := float64(ev.load.history.MayHaveApplied(a, b))
	// The reader's fills are changes too.
	for _, at := range ev.reads.fills {
		if at >= a && at < b {
			ours++
		}
	}
	// So are the overwrites of the preloaded keys, from the cycle's end.
	if o := env.plan.Scenario.Overwrite; o != nil {
		ours += o.ratePerS / env.plan.TimeScale * (b - a).Seconds()
	}
	if server := float64(second.changes - first.changes); server > 1.1*ours+2 {
		span := second.at.Sub(first.at).Seconds()
		return false, fmt.Sprintf("the server counted %.0f changes (%s) while the harness made at most %.0f (%s): another writer shares the server, so the trial's rule, rate and window are not its own",
			server, savepolicy.FormatRate(server/span), ours, savepolicy.FormatRate(ours/span))
	}
	return true, ""
}
