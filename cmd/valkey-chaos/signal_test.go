package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/target/local"
)

// `valkey-chaos run ... | head` closes the output mid-run: the run must end
// as on Ctrl-C (server stopped, partial result written), not die on SIGPIPE
// and leave valkey-server running.
func TestClosedOutputPipeStopsTheRunCleanly(t *testing.T) {
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "valkey-chaos")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
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
