package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

type tuneOpts struct {
	rules   ruleSourceOpts
	store   storageOpts
	rpo     time.Duration
	rate    string
	jsonOut bool
	out     string
}

func newTuneCmd() *cobra.Command {
	var o tuneOpts
	cmd := &cobra.Command{
		Use:   "tune",
		Short: "Find the cheapest save rules that keep every write rate in a range within an RPO",
		Long: `Searches rule sets of one to three rules for the fewest saves per day (so the
fewest bytes written to EFS) whose worst case stays within the RPO at every write
rate in --rate lo..hi, and compares them with the current rules (--save, --terraform,
--addr or --config; default the seed's) side by side: window, saves/day, bytes/day
and $/day, with one chart (--out). The RPO is the age of the oldest write a crash
can lose. When no save rules can meet it (the BGSAVE alone takes too long) it says
what would: AOF, faster storage, or a smaller dataset.`,
		Example: `  valkey-chaos tune --rpo 2m --rate 1/s..500/s --rdb-size 114MB
  valkey-chaos tune --rpo 15m --rate 0.01/s..200/s --rdb-size 2GiB --throughput-mode bursting --terraform terraform/modules/valkey`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTune(cmd, o) },
	}
	f := cmd.Flags()
	addRuleSourceFlags(f, &o.rules, "the current save rules, to compare against")
	addStorageFlags(f, &o.store)
	f.DurationVar(&o.rpo, "rpo", 0, "recovery point objective: the oldest write a crash may lose, e.g. 2m")
	f.StringVar(&o.rate, "rate", "", "write rates the rules must cover, lo..hi (changes/s), e.g. 1/s..500/s")
	f.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	f.StringVar(&o.out, "out", "tune.png", "chart comparing the current and proposed rules")
	return cmd
}

func runTune(cmd *cobra.Command, o tuneOpts) error {
	if o.rpo <= 0 {
		return fmt.Errorf("%w: tune needs --rpo, e.g. --rpo 2m", result.ErrBadInput)
	}
	if o.rate == "" {
		return fmt.Errorf("%w: tune needs --rate lo..hi, e.g. --rate 1/s..500/s", result.ErrBadInput)
	}
	if o.store.rdbSize == "" && o.store.bgsave == 0 {
		return fmt.Errorf("%w: tune needs --rdb-size (e.g. 114MB): the BGSAVE time and the cost depend on it", result.ErrBadInput)
	}
	lo, hi, err := savepolicy.ParseRateRange(o.rate)
	if err != nil {
		return fmt.Errorf("--rate: %w", err)
	}
	src, err := o.rules.source(cmd)
	if err != nil {
		return err
	}
	current, from, err := src.Resolve(cmd.Context())
	if err != nil {
		return err
	}
	st, rdb, err := o.store.storage()
	if err != nil {
		return err
	}
	t, err := savepolicy.Tune(savepolicy.TuneInput{
		RPO: o.rpo, Lo: lo, Hi: hi, RDBBytes: rdb, BGSave: o.store.bgsave, Storage: st,
		Current: current, StopTimeout: o.store.stopTimeout, RestartsPerDay: o.store.restarts,
	})
	if err != nil {
		return err
	}
	d := time.Duration(t.BGSaveS * float64(time.Second))
	chart := report.Sawtooth{
		Title:  fmt.Sprintf("Save rules for an RPO of %s across %s..%s", savepolicy.FormatDuration(o.rpo), savepolicy.FormatRate(lo), savepolicy.FormatRate(hi)),
		Lo:     lo,
		Hi:     hi,
		RPO:    o.rpo,
		Curves: []report.SawtoothCurve{{Label: "current", Rules: current, BGSave: d}},
	}
	if p := t.ProposedRules(); p != nil {
		chart.Curves = append(chart.Curves, report.SawtoothCurve{Label: "proposed", Rules: p, BGSave: d})
	}
	if err := report.WriteSawtooth(o.out, chart); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if o.jsonOut {
		return writeJSON(w, struct {
			From string `json:"current_rules_from"`
			savepolicy.Tuning
			Chart string `json:"chart"`
		}{from, t, o.out})
	}
	fmt.Fprintf(w, "current rules from %s\n", from)
	if err := t.WriteText(w); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "chart: %s\n", o.out)
	return err
}
