package scenarios

import (
	"sort"
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

func parseLog(lines []target.LogLine) []probe.LogEvent {
	var events []probe.LogEvent
	for _, l := range lines {
		if ev, ok := probe.ParseLogLine(l.Text, time.Local); ok {
			events = append(events, ev)
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	return events
}

func summarizeLog(events []probe.LogEvent, replacementStarted time.Time) logSummary {
	var v logSummary
	var trigger string
	open := map[int]int{}  // main pid -> index of its open save in v.saves
	child := map[int]int{} // save child pid -> index of its save in v.saves
	var finalStart time.Time
	var finalPID int
	for _, ev := range events {
		switch ev.Kind {
		case probe.SaveTriggered:
			trigger = ev.Trigger
		case probe.BGSaveStarted:
			v.saves = append(v.saves, saveSpan{start: ev.Time, trigger: trigger})
			open[ev.PID] = len(v.saves) - 1
			child[ev.ChildPID] = len(v.saves) - 1
			trigger = ""
		case probe.BGSaveOK, probe.BGSaveError:
			if i, ok := open[ev.PID]; ok {
				v.saves[i].end, v.saves[i].ok = ev.Time, ev.Kind == probe.BGSaveOK
				delete(open, ev.PID)
			}
		case probe.FinalSaveStarted:
			finalStart, finalPID = ev.Time, ev.PID
			v.saves = append(v.saves, saveSpan{start: ev.Time, trigger: "shutdown"})
			open[ev.PID] = len(v.saves) - 1
		case probe.DBSaved:
			// The child logs it after renaming its file into dump.rdb: the
			// save completed even if the server was killed before it noticed.
			if i, ok := child[ev.PID]; ok {
				v.saves[i].ok = true
				if v.saves[i].end.IsZero() {
					v.saves[i].end = ev.Time
				}
				delete(child, ev.PID)
				continue
			}
			if ev.PID == finalPID && !finalStart.IsZero() {
				v.finalSave = ev.Time.Sub(finalStart)
				if i, ok := open[ev.PID]; ok {
					v.saves[i].end, v.saves[i].ok = ev.Time, true
					delete(open, ev.PID)
				}
				finalStart = time.Time{}
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
