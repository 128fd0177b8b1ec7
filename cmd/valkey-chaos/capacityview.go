package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/capacity"
	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/tfmodule"
)

// input turns the task and the storage and workload flags into the model's input.
func (o capacityOpts) input(cmd *cobra.Command, t tfmodule.Task) (capacity.Input, error) {
	mode, err := savepolicy.ParseThroughputMode(t.EFSThroughputMode)
	if err != nil {
		return capacity.Input{}, fmt.Errorf("--mode: %w", err)
	}
	st := savepolicy.Storage{Mode: mode, SaveMiBps: savepolicy.DefaultSaveMiBps, ProvisionedMiBps: t.EFSProvisionedMiBps, Prices: savepolicy.DefaultPrices()}
	if mode == savepolicy.Provisioned && !(st.ProvisionedMiBps > 0) {
		return capacity.Input{}, fmt.Errorf("%w: --mode provisioned needs --provisioned MiB/s", result.ErrBadInput)
	}
	if o.throughput != "" {
		if st.SaveMiBps, err = parseMiBps(o.throughput); err != nil {
			return capacity.Input{}, err
		}
	}
	if o.stored != "" {
		if st.StoredBytes, err = savepolicy.ParseSize(o.stored); err != nil {
			return capacity.Input{}, fmt.Errorf("--stored: %w", err)
		}
	}
	rules, err := o.rules(cmd)
	if err != nil {
		return capacity.Input{}, err
	}
	in := capacity.Input{
		CPU: t.CPU, MemoryBytes: t.MemoryMiB << 20, StopTimeout: t.StopTimeout,
		HealthCheck: capacity.HealthCheck{Interval: t.HealthInterval, Timeout: t.HealthTimeout, Retries: t.HealthRetries,
			StartPeriod: t.HealthStartPeriod, LoadingGrace: t.LoadingGrace},
		Storage: st, LoadMiBps: o.loadMiBps, Rules: rules, BurstHorizon: o.burstHorizon,
	}
	switch o.dist {
	case "uniform", "zipf":
		in.Dist = o.dist
	default:
		return capacity.Input{}, fmt.Errorf("%w: --dist %q: uniform or zipf", result.ErrBadInput, o.dist)
	}
	if in.WritesPerS, err = savepolicy.ParseRate(o.writes); err != nil {
		return capacity.Input{}, fmt.Errorf("--writes: %w", err)
	}
	switch {
	case o.dataset != "":
		if in.DatasetBytes, err = savepolicy.ParseSize(o.dataset); err != nil {
			return capacity.Input{}, fmt.Errorf("--dataset: %w", err)
		}
	case t.MaxmemoryBytes > 0:
		in.DatasetBytes = t.MaxmemoryBytes // where the dataset stops growing
	default:
		in.DatasetBytes = in.MemoryBytes / 4
	}
	return in, nil
}

func (o capacityOpts) rules(cmd *cobra.Command) (savepolicy.Rules, error) {
	if cmd.Flags().Changed("save") || o.terraform == "" {
		s := o.save
		if !cmd.Flags().Changed("save") {
			s = savepolicy.Default
		}
		r, err := savepolicy.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("--save: %w", err)
		}
		return r, nil
	}
	return tfmodule.SaveRules(o.terraform)
}

// chart draws the chart to --out (capacity.png when only --rate or
// --measured asked for it) and says how many measured trials it holds.
func (o capacityOpts) chart(in capacity.Input) (string, int, error) {
	rates := o.rate
	if rates == "" {
		rates = defaultChartRates
	}
	lo, hi, err := savepolicy.ParseRateRange(rates)
	if err != nil {
		return "", 0, fmt.Errorf("--rate: %w", err)
	}
	if !(lo > 0 && hi > lo) {
		return "", 0, fmt.Errorf("%w: --rate %s: the chart's rates are on a log axis: give 0 < lo < hi, e.g. 10..100000", result.ErrBadInput, rates)
	}
	var points []report.CapacityPoint
	for _, dir := range o.measured {
		ps, err := measuredTrials(dir)
		if err != nil {
			return "", 0, err
		}
		points = append(points, ps...)
	}
	out := o.out
	if out == "" {
		out = "capacity.png"
	}
	title := fmt.Sprintf("capacity of a %.2g vCPU / %d MiB task", float64(in.CPU)/1024, in.MemoryBytes>>20)
	c := report.CapacityChart{Title: title, Input: in, RateLo: lo, RateHi: hi, Measured: points}
	if err := report.WriteCapacityChart(out, c); err != nil {
		return "", 0, err
	}
	return out, len(points), nil
}

// measuredTrials reads the trials of one run as chart points: the dataset
// is INFO used_memory when the trial measured it, else the preloaded keys
// at the model's heap per key.
func measuredTrials(dir string) ([]report.CapacityPoint, error) {
	run, err := result.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("--measured: %w", err)
	}
	var out []report.CapacityPoint
	for i := range run.Trials {
		t := &run.Trials[i]
		ds := run.Target.Dataset
		if t.Dataset != nil {
			ds = *t.Dataset
		}
		bytes := ds.Keys * int64(float64(ds.ValueBytes)+capacity.DefaultBytesPerKey-100)
		if t.Memory != nil && t.Memory.UsedBytes > 0 {
			bytes = t.Memory.UsedBytes
		}
		rate := t.AchievedRatePerS
		if rate <= 0 {
			rate = t.RatePerS
		}
		out = append(out, report.CapacityPoint{DatasetBytes: bytes, WritesPerS: rate, Label: trialPointLabel(t), Failed: t.Verdict == result.Fail})
	}
	return out, nil
}

func trialPointLabel(t *result.Trial) string {
	parts := []string{string(t.Verdict)}
	if t.FinalSaveS != nil {
		parts = append(parts, fmt.Sprintf("final save %.1f s", *t.FinalSaveS))
	}
	if t.ServerLoadS != nil {
		parts = append(parts, fmt.Sprintf("load %.1f s", *t.ServerLoadS))
	}
	if t.Memory != nil && t.Memory.OOMKilled != "" {
		parts = append(parts, "OOM-killed "+t.Memory.OOMKilled)
	}
	return t.Scenario + ": " + strings.Join(parts, ", ")
}

func printCapacity(w io.Writer, r capacityReport) {
	t := r.Task
	fmt.Fprintf(w, "task (%s): %d cpu, %d MiB, stop timeout %s, maxmemory %s %s\n", r.From, t.CPU, t.MemoryMiB,
		savepolicy.FormatDuration(t.StopTimeout), orNone(t.MaxmemoryBytes), t.MaxmemoryPolicy)
	fmt.Fprintf(w, "storage: EFS %s, saves at %.0f MiB/s; rules %q\n", r.Storage, r.SaveMiBps, r.Rules)
	fmt.Fprintf(w, "limits at a %s dataset and %s overwrites:\n\n", savepolicy.FormatBytes(float64(r.DatasetBytes)), savepolicy.FormatRate(r.WritesPerS))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT\tLARGEST DATASET\tHIGHEST RATE\tHOLDS\tBOUND BY")
	for _, l := range r.Result.Limits {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Name, datasetCell(l.MaxDatasetBytes), rateCell(l.MaxWritesPerS), yesNo(l.Holds), l.Detail)
	}
	tw.Flush()
	res := r.Result
	fmt.Fprintf(w, "\nbinding: %s, largest dataset %s at %s; highest rate %s at %s\n", orNone2(res.Binding),
		datasetCell(res.MaxDatasetBytes), savepolicy.FormatRate(r.WritesPerS), rateCell(res.MaxWritesPerS), savepolicy.FormatBytes(float64(r.DatasetBytes)))
	fmt.Fprintf(w, "RPO under the rules: worst %s, mean %s (BGSAVE %s, load %s of a %s budget, copy-on-write peak %s)\n",
		savepolicy.FormatDuration(res.RPO), savepolicy.FormatDuration(res.MeanRPO), savepolicy.FormatDuration(res.SaveDuration),
		savepolicy.FormatDuration(res.LoadDuration), savepolicy.FormatDuration(time.Duration(r.LoadBudgetS*float64(time.Second))),
		savepolicy.FormatBytes(float64(res.CowPeakBytes)))
	verdict := "holds"
	if !res.Holds {
		verdict = "does NOT hold"
	}
	fmt.Fprintf(w, "this workload %s on this task\n", verdict)
	if r.Chart != "" {
		fmt.Fprintf(w, "chart: %s (%d measured trials)\n", r.Chart, r.Measured)
	}
}

func datasetCell(b int64) string {
	if b < 0 {
		return "no limit"
	}
	return savepolicy.FormatBytes(float64(b))
}

func rateCell(r float64) string {
	switch {
	case r < 0:
		return "no limit"
	case r == 0:
		return "none (not even idle)"
	}
	return savepolicy.FormatRate(r)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func orNone(b int64) string {
	if b <= 0 {
		return "none"
	}
	return savepolicy.FormatBytes(float64(b))
}

func orNone2(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
