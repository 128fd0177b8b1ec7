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
