package local

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target"
)

// The memory sampler reads the cgroup of the current server through these.
var (
	_ probe.CgroupStats = (*Target)(nil)
	_ probe.CgroupStats = (*Server)(nil)
)

const forkOOMLimit = 256 << 20

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

// startForkOOM starts a server under a 256 MiB limit with 950k keys of
// 100 B, the save stretched by rdb-key-save-delay, and the given
// oom-score-adj values (parent, replica, save child), then overwrites random
// keys at 20k/s during a BGSAVE until the save ends or the server dies.
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
	const prefix, keys = "vc:oom:", 950_000
	// DEBUG POPULATE names its keys <prefix>:<i>: exactly loadgen's
	// DatasetKey(prefix, i) for the prefix "vc:oom:d", and fast under -race.
	if got := resp(t, inst.Addr, "DEBUG POPULATE 950000 "+prefix+"d 100"); got != "+OK" {
		t.Fatalf("populate: %s", got)
	}
	if k := loadgen.DatasetKey(prefix, keys-1); resp(t, inst.Addr, "EXISTS "+k) != ":1" {
		t.Fatalf("%s missing: the overwriter would create keys, not overwrite them", k)
	}
	if mem, ok, err := tg.Memory(); !ok || err != nil || mem.LimitBytes != forkOOMLimit || mem.OOMKills != 0 {
		t.Fatalf("memory before the save %+v ok=%v err=%v", mem, ok, err)
	}
	// The scenario's load: 20k random overwrites/s of the preloaded keys.
	ow, err := loadgen.StartOverwriter(context.Background(), loadgen.OverwriteConfig{
		Addr: func() string { return inst.Addr }, Prefix: prefix, Keys: keys, Conns: 8,
		Pacer: loadgen.ConstantPacer{Freq: 20_000}, MaxOps: 2_000_000, MaxDuration: 90 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ow.Stop()
	began := time.Now()
	if got := resp(t, inst.Addr, "BGSAVE"); !strings.Contains(got, "started") {
		t.Fatalf("BGSAVE: %s", got)
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if exited, _ := tg.ServerExited(); exited || info(t, inst.Addr, "rdb_bgsave_in_progress") == "0" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("save ended or server died within %v of BGSAVE; overwrites so far %+v", time.Since(began), ow.Stop())
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
