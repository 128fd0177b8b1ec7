// Package ecs faults the Valkey task of a real ECS service through the AWS
// SDK: StopTask (SIGTERM, final save, SIGKILL after the container's
// stopTimeout), SHUTDOWN NOSAVE over the Valkey connection (ECS has no call
// that SIGKILLs a container; SHUTDOWN NOSAVE has a crash's loss semantics),
// or a forced deployment (UpdateService forceNewDeployment). The service
// scheduler brings up the replacement; the recovery timeline comes from the
// task timestamps and the awslogs stream, and the runner's probe times the
// rest. It returns the same report types as target/local, so results never
// depend on where a run happened.
//
// Guardrails: a service without the tag valkey-chaos=allowed is refused
// unless Config.AllowUntagged; one task, of the named cluster and service,
// is faulted per trial; named CloudWatch alarms are checked before each
// fault; Config.DryRun prints every state-changing call instead of making it.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// The opt-in tag a service must carry before the harness faults it.
const (
	AllowTagKey   = "valkey-chaos"
	AllowTagValue = "allowed"
)

// DefaultStopTimeout is what ECS uses when the container definition sets no
// stopTimeout.
const DefaultStopTimeout = 30 * time.Second

// ErrAlarm marks a run stopped by a stop-condition alarm in ALARM before a
// fault was injected; it is target.ErrStopCondition, which the runner knows.
var ErrAlarm = target.ErrStopCondition

// Config selects the service and how the target behaves.
type Config struct {
	// Conn is how the target's own connections to Valkey (PING, INFO,
	// CONFIG GET, SHUTDOWN NOSAVE) authenticate and encrypt.
	Conn             valkeyconn.Settings
	Cluster, Service string // names or ARNs
	Region, Profile  string // empty: the SDK's default chain
	// Endpoint overrides host:port of Valkey, e.g. a service discovery
	// name, so a run includes DNS propagation. Default: the task's private
	// IP and Port.
	Endpoint string
	Port     int // Valkey's container port; default 6379

	AllowUntagged bool
	// DryRun prints each state-changing call (operation and input JSON)
	// to Out and makes none; read-only calls still run.
	DryRun bool
	// AlarmNames are CloudWatch alarms checked before each fault; one in
	// ALARM aborts the run (ErrAlarm).
	AlarmNames []string
	Out        io.Writer // dry-run lines and notices; default os.Stderr

	PollEvery time.Duration // DescribeTasks polling; default 1 s
	// FastPoll is the polling while a replacement task exists but is not
	// yet RUNNING, so its start is seen promptly (and its port is dialled
	// between polls); default min(PollEvery, 200 ms).
	FastPoll time.Duration
	// LogWait bounds how long ServerLog waits for the replacement's
	// "Ready to accept connections" (and, after a load, "DB loaded from
	// disk") to reach CloudWatch: the awslogs driver ships every 5 s.
	// Default 30 s.
	LogWait time.Duration
	// Timeout bounds each wait on ECS: the service settling, a task
	// stopping (on top of its stopTimeout), a replacement reaching RUNNING.
	// Default 15 min.
	Timeout time.Duration
	// RetryMaxAttempts and RetryMaxBackoff tune the SDK retryer, which
	// retries throttling with exponential backoff; defaults 10 and 20 s.
	RetryMaxAttempts int
	RetryMaxBackoff  time.Duration
}

// Target drives one ECS service. Not safe for concurrent use: the runner
// calls it from one goroutine.
type Target struct {
	cfg  Config
	aws  aws.Config
	ecs  *awsecs.Client
	logs *cloudwatchlogs.Client
	cw   *cloudwatch.Client

	serviceARN      string
	def             taskDef
	version         string
	alarmsChecked   bool
	logNotice       bool
	specNoticed     bool
	untaggedNoticed bool

	// One trial.
	label      string
	cur        taskView // the running task: the one Start found, the replacement after Recover
	addr       string
	old        taskView           // the faulted task, after Inject
	gone       target.FaultReport // the old container's exit bracket
	exits      exitWatch
	faulted    bool
	issuedAt   time.Time
	trialTasks []taskView
	closed     bool
}

type taskDef struct {
	arn, container string
	stopTimeout    time.Duration
	logDriver      string
	logGroup       string
	logPrefix      string
}

// New loads AWS configuration and credentials; it makes no ECS call yet.
func New(ctx context.Context, cfg Config) (*Target, error) {
	if cfg.Cluster == "" || cfg.Service == "" {
		return nil, fmt.Errorf("%w: the ECS target needs --cluster and --service", result.ErrBadInput)
	}
	// ListTasks filters by service name and task groups carry the name, so
	// a service ARN is reduced to its name; a cluster may stay an ARN.
	if strings.HasPrefix(cfg.Service, "arn:") {
		cfg.Service = cfg.Service[strings.LastIndexByte(cfg.Service, '/')+1:]
	}
	if cfg.Port == 0 {
		cfg.Port = 6379
	}
	if cfg.Out == nil {
		cfg.Out = os.Stderr
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.FastPoll <= 0 {
		cfg.FastPoll = min(cfg.PollEvery, 200*time.Millisecond)
	}
	if cfg.LogWait <= 0 {
		cfg.LogWait = 30 * time.Second
	}
	awsCfg, err := LoadAWSConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Region = awsCfg.Region
	return &Target{
		cfg:  cfg,
		aws:  awsCfg,
		ecs:  awsecs.NewFromConfig(awsCfg),
		logs: cloudwatchlogs.NewFromConfig(awsCfg),
		cw:   cloudwatch.NewFromConfig(awsCfg),
	}, nil
}

// probe is the raw RESP probe with the configured connection settings.
func (t *Target) probe() probe.Client { return probe.Client{Conn: t.cfg.Conn} }

// AWSConfig is the resolved SDK configuration, e.g. for PublishMetrics.
func (t *Target) AWSConfig() aws.Config { return t.aws }

// StopTimeout is the container's stopTimeout, known after Start.
func (t *Target) StopTimeout() time.Duration { return t.def.stopTimeout }

// DryRun reports whether state-changing calls are printed instead of made;
// the runner then walks the trials without load or fault.
func (t *Target) DryRun() bool { return t.cfg.DryRun }

// Version is the server version found by Start.
func (t *Target) Version() string { return t.version }

// Start checks the guardrails, waits for the service to run exactly one
// task, and returns that task ready to serve. The task definition decides
// the save rules: spec.Save and spec.ExtraArgs cannot change a deployed
// task, so a differing spec.Save only draws a notice.
func (t *Target) Start(ctx context.Context, spec target.StartSpec) (target.Instance, error) {
	if t.closed {
		return target.Instance{}, errors.New("ecs target: Start after Close")
	}
	if t.cur.arn != "" {
		return target.Instance{}, errors.New("ecs target: Start called while a trial is running; call Finish first")
	}
	if err := t.checkService(ctx); err != nil {
		return target.Instance{}, err
	}
	if !t.alarmsChecked {
		if err := t.checkAlarms(ctx, true); err != nil {
			return target.Instance{}, err
		}
		t.alarmsChecked = true
	}
	task, err := t.settled(ctx)
	if err != nil {
		return target.Instance{}, err
	}
	if err := t.loadTaskDefinition(ctx, task.taskDefinitionARN); err != nil {
		return target.Instance{}, err
	}
	task, err = t.describeTask(ctx, task.arn) // again, now that the container name is known
	if err != nil {
		return target.Instance{}, err
	}
	addr, err := t.endpoint(task)
	if err != nil {
		return target.Instance{}, err
	}
	if err := t.reachable(ctx, addr, task); err != nil {
		return target.Instance{}, err
	}
	if t.version == "" {
		t.version = serverVersion(ctx, t.probe(), addr)
	}
	t.noticeSaveRules(ctx, addr, task, spec.Save)
	t.noticeFixedByECS(spec)
	t.label = spec.Label
	if t.label == "" {
		t.label = "trial"
	}
	t.cur, t.addr, t.old, t.faulted, t.issuedAt, t.gone = task, addr, taskView{}, false, time.Time{}, target.FaultReport{}
	t.trialTasks = []taskView{task}
	return t.instance(task, addr), nil
}

func (t *Target) instance(v taskView, addr string) target.Instance {
	return target.Instance{Addr: addr, ID: v.arn, StartedAt: v.startedAt, ServerVersion: t.version}
}

// checkService finds the service and applies the tag guardrail.
func (t *Target) checkService(ctx context.Context) error {
	out, err := t.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{
		Cluster:  aws.String(t.cfg.Cluster),
		Services: []string{t.cfg.Service},
		Include:  []types.ServiceField{types.ServiceFieldTags},
	})
	if err != nil {
		return t.explain("ecs:DescribeServices", err)
	}
	if len(out.Services) == 0 || aws.ToString(out.Services[0].Status) != "ACTIVE" {
		return fmt.Errorf("%w: ECS service %q not found (or not active) in cluster %q in %s: check --service, --cluster and --region", result.ErrBadInput, t.cfg.Service, t.cfg.Cluster, t.cfg.Region)
	}
	svc := out.Services[0]
	t.serviceARN = aws.ToString(svc.ServiceArn)
	tags := svc.Tags
	if len(tags) == 0 {
		// DescribeServices returns tags only with the new ARN format and
		// the right permissions; ask the tagging API to be sure.
		lt, err := t.ecs.ListTagsForResource(ctx, &awsecs.ListTagsForResourceInput{ResourceArn: aws.String(t.serviceARN)})
		if err != nil {
			return t.explain("ecs:ListTagsForResource", err)
		}
		tags = lt.Tags
	}
	if !hasAllowTag(tags) {
		if !t.cfg.AllowUntagged {
			return fmt.Errorf("%w: service %s in cluster %s lacks the tag %s=%s, so valkey-chaos will not fault it: tag it (aws ecs tag-resource --resource-arn %s --tags key=%s,value=%s, or chaos_opt_in = true in terraform/modules/valkey) or pass --allow-untagged",
				result.ErrBadInput, t.cfg.Service, t.cfg.Cluster, AllowTagKey, AllowTagValue, t.serviceARN, AllowTagKey, AllowTagValue)
		}
		if !t.untaggedNoticed {
			t.notice("service %s lacks the tag %s=%s; going ahead because of --allow-untagged", t.cfg.Service, AllowTagKey, AllowTagValue)
			t.untaggedNoticed = true
		}
	}
	if svc.DesiredCount != 1 {
		return fmt.Errorf("%w: service %s has desiredCount %d: valkey-chaos faults a single-task cache service (desiredCount 1)", result.ErrBadInput, t.cfg.Service, svc.DesiredCount)
	}
	return nil
}

func hasAllowTag(tags []types.Tag) bool {
	for _, tag := range tags {
		if aws.ToString(tag.Key) == AllowTagKey && aws.ToString(tag.Value) == AllowTagValue {
			return true
		}
	}
	return false
}

// settled waits until the service runs exactly one task, RUNNING, with no
// deployment in progress: the previous trial's old task must be gone
// before this trial measures anything.
func (t *Target) settled(ctx context.Context) (taskView, error) {
	var found taskView
	var state string
	noticed := false
	err := t.poll(ctx, t.cfg.Timeout, func(ctx context.Context) (bool, error) {
		active, err := t.serviceTasks(ctx, types.DesiredStatusRunning)
		if err != nil {
			return false, err
		}
		stopping, err := t.serviceTasks(ctx, types.DesiredStatusStopped)
		if err != nil {
			return false, err
		}
		var draining int
		for _, v := range stopping {
			if !v.stopped() {
				draining++
			}
		}
		state = fmt.Sprintf("%d task(s) desired RUNNING, %d still stopping", len(active), draining)
		if len(active) == 1 && active[0].running() && draining == 0 {
			found = active[0]
			return true, nil
		}
		if !noticed {
			t.notice("waiting for service %s to settle to one RUNNING task (%s)", t.cfg.Service, state)
			noticed = true
		}
		return false, nil
	})
	if errors.Is(err, errGaveUp) {
		return taskView{}, fmt.Errorf("service %s did not settle to one RUNNING task within %v (%s): a deployment or a crash loop in progress? check the service's events", t.cfg.Service, t.cfg.Timeout, state)
	}
	if err != nil {
		return taskView{}, err
	}
	if want := "service:" + t.cfg.Service; found.group != want {
		return taskView{}, fmt.Errorf("task %s belongs to group %q, not %q: refusing to touch it", found.id, found.group, want)
	}
	return found, nil
}

func (t *Target) loadTaskDefinition(ctx context.Context, arn string) error {
	if t.def.arn == arn {
		return nil
	}
	out, err := t.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return t.explain("ecs:DescribeTaskDefinition", err)
	}
	cd, err := valkeyContainer(out.TaskDefinition.ContainerDefinitions, int32(t.cfg.Port))
	if err != nil {
		return fmt.Errorf("task definition %s: %w", arn, err)
	}
	def := taskDef{arn: arn, container: aws.ToString(cd.Name), stopTimeout: DefaultStopTimeout}
	if cd.StopTimeout != nil {
		def.stopTimeout = time.Duration(*cd.StopTimeout) * time.Second
	}
	if lc := cd.LogConfiguration; lc != nil {
		def.logDriver = string(lc.LogDriver)
		def.logGroup = lc.Options["awslogs-group"]
		def.logPrefix = lc.Options["awslogs-stream-prefix"]
	}
	t.def = def
	return nil
}

// valkeyContainer picks the container that maps the Valkey port, else the
// only essential one.
func valkeyContainer(defs []types.ContainerDefinition, port int32) (types.ContainerDefinition, error) {
	var essential []types.ContainerDefinition
	for _, cd := range defs {
		for _, pm := range cd.PortMappings {
			if aws.ToInt32(pm.ContainerPort) == port {
				return cd, nil
			}
		}
		if cd.Essential == nil || *cd.Essential {
			essential = append(essential, cd)
		}
	}
	if len(essential) == 1 {
		return essential[0], nil
	}
	return types.ContainerDefinition{}, fmt.Errorf("%w: no container maps port %d and %d are essential: pass the container's port with --port", result.ErrBadInput, port, len(essential))
}

// reachable waits for the server to answer at all (LOADING counts).
func (t *Target) reachable(ctx context.Context, addr string, v taskView) error {
	limit := min(t.cfg.Timeout, 2*time.Minute)
	var last error
	err := t.poll(ctx, limit, func(ctx context.Context) (bool, error) {
		_, last = t.probe().Do(ctx, addr, 2*time.Second, "PING")
		// Wrong credentials or TLS settings never get better: one line
		// naming the flag, before any trial (exit 2).
		if rejected := t.cfg.Conn.Explain(addr, last); errors.Is(rejected, valkeyconn.ErrRejected) {
			return false, fmt.Errorf("%w: %w", result.ErrBadInput, rejected)
		}
		return last == nil, nil
	})
	if err != nil && !errors.Is(err, errGaveUp) {
		return err
	}
	if err != nil {
		return fmt.Errorf("cannot reach Valkey of task %s at %s within %v (%v): run the harness inside the VPC (a bastion or the scheduled task) with the Valkey security group open to it, or pass --endpoint", v.id, addr, limit, last)
	}
	return nil
}

// serverVersion asks INFO server, e.g. "valkey 8.0.1".
func serverVersion(ctx context.Context, pr probe.Client, addr string) string {
	info, err := pr.Info(ctx, addr, "server")
	if err != nil {
		return ""
	}
	if v := info["valkey_version"]; v != "" {
		return "valkey " + v
	}
	if v := info["redis_version"]; v != "" {
		return "redis " + v
	}
	return ""
}

// Finish ends the trial. Start created nothing (the service owns its
// tasks, and the replacement is the service's next trial), so nothing is
// removed; the next Start waits for the service to settle.
func (t *Target) Finish(ctx context.Context) error {
	t.cur, t.addr, t.old, t.faulted, t.trialTasks = taskView{}, "", taskView{}, false, nil
	return ctx.Err()
}

// Close releases the target; idempotent. The SDK clients hold no resources
// beyond idle HTTP connections.
func (t *Target) Close() error {
	t.closed = true
	return nil
}

func (t *Target) notice(format string, args ...any) {
	fmt.Fprintf(t.cfg.Out, "notice: "+format+"\n", args...)
}

// errGaveUp is poll's error when its limit passed.
var errGaveUp = errors.New("gave up waiting")

// poll calls f every PollEvery until it reports done, returns an error, or
// limit passes (errGaveUp).
func (t *Target) poll(ctx context.Context, limit time.Duration, f func(context.Context) (bool, error)) error {
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		done, err := f(pctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if pctx.Err() != nil {
			return errGaveUp
		}
		if err != nil || done {
			return err
		}
		select {
		case <-pctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errGaveUp
		case <-time.After(t.cfg.PollEvery):
		}
	}
}
