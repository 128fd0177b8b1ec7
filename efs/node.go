package efs

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// node wraps go-fuse's loopback node so every operation the model cares about
// passes through the file system's faults, latency and throughput limit.
// Everything else (lookup, getattr, readdir, ...) is the loopback's own.
type node struct {
	*fs.LoopbackNode
	fsys *FS
}

var (
	_ fs.NodeWrapChilder    = (*node)(nil)
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeStatxer        = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeCopyFileRanger = (*node)(nil)
)

// WrapChild makes every node the loopback creates one of ours.
func (n *node) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	if ln, ok := ops.(*fs.LoopbackNode); ok {
		return &node{LoopbackNode: ln, fsys: n.fsys}
	}
	return ops
}

// NFS reports its wsize (1 MiB on EFS) as the block size, and stdio sizes
// its buffers from it: Valkey writes an RDB to EFS in 1 MiB write calls, not
// the 4 KiB a local disk suggests. Report the same.
const nfsBlockSize = NFSRequestBytes

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	child, errno := n.LoopbackNode.Lookup(ctx, name, out)
	out.Attr.Blksize = nfsBlockSize
	return child, errno
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	errno := n.LoopbackNode.Getattr(ctx, f, out)
	out.Blksize = nfsBlockSize
	return errno
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if size, ok := in.GetSize(); ok {
		if errno := n.fsys.journal.beforeTruncate(n, n.fsys.src, int64(size)); errno != 0 {
			return errno
		}
	}
	errno := n.LoopbackNode.Setattr(ctx, f, in, out)
	out.Blksize = nfsBlockSize
	return errno
}

func (n *node) Statx(ctx context.Context, f fs.FileHandle, flags uint32, mask uint32, out *fuse.StatxOut) syscall.Errno {
	errno := n.LoopbackNode.Statx(ctx, f, flags, mask, out)
	out.Blksize = nfsBlockSize
	return errno
}

// relPath is the node's path relative to the mount root ("" for the root).
func (n *node) relPath() string {
	return n.Path(nil)
}

func (n *node) childPath(name string) string {
	return path.Join(n.relPath(), name)
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.fsys.faults.gate(ctx, OpOpen, n.relPath()); errno != 0 {
		return nil, 0, errno
	}
	if errno := n.fsys.metaLatency(ctx, false); errno != 0 {
		return nil, 0, errno
	}
	n.fsys.countOp(OpOpen)
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, readableForWriteback(flags))
	if errno == syscall.EACCES && readableForWriteback(flags) != flags {
		fh, fuseFlags, errno = n.LoopbackNode.Open(ctx, flags)
	}
	if errno != 0 {
		return nil, 0, errno
	}
	return n.fsys.wrapFile(fh, n), fuseFlags, 0
}

// readableForWriteback opens write-only files read-write: with the kernel's
// write-back cache a partial page write may first read the page back.
func readableForWriteback(flags uint32) uint32 {
	if flags&syscall.O_ACCMODE == syscall.O_WRONLY {
		return flags&^syscall.O_ACCMODE | syscall.O_RDWR
	}
	return flags
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := n.fsys.faults.gate(ctx, OpCreate, n.childPath(name)); errno != 0 {
		return nil, nil, 0, errno
	}
	if errno := n.fsys.metaLatency(ctx, true); errno != 0 {
		return nil, nil, 0, errno
	}
	n.fsys.countOp(OpCreate)
	child, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, readableForWriteback(flags), mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	n.fsys.ownByAccessPoint(n.childPath(name), &out.Attr)
	out.Attr.Blksize = nfsBlockSize
	childNode, _ := child.Operations().(*node)
	if childNode == nil {
		return child, fh, fuseFlags, 0
	}
	return child, n.fsys.wrapFile(fh, childNode), fuseFlags, 0
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	from := n.childPath(name)
	to := newName
	if np, ok := newParent.(*node); ok {
		to = np.childPath(newName)
	}
	if errno := n.fsys.faults.gate(ctx, OpRename, from, to); errno != 0 {
		return errno
	}
	if errno := n.fsys.metaLatency(ctx, true); errno != 0 {
		return errno
	}
	n.fsys.countOp(OpRename)
	keep, torn := n.fsys.faults.tornKeep(from, to)
	if torn {
		// Truncate the source on the real file system, then rename it as
		// asked: the target ends up holding only the first part of the file
		// and the caller is told all went well.
		src := filepath.Join(n.fsys.src, from)
		if info, err := os.Stat(src); err == nil && info.Mode().IsRegular() {
			if err := os.Truncate(src, int64(float64(info.Size())*keep)); err != nil {
				return fs.ToErrno(err)
			}
		}
	}
	errno := n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	if errno == 0 && torn {
		// With the write-back cache the kernel trusts its own idea of the
		// file's size; drop the renamed entry so the next lookup sees the
		// truncated file. The kernel holds the directory lock until this
		// handler returns, so the notification must come from elsewhere.
		if parent := newParent.EmbeddedInode(); parent != nil {
			go parent.NotifyEntry(newName)
		}
	}
	return errno
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	if errno := n.fsys.metaLatency(ctx, true); errno != 0 {
		return errno
	}
	return n.LoopbackNode.Unlink(ctx, name)
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := n.fsys.metaLatency(ctx, true); errno != 0 {
		return nil, errno
	}
	child, errno := n.LoopbackNode.Mkdir(ctx, name, mode, out)
	if errno == 0 {
		n.fsys.ownByAccessPoint(n.childPath(name), &out.Attr)
	}
	return child, errno
}

// CopyFileRange is refused so copies fall back to reads and writes, which
// the model meters; the loopback would copy in the kernel, unseen.
func (n *node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, length uint64, flags uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

// file wraps the loopback's file handle: reads, writes and fsync go through
// the model. It must shadow PassthroughFd: on kernels ≥ 6.9 as root go-fuse
// would otherwise hand the descriptor to the kernel and no I/O would reach us.
type file struct {
	*fs.LoopbackFile
	node *node
	debt latencyDebt
}

var (
	_ fs.FilePassthroughFder = (*file)(nil)
	_ fs.FileReader          = (*file)(nil)
	_ fs.FileWriter          = (*file)(nil)
	_ fs.FileWritever        = (*file)(nil)
	_ fs.FileFsyncer         = (*file)(nil)
)

func (f *FS) wrapFile(fh fs.FileHandle, n *node) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	return &file{LoopbackFile: lf, node: n}
}

// PassthroughFd declines kernel passthrough.
func (f *file) PassthroughFd() (int, bool) { return 0, false }

func (f *file) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	fsys, p := f.node.fsys, f.node.relPath()
	if errno := fsys.faults.gate(ctx, OpRead, p); errno != 0 {
		return nil, errno
	}
	done := fsys.activity.begin(time.Now())
	defer done()
	res, errno := f.LoopbackFile.Read(ctx, buf, off)
	if errno != 0 {
		return nil, errno
	}
	data, status := res.Bytes(buf)
	res.Done()
	if !status.Ok() {
		return nil, syscall.Errno(status)
	}
	if errno := fsys.pace(ctx, &f.debt, OpRead, p, len(data)); errno != 0 {
		return nil, errno
	}
	fsys.countData(OpRead, len(data))
	return fuse.ReadResultData(data), 0
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	return f.Writev(ctx, [][]byte{data}, off)
}

func (f *file) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	fsys, p := f.node.fsys, f.node.relPath()
	if errno := fsys.faults.gate(ctx, OpWrite, p); errno != 0 {
		return 0, errno
	}
	done := fsys.activity.begin(time.Now())
	defer done()
	total := 0
	for _, d := range data {
		total += len(d)
	}
	if errno := fsys.journal.beforeWrite(ctx, f, off, total); errno != 0 {
		return 0, errno
	}
	var written uint32
	var errno syscall.Errno
	if len(data) == 1 {
		written, errno = f.LoopbackFile.Write(ctx, data[0], off)
	} else {
		written, errno = f.LoopbackFile.Writev(ctx, data, off)
	}
	if errno != 0 {
		return 0, errno
	}
	if errno := fsys.pace(ctx, &f.debt, OpWrite, p, int(written)); errno != 0 {
		return 0, errno
	}
	fsys.countData(OpWrite, int(written))
	return written, 0
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	fsys := f.node.fsys
	if errno := fsys.faults.gate(ctx, OpFsync, f.node.relPath()); errno != 0 {
		return errno
	}
	if errno := fsys.metaLatency(ctx, true); errno != 0 {
		return errno
	}
	fsys.countOp(OpFsync)
	// What reached us before the fsync is what it makes durable; writes
	// racing with it (Valkey appends from its main thread while a background
	// thread fsyncs) start a new journal from the size they find.
	fsys.journal.synced(f.node)
	return f.LoopbackFile.Fsync(ctx, flags)
}
