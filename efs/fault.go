package efs

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FaultKind is what a fault does to the operations it matches.
type FaultKind string

const (
	// EIO fails matching operations with an I/O error.
	EIO FaultKind = "eio"
	// ENOSPC fails matching operations with "no space left on device".
	ENOSPC FaultKind = "enospc"
	// Stall blocks matching operations until the fault is lifted (an NFS hard
	// mount whose server is gone). Unmount releases them with EIO.
	Stall FaultKind = "stall"
	// Slow holds matching reads and writes to SlowMiBps.
	Slow FaultKind = "slow"
	// Torn makes a matching rename succeed but leave its target truncated to
	// TornKeep of the file.
	Torn FaultKind = "torn"
)

// FaultKinds lists every kind, for flag help and validation.
var FaultKinds = []FaultKind{EIO, ENOSPC, Stall, Slow, Torn}

// Op is a file-system operation a fault can match.
type Op string

const (
	OpRead   Op = "read"
	OpWrite  Op = "write"
	OpFsync  Op = "fsync"
	OpCreate Op = "create"
	OpRename Op = "rename"
	OpOpen   Op = "open"
)

// Ops lists every operation, in the order Stats prints them.
var Ops = []Op{OpRead, OpWrite, OpFsync, OpCreate, OpRename, OpOpen}

// defaultOps is what a fault with no Ops matches.
var defaultOps = map[FaultKind][]Op{
	EIO:    Ops,
	ENOSPC: {OpWrite, OpFsync, OpCreate},
	Stall:  Ops,
	Slow:   {OpRead, OpWrite},
	Torn:   {OpRename},
}

// Fault is one injected misbehaviour, scoped by path and operation.
type Fault struct {
	Kind FaultKind `json:"kind"`
	// PathGlob matches the file's path relative to the mount root; a pattern
	// without "/" matches the base name in any directory ("temp-*.rdb").
	// A rename matches on either name. Empty matches everything.
	PathGlob string `json:"path,omitempty"`
	// Ops limits the fault to these operations; empty means every operation
	// the kind applies to (slow: read and write; torn: rename; enospc: write,
	// fsync and create).
	Ops []Op `json:"ops,omitempty"`
	// SlowMiBps is the rate a slow fault allows (raw bytes).
	SlowMiBps float64 `json:"mibps,omitempty"`
	// TornKeep is the fraction of the file a torn rename keeps; 0 means half.
	TornKeep float64 `json:"keep,omitempty"`
}

// ParseFaultKind validates a fault name from a flag or spec.
func ParseFaultKind(s string) (FaultKind, error) {
	for _, k := range FaultKinds {
		if string(k) == strings.ToLower(strings.TrimSpace(s)) {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown storage fault %q: use eio, enospc, stall, slow or torn", s)
}

// ParseOps reads a comma-separated operation list ("write,fsync").
func ParseOps(s string) ([]Op, error) {
	var ops []Op
	for _, field := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(field))
		if name == "" {
			continue
		}
		if !slices.Contains(Ops, Op(name)) {
			return nil, fmt.Errorf("unknown operation %q: use read, write, fsync, create, rename or open", field)
		}
		ops = append(ops, Op(name))
	}
	return ops, nil
}

// normalize validates f and fills its defaults.
func (f Fault) normalize() (Fault, error) {
	if _, err := ParseFaultKind(string(f.Kind)); err != nil {
		return f, err
	}
	if _, err := path.Match(f.PathGlob, ""); err != nil {
		return f, fmt.Errorf("bad path glob %q: %w", f.PathGlob, err)
	}
	for _, op := range f.Ops {
		if !slices.Contains(Ops, op) {
			return f, fmt.Errorf("unknown operation %q: use read, write, fsync, create, rename or open", op)
		}
	}
	if len(f.Ops) == 0 {
		f.Ops = slices.Clone(defaultOps[f.Kind])
	}
	switch f.Kind {
	case Slow:
		if !(f.SlowMiBps > 0) {
			return f, fmt.Errorf("a slow fault needs a rate above 0 MiB/s")
		}
		for _, op := range f.Ops {
			if op != OpRead && op != OpWrite {
				return f, fmt.Errorf("a slow fault applies to read and write, not %s", op)
			}
		}
	case Torn:
		if len(f.Ops) != 1 || f.Ops[0] != OpRename {
			return f, fmt.Errorf("a torn fault applies to rename only")
		}
		if f.TornKeep == 0 {
			f.TornKeep = 0.5
		}
		if !(f.TornKeep > 0 && f.TornKeep < 1) {
			return f, fmt.Errorf("a torn rename keeps a fraction between 0 and 1 of the file, not %v", f.TornKeep)
		}
	}
	return f, nil
}

func (f Fault) String() string {
	s := string(f.Kind)
	if f.Kind == Slow {
		s += fmt.Sprintf(" %g MiB/s", f.SlowMiBps)
	}
	if f.Kind == Torn && f.TornKeep > 0 {
		s += fmt.Sprintf(" keeping %.0f%%", f.TornKeep*100)
	}
	glob := f.PathGlob
	if glob == "" {
		glob = "*"
	}
	ops := make([]string, len(f.Ops))
	for i, op := range f.Ops {
		ops[i] = string(op)
	}
	return fmt.Sprintf("%s on %s (%s)", s, glob, strings.Join(ops, ","))
}

// matches reports whether the fault applies to op on any of the paths.
func (f Fault) matches(op Op, paths ...string) bool {
	if !slices.Contains(f.Ops, op) {
		return false
	}
	if f.PathGlob == "" {
		return true
	}
	for _, p := range paths {
		name := p
		if !strings.Contains(f.PathGlob, "/") {
			name = path.Base(p)
		}
		if ok, _ := path.Match(f.PathGlob, name); ok {
			return true
		}
	}
	return false
}

// ActiveFault is an injected fault as Stats and the control socket show it.
type ActiveFault struct {
	ID    int `json:"id"`
	Fault `json:"fault"`
	Since time.Time `json:"since"`
	// Hits counts the operations the fault acted on.
	Hits int64 `json:"hits"`
}

type activeFault struct {
	ActiveFault
	lifted chan struct{} // closed on Lift: releases stalled operations
	pace   pacer         // slow faults
}

// faultSet holds the faults in force. Operations consult it on every request.
type faultSet struct {
	mu      sync.Mutex
	next    int
	faults  map[int]*activeFault
	closing <-chan struct{} // closed when the file system unmounts
}

func newFaultSet(closing <-chan struct{}) *faultSet {
	return &faultSet{next: 1, faults: map[int]*activeFault{}, closing: closing}
}

func (s *faultSet) inject(f Fault, now time.Time) (int, error) {
	f, err := f.normalize()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.faults[id] = &activeFault{
		ActiveFault: ActiveFault{ID: id, Fault: f, Since: now},
		lifted:      make(chan struct{}),
		pace:        pacer{tolerance: pacerTolerance},
	}
	return id, nil
}

func (s *faultSet) lift(id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	af, ok := s.faults[id]
	if !ok {
		return fmt.Errorf("no fault with id %d is active", id)
	}
	close(af.lifted)
	delete(s.faults, id)
	return nil
}

func (s *faultSet) liftAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.faults)
	for id, af := range s.faults {
		close(af.lifted)
		delete(s.faults, id)
	}
	return n
}

func (s *faultSet) list() []ActiveFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ActiveFault, 0, len(s.faults))
	for _, af := range s.faults {
		out = append(out, af.ActiveFault)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// matching returns the faults of the given kinds that apply, oldest first.
// Callers hold s.mu.
func (s *faultSet) matching(kinds []FaultKind, op Op, paths []string) []*activeFault {
	var out []*activeFault
	for _, af := range s.faults {
		if slices.Contains(kinds, af.Kind) && af.matches(op, paths...) {
			out = append(out, af)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

var blockingKinds = []FaultKind{Stall, EIO, ENOSPC}

// gate applies stall, eio and enospc faults to one operation: it returns the
// errno to fail with, or 0 to proceed. A stall blocks until the fault is
// lifted (then the remaining faults are checked again), the file system
// unmounts (EIO) or the caller is interrupted (EINTR).
func (s *faultSet) gate(ctx context.Context, op Op, paths ...string) syscall.Errno {
	for {
		s.mu.Lock()
		found := s.matching(blockingKinds, op, paths)
		if len(found) == 0 {
			s.mu.Unlock()
			return 0
		}
		af := found[0]
		af.Hits++
		s.mu.Unlock()
		switch af.Kind {
		case EIO:
			return syscall.EIO
		case ENOSPC:
			return syscall.ENOSPC
		}
		select {
		case <-af.lifted:
		case <-s.closing:
			return syscall.EIO
		case <-ctx.Done():
			return syscall.EINTR
		}
	}
}

// slowWait reserves n bytes on every matching slow fault and returns the
// longest wait.
func (s *faultSet) slowWait(now time.Time, op Op, n int, paths ...string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var wait time.Duration
	for _, af := range s.matching([]FaultKind{Slow}, op, paths) {
		af.Hits++
		wait = max(wait, af.pace.reserve(now, serviceTime(float64(n), af.SlowMiBps*mib)))
	}
	return wait
}

// tornKeep returns the fraction a matching torn fault keeps of a renamed file.
func (s *faultSet) tornKeep(paths ...string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := s.matching([]FaultKind{Torn}, OpRename, paths)
	if len(found) == 0 {
		return 0, false
	}
	found[0].Hits++
	return found[0].TornKeep, true
}
