package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/scenarios"
)

func newCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check DIR",
		Short: "Classify and judge a finished run again from its own files, with this build's checker",
		Long: `Reads results/<run-id>/ (result.json, each trial's history and per-key read-back),
classifies every trial again and has the judge decide again, then prints, per trial, the
recorded and the new verdict and every number that changed. A trial that was never read
back is judged again from its record (what it lost stays unknown). It never touches a
server and writes nothing.

Exit codes: 0 the verdicts are reproduced and every trial passed; 3 a verdict changed, or
a trial failed; 4 inconclusive; 2 bad input (not a run directory, a missing file).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, checked, err := scenarios.Recheck(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			changed := 0
			for _, c := range checked {
				fmt.Fprintln(w, c)
				if len(c.Differences) > 0 {
					changed++
				}
			}
			if changed > 0 {
				return fmt.Errorf("%w: %d of %d trials judge differently with this build's checker", result.ErrFailed, changed, len(checked))
			}
			return judge.Outcome(run)
		},
	}
}
