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
	saveStarts  []time.Time // "Background saving started" (just after the fork)
	saves       []saveSpan
	loadSeconds float64 // "DB loaded from disk: X seconds" of the replacement
	hasLoad     bool
	loadedAt    time.Time
	finalSave   time.Duration // "Saving the final RDB snapshot" -> "DB saved on disk"
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
	open := map[int]int{} // main pid -> index of its open save in v.saves
	var finalStart time.Time
	var finalPID int
	for _, ev := range events {
		switch ev.Kind {
		case probe.SaveTriggered:
			trigger = ev.Trigger
		case probe.BGSaveStarted:
			v.saveStarts = append(v.saveStarts, ev.Time)
			v.saves = append(v.saves, saveSpan{start: ev.Time, trigger: trigger})
			open[ev.PID] = len(v.saves) - 1
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
