package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// PreloadStats describes a preloaded dataset.
type PreloadStats struct {
	Keys     int64
	Bytes    int64 // key and value bytes sent
	Duration time.Duration
}

// A preload round trip carries preloadDepth MSETs of preloadPerCmd keys:
// one MSET per 128 keys costs the server one command dispatch instead of
// 128, which is most of the difference between 0.4M and over 1M keys/s.
const (
	preloadPerCmd = 128
	preloadDepth  = 4
	preloadBatch  = preloadPerCmd * preloadDepth
)

// preloadTimeout bounds each pipelined batch; a healthy server answers one
// in milliseconds.
const preloadTimeout = 10 * time.Second

// Preload builds a dataset of keys keys named DatasetKey(prefix, 0..keys-1),
// each holding valueSize random (incompressible) bytes, with pipelined SETs
// over conns connections at full speed. It stops at the first error (an
// error reply such as OOM or LOADING, or a lost connection) or when ctx is
// cancelled.
func Preload(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, keys int64, valueSize, conns int) (PreloadStats, error) {
	return PreloadWithProgress(ctx, conn, addr, prefix, keys, valueSize, conns, nil)
}

// PreloadWithProgress is Preload that reports each acknowledged batch's
// key count to progress (called from several goroutines; nil: none), so a
// long preload can show its rate and ETA.
func PreloadWithProgress(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, keys int64, valueSize, conns int, progress func(keys int64)) (PreloadStats, error) {
	if prefix == "" {
		return PreloadStats{}, fmt.Errorf("preload: empty prefix: keys must stay under the run's prefix")
	}
	if valueSize <= 0 {
		return PreloadStats{}, fmt.Errorf("preload: value size %d must be > 0", valueSize)
	}
	if keys <= 0 {
		return PreloadStats{}, nil
	}
	if conns <= 0 {
		conns = 4
	}
	conns = int(min(int64(conns), keys))
	began := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		total    PreloadStats
	)
	per := keys / int64(conns)
	for i := 0; i < conns; i++ {
		from := int64(i) * per
		to := from + per
		if i == conns-1 {
			to = keys
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, bytes, err := preloadRange(ctx, conn, addr, prefix, from, to, valueSize, uint64(i), progress)
			mu.Lock()
			defer mu.Unlock()
			total.Keys += n
			total.Bytes += bytes
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		}()
	}
	wg.Wait()
	total.Duration = time.Since(began)
	if firstErr != nil {
		return total, fmt.Errorf("preload %d keys at %s: %w", keys, addr, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return total, fmt.Errorf("preload %d keys at %s: %w", keys, addr, err)
	}
	return total, nil
}

// preloadRange writes keys [from, to) on one connection and returns how many
// were acknowledged and their bytes.
func preloadRange(ctx context.Context, conn valkeyconn.Settings, addr, prefix string, from, to int64, valueSize int, stream uint64, progress func(int64)) (int64, int64, error) {
	nc, err := dial(conn, addr, defaultDialTimeout*5)
	if err != nil {
		return 0, 0, fmt.Errorf("connect: %w", err)
	}
	client := newClient(conn, nc, preloadTimeout)
	defer client.Close()
	b := newMsetBatch(valueSize)
	state := seedState(stream)
	pipe := client.Pipeline()
	var done, bytes int64
	for next := from; next < to; {
		if err := ctx.Err(); err != nil {
			return done, bytes, err
		}
		n := min(int64(preloadBatch), to-next)
		randomBytes(b.values[:n*int64(valueSize)], &state)
		cmds, batchBytes := b.fill(prefix, next, n)
		_ = pipe.BatchProcess(ctx, cmds...) // only queues
		_, _ = pipe.Exec(ctx)               // errors are per command
		for j, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return done, bytes, fmt.Errorf("mset from %s: %w", DatasetKey(prefix, next+int64(j*preloadPerCmd)), err)
			}
		}
		done += n
		bytes += batchBytes
		next += n
		if progress != nil {
			progress(n)
		}
	}
	return done, bytes, nil
}

// msetBatch is one round trip of pre-built MSETs whose key and value
// arguments point into reusable buffers: no allocation per key.
type msetBatch struct {
	valueSize int
	keys      []byte // every key of the batch, back to back
	values    []byte // preloadBatch values of valueSize random bytes
	args      []reusableArg
	cmds      []*redis.StatusCmd
	cmders    []redis.Cmder
}

func newMsetBatch(valueSize int) *msetBatch {
	b := &msetBatch{
		valueSize: valueSize,
		values:    make([]byte, preloadBatch*valueSize),
		args:      make([]reusableArg, 2*preloadBatch),
	}
	for c := 0; c < preloadDepth; c++ {
		args := make([]any, 0, 1+2*preloadPerCmd)
		args = append(args, "mset")
		for k := c * preloadPerCmd; k < (c+1)*preloadPerCmd; k++ {
			args = append(args, &b.args[2*k], &b.args[2*k+1])
		}
		cmd := redis.NewStatusCmd(context.Background(), args...)
		b.cmds = append(b.cmds, cmd)
	}
	return b
}

// fill points the batch at keys [first, first+n) and returns the commands
// that carry them (the last one shortened if n is not a whole batch) and
// their key and value bytes.
func (b *msetBatch) fill(prefix string, first, n int64) ([]redis.Cmder, int64) {
	b.keys = b.keys[:0]
	ends := make([]int, 0, preloadBatch) // tiny, per batch
	for j := int64(0); j < n; j++ {
		b.keys = AppendDatasetKey(b.keys, prefix, first+j)
		ends = append(ends, len(b.keys))
	}
	start := 0
	for j := range ends {
		b.args[2*j].b = b.keys[start:ends[j]]
		b.args[2*j+1].b = b.values[j*b.valueSize : (j+1)*b.valueSize]
		start = ends[j]
	}
	b.cmders = b.cmders[:0]
	for c := 0; c*preloadPerCmd < int(n); c++ {
		cmd := b.cmds[c]
		keys := min(preloadPerCmd, int(n)-c*preloadPerCmd)
		if keys < preloadPerCmd { // a short last command: its own argument list
			args := append([]any{"mset"}, cmd.Args()[1:1+2*keys]...)
			cmd = redis.NewStatusCmd(context.Background(), args...)
		}
		cmd.SetErr(nil)
		cmd.SetVal("")
		b.cmders = append(b.cmders, cmd)
	}
	return b.cmders, int64(len(b.keys)) + n*int64(b.valueSize)
}

// seedState gives each connection its own random stream.
func seedState(stream uint64) uint64 {
	state := stream ^ uint64(time.Now().UnixNano())
	return splitmix64(&state)
}

// randomBytes fills dst from splitmix64, eight bytes a step: incompressible
// (deflate and the RDB's LZF find nothing to share) at a fraction of
// ChaCha8's cost, which was a third of the preload's client CPU. Dataset
// values need no secrecy, only no structure.
func randomBytes(dst []byte, state *uint64) {
	for len(dst) >= 8 {
		binary.LittleEndian.PutUint64(dst, splitmix64(state))
		dst = dst[8:]
	}
	v := splitmix64(state)
	for i := range dst {
		dst[i] = byte(v >> (8 * i))
	}
}
