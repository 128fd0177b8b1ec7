package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PreloadStats describes a preloaded dataset.
type PreloadStats struct {
	Keys     int64
	Bytes    int64 // key and value bytes sent
	Duration time.Duration
}

// preloadBatch is the number of SETs per pipeline round trip.
const preloadBatch = 512

// preloadTimeout bounds each pipelined batch; a healthy server answers one
// in milliseconds.
const preloadTimeout = 10 * time.Second

// Preload builds a dataset of keys keys named DatasetKey(prefix, 0..keys-1),
// each holding valueSize random (incompressible) bytes, with pipelined SETs
// over conns connections at full speed. It stops at the first error (an
// error reply such as OOM or LOADING, or a lost connection) or when ctx is
// cancelled.
func Preload(ctx context.Context, addr, prefix string, keys int64, valueSize, conns int) (PreloadStats, error) {
	return PreloadWithProgress(ctx, addr, prefix, keys, valueSize, conns, nil)
}

// PreloadWithProgress is Preload that reports each acknowledged batch's
// key count to progress (called from several goroutines; nil: none), so a
// long preload can show its rate and ETA.
func PreloadWithProgress(ctx context.Context, addr, prefix string, keys int64, valueSize, conns int, progress func(keys int64)) (PreloadStats, error) {
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
			n, bytes, err := preloadRange(ctx, addr, prefix, from, to, valueSize, uint64(i), progress)
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
func preloadRange(ctx context.Context, addr, prefix string, from, to int64, valueSize int, stream uint64, progress func(int64)) (int64, int64, error) {
	nc, err := dial(addr, defaultDialTimeout*5)
	if err != nil {
		return 0, 0, fmt.Errorf("connect: %w", err)
	}
	client := newClient(nc, preloadTimeout)
	defer client.Close()
	rng := rand.NewChaCha8(seedFor(stream))
	values := make([]byte, preloadBatch*valueSize)
	cmds := make([]*redis.StatusCmd, 0, preloadBatch)
	var done, bytes int64
	for next := from; next < to; {
		if err := ctx.Err(); err != nil {
			return done, bytes, err
		}
		n := min(int64(preloadBatch), to-next)
		_, _ = rng.Read(values[:n*int64(valueSize)]) // never fails
		pipe := client.Pipeline()
		cmds = cmds[:0]
		var batchBytes int64
		for j := int64(0); j < n; j++ {
			key := DatasetKey(prefix, next+j)
			cmds = append(cmds, pipe.Set(ctx, key, values[j*int64(valueSize):(j+1)*int64(valueSize)], 0))
			batchBytes += int64(len(key) + valueSize)
		}
		_, _ = pipe.Exec(ctx) // errors are per command
		for j, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return done, bytes, fmt.Errorf("set %s: %w", DatasetKey(prefix, next+int64(j)), err)
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

// seedFor gives each connection its own random stream.
func seedFor(stream uint64) [32]byte {
	var seed [32]byte
	state := stream ^ uint64(time.Now().UnixNano())
	for i := 0; i < 4; i++ {
		v := splitmix64(&state)
		for j := 0; j < 8; j++ {
			seed[i*8+j] = byte(v >> (8 * j))
		}
	}
	return seed
}
