package scenarios

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// A fault placed by fault_after or fault_during may follow the rules' own
// later saves, never a save they did not fire: the server log's trigger
// line and the shortest rule's interval are the witnesses.
func TestSavesFiredByRules(t *testing.T) {
	base := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	save := func(from, to float64, ok bool, trigger string) saveSpan {
		return saveSpan{start: at(from), end: at(to), ok: ok, trigger: trigger}
	}
	rules, err := savepolicy.Parse("5 1 2 1000")
	if err != nil {
		t.Fatal(err)
	}
	cycle := save(10, 10.4, true, "2 1000")
	watched := func(from, to float64) probe.SaveEvent {
		return probe.SaveEvent{Started: at(from + 0.005), StartedAfter: at(from - 0.005), StartedBy: at(from + 0.005), Ended: at(to + 0.005), EndedBy: at(to + 0.005), OK: true}
	}
	for _, c := range []struct {
		name    string
		saves   []saveSpan
		watched []probe.SaveEvent
		fault   float64
		held    bool
		says    string
		trial   result.Trial // the classified trial, for the survivors' witness
	}{
		{"rule-fired saves after the cycle", []saveSpan{cycle, save(12.5, 12.9, true, "2 1000"), save(15.1, 15.5, true, "2 1000")}, nil, 16, true, "fired by the rules", result.Trial{}},
		{"a save with no trigger line", []saveSpan{cycle, save(13, 13.3, true, "")}, nil, 16, false, "did not fire", result.Trial{}},
		{"a save sooner than the shortest rule", []saveSpan{cycle, save(11.2, 11.6, true, "2 1000")}, nil, 16, false, "sooner than the shortest rule", result.Trial{}},
		{"a failed save does not move lastsave", []saveSpan{cycle, save(12.5, 12.6, false, "2 1000"), save(13.1, 13.4, true, "2 1000")}, nil, 16, true, "fired by the rules", result.Trial{}},
		{"a save still running at the fault", []saveSpan{cycle, save(15.5, 16.5, true, "")}, nil, 16, true, "fired by the rules", result.Trial{}},
		{"a foreign save before the cycle", []saveSpan{save(3, 3.2, true, ""), cycle}, nil, 16, true, "fired by the rules", result.Trial{}},
		{"the final save of a stop", []saveSpan{cycle, save(16, 16.2, true, "shutdown")}, nil, 16.3, true, "fired by the rules", result.Trial{}},
		{"no saves in the log", nil, nil, 16, true, "not checked", result.Trial{}},
		{"the watcher's save is in the log", []saveSpan{cycle, save(12.5, 12.9, true, "2 1000")}, []probe.SaveEvent{watched(12.5, 12.9)}, 16, true, "fired by the rules", result.Trial{}},
		{"the log lost the lines of a save the watcher saw", []saveSpan{cycle}, []probe.SaveEvent{watched(13, 13.3)}, 16, false, "no lines in the server log", result.Trial{}},
		// Writes sent 15 s in survived: the snapshot forked after the last
		// save the log and the watcher know of (its end was never polled).
		{"the survivors show a save neither witness has", []saveSpan{cycle}, nil, 16, false, "no lines for the save the replacement loaded",
			result.Trial{Fault: "crash", Lost: 5, LossWindowS: &result.Window{Low: 0.5, High: 1, Estimate: 0.75}}},
		{"the survivors agree with the log", []saveSpan{cycle, save(12.5, 12.9, true, "2 1000")}, nil, 16, true, "survivors agree",
			result.Trial{Fault: "crash", Lost: 5, LossWindowS: &result.Window{Low: 3.3, High: 3.6, Estimate: 3.45}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := &evidence{}
			ev.server.rules = rules
			ev.log.summary.saves = c.saves
			ev.load.saves = c.watched
			ev.placement.cycle.Ended = cycle.end
			ev.fault.tFault = at(c.fault)
			held, detail := ev.savesFiredByRules(&c.trial)
			if held != c.held || !strings.Contains(detail, c.says) {
				t.Errorf("held %v (%s), want %v saying %q", held, detail, c.held, c.says)
			}
		})
	}
}

// The same against a real server: a crash placed by fault_after, with a
// BGSAVE from another client completing just before it, is invalid (it
// passed before: fault_in_cycle was only checked for fault_at placements);
// the same when the server log lost that save's lines.
func TestFaultAfterAForeignSaveIsInvalid(t *testing.T) {
	for _, c := range []struct {
		name, says string
		wrap       func(Target) Target
	}{
		{"the log saw the save", "the rules did not", func(tg Target) Target { return &breakingTarget{Target: tg} }},
		{"the log lost its lines", "no lines", // the watcher saw its end, or only the survivors tell
			func(tg Target) Target { return unloggedBreak{&breakingTarget{Target: tg}} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustScenario(t, `
name: foreign-save-after
faults: [crash]
load: {rate: 3000/s, conns: 8}
dataset: {keys: 20000}
fault_after: 1500ms
after_recover: 300ms
`)
			run, err := runTrialsWith(t, context.Background(), runSetup{save: "2 1000", keys: -1}, trialOpts{wrap: c.wrap}, s)
			if err != nil {
				t.Fatal(err)
			}
			tr := run.Trials[0]
			if tr.Verdict != result.Invalid || !strings.Contains(reasons(tr), c.says) {
				t.Fatalf("verdict %s (%s), want invalid saying %q: a BGSAVE the rules did not fire completed before the fault", tr.Verdict, reasons(tr), c.says)
			}
		})
	}
}
