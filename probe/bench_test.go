package probe_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
)

// BenchmarkReadinessDetection restarts a server on the 1M-key RDB per
// iteration and measures how long after the server's own "Ready to accept
// connections" line (ms, truncated) WaitReady saw the first non-LOADING
// reply, for poll intervals of 1, 5 and 10 ms. Run with -benchtime=10x.
func BenchmarkReadinessDetection(b *testing.B) {
	dir := datasetDir(b)
	for _, every := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond} {
		b.Run(fmt.Sprintf("every=%v", every), func(b *testing.B) {
			var sum, worst time.Duration
			var load float64
			for i := 0; i < b.N; i++ {
				logFile := filepath.Join(b.TempDir(), "server.log")
				srv := startServer(b, dir, "", logFile)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				rd, err := probe.WaitReady(ctx, fixed(srv.Addr()), every)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				evs := readLog(b, logFile)
				d := rd.Ready.Sub(firstOf(b, evs, probe.Ready).Time)
				sum += d
				worst = max(worst, d)
				load += firstOf(b, evs, probe.DBLoaded).Seconds
				stopServer(srv)
				b.StartTimer()
			}
			b.ReportMetric(float64(sum.Microseconds())/1000/float64(b.N), "detect-ms")
			b.ReportMetric(float64(worst.Microseconds())/1000, "worst-detect-ms")
			b.ReportMetric(load/float64(b.N), "load-s")
		})
	}
}
