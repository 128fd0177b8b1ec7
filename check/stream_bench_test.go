package check_test

import (
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/procstat"
)

var spoolOps = flag.Int("check.spool-ops", 10_000_000, "ops in BenchmarkClassifyFromSpool's spool file")

// BenchmarkClassifyFromSpool classifies a crash history of 10M ops
// (-check.spool-ops) from its spool file, as a long trial is: the written
// set for the unexpected-key scan, then ClassifyStream, with the read-back
// (2 bytes per op) in memory. It reports what that costs per op in memory
// beyond what the process held before the read-back existed:
//
//   - trial-heap-B/op: the most heap held (sampled every 2 ms and at the
//     end), read-back included: what grows with a trial's length;
//   - peak-rss-B/op: the kernel's high-water mark of resident memory over
//     the same span (VmHWM, reset through /proc/self/clear_refs), which also
//     counts what the Go runtime keeps after a GC;
//   - at-72M-MiB: trial-heap-B/op times 72M ops, a one-hour trial at 20k
//     writes/s (issue 16: it must fit in 2 GiB);
//   - ns/op-classified: wall time per op of one classification.
//
// Run: go test -run '^$' -bench ClassifyFromSpool -benchtime 1x ./check
func BenchmarkClassifyFromSpool(b *testing.B) {
	n := *spoolOps
	fork := time.Millisecond + time.Duration(n*7/10)*time.Microsecond
	h := writeCrashSpool(b, n, fork)
	var trialPeak, rssPeak, rssBase uint64
	var classified time.Duration
	for b.Loop() {
		before := heapAfterGC()
		rssBase = resetPeakRSS(b)
		stop := sampleHeap()
		in := crashInput(n, fork)
		written, err := check.WrittenSeqs(h)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		c, err := check.ClassifyStream(h, in)
		classified += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		peak := stop()
		trialPeak = max(trialPeak, peak-min(before, peak))
		if hw, err := procstat.PeakRSS(); err == nil && rssBase > 0 {
			rssPeak = max(rssPeak, uint64(hw)-min(rssBase, uint64(hw)))
		}
		if c.Writes != n || c.Acked != n || c.Lost == 0 || c.Lost == n || c.Snapshot == nil || c.Anomalies != 0 || !written.Has(uint64(n)) || written.Has(uint64(n+1)) {
			b.Fatalf("classification of the spool is wrong: %d writes, %d acked, %d lost, snapshot %v, %d anomalies", c.Writes, c.Acked, c.Lost, c.Snapshot, c.Anomalies)
		}
		runtime.KeepAlive(in)
		runtime.KeepAlive(written)
	}
	b.ReportMetric(float64(trialPeak)/float64(n), "trial-heap-B/op")
	if rssBase > 0 {
		b.ReportMetric(float64(rssPeak)/float64(n), "peak-rss-B/op")
	}
	b.ReportMetric(float64(trialPeak)/float64(n)*72e6/(1<<20), "at-72M-MiB")
	b.ReportMetric(float64(classified.Nanoseconds())/float64(b.N)/float64(n), "ns/op-classified")
}

// writeCrashSpool writes crashHistory's ops straight to a spool file (the
// ops never all in memory) and returns the History reading it.
func writeCrashSpool(b *testing.B, n int, fork time.Duration) *loadgen.History {
	b.Helper()
	sp, err := loadgen.CreateSpool(filepath.Join(b.TempDir(), "history.spool"), 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		sent := time.Millisecond + time.Duration(i)*time.Microsecond
		sp.Put(loadgen.Op{Seq: uint64(i + 1), Conn: uint16(i % 16), Intended: sent, Sent: sent, Done: sent + 16*time.Microsecond, Outcome: loadgen.OK})
	}
	h, err := sp.Close()
	if err != nil {
		b.Fatal(err)
	}
	if h.Len() != n {
		b.Fatalf("spool holds %d ops, want %d", h.Len(), n)
	}
	return h
}

// crashInput is crashHistory's input without its ops: the read-back of a
// crash after the snapshot forked at fork, and the save and fault instants.
func crashInput(n int, fork time.Duration) check.Input {
	found := make([]check.Found, n)
	for i := range found {
		applied := time.Millisecond + time.Duration(i)*time.Microsecond + 8*time.Microsecond
		found[i] = check.Found{Present: applied < fork, Match: applied < fork}
	}
	f := fork.Truncate(time.Millisecond)
	return check.Input{Found: found, TFault: time.Duration(n)*time.Microsecond + 500*time.Millisecond, FloorF: 500 * time.Microsecond,
		SaveStarts:     []time.Duration{f},
		CompletedSaves: []check.SaveFork{{ForkLow: f, ForkHigh: f + time.Millisecond, End: fork + 300*time.Millisecond, Source: "server-log"}}}
}

func heapAfterGC() uint64 {
	runtime.GC()
	return heapObjects()
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

func heapObjects() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

// sampleHeap samples the live heap every 2 ms until stop, which returns the
// largest value seen (including one taken at stop).
func sampleHeap() (stop func() uint64) {
	done, out := make(chan struct{}), make(chan uint64)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		peak := heapObjects()
		for {
			select {
			case <-done:
				out <- max(peak, heapObjects())
				return
			case <-tick.C:
				peak = max(peak, heapObjects())
			}
		}
	}()
	return func() uint64 { close(done); return <-out }
}

// resetPeakRSS resets the kernel's high-water mark of this process's
// resident memory to what it holds now and returns that; 0 when the kernel
// does not allow it (the RSS metric is then not reported).
func resetPeakRSS(b *testing.B) uint64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not measured: %v", err)
		return 0
	}
	rss, err := procstat.CurrentRSS()
	if err != nil {
		b.Logf("peak RSS not measured: %v", err)
		return 0
	}
	return uint64(rss)
}
