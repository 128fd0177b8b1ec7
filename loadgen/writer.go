package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// WriterConfig configures an open-loop writer.
type WriterConfig struct {
	// Addr returns the current endpoint (host:port). It is called on every
	// (re)connect: a replacement ECS task comes up on a new IP.
	Addr func() string
	// Conn is how every connection authenticates and encrypts.
	Conn valkeyconn.Settings
	// Prefix is the run prefix, "vc:<run-id>:"; writes go to Key(Prefix, seq).
	Prefix string
	// Conns is the number of connections, each with its own worker
	// (default 16).
	Conns int
	// ValueSize is the size of each value in bytes (default 100, at least
	// MinValueSize).
	ValueSize int
	// Pacer decides when each op is due.
	Pacer Pacer
	// Base is the trial base, taken with time.Now() (monotonic); every time in
	// the History is an offset from it. The schedule itself starts when
	// StartWriter is called.
	Base time.Time
	// StartSeq is the first sequence number (default 1).
	StartSeq uint64
	// MaxOps bounds the number of ops scheduled (required).
	MaxOps uint64
	// MaxDuration bounds the schedule: no op is due at or after MaxDuration
	// from the writer's start (required).
	MaxDuration time.Duration
	// OpTimeout is the per-op read and write timeout (default 1 s); a write
	// that times out is Unknown.
	OpTimeout time.Duration
	// DialTimeout bounds each connection attempt (default 200 ms); a dial
	// that times out fails the ops waiting for it (nothing was sent).
	DialTimeout time.Duration
	// Pipeline is the most ops one connection sends in one round trip
	// (default 16). Only ops that are already due are grouped, so on
	// schedule every op goes alone; behind schedule (a slow server, the end
	// of an outage) grouping lets the writer catch up. Each op is still
	// recorded on its own. 1 never pipelines.
	Pipeline int
	// RefusedPause is how long a connection waits after a failed connect
	// (refused, timed out, no such host) before trying again (default 1 ms),
	// so a dead server is not hammered by a hot loop.
	RefusedPause time.Duration
	// Client is what the SETs go through (default WriterClientGoRedis;
	// WriterClientRESP is the fast path for capacity runs).
	Client WriterClient
	// Spool, when set, is a new file the History is written to as ops
	// complete (fixed-size records in Seq order) instead of being kept in
	// memory: the harness then holds a few MB whatever the trial's length.
	// The History Stop returns reads it back (Len, Chunks, Range); its Ops
	// is nil. The caller owns the file.
	Spool string
}

const (
	defaultConns        = 16
	defaultValueSize    = 100
	defaultOpTimeout    = time.Second
	defaultDialTimeout  = 200 * time.Millisecond
	defaultPipeline     = 16
	defaultRefusedPause = time.Millisecond
)

func (cfg *WriterConfig) validate() error {
	switch {
	case cfg.Addr == nil:
		return errors.New("writer config: Addr is nil")
	case cfg.Prefix == "":
		return errors.New("writer config: Prefix is empty: writes must stay under the run's prefix")
	case cfg.Pacer == nil:
		return errors.New("writer config: Pacer is nil")
	case cfg.Base.IsZero():
		return errors.New("writer config: Base is zero: pass the trial's time.Now()")
	case cfg.MaxOps == 0:
		return errors.New("writer config: MaxOps must be > 0")
	case cfg.MaxDuration <= 0:
		return errors.New("writer config: MaxDuration must be > 0")
	case cfg.Conns < 0 || cfg.Conns > 1<<16-1:
		return fmt.Errorf("writer config: Conns %d out of range 1..65535", cfg.Conns)
	case cfg.ValueSize < 0, cfg.OpTimeout < 0, cfg.DialTimeout < 0, cfg.Pipeline < 0, cfg.RefusedPause < 0:
		return errors.New("writer config: negative ValueSize, OpTimeout, DialTimeout, Pipeline or RefusedPause")
	}
	client, err := ParseWriterClient(string(cfg.Client))
	if err != nil {
		return fmt.Errorf("writer config: %w", err)
	}
	cfg.Client = client
	if cfg.Conns == 0 {
		cfg.Conns = defaultConns
	}
	if cfg.ValueSize == 0 {
		cfg.ValueSize = defaultValueSize
	}
	if cfg.StartSeq == 0 {
		cfg.StartSeq = 1
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = defaultOpTimeout
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	if cfg.Pipeline == 0 {
		cfg.Pipeline = defaultPipeline
	}
	if cfg.RefusedPause == 0 {
		cfg.RefusedPause = defaultRefusedPause
	}
	return nil
}

// LiveStats is a cheap snapshot of a running writer.
type LiveStats struct {
	Issued  uint64        // ops attempted (recorded in the History)
	Acked   uint64        // ops that completed OK
	Failed  uint64        // ops that definitely did not apply
	Unknown uint64        // ops with no reply
	LastAck time.Duration // latest Done of an acknowledged op, from Base
}

// Writer writes keys on an open-loop schedule: op n is due at the time the
// Pacer gives, whatever happened to the ops before it. Late ops go out at
// once (in bursts, pipelined when several are due), and their latency counts
// from the time they were due. Through an outage it keeps writing: every
// scheduled op is attempted and recorded with its outcome.
//
// Each connection has a worker that claims the next due ops from the shared
// schedule (Seq and Intended are assigned together under one lock, so both
// orders agree), sleeps until the first is due, sends them and records them.
type Writer struct {
	cfg      WriterConfig
	start    time.Time     // schedule start; pacer time is measured from here
	startOff time.Duration // start - Base
	ctx      context.Context
	cancel   context.CancelFunc

	mu      sync.Mutex
	hits    uint64        // ops claimed so far
	lastDue time.Duration // due time of the last claimed op (schedule time)
	ended   bool          // the schedule ran out (MaxOps, MaxDuration, pacer)
	halted  bool          // Stop or ctx: claim no more
	cutoff  time.Duration // when halted: claimed ops due at or after it are dropped

	issued, acked, failed, unknown atomic.Uint64
	lastAck                        atomic.Int64

	conns    []*writerConn
	wg       sync.WaitGroup
	done     chan struct{}
	stopOnce sync.Once
	history  *History
	spool    *spool
}

// slot is one claimed op: its index in the schedule and when it is due.
type slot struct {
	n   uint64
	due time.Duration // from the writer's start
}

// StartWriter validates cfg and starts writing at once. The writer runs until
// Stop, ctx is cancelled, or the schedule ends (MaxOps or MaxDuration);
// Done is closed then.
func StartWriter(ctx context.Context, cfg WriterConfig) (*Writer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg, done: make(chan struct{})}
	if cfg.Spool != "" {
		sp, err := createSpool(cfg.Spool, cfg.StartSeq)
		if err != nil {
			return nil, fmt.Errorf("writer config: Spool: %w", err)
		}
		w.spool = sp
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	w.start = time.Now()
	w.startOff = w.start.Sub(cfg.Base)
	w.conns = make([]*writerConn, cfg.Conns)
	for i := range w.conns {
		c := &writerConn{w: w, id: uint16(i)}
		w.conns[i] = c
		w.wg.Add(1)
		go c.run()
	}
	go func() {
		w.wg.Wait()
		w.cancel()
		close(w.done)
	}()
	return w, nil
}

// Started is when the schedule began, as an offset from Base: op n is due at
// Started plus the pacer's time for n.
func (w *Writer) Started() time.Duration { return w.startOff }

// Done is closed when every worker has finished.
func (w *Writer) Done() <-chan struct{} { return w.done }

// Stats returns the counters so far.
func (w *Writer) Stats() LiveStats {
	return LiveStats{
		Issued:  w.issued.Load(),
		Acked:   w.acked.Load(),
		Failed:  w.failed.Load(),
		Unknown: w.unknown.Load(),
		LastAck: time.Duration(w.lastAck.Load()),
	}
}

// Stop ends the schedule, waits for ops in flight (each bounded by
// OpTimeout, a connect by DialTimeout) and returns the History sorted by Seq.
// Ops that were due before Stop and already taken by a connection are
// completed; later ones are never sent and are not in the History, so its
// sequence numbers stay contiguous. Stop is idempotent.
func (w *Writer) Stop() *History {
	w.halt()
	w.cancel()
	<-w.done
	w.stopOnce.Do(func() {
		if w.spool != nil {
			n, err := w.spool.close()
			w.history = &History{spoolPath: w.cfg.Spool, spoolLen: n, spoolVersion: spoolVersion, err: err}
			return
		}
		w.history = collect(w.conns, w.cfg.StartSeq)
	})
	return w.history
}

// collect merges the connections' recorded ops into one History and drops
// the per-connection logs.
func collect(conns []*writerConn, first uint64) *History {
	n := 0
	for _, c := range conns {
		n += c.ops.len()
	}
	h := &History{Ops: mergeBySeq(conns, n, first)}
	for _, c := range conns {
		c.ops = opLog{}
	}
	return h
}

// mergeBySeq gathers the connections' ops, n in all, into Seq order. The
// sequence numbers are contiguous from first, so each op goes straight to its
// slot; a sort is the fallback should that ever not hold.
func mergeBySeq(conns []*writerConn, n int, first uint64) []Op {
	ops := make([]Op, n)
	placed := true
place:
	for _, c := range conns {
		for _, chunk := range c.ops.chunks {
			for _, op := range chunk {
				i := op.Seq - first
				if i >= uint64(n) || ops[i].Outcome != 0 {
					placed = false
					break place
				}
				ops[i] = op
			}
		}
	}
	if placed {
		return ops
	}
	ops = ops[:0]
	for _, c := range conns {
		for _, chunk := range c.ops.chunks {
			ops = append(ops, chunk...)
		}
	}
	slices.SortFunc(ops, func(a, b Op) int { return cmp.Compare(a.Seq, b.Seq) })
	return ops
}

// halt stops claiming; ops due from now on are not sent.
func (w *Writer) halt() {
	w.mu.Lock()
	w.haltLocked()
	w.mu.Unlock()
}

func (w *Writer) haltLocked() {
	if !w.halted {
		w.halted = true
		w.cutoff = time.Since(w.start)
	}
}

// claim reserves the next ops for one connection: up to max ops that are
// already due, or else the single next op, which the caller sleeps for.
// ok is false when the schedule is over.
func (w *Writer) claim(buf []slot, max int) ([]slot, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		w.haltLocked()
	}
	if w.halted || w.ended {
		return buf, false
	}
	now := time.Since(w.start)
	for len(buf) < max {
		if w.hits >= w.cfg.MaxOps {
			w.ended = true
			break
		}
		due, stop := dueAt(w.cfg.Pacer, w.hits, w.lastDue, now)
		if stop || due >= w.cfg.MaxDuration {
			w.ended = true
			break
		}
		if due > now && len(buf) > 0 {
			break // only ops already due share a round trip
		}
		buf = append(buf, slot{n: w.hits, due: due})
		w.hits++
		w.lastDue = due
		if due > now {
			break
		}
	}
	return buf, len(buf) > 0
}

// mayStart reports whether an op due at due (schedule time) may still go out
// after a wait: yes unless the writer halted before it fell due.
func (w *Writer) mayStart(due time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil {
		w.haltLocked()
	}
	return !w.halted || due < w.cutoff
}

func (w *Writer) offset() time.Duration { return time.Since(w.cfg.Base) }

func (w *Writer) count(op *Op) {
	w.issued.Add(1)
	switch op.Outcome {
	case OK:
		w.acked.Add(1)
		for {
			last := w.lastAck.Load()
			if int64(op.Done) <= last || w.lastAck.CompareAndSwap(last, int64(op.Done)) {
				break
			}
		}
	case Fail:
		w.failed.Add(1)
	case Unknown:
		w.unknown.Add(1)
	}
}

// writerConn is one connection and its worker. Only its own goroutine
// touches it until the writer is done.
type writerConn struct {
	w        *Writer
	id       uint16
	client   *redis.Client
	raw      net.Conn      // the client's socket, for the idle check
	lastDone time.Duration // when the last op on this connection finished
	ops      opLog
	sets     []*preparedSet // one pre-built SET per pipeline slot
	cmders   []redis.Cmder  // the same SETs, as a pipeline takes them
	pipe     redis.Pipeliner
	resp     *respConn // WriterClientRESP's connection, instead of client
	replies  []error   // WriterClientRESP: the batch's replies
}

// idleCheck is how long a connection may sit unused before it is checked
// for a server that went away in the meantime.
const idleCheck = 5 * time.Millisecond

func (c *writerConn) run() {
	w := c.w
	defer w.wg.Done()
	defer c.reset()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	batch := make([]slot, 0, w.cfg.Pipeline)
	for {
		var ok bool
		batch, ok = w.claim(batch[:0], w.cfg.Pipeline)
		if !ok {
			return
		}
		if wait := time.Until(w.start.Add(batch[0].due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-w.ctx.Done():
				timer.Stop()
			}
			if !w.mayStart(batch[0].due) {
				return
			}
		}
		if !c.send(batch) {
			timer.Reset(w.cfg.RefusedPause)
			select {
			case <-timer.C:
			case <-w.ctx.Done():
				timer.Stop()
			}
		}
	}
}

func (c *writerConn) record(s slot, sent, done time.Duration, outcome Outcome, kind ErrKind) {
	w := c.w
	op := Op{
		Seq:      w.cfg.StartSeq + s.n,
		Conn:     c.id,
		Intended: w.startOff + s.due,
		Sent:     sent,
		Done:     done,
		Outcome:  outcome,
		Err:      kind,
	}
	w.count(&op)
	if w.spool != nil {
		w.spool.put(s.n, op)
		return
	}
	c.ops.add(op)
}

// reset throws the client away; the next op connects afresh.
func (c *writerConn) reset() {
	switch {
	case c.client != nil:
		_ = c.client.Close()
	case c.raw != nil:
		_ = c.raw.Close()
	}
	c.client, c.raw, c.pipe, c.resp = nil, nil, nil, nil
}

// opLogChunk is how many ops one chunk of an opLog holds (320 KiB).
const opLogChunk = 8192

// opLog is one connection's recorded ops in fixed-size chunks: appending
// never copies what is already recorded, so recording a long trial costs the
// ops' own 40 bytes each and no growth garbage.
type opLog struct {
	chunks [][]Op
	n      int
}

func (l *opLog) add(op Op) {
	if len(l.chunks) == 0 || len(l.chunks[len(l.chunks)-1]) == opLogChunk {
		l.chunks = append(l.chunks, make([]Op, 0, opLogChunk))
	}
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, op)
	l.n++
}

func (l *opLog) len() int { return l.n }
