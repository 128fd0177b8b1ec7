package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// DryRunner is a Target that prints its state-changing calls instead of
// making them (target/ecs with --dry-run).
type DryRunner interface {
	DryRun() bool
}

// DryRun walks every planned trial the way Run would, but changes nothing:
// no load and no fault. A dry run promises to change nothing, and the
// load is a change too (the preload's keys, the BGSAVE that writes
// dump.rdb on the service's EFS, the dirty counter that fires save rules),
// so it skips the load entirely rather than only the fault. For each
// trial it:
//
//   - starts the trial on the target (for ECS: the guardrails, the service
//     settling, the task definition, the endpoint; all read-only);
//   - reads the live save rules (CONFIG GET save) and prints what the trial
//     would write, when it would place the fault and the predicted loss
//     window;
//   - calls Inject and Recover, which in dry-run mode print the exact
//     state-changing calls with their input and make none;
//   - finishes the trial.
//
// It writes no result file. A target that cannot dry-run is refused, so a
// dry run never injects a real fault.
func DryRun(ctx context.Context, cfg Config, scens []*Scenario) error {
	if d, ok := cfg.Target.(DryRunner); !ok || !d.DryRun() {
		return fmt.Errorf("%w: --dry-run needs --target ecs (the local target has nothing to rehearse: it starts its own servers)", result.ErrBadInput)
	}
	cfg, plans, err := setup(cfg, scens)
	if err != nil {
		return err
	}
	out := orDiscard(cfg.Progress)
	printer := progressPrinter(out)
	for i, plan := range plans {
		fmt.Fprintf(out, "[%d/%d] %s: %s (dry run: no load, no fault)\n", i+1, len(plans), plan.Label, plan.Fault)
		if err := dryTrial(ctx, cfg, plan, printer, out); err != nil {
			if errors.Is(err, result.ErrBadInput) || errors.Is(err, target.ErrStopCondition) || ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("trial %s: %w", plan.Label, err)
		}
	}
	fmt.Fprintf(out, "dry run: %d trial(s) checked; nothing was written to Valkey and no state-changing AWS call was made\n", len(plans))
	return nil
}

func dryTrial(ctx context.Context, cfg Config, plan TrialPlan, printer *progress.Printer, out io.Writer) (err error) {
	env := &trialEnv{cfg: cfg, plan: plan, out: printer, base: time.Now()}
	srv, err := prepare(ctx, env)
	if srv.inst.ID == "" && srv.inst.Addr == "" {
		return err
	}
	defer finishTarget(ctx, env, &err)
	if err != nil {
		return err
	}
	rate := plan.Rate
	fmt.Fprintf(out, "  would preload %d keys and write at %s under %s*, then take a snapshot (BGSAVE)\n", plan.Keys, savepolicy.FormatRate(rate), plan.Prefix)
	if plan.RuleIndex >= 0 && plan.Scenario.Load.Rule != "sweep" {
		fmt.Fprintf(out, "  would then re-plan the rate from the measured BGSAVE so that rule %q still fires first, in the regime it has at the real rate\n", plan.Rules[plan.RuleIndex])
	}
	pred := savepolicy.Predict(srv.rules, rate, 0)
	if !pred.Fires {
		return fmt.Errorf("%w: at %s no save rule of %q ever fires: nothing to measure", result.ErrBadInput, savepolicy.FormatRate(rate), srv.rules)
	}
	fmt.Fprintf(out, "  live save rules %q: rule %q fires first; the fault would land at %.0f%% of a %.2fs cycle; predicted loss window <= %.2fs plus the BGSAVE time\n",
		srv.rules, pred.Rule, plan.FaultAt*100, pred.NextForkAfterEnd.Seconds(), pred.WorstWindow.Seconds())
	if _, err := cfg.Target.Inject(ctx, plan.Fault); err != nil {
		return err
	}
	if _, err := cfg.Target.Recover(ctx); err != nil {
		return err
	}
	return nil
}
