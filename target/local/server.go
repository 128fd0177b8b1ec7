// Package local runs Valkey as local valkey-server (or redis-server)
// processes: the default target, and the process layer under the ECS twin.
package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/result"
)

// ServerConfig describes one server process.
type ServerConfig struct {
	Bin       string // path or name on PATH; default "valkey-server"
	Host      string // default 127.0.0.1
	Port      int    // 0 picks a free loopback port
	Dir       string // data directory (--dir); must exist
	Save      string // --save rules, already time-scaled; "" disables saving
	LogFile   string // --logfile; the server writes its own timestamped lines
	ExtraArgs []string
	// TZ is the server's time zone, the zone of its log's timestamps:
	// "" runs it in UTC, as Fargate containers run, whatever the harness's
	// zone (LogZone reports it).
	TZ string
	// WriterLock, when set, starts the server the way the module's
	// container does under its single-writer guard: a shell opens this
	// file on fd 9, takes an exclusive flock on it (waiting up to
	// LockWait), and execs the server, which inherits the fd, as its save
	// child does; the lock is released only when both have exited.
	WriterLock string
	LockWait   time.Duration // default 60 s; whole seconds
	// MemoryLimit, when > 0, runs the server (and its save children) in a
	// memory cgroup with this hard limit in bytes, removed when it exits.
	MemoryLimit int64
	// Cgroups is where that cgroup is created; zero: memlimit.Detect.
	Cgroups memlimit.Hierarchy
	// RunAsUID runs the server as this uid and gid (needs root); nil: as the harness.
	RunAsUID *int
	// Security: ACL users, requirepass and TLS (zero: open, plaintext).
	Security Security
	// Command, when set, is a container's command run as its image runs it
	// (sh -c SCRIPT valkey-server ARGS, or server ARGS when its first word
	// is an option): it owns the port, TLS, users, --dir and --save, so
	// Spawn adds only --bind Host and --logfile, then ExtraArgs, and runs
	// it with Env added to the environment. Port must be the port it
	// listens on; Security, Save and WriterLock must be unset.
	Command []string
	Env     []string
}

// writerLockScript is the module's container start-up guard (the terraform
// helper writes the same line into the task definition), with the binary
// as $0 so any server path works.
const writerLockScript = `exec 9>>"$LOCK_FILE" && flock -x -w "$LOCK_WAIT" 9 && exec "$0" "$@"`

// WriterLockFile is where the single-writer guard's lock lives in a data
// directory.
const WriterLockFile = ".valkey-writer.lock"

// Server is one running server process in its own process group, so a crash
// fault can kill it together with any BGSAVE child, as a container kill does.
type Server struct {
	cfg       ServerConfig
	cmd       *exec.Cmd
	addr      string
	startedAt time.Time
	exited    chan struct{}
	mem       *memoryGroup // nil without a memory limit
	killSent  atomic.Bool  // this process sent SIGKILL (not the kernel)

	mu       sync.Mutex
	state    *os.ProcessState
	exitedAt time.Time
	waitErr  error
}

// ResolveBin finds the server binary, with a fix-it message when absent.
func ResolveBin(bin string) (string, error) {
	if bin == "" {
		bin = "valkey-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w: server binary %q not found: run 'make setup' (installs valkey-server from bookworm-backports) or pass --server-bin /path/to/valkey-server", result.ErrBadInput, bin)
	}
	return path, nil
}

// versionTimeout bounds `BIN --version`: a binary that is not a server may
// wait for input instead of printing a version.
const versionTimeout = 10 * time.Second

// versionLine is the first line of a server's --version: "Valkey server
// v=8.0.1 sha=..." or "Redis server v=7.0.15 sha=...".
var versionLine = regexp.MustCompile(`(?m)^(Valkey|Redis) server v=(\S+)`)

// ServerVersion asks the binary for its version ("valkey 8.0.1") and fails
// unless it answers as a Valkey or Redis server does. A child killed by a
// signal is reported as such (errSignaled): Ctrl-C reaches it too, and is
// an interruption, not a broken binary.
func ServerVersion(ctx context.Context, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "", fmt.Errorf("%s --version died of %v: %w", bin, ws.Signal(), errSignaled)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "", fmt.Errorf("its --version printed no version within %v", versionTimeout)
	}
	if m := versionLine.FindStringSubmatch(out.String()); m != nil && err == nil {
		return strings.ToLower(m[1]) + " " + m[2], nil
	}
	printed := strings.TrimSpace(out.String())
	if i := strings.IndexByte(printed, '\n'); i >= 0 {
		printed = printed[:i]
	}
	if len(printed) > 80 {
		printed = printed[:80] + "..."
	}
	if printed == "" {
		printed = "nothing"
	} else {
		printed = strconv.Quote(printed)
	}
	if err != nil {
		return "", fmt.Errorf("its --version failed (%v) and printed %s", err, printed)
	}
	return "", fmt.Errorf("its --version printed %s", printed)
}

// errSignaled marks a child process that a signal ended.
var errSignaled = errors.New("killed by a signal")

// FreePort returns a loopback port nobody listens on right now.
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CheckPortFree fails with a fix-it message when a chosen port is taken.
func CheckPortFree(host string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("%w: port %d: a TCP port is 1-65535 (omit --port to get a free one)", result.ErrBadInput, port)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("%w: port %d on %s is in use: pick a free one with --port, or omit --port to get one", result.ErrBadInput, port, host)
	}
	return l.Close()
}

// resolved fills a free port and makes the paths absolute: the server
// chdirs into --dir and opens --logfile afresh for every line, so both must
// be absolute to mean what the caller meant.
func (cfg ServerConfig) resolved() (ServerConfig, error) {
	var err error
	if cfg.Port == 0 {
		if cfg.Port, err = FreePort(cfg.Host); err != nil {
			return cfg, err
		}
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return cfg, fmt.Errorf("data dir: %w", err)
	}
	if cfg.LogFile != "" {
		if cfg.LogFile, err = filepath.Abs(cfg.LogFile); err != nil {
			return cfg, fmt.Errorf("log file: %w", err)
		}
	}
	return cfg, nil
}

// Spawn starts the process and returns as soon as it runs; it does not wait
// for the port (recovery measures that instant itself).
func Spawn(cfg ServerConfig) (*Server, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	bin, err := ResolveBin(cfg.Bin)
	if err != nil {
		return nil, err
	}
	if cfg, err = cfg.resolved(); err != nil {
		return nil, err
	}
	if cfg.Command != nil {
		return spawnCommand(cfg, bin)
	}
	args := []string{
		"--port", strconv.Itoa(cfg.Port),
		"--bind", cfg.Host,
		"--dir", cfg.Dir,
		"--dbfilename", "dump.rdb",
		"--rdbcompression", "yes",
		"--appendonly", "no",
		"--daemonize", "no",
		"--save", cfg.Save,
	}
	if cfg.LogFile != "" {
		args = append(args, "--logfile", cfg.LogFile)
	}
	args = append(args, cfg.Security.args(cfg.Port)...)
	args = append(args, cfg.ExtraArgs...)
	// No cmd.Dir: the data dir may be a FUSE mount served by this very
	// process, and a fork child that touches it before exec deadlocks the
	// process (package efs). --dir makes the server chdir after exec.
	cmd, err := serverCommand(cfg, bin, args)
	if err != nil {
		return nil, err
	}
	return start(cfg, cmd, bin)
}

// start runs cmd in its own process group (and memory group) as cfg's
// server.
func start(cfg ServerConfig, cmd *exec.Cmd, bin string) (*Server, error) {
	var err error
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cfg.RunAsUID != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(*cfg.RunAsUID), Gid: uint32(*cfg.RunAsUID)}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr // logs go to --logfile; anything here is a start-up failure
	s := &Server{
		cfg:    cfg,
		cmd:    cmd,
		addr:   net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		exited: make(chan struct{}),
	}
	if cfg.MemoryLimit > 0 {
		if s.mem, err = newMemoryGroup(cfg.Cgroups, cfg.MemoryLimit); err != nil {
			return nil, err
		}
	}
	s.startedAt = time.Now()
	if err := cmd.Start(); err != nil {
		s.mem.close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	// The server forks only for a save, long after this: its children are
	// born in the group. What it allocated before the move is small (and
	// moved along on v1).
	if s.mem != nil {
		if err := s.mem.g.Add(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			s.mem.close()
			return nil, err
		}
	}
	go s.reap()
	return s, nil
}

// serverCommand is the server's command line and environment: TZ set
// explicitly, and the writer-lock shell around the server when asked for.
func serverCommand(cfg ServerConfig, bin string, args []string) (*exec.Cmd, error) {
	tz := cfg.TZ
	if tz == "" {
		tz = "UTC"
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("%w: server time zone %q: %v: use an IANA name such as UTC or Europe/London", result.ErrBadInput, tz, err)
	}
	env := append(os.Environ(), "TZ="+tz)
	if cfg.WriterLock == "" {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd, nil
	}
	flock, err := exec.LookPath("flock")
	if err != nil {
		return nil, fmt.Errorf("%w: the writer lock needs flock (util-linux) on PATH", result.ErrBadInput)
	}
	wait := cfg.LockWait
	if wait <= 0 {
		wait = time.Minute
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", writerLockScript, bin}, args...)...)
	cmd.Env = append(env, "LOCK_FILE="+cfg.WriterLock, fmt.Sprintf("LOCK_WAIT=%d", int((wait+time.Second-1)/time.Second)),
		"PATH="+filepath.Dir(flock)+":"+os.Getenv("PATH"))
	return cmd, nil
}

// LogZone is the zone the server writes its log's timestamps in.
func (s *Server) LogZone() *time.Location {
	tz := s.cfg.TZ
	if tz == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// reap waits for the process, records how it ended and, under a memory
// limit, whether the kernel killed it, then removes its cgroup.
func (s *Server) reap() {
	err := s.cmd.Wait()
	exitedAt := time.Now()
	var sig syscall.Signal
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig = ws.Signal()
	}
	memErr := s.closeMemory(sig)
	s.mu.Lock()
	s.state, s.waitErr, s.exitedAt = s.cmd.ProcessState, errors.Join(err, memErr), exitedAt
	s.mu.Unlock()
	close(s.exited)
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return s.addr }

// PID is the server's process id (also its process group id).
func (s *Server) PID() int { return s.cmd.Process.Pid }

// StartedAt is the instant the process was spawned.
func (s *Server) StartedAt() time.Time { return s.startedAt }

// Exited closes when the process has exited and been reaped.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// ExitedAt is when the exit was observed; zero while running.
func (s *Server) ExitedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exitedAt
}

// ExitDetail describes how the process ended ("signal: killed", "exit status 0").
func (s *Server) ExitDetail() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nil {
		return "running"
	}
	return s.state.String()
}

// Running reports whether the process has not exited yet.
func (s *Server) Running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the main process only (what ECS does to PID 1).
func (s *Server) Signal(sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		s.killSent.Store(true)
	}
	if !s.Running() {
		return nil
	}
	if err := s.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v to pid %d: %w", sig, s.PID(), err)
	}
	return nil
}

// KillGroup SIGKILLs the whole process group: server and any save child.
func (s *Server) KillGroup() error {
	s.killSent.Store(true)
	if err := syscall.Kill(-s.PID(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", s.PID(), err)
	}
	return nil
}

// Wait blocks until the process exits or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitAccepting waits until the port accepts a connection and answers PING
// with anything; it fails early with the log tail when the process exits.
func (s *Server) WaitAccepting(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for ctx.Err() == nil { // a cancelled wait never reports a server up
		// TLS, when on, is the only way in; AUTH is not needed: any reply
		// (NOAUTH included) shows the server accepts.
		conn, err := s.cfg.Security.Client.Dial(ctx, s.addr, 100*time.Millisecond)
		if err == nil {
			conn.SetDeadline(time.Now().Add(time.Second))
			_, werr := conn.Write([]byte("PING\r\n"))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if werr == nil && rerr == nil && line != "" {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server on %s exited during start-up (%s): %s", s.addr, s.ExitDetail(), s.failureHint())
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return interrupted(ctx, "waiting for the server on "+s.addr+" to accept connections")
			}
			return fmt.Errorf("server on %s did not accept connections within %v: %s", s.addr, timeout, s.failureHint())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return interrupted(ctx, "waiting for the server on "+s.addr+" to accept connections")
	}
	return fmt.Errorf("server on %s did not accept connections within %v: %s", s.addr, timeout, s.failureHint())
}

// failureHint returns the last meaningful lines the server wrote.
func (s *Server) failureHint() string {
	var text []byte
	if s.cfg.LogFile != "" {
		text, _ = os.ReadFile(s.cfg.LogFile)
	}
	if out := s.cmd.Stderr.(*bytes.Buffer).Bytes(); len(out) > 0 {
		text = append(text, out...)
	}
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < 3; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.Contains(l, "overcommit") {
			keep = append([]string{l}, keep...)
		}
	}
	if len(keep) == 0 {
		return "no output (log " + filepath.Base(s.cfg.LogFile) + ")"
	}
	return strings.Join(keep, " | ")
}

// interrupted describes work cut short by ctx's cancellation (Ctrl-C,
// SIGTERM) as that, with the cause, so it is never blamed on the server; it
// unwraps to ctx.Err() (context.Canceled) and to the cause.
func interrupted(ctx context.Context, doing string) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("interrupted while %s: %w (%w)", doing, cause, ctx.Err())
	}
	return fmt.Errorf("interrupted while %s: %w", doing, ctx.Err())
}
