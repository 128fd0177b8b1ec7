package probe

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/memlimit"
)

// CgroupStats reads the figures of the memory cgroup the server runs in
// (target/local.Target satisfies it); it errs when there is none.
type CgroupStats interface {
	MemoryStats() (memlimit.Stats, error)
}

// MemorySample is one poll of INFO (server, memory, persistence, stats) and,
// when the server runs under a limit, of its cgroup.
type MemorySample struct {
	At          time.Time
	RunID       string
	UsedBytes   int64 // used_memory
	RSSBytes    int64 // used_memory_rss
	CowBytes    int64 // current_cow_size: copied so far by a running save
	Saving      bool  // rdb_bgsave_in_progress
	EvictedKeys int64 // evicted_keys, since this server started
	ExpiredKeys int64 // expired_keys, since this server started
	// Cgroup figures; zero without a limit.
	CgroupBytes, CgroupAnonBytes int64
}

// MemorySummary is what a trial reports about memory.
type MemorySummary struct {
	Samples []MemorySample
	// UsedBytes and RSSBytes are from the last sample taken before Mark (or
	// the last of all without a mark): the dataset before the fault.
	UsedBytes, RSSBytes int64
	// ForkMs is latest_fork_usec of the latest fork seen, in milliseconds.
	ForkMs float64
	// CowBytes is the largest rdb_last_cow_size seen: the server's own peak
	// of its samples of the save child's private memory, so a lower bound
	// of the true copy-on-write peak. CurrentCowPeak is the largest
	// current_cow_size this watcher saw during saves (another lower bound).
	CowBytes, CurrentCowPeak int64
	// EvictedKeys and ExpiredKeys count over the trial, summed over every
	// server process seen (each one counts from zero).
	EvictedKeys, ExpiredKeys int64
	// Cgroup: the kernel's peak (includes page cache), the largest
	// anonymous figure sampled (the kernel keeps no anon peak), the limit
	// and OOM kills, of the last group seen; zero without a limit.
	LimitBytes, PeakBytes, AnonPeakBytes, OOMKills int64
	Errors                                         int    // polls that failed (server down, loading, ...)
	LastError                                      string // the latest failed poll's error, for the log
}

// MemoryWatcher samples memory figures until stopped.
type MemoryWatcher struct {
	cl     Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	sum    MemorySummary
	marked bool
	base   map[string][2]int64 // run_id -> evicted, expired at its first sample
	last   map[string][2]int64
	first  bool
}

// WatchMemory polls addr (re-read on every poll) every `every` until Stop or
// ctx's end; cg may be nil. It takes its first sample before returning, so
// counters count from then.
func (cl Client) WatchMemory(ctx context.Context, addr func() string, every time.Duration, cg CgroupStats) *MemoryWatcher {
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &MemoryWatcher{cl: cl, cancel: cancel, done: make(chan struct{}), base: map[string][2]int64{}, last: map[string][2]int64{}, first: true}
	w.poll(ctx, addr(), cg)
	go func() {
		defer close(w.done)
		next := time.Now()
		for {
			next = next.Add(every) // absolute schedule: a slow poll does not shift the rest
			select {
			case <-ctx.Done():
				// One last sample, so the summary covers everything up to Stop
				// (a save that ended just before it is counted).
				final, cancel := context.WithTimeout(context.WithoutCancel(ctx), infoTimeout)
				w.poll(final, addr(), cg)
				cancel()
				return
			case <-time.After(time.Until(next)):
			}
			w.poll(ctx, addr(), cg)
		}
	}()
	return w
}

// Mark freezes UsedBytes/RSSBytes at the latest sample: call it just before
// the fault.
func (w *MemoryWatcher) Mark() {
	w.mu.Lock()
	w.marked = true
	w.mu.Unlock()
}

// Stop takes a last sample, ends the sampling and returns the summary.
func (w *MemoryWatcher) Stop() MemorySummary {
	w.cancel()
	<-w.done
	return w.Summary()
}

// Summary is a copy of the summary so far.
func (w *MemoryWatcher) Summary() MemorySummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sum
	s.Samples = append([]MemorySample(nil), w.sum.Samples...)
	s.EvictedKeys, s.ExpiredKeys = 0, 0
	for id, l := range w.last {
		s.EvictedKeys += l[0] - w.base[id][0]
		s.ExpiredKeys += l[1] - w.base[id][1]
	}
	return s
}

func (w *MemoryWatcher) poll(ctx context.Context, addr string, cg CgroupStats) {
	at := time.Now()
	rep, err := w.cl.Do(ctx, addr, infoTimeout, "INFO", "server", "memory", "persistence", "stats")
	var f map[string]string
	if err == nil {
		f, err = infoFields(rep)
	}
	var st memlimit.Stats
	var cgErr error = errNoCgroup
	if cg != nil {
		st, cgErr = cg.MemoryStats()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if cgErr == nil {
		w.sum.LimitBytes, w.sum.OOMKills = st.Limit, st.OOMKills
		w.sum.PeakBytes = max(w.sum.PeakBytes, st.Peak)
		w.sum.AnonPeakBytes = max(w.sum.AnonPeakBytes, st.Anon)
	}
	if ctx.Err() != nil {
		return // cut short by Stop, not a failed poll: the final sample follows
	}
	if err != nil {
		w.sum.Errors++
		w.sum.LastError = err.Error()
		return
	}
	s := MemorySample{
		At: at, RunID: f["run_id"], UsedBytes: num(f, "used_memory"), RSSBytes: num(f, "used_memory_rss"),
		CowBytes: num(f, "current_cow_size"), Saving: f["rdb_bgsave_in_progress"] == "1",
		EvictedKeys: num(f, "evicted_keys"), ExpiredKeys: num(f, "expired_keys"),
		CgroupBytes: st.Current, CgroupAnonBytes: st.Anon,
	}
	w.sum.Samples = append(w.sum.Samples, s)
	if !w.marked {
		w.sum.UsedBytes, w.sum.RSSBytes = s.UsedBytes, s.RSSBytes
	}
	if fork := num(f, "latest_fork_usec"); fork > 0 {
		w.sum.ForkMs = float64(fork) / 1000
	}
	w.sum.CowBytes = max(w.sum.CowBytes, num(f, "rdb_last_cow_size"))
	if s.Saving {
		w.sum.CurrentCowPeak = max(w.sum.CurrentCowPeak, s.CowBytes)
	}
	counts := [2]int64{s.EvictedKeys, s.ExpiredKeys}
	if _, seen := w.base[s.RunID]; !seen {
		// The first server counts from the first sample; a replacement
		// started from zero after it.
		if !w.first {
			counts = [2]int64{}
		}
		w.base[s.RunID] = counts
	}
	w.first = false
	w.last[s.RunID] = [2]int64{s.EvictedKeys, s.ExpiredKeys}
}

type probeError string

func (e probeError) Error() string { return string(e) }

const errNoCgroup = probeError("no cgroup")

// num reads an integer INFO field; absent or malformed reads as 0.
func num(f map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(f[key], 10, 64)
	return n
}
