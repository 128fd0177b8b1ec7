package check_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
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
	serverBefore, clientBefore := serverCPU(b, ctx, srv.Addr()), clientCPU()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	mallocsBefore := mem.Mallocs
	for i := 0; i < b.N; i++ {
		found, err := check.ReadBack(ctx, valkeyconn.Settings{}, srv.Addr(), prefix, ops, 0)
		if err != nil {
			b.Fatal(err)
		}
		for j := range found {
			if !found[j].Match {
				b.Fatalf("key %d of %d not read back", j, n)
			}
		}
	}
	keys := float64(n * b.N)
	b.ReportMetric(keys/time.Since(start).Seconds(), "keys/s")
	runtime.ReadMemStats(&mem)
	b.ReportMetric(float64(mem.Mallocs-mallocsBefore)/keys, "client-allocs/key")
	// CPU per million keys on each side: what the wall rate would be on a
	// quiet machine is bounded by the busier side, and the machine is shared.
	b.ReportMetric((serverCPU(b, ctx, srv.Addr())-serverBefore)/keys*1e6, "server-cpu-s/Mkeys")
	b.ReportMetric((clientCPU()-clientBefore)/keys*1e6, "client-cpu-s/Mkeys")
}

// serverCPU is the server's own CPU time so far (INFO cpu, user + system).
func serverCPU(b *testing.B, ctx context.Context, addr string) float64 {
	b.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatalf("info cpu: %v", err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("info cpu %q: %v", line, err)
				}
				total += x
			}
		}
	}
	return total
}

// clientCPU is this process's CPU time so far (getrusage, user + system).
func clientCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru) // cannot fail for SELF
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
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
