package scenarios

import (
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/target"
)

// A replacement that exits while starting for a cause the harness has no
// special words for still gets its cause into the verdict: the last
// warnings of its own log (lines as valkey-server 8.0.1 prints them when
// its port is taken), not another task's.
func TestUnrecoveredReasonQuotesTheReplacementsLastWarnings(t *testing.T) {
	const id = "516d066666a0352b61195631174ef849"
	lines := []target.LogLine{
		{Instance: "1fb8ca40dcbd7219edfb9ecea58ffffb", Text: "7:M 02 Dec 2026 21:53:01.000 # Warning: another task's line"},
		{Instance: id, Text: "8189:M 03 Dec 2026 00:22:49.052 * Running mode=standalone, port=6379."},
		{Instance: id, Text: "8189:M 03 Dec 2026 00:22:49.052 # Warning: Could not create server TCP listening socket 127.0.0.5:6379: bind: Address already in use"},
		{Instance: id, Text: "8189:M 03 Dec 2026 00:22:49.052 # Failed listening on port 6379 (tcp), aborting."},
	}
	for _, tc := range []struct {
		name, detail string
		want, not    []string
	}{
		{"the named task's warnings", "task " + id + " EssentialContainerExited: Essential container in task exited (container exit code 1)",
			[]string{"Address already in use", "aborting", "crash-loop"}, []string{"another task's line"}},
		{"no task named: nothing quoted", "exit status 1", []string{"crash-loop"}, []string{"Address already in use", "last warnings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unrecoveredReason(lines, tc.detail)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("reason %q lacks %q", got, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("reason %q has %q", got, n)
				}
			}
		})
	}
}
