package savepolicy

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startValkey runs valkey-server with args on a free loopback port in a
// temp dir, waits until it answers, and kills it when the test ends.
func startValkey(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		t.Fatalf("valkey-server not installed: run 'make setup'")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	full := append([]string{}, args...)
	full = append(full, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--logfile", filepath.Join(dir, "valkey.log"), "--daemonize", "no")
	cmd := exec.Command(bin, full...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "valkey.log"))
			t.Fatalf("valkey-server %v exited: %v\n%s", args, waitErr, log)
		default:
		}
		if pingOK(addr) {
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("valkey-server on %s not ready in 10s", addr)
	return ""
}

// startValkeyConfig runs valkey-server with a config file's text and
// returns its address, or, when it refused the file, its own complaint.
func startValkeyConfig(t *testing.T, conf string) (addr string, refused string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valkey.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return startValkeyFromFile(t, path)
}

func startValkeyFromFile(t *testing.T, path string) (string, string) {
	t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		t.Fatalf("valkey-server not installed: run 'make setup'")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no", "--logfile", "")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return "", out.String()
		default:
		}
		if pingOK(addr) {
			return addr, ""
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("valkey-server with %s not ready in 10s", path)
	return "", ""
}

// pingOK sends a raw RESP PING (readiness never goes through go-redis).
func pingOK(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
