package scenarios

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/progress"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// started is what the prepare phase learned: the server and the rules it
// really runs (an ECS task runs its task definition's).
type started struct {
	inst  target.Instance
	rules savepolicy.Rules
}

// prepare starts (or locates) the trial's server and reads the save rules
// in force. Run and DryRun both begin a trial with it.
func prepare(ctx context.Context, env *trialEnv) (started, error) {
	inst, err := env.cfg.Target.Start(ctx, env.plan.startSpec())
	if err != nil {
		return started{}, err
	}
	env.addr.Store(inst.Addr)
	env.logf("server %s up at %s (%s)", inst.ID, inst.Addr, inst.ServerVersion)
	// The run's first connection, made as every later one will be: wrong
	// credentials or TLS settings are bad input, found before any load.
	if err := env.cfg.Conn.Check(ctx, inst.Addr, 10*time.Second); errors.Is(err, valkeyconn.ErrRejected) {
		return started{inst: inst}, fmt.Errorf("%w: %w", result.ErrBadInput, err)
	}
	rules, err := savepolicy.FromServer(ctx, env.cfg.Conn, inst.Addr)
	if err != nil {
		return started{inst: inst}, fmt.Errorf("read the save rules of the server just started: %w", err)
	}
	srv := started{inst: inst, rules: rules}
	if rules.String() == env.plan.Rules.String() {
		return srv, nil
	}
	if targetKind(env.cfg) == "local" {
		return srv, fmt.Errorf("server runs save rules %q, asked for %q", rules, env.plan.Rules)
	}
	// Rates planned from --save (load.rule) would exercise the wrong rule
	// against other rules; an explicit rate is measured against the rules
	// the server runs.
	if env.plan.RuleIndex >= 0 && env.cfg.Rate == 0 {
		return srv, fmt.Errorf("%w: the server runs save rules %q (its task definition), but the run planned rates for %q: pass --save %q (and --time-scale 1)",
			result.ErrBadInput, rules, env.plan.Rules, rules)
	}
	return srv, nil
}

// preload builds the dataset and writes the marker key the serving probe
// reads.
func preload(ctx context.Context, env *trialEnv) (result.Dataset, error) {
	p := env.plan
	ds := result.Dataset{Keys: p.Keys, ValueBytes: p.DatasetSize}
	if p.Keys > 0 {
		env.logf("preloading %d keys of %d B", p.Keys, p.DatasetSize)
		var onBatch func(int64)
		var ph *progress.Phase
		if p.Keys >= longPreload {
			ph = env.out.Phase("preload", float64(p.Keys), "keys")
			onBatch = func(n int64) { ph.Add(float64(n)) }
		}
		st, err := loadgen.PreloadWithProgress(ctx, env.cfg.Conn, env.currentAddr(), p.Prefix, p.Keys, p.DatasetSize, 4, onBatch)
		if ph != nil {
			ph.Done("")
		}
		if err != nil {
			return ds, fmt.Errorf("preload %d keys: %w", p.Keys, err)
		}
		env.logf("preloaded %d keys (%.1f MB) in %.2fs", st.Keys, float64(st.Bytes)/1e6, st.Duration.Seconds())
	}
	if _, err := env.probe().Do(ctx, env.currentAddr(), 5*time.Second, "SET", env.markerKey(), "marker"); err != nil {
		return ds, fmt.Errorf("write marker key: %w", err)
	}
	return ds, nil
}

// snapshotDataset takes a snapshot so the dataset is on disk before the
// measured phase; its fork is the oldest snapshot a replacement may
// legitimately load, and its duration re-plans the rate.
func snapshotDataset(ctx context.Context, env *trialEnv) (probe.Snapshot, error) {
	snap, err := env.probe().TakeSnapshot(ctx, env.currentAddr())
	if err != nil {
		return snap, fmt.Errorf("snapshot the preloaded dataset: %w", err)
	}
	env.logf("dataset snapshot taken in %.2fs", snap.Duration().Seconds())
	return snap, nil
}

// SnapshotRestorer is a target that can keep a copy of dump.rdb and put it
// back while no server runs (target/local): a volume backup and restore.
type SnapshotRestorer interface {
	KeepSnapshot(name string) error
	RestoreSnapshot(name string) error
}

const oldestSnapshot = "oldest"

// keepOldest keeps the dataset's snapshot when the scenario restores it.
func keepOldest(env *trialEnv) error {
	if env.plan.Scenario.Restore == "" {
		return nil
	}
	r, ok := env.cfg.Target.(SnapshotRestorer)
	if !ok {
		return fmt.Errorf("%w: scenario %s restores an old snapshot, which this target cannot do (use the local target)", result.ErrBadInput, env.plan.Scenario.Name)
	}
	return r.KeepSnapshot(oldestSnapshot)
}

// restoreOldest puts the kept snapshot back before the replacement starts.
func restoreOldest(env *trialEnv) error {
	if env.plan.Scenario.Restore == "" {
		return nil
	}
	if err := env.cfg.Target.(SnapshotRestorer).RestoreSnapshot(oldestSnapshot); err != nil {
		return fmt.Errorf("restore the oldest snapshot: %w", err)
	}
	env.logf("dump.rdb replaced by the dataset's snapshot (a volume restored from an old backup)")
	return nil
}
