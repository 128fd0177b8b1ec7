package scenarios

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
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
		{"fault_during lands in a save the rules did not fire", []saveSpan{cycle, {start: at(15.5), trigger: ""}}, nil, 16, false, "the fault landed in a save the rules did not fire", result.Trial{}},
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
			ev.placement.during = strings.HasPrefix(c.name, "fault_during")
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
		// Found by a second adversarial review: with no save lines at all
		// every check was skipped; a lost start line let the foreign save
		// inherit the cycle's rule line.
		{"the log has no save lines", "sooner than the shortest rule", func(tg Target) Target { return noSaveLines{&breakingTarget{Target: tg}} }},
		{"no server log", "sooner than the shortest rule", func(tg Target) Target { return noServerLog{&breakingTarget{Target: tg}} }},
		{"the cycle's start line lost", "the rules did not", func(tg Target) Target { return lostCycleStart{&breakingTarget{Target: tg}} }},
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

// noSaveLines is a breakingTarget whose server log lost every save line.
type noSaveLines struct{ *breakingTarget }

func (u noSaveLines) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	lines, err := u.Target.ServerLog(ctx)
	var kept []target.LogLine
	for _, l := range lines {
		ev, ok := probe.ParseLogLine(l.Text, l.Zone)
		if ok && (ev.Kind == probe.BGSaveStarted || ev.Kind == probe.DBSaved || ev.Kind == probe.BGSaveOK || ev.Kind == probe.SaveTriggered) {
			continue
		}
		kept = append(kept, l)
	}
	return kept, err
}

// noServerLog is a breakingTarget whose server log was not delivered.
type noServerLog struct{ *breakingTarget }

func (noServerLog) ServerLog(context.Context) ([]target.LogLine, error) {
	return nil, errors.New("test target: the log was not delivered")
}

// lostCycleStart is a breakingTarget whose log lost the "Background saving
// started" line of the last save before the extra one (the cycle's), and
// kept its rule line.
type lostCycleStart struct{ *breakingTarget }

func (u lostCycleStart) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	lines, err := u.Target.ServerLog(ctx)
	drop := -1
	for i, l := range lines {
		if ev, ok := probe.ParseLogLine(l.Text, l.Zone); ok && ev.Kind == probe.BGSaveStarted && ev.Time.Before(u.from.Add(-5*time.Millisecond)) {
			drop = i
		}
	}
	if drop < 0 {
		return nil, errors.New("test target: no start line before the extra save")
	}
	return append(lines[:drop:drop], lines[drop+1:]...), err
}
