package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/capacity"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/tfmodule"
)

type capacityOpts struct {
	terraform            string
	cpu                  int
	memory, healthCheck  string
	stopTimeout          time.Duration
	throughput, mode     string
	provisioned          float64
	stored, save         string
	dataset, writes      string
	dist                 string
	loadMiBps            float64
	burstHorizon         time.Duration
	rate                 string
	jsonOut              bool
	out                  string
	measured             []string
	maxmemory, maxPolicy string
}

// Defaults where neither a flag nor the module says: ECS's health check
// defaults and a write rate to read the limits at.
const (
	defaultCapacityWrites = "1000/s"
	defaultChartRates     = "10..100000"
)

func newCapacityCmd() *cobra.Command {
	var o capacityOpts
	cmd := &cobra.Command{
		Use:   "capacity",
		Short: "How big the cache may grow and how fast it may be written on one task",
		Long: `For a task (cpu, memory, stop timeout, health check: from --terraform or flags)
and its storage, the largest dataset and the highest write rate for which the final
save fits the stop timeout, the load fits the health check's budget, the dataset plus
the copy-on-write of a BGSAVE fits the task memory and the EFS burst credits last,
with the RPO the save rules give there. Each limit is printed with the number that
binds it. The limits are read at --dataset (default: the module's maxmemory, where
the dataset stops growing) and --writes (overwrites/s during saves).

--out draws dataset size x write rate with each limit's boundary, the binding one
shaded, and the trials of --measured run directories on it.`,
		Example: `  valkey-chaos capacity --terraform terraform/common --json
  valkey-chaos capacity --cpu 1024 --memory 2GiB --stop-timeout 120s \
      --health-check interval=30s,timeout=5s,retries=3,start-period=60s \
      --mode bursting --stored 10GiB --save "900 1 300 10 60 10000" --out capacity.png
  valkey-chaos capacity --terraform terraform/modules/valkey --rate 10..50000 --measured results/sample`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCapacity(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.terraform, "terraform", "", "read the task from the Terraform configuration in DIR (terraform/common or terraform/modules/valkey); flags given override it")
	f.IntVar(&o.cpu, "cpu", 1024, "task CPU units (1024 = 1 vCPU)")
	f.StringVar(&o.memory, "memory", "", "task memory, e.g. 1GiB or 512MiB")
	f.DurationVar(&o.stopTimeout, "stop-timeout", 30*time.Second, "container stopTimeout (Fargate: default 30s, max 120s)")
	f.StringVar(&o.healthCheck, "health-check", "", "container health check: interval=30s,timeout=5s,retries=3,start-period=60s[,loading-grace=600s] (ECS defaults for keys left out)")
	f.StringVar(&o.throughput, "throughput", "", "rate a save writes the RDB at, e.g. 100MiB/s (default 25MiB/s: Valkey's own serialisation); capped by the mode")
	f.StringVar(&o.mode, "mode", string(savepolicy.Elastic), "EFS throughput mode: bursting, elastic or provisioned")
	f.Float64Var(&o.provisioned, "provisioned", 0, "provisioned throughput in MiB/s (--mode provisioned)")
	f.StringVar(&o.stored, "stored", "", "bytes stored on the file system, which sets the Bursting baseline (default: the RDB alone)")
	f.StringVar(&o.save, "save", "", "save rules (default: the module's, else "+strconv.Quote(savepolicy.Default)+")")
	f.StringVar(&o.dataset, "dataset", "", "dataset in memory (used_memory) the limits are read at (default: maxmemory, else a quarter of the task memory)")
	f.StringVar(&o.writes, "writes", defaultCapacityWrites, "overwrites/s during saves the limits are read at")
	f.StringVar(&o.dist, "dist", "uniform", "key distribution of the writes: uniform or zipf")
	f.Float64Var(&o.loadMiBps, "load-rate", capacity.DefaultLoadMiBps, "MiB/s an RDB loads at (read and parse)")
	f.DurationVar(&o.burstHorizon, "burst-horizon", 0, "how long a full EFS Bursting balance must last (0: the credits must be sustainable)")
	f.StringVar(&o.maxmemory, "maxmemory", "", "maxmemory of the server, e.g. 200MiB (default: the module's)")
	f.StringVar(&o.rate, "rate", "", "write-rate range of the chart, lo..hi (default "+defaultChartRates+")")
	f.BoolVar(&o.jsonOut, "json", false, "print JSON instead of a table")
	f.StringVar(&o.out, "out", "", "write the chart (PNG) here")
	f.StringArrayVar(&o.measured, "measured", nil, "run directory (or result.json) whose trials are plotted on the chart; repeatable")
	return cmd
}

// capacityReport is what `capacity --json` prints.
type capacityReport struct {
	Task         tfmodule.Task   `json:"task"`
	From         string          `json:"from"` // terraform DIR or "flags"
	Rules        string          `json:"rules"`
	Storage      string          `json:"storage"`
	SaveMiBps    float64         `json:"save_mibps"`
	DatasetBytes int64           `json:"dataset_bytes"`
	WritesPerS   float64         `json:"writes_per_s"`
	Result       capacity.Result `json:"result"`
	SaveS        float64         `json:"save_s"`
	LoadS        float64         `json:"load_s"`
	LoadBudgetS  float64         `json:"load_budget_s"`
	RPOS         float64         `json:"rpo_s"`
	MeanRPOS     float64         `json:"mean_rpo_s"`
	Chart        string          `json:"chart,omitempty"`
	Measured     int             `json:"measured_trials,omitempty"`
}

func runCapacity(cmd *cobra.Command, o capacityOpts) error {
	task, err := o.task(cmd)
	if err != nil {
		return err
	}
	in, err := o.input(cmd, task)
	if err != nil {
		return err
	}
	res, err := capacity.Evaluate(in)
	if err != nil {
		return err
	}
	rep := capacityReport{
		Task: task, From: orFlags(o.terraform), Rules: in.Rules.String(), Storage: string(in.Storage.Mode),
		SaveMiBps: in.Storage.WriteMiBps(), DatasetBytes: in.DatasetBytes, WritesPerS: in.WritesPerS, Result: res,
		SaveS: res.SaveDuration.Seconds(), LoadS: res.LoadDuration.Seconds(), LoadBudgetS: in.HealthCheck.Budget().Seconds(),
		RPOS: res.RPO.Seconds(), MeanRPOS: res.MeanRPO.Seconds(),
	}
	if o.out != "" || o.rate != "" || len(o.measured) > 0 {
		if rep.Chart, rep.Measured, err = o.chart(in); err != nil {
			return err
		}
	}
	if o.jsonOut {
		return writeJSON(cmd.OutOrStdout(), rep)
	}
	printCapacity(cmd.OutOrStdout(), rep)
	return nil
}

func orFlags(dir string) string {
	if dir == "" {
		return "flags"
	}
	return dir
}

// task is the task from --terraform with the flags given on top, or from
// the flags alone.
func (o capacityOpts) task(cmd *cobra.Command) (tfmodule.Task, error) {
	t := tfmodule.Task{CPU: 1024, StopTimeout: 30 * time.Second, HealthInterval: 30 * time.Second,
		HealthTimeout: 5 * time.Second, HealthRetries: 3, EFSThroughputMode: string(savepolicy.Elastic)}
	if o.terraform != "" {
		var err error
		if t, err = tfmodule.ReadTask(o.terraform); err != nil {
			return tfmodule.Task{}, err
		}
	} else if o.memory == "" {
		return tfmodule.Task{}, fmt.Errorf("%w: no task: pass --terraform DIR, or --memory (with --cpu, --stop-timeout, --health-check)", result.ErrBadInput)
	}
	changed := cmd.Flags().Changed
	if changed("cpu") {
		t.CPU = o.cpu
	}
	if o.memory != "" {
		b, err := savepolicy.ParseSize(o.memory)
		if err != nil || b < 1<<20 {
			return tfmodule.Task{}, fmt.Errorf("%w: --memory %q: give the task memory, e.g. 1GiB or 512MiB", result.ErrBadInput, o.memory)
		}
		t.MemoryMiB = b >> 20
	}
	if changed("stop-timeout") {
		t.StopTimeout = o.stopTimeout
	}
	if o.healthCheck != "" {
		if err := parseHealthCheck(o.healthCheck, &t); err != nil {
			return tfmodule.Task{}, err
		}
	}
	if changed("mode") {
		t.EFSThroughputMode = o.mode
	}
	if changed("provisioned") {
		t.EFSProvisionedMiBps = o.provisioned
	}
	if o.maxmemory != "" {
		b, err := savepolicy.ParseSize(o.maxmemory)
		if err != nil {
			return tfmodule.Task{}, fmt.Errorf("--maxmemory: %w", err)
		}
		t.MaxmemoryBytes = b
	}
	return t, nil
}

// parseHealthCheck reads interval=30s,timeout=5s,retries=3,start-period=60s,loading-grace=600s.
func parseHealthCheck(s string, t *tfmodule.Task) error {
	durations := map[string]*time.Duration{
		"interval": &t.HealthInterval, "timeout": &t.HealthTimeout,
		"start-period": &t.HealthStartPeriod, "loading-grace": &t.LoadingGrace,
	}
	for _, part := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if key == "retries" && ok {
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 10 {
				return fmt.Errorf("%w: --health-check retries=%s: a whole number from 1 to 10 (ECS)", result.ErrBadInput, val)
			}
			t.HealthRetries = n
			continue
		}
		d, known := durations[key]
		if !ok || !known {
			return fmt.Errorf("%w: --health-check %q: use interval=30s,timeout=5s,retries=3,start-period=60s[,loading-grace=600s]", result.ErrBadInput, part)
		}
		v, err := time.ParseDuration(val)
		if err != nil || v < 0 {
			return fmt.Errorf("%w: --health-check %s=%s: a duration >= 0, e.g. 30s", result.ErrBadInput, key, val)
		}
		*d = v
	}
	return nil
}

// parseMiBps reads a throughput: "100MiB/s", "100 MB/s" or a bare MiB/s.
func parseMiBps(s string) (float64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	if v, err := strconv.ParseFloat(t, 64); err == nil {
		if !(v > 0) || v > 1e6 {
			return 0, fmt.Errorf("%w: --throughput %q: a positive MiB/s, e.g. 100MiB/s", result.ErrBadInput, s)
		}
		return v, nil
	}
	b, err := savepolicy.ParseSize(t)
	if err != nil || b <= 0 {
		return 0, fmt.Errorf("%w: --throughput %q: a positive rate, e.g. 100MiB/s", result.ErrBadInput, s)
	}
	return float64(b) / (1 << 20), nil
}
