package scenarios

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// OverwriteSpec is a scenario's overwrite load over the preloaded keys.
type OverwriteSpec struct {
	Rate  string  `yaml:"rate"` // real time, scaled like the writer's
	Dist  string  `yaml:"dist"` // uniform | zipf
	Zipf  float64 `yaml:"zipf"`
	Conns int     `yaml:"conns"`
	// SaveDelayUs stretches every save from then on (CONFIG SET
	// rdb-key-save-delay, microseconds per key), so the copy-on-write of
	// the next fork has time to grow on a busy machine, while the saves
	// before stay as fast as they are.
	SaveDelayUs int `yaml:"save_delay_us"`

	ratePerS float64
	dist     loadgen.KeyDist
}

// validateMemory parses task_memory and overwrite once.
func (s *Scenario) validateMemory() error {
	if s.TaskMemory != "" {
		n, err := savepolicy.ParseSize(s.TaskMemory)
		if err != nil || n < 16<<20 {
			return fmt.Errorf("task_memory %q: a size of at least 16MiB, e.g. 512MiB", s.TaskMemory)
		}
		s.taskMemory = n
	}
	if o := s.Overwrite; o != nil {
		r, err := savepolicy.ParseRate(o.Rate)
		if err != nil {
			return fmt.Errorf("overwrite.rate: %w", err)
		}
		d, err := loadgen.ParseKeyDist(o.Dist)
		if err != nil {
			return fmt.Errorf("overwrite.dist: %w", err)
		}
		o.ratePerS, o.dist = r, d
		if s.Dataset.Keys == 0 && len(s.Sizes) == 0 {
			return fmt.Errorf("overwrite changes the preloaded keys: set dataset.keys")
		}
	}
	return nil
}

// MemoryReporter is a target that runs its server under a task memory
// limit and says what the kernel did there (target/local).
type MemoryReporter interface {
	Memory() (target.MemoryReport, bool, error)
}

// memoryRun watches memory (INFO and the task's cgroup) and, on a server
// that evicts, which measured keys it evicted or expired.
type memoryRun struct {
	watch      *probe.MemoryWatcher
	sum        probe.MemorySummary
	events     *probe.KeyEventRecorder
	eventsDone *probe.KeyEvents
	over       *loadgen.Overwriter
}

// startMemory starts the memory watcher with the load, and the key-event
// recorder when the server may evict (maxmemory, a task limit).
func startMemory(ctx context.Context, env *trialEnv) *memoryRun {
	cg, _ := env.cfg.Target.(probe.CgroupStats)
	m := &memoryRun{watch: env.probe().WatchMemory(ctx, env.currentAddr, 50*time.Millisecond, cg)}
	if slices.ContainsFunc(env.plan.Scenario.ServerArgs, func(a string) bool { return strings.HasPrefix(a, "--maxmemory") }) {
		rec, err := env.probe().RecordKeyEvents(ctx, env.currentAddr, env.plan.Prefix+"w:")
		if err != nil {
			env.logf("evicted and expired keys not recorded: %v", err)
		} else {
			m.events = rec
		}
	}
	return m
}

// startOverwrite starts the scenario's overwrites once the cycle's save
// ended (the next save's fork is the one that copies).
func (m *memoryRun) startOverwrite(ctx context.Context, env *trialEnv) error {
	o := env.plan.Scenario.Overwrite
	if m == nil || o == nil {
		return nil
	}
	if o.SaveDelayUs > 0 {
		if r, err := env.probe().Do(ctx, env.currentAddr(), 5*time.Second, "CONFIG", "SET", "rdb-key-save-delay", fmt.Sprint(o.SaveDelayUs)); err != nil || r.IsError() {
			return fmt.Errorf("stretch the saves (CONFIG SET rdb-key-save-delay): %v %s", err, r.Str)
		}
	}
	rate := o.ratePerS / env.plan.TimeScale
	bound := 10 * time.Minute
	ow, err := loadgen.StartOverwriter(ctx, loadgen.OverwriteConfig{
		Addr: env.currentAddr, Conn: env.cfg.Conn, Prefix: env.plan.Prefix, Keys: env.plan.Keys, ValueSize: env.plan.DatasetSize,
		Dist: o.dist, ZipfS: o.Zipf, Pacer: loadgen.ConstantPacer{Freq: rate}, Conns: o.Conns,
		MaxOps: uint64(math.Ceil(rate*bound.Seconds())) + 1, MaxDuration: bound, Seed: uint64(env.cfg.Seed) + uint64(env.plan.Seq),
	})
	if err != nil {
		return fmt.Errorf("start overwrites: %w", err)
	}
	m.over = ow
	env.logf("overwriting preloaded keys at %s (%s)", savepolicy.FormatRate(rate), o.dist)
	return nil
}

// memoryDone is what the memory phase leaves.
type memoryDone struct {
	summary probe.MemorySummary
	events  *probe.KeyEvents
	report  target.MemoryReport // the task limit's view of the faulted server
	hasRep  bool
}

// stopLoad ends the overwrites and the watcher (the key-event recorder runs
// on through the read-back: a server over maxmemory evicts on reads too).
func (m *memoryRun) stopLoad() probe.MemorySummary {
	if m == nil {
		return probe.MemorySummary{}
	}
	if m.over != nil {
		m.over.Stop()
		m.over = nil
	}
	if m.watch != nil {
		m.sum = m.watch.Stop()
		m.watch = nil
	}
	return m.sum
}

// memoryReport is the task limit's view of the faulted server.
func memoryReport(env *trialEnv) (target.MemoryReport, bool) {
	mr, ok := env.cfg.Target.(MemoryReporter)
	if !ok {
		return target.MemoryReport{}, false
	}
	rep, has, err := mr.Memory()
	return rep, has && err == nil
}

// stopEvents ends the key-event recorder.
func (m *memoryRun) stopEvents() *probe.KeyEvents {
	if m == nil {
		return nil
	}
	if m.events != nil {
		ev := m.events.Stop()
		m.events, m.eventsDone = nil, &ev
	}
	return m.eventsDone
}

// oomBeforeFault reports the fault that actually ended the server when the
// kernel OOM-killed it before the planned fault landed.
func oomBeforeFault(env *trialEnv) (target.FaultReport, bool) {
	mr, ok := env.cfg.Target.(MemoryReporter)
	if !ok {
		return target.FaultReport{}, false
	}
	rep, has, err := mr.Memory()
	if err != nil || !has || !rep.ParentKilled {
		return target.FaultReport{}, false
	}
	exited, detail := replacementExited(env.cfg.Target)
	if !exited {
		return target.FaultReport{}, false
	}
	at := time.Now()
	if w, ok := env.cfg.Target.(exitTimer); ok && !w.ExitedAt().IsZero() {
		at = w.ExitedAt()
	}
	return target.FaultReport{Kind: target.Crash, IssuedAt: at, GoneAt: at, GoneAfter: at, GoneBy: at, GoneSource: "process",
		Confirmed: true, ExitDetail: detail, OOMKilled: target.OOMParent}, true
}

// exitTimer is a target that knows when its current server exited.
type exitTimer interface{ ExitedAt() time.Time }

// recordMemory fills the trial's memory block.
func recordMemory(t *result.Trial, md memoryDone) {
	s := md.summary
	m := &result.Memory{UsedBytes: s.UsedBytes, RSSBytes: s.RSSBytes, LimitBytes: s.LimitBytes, PeakBytes: s.PeakBytes,
		AnonPeakBytes: s.AnonPeakBytes, ForkMs: s.ForkMs, CowBytes: s.CowBytes, EvictedKeys: s.EvictedKeys, ExpiredKeys: s.ExpiredKeys}
	if md.hasRep {
		m.OOMKilled = md.report.OOMKilled()
		m.LimitBytes = max(m.LimitBytes, md.report.LimitBytes)
		m.PeakBytes = max(m.PeakBytes, md.report.PeakBytes)
	}
	if m.UsedBytes == 0 && m.LimitBytes == 0 && m.CowBytes == 0 {
		return // nothing was sampled (a trial that ended before its load)
	}
	t.Memory = m
	switch m.OOMKilled {
	case target.OOMParent:
		t.ActualFault = "oom-kill"
		t.Problems = append(t.Problems, fmt.Sprintf("the kernel OOM-killed the server at the task's %d MiB memory limit (peak %d MiB, copy-on-write at least %d MiB): the task crashes and everything since the last good save is lost. Remedy: a larger task memory, a smaller dataset or maxmemory well under half the limit (maxmemory does not count copy-on-write), or fewer overwrites during saves",
			m.LimitBytes>>20, m.PeakBytes>>20, m.CowBytes>>20))
	case target.OOMSaveChild:
		t.Problems = append(t.Problems, fmt.Sprintf("the kernel OOM-killed the save child at the task's %d MiB memory limit: the save failed and the server refuses writes (MISCONF) until a save succeeds. Remedy: a larger task memory or maxmemory well under half the limit",
			m.LimitBytes>>20))
	}
}

// excluded are the measured writes the server evicted or expired, by seq.
func excluded(ev *probe.KeyEvents, prefix string) (seqs map[uint64]bool, evicted, expired int) {
	if ev == nil {
		return nil, 0, 0
	}
	seqs = map[uint64]bool{}
	add := func(keys map[string]bool) int {
		n := 0
		for k := range keys {
			if seq, ok := loadgen.ParseKey(prefix, k); ok && !seqs[seq] {
				seqs[seq] = true
				n++
			}
		}
		return n
	}
	return seqs, add(ev.Evicted), add(ev.Expired)
}

// withoutSeqs drops the ops (and their read-back) whose seq is in skip:
// the ops as a stream that leaves them out as it reads (a spooled History
// stays on disk), and the read-back of the others. A read-back that does
// not match the ops is returned as it is, for Classify to name.
func withoutSeqs(ops check.OpStream, found []check.Found, skip map[uint64]bool) (check.OpStream, []check.Found, error) {
	if len(found) != ops.Len() {
		return ops, found, nil
	}
	kept := make([]check.Found, 0, len(found))
	err := ops.Chunks(0, func(first int, chunk []loadgen.Op) bool {
		for i := range chunk {
			if !skip[chunk[i].Seq] {
				kept = append(kept, found[first+i])
			}
		}
		return true
	})
	if err != nil {
		return nil, nil, fmt.Errorf("leave out evicted and expired writes: %w", err)
	}
	return skipping{ops: ops, skip: skip, n: len(kept)}, kept, nil
}

// skipping is a stream without the ops whose seq is in skip.
type skipping struct {
	ops  check.OpStream
	skip map[uint64]bool
	n    int
}

var _ check.OpStream = skipping{}

func (s skipping) Len() int { return s.n }

func (s skipping) Chunks(n int, fn func(first int, ops []loadgen.Op) bool) error {
	var buf []loadgen.Op
	at := 0
	return s.ops.Chunks(n, func(_ int, chunk []loadgen.Op) bool {
		buf = buf[:0]
		for i := range chunk {
			if !s.skip[chunk[i].Seq] {
				buf = append(buf, chunk[i])
			}
		}
		if len(buf) == 0 {
			return true
		}
		more := fn(at, buf)
		at += len(buf)
		return more
	})
}
