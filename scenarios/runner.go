package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/trigpointing/valkey-chaos/procstat"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// Version is the harness version recorded in every result.
var Version = "0.1.0-dev"

// Config is everything one `valkey-chaos run` needs besides its scenarios.
type Config struct {
	RunID string
	// Conn is how every connection to the target authenticates and
	// encrypts (user, password, TLS); the zero value is plaintext.
	Conn      valkeyconn.Settings
	OutDir    string           // results/<run-id>; created if missing
	SaveReal  savepolicy.Rules // the rules at time scale 1
	TimeScale float64          // (0, 1]
	Trials    int              // repetitions of every expanded trial
	Seed      int64
	// Keys overrides every scenario's dataset size when >= 0.
	Keys int64
	// StopTimeout overrides every scenario's stop_timeout when > 0.
	StopTimeout time.Duration
	// Rate overrides the measured write rate (real-time writes/s) when > 0.
	Rate float64
	// TaskMemory overrides every scenario's task_memory (bytes) when > 0.
	TaskMemory int64
	// Persistence overrides every scenario's persistence strategies when set.
	Persistence savepolicy.Strategy
	// SLOs apply to every trial, on top of each scenario's expect block.
	SLOs []string
	slos []slo.SLO // SLOs, parsed by Run
	// SpoolAboveOps: a trial whose writer may issue more ops than this
	// (its MaxOps, the rate times its time bound) streams the History to a
	// spool file in OutDir/trials instead of keeping it in memory, and is
	// classified from there (40 B per op on disk, not in the harness). 0:
	// DefaultSpoolAboveOps; negative: always spool.
	SpoolAboveOps int64

	Target     Target
	TargetInfo result.Target // kind, server version, ...; rules filled in by the Runner
	// Progress receives one line per phase; nil discards.
	Progress io.Writer
	Args     []string
}

// setup checks everything a run needs before any server starts and plans
// its trials; Run and DryRun share it.
func setup(cfg Config, scens []*Scenario) (Config, []TrialPlan, error) {
	if err := savepolicy.ValidateTimeScale(cfg.TimeScale); err != nil {
		return cfg, nil, fmt.Errorf("%w: %w", result.ErrBadInput, err)
	}
	// --slo is checked before any trial: a typo must not cost a whole run.
	slos, err := slo.ParseAll(cfg.SLOs)
	if err != nil {
		return cfg, nil, fmt.Errorf("--slo: %w", err)
	}
	cfg.slos = slos
	scens, err = prepareScenarios(cfg, scens)
	if err != nil {
		return cfg, nil, err
	}
	plans, err := Plan(cfg, scens)
	if err != nil {
		return cfg, nil, err
	}
	if len(plans) == 0 {
		return cfg, nil, fmt.Errorf("%w: the scenarios expand to no trials", result.ErrBadInput)
	}
	if err := checkFaults(cfg, plans); err != nil {
		return cfg, nil, err
	}
	return cfg, plans, nil
}

// Run executes every planned trial in order and returns the run result. The
// result file is rewritten after every trial, so an interrupted run leaves a
// valid partial result with "complete": false.
func Run(ctx context.Context, cfg Config, scens []*Scenario) (*result.Run, error) {
	cfg, plans, err := setup(cfg, scens)
	if err != nil {
		return nil, err
	}
	if err := PrepareOutDir(cfg.OutDir); err != nil {
		return nil, err
	}
	run := &result.Run{
		Schema:        result.Schema,
		RunID:         cfg.RunID,
		StartedUnixMs: time.Now().UnixMilli(),
		Harness:       result.Harness{Version: Version, GoVersion: runtime.Version()},
		Args:          cfg.Args,
		Target:        runTarget(cfg, nil),
		Trials:        []result.Trial{},
		SLOs:          cfg.SLOs,
	}
	if err := result.Write(cfg.OutDir, run); err != nil {
		return nil, err
	}
	// One printer for the run: long waits redraw a line with their ETA on a
	// terminal and print a plain line every few seconds in a CI log.
	out := progressPrinter(orDiscard(cfg.Progress))
	var learned []learnedTarget
	for i, plan := range plans {
		if ctx.Err() != nil {
			break
		}
		out.Logf("[%d/%d] %s: %s at %s (scaled)", i+1, len(plans), plan.Label, plan.Fault, savepolicy.FormatRate(plan.Rate))
		done, err := runTrial(ctx, cfg, plan, out)
		if done.trial != nil {
			run.Trials = append(run.Trials, *done.trial)
			learned = append(learned, done.learned)
			run.Target = runTarget(cfg, learned)
			run.NamePlots()
		}
		if err != nil && ctx.Err() == nil {
			// The run ends here: result.json says why, so whoever reads a
			// partial result can tell a refusal or a harness error from Ctrl-C.
			why, err := endedBy(err, plan, i, len(plans))
			run.FinishedUnixMs = time.Now().UnixMilli()
			run.Interrupted = why
			return run, errors.Join(err, result.Write(cfg.OutDir, run))
		}
		run.Harness.PeakRSSBytes = peakRSS()
		if werr := result.Write(cfg.OutDir, run); werr != nil {
			return run, werr
		}
		if done.trial != nil && ctx.Err() == nil {
			out.Logf("  -> %s", progress.TrialLine(done.trial))
		}
	}
	return finishRun(ctx, cfg, run, len(plans))
}

// endedBy says why a trial's error ends the run, and the error to return.
func endedBy(err error, plan TrialPlan, i, n int) (string, error) {
	switch {
	case errors.Is(err, target.ErrStopCondition):
		return fmt.Sprintf("stopped before the fault of trial %s (%d of %d): %v", plan.Label, i+1, n, err), err
	case errors.Is(err, result.ErrBadInput):
		return fmt.Sprintf("refused at trial %s (%d of %d): %v", plan.Label, i+1, n, err), err
	}
	return fmt.Sprintf("harness error at trial %s (%d of %d): %v", plan.Label, i+1, n, err), fmt.Errorf("trial %s: %w", plan.Label, err)
}

// finishRun marks the run complete, or interrupted naming the trial a
// signal cut short, and writes it once more.
func finishRun(ctx context.Context, cfg Config, run *result.Run, planned int) (*result.Run, error) {
	run.FinishedUnixMs = time.Now().UnixMilli()
	run.Harness.PeakRSSBytes = peakRSS()
	if ctx.Err() != nil {
		cut := "before its first trial"
		if n := len(run.Trials); n > 0 && run.Trials[n-1].Interrupted != "" {
			cut = "during trial " + run.Trials[n-1].Label() + " (" + fmt.Sprint(n) + " of " + fmt.Sprint(planned) + ")"
		} else if n > 0 {
			cut = fmt.Sprintf("after %d of %d trials", n, planned)
		}
		run.Interrupted = fmt.Sprintf("interrupted %s: %v", cut, context.Cause(ctx))
	} else {
		run.Complete = true
	}
	if err := result.Write(cfg.OutDir, run); err != nil {
		return run, err
	}
	if !run.Complete {
		return run, ctx.Err()
	}
	return run, nil
}

// learnedTarget is what a trial learned about the server it ran against.
type learnedTarget struct {
	serverVersion string
	rules         savepolicy.Rules
	stopTimeout   time.Duration
	dataset       result.Dataset
	storage       string
}

// runTarget is the run's target block: what the flags said, refined by
// what the trials learned (an ECS task runs its task definition's rules).
func runTarget(cfg Config, learned []learnedTarget) result.Target {
	info := cfg.TargetInfo
	info.Save = cfg.SaveReal.Scale(cfg.TimeScale).String()
	info.SaveReal = cfg.SaveReal.String()
	info.TimeScale = cfg.TimeScale
	for _, l := range learned {
		if info.Dataset.Keys == 0 {
			info.Dataset = l.dataset
		}
		if info.ServerVersion == "" {
			info.ServerVersion = l.serverVersion
		}
		if len(l.rules) > 0 {
			info.Save = l.rules.String()
		}
		if l.stopTimeout > 0 {
			info.StopTimeoutS = l.stopTimeout.Seconds()
		}
		info.Storage = withStorage(info.Storage, l.storage)
	}
	return info
}

// peakRSS is the harness's peak RSS, 0 where the kernel does not say.
func peakRSS() int64 {
	n, err := procstat.PeakRSS()
	if err != nil {
		return 0
	}
	return n
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// PrepareOutDir creates a run's directory (with logs/ and trials/) and
// checks it is writable, so a bad --out is refused before anything starts.
func PrepareOutDir(dir string) error {
	for _, sub := range []string{"", "logs", "trials"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("%w: cannot create output directory %s (%v): choose a writable --out", result.ErrBadInput, dir, err)
		}
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return fmt.Errorf("%w: output directory %s is not writable (%v): choose a writable --out", result.ErrBadInput, dir, err)
	}
	return os.Remove(probe)
}
