package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runPlanTune executes the root command with plan and tune attached (added
// here until the root wires them) and returns stdout and the exit code.
func runPlanTune(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	have := map[string]bool{}
	for _, c := range root.Commands() {
		have[c.Name()] = true
	}
	for _, c := range []*cobra.Command{newPlanCmd(), newTuneCmd()} {
		if !have[c.Name()] {
			root.AddCommand(c)
		}
	}
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), exitCode(err)
}

func TestPlanNamesRuleAndWindow(t *testing.T) {
	out, code := runPlanTune(t, "plan", "--save", "900 1 300 10 60 10000", "--rate", "200/s")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"rule that fires       60 10000", "worst loss window     61.1 s"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	out, _ = runPlanTune(t, "plan", "--rate", "12000/min", "--rdb-size", "114MB", "--json")
	var p struct {
		Rule         string  `json:"rule"`
		WorstWindowS float64 `json:"worst_window_s"`
		BGSaveS      float64 `json:"bgsave_s"`
		Cost         struct {
			WriteBytes float64 `json:"write_bytes_per_day"`
		} `json:"cost"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, out)
	}
	if p.Rule != "60 10000" || p.WorstWindowS < 61.1+2*p.BGSaveS-0.01 || p.BGSaveS < 4 || p.Cost.WriteBytes < 1e11 {
		t.Errorf("plan JSON %+v: want 60 10000, 61.1 s + 2 x BGSAVE, bytes/day of a 114 MB RDB", p)
	}
}

func TestPlanRangeWritesChart(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "sawtooth.png")
	out, code := runPlanTune(t, "plan", "--rate", "0.005/s..1000/s", "--out", chart, "--terraform", filepath.Join("..", "..", "tfmodule", "testdata", "terraform", "module"))
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "rules from terraform") || !strings.Contains(out, "300 10") || !strings.Contains(out, "chart: "+chart) {
		t.Errorf("range output:\n%s", out)
	}
	f, err := os.Open(chart)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
}

func TestTuneProposesAndCharts(t *testing.T) {
	chart := filepath.Join(t.TempDir(), "tune.png")
	out, code := runPlanTune(t, "tune", "--rpo", "2m", "--rate", "1/s..500/s", "--rdb-size", "114MB", "--out", chart, "--json")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var tn struct {
		Feasible bool `json:"feasible"`
		Proposed struct {
			Rules    string `json:"rules"`
			MeetsRPO bool   `json:"meets_rpo"`
		} `json:"proposed"`
		Current struct {
			MeetsRPO bool `json:"meets_rpo"`
		} `json:"current"`
	}
	if err := json.Unmarshal([]byte(out), &tn); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, out)
	}
	if !tn.Feasible || !tn.Proposed.MeetsRPO || tn.Current.MeetsRPO || tn.Proposed.Rules == "" {
		t.Errorf("tune JSON %+v: want a proposal that meets 2 min where the defaults do not", tn)
	}
	if _, err := os.Stat(chart); err != nil {
		t.Errorf("no chart: %v", err)
	}
}

func TestPlanTuneBadInputExit2(t *testing.T) {
	dir := t.TempDir()
	cases := [][]string{
		{"plan", "--save", "900 x", "--rate", "1/s"},
		{"plan", "--save", "60", "--rate", "1/s"},
		{"plan", "--rate", "fast"},
		{"plan", "--rate", "5/s..1/s"},
		{"plan"},
		{"plan", "--rate", "1/s", "--save", "60 1", "--config", "valkey.conf"},
		{"plan", "--rate", "1/s", "--config", filepath.Join(dir, "absent.conf")},
		{"plan", "--rate", "1/s", "--terraform", filepath.Join(dir, "absent")},
		{"plan", "--rate", "1/s", "--rdb-size", "12 parsecs"},
		{"plan", "--rate", "1/s", "--throughput-mode", "turbo"},
		{"plan", "--rate", "1/s..10/s", "--out", filepath.Join(dir, "no", "such", "x.png")},
		{"plan", "--rate", "1/s", "--no-such-flag"},
		{"tune", "--rate", "1/s..10/s", "--rdb-size", "1MB"},
		{"tune", "--rpo", "1m", "--rdb-size", "1MB"},
		{"tune", "--rpo", "1m", "--rate", "1/s..10/s"},
	}
	for _, args := range cases {
		if out, code := runPlanTune(t, args...); code != exitBadInput {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitBadInput, out)
		}
	}
}
