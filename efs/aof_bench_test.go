package efs

import (
	"context"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// BenchmarkAOFWriteLatency measures what an AOF costs each write on an
// EFS-like mount (elastic, 2.7 ms ±40% per write request and fsync): a
// writer at 500/s for 3 s, latency from the intended time.
//
//	go test -run '^$' -bench AOFWriteLatency -benchtime 1x ./efs
func BenchmarkAOFWriteLatency(b *testing.B) {
	for _, fsync := range []string{"no-aof", "everysec", "always"} {
		b.Run(fsync, func(b *testing.B) {
			var p50, p99 float64
			for i := 0; i < b.N; i++ {
				f, _ := mountT(b, DefaultConfig(Elastic))
				args := []string{"--appendonly", "yes", "--appendfsync", fsync}
				if fsync == "no-aof" {
					args = nil
				}
				v := startValkey(b, f.MountPoint(), "", args...)
				v.waitReady(b, 10*time.Second)
				w, err := loadgen.StartWriter(context.Background(), loadgen.WriterConfig{
					Addr: v.addr, Prefix: "vc:aoflat:", Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 500},
					Base: time.Now(), MaxOps: 1500, MaxDuration: 3 * time.Second, OpTimeout: 5 * time.Second,
				})
				if err != nil {
					b.Fatal(err)
				}
				<-w.Done()
				h := w.Stop()
				if ok, _, _ := h.Counts(); ok != 1500 {
					b.Fatalf("%d of 1500 writes acknowledged", ok)
				}
				lat := h.Latency(0, time.Hour)
				p50 += float64(lat.ValueAtQuantile(50)) / 1000
				p99 += float64(lat.ValueAtQuantile(99)) / 1000
				b.Logf("appendfsync %s: write latency p50 %.2f ms p99 %.2f ms max %.2f ms; %s", fsync,
					float64(lat.ValueAtQuantile(50))/1000, float64(lat.ValueAtQuantile(99))/1000, float64(lat.Max())/1000, f.Stats())
			}
			b.ReportMetric(p50/float64(b.N), "p50-ms")
			b.ReportMetric(p99/float64(b.N), "p99-ms")
		})
	}
}
