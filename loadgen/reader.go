package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// ReaderClient names the go-redis settings the reader's application uses.
type ReaderClient string

const (
	// ReaderClientDefault is go-redis as an application gets it from
	// redis.NewClient(&redis.Options{Addr: ...}): RESP3, pool of 10 per CPU,
	// dial timeout 5 s, read/write timeout 3 s, pool timeout 4 s, 3 retries
	// with 8-512 ms backoff (LOADING and lost connections are retried), 5
	// dial retries 100 ms apart, and the pool's dial circuit breaker (after
	// PoolSize failed dials it retries once a second). The one change:
	// maintenance notifications are off, because Valkey rejects them and
	// counts an error per client (FACTS.md Part 2 §2).
	ReaderClientDefault ReaderClient = "default"
	// ReaderClientTuned is what a cache client should use: a cache that is
	// slow or gone is a miss, not a stall. Dial timeout 200 ms, read/write
	// timeout 100 ms, pool timeout 200 ms, 1 retry with 1-10 ms backoff,
	// 1 dial attempt, pool sized to the reader's concurrency.
	ReaderClientTuned ReaderClient = "tuned"
	// ReaderClientRESP is no application's client: raw RESP with the tuned
	// client's timeouts, no retries and no check of a pooled connection
	// before every GET (one idle for over 5 ms is peeked at instead). It is
	// the explicit fast path issue 16 allows for capacity runs that must
	// out-read valkey-benchmark; its error counts after a restart are a
	// client's without retries.
	ReaderClientRESP ReaderClient = "resp"
)

// ParseReaderClient accepts default, tuned or resp.
func ParseReaderClient(s string) (ReaderClient, error) {
	switch c := ReaderClient(s); c {
	case ReaderClientDefault, ReaderClientTuned, ReaderClientRESP:
		return c, nil
	case "":
		return ReaderClientDefault, nil
	}
	return "", fmt.Errorf("reader client %q: use default, tuned or resp", s)
}

// ReaderConfig configures a cache-aside reader.
type ReaderConfig struct {
	// Addr returns the endpoint; the client's dialer calls it on every
	// connect (a replacement task has a new IP, as DNS would give it).
	Addr func() string
	// Conn is how the reader's connections authenticate and encrypt.
	Conn valkeyconn.Settings
	// Prefix is the run prefix; the reader reads and fills
	// DatasetKey(Prefix, i) for i in [0, Keys), so a preload of fewer keys
	// is the warm part of the key space and the rest is filled by misses.
	Prefix string
	// Keys is the size of the key space (required).
	Keys uint64
	// ZipfS is the Zipf exponent (> 1; key 0 is the hottest); 0 draws keys
	// uniformly.
	ZipfS float64
	// Seed makes the sequence of keys reproducible.
	Seed uint64
	// Client selects the go-redis settings (default ReaderClientDefault).
	Client ReaderClient
	// Concurrency is the number of application requests in flight at once
	// (default 64). When all are busy (slow origin, stalled cache), due reads
	// wait and their latency from the intended time grows.
	Concurrency int
	// OriginLatency is how long a fetch from the origin takes (default
	// 20 ms). OriginConcurrency bounds the origin fetches in flight
	// (default 8), as a database connection pool would.
	OriginLatency     time.Duration
	OriginConcurrency int
	// FillTTL is the TTL of the SET after a miss (0: none).
	FillTTL time.Duration
	// ValueSize is the size of a filled value (default 100).
	ValueSize int
	// NoFallback makes a read that fails on the cache give up instead of
	// fetching from the origin. By default an error counts as a miss to the
	// application: it asks the origin but does not fill.
	NoFallback bool
	Pacer      Pacer
	// Base is the trial base (time.Now()); every time recorded is an offset
	// from it.
	Base time.Time
	// MaxReads and MaxDuration bound the schedule (both required).
	MaxReads    uint64
	MaxDuration time.Duration
	// Spool, when set, is a new file the reads are written to as they
	// complete, in claim order, instead of being kept in memory (56 B
	// each): a long trial's reads then take a fixed few MB. Stop's
	// ReadLog reads them back; its Remove deletes the file.
	Spool string
}

const (
	defaultReaderConcurrency = 64
	defaultOriginLatency     = 20 * time.Millisecond
	defaultOriginConcurrency = 8
)

func (cfg *ReaderConfig) validate() error {
	switch {
	case cfg.Addr == nil:
		return errors.New("reader config: Addr is nil")
	case cfg.Prefix == "":
		return errors.New("reader config: Prefix is empty: reads and fills must stay under the run's prefix")
	case cfg.Keys == 0:
		return errors.New("reader config: Keys must be > 0")
	case cfg.ZipfS != 0 && !(cfg.ZipfS > 1):
		return fmt.Errorf("reader config: ZipfS %g: use a value above 1, or 0 for uniform", cfg.ZipfS)
	case cfg.Pacer == nil:
		return errors.New("reader config: Pacer is nil")
	case cfg.Base.IsZero():
		return errors.New("reader config: Base is zero: pass the trial's time.Now()")
	case cfg.MaxReads == 0 || cfg.MaxDuration <= 0:
		return errors.New("reader config: MaxReads and MaxDuration must be > 0")
	case cfg.Concurrency < 0, cfg.OriginConcurrency < 0, cfg.OriginLatency < 0, cfg.FillTTL < 0, cfg.ValueSize < 0:
		return errors.New("reader config: negative Concurrency, OriginConcurrency, OriginLatency, FillTTL or ValueSize")
	}
	client, err := ParseReaderClient(string(cfg.Client))
	if err != nil {
		return fmt.Errorf("reader config: %w", err)
	}
	cfg.Client = client
	cfg.Concurrency = cmpOr(cfg.Concurrency, defaultReaderConcurrency)
	cfg.OriginConcurrency = cmpOr(cfg.OriginConcurrency, defaultOriginConcurrency)
	cfg.ValueSize = cmpOr(cfg.ValueSize, defaultValueSize)
	if cfg.OriginLatency == 0 {
		cfg.OriginLatency = defaultOriginLatency
	}
	return nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// clientOptions are the go-redis options of cfg.Client.
// Timeouts on the client's connections are counted into timeouts: a command
// whose reply timed out may have run on the server, and the tuned client
// then retries it, so the server's counts can exceed the reader's by those.
func (cfg *ReaderConfig) clientOptions(timeouts *atomic.Uint64) *redis.Options {
	addr := cfg.Addr
	opt := cfg.Conn.Apply(&redis.Options{Addr: addr()})
	dialTimeout := 5 * time.Second // go-redis's default
	if cfg.Client == ReaderClientTuned {
		dialTimeout = 200 * time.Millisecond
		opt.DialTimeout = dialTimeout
		opt.ReadTimeout = 100 * time.Millisecond
		opt.WriteTimeout = 100 * time.Millisecond
		opt.PoolTimeout = 200 * time.Millisecond
		opt.MaxRetries = 1
		opt.MinRetryBackoff = time.Millisecond
		opt.MaxRetryBackoff = 10 * time.Millisecond
		opt.DialerRetries = 1
		opt.PoolSize = cfg.Concurrency
	}
	// The same dialer go-redis builds by default, but asking Addr each time.
	// With TLS, Conn.Dial does the handshake (go-redis applies TLSConfig
	// only in its own dialer).
	opt.Dialer = func(ctx context.Context, _, _ string) (net.Conn, error) {
		c, err := cfg.Conn.Dial(ctx, addr(), dialTimeout)
		if err != nil {
			return nil, err
		}
		// go-redis checks an idle connection before reuse only through
		// syscall.Conn: a wrapper without it would hand out connections
		// the server closed (a restart) as if they were alive.
		return countTimeouts(c, timeouts), nil
	}
	return opt
}

// syscallCountingConn is a timeoutCountingConn over a socket go-redis can
// peek at.
type syscallCountingConn struct {
	timeoutCountingConn
	sc syscall.Conn
}

func (c syscallCountingConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

// timeoutCountingConn counts the reads and writes that hit their deadline.
type timeoutCountingConn struct {
	net.Conn
	timeouts *atomic.Uint64
}

func (c timeoutCountingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.count(err)
	return n, err
}

func (c timeoutCountingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.count(err)
	return n, err
}

func (c timeoutCountingConn) count(err error) {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		c.timeouts.Add(1)
	}
}

// ReadResult is what one cache read returned.
type ReadResult uint8

const (
	Hit       ReadResult = 1 // the key was in the cache
	Miss      ReadResult = 2 // nil reply
	ReadError ReadResult = 3 // the cache failed (Err says why)
)

func (r ReadResult) String() string {
	switch r {
	case Hit:
		return "hit"
	case Miss:
		return "miss"
	case ReadError:
		return "error"
	}
	return "invalid"
}

// Fill is what happened to the SET after a miss.
type Fill uint8

const (
	NoFill     Fill = 0 // no fill attempted (hit, error, or origin abandoned)
	FillOK     Fill = 1 // the SET was acknowledged
	FillFailed Fill = 2 // the SET failed or timed out
)

// Read is one application request through the cache. Times are offsets from
// the trial base. The small fields share the last word: 56 bytes, not 64
// (a reader keeps every read until its summary).
type Read struct {
	Key      uint64        // index in the key space
	Intended time.Duration // when the schedule wanted it
	Sent     time.Duration // GET handed to the client
	Done     time.Duration // GET returned (reply or error, retries included)
	OriginAt time.Duration // the origin fetch began (after waiting for a slot)
	FillDone time.Duration // the SET returned
	Result   ReadResult
	Err      ErrKind // for ReadError
	Origin   bool    // fetched from the origin
	Fill     Fill
}

// ReadBytes is what one kept Read takes in memory.
const ReadBytes = uint64(unsafe.Sizeof(Read{}))

// Latency is the GET's latency from the intended time.
func (r Read) Latency() time.Duration { return r.Done - r.Intended }

// ReaderStats are a running reader's counters.
type ReaderStats struct {
	Reads, Hits, Misses, Errors uint64
	Origin                      uint64 // origin fetches made
	Fills                       uint64 // acknowledged SETs: changes the server counts
	FillsFailed                 uint64
	// Timeouts counts requests whose reply (or send) hit the client's
	// deadline: each may have run on the server and been retried.
	Timeouts uint64
}

// Reader reads keys cache-aside on an open-loop schedule: GET; on a miss,
// fetch from the origin and SET it back. Read n is due at the time the Pacer
// gives whatever happened before it; every read is recorded. Reads are never
// evidence of persistence (the writer's History is); fills are changes.
type Reader struct {
	cfg      ReaderConfig
	cache    cache
	start    time.Time
	startOff time.Duration
	ctx      context.Context
	cancel   context.CancelFunc
	origin   chan struct{} // semaphore of origin fetches

	mu      sync.Mutex
	hits    uint64
	lastDue time.Duration
	ended   bool
	zipf    *rand.Zipf
	rng     *rand.Rand
	reads   []Read
	spool   *readSpool // instead of reads, when cfg.Spool is set
	log     *ReadLog   // what Stop returned

	nReads, nHits, nMisses, nErrors, nOrigin, nFills, nFillsFailed, nTimeouts atomic.Uint64

	wg       sync.WaitGroup
	done     chan struct{}
	stopOnce sync.Once
}

// StartReader validates cfg and starts reading at once. It runs until Stop,
// ctx is cancelled, or the schedule ends; Done is closed then.
func StartReader(ctx context.Context, cfg ReaderConfig) (*Reader, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Reader{cfg: cfg, done: make(chan struct{}), origin: make(chan struct{}, cfg.OriginConcurrency)}
	if cfg.Spool != "" {
		sp, err := createReadSpool(cfg.Spool)
		if err != nil {
			return nil, fmt.Errorf("reader config: Spool: %w", err)
		}
		r.spool = sp
	}
	r.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	if cfg.ZipfS > 0 {
		r.zipf = rand.NewZipf(r.rng, cfg.ZipfS, 1, cfg.Keys-1)
	}
	if cfg.Client == ReaderClientRESP {
		r.cache = newRespCache(&r.cfg, &r.nTimeouts)
	} else {
		r.cache = goRedisCache{redis.NewClient(cfg.clientOptions(&r.nTimeouts))}
	}
	r.ctx, r.cancel = context.WithCancel(ctx)
	r.start = time.Now()
	r.startOff = r.start.Sub(cfg.Base)
	for range cfg.Concurrency {
		r.wg.Add(1)
		go r.work()
	}
	go func() {
		r.wg.Wait()
		r.cancel()
		close(r.done)
	}()
	return r, nil
}

// Started is when the schedule began, as an offset from Base.
func (r *Reader) Started() time.Duration { return r.startOff }

// Done is closed when every request has finished.
func (r *Reader) Done() <-chan struct{} { return r.done }

// Stats returns the counters so far.
func (r *Reader) Stats() ReaderStats {
	return ReaderStats{
		Reads: r.nReads.Load(), Hits: r.nHits.Load(), Misses: r.nMisses.Load(), Errors: r.nErrors.Load(),
		Origin: r.nOrigin.Load(), Fills: r.nFills.Load(), FillsFailed: r.nFillsFailed.Load(),
		Timeouts: r.nTimeouts.Load(),
	}
}

// Stop ends the schedule, waits for the requests in flight (bounded by the
// client's timeouts and retries, and one origin latency) and returns every
// read: in memory in no particular order, or spooled in claim order. Stop
// is idempotent.
func (r *Reader) Stop() *ReadLog {
	r.cancel()
	<-r.done
	r.stopOnce.Do(func() {
		_ = r.cache.close()
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.spool != nil {
			r.log = r.spool.close()
		} else {
			r.log = &ReadLog{Reads: r.reads}
		}
	})
	return r.log
}

// claim takes the next due read; ok is false when the schedule is over.
func (r *Reader) claim() (n uint64, due time.Duration, key uint64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended || r.ctx.Err() != nil || r.hits >= r.cfg.MaxReads {
		r.ended = true
		return 0, 0, 0, false
	}
	due, stop := dueAt(r.cfg.Pacer, r.hits, r.lastDue, time.Since(r.start))
	if stop || due >= r.cfg.MaxDuration {
		r.ended = true
		return 0, 0, 0, false
	}
	n = r.hits
	r.hits++
	r.lastDue = due
	if r.zipf != nil {
		key = r.zipf.Uint64()
	} else {
		key = r.rng.Uint64N(r.cfg.Keys)
	}
	return n, due, key, true
}

func (r *Reader) work() {
	defer r.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		n, due, key, ok := r.claim()
		if !ok {
			return
		}
		if wait := time.Until(r.start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-r.ctx.Done():
				timer.Stop()
				if r.spool != nil {
					r.spool.put(n, Read{Result: readNotTaken}) // never sent: not recorded
				}
				return
			}
		}
		rd := r.request(key, r.startOff+due)
		r.count(&rd)
		if r.spool != nil {
			r.spool.put(n, rd)
			continue
		}
		r.mu.Lock()
		r.reads = append(r.reads, rd)
		r.mu.Unlock()
	}
}

func (r *Reader) offset() time.Duration { return time.Since(r.cfg.Base) }

// request is one cache-aside application request.
func (r *Reader) request(key uint64, intended time.Duration) Read {
	rd := Read{Key: key, Intended: intended, Sent: r.offset()}
	name := DatasetKey(r.cfg.Prefix, int64(key))
	// In-flight requests finish after Stop, bounded by the client's timeouts.
	ctx := context.Background()
	found, err := r.cache.get(ctx, name)
	rd.Done = r.offset()
	switch {
	case found:
		rd.Result = Hit
		return rd
	case err == nil:
		rd.Result = Miss
	default:
		rd.Result = ReadError
		_, rd.Err = Classify(err, true)
		if r.cfg.NoFallback {
			return rd
		}
	}
	if !r.fetchOrigin(&rd) || rd.Result != Miss {
		return rd
	}
	value := Value(key, intended, r.cfg.ValueSize)
	err = r.cache.set(ctx, name, value, r.cfg.FillTTL)
	rd.FillDone = r.offset()
	rd.Fill = FillOK
	if err != nil {
		rd.Fill = FillFailed
	}
	return rd
}

// fetchOrigin waits for an origin slot and for the origin's latency. It
// gives up (false) when the reader is stopped while waiting for a slot.
func (r *Reader) fetchOrigin(rd *Read) bool {
	select {
	case r.origin <- struct{}{}:
	case <-r.ctx.Done():
		return false
	}
	defer func() { <-r.origin }()
	rd.Origin = true
	rd.OriginAt = r.offset()
	time.Sleep(r.cfg.OriginLatency)
	return true
}

func (r *Reader) count(rd *Read) {
	r.nReads.Add(1)
	switch rd.Result {
	case Hit:
		r.nHits.Add(1)
	case Miss:
		r.nMisses.Add(1)
	case ReadError:
		r.nErrors.Add(1)
	}
	if rd.Origin {
		r.nOrigin.Add(1)
	}
	switch rd.Fill {
	case FillOK:
		r.nFills.Add(1)
	case FillFailed:
		r.nFillsFailed.Add(1)
	}
}
