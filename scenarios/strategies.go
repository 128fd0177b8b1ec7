package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// ReaderSpec is a scenario's cache-aside application: GETs over a key space
// larger than the preload, a simulated origin on a miss, the value SET back.
type ReaderSpec struct {
	Rate              string   `yaml:"rate"`   // e.g. 2000/s, real time (scaled like the writer's)
	Keys              uint64   `yaml:"keys"`   // key space; default 2 x the dataset
	Zipf              float64  `yaml:"zipf"`   // > 1, or 0 for uniform
	Client            string   `yaml:"client"` // default | tuned | resp
	Concurrency       int      `yaml:"concurrency"`
	OriginLatency     Duration `yaml:"origin_latency"`
	OriginConcurrency int      `yaml:"origin_concurrency"`
	TTL               Duration `yaml:"ttl"`
	Steady            Duration `yaml:"steady"` // the window before the fault that is steady state; default 3s
	Bin               Duration `yaml:"bin"`    // time-series bin; default 100ms

	ratePerS float64
}

// validateStrategies parses persistence and the reader once, so a typo is
// refused before any trial runs.
func (s *Scenario) validateStrategies() error {
	for _, p := range s.Persistence {
		st, err := savepolicy.ParseStrategy(p)
		if err != nil {
			return fmt.Errorf("persistence: %s", strings.TrimPrefix(err.Error(), "bad input: "))
		}
		s.strategies = append(s.strategies, st)
	}
	if s.HostLoss && !strings.HasPrefix(s.Storage["mode"], "efs-") {
		return fmt.Errorf("host_loss drops what the storage holds unsynced: it needs EFS-like storage (storage: {mode: efs-elastic})")
	}
	if s.Reader == nil {
		return nil
	}
	r := s.Reader
	if r.Rate == "" {
		return fmt.Errorf("reader.rate is required (e.g. rate: 2000/s)")
	}
	rate, err := savepolicy.ParseRate(r.Rate)
	if err != nil {
		return fmt.Errorf("reader.rate: %w", err)
	}
	r.ratePerS = rate
	client, err := loadgen.ParseReaderClient(r.Client)
	if err != nil {
		return fmt.Errorf("reader.client: %w", err)
	}
	if r.Zipf != 0 && !(r.Zipf > 1) {
		return fmt.Errorf("reader.zipf %g: use a Zipf exponent above 1 (e.g. 1.1), or 0 for uniform keys", r.Zipf)
	}
	s.reader = &loadgen.ReaderConfig{Keys: r.Keys, ZipfS: r.Zipf, Client: client, Concurrency: r.Concurrency,
		OriginLatency: time.Duration(r.OriginLatency), OriginConcurrency: r.OriginConcurrency, FillTTL: time.Duration(r.TTL)}
	return nil
}

// strategiesOf is what a scenario runs: its persistence list, the run's
// --persistence over it, rdb by default.
func strategiesOf(cfg Config, s *Scenario) []savepolicy.Strategy {
	switch {
	case cfg.Persistence != "":
		return []savepolicy.Strategy{cfg.Persistence}
	case len(s.strategies) > 0:
		return s.strategies
	}
	return []savepolicy.Strategy{savepolicy.StrategyRDB}
}

// serverArgs are the strategy's server arguments besides --save (the
// target passes StartSpec.Save itself), then the scenario's own.
func serverArgs(st savepolicy.Strategy, extra []string) []string {
	args := st.ServerArgs(nil)
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--save" {
			i++ // its value
			continue
		}
		out = append(out, args[i])
	}
	return append(out, extra...)
}

// readerConfig completes the scenario's reader for one trial.
func (p TrialPlan) readerConfig(env *trialEnv) (loadgen.ReaderConfig, time.Duration, bool) {
	spec := p.Scenario.Reader
	if spec == nil {
		return loadgen.ReaderConfig{}, 0, false
	}
	cfg := *p.Scenario.reader
	rate := spec.ratePerS / p.TimeScale
	if cfg.Keys == 0 {
		cfg.Keys = uint64(max(2*p.Keys, 1000))
	}
	cfg.Addr, cfg.Prefix, cfg.Pacer, cfg.Base, cfg.Seed = env.currentAddr, p.Prefix, loadgen.ConstantPacer{Freq: rate}, env.base, uint64(env.cfg.Seed)+uint64(p.Seq)
	cfg.ValueSize = p.DatasetSize
	cfg.Conn = env.cfg.Conn
	steady := time.Duration(spec.Steady)
	if steady <= 0 {
		steady = 3 * time.Second
	}
	return cfg, steady, true
}

// strategyFault is how the fault meets persistence: a crash (or SHUTDOWN
// NOSAVE), a graceful stop (a stop, or a rolling deployment, which stops
// the old task the same way), or a crash that also takes the host's
// unsynced writes.
func strategyFault(p TrialPlan, hostLoss bool) savepolicy.Fault {
	switch {
	case p.Fault.Graceful():
		return savepolicy.FaultStop
	case hostLoss:
		return savepolicy.FaultHostLoss
	}
	return savepolicy.FaultCrash
}

// UnsyncedDropper is a target whose storage can lose what the server wrote
// but did not fsync (target/local on the EFS emulator).
type UnsyncedDropper interface {
	DropUnsynced() (bytes int64, err error)
}

// dropUnsynced models the host going with the fault (host_loss: true):
// after a crash, before the replacement starts.
func dropUnsynced(env *trialEnv) (*result.HostLoss, error) {
	if !env.plan.Scenario.HostLoss || env.plan.Fault.Graceful() {
		return nil, nil
	}
	d, ok := env.cfg.Target.(UnsyncedDropper)
	if !ok {
		return nil, fmt.Errorf("%w: host_loss needs EFS-like storage the target can fault (the local target)", result.ErrBadInput)
	}
	n, err := d.DropUnsynced()
	if err != nil {
		return nil, fmt.Errorf("drop unsynced data: %w", err)
	}
	env.logf("the host went with the fault: %d unsynced bytes dropped from the storage", n)
	return &result.HostLoss{DroppedBytes: n}, nil
}

// readerRun is the cache-aside application while it runs.
type readerRun struct {
	r      *loadgen.Reader
	client loadgen.ReaderClient
	bin    time.Duration
	stdy   time.Duration
	base   time.Time
	once   sync.Once
	done   readsDone
}

// readsDone is what the reader saw, summarised around the fault.
type readsDone struct {
	summary *result.ReadSummary
	fills   []time.Duration // when each fill was acknowledged, for the change-rate check
	err     error           // the reads' spool could not be read
}

// startReader starts the scenario's reader beside the writer (nil: none),
// bounded as the writer is (limit): a fixed bound (10 min, before) ended a
// time-scale-1 trial's reads before its fault, whose recovery the summary
// then never saw. A reader that may make more reads than a History keeps
// in memory spools them (56 B each), as the writer does its ops.
func startReader(ctx context.Context, env *trialEnv, limit time.Duration) (*readerRun, error) {
	cfg, steady, ok := env.plan.readerConfig(env)
	if !ok {
		return nil, nil
	}
	cfg.MaxDuration = limit
	cfg.MaxReads = uint64(math.Ceil(cfg.Pacer.Rate(0)*limit.Seconds())) + 1
	if above := env.cfg.spoolAbove(); above < 0 || cfg.MaxReads > uint64(above) {
		cfg.Spool = filepath.Join(env.cfg.OutDir, "trials", result.SafeName(env.plan.Label)+readSpoolSuffix)
		if err := os.Remove(cfg.Spool); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the reader's spool: %w", err) // an earlier, killed run's
		}
	}
	r, err := loadgen.StartReader(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("start reader: %w", err)
	}
	bin := time.Duration(env.plan.Scenario.Reader.Bin)
	env.logf("reading cache-aside at %s over %d keys (%s client)", savepolicy.FormatRate(cfg.Pacer.Rate(0)), cfg.Keys, cfg.Client)
	if cfg.Spool != "" {
		env.logf("the reads stream to %s (up to %d reads)", cfg.Spool, cfg.MaxReads)
	}
	return &readerRun{r: r, client: cfg.Client, bin: bin, stdy: steady, base: env.base}, nil
}

// stop ends the reader (idempotent) and summarises its reads around the
// fault; a spool goes once summarised (reads are never evidence).
func (rr *readerRun) stop(tFault time.Time) readsDone {
	if rr == nil {
		return readsDone{}
	}
	rr.once.Do(func() {
		reads := rr.r.Stop()
		var fault time.Duration
		if !tFault.IsZero() {
			fault = tFault.Sub(rr.base)
		}
		s, err := loadgen.SummarizeReadLog(reads, loadgen.ReadSummaryOptions{Fault: fault, Bin: rr.bin, Steady: rr.stdy})
		if err == nil {
			s.Client = string(rr.client)
			rr.done.summary = &s
			err = reads.Chunks(0, func(chunk []loadgen.Read) bool {
				for i := range chunk {
					if chunk[i].Fill == loadgen.FillOK {
						rr.done.fills = append(rr.done.fills, chunk[i].FillDone)
					}
				}
				return true
			})
		}
		if rmErr := reads.Remove(); err == nil {
			err = rmErr
		}
		if err != nil {
			rr.done.err = fmt.Errorf("the reader's reads: %w", err)
		}
	})
	return rr.done
}
