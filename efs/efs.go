// Package efs mounts a directory through a FUSE file system that behaves like
// Amazon EFS: a throughput limit per EFS mode (bursting with a credit balance,
// elastic, provisioned), NFS-like per-request latency, and faults injected at
// run time by path and operation (eio, enospc, stall, slow, torn).
//
// It is a loopback over a real directory built on go-fuse. FUSE itself costs
// throughput: on a small VM it tops out at a few tens of MiB/s, well below
// EFS's 100 MiB/s burst. Stats says when the emulator, not the modelled EFS,
// set the pace (EmulatorBottleneck), so no figure pretends to be EFS when it
// is FUSE.
//
// Every mount is unmounted by Unmount, when the context passed to Mount is
// done, and by the next Mount of the same path after a crash (CleanupStale).
//
// A process that serves a mount must not start children that touch it
// between fork and exec: no exec.Cmd.Dir inside the mount, no binary run
// from it. Go's fork child shares the parent's memory until it execs and can
// stall the whole process, so nothing answers the child's request. Pass the
// path as an argument instead (valkey-server --dir MNT chdirs after exec).
package efs

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// FS is one mounted EFS-like file system.
type FS struct {
	src, mnt string
	cfg      Config
	server   *fuse.Server
	started  time.Time

	meter    *meter
	faults   *faultSet
	journal  *journal // unsynced data, for DropUnsynced
	activity activity
	metaDebt latencyDebt

	ops          opCounters
	bytesRead    atomic.Int64
	bytesWritten atomic.Int64
	throttled    atomic.Int64 // ns
	latencySum   atomic.Int64 // ns

	closing      chan struct{}
	unmountOnce  sync.Once
	unmountErr   error
	stopWatching func() bool
}

// fsName is the FUSE subtype: mounts show as "fuse.valkey-chaos-efs".
const fsName = "valkey-chaos-efs"

// Mount serves src (made absolute) at mnt with the behaviour cfg describes.
// It first clears a stale mount left at mnt by a crashed daemon. The mount
// lasts until Unmount or until ctx is done. It returns an error wrapping
// ErrNoFUSE when this machine cannot mount FUSE file systems.
func Mount(ctx context.Context, src, mnt string, cfg Config) (*FS, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src, err)
	}
	if mnt, err = filepath.Abs(mnt); err != nil {
		return nil, fmt.Errorf("mount point %s: %w", mnt, err)
	}
	if info, err := os.Stat(src); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("source %s is not a directory (%v)", src, err)
	}
	if cfg, err = cfg.resolve(src); err != nil {
		return nil, err
	}
	if err := checkFUSE(fuseDevice); err != nil {
		return nil, err
	}
	if err := CleanupStale(mnt); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, fmt.Errorf("create mount point: %w", err)
	}
	if same, _ := sameFile(src, mnt); same || within(mnt, src) {
		// A mount inside its own source would look itself up forever.
		return nil, fmt.Errorf("mount point %s must be outside the source %s", mnt, src)
	}

	var st syscall.Stat_t
	if err := syscall.Stat(src, &st); err != nil {
		return nil, fmt.Errorf("stat source %s: %w", src, err)
	}
	now := time.Now()
	f := &FS{
		src:     src,
		mnt:     mnt,
		cfg:     cfg,
		started: now,
		meter:   newMeter(cfg, now),
		ops:     newOpCounters(),
		closing: make(chan struct{}),
		journal: newJournal(),
	}
	f.faults = newFaultSet(f.closing)
	lr := &fs.LoopbackRoot{Path: src, Dev: uint64(st.Dev)}
	root := &node{LoopbackNode: &fs.LoopbackNode{RootData: lr}, fsys: f}
	lr.RootNode = root

	timeout := time.Second
	opts := &fs.Options{
		EntryTimeout: &timeout,
		AttrTimeout:  &timeout,
		Logger:       log.New(io.Discard, "", 0),
		MountOptions: fuse.MountOptions{
			FsName: "efs:" + src,
			Name:   fsName,
			// NFS moves up to 1 MiB per request (rsize/wsize); with the
			// write-back cache the kernel gathers Valkey's 4 KiB writes into
			// requests that size instead of sending each one.
			MaxWrite:          NFSRequestBytes,
			MaxReadAhead:      NFSRequestBytes,
			ExtraCapabilities: fuse.CAP_WRITEBACK_CACHE,
			AllowOther:        os.Geteuid() == 0,
			DirectMount:       os.Geteuid() == 0,
			Options:           permissionOptions(cfg),
			Logger:            log.New(io.Discard, "", 0),
		},
	}
	server, err := fs.Mount(mnt, root, opts)
	if err != nil {
		if os.IsPermission(err) || errorsIsErrno(err, syscall.EPERM) {
			return nil, fmt.Errorf("mount %s: %v: %w", mnt, err, ErrNoFUSE)
		}
		return nil, fmt.Errorf("mount %s: %w", mnt, err)
	}
	f.server = server
	raiseReadahead(mnt)
	f.stopWatching = context.AfterFunc(ctx, func() { f.Unmount() })
	return f, nil
}

// Source and MountPoint are the absolute paths of the mount.
func (f *FS) Source() string     { return f.src }
func (f *FS) MountPoint() string { return f.mnt }

// Config is the configuration in force, with what Mount worked out (stored
// bytes, per-client limit) filled in.
func (f *FS) Config() Config { return f.cfg }

// Inject puts a fault in force and returns its id for Lift.
func (f *FS) Inject(fault Fault) (int, error) {
	return f.faults.inject(fault, time.Now())
}

// Lift ends one fault; operations it stalled proceed.
func (f *FS) Lift(id int) error { return f.faults.lift(id) }

// LiftAll ends every fault and returns how many there were.
func (f *FS) LiftAll() int { return f.faults.liftAll() }

// Faults lists the faults in force.
func (f *FS) Faults() []ActiveFault { return f.faults.list() }

// Unmount releases stalled operations (they fail with EIO), then unmounts.
// When processes still use the mount (a server's working directory inside
// it) it detaches the mount lazily: the mount point is free at once and the
// file system lives on until they let go; the error then wraps
// ErrDetachedBusy. Calling it again returns the first result.
func (f *FS) Unmount() error {
	f.unmountOnce.Do(func() {
		if f.stopWatching != nil {
			f.stopWatching()
		}
		close(f.closing)
		f.unmountErr = f.unmount()
	})
	return f.unmountErr
}

func (f *FS) unmount() error {
	err := f.server.Unmount()
	if err == nil {
		return nil
	}
	if !isMounted(f.mnt) {
		// The mount went away underneath (someone ran fusermount -u).
		return nil
	}
	if derr := detach(f.mnt); derr != nil {
		return fmt.Errorf("unmount %s: %v; lazy unmount: %w", f.mnt, err, derr)
	}
	served := make(chan struct{})
	go func() {
		f.server.Wait()
		close(served)
	}()
	select {
	case <-served:
		return nil
	case <-time.After(2 * time.Second):
		return fmt.Errorf("unmount %s: %w", f.mnt, ErrDetachedBusy)
	}
}

// raiseReadahead lets the kernel read ahead 1 MiB at a time, as the NFS
// client does with rsize=1048576; FUSE starts at the 128 KiB default. Best
// effort: without it (not root) reads come in 128 KiB requests, each paying
// a read latency.
func raiseReadahead(mnt string) {
	var st syscall.Stat_t
	if syscall.Stat(mnt, &st) != nil {
		return
	}
	bdi := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	os.WriteFile(bdi, []byte(strconv.Itoa(NFSRequestBytes/kib)), 0o644)
}

// within reports whether path lies inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func sameFile(a, b string) (bool, error) {
	ia, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	ib, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(ia, ib), nil
}
