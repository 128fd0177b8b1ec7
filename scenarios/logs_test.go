package scenarios

import (
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/target"
)

// The snapshot candidates handed to check are the forks of saves that
// completed: a save the fault killed wrote no dump.rdb and must not pin the
// snapshot instant; one whose child finished just before a kill did.
func TestCompletedForksAreTheSavesThatReachedDumpRDB(t *testing.T) {
	at := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	tests := []struct {
		name  string
		lines []string
		want  []time.Duration // from 12:00:00.000 local time
		final time.Duration
	}{
		{"completed BGSAVE", []string{
			"100:M 26 Nov 2026 12:00:00.100 * Background saving started by pid 200",
			"200:C 26 Nov 2026 12:00:00.150 * DB saved on disk",
			"100:M 26 Nov 2026 12:00:00.200 * Background saving terminated with success",
		}, []time.Duration{at(100)}, 0},
		{"killed mid-save", []string{
			"100:M 26 Nov 2026 12:00:00.100 * Background saving started by pid 200",
			"100:M 26 Nov 2026 12:00:00.200 * Background saving terminated with success",
			"100:M 26 Nov 2026 12:00:01.100 * Background saving started by pid 201",
		}, []time.Duration{at(100)}, 0},
		{"child done, parent killed before it noticed", []string{
			"100:M 26 Nov 2026 12:00:01.100 * Background saving started by pid 201",
			"201:C 26 Nov 2026 12:00:01.130 * DB saved on disk",
		}, []time.Duration{at(1100)}, 0},
		{"final save on SIGTERM", []string{
			"100:M 26 Nov 2026 12:00:02.000 * Saving the final RDB snapshot before exiting.",
			"100:M 26 Nov 2026 12:00:02.700 * DB saved on disk",
		}, []time.Duration{at(2000)}, at(700)},
	}
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.Local)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var lines []target.LogLine
			for _, l := range tc.lines {
				lines = append(lines, target.LogLine{Text: l})
			}
			v := summarizeLog(parseLog(lines), time.Time{})
			got := v.completedForks(base)
			if len(got) != len(tc.want) {
				t.Fatalf("completed forks %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("fork %d at %v, want %v", i, got[i], tc.want[i])
				}
			}
			if v.finalSave != tc.final {
				t.Errorf("final save %v, want %v", v.finalSave, tc.final)
			}
		})
	}
}

// Defect (review, item 12): save lines were matched by PID alone, but two
// tasks (the old one and its replacement) often share PIDs: each
// container's server is PID 1 and its save child the same small number.
// With the tasks overlapping, the old task's child finishing its save
// closed the replacement's save, and the old save was never seen to
// complete. Lines belong to the saves of their own instance.
func TestSaveLinesOfTwoTasksWithTheSamePIDAreKeptApart(t *testing.T) {
	at := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	lines := []target.LogLine{
		{Instance: "task-old", Text: "1:M 26 Nov 2026 12:00:01.900 * 100 changes in 1 seconds. Saving..."},
		{Instance: "task-old", Text: "1:M 26 Nov 2026 12:00:02.000 * Background saving started by pid 20"},
		{Instance: "task-new", Text: "1:M 26 Nov 2026 12:00:02.500 * Background saving started by pid 20"},
		{Instance: "task-old", Text: "20:C 26 Nov 2026 12:00:02.600 * DB saved on disk"},
		{Instance: "task-old", Text: "1:M 26 Nov 2026 12:00:02.700 * Background saving terminated with success"},
		{Instance: "task-new", Text: "20:C 26 Nov 2026 12:00:03.000 * DB saved on disk"},
		{Instance: "task-new", Text: "1:M 26 Nov 2026 12:00:03.100 * Background saving terminated with success"},
	}
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.Local)
	v := summarizeLog(parseLog(lines), time.Time{})
	if len(v.saves) != 2 {
		t.Fatalf("saves %+v, want two", v.saves)
	}
	want := []struct {
		start, end time.Duration
		trigger    string
	}{{at(2000), at(2700), "1 100"}, {at(2500), at(3100), ""}}
	for i, w := range want {
		s := v.saves[i]
		if !s.ok || s.start.Sub(base) != w.start || s.end.Sub(base) != w.end || s.trigger != w.trigger {
			t.Errorf("save %d: %+v (start %v end %v), want ok from %v to %v, trigger %q", i, s, s.start.Sub(base), s.end.Sub(base), w.start, w.end, w.trigger)
		}
	}
}

// A save child killed by a signal ends its save there (failed, unless it
// had renamed its file first); a rule whose fork failed leaves no trigger
// for the next save, which may be another client's BGSAVE.
func TestKilledSavesEndAndFailedForksLeaveNoTrigger(t *testing.T) {
	type want struct {
		endMs   int // from 12:00:00.000; -1: no end
		ok      bool
		trigger string
	}
	for _, tc := range []struct {
		name  string
		lines []string
		want  []want
	}{
		{"child killed by the OOM killer", []string{
			"1:M 26 Nov 2026 12:00:04.500 * 1000 changes in 2 seconds. Saving...",
			"1:M 26 Nov 2026 12:00:04.501 * Background saving started by pid 77",
			"1:M 26 Nov 2026 12:00:04.700 # Background saving terminated by signal 9",
		}, []want{{4700, false, "2 1000"}}},
		{"child killed after its rename", []string{
			"1:M 26 Nov 2026 12:00:04.501 * Background saving started by pid 77",
			"77:C 26 Nov 2026 12:00:04.650 * DB saved on disk",
			"1:M 26 Nov 2026 12:00:04.700 # Background saving terminated by signal 9",
		}, []want{{4650, true, ""}}},
		{"fork failed, then a client's BGSAVE", []string{
			"1:M 26 Nov 2026 12:00:12.500 * 1000 changes in 2 seconds. Saving...",
			"1:M 26 Nov 2026 12:00:12.500 # Can't save in background: fork: Cannot allocate memory",
			"1:M 26 Nov 2026 12:00:13.000 * Background saving started by pid 71",
			"71:C 26 Nov 2026 12:00:13.300 * DB saved on disk",
			"1:M 26 Nov 2026 12:00:13.301 * Background saving terminated with success",
		}, []want{{13301, true, ""}}},
		{"a start line lost: the next save, 1.5 s on, is not the rule's", []string{
			"1:M 26 Nov 2026 12:00:10.000 * 1000 changes in 2 seconds. Saving...",
			"71:C 26 Nov 2026 12:00:10.090 * DB saved on disk",
			"1:M 26 Nov 2026 12:00:11.500 * Background saving started by pid 72",
			"72:C 26 Nov 2026 12:00:11.600 * DB saved on disk",
			"1:M 26 Nov 2026 12:00:11.601 * Background saving terminated with success",
		}, []want{{11601, true, ""}}},
		{"still running", []string{
			"1:M 26 Nov 2026 12:00:04.501 * Background saving started by pid 77",
		}, []want{{-1, false, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lines []target.LogLine
			for _, l := range tc.lines {
				lines = append(lines, target.LogLine{Text: l})
			}
			v := summarizeLog(parseLog(lines), time.Time{})
			if len(v.saves) != len(tc.want) {
				t.Fatalf("saves %+v, want %d", v.saves, len(tc.want))
			}
			base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.Local)
			for i, w := range tc.want {
				s := v.saves[i]
				gotEnd := -1
				if !s.end.IsZero() {
					gotEnd = int(s.end.Sub(base) / time.Millisecond)
				}
				if gotEnd != w.endMs || s.ok != w.ok || s.trigger != w.trigger {
					t.Errorf("save %d: end %d ms ok %v trigger %q, want end %d ms ok %v trigger %q", i, gotEnd, s.ok, s.trigger, w.endMs, w.ok, w.trigger)
				}
			}
		})
	}
}
