// Package leakcheck makes a test binary fail when its tests, passing or
// failing, leave an EFS emulator mounted, a server process running or a
// memory cgroup behind: the promise every test of this repository keeps.
package leakcheck

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/memlimit"
)

// root holds every temp dir of this test binary, so the mount check sees
// only what these tests mounted, not another run's mounts on the machine.
var root string

// Main runs the tests with TMPDIR under a private root, then fails the
// binary if anything was left behind. Call it from TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "vc-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create test temp root:", err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", dir)
	root = dir
	code := m.Run()
	if left := LeftBehind(); left != "" {
		// Keep the root: removing it would walk into a live mount (and may
		// hang on a stalled one) and destroy the evidence.
		fmt.Fprintf(os.Stderr, "left behind after the tests (kept %s): %s\n", dir, left)
		if code == 0 {
			code = 1
		}
	} else {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// LeftBehind lists EFS emulator mounts under the test root (from
// /proc/mounts), child processes of this process whose name contains
// "server" that are still alive, and memory cgroups this process created
// (memlimit names them after its pid); "" when there are none.
func LeftBehind() string {
	var out []string
	if data, err := os.ReadFile("/proc/mounts"); err == nil && root != "" {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 2 && strings.Contains(f[2], "valkey-chaos-efs") && strings.HasPrefix(f[1], root) {
				out = append(out, "mount: "+line)
			}
		}
	}
	for _, p := range ChildServers() {
		out = append(out, "process "+p)
	}
	for _, g := range Cgroups() {
		out = append(out, "cgroup "+g)
	}
	return strings.Join(out, "; ")
}

// ChildServers names the live child processes of this process whose name
// contains "server" (valkey-server, redis-server), as "pid (name)". Only
// direct children: a BGSAVE child whose server was SIGKILLed is re-parented
// to init and is not seen here (the local target kills process groups so
// that it dies too).
func ChildServers() []string {
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var name, ppid, state string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Name:"); ok {
				name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
				ppid = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(sc.Text(), "State:"); ok {
				state = strings.TrimSpace(v)
			}
		}
		f.Close()
		if ppid == self && strings.Contains(name, "server") && !strings.HasPrefix(state, "Z") {
			out = append(out, fmt.Sprintf("%s (%s)", e.Name(), name))
		}
	}
	return out
}

// Cgroups lists the memory cgroups this process created and has not
// removed: where memlimit creates them, and the standard v1 and v2 roots.
func Cgroups() []string {
	hs := []memlimit.Hierarchy{{Root: memlimit.V1Root, Version: memlimit.V1}, {Root: memlimit.V2Root, Version: memlimit.V2}}
	if h, err := memlimit.Detect(); err == nil {
		hs = append(hs, h)
	}
	seen := map[string]bool{}
	var out []string
	for _, h := range hs {
		left, _ := memlimit.Leftovers(h, os.Getpid()) // a missing hierarchy holds none
		for _, l := range left {
			if !seen[l] {
				seen[l] = true
				out = append(out, l)
			}
		}
	}
	return out
}

// RequireFUSE skips only when this machine truly cannot mount FUSE.
func RequireFUSE(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("skipping: /dev/fuse cannot be opened (%v): the EFS emulator needs FUSE", err)
	}
	f.Close()
}
