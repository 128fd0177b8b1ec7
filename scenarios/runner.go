package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
)

// Version is the harness version recorded in every result.
var Version = "0.1.0-dev"

// Config is everything one `valkey-chaos run` needs besides its scenarios.
type Config struct {
	RunID     string
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
	// SLOs apply to every trial, on top of each scenario's expect block.
	SLOs []string
	slos []slo.SLO // SLOs, parsed by Run

	Target     Target
	TargetInfo result.Target // kind, server version, ...; rules filled in by the Runner
	// Progress receives one line per phase; nil discards.
	Progress io.Writer
	Args     []string
}

// TrialPlan is one expanded trial: a scenario with a fixed fault and rate.
type TrialPlan struct {
	Scenario  *Scenario
	Fault     target.FaultKind
	Index     int
	RuleIndex int     // -1 when the rate is explicit
	RealRate  float64 // writes/s at time scale 1
	Label     string

	// Settings resolved once, the flags (Config) over the scenario's own,
	// so a trial and its dry run agree.
	Keys        int64         // dataset keys to preload
	StopTimeout time.Duration // SIGTERM to SIGKILL the run asks for; 0: the target's
	FaultAt     float64       // fraction of the way from a save's end to the next fork
}

// startSpec is what the target starts for this trial.
func (p TrialPlan) startSpec(cfg Config) target.StartSpec {
	s := p.Scenario
	return target.StartSpec{
		Save:          cfg.SaveReal.Scale(cfg.TimeScale).String(),
		ExtraArgs:     s.ServerArgs,
		Label:         p.Label,
		StopTimeout:   p.StopTimeout,
		RestartDelay:  time.Duration(s.RestartDelay),
		Storage:       s.Storage,
		KeepTempFiles: s.KeepTempFiles,
	}
}

// keyPrefix is the trial's key namespace. DESIGN.md names keys
// vc:<run-id>:<seq>; the trial number in the prefix (and loadgen's w: for
// measured writes, d: for the dataset) scopes the read-back, the
// unexpected-key scan and the cleanup to one trial, so a trial never takes
// the previous trial's keys for its own.
func keyPrefix(runID string, seq int) string { return fmt.Sprintf("vc:%s.%d:", runID, seq) }

// Plan expands scenarios into trials: one per fault, per exercised rule and
// per repetition, in a stable order.
func Plan(cfg Config, scens []*Scenario) ([]TrialPlan, error) {
	trials := max(cfg.Trials, 1)
	var plans []TrialPlan
	for _, s := range scens {
		rates, err := planRates(cfg, s)
		if err != nil {
			return nil, fmt.Errorf("%w: scenario %s: %v", result.ErrBadInput, s.Name, err)
		}
		keys := s.Dataset.Keys
		switch {
		case s.sizeKeys > 0:
			keys = s.sizeKeys // a capacity sweep sets each trial's size
		case cfg.Keys >= 0:
			keys = cfg.Keys
		}
		stop := time.Duration(s.StopTimeout)
		if cfg.StopTimeout > 0 {
			stop = cfg.StopTimeout
		}
		faultAt := s.FaultAt
		if faultAt == 0 {
			faultAt = 0.9
		}
		for _, rc := range rates {
			for _, f := range s.Faults {
				kind, _ := target.ParseFaultKind(f)
				for rep := 0; rep < trials; rep++ {
					label := fmt.Sprintf("%s-%s-%s", s.Name, rc.tag, kind) + s.sizeLabel() // sweep trials differ only in size
					if trials > 1 {
						label += fmt.Sprintf("-%d", rep)
					}
					plans = append(plans, TrialPlan{Scenario: s, Fault: kind, Index: rep, RuleIndex: rc.rule, RealRate: rc.real, Label: label,
						Keys: keys, StopTimeout: stop, FaultAt: faultAt})
				}
			}
		}
	}
	return plans, nil
}

// rateChoice is one write rate a scenario exercises.
type rateChoice struct {
	rule int     // index into the rules that fires at this rate; -1: not chosen by rule
	real float64 // writes/s at time scale 1
	tag  string  // for the trial's label
}

// planRates picks a scenario's write rates: --rate, one per rule (each), a
// sweep across the sawtooth, one rule by index, or the scenario's rate.
// Rules are chosen on the scaled rules, the ones the server runs.
func planRates(cfg Config, s *Scenario) ([]rateChoice, error) {
	scaled := cfg.SaveReal.Scale(cfg.TimeScale)
	byRule := func(i int) (rateChoice, bool) {
		rate, ok := savepolicy.ExerciseRate(scaled, i)
		return rateChoice{i, rate * cfg.TimeScale, strings.ReplaceAll(cfg.SaveReal[i].String(), " ", "-")}, ok
	}
	switch {
	case cfg.Rate > 0:
		return []rateChoice{{-1, cfg.Rate, fmtRate(cfg.Rate)}}, nil
	case s.Load.Rule == "":
		return []rateChoice{{-1, s.ratePerS, fmtRate(s.ratePerS)}}, nil
	case len(scaled) == 0:
		return nil, fmt.Errorf("load.rule %s needs save rules, but they are empty", s.Load.Rule)
	case s.Load.Rule == "each":
		var rates []rateChoice
		for i := range scaled {
			if rc, ok := byRule(i); ok { // else a shorter rule always fires first
				rates = append(rates, rc)
			}
		}
		return rates, nil
	case s.Load.Rule == "sweep":
		var rates []rateChoice
		for _, rate := range savepolicy.SweepRates(scaled, s.Load.Points) {
			rule := slices.Index(scaled, savepolicy.Predict(scaled, rate, 0).Rule)
			rates = append(rates, rateChoice{rule, rate * cfg.TimeScale, fmtRate(rate * cfg.TimeScale)})
		}
		return rates, nil
	}
	i, _ := strconv.Atoi(s.Load.Rule) // validated
	if i >= len(scaled) {
		return nil, fmt.Errorf("load.rule %d but the save rules %q have %d rules", i, cfg.SaveReal, len(scaled))
	}
	rc, ok := byRule(i)
	if !ok {
		return nil, fmt.Errorf("no write rate makes rule %q fire first", cfg.SaveReal[i])
	}
	return []rateChoice{rc}, nil
}

func fmtRate(r float64) string {
	return strings.ReplaceAll(strconv.FormatFloat(r, 'g', 4, 64), ".", "_") + "ps"
}

// Run executes every planned trial in order and returns the run result. The
// result file is rewritten after every trial, so an interrupted run leaves a
// valid partial result with "complete": false.
func Run(ctx context.Context, cfg Config, scens []*Scenario) (*result.Run, error) {
	if err := savepolicy.ValidateTimeScale(cfg.TimeScale); err != nil {
		return nil, fmt.Errorf("%w: %v", result.ErrBadInput, err)
	}
	// --slo is checked before any trial: a typo must not cost a whole run.
	slos, err := slo.ParseAll(cfg.SLOs)
	if err != nil {
		return nil, fmt.Errorf("--slo: %w", err)
	}
	cfg.slos = slos
	scens, err = prepareScenarios(cfg, scens)
	if err != nil {
		return nil, err
	}
	plans, err := Plan(cfg, scens)
	if err != nil {
		return nil, err
	}
	if len(plans) == 0 {
		return nil, fmt.Errorf("%w: the scenarios expand to no trials", result.ErrBadInput)
	}
	if err := checkFaults(cfg, plans); err != nil {
		return nil, err
	}
	if err := PrepareOutDir(cfg.OutDir); err != nil {
		return nil, err
	}
	info := cfg.TargetInfo
	info.Save = cfg.SaveReal.Scale(cfg.TimeScale).String()
	info.SaveReal = cfg.SaveReal.String()
	info.TimeScale = cfg.TimeScale
	run := &result.Run{
		Schema:        result.Schema,
		RunID:         cfg.RunID,
		StartedUnixMs: time.Now().UnixMilli(),
		Harness:       result.Harness{Version: Version, GoVersion: runtime.Version()},
		Args:          cfg.Args,
		Target:        info,
		Trials:        []result.Trial{},
		SLOs:          cfg.SLOs,
	}
	if err := result.Write(cfg.OutDir, run); err != nil {
		return nil, err
	}
	out := cfg.Progress
	if out == nil {
		out = io.Discard
	}
	// One printer for the run: long waits redraw a line with their ETA on a
	// terminal and print a plain line every few seconds in a CI log.
	progress := progressPrinter(out)
	for i, plan := range plans {
		if ctx.Err() != nil {
			break
		}
		progress.Logf("[%d/%d] %s: %s at %s (scaled)", i+1, len(plans), plan.Label, plan.Fault, savepolicy.FormatRate(plan.RealRate/cfg.TimeScale))
		tr := &trialRun{cfg: cfg, plan: plan, seq: i, out: progress}
		trial, err := tr.execute(ctx)
		if trial != nil {
			run.Trials = append(run.Trials, *trial)
			run.Target.Storage = withStorage(run.Target.Storage, trial)
			if run.Target.Dataset.Keys == 0 {
				run.Target.Dataset = tr.dataset
			}
			if run.Target.ServerVersion == "" {
				run.Target.ServerVersion = tr.serverVersion
			}
			if len(tr.rules) > 0 && tr.rules.String() != run.Target.Save {
				// What the server ran (an ECS task runs its task definition's
				// rules), not what --save asked for.
				run.Target.Save = tr.rules.String()
			}
			if tr.stopTimeout > 0 {
				run.Target.StopTimeoutS = tr.stopTimeout.Seconds()
			}
		}
		if werr := result.Write(cfg.OutDir, run); werr != nil {
			return run, werr
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// The run ends here: result.json says why, so whoever reads a
			// partial result can tell a refusal or a harness error from Ctrl-C.
			var why string
			switch {
			case errors.Is(err, target.ErrStopCondition):
				why = fmt.Sprintf("stopped before the fault of trial %s (%d of %d): %v", plan.Label, i+1, len(plans), err)
			case errors.Is(err, result.ErrBadInput):
				why = fmt.Sprintf("refused at trial %s (%d of %d): %v", plan.Label, i+1, len(plans), err)
			default:
				why = fmt.Sprintf("harness error at trial %s (%d of %d): %v", plan.Label, i+1, len(plans), err)
				err = fmt.Errorf("trial %s: %w", plan.Label, err)
			}
			run.FinishedUnixMs = time.Now().UnixMilli()
			run.Interrupted = why
			return run, errors.Join(err, result.Write(cfg.OutDir, run))
		}
		progress.Logf("  -> %s", summaryLine(trial))
	}
	run.FinishedUnixMs = time.Now().UnixMilli()
	if ctx.Err() != nil {
		run.Interrupted = fmt.Sprintf("interrupted after %d of %d trials: %v", len(run.Trials), len(plans), context.Cause(ctx))
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

func summaryLine(t *result.Trial) string {
	if t == nil {
		return "no result"
	}
	w := "n/a"
	switch {
	case t.ReplacementExited != "":
		w = "unknown (never recovered)"
	case t.Lost == 0 && t.Verdict != "invalid":
		w = "none, nothing lost"
	case t.LossWindowS != nil:
		w = fmt.Sprintf("%.2fs [%.2f..%.2f]", t.LossWindowS.Estimate, t.LossWindowS.Low, t.LossWindowS.High)
	}
	lost := fmt.Sprint(t.Lost)
	if t.ReplacementExited != "" {
		lost = "unknown"
	}
	f := func(p *float64) string {
		if p == nil || math.IsNaN(*p) {
			return "n/a"
		}
		return fmt.Sprintf("%.3fs", *p)
	}
	line := fmt.Sprintf("%s: acked %d, lost %s, recovered %d, anomalies %d, loss window %s (predicted <= %.2fs), warm-up %s, server load %s, RTO %s",
		strings.ToUpper(string(t.Verdict)), t.Acked, lost, t.Recovered, t.Anomalies, w, t.PredictedLossWindowS, f(t.WarmupS), f(t.ServerLoadS), f(t.RTOS))
	if len(t.Reasons) > 0 {
		line += "; " + strings.Join(t.Reasons, "; ")
	}
	return line
}
