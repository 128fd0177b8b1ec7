package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/slo"
)

type reportOpts struct {
	slos    []string
	junit   string
	metrics string
}

func newReportCmd() *cobra.Command {
	var o reportOpts
	cmd := &cobra.Command{
		Use:   "report DIR",
		Short: "Re-render a run's report (report.md, report.html, plots/) from its result files",
		Long: `Reads DIR/result.json (and the trials' .hgrm files) and writes report.md, a
self-contained report.html and plots/*.png into DIR. Rendering is deterministic:
the same files give the same report. --slo adds objectives after the fact.

SLO metrics: ` + fmt.Sprint(slo.Metrics()) + `
Durations are compared at the run's time scale, like every duration in result.json.

Exit codes: 0 all trials passed; 3 a trial or SLO failed; 4 inconclusive (invalid
trials, no failure); 2 bad input; 1 harness error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReport(cmd.OutOrStdout(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.slos, "slo", nil, "SLO checked on every trial, e.g. loss_window<=65s, rto<=30s, lost_on_stop==0 (repeatable)")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML (a test case per trial and per SLO check) to this file")
	f.StringVar(&o.metrics, "metrics", "", "also write JSON lines (one per trial) for dashboards to this file")
	return cmd
}

func runReport(w io.Writer, dir string, o reportOpts) error {
	slos, err := slo.ParseAll(o.slos)
	if err != nil {
		return err
	}
	run, err := result.Load(dir)
	if err != nil {
		return err
	}
	if filepath.Base(dir) == result.FileName {
		dir = filepath.Dir(dir)
	}
	if err := judge.Rejudge(run, slos); err != nil {
		return fmt.Errorf("%w: %s: %w", result.ErrBadInput, dir, err)
	}
	if err := report.Write(dir, run); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if o.junit != "" {
		if err := report.WriteFileWith(o.junit, func(w io.Writer) error { return report.WriteJUnit(w, run) }); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if o.metrics != "" {
		if err := report.WriteFileWith(o.metrics, func(w io.Writer) error { return report.WriteMetrics(w, run) }); err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
	}
	report.WriteSummary(w, run)
	fmt.Fprintf(w, "report: %s\n", filepath.Join(dir, report.MarkdownFile))
	fmt.Fprintf(w, "html:   %s\n", filepath.Join(dir, report.HTMLFile))
	return judge.Outcome(run)
}
