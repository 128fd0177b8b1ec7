package local

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/target"
)

// memoryGroup puts a process in a memory cgroup with the task's limit and
// works out, when it exits, whether the kernel OOM-killed it or its children.
type memoryGroup struct {
	g *memlimit.Group
	// final holds the figures read when the server exited, before the group
	// was removed.
	final    target.MemoryReport
	finalErr error
}

// newMemoryGroup creates the group; h zero means detect the hierarchy.
func newMemoryGroup(h memlimit.Hierarchy, limit int64) (*memoryGroup, error) {
	if h.Root == "" {
		var err error
		if h, err = memlimit.Detect(); err != nil {
			return nil, fmt.Errorf("task memory %d bytes: %w", limit, err)
		}
	}
	g, err := h.Create(limit)
	if err != nil {
		return nil, fmt.Errorf("task memory: %w", err)
	}
	return &memoryGroup{g: g}, nil
}

// report reads the group's figures. exited says the server is gone;
// killedBy is the signal that ended it (0: none) and byUs whether this
// process sent a SIGKILL. A SIGKILL nobody here sent, with an OOM kill
// counted, is the kernel's; every other OOM kill hit another process of the
// group, which can only be a save child.
func (m *memoryGroup) report(exited bool, killedBy syscall.Signal, byUs bool) (target.MemoryReport, error) {
	st, err := m.g.Stats()
	if err != nil {
		return target.MemoryReport{LimitBytes: m.g.Limit()}, err
	}
	rep := target.MemoryReport{
		LimitBytes:   st.Limit,
		PeakBytes:    st.Peak,
		CurrentBytes: st.Current,
		AnonBytes:    st.Anon,
		OOMKills:     st.OOMKills,
	}
	rep.ParentKilled = exited && killedBy == syscall.SIGKILL && !byUs && st.OOMKills > 0
	rep.SaveChildKills = st.OOMKills
	if rep.ParentKilled {
		rep.SaveChildKills--
	}
	return rep, nil
}

// Memory reports the server's memory cgroup figures: live while it runs, as
// of its exit afterwards. ok is false when it runs without a limit.
func (s *Server) Memory() (rep target.MemoryReport, ok bool, err error) {
	if s.mem == nil {
		return target.MemoryReport{}, false, nil
	}
	if !s.Running() {
		return s.mem.final, true, s.mem.finalErr
	}
	rep, err = s.mem.report(false, 0, false)
	return rep, true, err
}

// MemoryStats reads the raw cgroup figures of a running server, for a
// sampler (peak of anonymous memory over a trial).
func (s *Server) MemoryStats() (memlimit.Stats, error) {
	if s.mem == nil {
		return memlimit.Stats{}, fmt.Errorf("server pid %d runs without a memory limit", s.PID())
	}
	return s.mem.g.Stats()
}

// closeMemory records the final figures and removes the group, killing what
// is left in it: when a container's main process dies, the container's
// other processes (an orphaned save child) die with it.
func (s *Server) closeMemory(sig syscall.Signal) error {
	if s.mem == nil {
		return nil
	}
	s.mem.final, s.mem.finalErr = s.mem.report(true, sig, s.killSent.Load())
	return s.mem.g.Close()
}

// close removes the group of a server that never ran.
func (m *memoryGroup) close() {
	if m != nil {
		_ = m.g.Close()
	}
}

// ExitedAt is when the current server exited (zero while it runs).
func (t *Target) ExitedAt() time.Time {
	srv := t.current()
	if srv == nil {
		return time.Time{}
	}
	return srv.ExitedAt()
}

// current is the server of the trial's current phase. The runner's
// watchers (memory, the replacement's exit) read it from their own
// goroutines while Recover replaces it.
func (t *Target) current() *Server {
	t.curMu.Lock()
	defer t.curMu.Unlock()
	return t.cur
}

func (t *Target) setCurrent(srv *Server) {
	t.curMu.Lock()
	t.cur = srv
	t.curMu.Unlock()
}

// Memory reports what the task memory limit saw of the current server:
// live while it runs, as of its exit afterwards. ok is false without a limit.
func (t *Target) Memory() (rep target.MemoryReport, ok bool, err error) {
	srv := t.current()
	if srv == nil {
		return target.MemoryReport{}, false, nil
	}
	return srv.Memory()
}

// MemoryStats reads the current server's raw cgroup figures (for a sampler
// of the anonymous-memory peak); an error without a limit or once it exited.
func (t *Target) MemoryStats() (memlimit.Stats, error) {
	srv := t.current()
	if srv == nil {
		return memlimit.Stats{}, errors.New("local target: no server")
	}
	return srv.MemoryStats()
}
