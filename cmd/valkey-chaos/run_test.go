package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/internal/leakcheck"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// execute runs the root command in-process and returns its error.
func execute(t *testing.T, args ...string) error {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	return root.ExecuteContext(context.Background())
}

func TestRunBadInputIsOneLineAndExitCode2(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)

	badYAML := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("name: x\nfaults: [crash]\nload: {rate: 10/s}\nfualt_at: 0.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.WriteFile(readOnly, nil, 0o444); err != nil { // a file where a directory must go
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []string // the input named, and the fix
	}{
		{"unknown scenario", []string{"run", "no-such-scenario"}, []string{`"no-such-scenario"`, "valkey-chaos scenarios"}},
		{"save rule with a non-number", []string{"run", "--save", "900 x"}, []string{"--save", "900 x"}},
		{"save rule without its count", []string{"run", "--save", "60"}, []string{"--save", "60"}},
		{"unknown YAML field", []string{"run", badYAML}, []string{"bad.yaml", "fualt_at", "line 4"}},
		{"server binary not found", []string{"run", "--server-bin", "/nonexistent/valkey-server", "crash"}, []string{"/nonexistent/valkey-server", "--server-bin"}},
		{"replacement binary not found", []string{"run", "--replacement-bin", "/nonexistent/redis-server", "crash"}, []string{"/nonexistent/redis-server", "--replacement-bin"}},
		{"port taken", []string{"run", "--port", takenPort, "crash"}, []string{takenPort, "--port"}},
		{"unwritable --out", []string{"run", "--out", filepath.Join(readOnly, "sub"), "crash"}, []string{readOnly, "--out"}},
		{"time scale out of range", []string{"run", "--time-scale", "2"}, []string{"--time-scale"}},
		{"unknown target", []string{"run", "--target", "k8s"}, []string{`"k8s"`, "local or ecs"}},
		{"ECS target without a service", []string{"run", "--target", "ecs", "--cluster", "c"}, []string{"--service"}},
		{"publish somewhere unknown", []string{"run", "--publish", "prometheus"}, []string{"--publish", "cloudwatch"}},
		{"unknown flag", []string{"run", "--bogus"}, []string{"--bogus", "--help"}},
		{"SLO typo, refused before any trial", []string{"run", "--slo", "rto<=banana", "crash"}, []string{"--slo", "rto<=banana"}},
		{"negative keys", []string{"run", "--keys", "-5", "crash"}, []string{"--keys -5", "0 or more", "omit --keys"}},
		{"the keys sentinel given", []string{"run", "--keys", "-1", "crash"}, []string{"--keys -1", "omit --keys"}},
		{"no trials", []string{"run", "--trials", "0", "crash"}, []string{"--trials 0", "1 or more"}},
		{"negative stop timeout", []string{"run", "--stop-timeout", "-5s", "stop"}, []string{"--stop-timeout -5s", "more than 0"}},
		{"zero stop timeout", []string{"run", "--stop-timeout", "0s", "stop"}, []string{"--stop-timeout 0s", "crash fault"}},
		{"negative restart delay", []string{"run", "--restart-delay", "-1s", "crash"}, []string{"--restart-delay -1s", "0 or more"}},
		{"port out of range", []string{"run", "--port", "70000", "crash"}, []string{"--port 70000", "1-65535"}},
		{"negative port", []string{"run", "--port", "-1", "crash"}, []string{"--port -1", "1-65535"}},
		{"server binary that is no server", []string{"run", "--server-bin", "/bin/true", "crash"}, []string{"--server-bin /bin/true", "not a valkey-server or redis-server", `printed "true`, "path of valkey-server"}},
		{"server binary that prints another version", []string{"run", "--server-bin", "valkey-cli", "crash"}, []string{"--server-bin valkey-cli", `printed "valkey-cli`}},
		{"save rule with 0 changes", []string{"run", "--save", "900 0"}, []string{`--save "900 0"`, "whether or not anything changed", `"900 1"`, "--rate"}},
		{"save rule with 0 changes, each rule", []string{"run", "--save", "60 0 900 1", "thresholds"}, []string{`--save "60 0 900 1"`, `"60 0"`}},
		{"persistence off", []string{"run", "--save", ""}, []string{`--save ""`, "persistence is off", "--persistence none", "worth-it"}},
		{"persistence off, fixed-rate scenario", []string{"run", "--save", "", "crash"}, []string{`--save ""`, "persistence is off"}},
		{"keep-data on ECS", []string{"run", "--target", "ecs", "--cluster", "c", "--service", "s", "--keep-data"}, []string{"--keep-data", "--target local"}},
		{"poll interval", []string{"run", "--target", "ecs", "--poll-every", "0s"}, []string{"--poll-every 0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			args := append([]string{}, tc.args...)
			args = append(args[:1], append([]string{"--out", out}, args[1:]...)...)
			if tc.name == "unwritable --out" {
				args = tc.args
			}
			err := execute(t, args...)
			if code := exitCode(err); code != exitBadInput {
				t.Fatalf("exit %d (%v), want %d", code, err, exitBadInput)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not name %q", msg, w)
				}
			}
			if left, _ := os.ReadDir(out); len(left) != 0 && tc.name != "unwritable --out" {
				t.Errorf("refused before anything started, but --out holds %s", left[0].Name())
			}
			if left := leakcheck.ChildServers(); len(left) != 0 {
				t.Errorf("server processes left running: %v", left)
			}
		})
	}
}

// --keep-data keeps the trial's data directory with the run, and the checker
// confirms the dump the replacement started on holds the keys the
// replacement's own log says it loaded.
func TestRunKeepDataKeepsCheckedDumps(t *testing.T) {
	if local.FindRDBChecker() == "" {
		t.Fatal("valkey-check-rdb not on PATH (scripts/setup.sh installs valkey-tools)")
	}
	out := t.TempDir()
	err := execute(t, "run", "crash", "--save", "60 1", "--time-scale", "0.05", "--rate", "10/s", "--keys", "500",
		"--out", out, "--run-id", "keep", "--keep-data", "--no-report")
	if code := exitCode(err); code != exitOK {
		t.Fatalf("run: exit %d (%v)", code, err)
	}
	runDir := filepath.Join(out, "keep")
	atFault, err := filepath.Glob(filepath.Join(runDir, "data", "*.at-fault", "check-rdb.txt"))
	if err != nil || len(atFault) != 1 {
		t.Fatalf("kept at-fault verdicts %v, %v; want one trial's", atFault, err)
	}
	verdict, err := os.ReadFile(atFault[0])
	if err != nil {
		t.Fatal(err)
	}
	logs, err := filepath.Glob(filepath.Join(runDir, "logs", "*-server-2.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("replacement logs %v, %v", logs, err)
	}
	log, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`keys loaded: (\d+)`).FindSubmatch(log)
	if m == nil {
		t.Fatalf("replacement log has no keys-loaded line:\n%s", log)
	}
	if want := fmt.Sprintf("dump.rdb: ok, %s keys", m[1]); !strings.Contains(string(verdict), want) {
		t.Errorf("at-fault verdict %q, want %q (the replacement loaded %s keys)", verdict, want, m[1])
	}
	trialDir := strings.TrimSuffix(filepath.Dir(atFault[0]), ".at-fault")
	if _, err := os.Stat(filepath.Join(trialDir, "dump.rdb")); err != nil {
		t.Errorf("the trial's data directory was not kept: %v", err)
	}
}
