package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// KeyDist is how an overwriter picks which preloaded key to change next.
type KeyDist string

const (
	// Uniform picks every key with the same probability: the most distinct
	// pages dirtied per write, so the most copy-on-write during a save.
	Uniform KeyDist = "uniform"
	// Zipf picks keys by rank with probability ∝ 1/(1+rank)^s: a few hot
	// keys take most writes, so few distinct pages are dirtied.
	Zipf KeyDist = "zipf"
)

// ParseKeyDist validates a distribution name from a scenario or flag.
func ParseKeyDist(s string) (KeyDist, error) {
	switch KeyDist(s) {
	case Uniform, Zipf:
		return KeyDist(s), nil
	case "":
		return Uniform, nil
	}
	return "", fmt.Errorf("unknown key distribution %q: use uniform or zipf", s)
}

// OverwriteConfig configures an overwriter of the preloaded dataset.
type OverwriteConfig struct {
	// Addr returns the current endpoint, called on every (re)connect.
	Addr func() string
	// Conn is how its connections authenticate and encrypt.
	Conn valkeyconn.Settings
	// Prefix is the run prefix; the overwriter changes DatasetKey(Prefix, i)
	// for i in [0, Keys): the preloaded, unjudged keys, never a measured write.
	Prefix string
	Keys   int64
	// ValueSize is the size of each new value (default 100: as preloaded, so
	// the allocator reuses the same size class).
	ValueSize int
	Dist      KeyDist // default Uniform
	// ZipfS is the Zipf exponent s > 1 (default 1.1).
	ZipfS float64
	// Pacer decides when each overwrite is due (open loop, absolute schedule).
	Pacer Pacer
	Conns int // default 4
	// MaxOps and MaxDuration bound the schedule (both required).
	MaxOps      uint64
	MaxDuration time.Duration
	OpTimeout   time.Duration // default 1 s
	DialTimeout time.Duration // default 200 ms
	// Seed makes the key sequence reproducible; 0 picks one.
	Seed uint64
}

func (cfg *OverwriteConfig) validate() error {
	switch {
	case cfg.Addr == nil:
		return errors.New("overwrite config: Addr is nil")
	case cfg.Prefix == "":
		return errors.New("overwrite config: Prefix is empty: overwrites must stay under the run's prefix")
	case cfg.Keys <= 0:
		return fmt.Errorf("overwrite config: Keys %d: preload a dataset to overwrite first", cfg.Keys)
	case cfg.Pacer == nil:
		return errors.New("overwrite config: Pacer is nil")
	case cfg.MaxOps == 0 || cfg.MaxDuration <= 0:
		return errors.New("overwrite config: MaxOps and MaxDuration must be > 0")
	case cfg.Conns < 0 || cfg.ValueSize < 0 || cfg.OpTimeout < 0 || cfg.DialTimeout < 0:
		return errors.New("overwrite config: negative Conns, ValueSize, OpTimeout or DialTimeout")
	}
	if _, err := ParseKeyDist(string(cfg.Dist)); err != nil {
		return fmt.Errorf("overwrite config: %w", err)
	}
	if cfg.Dist == "" {
		cfg.Dist = Uniform
	}
	if cfg.ZipfS == 0 {
		cfg.ZipfS = 1.1
	}
	if !(cfg.ZipfS > 1) {
		return fmt.Errorf("overwrite config: ZipfS %g must be > 1", cfg.ZipfS)
	}
	if cfg.Conns == 0 {
		cfg.Conns = 4
	}
	if cfg.ValueSize == 0 {
		cfg.ValueSize = defaultValueSize
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = defaultOpTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64()
	}
	return nil
}

// OverwriteStats counts an overwriter's ops by outcome. They are load, not
// evidence: nothing here goes into the judged History.
type OverwriteStats struct {
	Issued, Acked, Failed, Unknown uint64
	// Distinct is the number of different keys acknowledged at least once:
	// what the copy-on-write model needs (a key overwritten twice dirties
	// its pages once).
	Distinct uint64
	// Elapsed is from the start to the end of the schedule (so far, while running).
	Elapsed time.Duration
}

// Overwriter changes preloaded keys on an open-loop schedule: op n is due at
// start + the pacer's time for n, whatever happened to the ops before it.
type Overwriter struct {
	cfg    OverwriteConfig
	start  time.Time
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	hits    uint64
	lastDue time.Duration
	ended   bool

	issued, acked, failed, unknown, distinct atomic.Uint64
	touched                                  []atomic.Uint64 // one bit per key
	endedAt                                  atomic.Int64

	wg   sync.WaitGroup
	done chan struct{}
}

// StartOverwriter validates cfg and starts at once. It stops by itself when
// the schedule ends (MaxOps, MaxDuration, the pacer), on Stop or when ctx
// ends; Done is closed then.
func StartOverwriter(ctx context.Context, cfg OverwriteConfig) (*Overwriter, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := &Overwriter{cfg: cfg, done: make(chan struct{}), touched: make([]atomic.Uint64, (cfg.Keys+63)/64)}
	o.ctx, o.cancel = context.WithCancel(ctx)
	o.start = time.Now()
	for i := 0; i < cfg.Conns; i++ {
		o.wg.Add(1)
		go o.run(newKeyPicker(cfg, uint64(i)))
	}
	go func() {
		o.wg.Wait()
		o.endedAt.Store(int64(time.Since(o.start)))
		o.cancel()
		close(o.done)
	}()
	return o, nil
}

// Done closes when every worker has finished.
func (o *Overwriter) Done() <-chan struct{} { return o.done }

// Stop ends the schedule, waits for in-flight ops and returns the counts.
func (o *Overwriter) Stop() OverwriteStats {
	o.cancel()
	<-o.done
	return o.Stats()
}

// Stats is a snapshot of the counts so far.
func (o *Overwriter) Stats() OverwriteStats {
	el := time.Duration(o.endedAt.Load())
	if el == 0 {
		el = time.Since(o.start)
	}
	return OverwriteStats{
		Issued: o.issued.Load(), Acked: o.acked.Load(), Failed: o.failed.Load(),
		Unknown: o.unknown.Load(), Distinct: o.distinct.Load(), Elapsed: el,
	}
}

// claim takes the next op of the schedule and its due time.
func (o *Overwriter) claim() (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || o.ctx.Err() != nil || o.hits >= o.cfg.MaxOps {
		o.ended = true
		return 0, false
	}
	due, stop := dueAt(o.cfg.Pacer, o.hits, o.lastDue, time.Since(o.start))
	if stop || due >= o.cfg.MaxDuration {
		o.ended = true
		return 0, false
	}
	o.hits++
	o.lastDue = due
	return due, true
}
