package scenarios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target/local"
)

func mustScenario(t *testing.T, yaml string) *Scenario {
	t.Helper()
	s, err := Parse(strings.NewReader(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("parse scenario: %v", err)
	}
	return s
}

type runSetup struct {
	save   string
	scale  float64
	keys   int64
	slos   []string
	target local.Config
}

// runTrials runs scenarios against real valkey-server processes.
func runTrials(t *testing.T, ctx context.Context, rs runSetup, scens ...*Scenario) (*result.Run, error) {
	t.Helper()
	return runTrialsWith(t, ctx, rs, trialOpts{}, scens...)
}

// trialOpts wrap the target (a test's own misbehaviour on top of a real
// server), report the run directory and adjust the run's Config.
type trialOpts struct {
	wrap   func(Target) Target
	out    *string
	config func(*Config)
}

func runTrialsWith(t *testing.T, ctx context.Context, rs runSetup, o trialOpts, scens ...*Scenario) (*result.Run, error) {
	t.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (make test installs it; run scripts/setup.sh): %v", err)
	}
	out := t.TempDir()
	if o.out != nil {
		*o.out = out
	}
	rs.target.LogDir = filepath.Join(out, "logs")
	if err := os.MkdirAll(rs.target.LogDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rs.target.WorkDir = t.TempDir()
	tg, err := local.New(ctx, rs.target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	rules, err := savepolicy.Parse(rs.save)
	if err != nil {
		t.Fatal(err)
	}
	if rs.scale == 0 {
		rs.scale = 1
	}
	var tgt Target = tg
	if o.wrap != nil {
		tgt = o.wrap(tg)
	}
	cfg := Config{
		RunID:      "test",
		OutDir:     out,
		SaveReal:   rules,
		TimeScale:  rs.scale,
		Keys:       rs.keys,
		SLOs:       rs.slos,
		Target:     tgt,
		TargetInfo: result.Target{Kind: "local", ServerVersion: tg.Version()},
		Progress:   testWriter{t},
	}
	if o.config != nil {
		o.config(&cfg)
	}
	return Run(ctx, cfg, scens)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

const quickScenario = `
name: quick
faults: [%s]
load: {rate: 3000/s, conns: 8}
dataset: {keys: 20000}
fault_at: 0.9
stop_timeout: %s
after_recover: 300ms
`

func quick(t *testing.T, fault, stopTimeout string) *Scenario {
	return mustScenario(t, fmt.Sprintf(quickScenario, fault, stopTimeout))
}

// Through either writer client (load.client): the resp fast path must
// measure what go-redis measures.
func TestCrashLosesAPointInTimeSuffixWithinThePrediction(t *testing.T) {
	for _, client := range []string{"go-redis", "resp"} {
		t.Run(client, func(t *testing.T) {
			s := mustScenario(t, strings.Replace(fmt.Sprintf(quickScenario, "crash", "30s"), "conns: 8}", "conns: 8, client: "+client+"}", 1))
			testCrashLoss(t, s, map[string]string{"go-redis": "", "resp": "resp"}[client])
		})
	}
}

func testCrashLoss(t *testing.T, s *Scenario, wantClient string) {
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000"}, s)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.WriterClient != wantClient {
		t.Errorf("writer_client %q, want %q", tr.WriterClient, wantClient)
	}
	if tr.Verdict != "pass" {
		t.Fatalf("verdict %s: %v", tr.Verdict, tr.Reasons)
	}
	if tr.Lost == 0 {
		t.Errorf("a crash late in the snapshot cycle lost nothing (acked %d)", tr.Acked)
	}
	if tr.Anomalies != 0 {
		t.Errorf("survivors are not a point-in-time prefix: %d anomalies: %v", tr.Anomalies, tr.Reasons)
	}
	if tr.LossWindowS == nil || tr.LossWindowS.High > tr.PredictedLossWindowS || tr.LossWindowS.Low > tr.LossWindowS.Estimate || tr.LossWindowS.Estimate > tr.LossWindowS.High {
		t.Errorf("loss window %+v, predicted <= %v", tr.LossWindowS, tr.PredictedLossWindowS)
	}
	if tr.SnapshotSource != "server-log" {
		t.Errorf("snapshot instant from %q, want it pinned by the server log", tr.SnapshotSource)
	}
	if tr.WarmupS == nil || tr.RTOS == nil || tr.ServerLoadS == nil {
		t.Errorf("recovery timeline incomplete: warmup %v rto %v load %v", tr.WarmupS, tr.RTOS, tr.ServerLoadS)
	}
	if !run.Complete {
		t.Error("run not marked complete")
	}
}

func TestGracefulStopLosesNothing(t *testing.T) {
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000"}, quick(t, "stop", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if tr.Lost != 0 || tr.Anomalies != 0 || tr.Verdict != "pass" {
		t.Fatalf("graceful stop: lost %d anomalies %d verdict %s %v", tr.Lost, tr.Anomalies, tr.Verdict, tr.Reasons)
	}
	if tr.FinalSaveS == nil {
		t.Error("final save duration not taken from the server log")
	}
	if tr.StopEscalated {
		t.Error("a stop that finished in time reported SIGKILL")
	}
}

func TestStopTimeoutBreachIsReportedNotHidden(t *testing.T) {
	// The final save of 200k keys cannot finish in 1 ms: ECS would SIGKILL.
	s := quick(t, "stop", "1ms")
	run, err := runTrials(t, context.Background(), runSetup{save: "1 1000", keys: 200000}, s)
	if err != nil {
		t.Fatal(err)
	}
	tr := run.Trials[0]
	if !tr.StopEscalated {
		t.Fatalf("stop with a 1ms timeout did not escalate to SIGKILL: %+v", tr.Reasons)
	}
	if tr.Lost == 0 {
		t.Fatal("SIGKILL before the final save lost nothing: the loss must be measured")
	}
	if tr.Verdict != "fail" || !strings.Contains(strings.Join(tr.Reasons, ";"), "stop timeout") {
		t.Fatalf("verdict %s reasons %v, want fail naming the stop timeout", tr.Verdict, tr.Reasons)
	}
}

func TestKeysOutsideTheRunPrefixAreUntouched(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed")
	}
	// A data dir holding someone else's keys, saved in dump.rdb.
	dataDir := t.TempDir()
	srv, err := local.Spawn(local.ServerConfig{Dir: dataDir, Save: ""})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.WaitAccepting(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sentinels := map[string]string{"user:1": "alice", "vc:other-run.0:w:1": "not ours", "session:x": "keep"}
	for k, v := range sentinels {
		if _, err := probe.Do(ctx, srv.Addr(), time.Second, "SET", k, v); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := probe.Do(ctx, srv.Addr(), time.Minute, "SAVE"); err != nil || r.Str != "OK" {
		t.Fatalf("SAVE: %+v %v", r, err)
	}
	srv.KillGroup()
	srv.Wait(ctx)

	run, err := runTrials(t, ctx, runSetup{save: "1 1000", keys: 1000, target: local.Config{DataDir: dataDir}}, quick(t, "stop", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Trials[0].Verdict != "pass" {
		t.Fatalf("trial: %s %v", run.Trials[0].Verdict, run.Trials[0].Reasons)
	}
	// The final state on disk: every sentinel intact, none of our keys left.
	srv, err = local.Spawn(local.ServerConfig{Dir: dataDir, Save: ""})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.KillGroup(); srv.Wait(ctx) }()
	if err := srv.WaitAccepting(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for k, v := range sentinels {
		r, err := probe.Do(ctx, srv.Addr(), time.Second, "GET", k)
		if err != nil || r.Str != v {
			t.Errorf("sentinel %s = %+v (%v), want %q", k, r, err, v)
		}
	}
	r, err := probe.Do(ctx, srv.Addr(), 5*time.Second, "KEYS", "vc:test.*")
	if err != nil || len(r.Array) != 0 {
		t.Errorf("run keys left behind: %d (%v)", len(r.Array), err)
	}
}

func TestInterruptedRunLeavesValidPartialResult(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	s := mustScenario(t, `
name: slow
faults: [crash]
load: {rate: 10/s}
dataset: {keys: 100}
`)
	run, err := runTrials(t, ctx, runSetup{save: "60 1"}, s)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v, want context.Canceled", err)
	}
	if run == nil || run.Complete || run.Interrupted == "" {
		t.Fatalf("partial run %+v, want complete=false with a reason", run)
	}
}

func TestScenarioSpecErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field with line", "name: x\nfaults: [crash]\nload: {rate: 1/s}\nbogus: 1\n", "line 4"},
		{"unknown fault", "name: x\nfaults: [explode]\nload: {rate: 1/s}\n", "unknown fault"},
		{"bad rate", "name: x\nfaults: [crash]\nload: {rate: fast}\n", "rate"},
		{"no load", "name: x\nfaults: [crash]\n", "load needs"},
		{"bad fault_at", "name: x\nfaults: [crash]\nload: {rate: 1/s}\nfault_at: 1.5\n", "fault_at"},
		{"fault_at 0 written out (it ran at 0.9)", "name: x\nfaults: [crash]\nload: {rate: 1/s}\nfault_at: 0\n", "fault_at 0: use a fraction"},
		{"fault_at 0.0", "name: x\nfaults: [crash]\nload: {rate: 1/s}\nfault_at: 0.0\n", "fault_at 0"},
		{"unknown writer client", "name: x\nfaults: [crash]\nload: {rate: 1/s, client: hiredis}\n", "load.client: writer client \"hiredis\": want go-redis or resp"},
		{"bad SLO in expect", "name: x\nfaults: [crash]\nload: {rate: 1/s}\nexpect: [\"rto<=banana\"]\n", "expect: SLO \"rto<=banana\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml), "bad.yaml")
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v, want bad input mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestCatalogLoadsAndThresholdsExercisesEveryRule(t *testing.T) {
	scens, err := Resolve([]string{"thresholds"})
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := savepolicy.Parse(savepolicy.Default)
	plans, err := Plan(Config{SaveReal: rules, TimeScale: 0.01}, scens)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 6 {
		t.Fatalf("thresholds expands to %d trials, want 3 rules x {crash, stop}", len(plans))
	}
	scaled := rules.Scale(0.01)
	for _, p := range plans {
		pred := savepolicy.Predict(scaled, p.RealRate/0.01, 0)
		if pred.Rule != scaled[p.RuleIndex] {
			t.Errorf("%s: at %.4g/s rule %v fires, want %v", p.Label, p.RealRate/0.01, pred.Rule, scaled[p.RuleIndex])
		}
	}
	if _, err := Resolve([]string{"no-such"}); !errors.Is(err, result.ErrBadInput) {
		t.Errorf("unknown scenario: %v, want bad input", err)
	}
}

func TestSeriesBinAvoidsAliasingAndBoundsThePlot(t *testing.T) {
	tests := []struct {
		trial time.Duration
		rate  float64
		want  time.Duration
	}{
		{10 * time.Second, 12000, 50 * time.Millisecond}, // fine resolution of the outage
		{10 * time.Second, 105, 250 * time.Millisecond},  // 26 ops a bin, not 5 or 6
		{10 * time.Second, 0.9, time.Second},             // as wide as a timeline allows
		{2 * time.Hour, 12000, 15 * time.Second},         // at most 600 bins
	}
	for _, tc := range tests {
		if got := seriesBin(tc.trial, tc.rate); got != tc.want {
			t.Errorf("seriesBin(%v, %g/s) = %v, want %v", tc.trial, tc.rate, got, tc.want)
		}
	}
}
