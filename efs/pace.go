package efs

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// latencyDebt carries the difference between the delay asked for and the
// delay a timer gave. Timers here fire about 1 ms late, so sleeping 0.4 ms per
// read would really cost 1.1 ms; carrying the overshoot as credit makes a
// stream of requests pay the modelled latency on average.
type latencyDebt struct {
	mu   sync.Mutex
	owed time.Duration
}

// maxLatencyCredit bounds the credit, so an idle stretch after a long
// oversleep does not let many later requests through free.
const maxLatencyCredit = 5 * time.Millisecond

// wait sleeps d plus what earlier calls owe. It returns EIO when the file
// system unmounts and EINTR when the request is interrupted.
func (l *latencyDebt) wait(ctx context.Context, closing <-chan struct{}, d time.Duration) syscall.Errno {
	l.mu.Lock()
	target := d + l.owed
	l.owed = 0
	if target <= 0 {
		l.owed = max(target, -maxLatencyCredit)
		l.mu.Unlock()
		return 0
	}
	l.mu.Unlock()
	start := time.Now()
	timer := time.NewTimer(target)
	defer timer.Stop()
	var errno syscall.Errno
	select {
	case <-timer.C:
	case <-closing:
		errno = syscall.EIO
	case <-ctx.Done():
		errno = syscall.EINTR
	}
	if errno == 0 {
		l.mu.Lock()
		l.owed = max(l.owed+target-time.Since(start), -maxLatencyCredit)
		l.mu.Unlock()
	}
	return errno
}

// requests is how many NFS requests of up to 1 MiB carry n bytes.
func requests(n int) int {
	return max(1, (n+NFSRequestBytes-1)/NFSRequestBytes)
}

// latency draws the modelled latency of count requests.
func (f *FS) latency(read bool, count int) time.Duration {
	base := f.cfg.WriteLatency
	if read {
		base = f.cfg.ReadLatency
	}
	if base == 0 {
		return 0
	}
	var total time.Duration
	for range count {
		spread := 1 + f.cfg.Jitter*(2*rand.Float64()-1)
		total += time.Duration(float64(base) * spread)
	}
	return total
}

// pace holds a read or write of n bytes for its share of the throughput
// limit (and any slow fault) plus the request latency.
func (f *FS) pace(ctx context.Context, debt *latencyDebt, op Op, path string, n int) syscall.Errno {
	now := time.Now()
	throttle := max(f.meter.reserve(now, n, op == OpRead), f.faults.slowWait(now, op, n, path))
	lat := f.latency(op == OpRead, requests(n))
	f.throttled.Add(int64(throttle))
	f.latencySum.Add(int64(lat))
	return debt.wait(ctx, f.closing, throttle+lat)
}

// metaLatency charges one metadata request: a write latency for operations
// that change the file system, a read latency otherwise.
func (f *FS) metaLatency(ctx context.Context, write bool) syscall.Errno {
	lat := f.latency(!write, 1)
	if lat == 0 {
		return 0
	}
	f.latencySum.Add(int64(lat))
	return f.metaDebt.wait(ctx, f.closing, lat)
}

// activity measures the wall time the file system spent moving data: spans
// with a read or write in flight, joined across gaps shorter than
// activityGap. The gaps matter: with the write-back cache Valkey's 4 KiB
// writes are gathered in the kernel, which costs far more than serving the
// 1 MiB requests that come out of it, so the daemon sits idle between
// requests while the transfer is in fact going as fast as FUSE allows. A
// pause longer than activityGap (1 MiB at 10 MiB/s) is the application
// doing something else.
type activity struct {
	mu        sync.Mutex
	inflight  int
	spanStart time.Time
	lastEnd   time.Time
	total     time.Duration
}

const activityGap = 100 * time.Millisecond

func (a *activity) begin(now time.Time) (done func()) {
	a.mu.Lock()
	if a.inflight == 0 {
		if !a.lastEnd.IsZero() && now.Sub(a.lastEnd) < activityGap {
			a.total += now.Sub(a.lastEnd)
		}
		a.spanStart = now
	}
	a.inflight++
	a.mu.Unlock()
	return func() { a.end(time.Now()) }
}

func (a *activity) end(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inflight--
	if a.inflight == 0 {
		a.total += now.Sub(a.spanStart)
		a.lastEnd = now
	}
}

func (a *activity) active(now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight > 0 {
		return a.total + now.Sub(a.spanStart)
	}
	return a.total
}

// opCounters counts operations by kind; the map is filled once at mount and
// only read afterwards.
type opCounters map[Op]*atomic.Int64

func newOpCounters() opCounters {
	c := opCounters{}
	for _, op := range Ops {
		c[op] = new(atomic.Int64)
	}
	return c
}

func (f *FS) countOp(op Op) {
	if c, ok := f.ops[op]; ok {
		c.Add(1)
	}
}

func (f *FS) countData(op Op, n int) {
	f.countOp(op)
	if op == OpRead {
		f.bytesRead.Add(int64(n))
	} else {
		f.bytesWritten.Add(int64(n))
	}
}
