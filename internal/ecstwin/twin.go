// Package ecstwin is a local stand-in for the parts of the ECS, CloudWatch
// Logs and CloudWatch APIs that target/ecs calls. Its tasks are real
// valkey-server processes (target/local) sharing one data directory, as the
// tasks of the production service share one EFS access point, and a small
// service scheduler moves them through ECS's lifecycle: replacements after a
// provisioning delay, deployments that honour minimumHealthyPercent and
// maximumPercent, stopTimeout, stop codes, awslogs stream names.
//
// The real AWS SDK clients talk to it unchanged (AWS_ENDPOINT_URL); it
// ignores signatures. Tests use it to exercise the ECS path end to end, and
// `valkey-chaos twin` runs it for rehearsals.
//
// As on Fargate (docs/ecs.md names the sources): each awsvpc task has its
// own private IP (a loopback address 127.0.0.x here) and listens on the
// container port, with no networkBindings; tasks log in UTC; log events
// become visible in batches (the awslogs driver's 5 s), stamped with the
// time the driver read the line; the container health check really runs;
// maximumPercent limits tasks in PENDING or RUNNING, so a stopping task
// does not hold the replacement back; the service emits events, a
// deployment circuit breaker fails a crash-looping rollout, and relaunches
// of failing tasks are throttled.
//
// With Config.TaskContainer the tasks run the task definition's container
// as ECS does (container.go): its secrets resolved into the environment at
// task start, from Config.SecretValues (ARN -> secret string, the stand-in
// for the unreachable Secrets Manager), and its command run, so ACL users
// and TLS come from the module's own start-up script.
//
// Twin-only options, which real ECS does not have: Config.HostPortBinding
// (every task on 127.0.0.1 with its own port, reported as a network
// binding), Config.CapacityRule "not-stopped" (every task not yet STOPPED
// counts against maximumPercent), Config.HealthyAfter (without a health
// check, how long a RUNNING task waits before a deployment counts it).
package ecstwin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin/healthcheck"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// Config describes the one cluster, service and task definition the twin
// serves. Zero values take the defaults in the comments.
type Config struct {
	Listen  string // host:port for the API; default 127.0.0.1:0
	Region  string // default us-east-1
	Account string // default 123456789012

	// TaskMemory is the task definition's memory (MiB): each task's server
	// runs under that hard limit (a memory cgroup), as Fargate enforces it,
	// and an OOM kill is reported as ECS reports one. 0: no limit.
	TaskMemory int64

	Cluster   string // default "chaos"
	Service   string // default "valkey"
	Family    string // task definition family; default Service
	Container string // container name; default "valkey"
	// LogGroup and StreamPrefix are the awslogs options; defaults
	// "/ecs/<service>" and "valkey".
	LogGroup     string
	StreamPrefix string

	ServerBin string   // valkey-server (default) or another, name or path
	Save      string   // the task definition's --save rules; default savepolicy.Default
	ExtraArgs []string // appended to every task's server command line
	// TaskContainer, when set, is the task definition's Valkey container
	// (command, environment, secrets), run as ECS runs it: ACL users and
	// TLS come from there (container.go). SecretValues stands in for
	// Secrets Manager: secret ARN -> SecretString.
	TaskContainer *ContainerDefinition
	SecretValues  map[string]string
	// Security's Client is how the twin itself checks that a task's server
	// accepts. Without a TaskContainer, its Users and TLS start every
	// task's server with ACL users and TLS directly (the older, twin-only
	// way; TaskContainer is how the module does it).
	Security local.Security

	// DataDir is shared by every task (the EFS access point). Default
	// WorkDir/data.
	DataDir string
	// WorkDir holds per-task server logs (the awslogs streams). Default a
	// temp dir, removed on Close.
	WorkDir string

	// ProvisionDelay is createdAt to startedAt of a new task (PROVISIONING,
	// PENDING with the image pull, then RUNNING). Default 1 s.
	ProvisionDelay time.Duration
	// DeprovisionDelay is container exit to STOPPED (ENI detach). Default 100 ms.
	DeprovisionDelay time.Duration
	// HealthyAfter, without a HealthCheck, is how long a task must be
	// RUNNING before a deployment counts it and may stop an old task
	// (ECS counts a RUNNING task at once: default 0). Twin-only.
	HealthyAfter time.Duration
	// HealthCheck is the container definition's healthCheck, run for real
	// against each task's server; nil: none (healthStatus UNKNOWN). With
	// one, a deployment counts a task only once HEALTHY, and an UNHEALTHY
	// task is stopped and replaced.
	HealthCheck *healthcheck.Spec
	// Port is the container port every task's server listens on at its
	// own loopback address (default 6379).
	Port int
	// HostPortBinding (twin-only) runs every task on 127.0.0.1 with a free
	// port of its own, reported as the container's networkBindings hostPort.
	HostPortBinding bool
	// CapacityRule is how maximumPercent counts tasks: CapacityAWS (the
	// default: tasks PENDING or RUNNING, as AWS documents it) or
	// CapacityNotStopped (every task not yet STOPPED; stricter).
	CapacityRule string
	// WriterLock runs each task's server under the module's single-writer
	// guard (an exclusive flock on <data dir>/.valkey-writer.lock, held by
	// the server and its save child, waited for up to LockWait, default
	// StopTimeout + 30 s).
	WriterLock bool
	LockWait   time.Duration
	// LogBatch is how long a log line waits before CloudWatch shows it (the
	// awslogs driver flushes every 5 s: the default); negative: at once.
	LogBatch time.Duration
	// WholeSecondExecutionStop reports executionStoppedAt truncated to the
	// second, as Fargate often does.
	WholeSecondExecutionStop bool
	// CircuitBreaker is the deployment circuit breaker (enable, no
	// rollback): a rollout whose tasks fail 3 times becomes FAILED.
	CircuitBreaker bool
	// RelaunchBackoff throttles replacements of tasks that keep failing:
	// after the second consecutive failure each relaunch waits this long,
	// doubling, up to RelaunchBackoffMax. Defaults 5 s and 15 min.
	RelaunchBackoff, RelaunchBackoffMax time.Duration
	// StopTimeout is the container's stopTimeout: SIGTERM, then SIGKILL of
	// the process group. Whole seconds on the wire. Default 30 s.
	StopTimeout time.Duration
	// Deployment is the service's deployment configuration; the zero value
	// means ECS's defaults, minimumHealthyPercent 100 and maximumPercent 200.
	Deployment DeploymentConfig

	Tags   map[string]string // service tags, e.g. {"valkey-chaos": "allowed"}
	Alarms map[string]string // CloudWatch alarm name -> state (OK, ALARM, INSUFFICIENT_DATA)
}

// Twin is a running stand-in: an HTTP endpoint plus the service's tasks.
type Twin struct {
	cfg         Config
	bin         string
	ownsWorkDir bool
	ln          net.Listener
	http        *http.Server
	url         string
	done        chan struct{}
	wake        chan struct{}
	wg          sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	created     time.Time
	deploy      DeploymentConfig
	deployments []*deployment // [0] is PRIMARY
	tasks       []*task
	tags        map[string]string
	alarms      map[string]*alarm
	calls       []Call
	failRules   []*failRule
	metrics     []Metric
	events      []serviceEvent // newest first, as DescribeServices lists them
	steady      bool           // the last event said "steady state"
	failStreak  int            // consecutive task failures, for relaunch throttling
	nextLaunch  time.Time      // throttled: no launch before this
}

type alarm struct {
	state, reason string
	updated       time.Time
}

// Start serves the API and launches the service's first task, returning
// once that task's server accepts connections.
func Start(ctx context.Context, cfg Config) (*Twin, error) {
	if err := applyDefaults(&cfg); err != nil {
		return nil, err
	}
	bin, err := local.ResolveBin(cfg.ServerBin)
	if err != nil {
		return nil, err
	}
	if _, err := savepolicy.Parse(cfg.Save); err != nil {
		return nil, fmt.Errorf("%w: twin --save %q: %w", result.ErrBadInput, cfg.Save, err)
	}
	tw := &Twin{
		cfg:     cfg,
		bin:     bin,
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
		created: time.Now(),
		deploy:  cfg.Deployment,
		tags:    maps.Clone(cfg.Tags),
		alarms:  map[string]*alarm{},
	}
	if tw.tags == nil {
		tw.tags = map[string]string{}
	}
	for name, state := range cfg.Alarms {
		tw.alarms[name] = &alarm{state: state, reason: "set when the twin started", updated: tw.created}
	}
	if tw.cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "valkey-chaos-twin-")
		if err != nil {
			return nil, fmt.Errorf("create twin work dir: %w", err)
		}
		tw.cfg.WorkDir, tw.ownsWorkDir = dir, true
	}
	if tw.cfg.DataDir == "" {
		tw.cfg.DataDir = filepath.Join(tw.cfg.WorkDir, "data")
	}
	for _, dir := range []string{tw.cfg.DataDir, tw.logDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tw.removeWorkDir()
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		tw.removeWorkDir()
		return nil, fmt.Errorf("%w: twin cannot listen on %s (%v): pick a free address with --listen", result.ErrBadInput, cfg.Listen, err)
	}
	tw.ln = ln
	tw.url = "http://" + ln.Addr().String()
	tw.http = &http.Server{Handler: tw, ReadHeaderTimeout: 10 * time.Second}
	tw.deployments = []*deployment{newDeployment(tw.created)}

	tw.wg.Add(2)
	go func() {
		defer tw.wg.Done()
		if err := tw.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "ecstwin: serve:", err)
		}
	}()
	go tw.schedule()

	if err := tw.waitFirstTask(ctx); err != nil {
		tw.Close()
		return nil, err
	}
	return tw, nil
}

func applyDefaults(cfg *Config) error {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Listen, "127.0.0.1:0")
	def(&cfg.Region, "us-east-1")
	def(&cfg.Account, "123456789012")
	def(&cfg.Cluster, "chaos")
	def(&cfg.Service, "valkey")
	def(&cfg.Family, cfg.Service)
	def(&cfg.Container, "valkey")
	def(&cfg.LogGroup, "/ecs/"+cfg.Service)
	def(&cfg.StreamPrefix, "valkey")
	if cfg.TaskContainer != nil {
		cd := *cfg.TaskContainer // defaults filled in the twin's copy
		cfg.TaskContainer = &cd
		if err := cd.validate(cfg); err != nil {
			return err
		}
	}
	def(&cfg.Save, savepolicy.Default)
	if cfg.ProvisionDelay == 0 {
		cfg.ProvisionDelay = time.Second
	}
	if cfg.DeprovisionDelay == 0 {
		cfg.DeprovisionDelay = 100 * time.Millisecond
	}
	if cfg.Port == 0 {
		cfg.Port = containerPort
	}
	if cfg.LogBatch == 0 {
		cfg.LogBatch = 5 * time.Second
	}
	if cfg.RelaunchBackoff == 0 {
		cfg.RelaunchBackoff = 5 * time.Second
	}
	if cfg.RelaunchBackoffMax == 0 {
		cfg.RelaunchBackoffMax = 15 * time.Minute
	}
	switch cfg.CapacityRule {
	case "":
		cfg.CapacityRule = CapacityAWS
	case CapacityAWS, CapacityNotStopped:
	default:
		return fmt.Errorf("%w: capacity rule %q: use %s or %s", result.ErrBadInput, cfg.CapacityRule, CapacityAWS, CapacityNotStopped)
	}
	if cfg.HealthCheck != nil {
		if err := cfg.HealthCheck.Validate(); err != nil {
			return fmt.Errorf("%w: %w", result.ErrBadInput, err)
		}
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = local.DefaultStopTimeout
	}
	if cfg.StopTimeout%time.Second != 0 || cfg.StopTimeout > 120*time.Second {
		return fmt.Errorf("%w: stop timeout %v must be whole seconds, at most 120 s (the Fargate maximum)", result.ErrBadInput, cfg.StopTimeout)
	}
	if cfg.LockWait == 0 {
		cfg.LockWait = cfg.StopTimeout + 30*time.Second
	}
	if cfg.Deployment == (DeploymentConfig{}) {
		cfg.Deployment = DeploymentConfig{MinimumHealthyPercent: 100, MaximumPercent: 200}
	}
	return cfg.Deployment.validate()
}

// waitFirstTask blocks until the service's first task accepts connections.
func (tw *Twin) waitFirstTask(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, tw.cfg.ProvisionDelay+time.Minute)
	defer cancel()
	for {
		tw.mu.Lock()
		var srv *local.Server
		var failed string
		for _, t := range tw.tasks {
			if t.srv != nil && t.lastStatus == statusRunning {
				srv = t.srv
			}
			if t.lastStatus == statusStopped {
				failed = t.stoppedReason
			}
		}
		tw.mu.Unlock()
		if srv != nil {
			return srv.WaitAccepting(ctx, time.Minute)
		}
		if failed != "" {
			return fmt.Errorf("twin's first task failed to start: %s", failed)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("twin's first task did not start: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// URL is the endpoint to give the SDK (AWS_ENDPOINT_URL).
func (tw *Twin) URL() string { return tw.url }

// DataDir is the directory every task uses as --dir.
func (tw *Twin) DataDir() string { return tw.cfg.DataDir }

// Cluster and Service name what the twin serves.
func (tw *Twin) Cluster() string { return tw.cfg.Cluster }

// Service is the service's name.
func (tw *Twin) Service() string { return tw.cfg.Service }

// Env lists the environment a client needs to reach the twin with the real
// SDK: the endpoint, dummy static credentials, the region, and no instance
// metadata lookups.
func (tw *Twin) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + tw.url,
		"AWS_ACCESS_KEY_ID=AKIAECSTWIN000000000",
		"AWS_SECRET_ACCESS_KEY=ecs-twin-dummy-secret",
		"AWS_REGION=" + tw.cfg.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetTag sets a tag on the service; an empty value removes it.
func (tw *Twin) SetTag(key, value string) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if value == "" {
		delete(tw.tags, key)
		return
	}
	tw.tags[key] = value
}

// SetAlarm creates or updates a CloudWatch alarm's state.
func (tw *Twin) SetAlarm(name, state, reason string) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.alarms[name] = &alarm{state: state, reason: reason, updated: time.Now()}
}

// SetDeployment changes the service's deploymentConfiguration, as
// UpdateService does.
func (tw *Twin) SetDeployment(d DeploymentConfig) error {
	if err := d.validate(); err != nil {
		return err
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.deploy = d
	return nil
}

// Close stops serving, SIGKILLs every task's process group and removes the
// work dir the twin created. Idempotent.
func (tw *Twin) Close() error {
	tw.mu.Lock()
	if tw.closed {
		tw.mu.Unlock()
		return nil
	}
	tw.closed = true
	var servers []*local.Server
	var checkers []*healthcheck.Checker
	var claims []*ipClaim
	for _, t := range tw.tasks {
		claims = append(claims, t.ipClaim)
		if t.srv != nil {
			servers = append(servers, t.srv)
		}
		if t.health != nil {
			checkers = append(checkers, t.health)
		}
	}
	tw.mu.Unlock()
	close(tw.done)
	for _, c := range checkers {
		c.Stop()
	}
	var errs []error
	for _, s := range servers {
		if err := s.KillGroup(); err != nil {
			errs = append(errs, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Wait(ctx); err != nil {
			errs = append(errs, fmt.Errorf("task process %d did not exit: %w", s.PID(), err))
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tw.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stop twin http server: %w", err))
	}
	tw.wg.Wait()
	for _, c := range claims {
		c.release()
	}
	if err := tw.removeWorkDir(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (tw *Twin) removeWorkDir() error {
	if !tw.ownsWorkDir {
		return nil
	}
	if err := os.RemoveAll(tw.cfg.WorkDir); err != nil {
		return fmt.Errorf("remove twin work dir: %w", err)
	}
	return nil
}

func (tw *Twin) logDir() string { return filepath.Join(tw.cfg.WorkDir, "logs") }

func (tw *Twin) sortedTags() [][2]string {
	keys := slices.Sorted(maps.Keys(tw.tags))
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, [2]string{k, tw.tags[k]})
	}
	return out
}

func (tw *Twin) sortedAlarmNames() []string {
	names := make([]string, 0, len(tw.alarms))
	for n := range tw.alarms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TaskStoppedAt is a task's stoppedAt once it is STOPPED, for tests that
// compare a target's view with the twin's own.
func (tw *Twin) TaskStoppedAt(ref string) (time.Time, bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	t := tw.findTaskLocked(ref)
	if t == nil || t.lastStatus != statusStopped {
		return time.Time{}, false
	}
	return t.stoppedAt, true
}
