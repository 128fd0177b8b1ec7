package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// loadRun is the measured phase in progress: the open-loop writer and the
// INFO watcher that sees each save.
type loadRun struct {
	writer *loadgen.Writer
	saves  *probe.SaveWatcher
	rate   float64
	rules  savepolicy.Rules
	start  time.Time // the writer's start
	// limit bounds the writer (and the reader beside it): it never stops
	// mid-outage.
	limit time.Duration
	// bgsave is the dataset snapshot's measured BGSAVE: every wait on a
	// save of this dataset allows for it (a 2.5 GB save took 300 s on a
	// busy machine, longer than the cycle itself).
	bgsave time.Duration

	once sync.Once
	done loadDone
}

// loadDone is what the load phase leaves: every op, and every save seen.
type loadDone struct {
	history *loadgen.History
	saves   []probe.SaveEvent
	start   time.Time
	rate    float64 // scaled writes/s the writer was paced at
}

// startLoad starts the writer at rate and the save watcher. The writer is
// bounded generously so it never stops mid-outage: three cycles, the stop
// timeout in force (at most Fargate's 120 s when the scenario leaves it to
// the target), the replacement's ready and serving waits, and the writes
// after recovery. bgsave is the dataset snapshot's measured BGSAVE (0 when
// there was none): each cycle allows for one.
func startLoad(ctx context.Context, env *trialEnv, rate float64, rules savepolicy.Rules, bgsave time.Duration) (*loadRun, error) {
	pred := savepolicy.Predict(rules, rate, 0)
	cycle := pred.NextForkAfterEnd + savepolicy.Granularity + bgsave
	switch {
	case !env.plan.Strategy.Snapshots():
		cycle = time.Minute // no snapshot cycle: the fault lands at a fixed time (placement.go)
	case !pred.Fires:
		return nil, fmt.Errorf("%w: at %s no save rule of %q ever fires: nothing to measure", result.ErrBadInput, savepolicy.FormatRate(rate), rules)
	}
	stopLimit := env.plan.StopTimeout
	if stopLimit <= 0 {
		stopLimit = 2 * time.Minute
	}
	limit := 3*cycle + 2*stopLimit + readyLimit + servingLimit + time.Duration(env.plan.Scenario.AfterRecover) + time.Minute
	maxOps := uint64(rate*limit.Seconds()) + 1000
	spool, err := spoolFor(env, maxOps)
	if err != nil {
		return nil, err
	}
	saves := env.probe().WatchSaves(ctx, env.currentAddr, infoEvery)
	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr:        env.currentAddr,
		Conn:        env.cfg.Conn,
		Prefix:      env.plan.Prefix,
		Conns:       env.plan.Conns,
		ValueSize:   env.plan.ValueSize,
		Client:      env.plan.Client,
		Pacer:       loadgen.ConstantPacer{Freq: rate},
		Base:        env.base,
		MaxOps:      maxOps,
		MaxDuration: limit,
		OpTimeout:   time.Second,
		Spool:       spool,
	})
	if err != nil {
		saves.Stop()
		return nil, fmt.Errorf("start writer: %w", err)
	}
	if spool != "" {
		env.logf("the writes' history streams to %s (up to %d ops, above %d)", spool, maxOps, env.cfg.spoolAbove())
	}
	if pred.Fires {
		env.logf("writing at %s on %d connections%s; waiting for a save during load (rule %s expected)", savepolicy.FormatRate(rate), env.plan.Conns, clientNote(env.plan.Client), pred.Rule)
	} else {
		env.logf("writing at %s on %d connections%s (persistence %s: no snapshot cycle)", savepolicy.FormatRate(rate), env.plan.Conns, clientNote(env.plan.Client), env.plan.Strategy)
	}
	return &loadRun{writer: writer, saves: saves, rate: rate, rules: rules, start: time.Now(), limit: limit, bgsave: bgsave}, nil
}

// clientNote names a writer client other than the default, for the log.
func clientNote(c loadgen.WriterClient) string {
	if c == loadgen.WriterClientRESP {
		return " through the resp client"
	}
	return ""
}

// DefaultSpoolAboveOps is Config.SpoolAboveOps's default: a History of 8Mi
// ops takes 320 MiB in memory; a one-hour trial at 20k writes/s (72M ops)
// would take 2.7 GiB.
const DefaultSpoolAboveOps = 8 << 20

func (c *Config) spoolAbove() int64 {
	if c.SpoolAboveOps == 0 {
		return DefaultSpoolAboveOps
	}
	return c.SpoolAboveOps
}

// spoolFor is the spool file of a trial whose writer may issue maxOps ops,
// "" to keep its History in memory. A spool left in the directory by an
// earlier run that was killed is not this trial's and goes.
func spoolFor(env *trialEnv, maxOps uint64) (string, error) {
	if above := env.cfg.spoolAbove(); above >= 0 && maxOps <= uint64(above) {
		return "", nil
	}
	path := filepath.Join(env.cfg.OutDir, "trials", result.SafeName(env.plan.Label)+spoolSuffix)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("history spool: %w", err)
	}
	return path, nil
}

// stop ends the load (idempotent) and returns what it recorded.
func (l *loadRun) stop() loadDone {
	if l == nil {
		return loadDone{}
	}
	l.once.Do(func() {
		h := l.writer.Stop()
		l.saves.Stop()
		l.done = loadDone{history: h, saves: l.saves.Events(), start: l.start, rate: l.rate}
	})
	return l.done
}
