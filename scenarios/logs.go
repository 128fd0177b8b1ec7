package scenarios

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target"
)

type saveSpan struct {
	start, end time.Time
	ok         bool
	trigger    string
}

// logSummary is what the runner takes from the server's own log: the
// millisecond instants the client side can only bracket.
type logSummary struct {
	saves       []saveSpan // background and final saves, from their start lines
	loadSeconds float64    // "DB loaded from disk: X seconds" of the replacement
	hasLoad     bool
	loadedAt    time.Time
	finalSave   time.Duration // "Saving the final RDB snapshot" -> "DB saved on disk"
	keysLoaded  int64         // "Done loading RDB, keys loaded: N" of the replacement; -1: not seen
	keptServing bool          // "Error trying to save the DB, can't exit": the final save failed, the server went on
}

// serverLog is what the observe phase read: the server's own log, and what
// the replacement says it loaded.
type serverLog struct {
	lines      []target.LogLine
	summary    logSummary
	keysLoaded int64 // log line, else INFO rdb_last_load_keys_loaded; -1: unknown
	err        error
	// writers says, where the target can tell from the servers' own
	// lines, whether the replacement server ran while the old one had not
	// yet exited (its tasks may overlap while the servers did not: a
	// single-writer lock holds the new one back).
	writers *target.WriterOverlap
}

// WriterOverlapper is a target that can tell from the servers' own log
// whether two of them wrote to the data at once (target/ecs).
type WriterOverlapper interface {
	WriterOverlap(ctx context.Context) (target.WriterOverlap, error)
}

// observe fetches the trial's server log once (on ECS a CloudWatch Logs
// read), bounded in time even when the run is being cancelled, and asks
// the replacement how many keys it loaded.
func observe(ctx context.Context, env *trialEnv, rcv recovered) serverLog {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	lines, err := env.cfg.Target.ServerLog(ctx)
	if err != nil {
		// Lines that did arrive are kept (ECS: the awslogs driver batches,
		// and non-blocking mode may drop lines); the miss is recorded.
		env.logf("server log incomplete: %v", err)
	}
	sl := serverLog{lines: lines, err: err, summary: summarizeLog(parseLog(lines), rcv.rec.Instance.StartedAt)}
	if wo, ok := env.cfg.Target.(WriterOverlapper); ok && rcv.exited == "" {
		if o, err := wo.WriterOverlap(ctx); err == nil {
			sl.writers = &o
			env.logf("servers on the data: %s", o.Detail)
		} else {
			env.logf("whether two servers wrote at once is unknown: %v", err)
		}
	}
	sl.keysLoaded = sl.summary.keysLoaded
	if sl.keysLoaded < 0 && rcv.exited == "" && !rcv.ready.Ready.IsZero() {
		if info, err := env.probe().Persistence(ctx, env.currentAddr()); err == nil {
			if n, err := strconv.ParseInt(info["rdb_last_load_keys_loaded"], 10, 64); err == nil {
				sl.keysLoaded = n
			}
		}
	}
	return sl
}

// completedForks are the start instants of the saves that completed: what
// restored data can reflect. A save killed mid-way (the fault landed during
// it) wrote no dump.rdb, so its fork is no candidate for the snapshot.
func (v logSummary) completedForks(base time.Time) []time.Duration {
	var out []time.Duration
	for _, s := range v.saves {
		if s.ok {
			out = append(out, s.start.Sub(base))
		}
	}
	return out
}

// logEvent is one parsed line with the instance (process or task) that
// wrote it: PIDs repeat across tasks (a container's server is often PID 1,
// its save child the same small number), so a line belongs to the save of
// its own instance only.
type logEvent struct {
	probe.LogEvent
	instance string
}

// proc names one process of one instance.
type proc struct {
	instance string
	pid      int
}

func parseLog(lines []target.LogLine) []logEvent {
	var events []logEvent
	for _, l := range lines {
		if ev, ok := probe.ParseLogLine(l.Text, l.Zone); ok {
			events = append(events, logEvent{LogEvent: ev, instance: l.Instance})
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	return events
}

// triggerToFork bounds the time from a rule's "changes in seconds" line to
// its "Background saving started": the fork, a few ms (70 ms for the 2 GB
// big-dataset on this machine kind), and the ms truncation.
const triggerToFork = 500 * time.Millisecond

func summarizeLog(events []logEvent, replacementStarted time.Time) logSummary {
	v := logSummary{keysLoaded: -1}
	trigger := map[string]probe.LogEvent{} // instance -> the rule line its next save starts for
	open := map[proc]int{}                 // main process -> index of its open save in v.saves
	child := map[proc]int{}                // save child -> index of its save in v.saves
	var finalStart time.Time
	var final proc
	for _, ev := range events {
		me := proc{ev.instance, ev.PID}
		switch ev.Kind {
		case probe.SaveTriggered:
			trigger[ev.instance] = ev.LogEvent
		case probe.BGSaveStarted:
			// Valkey logs the rule and forks in one cron tick: a start long
			// after the rule line (a lost start line, a fork that failed
			// silently) is another save's, maybe another client's BGSAVE.
			rule := ""
			if tr, ok := trigger[ev.instance]; ok && !ev.Time.After(tr.Time.Add(triggerToFork)) {
				rule = tr.Trigger
			}
			v.saves = append(v.saves, saveSpan{start: ev.Time, trigger: rule})
			open[me] = len(v.saves) - 1
			child[proc{ev.instance, ev.ChildPID}] = len(v.saves) - 1
			delete(trigger, ev.instance)
		case probe.BGSaveOK, probe.BGSaveError:
			if i, ok := open[me]; ok {
				v.saves[i].end, v.saves[i].ok = ev.Time, ev.Kind == probe.BGSaveOK
				delete(open, me)
			}
		case probe.BGSaveKilled:
			// The child died by a signal (the OOM killer): the save ended
			// there, failed unless the child had renamed its file already
			// (DBSaved). Without an end it read as still running.
			if i, ok := open[me]; ok {
				if v.saves[i].end.IsZero() {
					v.saves[i].end = ev.Time
				}
				delete(open, me)
			}
		case probe.ForkFailed:
			// The rule fired but no save started: its trigger is not the
			// next save's, which may be another client's BGSAVE.
			delete(trigger, ev.instance)
		case probe.FinalSaveStarted:
			finalStart, final = ev.Time, me
			v.saves = append(v.saves, saveSpan{start: ev.Time, trigger: "shutdown"})
			open[me] = len(v.saves) - 1
		case probe.DBSaved:
			// The child logs it after renaming its file into dump.rdb: the
			// save completed even if the server was killed before it noticed.
			if i, ok := child[me]; ok {
				v.saves[i].ok = true
				if v.saves[i].end.IsZero() {
					v.saves[i].end = ev.Time
				}
				delete(child, me)
				continue
			}
			if me == final && !finalStart.IsZero() {
				v.finalSave = ev.Time.Sub(finalStart)
				if i, ok := open[me]; ok {
					v.saves[i].end, v.saves[i].ok = ev.Time, true
					delete(open, me)
				}
				finalStart = time.Time{}
			}
		case probe.SaveErrorCantExit:
			v.keptServing = true
		case probe.DoneLoading:
			if replacementStarted.IsZero() || !ev.Time.Add(time.Millisecond).Before(replacementStarted) {
				v.keysLoaded = ev.Keys
			}
		case probe.DBLoaded:
			// The replacement's load; an earlier process may have loaded too.
			if !replacementStarted.IsZero() && ev.Time.Add(time.Millisecond).Before(replacementStarted) {
				continue
			}
			v.loadSeconds, v.hasLoad, v.loadedAt = ev.Seconds, true, ev.Time
		}
	}
	return v
}
