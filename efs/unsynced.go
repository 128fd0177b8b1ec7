package efs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The emulator remembers, per file, what it held at its last fsync, so that
// DropUnsynced can put it back: what a Fargate task's unflushed NFS pages
// amount to when its VM goes away (Jepsen's LazyFS does the same for local
// file systems).
//
// What is modelled:
//   - Data: a file's bytes and size revert to their state at its last fsync
//     through this mount (or, for a file not written since the mount or
//     since its last fsync, stay as they are). Bytes appended since are cut
//     off; synced bytes overwritten since get their old contents back; a
//     truncation since is undone. A file created and never fsynced comes
//     back empty (it is not removed).
//   - Metadata (create, rename, unlink, mkdir) is durable at once: NFS
//     sends it to the server synchronously, and Valkey fsyncs a file before
//     renaming it into place.
//
// Reverting writes a fresh copy and renames it over the file in the source
// directory, so the kernel (which, with the write-back cache, trusts its own
// idea of a file's size) meets a new inode at the next lookup, and any late
// write-back of the dead process's pages lands in the orphaned old file.

// journal tracks the unsynced changes of every written file.
type journal struct {
	mu    sync.Mutex
	files map[*node]*fileJournal
}

// fileJournal is one file's state since its last fsync.
type fileJournal struct {
	syncedSize int64
	undo       []undoEntry // synced bytes overwritten since, oldest first
}

type undoEntry struct {
	off  int64
	data []byte
}

func newJournal() *journal { return &journal{files: map[*node]*fileJournal{}} }

// DropReport says what DropUnsynced threw away.
type DropReport struct {
	Files []DroppedFile `json:"files"`
	Bytes int64         `json:"bytes"` // bytes cut off or restored, over all files
}

// DroppedFile is one reverted file.
type DroppedFile struct {
	Path       string `json:"path"`
	SizeBefore int64  `json:"size_before"`
	SizeAfter  int64  `json:"size_after"` // the size at the last fsync
	// Restored is the synced bytes written back over later overwrites, as
	// the kernel sent them: with the write-back cache it writes whole
	// pages, so this counts the pages touched rather than bytes changed.
	Restored int64 `json:"restored_bytes"`
}

// entry returns n's journal, starting one at size (the file's current size,
// asked for only when a new journal is needed).
func (j *journal) entry(n *node, size func() (int64, syscall.Errno)) (*fileJournal, syscall.Errno) {
	if fj := j.files[n]; fj != nil {
		return fj, 0
	}
	s, errno := size()
	if errno != 0 {
		return nil, errno
	}
	fj := &fileJournal{syncedSize: s}
	j.files[n] = fj
	return fj, 0
}

// beforeWrite records what a write of n bytes at off will overwrite.
func (j *journal) beforeWrite(ctx context.Context, f *file, off int64, n int) syscall.Errno {
	j.mu.Lock()
	defer j.mu.Unlock()
	fj, errno := j.entry(f.node, func() (int64, syscall.Errno) {
		var out fuse.AttrOut
		errno := f.LoopbackFile.Getattr(ctx, &out)
		return int64(out.Size), errno
	})
	if errno != 0 {
		return errno
	}
	end := min(off+int64(n), fj.syncedSize)
	if off >= end {
		return 0 // beyond the synced size: truncation undoes it
	}
	buf := make([]byte, end-off)
	res, errno := f.LoopbackFile.Read(ctx, buf, off)
	if errno != 0 {
		return errno
	}
	data, status := res.Bytes(buf)
	res.Done()
	if !status.Ok() {
		return syscall.Errno(status)
	}
	fj.undo = append(fj.undo, undoEntry{off: off, data: append([]byte(nil), data...)})
	return 0
}

// beforeTruncate records the synced bytes a truncation to size removes.
func (j *journal) beforeTruncate(n *node, src string, size int64) syscall.Errno {
	j.mu.Lock()
	defer j.mu.Unlock()
	path := filepath.Join(src, n.relPath())
	fj, errno := j.entry(n, func() (int64, syscall.Errno) {
		info, err := os.Stat(path)
		if err != nil {
			return 0, errnoOf(err)
		}
		return info.Size(), 0
	})
	if errno != 0 || size >= fj.syncedSize {
		return errno
	}
	fh, err := os.Open(path)
	if err != nil {
		return errnoOf(err)
	}
	defer fh.Close()
	buf := make([]byte, fj.syncedSize-size)
	got, err := fh.ReadAt(buf, size)
	if err != nil && err != io.EOF {
		return errnoOf(err)
	}
	fj.undo = append(fj.undo, undoEntry{off: size, data: buf[:got]})
	return 0
}

// synced forgets n's journal: everything it held is durable now.
func (j *journal) synced(n *node) {
	j.mu.Lock()
	delete(j.files, n)
	j.mu.Unlock()
}

func errnoOf(err error) syscall.Errno { return fs.ToErrno(err) }

// DropUnsynced reverts every file to its state at its last fsync, as if the
// host had died with the written-but-unsynced data in its page cache. Call
// it after the process writing the files is gone (killed and reaped), and
// before the next one starts.
func (f *FS) DropUnsynced() (DropReport, error) {
	j := f.journal
	j.mu.Lock()
	files := j.files
	j.files = map[*node]*fileJournal{}
	j.mu.Unlock()
	var rep DropReport
	var firstErr error
	for n, fj := range files {
		d, ok, err := f.revert(n, fj)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if ok {
			rep.Files = append(rep.Files, d)
			rep.Bytes += max(d.SizeBefore-d.SizeAfter, 0) + d.Restored
		}
	}
	sort.Slice(rep.Files, func(a, b int) bool { return rep.Files[a].Path < rep.Files[b].Path })
	return rep, firstErr
}

// revert rewrites one file as it was at its last fsync. ok is false when
// the file is gone or is no longer the one the journal is about.
func (f *FS) revert(n *node, fj *fileJournal) (DroppedFile, bool, error) {
	rel := n.relPath()
	name, parent := n.Parent()
	path := filepath.Join(f.src, rel)
	info, err := os.Lstat(path)
	if parent == nil || err != nil || !info.Mode().IsRegular() || info.Sys().(*syscall.Stat_t).Ino != n.StableAttr().Ino {
		return DroppedFile{}, false, nil // unlinked or replaced since: nothing to revert
	}
	d := DroppedFile{Path: rel, SizeBefore: info.Size(), SizeAfter: fj.syncedSize}
	tmp := path + ".vc-drop-unsynced"
	if err := copyReverted(path, tmp, info, fj); err != nil {
		os.Remove(tmp)
		return d, false, fmt.Errorf("drop unsynced data of %s: %w", rel, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return d, false, fmt.Errorf("drop unsynced data of %s: %w", rel, err)
	}
	for _, u := range fj.undo {
		d.Restored += int64(len(u.data))
	}
	parent.NotifyEntry(name) // the next lookup finds the new inode
	return d, true, nil
}

// copyReverted writes the synced prefix of path to tmp and puts back the
// overwritten bytes, newest first, so the oldest (synced) contents win.
func copyReverted(path, tmp string, info os.FileInfo, fj *fileJournal) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		_ = out.Chown(int(st.Uid), int(st.Gid)) // best effort: as root the owner is kept
	}
	if _, err := io.CopyN(out, in, min(fj.syncedSize, info.Size())); err != nil && err != io.EOF {
		out.Close()
		return err
	}
	for i := len(fj.undo) - 1; i >= 0; i-- {
		if _, err := out.WriteAt(fj.undo[i].data, fj.undo[i].off); err != nil {
			out.Close()
			return err
		}
	}
	if err := out.Truncate(fj.syncedSize); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
