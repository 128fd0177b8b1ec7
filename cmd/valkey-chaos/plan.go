package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/tfmodule"
)

// ruleSourceOpts are the flags that say where the save rules come from.
type ruleSourceOpts struct {
	save, terraform, addr, config string
	conn                          connFlags // how to connect to --addr
}

func addRuleSourceFlags(f *pflag.FlagSet, o *ruleSourceOpts, saveHelp string) {
	f.StringVar(&o.save, "save", savepolicy.Default, saveHelp)
	f.StringVar(&o.terraform, "terraform", "", "read the save rules the Terraform module in DIR deploys (e.g. terraform/modules/valkey)")
	f.StringVar(&o.addr, "addr", "", "read the save rules from a running server (CONFIG GET save), HOST:PORT")
	f.StringVar(&o.config, "config", "", "read the save rules from a valkey.conf")
	o.conn.register(f)
}

func (o ruleSourceOpts) source(cmd *cobra.Command) (savepolicy.RuleSource, error) {
	conn, err := o.conn.settings(os.Getenv)
	if err != nil {
		return savepolicy.RuleSource{}, err
	}
	return savepolicy.RuleSource{Save: o.save, SaveSet: cmd.Flags().Changed("save"), Terraform: o.terraform, ReadTerraform: tfmodule.SaveRules, Addr: o.addr, Conn: conn, Config: o.config}, nil
}

// storageOpts are the flags that describe the RDB and the EFS it lives on.
type storageOpts struct {
	rdbSize, stored         string
	throughput, provisioned float64
	mode                    string
	bgsave, stopTimeout     time.Duration
	restarts                float64
	prices                  savepolicy.Prices
}

func addStorageFlags(f *pflag.FlagSet, o *storageOpts) {
	def := savepolicy.DefaultPrices()
	f.StringVar(&o.rdbSize, "rdb-size", "", "RDB snapshot size, e.g. 114MB or 2GiB (sets the BGSAVE time and the cost)")
	f.Float64Var(&o.throughput, "throughput", savepolicy.DefaultSaveMiBps, "MiB/s a save writes at: the lower of the storage's and Valkey's own serialisation (~25-45 MB/s on 2 vCPU)")
	f.StringVar(&o.mode, "throughput-mode", string(savepolicy.Elastic), "EFS throughput mode: bursting, elastic or provisioned")
	f.Float64Var(&o.provisioned, "provisioned", 0, "provisioned throughput in MiB/s (--throughput-mode provisioned)")
	f.StringVar(&o.stored, "stored", "", "bytes stored on the file system, which sets the Bursting baseline (default: the RDB alone)")
	f.DurationVar(&o.bgsave, "bgsave", 0, "BGSAVE duration, when measured (overrides --rdb-size / --throughput)")
	f.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "ECS stop timeout the final save on SIGTERM must fit in (Fargate: default 30s, max 120s)")
	f.Float64Var(&o.restarts, "restarts-per-day", 0, "RDB loads per day, for Elastic read charges")
	f.Float64Var(&o.prices.StorageGBMonth, "price-storage", def.StorageGBMonth, "USD per GB-month of EFS Standard storage (us-east-1)")
	f.Float64Var(&o.prices.ElasticWriteGB, "price-write", def.ElasticWriteGB, "USD per GB written, Elastic throughput (us-east-1)")
	f.Float64Var(&o.prices.ElasticReadGB, "price-read", def.ElasticReadGB, "USD per GB read, Elastic throughput (us-east-1)")
	f.Float64Var(&o.prices.ProvisionedMiBpsMonth, "price-provisioned", def.ProvisionedMiBpsMonth, "USD per MiB/s-month of Provisioned throughput (us-east-1)")
}

// storage turns the flags into the model's inputs.
func (o storageOpts) storage() (savepolicy.Storage, int64, error) {
	mode, err := savepolicy.ParseThroughputMode(o.mode)
	if err != nil {
		return savepolicy.Storage{}, 0, fmt.Errorf("--throughput-mode: %w", err)
	}
	var rdb, stored int64
	if o.rdbSize != "" {
		if rdb, err = savepolicy.ParseSize(o.rdbSize); err != nil {
			return savepolicy.Storage{}, 0, fmt.Errorf("--rdb-size: %w", err)
		}
	}
	if o.stored != "" {
		if stored, err = savepolicy.ParseSize(o.stored); err != nil {
			return savepolicy.Storage{}, 0, fmt.Errorf("--stored: %w", err)
		}
	}
	if !(o.throughput > 0) {
		return savepolicy.Storage{}, 0, fmt.Errorf("%w: --throughput %v: must be a positive MiB/s", result.ErrBadInput, o.throughput)
	}
	if mode == savepolicy.Provisioned && !(o.provisioned > 0) {
		return savepolicy.Storage{}, 0, fmt.Errorf("%w: --throughput-mode provisioned needs --provisioned MiB/s", result.ErrBadInput)
	}
	return savepolicy.Storage{Mode: mode, SaveMiBps: o.throughput, ProvisionedMiBps: o.provisioned, StoredBytes: stored, Prices: o.prices}, rdb, nil
}

type planOpts struct {
	rules   ruleSourceOpts
	store   storageOpts
	rate    string
	sample  time.Duration
	points  int
	jsonOut bool
	out     string
}

func newPlanCmd() *cobra.Command {
	var o planOpts
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Predict the loss window, saves/day and EFS cost of save rules at a write rate",
		Long: `Models Valkey's serverCron save logic: which rule fires at the write rate, the
snapshot period, the worst-case and expected loss window (a crash just before a save
completes loses everything since the previous fork), saves and bytes written per day,
what that costs on EFS, and whether the final save on SIGTERM fits the stop timeout.

--rate lo..hi prints the window across the range (log-spaced, plus both sides of
every threshold) and draws the sawtooth chart to --out.
Rates: 200/s, 200, 12000/min. Without --rate, --addr samples the server's change
rate for --sample.`,
		Example: `  valkey-chaos plan --save "900 1 300 10 60 10000" --rate 200/s
  valkey-chaos plan --terraform terraform/modules/valkey --rate 0.001/s..1000/s --rdb-size 114MB
  valkey-chaos plan --addr 10.0.1.5:6379 --sample 1m --rdb-size 2GiB --throughput-mode bursting`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd, o) },
	}
	f := cmd.Flags()
	addRuleSourceFlags(f, &o.rules, "save rules, as in valkey.conf")
	addStorageFlags(f, &o.store)
	f.StringVar(&o.rate, "rate", "", "steady write rate (changes/s), or a range lo..hi")
	f.DurationVar(&o.sample, "sample", 10*time.Second, "with --addr and no --rate: how long to sample the live change rate")
	f.IntVar(&o.points, "points", 16, "rates shown across a --rate range")
	f.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	f.StringVar(&o.out, "out", "sawtooth.png", "chart written for a --rate range")
	return cmd
}

func runPlan(cmd *cobra.Command, o planOpts) error {
	ctx := cmd.Context()
	src, err := o.rules.source(cmd)
	if err != nil {
		return err
	}
	rules, from, err := src.Resolve(ctx)
	if err != nil {
		return err
	}
	st, rdb, err := o.store.storage()
	if err != nil {
		return err
	}
	in := savepolicy.PlanInput{
		Rules: rules, RDBBytes: rdb, BGSave: o.store.bgsave, StopTimeout: o.store.stopTimeout,
		RestartsPerDay: o.store.restarts, Storage: st,
	}
	w := cmd.OutOrStdout()
	var lo, hi float64
	switch {
	case o.rate != "":
		if lo, hi, err = savepolicy.ParseRateRange(o.rate); err != nil {
			return fmt.Errorf("--rate: %w", err)
		}
	case o.rules.addr != "":
		fmt.Fprintf(cmd.ErrOrStderr(), "sampling the change rate on %s for %v...\n", o.rules.addr, o.sample)
		s, err := savepolicy.SampleRate(ctx, src.Conn, o.rules.addr, o.sample)
		if err != nil {
			return err
		}
		lo, hi, in.Profile = s.MeanRatePerS, s.MeanRatePerS, &s.Profile
		fmt.Fprintf(cmd.ErrOrStderr(), "measured %.4g changes/s (%.4g commands/s) over %d intervals\n", s.MeanRatePerS, s.CommandsPerS, s.Intervals)
		if s.MeanRatePerS <= 0 {
			return fmt.Errorf("%w: %s made no changes while sampled: give --rate", result.ErrBadInput, o.rules.addr)
		}
	default:
		return fmt.Errorf("%w: plan needs --rate (e.g. 200/s, or 0.01/s..1000/s), or --addr to sample a live server", result.ErrBadInput)
	}
	if lo == hi {
		in.RatePerS = lo
		p := savepolicy.MakePlan(in)
		if o.jsonOut {
			return writeJSON(w, struct {
				From string `json:"rules_from"`
				savepolicy.Plan
			}{from, p})
		}
		fmt.Fprintf(w, "rules from %s\n", from)
		return p.WriteText(w)
	}
	plans := savepolicy.PlanRange(in, lo, hi, o.points)
	d := time.Duration(plans[0].BGSaveS * float64(time.Second))
	chart := report.Sawtooth{
		Title:  fmt.Sprintf("Loss window against write rate: save %q", rules),
		Lo:     lo,
		Hi:     hi,
		Curves: []report.SawtoothCurve{{Rules: rules, BGSave: d}},
	}
	if err := report.WriteSawtooth(o.out, chart); err != nil {
		return err
	}
	if o.jsonOut {
		return writeJSON(w, struct {
			From  string            `json:"rules_from"`
			Plans []savepolicy.Plan `json:"plans"`
			Chart string            `json:"chart"`
		}{from, plans, o.out})
	}
	fmt.Fprintf(w, "rules from %s\n", from)
	if err := savepolicy.WriteRangeText(w, plans); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "chart: %s\n", o.out)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
