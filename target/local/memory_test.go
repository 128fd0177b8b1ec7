package local

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/target"
)

const forkOOMLimit = 256 << 20

// overwrite sends pipelined SETs of random existing keys key:0..keys-1 at
// full speed on conns connections until stop closes, the connection fails
// or the bound is reached; it returns the number acknowledged.
func overwrite(addr string, keys, conns int, stop <-chan struct{}) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	value := strings.Repeat("x", 100)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			defer nc.Close()
			r := bufio.NewReader(nc)
			var buf strings.Builder
			deadline := time.Now().Add(60 * time.Second)
			for n := 0; n < 3_000_000 && time.Now().Before(deadline); n += 100 {
				select {
				case <-stop:
					return
				default:
				}
				buf.Reset()
				for i := 0; i < 100; i++ {
					fmt.Fprintf(&buf, "SET key:%d %s\r\n", rand.IntN(keys), value)
				}
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := nc.Write([]byte(buf.String())); err != nil {
					return
				}
				for i := 0; i < 100; i++ {
					line, err := r.ReadString('\n')
					if err != nil || !strings.HasPrefix(line, "+OK") {
						return
					}
				}
				mu.Lock()
				total += 100
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return total
}

func info(t *testing.T, addr, field string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "INFO persistence\r\n")
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		return ""
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
}

// startForkOOM starts a server under a 256 MiB limit with about 950k keys
// of 100 B, the save stretched to ~10 µs a key, and the given oom-score-adj
// values (parent, replica, save child), then overwrites random keys during
// a BGSAVE until the save ends or the server dies.
func startForkOOM(t *testing.T, adj string) (*Target, target.Instance) {
	tg := newTarget(t, Config{})
	inst, err := tg.Start(context.Background(), target.StartSpec{
		// A save rule that never fires: with none, the server never refuses
		// writes after a failed save.
		Label: "fork-oom", TaskMemory: forkOOMLimit, Save: "3600 1000000000",
		ExtraArgs: []string{"--enable-debug-command", "yes", "--oom-score-adj", "yes",
			"--oom-score-adj-values", adj, "--rdb-key-save-delay", "10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp(t, inst.Addr, "DEBUG POPULATE 950000 key 100"); got != "+OK" {
		t.Fatalf("populate: %s", got)
	}
	if mem, ok, err := tg.Memory(); !ok || err != nil || mem.LimitBytes != forkOOMLimit || mem.OOMKills != 0 {
		t.Fatalf("memory before the save %+v ok=%v err=%v", mem, ok, err)
	}
	stop := make(chan struct{})
	done := make(chan int, 1)
	go func() { done <- overwrite(inst.Addr, 950000, 2, stop) }()
	if got := resp(t, inst.Addr, "BGSAVE"); !strings.Contains(got, "started") {
		close(stop)
		t.Fatalf("BGSAVE: %s", got)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if exited, _ := tg.ServerExited(); exited || info(t, inst.Addr, "rdb_bgsave_in_progress") == "0" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	t.Logf("overwrites acknowledged: %d", <-done)
	return tg, inst
}

func TestForkOOMKillsTheSaveChildWhenItIsPreferred(t *testing.T) {
	tg, inst := startForkOOM(t, "0 200 800")
	if exited, detail := tg.ServerExited(); exited {
		t.Fatalf("server exited (%s), want the save child killed instead", detail)
	}
	mem, ok, err := tg.Memory()
	if !ok || err != nil {
		t.Fatalf("memory: ok=%v err=%v", ok, err)
	}
	if mem.OOMKilled() != target.OOMSaveChild || mem.ParentKilled || mem.SaveChildKills < 1 {
		t.Fatalf("memory %+v: want the save child OOM-killed", mem)
	}
	// The kernel charges in batches of up to 64 pages: the peak may pass the limit by that much.
	if mem.PeakBytes < forkOOMLimit*9/10 || mem.PeakBytes > forkOOMLimit+64*4096 {
		t.Errorf("peak %d, want just under the limit %d", mem.PeakBytes, forkOOMLimit)
	}
	// Independent oracles: the server's own status, its refusal to write,
	// its log.
	if got := info(t, inst.Addr, "rdb_last_bgsave_status"); got != "err" {
		t.Errorf("rdb_last_bgsave_status %q, want err", got)
	}
	if got := resp(t, inst.Addr, "SET after 1"); !strings.HasPrefix(got, "-MISCONF") {
		t.Errorf("SET after the failed save: %q, want MISCONF", got)
	}
	log, _ := os.ReadFile(tg.LogFiles()[0])
	if !strings.Contains(string(log), "terminated by signal 9") {
		t.Errorf("server log lacks the killed save:\n%s", tail(string(log)))
	}
	rep, err := tg.Inject(context.Background(), target.Crash)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OOMKilled != target.OOMSaveChild {
		t.Errorf("fault report OOMKilled %q, want %q", rep.OOMKilled, target.OOMSaveChild)
	}
}

func TestForkOOMKillsTheServerWhenItIsPreferred(t *testing.T) {
	tg, _ := startForkOOM(t, "800 0 0")
	exited, detail := tg.ServerExited()
	if !exited || !strings.Contains(detail, "signal: killed") || !strings.Contains(detail, "OOM-killed") {
		t.Fatalf("server exited=%v (%s), want OOM-killed", exited, detail)
	}
	mem, ok, err := tg.Memory()
	if !ok || err != nil || !mem.ParentKilled || mem.OOMKilled() != target.OOMParent {
		t.Fatalf("memory %+v ok=%v err=%v: want the parent OOM-killed", mem, ok, err)
	}
	// The save child died with its container: nothing of the group is left.
	if left := leftCgroups(t); len(left) != 0 {
		t.Errorf("cgroups left after the server died: %v", left)
	}
	log, _ := os.ReadFile(tg.LogFiles()[0])
	if !strings.Contains(string(log), "Background saving started") {
		t.Errorf("server log shows no save:\n%s", tail(string(log)))
	}
}

func TestCrashUnderALimitIsNotAnOOMKill(t *testing.T) {
	tg := newTarget(t, Config{TaskMemory: 128 << 20})
	inst, err := tg.Start(context.Background(), target.StartSpec{Save: "", Label: "t"})
	if err != nil {
		t.Fatal(err)
	}
	resp(t, inst.Addr, "SET a 1")
	rep, err := tg.Inject(context.Background(), target.Crash)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OOMKilled != "" || !strings.Contains(rep.ExitDetail, "killed") {
		t.Errorf("report %+v: a crash we sent is no OOM kill", rep)
	}
	mem, ok, _ := tg.Memory()
	if !ok || mem.ParentKilled || mem.OOMKills != 0 || mem.LimitBytes != 128<<20 || mem.PeakBytes <= 0 {
		t.Errorf("memory %+v ok=%v", mem, ok)
	}
	if left := leftCgroups(t); len(left) != 0 {
		t.Errorf("cgroups left after the crash: %v", left)
	}
}

func leftCgroups(t *testing.T) []string {
	t.Helper()
	h, err := memlimit.Detect()
	if err != nil {
		t.Fatal(err)
	}
	left, err := memlimit.Leftovers(h, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}
