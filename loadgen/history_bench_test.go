package loadgen

import (
	"flag"
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
