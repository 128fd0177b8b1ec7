package efs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoFUSE means this machine cannot mount FUSE file systems here: no
// /dev/fuse, no permission to use it, or no fusermount for a non-root user.
var ErrNoFUSE = errors.New("FUSE is not available (needs /dev/fuse and root, or the fuse package's fusermount: apt-get install -y fuse)")

// ErrDetachedBusy means Unmount found the mount in use and detached it
// lazily: the mount point is free, the file system lives on for the processes
// that still use it.
var ErrDetachedBusy = errors.New("mount was busy and is detached lazily")

const fuseDevice = "/dev/fuse"

func checkFUSE(device string) error {
	dev, err := os.OpenFile(device, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %v: %w", device, err, ErrNoFUSE)
	}
	dev.Close()
	if os.Geteuid() != 0 && fusermountBinary() == "" {
		return fmt.Errorf("not root and no fusermount on PATH: %w", ErrNoFUSE)
	}
	return nil
}

func fusermountBinary() string {
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	point  string
	fstype string
	source string
}

// mountsAt lists the mounts stacked on path, bottom first.
func mountsAt(path string) ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	var out []mountEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		e, ok := parseMountInfo(sc.Text())
		if ok && e.point == path {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	return out, nil
}

// parseMountInfo reads "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3
// /dev/root rw,errors=continue" (proc(5)).
func parseMountInfo(line string) (mountEntry, bool) {
	fields := strings.Fields(line)
	sep := -1
	for i, f := range fields {
		if f == "-" && i >= 6 {
			sep = i
			break
		}
	}
	if sep < 0 || len(fields) < sep+3 {
		return mountEntry{}, false
	}
	return mountEntry{
		point:  unescapeMountPath(fields[4]),
		fstype: fields[sep+1],
		source: unescapeMountPath(fields[sep+2]),
	}, true
}

// unescapeMountPath undoes the kernel's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// isMounted reports whether anything is mounted at path.
func isMounted(path string) bool {
	m, err := mountsAt(path)
	return err == nil && len(m) > 0
}

// IsMounted reports whether a FUSE file system is mounted at path.
func IsMounted(path string) (bool, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	m, err := mountsAt(path)
	if err != nil {
		return false, err
	}
	for _, e := range m {
		if isFUSE(e) {
			return true, nil
		}
	}
	return false, nil
}

func isFUSE(e mountEntry) bool {
	return e.fstype == "fuse" || strings.HasPrefix(e.fstype, "fuse.")
}

// CleanupStale clears FUSE mounts left at mnt, such as the "Transport
// endpoint is not connected" mount a killed daemon leaves: fusermount -u, and
// a lazy unmount when that fails. It refuses to touch a mount that is not
// FUSE. A path with nothing mounted is fine.
func CleanupStale(mnt string) error {
	mnt, err := filepath.Abs(mnt)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", mnt, err)
	}
	for range 8 {
		stack, err := mountsAt(mnt)
		if err != nil {
			return err
		}
		if len(stack) == 0 {
			return nil
		}
		top := stack[len(stack)-1]
		if !isFUSE(top) {
			return fmt.Errorf("%s has a %s mount (%s), not FUSE: not touching it", mnt, top.fstype, top.source)
		}
		if bin := fusermountBinary(); bin != "" {
			if exec.Command(bin, "-u", mnt).Run() == nil {
				continue
			}
		}
		if err := detach(mnt); err != nil {
			return fmt.Errorf("clear stale mount at %s: %w", mnt, err)
		}
	}
	if isMounted(mnt) {
		return fmt.Errorf("clear stale mount at %s: still mounted after repeated unmounts", mnt)
	}
	return nil
}

// detach unmounts lazily: the mount point is free at once, users keep what
// they hold.
func detach(mnt string) error {
	var errs []error
	if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err == nil {
		return nil
	} else {
		errs = append(errs, fmt.Errorf("umount2 MNT_DETACH: %w", err))
	}
	if bin := fusermountBinary(); bin != "" {
		out, err := exec.Command(bin, "-u", "-z", mnt).CombinedOutput()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s -u -z: %v: %s", filepath.Base(bin), err, strings.TrimSpace(string(out))))
	}
	out, err := exec.Command("umount", "-l", mnt).CombinedOutput()
	if err == nil {
		return nil
	}
	errs = append(errs, fmt.Errorf("umount -l: %v: %s", err, strings.TrimSpace(string(out))))
	return errors.Join(errs...)
}

func errorsIsErrno(err error, errno syscall.Errno) bool {
	var e syscall.Errno
	return errors.As(err, &e) && e == errno
}
