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
)

func main() {
	// Ctrl-C, ECS's SIGTERM, a closed terminal (SIGHUP) or a closed output
	// pipe (SIGPIPE, e.g. `| head`) all end the run the same way: servers
	// stopped, keys removed, a valid partial result. Without SIGPIPE here Go
	// would exit on the first write and leave the servers running.
	ctx, stop := signalContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	os.Exit(exitCode(asInterruption(ctx, err)))
}

// errInterrupted is the cause of the command's context when a signal ended
// it, so an error that follows (context.Canceled from deep inside a trial)
// is reported as the interruption it is, with an exit code of its own.
var errInterrupted = errors.New("interrupted")

// signalContext is signal.NotifyContext with the signal as the cause. The
// signals stay caught until stop: a second Ctrl-C or a closed pipe must not
// kill the harness while it stops its servers and writes the partial result.
func signalContext(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case sig := <-ch:
			cancel(fmt.Errorf("%w by %s", errInterrupted, signalName(sig)))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM (e.g. ECS StopTask)"
	case syscall.SIGHUP:
		return "SIGHUP (terminal closed)"
	case syscall.SIGPIPE:
		return "SIGPIPE (output closed)"
	}
	return sig.String()
}

// asInterruption names the signal in an error the command returned after
// ctx was interrupted; other errors pass through unchanged.
func asInterruption(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if err == nil || !errors.Is(cause, errInterrupted) || errors.Is(err, errInterrupted) {
		return err
	}
	return fmt.Errorf("%w: the run stopped early and result.json holds what it measured (%w)", cause, err)
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
		newCapacityCmd(),
		newReportCmd(),
		newCheckCmd(),
		newCompareCmd(),
		newEFSCmd(),
		newTwinCmd(),
	)
	return root
}

func exitCode(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "valkey-chaos:", err)
	}
	return outcomeOf(err).code
}
