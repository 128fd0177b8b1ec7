package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/capacity"
	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/tfmodule"
)

// runCapacityCmd runs the root command and returns stdout and the error.
func runCapacityCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"capacity"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func near(got, want float64) bool { return math.Abs(got-want) <= want*0.001 }

func TestCapacityTerraformCommonJSON(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "capacity.png")
	out, err := runCapacityCmd(t, "--terraform", "../../terraform/common", "--json", "--out", chart, "--measured", "../../results/sample")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep capacityReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json does not decode: %v\n%s", err, out)
	}
	// The module's defaults: 256 cpu (a quarter core saves at a quarter of
	// 25 MiB/s), 512 MiB, stop timeout 120 s, LOADING grace 600 s + 3 x 10 s.
	if rep.Task.MemoryMiB != 512 || rep.Task.CPU != 256 || rep.Rules != "900 1 300 10 60 10000" || rep.DatasetBytes != 214748364 {
		t.Errorf("task %+v rules %q dataset %d", rep.Task, rep.Rules, rep.DatasetBytes)
	}
	want := map[string]float64{
		capacity.StopTimeoutLimit: 0.9 * 120 * 25 * 0.25 * (1 << 20) / capacity.DefaultRDBRatio,
		capacity.HealthCheckLimit: 630 * capacity.DefaultLoadMiBps * 0.25 * (1 << 20) / capacity.DefaultRDBRatio,
	}
	smallest, binding := int64(math.MaxInt64), ""
	for _, l := range rep.Result.Limits {
		if l.Detail == "" || l.MaxDatasetBytes <= 0 {
			t.Errorf("limit %+v: no number binds it", l)
		}
		if w, ok := want[l.Name]; ok && !near(float64(l.MaxDatasetBytes), w) {
			t.Errorf("%s: largest dataset %d, want %.0f", l.Name, l.MaxDatasetBytes, w)
		}
		if l.MaxDatasetBytes < smallest {
			smallest, binding = l.MaxDatasetBytes, l.Name
		}
		delete(want, l.Name)
		want[l.Name+" seen"] = 0
	}
	for _, name := range []string{capacity.StopTimeoutLimit, capacity.HealthCheckLimit, capacity.MemoryLimit, capacity.BurstLimit} {
		if _, seen := want[name+" seen"]; !seen {
			t.Errorf("limit %s missing from %+v", name, rep.Result.Limits)
		}
	}
	if rep.Result.Binding != binding || rep.Result.MaxDatasetBytes != smallest {
		t.Errorf("binding %s at %d, the smallest limit is %s at %d", rep.Result.Binding, rep.Result.MaxDatasetBytes, binding, smallest)
	}
	if rep.RPOS <= 0 || rep.LoadBudgetS != 630 || rep.Chart != chart || rep.Measured != 6 {
		t.Errorf("rpo %v s, load budget %v s, chart %q with %d trials", rep.RPOS, rep.LoadBudgetS, rep.Chart, rep.Measured)
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("chart: %v", err)
	}
}

func TestCapacityTable(t *testing.T) {
	out, err := runCapacityCmd(t, "--cpu", "1024", "--memory", "1GiB", "--stop-timeout", "30s",
		"--health-check", "interval=30s,timeout=5s,retries=3,start-period=10s", "--throughput", "25MiB/s",
		"--dataset", "300MB", "--writes", "2000/s")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"LIMIT", "stop-timeout", "health-check", "memory", "binding:", "RPO under the rules", "startPeriod 10.0 s + 3 retries x 30.0 s interval = 100 s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "efs-burst") {
		t.Errorf("elastic storage has no burst limit:\n%s", out)
	}
}

func TestCapacityFlags(t *testing.T) {
	def := tfmodule.Task{CPU: 1024, StopTimeout: 30 * time.Second, HealthInterval: 30 * time.Second, HealthTimeout: 5 * time.Second, HealthRetries: 3, EFSThroughputMode: "elastic"}
	tests := []struct {
		name string
		args []string
		edit func(*tfmodule.Task)
	}{
		{"memory alone: ECS defaults", []string{"--memory", "512MiB"}, func(t *tfmodule.Task) { t.MemoryMiB = 512 }},
		{"every flag", []string{"--memory", "2GiB", "--cpu", "2048", "--stop-timeout", "2m", "--health-check", "interval=10s,timeout=2s,retries=5,start-period=60s,loading-grace=15m",
			"--mode", "provisioned", "--provisioned", "40", "--maxmemory", "800MiB"}, func(t *tfmodule.Task) {
			t.MemoryMiB, t.CPU, t.StopTimeout = 2048, 2048, 2*time.Minute
			t.HealthInterval, t.HealthTimeout, t.HealthRetries, t.HealthStartPeriod, t.LoadingGrace = 10*time.Second, 2*time.Second, 5, time.Minute, 15*time.Minute
			t.EFSThroughputMode, t.EFSProvisionedMiBps, t.MaxmemoryBytes = "provisioned", 40, 800<<20
		}},
		{"health-check keys left out keep theirs", []string{"--memory", "1GiB", "--health-check", "start-period=90s"}, func(t *tfmodule.Task) {
			t.MemoryMiB, t.HealthStartPeriod = 1024, 90*time.Second
		}},
		{"flags override terraform", []string{"--terraform", "../../terraform/modules/valkey", "--memory", "1GiB", "--stop-timeout", "45s"}, func(t *tfmodule.Task) {
			*t = tfmodule.Task{CPU: 256, MemoryMiB: 1024, StopTimeout: 45 * time.Second, HealthInterval: 10 * time.Second, HealthTimeout: 5 * time.Second,
				HealthRetries: 3, HealthStartPeriod: 120 * time.Second, LoadingGrace: 600 * time.Second, MaxmemoryBytes: 214748364,
				MaxmemoryPolicy: "allkeys-lru", EFSThroughputMode: "bursting"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCapacityCmd(t, append(tc.args, "--json")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var rep capacityReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatal(err)
			}
			want := def
			tc.edit(&want)
			if rep.Task != want {
				t.Errorf("task %+v\nwant %+v", rep.Task, want)
			}
		})
	}
}

func TestParseMiBps(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"100MiB/s", 100}, {"100", 100}, {"12.5", 12.5}, {"1GiB/s", 1024}, {"52428800B/s", 50}, {"10 MB/s", 10e6 / (1 << 20)},
	}
	for _, tc := range tests {
		got, err := parseMiBps(tc.in)
		if err != nil || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("parseMiBps(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestCapacityBadInputExit2(t *testing.T) {
	task := []string{"--memory", "1GiB"}
	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{"no task", nil, "--terraform DIR, or --memory"},
		{"bad memory", []string{"--memory", "lots"}, "--memory"},
		{"unknown health-check key", append(task, "--health-check", "every=3s"), "--health-check"},
		{"bad retries", append(task, "--health-check", "retries=0"), "retries"},
		{"bad duration", append(task, "--health-check", "interval=soon"), "interval=soon"},
		{"zero throughput", append(task, "--throughput", "0"), "--throughput"},
		{"bad mode", append(task, "--mode", "turbo"), "--mode"},
		{"provisioned without a rate", append(task, "--mode", "provisioned"), "--provisioned"},
		{"bad dist", append(task, "--dist", "pareto"), "--dist"},
		{"bad writes", append(task, "--writes", "fast"), "--writes"},
		{"bad save", append(task, "--save", "900"), "--save"},
		{"zero rate on a log axis", append(task, "--rate", "0..100", "--out", filepath.Join(t.TempDir(), "c.png")), "--rate"},
		{"missing terraform", []string{"--terraform", "../../terraform/nope"}, "not found"},
		{"missing measured run", append(task, "--measured", filepath.Join(t.TempDir(), "none"), "--out", filepath.Join(t.TempDir(), "c.png")), "--measured"},
		{"zero stop timeout", append(task, "--stop-timeout", "0s"), "stop timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCapacityCmd(t, tc.args...)
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %v, want one line naming %q, exit 2 (bad input)", err, tc.mention)
			}
		})
	}
}

func TestMeasuredTrials(t *testing.T) {
	dir := t.TempDir()
	load, save := 3.5, 1.25
	run := &result.Run{Schema: result.Schema, RunID: "r", Complete: true,
		Target: result.Target{Dataset: result.Dataset{Keys: 1_000_000, ValueBytes: 100}},
		Trials: []result.Trial{
			{Scenario: "stop", RatePerS: 200, AchievedRatePerS: 199, Verdict: result.Pass, FinalSaveS: &save, ServerLoadS: &load},
			{Scenario: "fork-oom", RatePerS: 20_000, Verdict: result.Fail, Memory: &result.Memory{UsedBytes: 160e6, OOMKilled: "parent"},
				Dataset: &result.Dataset{Keys: 950_000, ValueBytes: 100}},
		}}
	if err := result.Write(dir, run); err != nil {
		t.Fatal(err)
	}
	got, err := measuredTrials(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []report.CapacityPoint{
		// No memory measured: 1M keys at the model's 170 bytes per 100-byte key.
		{DatasetBytes: 170e6, WritesPerS: 199, Label: "stop: pass, final save 1.2 s, load 3.5 s"},
		// INFO used_memory wins over the estimate.
		{DatasetBytes: 160e6, WritesPerS: 20_000, Label: "fork-oom: fail, OOM-killed parent", Failed: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("trial %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
