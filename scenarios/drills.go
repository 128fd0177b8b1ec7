package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/rdbfile"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// drillSpec is what a deployment drill adds to a scenario: another server
// after the fault (an upgrade or a rollback), and a volume that belongs to
// another user than the server's.
type drillSpec struct {
	// ServerBin is the original server's binary; ReplacementBin the one the
	// replacement runs on the same data directory (local target).
	ServerBin      string `yaml:"server_bin"`
	ReplacementBin string `yaml:"replacement_bin"`
	// ReplacementTaskDefinition is a registered task definition revision
	// (ARN) the ECS replacement runs.
	ReplacementTaskDefinition string `yaml:"replacement_task_definition"`
	// RunAsUID runs the servers as this user; DirOwnerUID gives the data
	// directory to this one (mode 0755). Local runs need root.
	RunAsUID    *int `yaml:"run_as_uid"`
	DirOwnerUID *int `yaml:"dir_owner_uid"`
	// ExpectSaveFailure: the harness's own snapshot after the preload may
	// fail; the failure is the drill's outcome, not a harness error.
	ExpectSaveFailure bool `yaml:"expect_save_failure"`
}

func (d drillSpec) validateDrill() error {
	for name, uid := range map[string]*int{"run_as_uid": d.RunAsUID, "dir_owner_uid": d.DirOwnerUID} {
		if uid != nil && (*uid < 0 || *uid > 65534) {
			return fmt.Errorf("%s %d: use a uid from 0 to 65534 (999 is the official Valkey image's user)", name, *uid)
		}
	}
	if a := d.ReplacementTaskDefinition; a != "" && !strings.HasPrefix(a, "arn:") {
		return fmt.Errorf("replacement_task_definition %q: give the ARN of a registered revision (arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION)", a)
	}
	return nil
}

func (d drillSpec) drill() target.Drill {
	return target.Drill{ServerBin: d.ServerBin, ReplacementBin: d.ReplacementBin, ReplacementTaskDefinition: d.ReplacementTaskDefinition,
		RunAsUID: d.RunAsUID, DirOwnerUID: d.DirOwnerUID}
}

// drillDone is what the drill helpers record during a trial.
type drillDone struct {
	dumps      []result.Dump
	saveFailed string // the dataset snapshot's failure, when the drill expected one
}

// readDumps records every RDB file the trial left in its data directory
// with the format version its header names. It runs before Finish
// removes the directory; a target that cannot see the volume has none.
func readDumps(dir string) []result.Dump {
	if dir == "" {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.rdb"))
	sort.Strings(paths)
	var out []result.Dump
	for _, p := range paths {
		h, size, err := rdbfile.ReadFile(p)
		d := result.Dump{File: filepath.Base(p), RDBVersion: h.Version, Magic: h.Magic, Bytes: size}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a temp file renamed meanwhile
			}
			d.Problem = err.Error()
		}
		out = append(out, d)
	}
	return out
}

// serverRuns lists the servers that ran: the original, and the
// replacement when one was started.
func (ev *evidence) serverRuns() []result.ServerRun {
	var out []result.ServerRun
	if in := ev.server.inst; in.ID != "" {
		out = append(out, result.ServerRun{Bin: in.Bin, Version: in.ServerVersion, Role: "original"})
	}
	if in := ev.recovery.rec.Instance; in.ID != "" {
		out = append(out, result.ServerRun{Bin: in.Bin, Version: in.ServerVersion, Role: "replacement"})
	}
	return out
}

// clientView summarises what the writer's client saw: its failed writes by
// kind, and the first write acknowledged after the fault.
func clientView(h *loadgen.History, tFault time.Duration) *result.ClientView {
	if h == nil || h.Len() == 0 {
		return nil
	}
	cv := &result.ClientView{Source: "writer", Errors: map[string]int{}}
	sec := func(d time.Duration) *float64 { s := d.Seconds(); return &s }
	h.Each(func(op *loadgen.Op) bool {
		if op.Outcome == loadgen.OK {
			if tFault > 0 && op.Intended > tFault && cv.FirstOKAfterFaultS == nil {
				cv.FirstOKAfterFaultS = sec(op.Intended)
			}
			return true
		}
		kind := op.Err.String()
		if kind == "" {
			kind = "unknown"
		}
		cv.Errors[kind]++
		if cv.FirstErrorS == nil {
			cv.FirstErrorS = sec(op.Intended)
		}
		cv.LastErrorS = sec(op.Intended)
		return true
	})
	return cv
}

// recordDrill fills the drill's records: servers, dumps, the client's view
// and, for an expected save failure, the reason with its fix.
func (ev *evidence) recordDrill(env *trialEnv, t *result.Trial) {
	t.Servers = ev.serverRuns()
	t.Dumps = ev.drill.dumps
	t.Client = clientView(ev.load.history, ev.faultOffset(env))
	if r := restoredBackupReason(env.plan.Scenario, t); r != "" {
		t.Problems = append(t.Problems, r)
	}
	if ev.drill.saveFailed != "" {
		t.SaveFailed = ev.drill.saveFailed
		t.Problems = append(t.Problems, saveFailureReason(env.plan.Scenario.drillSpec, t, ev.log.lines))
	}
}

// refusedWritesFor is how long the drill writes after an expected save
// failure: long enough for every connection to meet the refusal.
const refusedWritesFor = 2 * time.Second

// expectedSaveFailure handles the dataset snapshot's failure: a harness
// error unless the scenario expects it, else the drill's outcome. The
// load then runs briefly so the client's view shows the refusal; no fault
// follows (the server never had a snapshot to lose).
func expectedSaveFailure(ctx context.Context, env *trialEnv, ev *evidence, snapErr error) error {
	if !env.plan.Scenario.ExpectSaveFailure {
		return snapErr
	}
	ev.drill.saveFailed = snapErr.Error()
	env.logf("the dataset snapshot failed, as the drill expects: %v", snapErr)
	load, err := startLoad(ctx, env, env.plan.Rate, ev.server.rules, 0)
	if err != nil {
		return err
	}
	err = sleepUntil(ctx, time.Now().Add(refusedWritesFor))
	ev.load = load.stop()
	ev.log = observe(ctx, env, ev.recovery)
	return err
}
