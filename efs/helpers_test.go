package efs

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mountT mounts a fresh source directory with cfg and registers a cleanup
// that unmounts it and fails the test if anything is left mounted. It skips
// the test only when FUSE is unavailable.
func mountT(t testing.TB, cfg Config) (f *FS, src string) {
	t.Helper()
	src = t.TempDir()
	return mountDirT(t, src, filepath.Join(t.TempDir(), "mnt"), cfg), src
}

// mountDirT mounts src at mnt; see mountT.
func mountDirT(t testing.TB, src, mnt string, cfg Config) *FS {
	t.Helper()
	f, err := Mount(context.Background(), src, mnt, cfg)
	if errors.Is(err, ErrNoFUSE) {
		t.Skipf("skipping: this machine cannot mount FUSE: %v", err)
	}
	if err != nil {
		t.Fatalf("mount %s at %s: %v", src, mnt, err)
	}
	t.Cleanup(func() {
		if err := f.Unmount(); err != nil && !errors.Is(err, ErrDetachedBusy) {
			t.Errorf("unmount %s: %v", mnt, err)
		}
		assertNotMounted(t, mnt)
	})
	return f
}

func assertNotMounted(t testing.TB, mnt string) {
	t.Helper()
	mounted, err := IsMounted(mnt)
	if err != nil {
		t.Errorf("read mount table: %v", err)
	}
	if mounted {
		t.Errorf("%s is still mounted after the test", mnt)
		CleanupStale(mnt)
	}
}

// quickConfig models nothing: tests of faults should not wait on latency.
func quickConfig() Config {
	return DefaultConfig(Unlimited)
}

// writeFile writes size random bytes to path in 1 MiB writes and fsyncs,
// returning how long it took.
func writeFile(path string, size int) (time.Duration, error) {
	start := time.Now()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, mib)
	rand.Read(buf)
	for left := size; left > 0; left -= len(buf) {
		if _, err := f.Write(buf[:min(left, len(buf))]); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// readFile reads path to the end in 1 MiB reads, returning bytes and time.
func readFile(path string) (int64, time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	n, err := io.CopyBuffer(io.Discard, f, make([]byte, mib))
	return n, time.Since(start), err
}

func mibps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / mib / d.Seconds()
}

// valkey is one valkey-server process for a test.
type valkey struct {
	cmd     *exec.Cmd
	port    int
	logPath string
	exited  chan struct{}
	waitErr error
}

func requireValkey(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("valkey-server")
	if err != nil {
		t.Fatalf("valkey-server not on PATH (scripts/setup.sh installs it): %v", err)
	}
	return bin
}

// startValkey runs valkey-server on a free loopback port with dir as its data
// directory and the given save rules ("" for none). The log goes to a
// temporary directory outside the mount. The process group is killed when
// the test ends.
func startValkey(t testing.TB, dir, save string, extra ...string) *valkey {
	t.Helper()
	bin := requireValkey(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(t.TempDir(), "valkey.log")
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--dbfilename", "dump.rdb", "--save", save, "--appendonly", "no",
		"--rdbcompression", "yes", "--logfile", logPath, "--daemonize", "no",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start valkey-server: %v", err)
	}
	v := &valkey{cmd: cmd, port: port, logPath: logPath, exited: make(chan struct{})}
	go func() {
		v.waitErr = cmd.Wait()
		close(v.exited)
	}()
	t.Cleanup(v.kill)
	return v
}

// kill SIGKILLs the process group and waits for the server to exit.
func (v *valkey) kill() {
	syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	<-v.exited
}

// waitReady waits for the first PONG (after any RDB load).
func (v *valkey) waitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-v.exited:
			t.Fatalf("valkey-server exited while starting (%v); log:\n%s", v.waitErr, v.log())
		default:
		}
		if c, err := net.DialTimeout("tcp", v.addr(), 100*time.Millisecond); err == nil {
			r := newRESP(c)
			reply, err := r.do(time.Second, "PING")
			c.Close()
			if err == nil && reply == "PONG" {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("valkey-server not ready after %v; log:\n%s", timeout, v.log())
}

// waitExit waits for the process to exit on its own and returns its exit code.
func (v *valkey) waitExit(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-v.exited:
	case <-time.After(timeout):
		t.Fatalf("valkey-server still running after %v; log:\n%s", timeout, v.log())
	}
	var exit *exec.ExitError
	if errors.As(v.waitErr, &exit) {
		return exit.ExitCode()
	}
	return 0
}

func (v *valkey) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(v.port)) }

func (v *valkey) log() string {
	data, _ := os.ReadFile(v.logPath)
	return string(data)
}

// waitLog waits until the server log contains substr.
func (v *valkey) waitLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(v.log(), substr) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%q not in the server log after %v; log:\n%s", substr, timeout, v.log())
}

// conn dials the server.
func (v *valkey) conn(t testing.TB) *resp {
	t.Helper()
	c, err := net.DialTimeout("tcp", v.addr(), time.Second)
	if err != nil {
		t.Fatalf("dial valkey: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return newRESP(c)
}

// resp is a minimal RESP2 client: tests need exact replies and no retries.
type resp struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func newRESP(c net.Conn) *resp {
	return &resp{c: c, r: bufio.NewReaderSize(c, 64*1024), w: bufio.NewWriterSize(c, 256*1024)}
}

func (r *resp) send(args ...[]byte) {
	fmt.Fprintf(r.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(r.w, "$%d\r\n", len(a))
		r.w.Write(a)
		r.w.WriteString("\r\n")
	}
}

// do sends one command and returns its reply; an error reply is an error.
func (r *resp) do(timeout time.Duration, args ...string) (string, error) {
	r.c.SetDeadline(time.Now().Add(timeout))
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	r.send(bs...)
	if err := r.w.Flush(); err != nil {
		return "", err
	}
	return r.read()
}

func (r *resp) read() (string, error) {
	line, err := r.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		parts := make([]string, 0, max(n, 0))
		for range n {
			p, err := r.read()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// fill writes about total bytes of incompressible values (valueSize each)
// with pipelined SETs, so the RDB is about total bytes.
func fill(t testing.TB, r *resp, total, valueSize int) {
	t.Helper()
	const batch = 500
	value := make([]byte, valueSize)
	keys := total / valueSize
	r.c.SetDeadline(time.Now().Add(60 * time.Second))
	for i := 0; i < keys; i += batch {
		n := min(batch, keys-i)
		for j := range n {
			rand.Read(value)
			r.send([]byte("SET"), []byte("vc:efs:"+strconv.Itoa(i+j)), value)
		}
		if err := r.w.Flush(); err != nil {
			t.Fatalf("send SETs: %v", err)
		}
		for range n {
			if _, err := r.read(); err != nil {
				t.Fatalf("SET reply: %v", err)
			}
		}
	}
}

// info returns one field of INFO persistence.
func info(t testing.TB, r *resp, field string) string {
	t.Helper()
	text, err := r.do(5*time.Second, "INFO", "persistence")
	if err != nil {
		t.Fatalf("INFO persistence: %v", err)
	}
	for _, line := range strings.Split(text, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO persistence has no %s:\n%s", field, text)
	return ""
}
