package loadgen

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

var historyOps = flag.Int("loadgen.history-ops", 10_000_000, "ops recorded by BenchmarkHistoryMemory")

// BenchmarkHistoryMemory records ops through the writer's own recording path
// (four connections, interleaved claims of 16 as under load), merges them as
// Stop does, and reports the heap the History holds afterwards per op
// (retained-B/op; target <= 40, issue 16) and the most the heap held during
// recording and merging (peak-B/op, both the connection logs and the merged
// History are live while Stop merges). -benchmem's B/op counts every byte
// allocated per benchmark iteration, which is the same peak divided by the
// ops. Run: go test -run '^$' -bench HistoryMemory -benchtime 1x -benchmem ./loadgen
func BenchmarkHistoryMemory(b *testing.B) {
	n := *historyOps
	for i := 0; i < b.N; i++ {
		w := &Writer{cfg: WriterConfig{StartSeq: 1}}
		conns := make([]*writerConn, 4)
		for j := range conns {
			conns[j] = &writerConn{w: w, id: uint16(j)}
		}
		before := heapAfterGC()
		var peak uint64
		for k := 0; k < n; k++ {
			c := conns[(k/16)%len(conns)]
			d := time.Duration(k) * 50 * time.Microsecond
			c.record(slot{n: uint64(k), due: d}, d, d+time.Millisecond, OK, ErrNone)
		}
		peak = heapNow()
		h := collect(conns, 1)
		peak = max(peak, heapNow())
		retained := heapAfterGC()
		if len(h.Ops) != n || h.Ops[n-1].Seq != uint64(n) {
			b.Fatalf("merged %d ops, last seq %d; want %d", len(h.Ops), h.Ops[len(h.Ops)-1].Seq, n)
		}
		b.ReportMetric(float64(retained-before)/float64(n), "retained-B/op")
		b.ReportMetric(float64(peak-before)/float64(n), "peak-B/op")
		runtime.KeepAlive(h)
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	return heapNow()
}

func heapNow() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkSpooledHistoryMemory runs the writer flat out against a real
// server for 1M ops (100k with -short), once keeping the History in memory
// and once spooling it to disk, and reports the most heap either held during
// the run per op (sampled every 20 ms, and at Stop). The spooled figure is
// what a one-hour trial at 20k writes/s (72M ops) costs the writer: its
// memory does not grow with the op count (ring and buffers are fixed), so
// at 72M ops it is the run's peak, not peak/op, that matters.
func BenchmarkSpooledHistoryMemory(b *testing.B) {
	ops := 1_000_000
	if testing.Short() {
		ops = 100_000
	}
	srv := startServer(b)
	for _, spooled := range []bool{false, true} {
		name := "memory"
		if spooled {
			name = "spool"
		}
		b.Run(name, func(b *testing.B) {
			var peak uint64
			var fileBytes int64
			for i := 0; i < b.N; i++ {
				srv.client().FlushAll(context.Background())
				cfg := WriterConfig{
					Addr: func() string { return srv.addr }, Prefix: "vc:spoolbench:", Conns: 4, Pipeline: 16,
					Pacer: ConstantPacer{Freq: math.Inf(1)}, Base: time.Now(), MaxOps: uint64(ops),
					MaxDuration: 10 * time.Minute, OpTimeout: 10 * time.Second,
				}
				if spooled {
					cfg.Spool = filepath.Join(b.TempDir(), "history.spool")
				}
				before := heapAfterGC()
				w, err := StartWriter(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				runPeak := sampleHeap(w.Done())
				h := w.Stop()
				runPeak = max(runPeak, heapNow())
				if h.Len() != ops {
					b.Fatalf("%d ops recorded, want %d", h.Len(), ops)
				}
				if ok, _, _ := h.Counts(); ok != ops || h.Err() != nil {
					b.Fatalf("%d of %d ok (%v)", ok, ops, h.Err())
				}
				peak = max(peak, runPeak-min(before, runPeak))
				if spooled {
					st, err := os.Stat(cfg.Spool)
					if err != nil {
						b.Fatal(err)
					}
					fileBytes = st.Size()
				}
				runtime.KeepAlive(h)
			}
			b.ReportMetric(float64(peak)/float64(ops), "peak-heap-B/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			if spooled {
				b.ReportMetric(float64(fileBytes)/float64(ops), "file-B/op")
			}
		})
	}
}

// sampleHeap returns the largest HeapAlloc seen every 20 ms until done.
func sampleHeap(done <-chan struct{}) uint64 {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var peak uint64
	for {
		select {
		case <-done:
			return peak
		case <-tick.C:
			peak = max(peak, heapNow())
		}
	}
}

// BenchmarkSpoolPass is one pass over a spooled History of 5M ops (Counts,
// the cheapest summary): a trial's summaries, read-back and classification
// each take one, so a one-hour trial's 72M ops cost this figure times 72M
// per pass.
func BenchmarkSpoolPass(b *testing.B) {
	const n = 5_000_000
	f, err := CreateSpool(filepath.Join(b.TempDir(), "pass.spool"), 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range uint64(n) {
		at := time.Duration(i) * 50 * time.Microsecond
		f.Put(Op{Seq: 1 + i, Intended: at, Sent: at + time.Microsecond, Done: at + 300*time.Microsecond, Outcome: OK})
	}
	h, err := f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if ok, _, _ := h.Counts(); ok != n || h.Err() != nil {
			b.Fatalf("counted %d of %d ops (%v)", ok, n, h.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/op-pass")
}
