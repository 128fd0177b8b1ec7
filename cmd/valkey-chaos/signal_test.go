package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// `valkey-chaos run ... | head` closes the output mid-run: the run must end
// as on Ctrl-C (server stopped, partial result written), not die on SIGPIPE
// and leave valkey-server running.
func TestClosedOutputPipeStopsTheRunCleanly(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	bin := buildHarness(t)
	outDir := t.TempDir()
	cmd := exec.Command(bin, "run", "crash", "--save", "60 1", "--rate", "10/s", "--keys", "1000", "--out", outDir, "--run-id", "pipe")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidRE := regexp.MustCompile(`server pid (\d+) up`)
	var serverPID string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := pidRE.FindStringSubmatch(sc.Text()); m != nil {
			serverPID = m[1]
			break
		}
	}
	stdout.Close() // like head exiting
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the run did not end within 60 s of its output closing")
	}
	if serverPID == "" {
		t.Fatal("never saw the server start")
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Errorf("the harness died of %v instead of ending the run", ws.Signal())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(filepath.Join("/proc", serverPID, "stat"))
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break // gone (or a zombie awaiting init)
		}
		if time.Now().After(deadline) {
			if pid, err := strconv.Atoi(serverPID); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("valkey-server %s still running after the harness exited", serverPID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	data, err := os.ReadFile(filepath.Join(outDir, "pipe", "result.json"))
	if err != nil || !strings.Contains(string(data), `"interrupted"`) {
		t.Errorf("no partial result naming the interruption: %v\n%.300s", err, data)
	}
}

// buildHarness builds the command into a temp dir, to run it as a user does.
func buildHarness(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "valkey-chaos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// SIGTERM (ECS StopTask on the scheduled harness) in the middle of a trial:
// exit 5, not a harness error, and result.json on disk says the run is
// partial and which trial was cut short.
func TestSIGTERMMidTrialExitsInterrupted(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	bin := buildHarness(t)
	outDir := t.TempDir()
	cmd := exec.Command(bin, "run", "crash", "--save", "60 1", "--rate", "10/s", "--keys", "1000", "--out", outDir, "--run-id", "term")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	labelRE := regexp.MustCompile(`^\[\d+/\d+\] (\S+): `)
	var label string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := labelRE.FindStringSubmatch(sc.Text()); m != nil {
			label = m[1]
		}
		if strings.Contains(sc.Text(), "server pid") && strings.Contains(sc.Text(), " up") {
			break // mid-trial: the server runs, the load has not finished
		}
	}
	go io.Copy(io.Discard, stdout)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the run did not end within 90 s of SIGTERM")
	}
	if label == "" {
		t.Fatal("never saw the trial start")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit %d, want %d (interrupted); stderr: %s", code, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted by SIGTERM") {
		t.Errorf("stderr does not name the interruption: %q", stderr.String())
	}
	run, err := result.Load(filepath.Join(outDir, "term"))
	if err != nil {
		t.Fatalf("result.json after SIGTERM: %v", err)
	}
	if run.Complete {
		t.Error("result.json says complete after SIGTERM mid-trial")
	}
	if len(run.Trials) != 1 {
		t.Fatalf("%d trials in result.json, want the one cut short (%s)", len(run.Trials), label)
	}
	cut := run.Trials[0]
	if cut.Interrupted == "" || cut.Verdict == result.Pass {
		t.Errorf("trial %s: interrupted %q, verdict %s; want it marked as cut short and not passed", label, cut.Interrupted, cut.Verdict)
	}
	if !strings.Contains(run.Interrupted, "SIGTERM") || !strings.Contains(run.Interrupted, cut.Label()) {
		t.Errorf("interrupted = %q: want it to name SIGTERM and the trial cut short, %s", run.Interrupted, cut.Label())
	}
}
