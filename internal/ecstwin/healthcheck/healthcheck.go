// Package healthcheck runs a container health check as ECS (through
// Docker's HEALTHCHECK) does: the task definition's command every
// interval, each run bounded by timeout; a pass makes the container
// HEALTHY, `retries` consecutive failures make it UNHEALTHY, and failures
// inside startPeriod do not count until a first pass. The command really
// runs, against the server it checks, so a server still LOADING its
// dataset fails `valkey-cli ping | grep -q PONG` as it does on Fargate.
//
// Used by the ECS twin for every task, and reusable wherever a check's
// verdict on a real server is needed (e.g. a dataset whose load outlasts
// startPeriod + retries × interval is killed while LOADING).
package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Status is a container's healthStatus as DescribeTasks reports it.
type Status string

// The healthStatus values.
const (
	Unknown   Status = "UNKNOWN"
	Healthy   Status = "HEALTHY"
	Unhealthy Status = "UNHEALTHY"
)

// Spec is a container definition's healthCheck. Zero fields take ECS's
// defaults (interval 30 s, timeout 5 s, retries 3, no start period); the
// twin accepts sub-second values so tests can scale them.
type Spec struct {
	// Command is ["CMD-SHELL", "script"] or ["CMD", "bin", "arg", ...].
	Command     []string
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
	StartPeriod time.Duration
}

// ModuleSpec is the check terraform/modules/valkey puts in the task
// definition: valkey-cli exits 0 on LOADING and MISCONF, so the reply is
// compared.
func ModuleSpec(startPeriod time.Duration) Spec {
	return Spec{
		Command:  []string{"CMD-SHELL", "valkey-cli ping | grep -q PONG"},
		Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: startPeriod,
	}
}

// WithDefaults fills the zero fields with ECS's defaults.
func (s Spec) WithDefaults() Spec {
	if s.Interval <= 0 {
		s.Interval = 30 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	if s.Retries <= 0 {
		s.Retries = 3
	}
	return s
}

// Validate checks the command's form.
func (s Spec) Validate() error {
	if len(s.Command) < 2 || (s.Command[0] != "CMD-SHELL" && s.Command[0] != "CMD") {
		return fmt.Errorf("health check command %q must be [\"CMD-SHELL\", \"script\"] or [\"CMD\", \"bin\", ...]", s.Command)
	}
	if s.StartPeriod < 0 || s.Retries < 0 {
		return errors.New("health check retries and startPeriod must not be negative")
	}
	return nil
}

// Target says where the checked server listens. On Fargate the check runs
// inside the task's network namespace, where valkey-cli's default
// 127.0.0.1:6379 is the server; outside it, valkey-cli and redis-cli are
// pointed at Host:Port by wrappers first on the check's PATH, and
// VALKEY_HOST and VALKEY_PORT are set for other commands.
type Target struct {
	Host string
	Port int
}

// Result is one run of the check.
type Result struct {
	At     time.Time // when the run began
	Ended  time.Time // when its verdict was known
	Passed bool
	Output string // what the command printed, or why it failed
}

// RunOnce runs the command once, bounded by timeout.
func RunOnce(ctx context.Context, s Spec, tg Target) Result {
	shims, err := newShims(tg)
	if err != nil {
		return Result{At: time.Now(), Output: err.Error()}
	}
	defer os.RemoveAll(shims)
	return runOnce(ctx, s.WithDefaults(), tg, shims)
}

func runOnce(ctx context.Context, s Spec, tg Target, shims string) Result {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	res := Result{At: time.Now()}
	var cmd *exec.Cmd
	if s.Command[0] == "CMD-SHELL" {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", s.Command[1])
	} else {
		cmd = exec.CommandContext(ctx, s.Command[1], s.Command[2:]...)
		if base := filepath.Base(s.Command[1]); base == s.Command[1] {
			cmd.Path = filepath.Join(shims, base) // a bare name resolves on the shimmed PATH
			if _, err := os.Stat(cmd.Path); err != nil {
				cmd = exec.CommandContext(ctx, s.Command[1], s.Command[2:]...)
			}
		}
	}
	cmd.Env = append(os.Environ(), "PATH="+shims+string(os.PathListSeparator)+os.Getenv("PATH"),
		fmt.Sprintf("VALKEY_HOST=%s", tg.Host), fmt.Sprintf("VALKEY_PORT=%d", tg.Port))
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	res.Output = strings.TrimSpace(string(out))
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		res.Output = fmt.Sprintf("timed out after %v", s.Timeout)
	case err != nil && res.Output == "":
		res.Output = err.Error()
	}
	res.Passed = err == nil && ctx.Err() == nil
	res.Ended = time.Now()
	return res
}

// newShims makes a directory of valkey-cli and redis-cli wrappers that
// point the real client at the target, put first on the check's PATH: the
// twin's stand-in for the task's own network namespace.
func newShims(tg Target) (string, error) {
	dir, err := os.MkdirTemp("", "healthcheck-")
	if err != nil {
		return "", fmt.Errorf("health check shims: %w", err)
	}
	for _, name := range []string{"valkey-cli", "redis-cli"} {
		real, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		script := fmt.Sprintf("#!/bin/sh\nexec %q -h %q -p %d \"$@\"\n", real, tg.Host, tg.Port)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("health check shim: %w", err)
		}
	}
	return dir, nil
}

// Checker runs a check on its schedule until stopped and keeps the status.
type Checker struct {
	spec    Spec
	target  Target
	started time.Time
	changed func(Status, Result)

	mu       sync.Mutex
	status   Status
	failures int // consecutive failures that count
	passed   bool
	last     Result
	history  []Result
	shims    string
	cancel   context.CancelFunc
	done     chan struct{}
}

// Start begins checking a container that started at `started`: the first
// run comes one interval later, as Docker schedules it. changed, if not
// nil, is called (from the checker's goroutine) on every status change.
func Start(spec Spec, tg Target, started time.Time, changed func(Status, Result)) (*Checker, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	shims, err := newShims(tg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Checker{spec: spec, target: tg, started: started, changed: changed, status: Unknown, shims: shims, cancel: cancel, done: make(chan struct{})}
	go c.loop(ctx)
	return c, nil
}

func (c *Checker) loop(ctx context.Context) {
	defer close(c.done)
	next := c.started.Add(c.spec.Interval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		res := runOnce(ctx, c.spec, c.target, c.shims)
		if ctx.Err() != nil {
			return
		}
		c.record(res)
		next = next.Add(c.spec.Interval)
		if now := time.Now(); next.Before(now) {
			next = now // a run that outlasted the interval: the next one starts at once
		}
	}
}

// record applies one result: Docker's rules, as ECS reports them.
func (c *Checker) record(res Result) {
	c.mu.Lock()
	before := c.status
	c.last = res
	c.history = append(c.history, res)
	switch {
	case res.Passed:
		c.passed, c.failures, c.status = true, 0, Healthy
	case !c.passed && res.At.Before(c.started.Add(c.spec.StartPeriod)):
		// Inside the start period, before any pass: does not count.
	default:
		c.failures++
		if c.failures >= c.spec.Retries {
			c.status = Unhealthy
		}
	}
	after := c.status
	c.mu.Unlock()
	if after != before && c.changed != nil {
		c.changed(after, res)
	}
}

// Status is the current healthStatus.
func (c *Checker) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Last is the latest run's result (zero before the first run).
func (c *Checker) Last() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// History is every run so far, in order.
func (c *Checker) History() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Result(nil), c.history...)
}

// Stop ends the checks and waits for a run in progress to end.
func (c *Checker) Stop() {
	c.cancel()
	<-c.done
	os.RemoveAll(c.shims)
}

// Budget is how long a container may take to pass its first check before
// it is UNHEALTHY at the latest: the start period, then `retries` failing
// runs an interval apart (plus the first interval Docker waits). A server
// whose load outlasts it is killed while LOADING.
func (s Spec) Budget() time.Duration {
	s = s.WithDefaults()
	last := s.Interval * time.Duration(s.Retries)
	if s.StartPeriod > 0 {
		// Runs inside the start period do not count: the first counted run
		// is the first at or after it.
		first := ((s.StartPeriod + s.Interval - 1) / s.Interval) * s.Interval
		last = first + s.Interval*time.Duration(s.Retries-1)
	}
	return last + s.Timeout
}
