package check_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
)

// BenchmarkReadBack1M reads back a million 100-byte writes (the
// acceptance target is at most 2 s). Run with -benchtime=5x.
func BenchmarkReadBack1M(b *testing.B) {
	const n = 1_000_000
	const prefix = "vc:bench:"
	srv := startServer(b, b.TempDir(), 0, "", "")
	ctx := context.Background()
	ops := make([]loadgen.Op, n)
	for i := range ops {
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Outcome: loadgen.OK}
	}
	fill(b, ctx, srv.Addr(), prefix, ops)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		found, err := check.ReadBack(ctx, srv.Addr(), prefix, ops, 0)
		if err != nil {
			b.Fatal(err)
		}
		if !found[n-1].Match {
			b.Fatal("last key not read back")
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "keys/s")
}

// fill writes every op's value with pipelined MSETs.
func fill(b *testing.B, ctx context.Context, addr, prefix string, ops []loadgen.Op) {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1, ReadTimeout: time.Minute,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer rdb.Close()
	const batch, depth = 1000, 16
	for from := 0; from < len(ops); from += batch * depth {
		pipe := rdb.Pipeline()
		for f := from; f < min(from+batch*depth, len(ops)); f += batch {
			var kv []any
			for _, op := range ops[f:min(f+batch, len(ops))] {
				kv = append(kv, loadgen.Key(prefix, op.Seq), loadgen.Value(op.Seq, 0, 100))
			}
			pipe.MSet(ctx, kv...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}
