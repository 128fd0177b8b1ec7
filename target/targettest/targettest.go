// Package targettest is the conformance suite every Target runs: the same
// trial table through the real runner, the same result fields, the same
// errors, whether Valkey runs as a local process or as an ECS task (on
// the twin). Like fstest.TestFS, a target's own tests call Run.
package targettest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target"
)

// Save is the save rules every conformance trial runs: "1 1000" fires
// about every half second at the suite's 2000 writes/s.
const Save = "60 1 1 1000"

// Fixture makes a fresh target for one case; the target runs Save.
type Fixture func(t *testing.T) (scenarios.Target, result.Target)

// Fields every trial of a run reports, wherever it ran (result.json's
// contract; optional fields such as temp_files or overlap_s are not
// listed).
var Fields = []string{"scenario", "fault", "rate_per_s", "achieved_rate_per_s", "writes", "acked", "failed", "unknown",
	"lost", "recovered", "unexpected", "corrupt", "anomalies", "loss_window_s", "predicted_loss_window_s", "predicted_rule",
	"t_fault_unix_ms", "warmup_s", "server_load_s", "rto_s", "verdict", "reasons", "steps", "saves", "latency", "series",
	"files", "assumptions", "classified"}

type trialCase struct {
	fault string
	check func(t *testing.T, tr result.Trial)
}

var table = []trialCase{
	{"crash", func(t *testing.T, tr result.Trial) {
		if tr.Lost == 0 || tr.LossWindowS == nil || tr.LossWindowS.High > tr.PredictedLossWindowS {
			t.Errorf("crash: lost %d, window %+v, predicted %.2fs: want a loss within the prediction", tr.Lost, tr.LossWindowS, tr.PredictedLossWindowS)
		}
	}},
	{"shutdown-nosave", func(t *testing.T, tr result.Trial) {
		if tr.Lost == 0 {
			t.Errorf("shutdown-nosave lost nothing of %d acked: it has a crash's loss", tr.Acked)
		}
	}},
	{"stop", func(t *testing.T, tr result.Trial) {
		if tr.Lost != 0 || tr.FinalSaveS == nil || tr.StopEscalated {
			t.Errorf("stop: lost %d, final save %v, escalated %v: want a graceful stop", tr.Lost, tr.FinalSaveS, tr.StopEscalated)
		}
	}},
}

// Run runs the table against the fixture's target, then the shared
// errors, and checks every trial reports the same fields.
func Run(t *testing.T, fixture Fixture) {
	for _, c := range table {
		t.Run(c.fault, func(t *testing.T) {
			run, err := runOne(t, fixture, c.fault, "2000/s")
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(run.Trials) != 1 {
				t.Fatalf("%d trials, want 1", len(run.Trials))
			}
			tr := run.Trials[0]
			if tr.Verdict != result.Pass {
				t.Fatalf("verdict %s: %q", tr.Verdict, tr.Reasons)
			}
			if tr.RTOS == nil || tr.Acked == 0 {
				t.Errorf("RTO %v, acked %d: want a recovery and acknowledged writes", tr.RTOS, tr.Acked)
			}
			c.check(t, tr)
			checkFields(t, tr)
		})
	}
	t.Run("errors", func(t *testing.T) {
		// A rule the target's rules do not have: bad input, before any fault.
		if _, err := runOne(t, fixture, "crash", "rule 9"); !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), "rule 9") {
			t.Errorf("a rule the save rules lack: %v, want bad input naming it", err)
		}
		// A fault the target cannot inject is refused before anything runs.
		tgt, _ := fixture(t)
		fs, ok := tgt.(scenarios.FaultSupporter)
		if !ok {
			t.Fatal("the target does not say which faults it supports")
		}
		if err := fs.Supports(target.RollingDeploy); err != nil {
			if _, rerr := runOne(t, fixture, "rolling-deploy", "2000/s"); !errors.Is(rerr, result.ErrBadInput) || !strings.Contains(rerr.Error(), "scheduler") {
				t.Errorf("an unsupported rolling-deploy: %v, want bad input naming the scheduler it needs", rerr)
			}
		}
	})
}

func runOne(t *testing.T, fixture Fixture, fault, rate string) (*result.Run, error) {
	t.Helper()
	tgt, info := fixture(t)
	rules, err := savepolicy.Parse(Save)
	if err != nil {
		t.Fatal(err)
	}
	load := "{rate: " + rate + ", conns: 8}"
	var r float64
	if rule, ok := strings.CutPrefix(rate, "rule "); ok {
		load = "{rule: \"" + rule + "\", conns: 8}"
	} else if r, err = savepolicy.ParseRate(rate); err != nil {
		t.Fatal(err)
	}
	s, err := scenarios.Parse(strings.NewReader("name: conformance\nfaults: ["+fault+"]\nload: "+load+"\ndataset: {keys: 20000}\nafter_recover: 300ms\n"), "conformance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return scenarios.Run(ctx, scenarios.Config{
		RunID: "conformance", OutDir: t.TempDir(), SaveReal: rules, TimeScale: 1, Keys: -1, Rate: r,
		Target: tgt, TargetInfo: info, Progress: testLog{t},
	}, []*scenarios.Scenario{s})
}

func checkFields(t *testing.T, tr result.Trial) {
	t.Helper()
	data, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range Fields {
		if _, ok := m[f]; !ok {
			missing = append(missing, f)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		t.Errorf("trial lacks %v (has %v)", missing, keys)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
