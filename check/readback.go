package check

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"slices"
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

// ReadBack reads the key of every op (loadgen.Key(prefix, seq)) with
// pipelined MGETs of `batch` keys (0: 1000) over a few connections and
// returns what it found, parallel to ops. It fails on the first error (a
// LOADING server, a lost connection): a partial read-back would misreport
// losses.
func ReadBack(ctx context.Context, conn valkeyconn.Settings, addr string, prefix string, ops []loadgen.Op, batch int) ([]Found, error) {
	h := &loadgen.History{Ops: ops}
	return readBack(ctx, conn, addr, prefix, h, batch, false)
}

// ReadBackHistory is ReadBack over a History in memory or spooled to disk
// (loadgen.WriterConfig.Spool): the ops are read chunk by chunk, so only the
// result (2 bytes per op) grows with the trial's length.
func ReadBackHistory(ctx context.Context, conn valkeyconn.Settings, addr string, prefix string, h *loadgen.History, batch int) ([]Found, error) {
	_, spooled := h.Spooled()
	return readBack(ctx, conn, addr, prefix, h, batch, spooled)
}

// readChunk is a run of ops for one worker and where it starts.
type readChunk struct {
	first int
	ops   []loadgen.Op
}

// readBack feeds h's ops in chunks to a few workers; clone copies each chunk
// (a spooled History reuses its buffer for the next one).
func readBack(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, h *loadgen.History, batch int, clone bool) ([]Found, error) {
	if batch <= 0 {
		batch = defaultBatch
	}
	n := h.Len()
	found := make([]Found, n)
	if n == 0 {
		return found, nil
	}
	rdb := newClient(conn, addr, readBackConns)
	defer rdb.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan readChunk)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	for w := 0; w < readBackConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mb mgetBatch
			for c := range next {
				to := c.first + len(c.ops)
				if err := readRange(ctx, rdb, prefix, c.ops, found[c.first:to], batch, &mb); err != nil {
					fail(fmt.Errorf("read back keys %d..%d of %d: %w", c.first, to-1, n, err))
					return
				}
			}
		}()
	}
	err := h.Chunks(batch*readBackDepth, func(first int, ops []loadgen.Op) bool {
		if clone {
			ops = slices.Clone(ops)
		}
		select {
		case next <- readChunk{first, ops}:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(next)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("read back %d keys: %w", n, err)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read back %d keys: %w", n, err)
	}
	return found, nil
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
// once, so keys are counted once each.
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
			return len(seen), fmt.Errorf("scan %s: %w", match, err)
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
