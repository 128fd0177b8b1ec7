package scenarios

import (
	"context"
	"testing"

	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/result"
)

// Issue 12's acceptance: under a 256 MiB task limit, overwrites during a
// BGSAVE get the server OOM-killed; the kill is the fault reported, the
// loss is measured, and the verdict names the remedy.
func TestForkOOMKillsTheTaskDuringABGSAVE(t *testing.T) {
	if _, err := memlimit.Detect(); err != nil {
		t.Skipf("no usable memory cgroup on this machine: %v", err)
	}
	scens, err := Resolve([]string{"fork-oom"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := runTrials(t, context.Background(), runSetup{save: "1 100", keys: -1}, scens...)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	m := tr.Memory
	if m == nil || m.OOMKilled != "parent" || tr.ActualFault != "oom-kill" {
		t.Fatalf("memory %+v, actual fault %q: want the parent OOM-killed and reported as the fault (reasons %q)", m, tr.ActualFault, tr.Reasons)
	}
	if m.LimitBytes != 256<<20 || m.UsedBytes == 0 || m.PeakBytes < m.LimitBytes-(1<<20) {
		t.Errorf("memory %+v: want the 256 MiB limit, the dataset and a peak at the limit", m)
	}
	if tr.Verdict != result.Fail || tr.Lost == 0 || tr.RTOS == nil {
		t.Errorf("verdict %s, lost %d, RTO %v: want a failed trial with the loss measured and a recovery (reasons %q)", tr.Verdict, tr.Lost, tr.RTOS, tr.Reasons)
	}
	t.Logf("OOM-killed at peak %d MiB (cow >= %d MiB, fork %.1f ms); lost %d of %d", m.PeakBytes>>20, m.CowBytes>>20, m.ForkMs, tr.Lost, tr.Acked)
}

// The same task with maxmemory under half its limit: the server evicts
// instead of being killed, and evicted measured writes are counted apart
// from loss (the key-event recorder names them).
func TestMaxmemoryEvictsInsteadOfAnOOMKill(t *testing.T) {
	if _, err := memlimit.Detect(); err != nil {
		t.Skipf("no usable memory cgroup on this machine: %v", err)
	}
	s := mustScenario(t, `
name: fork-maxmemory
faults: [crash]
load: {rate: 2000/s, conns: 4}
dataset: {keys: 950000}
task_memory: 256MiB
overwrite: {rate: 20000/s, dist: uniform, conns: 8}
server_args: [--maxmemory, 60mb, --maxmemory-policy, allkeys-lru]
after_recover: 500ms
`)
	run, err := runTrials(t, context.Background(), runSetup{save: "1 100", keys: -1}, s)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	m := tr.Memory
	if m == nil || m.OOMKilled != "" || m.EvictedKeys == 0 {
		t.Fatalf("memory %+v: want no OOM kill and evictions (reasons %q)", m, tr.Reasons)
	}
	if tr.Verdict == result.Fail {
		t.Errorf("verdict fail with %d evicted measured writes counted apart from %d lost: %q", tr.Evicted, tr.Lost, tr.Reasons)
	}
	t.Logf("evicted keys %d (measured writes %d), lost %d of %d, peak %d MiB", m.EvictedKeys, tr.Evicted, tr.Lost, tr.Acked, m.PeakBytes>>20)
}
