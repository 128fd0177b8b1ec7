package scenarios

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/progress"
)

// Long waits show up in a CI log (started, with the expected length, and
// how they ended); short ones add nothing.
func TestLongWaitsAreReportedShortOnesAreNot(t *testing.T) {
	defer func(q time.Duration) { quietWait = q }(quietWait)
	quietWait = 100 * time.Millisecond
	var out bytes.Buffer
	tr := &trialEnv{out: progress.New(&out)}

	done := tr.waiting(context.Background(), "waiting for a save fired by the rules", 10*time.Second)
	time.Sleep(600 * time.Millisecond)
	done("a save ended")
	got := out.String()
	for _, want := range []string{"waiting for a save fired by the rules: started", "done in", "a save ended"} {
		if !strings.Contains(got, want) {
			t.Errorf("long wait output lacks %q:\n%s", want, got)
		}
	}

	out.Reset()
	done = tr.waiting(context.Background(), "waiting for the fault's moment", time.Second)
	done("fault now")
	if out.Len() != 0 {
		t.Errorf("a wait shorter than %v printed %q", quietWait, out.String())
	}
}
