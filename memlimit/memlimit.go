// Package memlimit runs processes under a hard memory limit, as a container's
// limit is enforced: a memory cgroup (v1 or v2) per group of processes, the
// kernel's figures for it (peak, anonymous, current, OOM kills), and removal
// that kills whatever is still inside first (an orphaned BGSAVE child keeps
// a cgroup busy after its server died).
package memlimit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

// Prefix starts the name of every cgroup this project creates, followed by
// the creating process's pid: valkey-chaos-<pid>-<n>.
const Prefix = "valkey-chaos-"

// Version is the cgroup interface of a hierarchy.
type Version int

const (
	V1 Version = 1 // memory.limit_in_bytes, memory.max_usage_in_bytes, memory.oom_control
	V2 Version = 2 // memory.max, memory.peak, memory.events
)

func (v Version) String() string { return "cgroup v" + strconv.Itoa(int(v)) }

// Hierarchy is a directory under which memory cgroups can be created.
type Hierarchy struct {
	Root    string
	Version Version
	// rmdir removes a group's directory; a fake tree in a test replaces it
	// (a real cgroupfs directory is removed with rmdir despite its files).
	rmdir func(string) error
}

// Standard mount points, tried in this order by Detect.
const (
	V1Root = "/sys/fs/cgroup/memory"
	V2Root = "/sys/fs/cgroup"
)

// ErrUnavailable says no usable memory controller was found.
var ErrUnavailable = errors.New("no usable memory cgroup")

// Detect finds a hierarchy this process may create memory cgroups in: the
// cgroup v1 memory controller, else a cgroup v2 mount that offers the memory
// controller to its children. The error names the fix when neither works.
func Detect() (Hierarchy, error) {
	return detect(V1Root, V2Root, "/sys/fs/cgroup/unified")
}

func detect(v1Root string, v2Roots ...string) (Hierarchy, error) {
	// Under this process's own v1 memory cgroup when it may write there, so
	// the servers stay inside whatever accounts for this process; else at
	// the controller's root.
	if own := ownV1Cgroup(); own != "" && own != "/" {
		if h := (Hierarchy{Root: filepath.Join(v1Root, own), Version: V1}); usable(h) == nil {
			return h, nil
		}
	}
	v1err := usable(Hierarchy{Root: v1Root, Version: V1})
	if v1err == nil {
		return Hierarchy{Root: v1Root, Version: V1}, nil
	}
	for _, root := range v2Roots {
		h := Hierarchy{Root: root, Version: V2}
		if usable(h) == nil {
			return h, nil
		}
	}
	return Hierarchy{}, fmt.Errorf("%w: %w (%v): run as root on a host with the cgroup v1 memory controller at %s or cgroup v2 with \"memory\" in %s/cgroup.subtree_control, or drop the task memory limit",
		result.ErrBadInput, ErrUnavailable, v1err, V1Root, V2Root)
}

// ownV1Cgroup is this process's path in the v1 memory hierarchy
// ("4:memory:/a/b" in /proc/self/cgroup), "" when there is none.
func ownV1Cgroup() string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && hasWord(strings.ReplaceAll(parts[1], ",", " "), "memory") {
			return parts[2]
		}
	}
	return ""
}

// usable checks that h looks like a memory hierarchy we can write to.
func usable(h Hierarchy) error {
	switch h.Version {
	case V1:
		if _, err := os.Stat(filepath.Join(h.Root, "memory.limit_in_bytes")); err != nil {
			return fmt.Errorf("no v1 memory controller at %s", h.Root)
		}
	case V2:
		ctl, err := os.ReadFile(filepath.Join(h.Root, "cgroup.subtree_control"))
		if err != nil || !hasWord(string(ctl), "memory") {
			return fmt.Errorf("%s offers no memory controller to its children", h.Root)
		}
	default:
		return fmt.Errorf("unknown cgroup version %d", h.Version)
	}
	if err := syscall.Access(h.Root, 2 /* W_OK */); err != nil {
		return fmt.Errorf("%s is not writable (needs root): %w", h.Root, err)
	}
	return nil
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

var seq atomic.Int64

// Group is one memory cgroup with a hard limit.
type Group struct {
	h     Hierarchy
	dir   string
	limit int64
}

// Create makes a new group valkey-chaos-<pid>-<n> under h with a hard limit
// of limit bytes (and, on v1, the same limit on memory plus swap, so a host
// with swap cannot stretch it; on v2, memory.swap.max 0).
func (h Hierarchy) Create(limit int64) (*Group, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: memory limit %d bytes must be > 0", result.ErrBadInput, limit)
	}
	name := fmt.Sprintf("%s%d-%d", Prefix, os.Getpid(), seq.Add(1))
	g := &Group{h: h, dir: filepath.Join(h.Root, name), limit: limit}
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", g.dir, err)
	}
	if err := g.setLimit(limit); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Group) setLimit(limit int64) error {
	v := strconv.FormatInt(limit, 10)
	switch g.h.Version {
	case V1:
		if err := g.write("memory.limit_in_bytes", v); err != nil {
			return err
		}
		// Optional knobs: memsw exists only with swap accounting; moving the
		// charge of what a process allocated before Add keeps the figures whole.
		_ = g.writeIfExists("memory.memsw.limit_in_bytes", v)
		_ = g.writeIfExists("memory.move_charge_at_immigrate", "3")
	case V2:
		if err := g.write("memory.max", v); err != nil {
			return err
		}
		_ = g.writeIfExists("memory.swap.max", "0")
	}
	return nil
}

// Dir is the group's directory.
func (g *Group) Dir() string { return g.dir }

// Name is the group's directory name (valkey-chaos-<pid>-<n>).
func (g *Group) Name() string { return filepath.Base(g.dir) }

// Limit is the hard limit in bytes.
func (g *Group) Limit() int64 { return g.limit }

// Add moves process pid (and, from then on, every child it forks) into the group.
func (g *Group) Add(pid int) error {
	return g.write("cgroup.procs", strconv.Itoa(pid))
}

func (g *Group) write(file, value string) error {
	if err := os.WriteFile(filepath.Join(g.dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, filepath.Join(g.dir, file), err)
	}
	return nil
}

func (g *Group) writeIfExists(file, value string) error {
	if _, err := os.Stat(filepath.Join(g.dir, file)); err != nil {
		return nil
	}
	return g.write(file, value)
}

// Procs lists the live processes in the group (zombies and vanished pids
// left out: they hold no memory and leave the group when reaped).
func (g *Group) Procs() ([]int, error) {
	data, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(g.dir, "cgroup.procs"), err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || (stat[i+2] != 'Z' && stat[i+2] != 'X')
}

// Close kills every process still in the group and removes it. It is safe
// to call more than once and on every exit path.
func (g *Group) Close() error {
	if g == nil {
		return nil
	}
	if _, err := os.Stat(g.dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := g.Procs()
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: processes %v survive SIGKILL", g.dir, pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	rmdir := g.h.rmdir
	if rmdir == nil {
		rmdir = syscall.Rmdir
	}
	// A process that just died may keep the group busy for a moment.
	for {
		err := rmdir(g.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", g.dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Leftovers lists this project's cgroups under h created by process pid
// (0: by any process), as directory paths: what a test, or a run that
// crashed, left behind. Other groups on the machine never match.
func Leftovers(h Hierarchy, pid int) ([]string, error) {
	entries, err := os.ReadDir(h.Root)
	if err != nil {
		return nil, fmt.Errorf("list cgroups in %s: %w", h.Root, err)
	}
	var out []string
	for _, e := range entries {
		creator, ok := creatorOf(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		if pid == 0 || creator == pid {
			out = append(out, filepath.Join(h.Root, e.Name()))
		}
	}
	return out, nil
}

// creatorOf parses valkey-chaos-<pid>-<n>.
func creatorOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return 0, false
	}
	p, n, ok := strings.Cut(rest, "-")
	pid, err1 := strconv.Atoi(p)
	_, err2 := strconv.Atoi(n)
	return pid, ok && err1 == nil && err2 == nil
}
