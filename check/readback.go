package check

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// Read-back tuning: each worker sends readBackDepth MGETs of `batch` keys per
// round trip on its own connection; a few workers keep the server busy while
// the client parses.
const (
	defaultBatch   = 1000
	readBackDepth  = 8
	readBackConns  = 4
	readTimeout    = time.Minute // one round trip of readBackDepth*batch values; a loaded server answers in ms
	scanCount      = 1000
	maxUnexpectedN = 1 << 20 // distinct unexpected keys remembered (SCAN may repeat keys)
)

// newClient is a go-redis client for bulk reads: no maintenance
// notifications (Valkey rejects them and counts an error per client), no
// CLIENT SETINFO, RESP2, no retries (a read that fails is reported, never
// silently repeated), long timeouts.
func newClient(conn valkeyconn.Settings, addr string, conns int) *redis.Client {
	return conn.NewClient(addr, conns, valkeyconn.Timeouts{Dial: 5 * time.Second, Read: readTimeout, Write: readTimeout, Pool: readTimeout})
}

// UnavailableError is a read-back or scan that the server cut short: the
// connection closed, reset or timed out, nothing listened any more, or the
// server answered LOADING (it restarted). The system under test stopped
// serving, which is a finding about it, not a harness error; what was
// read is partial and says nothing about what was lost. Errors of the
// harness's own (a History that cannot be read, an error reply such as
// NOPERM) are never wrapped in it.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// fromServer marks err, met talking to the server, as UnavailableError
// when it says the server went away; unless ctx ended first (a deadline
// or cancel of the caller's, not the server's doing).
func fromServer(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	switch _, kind := loadgen.Classify(err, true); kind {
	case loadgen.ErrLoading, loadgen.ErrRefused, loadgen.ErrTimeout, loadgen.ErrConn:
		return &UnavailableError{Err: err}
	}
	return err
}

// ReadBack reads the key of every op (loadgen.Key(prefix, seq)) with
// pipelined MGETs of `batch` keys (0: 1000) over a few connections and
// returns what it found, parallel to ops. It fails on the first error (a
// LOADING server, a lost connection: an *UnavailableError): a partial
// read-back would misreport losses.
func ReadBack(ctx context.Context, conn valkeyconn.Settings, addr string, prefix string, ops []loadgen.Op, batch int) ([]Found, error) {
	return readBack(ctx, conn, addr, prefix, OpSlice(ops), batch, false)
}

// ReadBackStream is ReadBack over ops read a chunk at a time (a History
// spooled to disk, loadgen.WriterConfig.Spool): only the result (2 bytes
// per op) grows with the trial's length; each chunk is copied into one of a
// few reused buffers while the workers read it.
func ReadBackStream(ctx context.Context, conn valkeyconn.Settings, addr string, prefix string, ops OpStream, batch int) ([]Found, error) {
	s, inMemory := ops.(OpSlice)
	if inMemory {
		return readBack(ctx, conn, addr, prefix, s, batch, false)
	}
	return readBack(ctx, conn, addr, prefix, ops, batch, true)
}

// readChunk is a run of ops for one worker and where it starts; buf, when
// set, goes back to the free list once read.
type readChunk struct {
	first int
	ops   []loadgen.Op
	buf   []loadgen.Op
}

// readBack feeds the ops in chunks to a few workers; with copyChunks each
// chunk is copied first (a stream's chunk is only valid during its call).
func readBack(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, ops OpStream, batch int, copyChunks bool) ([]Found, error) {
	if batch <= 0 {
		batch = defaultBatch
	}
	n := ops.Len()
	r := &reader{prefix: prefix, batch: batch, found: make([]Found, n)}
	if n == 0 {
		return r.found, nil
	}
	r.rdb = newClient(conn, addr, readBackConns)
	defer r.rdb.Close()
	ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	chunk := batch * readBackDepth
	if copyChunks {
		r.free = make(chan []loadgen.Op, readBackConns+1)
		for range cap(r.free) {
			r.free <- make([]loadgen.Op, chunk)
		}
	}
	next := make(chan readChunk)
	var wg sync.WaitGroup
	for range readBackConns {
		wg.Add(1)
		go func() { defer wg.Done(); r.work(ctx, next) }()
	}
	err := r.feed(ctx, ops, chunk, next)
	close(next)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("read back %d keys: %w", n, err)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read back %d keys: %w", n, err)
	}
	return r.found, nil
}

// reader is one read-back: its workers fill found, and the first error
// cancels the rest.
type reader struct {
	rdb    *redis.Client
	prefix string
	batch  int
	found  []Found
	free   chan []loadgen.Op // copy buffers, when the stream's chunks must be copied
	cancel context.CancelFunc

	errOnce sync.Once
	err     error
}

func (r *reader) fail(err error) {
	r.errOnce.Do(func() { r.err = err; r.cancel() })
}

// work reads the chunks it is given until next closes or one fails.
func (r *reader) work(ctx context.Context, next <-chan readChunk) {
	var mb mgetBatch
	n := len(r.found)
	for c := range next {
		to := c.first + len(c.ops)
		if c.first < 0 || to > n {
			r.fail(fmt.Errorf("read back: the stream gave ops %d..%d of %d", c.first, to-1, n))
			return
		}
		if err := readRange(ctx, r.rdb, r.prefix, c.ops, r.found[c.first:to], r.batch, &mb); err != nil {
			r.fail(fmt.Errorf("read back keys %d..%d of %d: %w", c.first, to-1, n, fromServer(ctx, err)))
			return
		}
		if c.buf != nil {
			r.free <- c.buf // never blocks: there are only cap(free) buffers
		}
	}
}

// feed hands the stream's chunks to the workers, copied into a free buffer
// when r.free is set.
func (r *reader) feed(ctx context.Context, ops OpStream, chunk int, next chan<- readChunk) error {
	var bad error
	err := ops.Chunks(chunk, func(first int, part []loadgen.Op) bool {
		c := readChunk{first: first, ops: part}
		if len(part) > chunk {
			bad = fmt.Errorf("the stream gave %d ops, %d asked", len(part), chunk)
			return false
		}
		if r.free != nil {
			select {
			case c.buf = <-r.free:
			case <-ctx.Done():
				return false
			}
			c.ops = c.buf[:copy(c.buf, part)]
		}
		select {
		case next <- c:
			return true
		case <-ctx.Done():
			return false
		}
	})
	if err == nil {
		err = bad
	}
	return err
}

// readRange reads ops in one pipeline of MGETs of up to batch keys each.
// The keys are written into one reusable buffer and passed as pointers to
// byte slices (go-redis writes an encoding.BinaryMarshaler argument without
// copying it into a string or boxing it): no allocation per key.
func readRange(ctx context.Context, rdb *redis.Client, prefix string, ops []loadgen.Op, found []Found, batch int, mb *mgetBatch) error {
	mb.fill(prefix, ops)
	pipe := rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, 0, (len(ops)+batch-1)/batch)
	for from := 0; from < len(ops); from += batch {
		to := min(from+batch, len(ops))
		args := make([]any, 0, 1+to-from)
		args = append(args, "mget")
		for i := from; i < to; i++ {
			args = append(args, &mb.args[i])
		}
		cmd := redis.NewSliceCmd(ctx, args...)
		_ = pipe.Process(ctx, cmd) // only queues
		cmds = append(cmds, cmd)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for c, cmd := range cmds {
		vals := cmd.Val()
		base := c * batch
		for i, val := range vals {
			s, ok := val.(string)
			if !ok {
				continue // nil: absent
			}
			// ParseValue only reads: view the string's bytes instead of
			// copying a million values.
			seq, _, parsed := loadgen.ParseValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			found[base+i] = Found{Present: true, Match: parsed && seq == ops[base+i].Seq}
		}
	}
	return nil
}

// keyArg is a command argument that is a view of a reusable buffer.
type keyArg struct{ b []byte }

func (a *keyArg) MarshalBinary() ([]byte, error) { return a.b, nil }

var _ encoding.BinaryMarshaler = (*keyArg)(nil)

// mgetBatch holds one worker's keys for a chunk of ops, reused chunk after
// chunk.
type mgetBatch struct {
	keys []byte
	ends []int
	args []keyArg
}

func (mb *mgetBatch) fill(prefix string, ops []loadgen.Op) {
	mb.keys, mb.ends = mb.keys[:0], mb.ends[:0]
	for i := range ops {
		mb.keys = loadgen.AppendKey(mb.keys, prefix, ops[i].Seq)
		mb.ends = append(mb.ends, len(mb.keys))
	}
	if cap(mb.args) < len(ops) {
		mb.args = make([]keyArg, len(ops))
	}
	mb.args = mb.args[:len(ops)]
	start := 0
	for i, end := range mb.ends {
		mb.args[i].b = mb.keys[start:end]
		start = end
	}
}

// ScanUnexpected counts keys under prefix+"w:" that were never written:
// written(seq) says whether the History holds seq, and a key whose suffix is
// not a sequence number is unexpected too. SCAN may return a key more than
// once, so keys are counted once each. A server that went away mid-scan
// is an *UnavailableError.
func ScanUnexpected(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, written func(seq uint64) bool) (int, error) {
	rdb := newClient(conn, addr, 1)
	defer rdb.Close()
	writePrefix := prefix + "w:"
	match := globEscape(writePrefix) + "*"
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return len(seen), fmt.Errorf("scan %s: %w", match, fromServer(ctx, err))
		}
		for _, k := range keys {
			suffix, ok := strings.CutPrefix(k, writePrefix)
			if !ok {
				continue
			}
			if seq, err := strconv.ParseUint(suffix, 10, 64); err == nil && written(seq) {
				continue
			}
			if len(seen) < maxUnexpectedN {
				seen[k] = struct{}{}
			} else {
				return len(seen), errors.New("more than 1M unexpected keys: is the prefix shared with another run?")
			}
		}
		cursor = next
		if cursor == 0 {
			return len(seen), nil
		}
	}
}

// globEscape quotes the characters SCAN MATCH treats as a pattern, so a run
// id like "a[1]" matches itself only.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
