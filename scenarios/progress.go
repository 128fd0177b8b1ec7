package scenarios

import (
	"context"
	"io"
	"time"

	"github.com/trigpointing/valkey-chaos/progress"
)

func progressPrinter(w io.Writer) *progress.Printer { return progress.New(w) }

// quietWait is how long a wait goes unreported: short waits would only add
// noise to the log.
var quietWait = 3 * time.Second

// waiting shows a timed wait (the snapshot cycle, the fault's moment, the
// replacement's load) as a progress phase once it has lasted quietWait: at
// scale 1 these take minutes, and a scheduled run's log must show it is
// alive and how long is left. limit is the expected length (0: unknown).
// The returned func ends the wait with a summary such as "save ended".
func (env *trialEnv) waiting(ctx context.Context, name string, limit time.Duration) (done func(summary string)) {
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	var ph *progress.Phase
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				elapsed := time.Since(start)
				if ph == nil && elapsed >= quietWait {
					ph = env.out.Phase(name, limit.Seconds(), "s")
				}
				if ph != nil {
					ph.Set(elapsed.Seconds())
				}
			}
		}
	}()
	return func(summary string) {
		cancel()
		<-finished
		if ph != nil {
			ph.Done(summary)
		}
	}
}
