package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// testServer is a real valkey-server on a loopback port in a temp dir.
type testServer struct {
	t    testing.TB
	addr string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// serverBin is valkey-server unless VALKEY_SERVER names another binary.
func serverBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("VALKEY_SERVER")
	if bin == "" {
		bin = "valkey-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not found: run scripts/setup.sh (installs valkey-server) or set VALKEY_SERVER: %v", bin, err)
	}
	return path
}

// startServer starts valkey-server with no persistence on a free port and
// kills it when the test ends. extra arguments are appended.
func startServer(t testing.TB, extra ...string) *testServer {
	t.Helper()
	s := &testServer{t: t, dir: t.TempDir()}
	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		s.args = append([]string{
			"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no",
			"--logfile", filepath.Join(s.dir, "valkey.log"),
		}, extra...)
		err := s.start()
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatalf("start valkey-server: %v", err)
		}
	}
	t.Cleanup(s.kill)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start spawns the server (same port and dir as before) and waits until it
// answers PING.
func (s *testServer) start() error {
	cmd := exec.Command(serverBin(s.t), s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "valkey.log"))
			s.cmd = nil
			return fmt.Errorf("valkey-server exited (%v): %s", err, lastLines(string(log), 3))
		default:
		}
		if reply, err := rawCommand(s.addr, "PING"); err == nil && reply == "+PONG" {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return fmt.Errorf("valkey-server on %s not ready after 10s", s.addr)
}

// kill sends SIGKILL to the server's process group and waits until the port
// refuses connections.
func (s *testServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd = nil
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(time.Millisecond)
	}
}

// rawCommand sends one inline command on a fresh connection and returns the
// first reply line (the way a readiness probe does, without go-redis).
func rawCommand(addr, command string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(command + "\r\n")); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

// client returns a go-redis client for checks, closed at the end of the test.
func (s *testServer) client() *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                     s.addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		ReadTimeout:              10 * time.Second,
		MaxRetries:               -1,
	})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// readBack fetches keys with pipelined GETs; a missing key yields nil.
func readBack(ctx context.Context, t *testing.T, c *redis.Client, keys []string) [][]byte {
	t.Helper()
	out := make([][]byte, 0, len(keys))
	for from := 0; from < len(keys); from += 1000 {
		to := min(from+1000, len(keys))
		pipe := c.Pipeline()
		cmds := make([]*redis.StringCmd, 0, to-from)
		for _, k := range keys[from:to] {
			cmds = append(cmds, pipe.Get(ctx, k))
		}
		_, _ = pipe.Exec(ctx)
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			switch {
			case err == redis.Nil:
				out = append(out, nil)
			case err != nil:
				t.Fatalf("get %s: %v", keys[from+i], err)
			default:
				out = append(out, b)
			}
		}
	}
	return out
}
