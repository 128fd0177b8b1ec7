package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

// runInput is what `run` understood from its flags and arguments, checked
// before any directory, process or AWS call exists.
type runInput struct {
	rules       savepolicy.Rules
	rate        float64 // writes/s at time scale 1; 0: the scenarios'
	scens       []*scenarios.Scenario
	namespace   string // --publish cloudwatch namespace; "" for none
	persistence savepolicy.Strategy
	taskMemory  int64
}

// validateRun checks every flag and argument of `run`: each mistake is one
// line naming the input and the fix, with exit code 2.
func validateRun(f *pflag.FlagSet, args []string, o runOpts) (runInput, error) {
	var in runInput
	if err := validateNumbers(f, o); err != nil {
		return in, err
	}
	var err error
	if in.rules, err = savepolicy.Parse(o.save); err != nil {
		return in, fmt.Errorf("%w: --save: %w", result.ErrBadInput, err)
	}
	if o.rate != "" {
		if in.rate, err = savepolicy.ParseRate(o.rate); err != nil {
			return in, fmt.Errorf("%w: --rate: %w", result.ErrBadInput, err)
		}
	}
	if in.scens, err = scenarios.Resolve(args); err != nil {
		return in, err
	}
	if o.persistence != "" {
		if in.persistence, err = savepolicy.ParseStrategy(o.persistence); err != nil {
			return in, fmt.Errorf("--persistence: %w", err)
		}
	}
	if o.taskMemory != "" {
		if in.taskMemory, err = savepolicy.ParseSize(o.taskMemory); err != nil || in.taskMemory < 16<<20 {
			return in, fmt.Errorf("%w: --task-memory %q: a size of at least 16MiB, e.g. 512MiB", result.ErrBadInput, o.taskMemory)
		}
	}
	if err := validateRulesFor(in.rules, in.scens, in.rate, in.persistence); err != nil {
		return in, fmt.Errorf("%w: --save %q: %w", result.ErrBadInput, o.save, err)
	}
	if o.publish != "" {
		if in.namespace, err = ecs.ParsePublish(o.publish); err != nil {
			return in, err
		}
		if o.targetKind != "ecs" {
			return in, fmt.Errorf("%w: --publish needs --target ecs (metrics go to the AWS account of the service)", result.ErrBadInput)
		}
	}
	return in, nil
}

// validateNumbers checks the numeric flags. A flag left at its default
// keeps its meaning ("the scenario's"); a value given must be one that
// means something, never silently replaced by the default.
func validateNumbers(f *pflag.FlagSet, o runOpts) error {
	given := f.Changed
	checks := []struct {
		bad bool
		msg string
	}{
		{given("keys") && o.keys < 0, fmt.Sprintf("--keys %d: the dataset size must be 0 or more keys (omit --keys for the scenario's)", o.keys)},
		{o.trials < 1, fmt.Sprintf("--trials %d: must be 1 or more repetitions of every trial", o.trials)},
		{given("stop-timeout") && o.stopTimeout <= 0, fmt.Sprintf("--stop-timeout %v: the SIGTERM-to-SIGKILL grace must be more than 0, e.g. 30s (a stop with no grace is the crash fault; omit the flag for the scenario's, else 30s)", o.stopTimeout)},
		{o.restartDelay < 0, fmt.Sprintf("--restart-delay %v: must be 0 or more, e.g. 5s", o.restartDelay)},
		{given("port") && (o.port < 1 || o.port > 65535), fmt.Sprintf("--port %d: a TCP port is 1-65535 (omit --port to get a free one)", o.port)},
		{given("poll-every") && o.ecs.PollEvery <= 0, fmt.Sprintf("--poll-every %v: must be more than 0, e.g. 1s", o.ecs.PollEvery)},
		{given("ecs-timeout") && o.ecs.Timeout <= 0, fmt.Sprintf("--ecs-timeout %v: must be more than 0, e.g. 15m", o.ecs.Timeout)},
	}
	for _, c := range checks {
		if c.bad {
			return fmt.Errorf("%w: %s", result.ErrBadInput, c.msg)
		}
	}
	if err := savepolicy.ValidateTimeScale(o.timeScale); err != nil {
		return fmt.Errorf("%w: --time-scale: %w", result.ErrBadInput, err)
	}
	return nil
}

// validateRulesFor checks the save rules against what the scenarios do with
// them. Persistence off is refused whatever the scenario: a run without
// snapshots is a deliberate experiment with its own strategy.
func validateRulesFor(rules savepolicy.Rules, scens []*scenarios.Scenario, rate float64, persistence savepolicy.Strategy) error {
	if len(rules) == 0 && persistence != "" && !persistence.Snapshots() {
		return nil // no snapshots asked for, and none wanted: --persistence says so
	}
	if len(rules) == 0 {
		return rules.CheckAimable()
	}
	if rate > 0 {
		return nil // --rate replaces every rate chosen from the rules
	}
	for _, s := range scens {
		if s.Load.Rule != "" {
			if err := rules.CheckAimable(); err != nil {
				return fmt.Errorf("scenario %s (load.rule %s): %w", s.Name, s.Load.Rule, err)
			}
		}
	}
	return nil
}

// removeIfUnused removes a run directory this run created when it holds
// nothing but the empty subdirectories PrepareOutDir makes: a run refused
// before its first result leaves no trace. Never touches a directory that
// existed before the run.
func removeIfUnused(dir string, existed bool) {
	if existed {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			return
		}
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil || len(sub) > 0 {
			return
		}
	}
	_ = os.RemoveAll(dir)
}

// preexisting reports whether something is at path already, or it cannot
// tell (then the directory is never removed).
func preexisting(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
