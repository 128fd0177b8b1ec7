package ecs_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

// oldTaskStoppedAt polls the twin's API through a second target-less look:
// the old task's stoppedAt once deprovisioning is over.
func oldTaskStoppedAt(t *testing.T, tw *ecstwin.Twin, arn string) time.Time {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if at, ok := tw.TaskStoppedAt(arn); ok {
			return at
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %s never STOPPED", arn)
	return time.Time{}
}

// With Fargate's shape of timings (deprovisioning longer than
// provisioning, whole-second executionStoppedAt, logs in 5 s batches, all
// scaled down) a stop ends at the container's exit, inside the reported
// bracket and before deprovisioning ends; the replacement is probed
// before the old task is STOPPED; and the replacement's load line arrives
// and reads at its true instant whatever the harness's zone.
//
// The harness's zone is the process's: the test re-runs itself with TZ
// set to a zone east (a half-hour one) and one west of UTC.
func TestStopTimelineUnderFargateTimings(t *testing.T) {
	if zone := os.Getenv("VALKEY_CHAOS_TEST_TZ"); zone != "" {
		if time.Local.String() != zone {
			t.Fatalf("child runs in %v, want %s", time.Local, zone)
		}
		stopTimelineUnderFargateTimings(t)
		return
	}
	for _, zone := range []string{"Asia/Kolkata", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestStopTimelineUnderFargateTimings$", "-test.count=1")
			cmd.Env = append(os.Environ(), "TZ="+zone, "VALKEY_CHAOS_TEST_TZ="+zone)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("in %s: %v\n%s", zone, err, out)
			}
		})
	}
}

func stopTimelineUnderFargateTimings(t *testing.T) {
	tw := startTwin(t, ecstwin.Config{
		ProvisionDelay: 600 * time.Millisecond, DeprovisionDelay: 2500 * time.Millisecond,
		LogBatch: 500 * time.Millisecond, WholeSecondExecutionStop: true,
	})
	tg, _ := newTarget(t, ecs.Config{LogWait: 20 * time.Second})
	ctx := ctxT(t)
	inst, err := tg.Start(ctx, target.StartSpec{Label: "fargate-stop"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	writeKeys(t, inst.Addr, "k", 100)
	rep, err := tg.Inject(ctx, target.Stop)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	if rep.GoneSource != "executionStoppedAt" || rep.GoneAfter.After(rep.GoneAt) || rep.GoneAt.After(rep.GoneBy) || !rep.GoneAfter.After(rep.IssuedAt.Add(-time.Nanosecond)) {
		t.Fatalf("exit %v (%s) not inside its bracket [%v, %v] after the fault %v", rep.GoneAt, rep.GoneSource, rep.GoneAfter, rep.GoneBy, rep.IssuedAt)
	}
	if w := rep.GoneBy.Sub(rep.GoneAfter); w > time.Second+100*time.Millisecond {
		t.Logf("bracket %v wide (poll spacing on a busy machine)", w) // informative: the bound below is what matters
	}
	rec, err := tg.Recover(ctx)
	returned := time.Now() // the runner's probe starts here
	if err != nil {
		t.Fatalf("Recover: %v", err)
	}
	stoppedAt := oldTaskStoppedAt(t, tw, inst.ID)
	if !rep.GoneBy.Before(stoppedAt) {
		t.Errorf("the stop ended at %v, not before deprovisioning ended (stoppedAt %v)", rep.GoneBy, stoppedAt)
	}
	if !returned.Before(stoppedAt) {
		t.Errorf("the replacement was handed to the probe at %v, not before the old task was STOPPED at %v", returned, stoppedAt)
	}
	if rec.WarmupUpperBound && (rec.FirstReplyAt.IsZero() || rec.FirstReplyAt.After(returned)) {
		t.Errorf("warm-up marked an upper bound without a first reply inside Recover (%v)", rec.FirstReplyAt)
	}

	lines, err := tg.ServerLog(ctx)
	if err != nil {
		t.Fatalf("ServerLog: %v", err)
	}
	newID := rec.Instance.ID[strings.LastIndexByte(rec.Instance.ID, '/')+1:]
	for _, l := range lines {
		ev, ok := probe.ParseLogLine(l.Text, l.Zone)
		if !ok || l.Instance != newID || ev.Kind != probe.DBLoaded {
			continue
		}
		if ev.Time.Before(rec.Instance.StartedAt.Truncate(time.Millisecond)) || ev.Time.After(l.EventTime) {
			t.Fatalf("load line at %v, not between the task's start %v and its event %v", ev.Time, rec.Instance.StartedAt, l.EventTime)
		}
		return
	}
	t.Fatalf("no DB loaded line of the replacement among %d lines", len(lines))
}

// Under AWS's capacity rule a 0/100 deployment starts the replacement while
// the old task is still writing its final save, like 100/200 by design;
// the single-writer guard makes the replacement's server wait for the old
// one's exit in both, and no acknowledged write is lost.
func TestRollingDeployWriterLockRemovesOverlap(t *testing.T) {
	for _, tc := range []struct {
		name   string
		deploy ecstwin.DeploymentConfig
		lock   bool
	}{
		{"100/200 without the guard", ecstwin.DeploymentConfig{MinimumHealthyPercent: 100, MaximumPercent: 200}, false},
		{"0/100 without the guard", ecstwin.DeploymentConfig{MinimumHealthyPercent: 0, MaximumPercent: 100}, false},
		{"100/200 with the guard", ecstwin.DeploymentConfig{MinimumHealthyPercent: 100, MaximumPercent: 200}, true},
		{"0/100 with the guard", ecstwin.DeploymentConfig{MinimumHealthyPercent: 0, MaximumPercent: 100}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 200 keys at 10 ms each: a 2 s final save, longer than provisioning.
			startTwin(t, ecstwin.Config{Deployment: tc.deploy, WriterLock: tc.lock, ProvisionDelay: 200 * time.Millisecond,
				ExtraArgs: []string{"--rdb-key-save-delay", "10000"}})
			tg, _ := newTarget(t, ecs.Config{})
			ctx := ctxT(t)
			inst, err := tg.Start(ctx, target.StartSpec{Label: "deploy"})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			writeKeys(t, inst.Addr, "seed", 200)
			stopWriting := startWriter(t, ctx, inst.Addr, "w")
			rep, err := tg.Inject(ctx, target.RollingDeploy)
			acked := stopWriting()
			if err != nil {
				t.Fatalf("Inject: %v", err)
			}
			rec, err := tg.Recover(ctx)
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			// 100/200 without the guard: the new server loaded and served
			// while the old one still ran, long before anyone probed it.
			if tc.deploy.MinimumHealthyPercent == 100 && !tc.lock && !rec.WarmupUpperBound {
				t.Errorf("the replacement served before Recover (first reply %v) but its warm-up is not marked an upper bound", rec.FirstReplyAt)
			}
			w, err := tg.WriterOverlap(ctx)
			if err != nil {
				t.Fatalf("WriterOverlap: %v", err)
			}
			if !w.Decided || w.Overlapped == tc.lock {
				t.Fatalf("writer overlap %+v, want decided and overlapped=%v (task overlap %v..%v)", w, !tc.lock, rep.OverlapFrom, rep.OverlapTo)
			}
			waitServing(t, rec.Instance.Addr)
			lost := 0
			for _, i := range acked {
				lost += 1 - int(do(t, rec.Instance.Addr, "EXISTS", fmt.Sprintf("w:%d", i)).Int)
			}
			if len(acked) == 0 {
				t.Fatal("the writer got no acknowledgement at all")
			}
			if tc.lock && lost > 0 {
				t.Errorf("%d of %d acknowledged writes lost under the writer lock", lost, len(acked))
			}
			if !tc.lock && lost == 0 {
				t.Errorf("no acknowledged write lost although the servers overlapped (%s)", w.Detail)
			}
		})
	}
}

// A replacement that cannot load dump.rdb crash-loops; the target stops
// waiting as soon as ECS says it is unable to start tasks, and says so in
// ECS's words instead of waiting out its timeout.
func TestCrashLoopEndsRecoverWithECSWords(t *testing.T) {
	tw := startTwin(t, ecstwin.Config{RelaunchBackoff: 100 * time.Millisecond, CircuitBreaker: true})
	tg, _ := newTarget(t, ecs.Config{})
	ctx := ctxT(t)
	inst, err := tg.Start(ctx, target.StartSpec{Label: "loop"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := os.WriteFile(filepath.Join(tw.DataDir(), "dump.rdb"), []byte("REDIS0011 this is not an RDB file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.Inject(ctx, target.Crash); err != nil {
		t.Fatalf("Inject: %v", err)
	}
	// The replacement may reach RUNNING before its load fails (as on
	// Fargate): then the runner's readiness wait ends on ServerExited.
	began := time.Now()
	rec, err := tg.Recover(ctx)
	switch {
	case errors.Is(err, ecs.ErrCrashLoop):
		if !strings.Contains(err.Error(), "unable to consistently start tasks") && !strings.Contains(err.Error(), "deployment failed") {
			t.Fatalf("Recover: %v; want ECS's words", err)
		}
	case err != nil:
		t.Fatalf("Recover: %v", err)
	default:
		var detail string
		for exited := false; !exited; {
			if time.Since(began) > 25*time.Second {
				t.Fatal("the replacement never exited although it cannot load dump.rdb")
			}
			exited, detail = tg.ServerExited()
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(detail, "EssentialContainerExited") || !strings.Contains(detail, "container exit code 1") {
			t.Fatalf("replacement %s exited with %q; want ECS's stop code and the exit code", rec.Instance.ID, detail)
		}
	}
	_ = inst
}

// A forced deployment whose tasks cannot load dump.rdb never gets to stop
// the old task (100/200); the circuit breaker fails the rollout and the
// fault returns with ECS's words instead of waiting out its timeout.
func TestCrashLoopingDeploymentFailsWithTheCircuitBreaker(t *testing.T) {
	tw := startTwin(t, ecstwin.Config{CircuitBreaker: true})
	tg, _ := newTarget(t, ecs.Config{})
	ctx := ctxT(t)
	if _, err := tg.Start(ctx, target.StartSpec{Label: "bad-deploy"}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := os.WriteFile(filepath.Join(tw.DataDir(), "dump.rdb"), []byte("REDIS0011 this is not an RDB file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := tg.Inject(ctx, target.RollingDeploy)
	if !errors.Is(err, ecs.ErrCrashLoop) || !strings.Contains(err.Error(), "circuit breaker") {
		t.Fatalf("Inject: %v; want ErrCrashLoop with the circuit breaker's reason", err)
	}
}
