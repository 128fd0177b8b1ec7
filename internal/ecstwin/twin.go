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
// Twin-only conventions, which real ECS does not share:
//   - every task's private IP is 127.0.0.1 and each task listens on its own
//     free port, reported as containers[].networkBindings[].hostPort for
//     containerPort 6379, so the endpoint changes across tasks as a real
//     replacement's IP does;
//   - a task counts as healthy for deployments once it answers PING with PONG
//     and has been RUNNING for Config.HealthyAfter;
//   - every task not yet STOPPED counts against maximumPercent.
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
	// HealthyAfter is how long a task must be RUNNING, and answering PONG,
	// before a deployment counts it healthy and may stop an old task. Default 1 s.
	HealthyAfter time.Duration
	// StopTimeout is the container's stopTimeout: SIGTERM, then SIGKILL of
	// the process group. Whole seconds on the wire. Default 30 s.
	StopTimeout time.Duration
	// Deployment is the service's deployment configuration; the zero value
	// means ECS's defaults, minimumHealthyPercent 100 and maximumPercent 200.
	Deployment DeploymentConfig

	Tags   map[string]string // service tags, e.g. {"valkey-chaos": "allowed"}
	Alarms map[string]string // CloudWatch alarm name -> state (OK, ALARM, INSUFFICIENT_DATA)
}

// DeploymentConfig is the service's deploymentConfiguration.
type DeploymentConfig struct {
	MinimumHealthyPercent int
	MaximumPercent        int
}

func (c DeploymentConfig) validate() error {
	if c.MinimumHealthyPercent < 0 || c.MinimumHealthyPercent > 100 {
		return fmt.Errorf("%w: minimumHealthyPercent %d is outside 0..100", result.ErrBadInput, c.MinimumHealthyPercent)
	}
	if c.MaximumPercent < 100 || c.MaximumPercent > 200 {
		return fmt.Errorf("%w: maximumPercent %d is outside 100..200 (a single-task service needs at least 100)", result.ErrBadInput, c.MaximumPercent)
	}
	return nil
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
		return nil, fmt.Errorf("%w: twin --save %q: %v", result.ErrBadInput, cfg.Save, err)
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
	def(&cfg.Save, savepolicy.Default)
	if cfg.ProvisionDelay == 0 {
		cfg.ProvisionDelay = time.Second
	}
	if cfg.DeprovisionDelay == 0 {
		cfg.DeprovisionDelay = 100 * time.Millisecond
	}
	if cfg.HealthyAfter == 0 {
		cfg.HealthyAfter = time.Second
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = local.DefaultStopTimeout
	}
	if cfg.StopTimeout%time.Second != 0 || cfg.StopTimeout > 120*time.Second {
		return fmt.Errorf("%w: stop timeout %v must be whole seconds, at most 120 s (the Fargate maximum)", result.ErrBadInput, cfg.StopTimeout)
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

// FailCalls makes the next n calls of operation (any operation when empty)
// fail with the AWS error code, e.g. ThrottlingException or
// AccessDeniedException; n < 0 fails every such call from now on.
func (tw *Twin) FailCalls(operation, code string, n int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.failRules = append(tw.failRules, &failRule{op: operation, code: code, remaining: n})
}

// Call is one API request the twin received.
type Call struct {
	At        time.Time `json:"at"`
	Service   string    `json:"service"` // ecs, logs, cloudwatch
	Operation string    `json:"operation"`
	Input     string    `json:"input"`           // request body as JSON (CBOR converted)
	Error     string    `json:"error,omitempty"` // error code returned, "" on success
}

// ReadOnly reports whether the operation only reads state
// (Describe*, List*, Get*, Filter*).
func (c Call) ReadOnly() bool {
	for _, p := range []string{"Describe", "List", "Get", "Filter"} {
		if len(c.Operation) >= len(p) && c.Operation[:len(p)] == p {
			return true
		}
	}
	return false
}

// Calls returns every request received so far, in arrival order.
func (tw *Twin) Calls() []Call {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return slices.Clone(tw.calls)
}

// Metric is one datum received by PutMetricData.
type Metric struct {
	Namespace  string
	Name       string
	Dimensions map[string]string
	Value      float64
	Unit       string
	Timestamp  time.Time
}

// Metrics returns every datum published so far.
func (tw *Twin) Metrics() []Metric {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return slices.Clone(tw.metrics)
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
	for _, t := range tw.tasks {
		if t.srv != nil {
			servers = append(servers, t.srv)
		}
	}
	tw.mu.Unlock()
	close(tw.done)
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
