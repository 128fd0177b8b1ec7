package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
)

type compareOpts struct {
	tolerance string
	junit     string
	out       string
}

func newCompareCmd() *cobra.Command {
	var o compareOpts
	cmd := &cobra.Command{
		Use:   "compare DIR...",
		Short: "Put runs side by side and flag regressions against the first (the baseline)",
		Long: `Each DIR is a run directory, a result.json, a directory of runs (taken in start
order) or a glob. The first run is the baseline: for every scenario, fault and
rule, a later run whose loss window, RTO, warm-up, final save, loss on a stop or
anomalies got worse by more than --tolerance is a regression. Writes compare.md,
a self-contained compare.html and trend charts to --out.

Exit codes: 0 no regression; 3 a regression; 2 bad input; 1 harness error.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompare(cmd.OutOrStdout(), args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.tolerance, "tolerance", "10%", "how much worse than the baseline a metric may get")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (a test case per scenario and metric) to this file")
	f.StringVar(&o.out, "out", "", "directory for compare.md, compare.html and plots (default: the last run's DIR/compare)")
	return cmd
}

func runCompare(w io.Writer, args []string, o compareOpts) error {
	tol, err := report.ParseTolerance(o.tolerance)
	if err != nil {
		return err
	}
	runs, err := report.LoadRuns(args)
	if err != nil {
		return err
	}
	if len(runs) < 2 {
		return fmt.Errorf("%w: compare needs at least two runs, got %d (%s): pass a baseline and a later run", result.ErrBadInput, len(runs), runs[0].Dir)
	}
	cmp := report.Compare(runs, tol)
	out := o.out
	if out == "" {
		out = filepath.Join(runs[len(runs)-1].Dir, "compare")
	}
	if err := report.WriteComparison(out, cmp); err != nil {
		return err
	}
	if o.junit != "" {
		if err := report.WriteFileWith(o.junit, func(w io.Writer) error { return report.WriteComparisonJUnit(w, cmp) }); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if err := cmp.WriteTable(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "comparison: %s\n", filepath.Join(out, "compare.md"))
	return cmp.Err()
}
