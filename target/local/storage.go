package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/trigpointing/valkey-chaos/efs"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Storage modes a scenario's storage block may name. The efs- modes mount
// the EFS emulator over the trial's data directory; efs-unlimited applies no
// throughput limit (what FUSE alone costs).
const (
	LocalDisk      = "local-disk"
	EFSBursting    = "efs-bursting"
	EFSElastic     = "efs-elastic"
	EFSProvisioned = "efs-provisioned"
	EFSUnlimited   = "efs-unlimited"
)

// StorageModes lists the modes, for help and validation.
var StorageModes = []string{LocalDisk, EFSBursting, EFSElastic, EFSProvisioned, EFSUnlimited}

// ValidateStorage checks a scenario's storage block before any trial runs,
// so a typo fails the run at once with the field and the fix.
func (t *Target) ValidateStorage(params map[string]string) error {
	_, _, err := parseStorage(params)
	return err
}

// parseStorage reads {mode: efs-provisioned, mibps: 5}. Local disk takes no
// parameters; the efs- modes take efs.ParseConfig's keys.
func parseStorage(params map[string]string) (mode string, cfg efs.Config, err error) {
	mode = strings.ToLower(strings.TrimSpace(params["mode"]))
	if mode == "" && len(params) > 0 {
		return "", cfg, fmt.Errorf("%w: storage needs a mode: one of %s", result.ErrBadInput, strings.Join(StorageModes, ", "))
	}
	switch mode {
	case "", LocalDisk:
		for k := range params {
			if k != "mode" {
				return "", cfg, fmt.Errorf("%w: storage.%s: local-disk takes no parameters (use an efs- mode to shape throughput)", result.ErrBadInput, k)
			}
		}
		return LocalDisk, cfg, nil
	case EFSBursting, EFSElastic, EFSProvisioned, EFSUnlimited:
		cfg, err = efs.ParseConfig(params)
		if err != nil {
			return "", cfg, fmt.Errorf("%w: storage: %w", result.ErrBadInput, err)
		}
		return mode, cfg, nil
	}
	return "", cfg, fmt.Errorf("%w: storage.mode %q: use one of %s", result.ErrBadInput, params["mode"], strings.Join(StorageModes, ", "))
}

// storage is the data directory's storage during one trial: the EFS
// emulator mounted over a backing directory, with the faults in force.
type storage struct {
	mode string
	fs   *efs.FS
	mnt  string

	mu     sync.Mutex
	faults map[int]target.StorageFault
}

// mountEFS mounts the emulator over dir (which keeps the bytes) at a sibling
// directory the server uses. The mount outlives ctx's cancellation: Finish
// and Close unmount it after the servers on it are gone, because unmounting
// under a running server only detaches it lazily.
func mountEFS(ctx context.Context, dir, mode string, cfg efs.Config) (*storage, error) {
	mnt := strings.TrimRight(dir, "/") + ".efs"
	f, err := efs.Mount(context.WithoutCancel(ctx), dir, mnt, cfg)
	if err != nil {
		return nil, fmt.Errorf("mount the EFS emulator (%s) at %s: %w", mode, mnt, err)
	}
	return &storage{mode: mode, fs: f, mnt: mnt, faults: map[int]target.StorageFault{}}, nil
}

// release lifts every fault (stalled requests of killed servers end), then
// unmounts and removes the mount point.
func (s *storage) release() error {
	if s == nil || s.fs == nil {
		return nil
	}
	s.fs.LiftAll()
	err := s.fs.Unmount()
	if errors.Is(err, efs.ErrDetachedBusy) {
		err = nil // the mount point is free; the last user lets go of the rest
	}
	if err == nil {
		if rerr := os.Remove(s.mnt); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = fmt.Errorf("remove mount point: %w", rerr)
		}
	}
	return err
}

// dropCache evicts dump.rdb's pages from the kernel's cache of the mount,
// as a replacement task on another host starts cold: its load must come
// through the emulator, not from memory the old process filled. Best
// effort and bounded: an open stalled by a fault is abandoned (the
// goroutine ends when the fault lifts or the mount goes).
func (s *storage) dropCache(path string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// InjectStorageFault puts a fault on the current trial's storage and returns
// its id for LiftStorageFault. Only EFS-like storage can be faulted.
func (t *Target) InjectStorageFault(f target.StorageFault) (int, error) {
	if t.store == nil || t.store.fs == nil {
		return 0, fmt.Errorf("%w: storage faults need EFS-like storage: set storage.mode to one of %s", result.ErrBadInput, strings.Join(StorageModes[1:], ", "))
	}
	ef, err := toEFSFault(f)
	if err != nil {
		return 0, fmt.Errorf("%w: storage fault: %w", result.ErrBadInput, err)
	}
	id, err := t.store.fs.Inject(ef)
	if err != nil {
		return 0, fmt.Errorf("%w: storage fault: %w", result.ErrBadInput, err)
	}
	t.store.mu.Lock()
	t.store.faults[id] = f
	t.store.mu.Unlock()
	return id, nil
}

// LiftStorageFault ends one fault; operations it stalled proceed.
func (t *Target) LiftStorageFault(id int) error {
	if t.store == nil || t.store.fs == nil {
		return errors.New("local target: no EFS-like storage to lift a fault from")
	}
	t.store.mu.Lock()
	delete(t.store.faults, id)
	t.store.mu.Unlock()
	return t.store.fs.Lift(id)
}

// StorageNote says what the trial's storage was and whether the emulator,
// not the modelled EFS, set the pace. Nil on local disk.
func (t *Target) StorageNote() *result.StorageNote {
	if t.store == nil || t.store.fs == nil {
		if t.spec.Storage == nil {
			return nil
		}
		return &result.StorageNote{Mode: LocalDisk}
	}
	st := t.store.fs.Stats()
	n := &result.StorageNote{
		Mode:               t.store.mode,
		ThroughputMiBps:    st.LimitMiBps,
		EmulatorBottleneck: st.EmulatorBottleneck,
		ObservedWriteMiBps: st.ObservedMiBps,
		BytesRead:          st.BytesRead,
		BytesWritten:       st.BytesWritten,
		Config:             st.Config,
		Note:               st.Note,
	}
	if t.store.mode == EFSBursting {
		c := st.CreditBytes
		n.CreditBytes = &c
	}
	return n
}

func toEFSFault(f target.StorageFault) (efs.Fault, error) {
	kind, err := efs.ParseFaultKind(f.Kind)
	if err != nil {
		return efs.Fault{}, err
	}
	ops, err := efs.ParseOps(strings.Join(f.Ops, ","))
	if err != nil {
		return efs.Fault{}, err
	}
	return efs.Fault{Kind: kind, PathGlob: f.Path, Ops: ops, SlowMiBps: f.MiBps, TornKeep: f.Keep}, nil
}

// ValidateStorageFault checks a fault before any trial runs.
func (t *Target) ValidateStorageFault(f target.StorageFault) error {
	if _, err := toEFSFault(f); err != nil {
		return fmt.Errorf("%w: %w", result.ErrBadInput, err)
	}
	if f.Kind == string(efs.Slow) && !(f.MiBps > 0) {
		return fmt.Errorf("%w: a slow storage fault needs mibps above 0 (e.g. mibps: 1)", result.ErrBadInput)
	}
	return nil
}

// DropUnsynced loses what the server wrote but did not fsync, as a Fargate
// task's VM takes its unflushed NFS pages with it: call it after the fault,
// before the replacement starts (EFS-like storage only).
func (t *Target) DropUnsynced() (bytes int64, err error) {
	if t.store == nil || t.store.fs == nil {
		return 0, fmt.Errorf("drop unsynced data: the data directory is not on EFS-like storage: set storage: {mode: efs-elastic}")
	}
	if srv := t.current(); srv != nil && srv.Running() {
		return 0, fmt.Errorf("drop unsynced data while the server still runs: inject a fault first")
	}
	rep, err := t.store.fs.DropUnsynced()
	return rep.Bytes, err
}
