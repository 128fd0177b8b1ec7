// Command valkey-chaos kills Valkey the way production does and measures
// what was lost, how far back in time the cache went, and how long it took
// to serve again. It holds no logic: flags -> packages -> output.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Exit codes, documented in the README: schedulers act on them.
const (
	exitOK           = 0
	exitHarnessError = 1
	exitBadInput     = 2
	exitFailed       = 3 // an SLO, invariant or regression failed
	exitInvalid      = 4 // no failure, but some trial's preconditions did not hold: rerun
)

func main() {
	// Ctrl-C, ECS's SIGTERM, a closed terminal (SIGHUP) or a closed output
	// pipe (SIGPIPE, e.g. `| head`) all end the run the same way: servers
	// stopped, keys removed, a valid partial result. Without SIGPIPE here Go
	// would exit on the first write and leave the servers running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "valkey-chaos",
		Short:         "Chaos and recovery benchmark for Valkey with RDB snapshots (ECS + EFS or local)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v (see '%s --help')", result.ErrBadInput, err, c.CommandPath())
	})
	root.AddCommand(
		newRunCmd(),
		newScenariosCmd(),
		newPlanCmd(),
		newTuneCmd(),
		newReportCmd(),
		newCheckCmd(),
		newCompareCmd(),
		newEFSCmd(),
		newTwinCmd(),
	)
	return root
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "valkey-chaos:", err)
	switch {
	case errors.Is(err, result.ErrBadInput):
		return exitBadInput
	case errors.Is(err, result.ErrFailed):
		return exitFailed
	case errors.Is(err, result.ErrInconclusive), errors.Is(err, target.ErrStopCondition):
		// A stop-condition alarm aborted the run before a fault: no
		// evidence either way, like an inconclusive trial.
		return exitInvalid
	}
	return exitHarnessError
}
