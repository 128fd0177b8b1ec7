package memlimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/leakcheck"
	"github.com/trigpointing/valkey-chaos/memlimit"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func realHierarchy(t *testing.T) memlimit.Hierarchy {
	t.Helper()
	h, err := memlimit.Detect()
	if err != nil {
		t.Fatalf("this machine has the cgroup v1 memory controller as root: %v", err)
	}
	return h
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// command sends one inline command and returns the first reply line.
func command(addr, cmd string, timeout time.Duration) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

func TestValkeyServerOverTheLimitIsOOMKilled(t *testing.T) {
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		t.Fatalf("valkey-server is required (run scripts/setup.sh): %v", err)
	}
	h := realHierarchy(t)
	const limit = 64 << 20
	g, err := h.Create(limit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	port := freePort(t)
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir(), "--enable-debug-command", "yes", "--logfile", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := g.Add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		<-exited
		t.Fatal(err)
	}
	if procs, err := g.Procs(); err != nil || !slices.Contains(procs, cmd.Process.Pid) {
		t.Fatalf("procs %v (%v), want the server's pid %d", procs, err, cmd.Process.Pid)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := command(addr, "PING", time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server never accepted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// 3M keys of 100 B need about 400 MiB: far over the limit.
	reply, _ := command(addr, "DEBUG POPULATE 3000000 key 100", 2*time.Minute)
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("server still running after DEBUG POPULATE (reply %q)", reply)
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		t.Fatalf("server exit %v, want killed", werr)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || 128+int(ws.Signal()) != 137 {
		t.Fatalf("server ended %v, want SIGKILL (exit 137)", ee)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OOMKills < 1 {
		t.Errorf("oom kills %d, want >= 1", st.OOMKills)
	}
	// The kernel let the group reach its limit before killing.
	// The kernel charges in batches of up to 64 pages: the peak may pass the limit by that much.
	if st.Peak < limit*9/10 || st.Peak > limit+64*4096 {
		t.Errorf("peak %d, want within 10%% below the limit %d", st.Peak, limit)
	}
	if st.Limit != limit {
		t.Errorf("limit %d, want %d", st.Limit, limit)
	}
}

func TestCloseKillsEveryProcessAndRemovesTheGroup(t *testing.T) {
	h := realHierarchy(t)
	g, err := h.Create(32 << 20)
	if err != nil {
		t.Fatal(err)
	}
	// The shell waits for a line, so it is in the group before it forks the
	// background sleep: a process the test does not know the pid of, like
	// an orphaned save child.
	cmd := exec.Command("sh", "-c", "read x; sleep 300 & exec sleep 301")
	stdin, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "go\n")
	var procs []int
	for deadline := time.Now().Add(30 * time.Second); len(procs) < 2; {
		if procs, err = g.Procs(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("procs %v, want the shell's two sleeps", procs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Reap the direct child as soon as it dies, as the local target does.
	go cmd.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group dir %s still exists (%v)", g.Dir(), err)
	}
	for _, pid := range procs {
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("pid %d survived Close", pid)
		}
	}
	if left, _ := memlimit.Leftovers(h, os.Getpid()); len(left) != 0 {
		t.Errorf("leftovers %v", left)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func zombie(pid int) bool {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// fakeV2 is a cgroup2 root that offers the memory controller, as on Fargate.
func fakeV2(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestV2OnAFakeTree(t *testing.T) {
	root := fakeV2(t)
	h, err := memlimit.DetectIn(filepath.Join(root, "no-v1"), filepath.Join(root, "missing"), root)
	if err != nil || h.Version != memlimit.V2 || h.Root != root {
		t.Fatalf("detect = %+v, %v; want v2 at %s", h, err, root)
	}
	h = memlimit.FakeHierarchy(root, memlimit.V2)
	g, err := h.Create(256 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s%d-", memlimit.Prefix, os.Getpid()); !strings.HasPrefix(g.Name(), want) {
		t.Errorf("name %s, want prefix %s", g.Name(), want)
	}
	if got, _ := os.ReadFile(filepath.Join(g.Dir(), "memory.max")); string(got) != "268435456" {
		t.Errorf("memory.max = %q, want 268435456", got)
	}
	files := map[string]string{
		"memory.current": "1000\n",
		"memory.peak":    "2000\n",
		"memory.stat":    "anon 500\nfile 300\nkernel 200\n",
		"memory.events":  "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n",
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(g.Dir(), name), []byte(body), 0o644)
	}
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := memlimit.Stats{Limit: 256 << 20, Current: 1000, Peak: 2000, Anon: 500, OOMKills: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleep.Wait() }()
	if err := g.Add(sleep.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("process in the group ended %v, want killed by Close", err)
	}
	if _, err := os.Stat(g.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("group dir still exists: %v", err)
	}
}

func TestV1FigureFilesOnAFakeTree(t *testing.T) {
	h := memlimit.FakeHierarchy(t.TempDir(), memlimit.V1)
	g, err := h.Create(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	files := map[string]string{
		"memory.usage_in_bytes":     "4096\n",
		"memory.max_usage_in_bytes": "67108864\n",
		"memory.stat":               "cache 100\nrss 60000000\nrss_huge 0\ntotal_rss 60000000\n",
		"memory.oom_control":        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(g.Dir(), name), []byte(body), 0o644)
	}
	st, err := g.Stats()
	want := memlimit.Stats{Limit: 64 << 20, Current: 4096, Peak: 64 << 20, Anon: 60000000, OOMKills: 2}
	if err != nil || st != want {
		t.Errorf("stats %+v (%v), want %+v", st, err, want)
	}
}

func TestDetectNamesTheFixWhenNothingIsUsable(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("cpu pids\n"), 0o644)
	_, err := memlimit.DetectIn(filepath.Join(dir, "none"), dir)
	if !errors.Is(err, memlimit.ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "task memory") || !strings.Contains(msg, "root") {
		t.Errorf("message %q: want one line naming the fix", msg)
	}
}

func TestLeftoversAreOnlyThisProjectsGroups(t *testing.T) {
	root := t.TempDir()
	me := fmt.Sprintf("%s%d-1", memlimit.Prefix, os.Getpid())
	other := memlimit.Prefix + "999999999-3"
	for _, d := range []string{me, other, "system.slice", memlimit.Prefix + "x", memlimit.Prefix + "12-y"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, memlimit.Prefix+"7-7"), nil, 0o644) // a file, not a group
	h := memlimit.FakeHierarchy(root, memlimit.V2)
	tests := []struct {
		pid  int
		want []string
	}{
		{os.Getpid(), []string{me}},
		{0, []string{me, other}},
		{42, nil},
	}
	for _, tc := range tests {
		got, err := memlimit.Leftovers(h, tc.pid)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range got {
			names = append(names, filepath.Base(p))
		}
		slices.Sort(names)
		slices.Sort(tc.want)
		if !slices.Equal(names, tc.want) {
			t.Errorf("leftovers(pid %d) = %v, want %v", tc.pid, names, tc.want)
		}
	}
}
