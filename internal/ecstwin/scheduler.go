package ecstwin

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin/healthcheck"
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
	rollout, reason      string // rolloutState and rolloutStateReason
	failed               int    // failedTasks, for the circuit breaker
}

func newDeployment(now time.Time) *deployment {
	n, _ := rand.Int(rand.Reader, big.NewInt(1e18))
	id := fmt.Sprintf("ecs-svc/%019d", n)
	return &deployment{id: id, createdAt: now, updatedAt: now, rollout: "IN_PROGRESS", reason: "ECS deployment " + id + " in progress."}
}

// task is one ECS task: its lifecycle timestamps and, once started, its
// valkey-server process.
type task struct {
	id, arn    string
	deployment string
	eniID      string
	ip         string // the task's private IP: its own loopback address
	ipClaim    *ipClaim
	version    int64

	lastStatus, desiredStatus string
	createdAt, pullStartedAt, pullStoppedAt,
	startedAt, stoppingAt, executionStoppedAt, stoppedAt time.Time
	stopCode      string
	stoppedReason string
	exitCode      *int
	// containerReason is the container's own reason (an OOM kill).
	containerReason string
	everHealthy     bool

	srv     *local.Server
	health  *healthcheck.Checker
	logFile string
	logs    *logBuffer
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
			tw.eventLocked(now, "(service %s) has stopped 1 running tasks: (task %s).", tw.cfg.Service, t.id)
		}
	}
	// Replacements start while the primary deployment is short of tasks
	// and maximumPercent leaves room, unless the circuit breaker failed the
	// rollout or relaunches are throttled.
	for primary.rollout != "FAILED" && !now.Before(tw.nextLaunch) &&
		tw.countLocked(func(t *task) bool { return t.deployment == primary.id && t.desiredStatus == statusRunning }) < desired &&
		tw.countLocked(tw.countsAgainstMaximum) < maxTasks {
		tw.launchLocked(primary, now)
	}
	tw.settleLocked(now)
}

// countsAgainstMaximum is the capacity rule: AWS documents maximumPercent
// as a limit on tasks in the PENDING or RUNNING state, so a task that is
// DEACTIVATING, STOPPING (its final save) or DEPROVISIONING does not hold
// the replacement back; the stricter rule counts every task not STOPPED.
func (tw *Twin) countsAgainstMaximum(t *task) bool {
	if tw.cfg.CapacityRule == CapacityNotStopped {
		return t.lastStatus != statusStopped
	}
	switch t.lastStatus {
	case statusProvisioning, statusPending, statusRunning:
		return true
	}
	return false
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

// healthStatusLocked is the task's healthStatus: UNKNOWN without a health
// check, else the essential container's.
func (tw *Twin) healthStatusLocked(t *task) healthcheck.Status {
	if t.health == nil || t.lastStatus == statusStopped {
		return healthcheck.Unknown
	}
	return t.health.Status()
}

// healthyLocked is whether a deployment counts the task: HEALTHY with a
// health check, else RUNNING (for HealthyAfter).
func (tw *Twin) healthyLocked(t *task, now time.Time) bool {
	if t.lastStatus != statusRunning || t.desiredStatus != statusRunning {
		return false
	}
	if tw.cfg.HealthCheck != nil {
		return tw.healthStatusLocked(t) == healthcheck.Healthy
	}
	return !now.Before(t.startedAt.Add(tw.cfg.HealthyAfter))
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
	t.ip, t.ipClaim = tw.taskIPLocked()
	tw.tasks = append(tw.tasks, t)
	d.updatedAt = now
	tw.eventLocked(now, "(service %s) has started 1 tasks: (task %s).", tw.cfg.Service, id)
}

// advanceLocked moves a task through PROVISIONING -> PENDING (image pull)
// -> RUNNING over ProvisionDelay, and DEPROVISIONING -> STOPPED after its
// container exited.
func (tw *Twin) advanceLocked(t *task, now time.Time) {
	d := tw.cfg.ProvisionDelay
	if t.desiredStatus == statusStopped && t.srv == nil && t.lastStatus != statusStopped {
		t.lastStatus, t.stoppedAt = statusStopped, now
		t.ipClaim.release()
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

// startLocked spawns the task's server at its own address on the shared
// data dir, in UTC as Fargate containers run, under the writer lock when
// the task definition has the guard.
func (tw *Twin) startLocked(t *task) {
	cfg := local.ServerConfig{
		Bin:       tw.bin,
		Host:      t.ip,
		Port:      tw.cfg.Port,
		Dir:       tw.cfg.DataDir,
		Save:      tw.cfg.Save,
		LogFile:   t.logFile,
		ExtraArgs: tw.cfg.ExtraArgs,
		Security:  tw.cfg.Security,
		TZ:        "UTC",
		LockWait:  tw.cfg.LockWait,
	}
	if tw.cfg.TaskMemory > 0 {
		cfg.MemoryLimit = tw.cfg.TaskMemory << 20
	}
	if tw.cfg.HostPortBinding {
		cfg.Port = 0
	}
	if tw.cfg.WriterLock {
		cfg.WriterLock = filepath.Join(tw.cfg.DataDir, local.WriterLockFile)
	}
	var err error
	if tw.cfg.TaskContainer != nil {
		cfg.Save, cfg.Security = "", local.Security{Client: tw.cfg.Security.Client}
		cfg.Command, cfg.Env, err = tw.containerProcess()
	}
	var srv *local.Server
	if err == nil {
		srv, err = local.Spawn(cfg)
	} else {
		err = taskInitError{err}
	}
	t.version++
	if err != nil {
		now := time.Now()
		t.lastStatus, t.desiredStatus = statusStopped, statusStopped
		t.stoppingAt, t.stoppedAt = now, now
		t.stopCode, t.stoppedReason = stopFailedToStart, "CannotStartContainerError: "+err.Error()
		t.ipClaim.release()
		if _, ok := err.(taskInitError); ok {
			t.stoppedReason = err.Error() // the agent's, before any container
		}
		tw.taskFailedLocked(t, now)
		return
	}
	t.srv = srv
	t.lastStatus, t.startedAt = statusRunning, srv.StartedAt()
	t.logs = newLogBuffer(tw.cfg.LogBatch, t.startedAt)
	if tw.cfg.HealthCheck != nil {
		host, port := t.ip, tw.cfg.Port
		if tw.cfg.HostPortBinding {
			port = portOf(srv.Addr())
		}
		c, err := healthcheck.Start(*tw.cfg.HealthCheck, healthcheck.Target{Host: host, Port: port}, t.startedAt,
			func(s healthcheck.Status, res healthcheck.Result) { tw.healthChanged(t, s, res) })
		if err == nil {
			t.health = c
		}
	}
	tw.wg.Add(2)
	go tw.watchExit(t, srv)
	go tw.shipLogs(t, srv)
}

// healthChanged applies a container health transition: HEALTHY resets the
// failure streak; UNHEALTHY gets the task stopped and replaced.
func (tw *Twin) healthChanged(t *task, s healthcheck.Status, res healthcheck.Result) {
	tw.mu.Lock()
	now := time.Now()
	switch s {
	case healthcheck.Healthy:
		t.everHealthy = true
		tw.failStreak = 0
	case healthcheck.Unhealthy:
		if t.desiredStatus == statusRunning {
			tw.eventLocked(now, "(service %s) (task %s) failed container health checks.", tw.cfg.Service, t.id)
			tw.stopLocked(t, stopSchedulerStopped, "Task failed container health checks", now)
			tw.taskFailedLocked(t, now)
		}
	}
	t.version++
	tw.mu.Unlock()
	tw.poke()
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
		t.ipClaim.release()
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
	if t.health != nil {
		t.health.Stop()
	}
	tw.mu.Lock()
	t.ipClaim.release() // the server and its save child are gone: the address is free
	at := srv.ExitedAt()
	if t.desiredStatus == statusRunning {
		t.desiredStatus, t.stoppingAt = statusStopped, at
		t.stopCode, t.stoppedReason = stopEssentialExited, "Essential container in task exited"
		tw.taskFailedLocked(t, at)
	}
	t.executionStoppedAt = at
	if tw.cfg.WholeSecondExecutionStop {
		t.executionStoppedAt = at.Truncate(time.Second)
	}
	t.exitCode = exitCode(srv.ExitDetail())
	if mem, ok, _ := srv.Memory(); ok && mem.ParentKilled {
		// As ECS reports a container the kernel killed at the task's limit.
		t.containerReason = "OutOfMemoryError: Container killed due to memory usage"
	}
	t.lastStatus = statusDeprovisioning
	t.version++
	tw.mu.Unlock()
	tw.poke()
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

// taskMemory is the task definition's memory as ECS describes it (MiB).
func (tw *Twin) taskMemory() string {
	if tw.cfg.TaskMemory > 0 {
		return strconv.FormatInt(tw.cfg.TaskMemory, 10)
	}
	return "1024"
}

// taskInitError is a task that failed before its container started (a
// secret not resolved): ECS reports it as such, not as the container's.
type taskInitError struct{ error }
