package ecstwin

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/target/local"
)

// Task lifecycle states, as DescribeTasks reports them for Fargate.
const (
	statusProvisioning   = "PROVISIONING"
	statusPending        = "PENDING"
	statusRunning        = "RUNNING"
	statusDeactivating   = "DEACTIVATING"
	statusStopping       = "STOPPING"
	statusDeprovisioning = "DEPROVISIONING"
	statusStopped        = "STOPPED"
)

// Stop codes the twin produces.
const (
	stopUserInitiated    = "UserInitiated"
	stopEssentialExited  = "EssentialContainerExited"
	stopSchedulerStopped = "ServiceSchedulerInitiated"
	stopFailedToStart    = "TaskFailedToStart"
)

// stoppedRetention is how long a STOPPED task stays describable (ECS keeps
// them about an hour).
const stoppedRetention = time.Hour

type deployment struct {
	id                   string
	createdAt, updatedAt time.Time
}

func newDeployment(now time.Time) *deployment {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e18))
	return &deployment{id: fmt.Sprintf("ecs-svc/%019d", n), createdAt: now, updatedAt: now}
}

// task is one ECS task: its lifecycle timestamps and, once started, its
// valkey-server process.
type task struct {
	id, arn    string
	deployment string
	eniID      string
	version    int64

	lastStatus, desiredStatus string
	createdAt, pullStartedAt, pullStoppedAt,
	startedAt, stoppingAt, executionStoppedAt, stoppedAt time.Time
	pongAt        time.Time // first PONG: the container health check passes
	stopCode      string
	stoppedReason string
	exitCode      *int

	srv     *local.Server
	logFile string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// schedule runs the service scheduler until Close.
func (tw *Twin) schedule() {
	defer tw.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		tw.reconcile()
		select {
		case <-tw.done:
			return
		case <-tick.C:
		case <-tw.wake:
		}
	}
}

// poke asks the scheduler to reconcile now rather than at the next tick.
func (tw *Twin) poke() {
	select {
	case tw.wake <- struct{}{}:
	default:
	}
}

// reconcile advances every task's lifecycle and moves the service towards
// one task of the primary deployment, within the deployment configuration.
func (tw *Twin) reconcile() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.closed {
		return
	}
	now := time.Now()
	for _, t := range tw.tasks {
		tw.advanceLocked(t, now)
	}
	tw.pruneLocked(now)

	const desired = 1
	maxTasks := desired * tw.deploy.MaximumPercent / 100
	minHealthy := (desired*tw.deploy.MinimumHealthyPercent + 99) / 100
	primary := tw.deployments[0]

	// Old deployments drain one task at a time, only while enough healthy
	// tasks would remain.
	for _, t := range tw.tasks {
		if t.deployment == primary.id || t.desiredStatus != statusRunning {
			continue
		}
		remaining := tw.healthyCountLocked(now)
		if tw.healthyLocked(t, now) {
			remaining--
		}
		if t.srv == nil || remaining >= minHealthy {
			tw.stopLocked(t, stopSchedulerStopped, fmt.Sprintf("Scaling activity initiated by (deployment %s)", primary.id), now)
		}
	}
	// Replacements start while the primary deployment is short of tasks
	// and maximumPercent leaves room.
	for tw.countLocked(func(t *task) bool { return t.deployment == primary.id && t.desiredStatus == statusRunning }) < desired &&
		tw.countLocked(func(t *task) bool { return t.lastStatus != statusStopped }) < maxTasks {
		tw.launchLocked(primary, now)
	}
	// A deployment with no task left is gone.
	keep := tw.deployments[:1]
	for _, d := range tw.deployments[1:] {
		if tw.countLocked(func(t *task) bool { return t.deployment == d.id && t.lastStatus != statusStopped }) > 0 {
			keep = append(keep, d)
		}
	}
	tw.deployments = keep
}

func (tw *Twin) countLocked(match func(*task) bool) int {
	n := 0
	for _, t := range tw.tasks {
		if match(t) {
			n++
		}
	}
	return n
}

func (tw *Twin) healthyLocked(t *task, now time.Time) bool {
	return t.lastStatus == statusRunning && t.desiredStatus == statusRunning &&
		!t.pongAt.IsZero() && !now.Before(t.startedAt.Add(tw.cfg.HealthyAfter))
}

func (tw *Twin) healthyCountLocked(now time.Time) int {
	return tw.countLocked(func(t *task) bool { return tw.healthyLocked(t, now) })
}

func (tw *Twin) pruneLocked(now time.Time) {
	kept := tw.tasks[:0]
	for _, t := range tw.tasks {
		if t.lastStatus == statusStopped && now.Sub(t.stoppedAt) > stoppedRetention {
			continue
		}
		kept = append(kept, t)
	}
	tw.tasks = kept
}

// launchLocked creates a task in PROVISIONING; advanceLocked starts it.
func (tw *Twin) launchLocked(d *deployment, now time.Time) {
	id := randomHex(16)
	t := &task{
		id:            id,
		arn:           fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.Cluster, id),
		deployment:    d.id,
		eniID:         "eni-" + randomHex(8),
		lastStatus:    statusProvisioning,
		desiredStatus: statusRunning,
		createdAt:     now,
		version:       1,
		logFile:       filepath.Join(tw.logDir(), id+".log"),
	}
	tw.tasks = append(tw.tasks, t)
	d.updatedAt = now
}

// advanceLocked moves a task through PROVISIONING -> PENDING (image pull)
// -> RUNNING over ProvisionDelay, and DEPROVISIONING -> STOPPED after its
// container exited.
func (tw *Twin) advanceLocked(t *task, now time.Time) {
	d := tw.cfg.ProvisionDelay
	if t.desiredStatus == statusStopped && t.srv == nil && t.lastStatus != statusStopped {
		t.lastStatus, t.stoppedAt = statusStopped, now
		t.version++
		return
	}
	if t.lastStatus == statusProvisioning && !now.Before(t.createdAt.Add(d/2)) {
		t.lastStatus, t.pullStartedAt = statusPending, now
		t.version++
	}
	if t.lastStatus == statusPending && t.pullStoppedAt.IsZero() && !now.Before(t.createdAt.Add(d*9/10)) {
		t.pullStoppedAt = now
	}
	if t.lastStatus == statusPending && !t.pullStoppedAt.IsZero() && !now.Before(t.createdAt.Add(d)) {
		tw.startLocked(t)
	}
	if t.lastStatus == statusDeprovisioning && !now.Before(t.executionStoppedAt.Add(tw.cfg.DeprovisionDelay)) {
		t.lastStatus, t.stoppedAt = statusStopped, now
		t.version++
	}
}

// startLocked spawns the task's server on a fresh port and the shared dir.
func (tw *Twin) startLocked(t *task) {
	srv, err := local.Spawn(local.ServerConfig{
		Bin:       tw.bin,
		Dir:       tw.cfg.DataDir,
		Save:      tw.cfg.Save,
		LogFile:   t.logFile,
		ExtraArgs: tw.cfg.ExtraArgs,
	})
	t.version++
	if err != nil {
		now := time.Now()
		t.lastStatus, t.desiredStatus = statusStopped, statusStopped
		t.stoppingAt, t.stoppedAt = now, now
		t.stopCode, t.stoppedReason = stopFailedToStart, "CannotStartContainerError: "+err.Error()
		return
	}
	t.srv = srv
	t.lastStatus, t.startedAt = statusRunning, srv.StartedAt()
	tw.wg.Add(2)
	go tw.watchExit(t, srv)
	go tw.watchHealth(t, srv)
}

// stopLocked sets a task's desired status to STOPPED and, if its container
// runs, sends SIGTERM and SIGKILLs the group after stopTimeout.
func (tw *Twin) stopLocked(t *task, code, reason string, now time.Time) {
	if t.desiredStatus == statusStopped {
		return
	}
	t.desiredStatus, t.stoppingAt = statusStopped, now
	t.stopCode, t.stoppedReason = code, reason
	t.version++
	if t.srv == nil {
		t.lastStatus, t.stoppedAt = statusStopped, now
		return
	}
	if t.lastStatus == statusRunning {
		t.lastStatus = statusDeactivating
	}
	tw.wg.Add(1)
	go tw.terminate(t, t.srv)
}

func (tw *Twin) terminate(t *task, srv *local.Server) {
	defer tw.wg.Done()
	tw.mu.Lock()
	if t.lastStatus == statusDeactivating {
		t.lastStatus = statusStopping
	}
	tw.mu.Unlock()
	_ = srv.Signal(syscall.SIGTERM)
	timer := time.NewTimer(tw.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-srv.Exited():
	case <-timer.C:
		_ = srv.KillGroup()
	case <-tw.done:
	}
}

// watchExit records the container's exit. A process that exits while the
// task should be running stops the task (EssentialContainerExited), and
// the scheduler replaces it.
func (tw *Twin) watchExit(t *task, srv *local.Server) {
	defer tw.wg.Done()
	select {
	case <-srv.Exited():
	case <-tw.done:
		return
	}
	_ = srv.KillGroup() // the container's death takes any save child with it
	tw.mu.Lock()
	at := srv.ExitedAt()
	if t.desiredStatus == statusRunning {
		t.desiredStatus, t.stoppingAt = statusStopped, at
		t.stopCode, t.stoppedReason = stopEssentialExited, "Essential container in task exited"
	}
	t.executionStoppedAt = at
	t.exitCode = exitCode(srv.ExitDetail())
	t.lastStatus = statusDeprovisioning
	t.version++
	tw.mu.Unlock()
	tw.poke()
}

// watchHealth plays the container health check: the first PONG (not
// LOADING, not MISCONF) marks the task as passing.
func (tw *Twin) watchHealth(t *task, srv *local.Server) {
	defer tw.wg.Done()
	for {
		if pong(srv.Addr()) {
			tw.mu.Lock()
			t.pongAt = time.Now()
			tw.mu.Unlock()
			tw.poke()
			return
		}
		select {
		case <-srv.Exited():
			return
		case <-tw.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func pong(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}

// exitCode turns "exit status 1" or "signal: killed" into the container
// exit code Docker reports (128+signal for a signal).
func exitCode(detail string) *int {
	if n, ok := strings.CutPrefix(detail, "exit status "); ok {
		if v, err := strconv.Atoi(n); err == nil {
			return &v
		}
	}
	if name, ok := strings.CutPrefix(detail, "signal: "); ok {
		name = strings.TrimSuffix(name, " (core dumped)")
		for s := syscall.Signal(1); s < 32; s++ {
			if s.String() == name {
				v := 128 + int(s)
				return &v
			}
		}
	}
	return nil
}
