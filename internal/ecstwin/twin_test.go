package ecstwin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/internal/ecstwin/ecstwintest"
	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/probe"
)

// clients are the real SDK clients pointed at a twin.
type clients struct {
	ecs  *awsecs.Client
	logs *cloudwatchlogs.Client
	cw   *cloudwatch.Client
}

func startTwin(t *testing.T, cfg ecstwin.Config) (*ecstwin.Twin, clients) {
	t.Helper()
	if cfg.ProvisionDelay == 0 {
		cfg.ProvisionDelay = 200 * time.Millisecond
	}
	if cfg.HealthyAfter == 0 {
		cfg.HealthyAfter = 300 * time.Millisecond
	}
	if cfg.Save == "" {
		cfg.Save = "3600 1"
	}
	if cfg.LogBatch == 0 {
		cfg.LogBatch = 100 * time.Millisecond
	}
	tw := ecstwintest.Start(t, cfg)
	awsCfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAECSTWIN000000000", "dummy", ""),
		BaseEndpoint: aws.String(tw.URL()),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 50 * time.Millisecond })
		},
	}
	return tw, clients{ecs: awsecs.NewFromConfig(awsCfg), logs: cloudwatchlogs.NewFromConfig(awsCfg), cw: cloudwatch.NewFromConfig(awsCfg)}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func tasks(t *testing.T, ctx context.Context, c clients, desired types.DesiredStatus) []types.Task {
	t.Helper()
	lt, err := c.ecs.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("chaos"), ServiceName: aws.String("valkey"), DesiredStatus: desired})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(lt.TaskArns) == 0 {
		return nil
	}
	dt, err := c.ecs.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String("chaos"), Tasks: lt.TaskArns})
	if err != nil {
		t.Fatalf("DescribeTasks: %v", err)
	}
	return dt.Tasks
}

func describe(t *testing.T, ctx context.Context, c clients, arn string) types.Task {
	t.Helper()
	dt, err := c.ecs.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String("chaos"), Tasks: []string{arn}})
	if err != nil || len(dt.Tasks) != 1 {
		t.Fatalf("DescribeTasks %s: %v (%d tasks)", arn, err, len(dt.Tasks))
	}
	return dt.Tasks[0]
}

// waitFor polls cond every 20 ms until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runningTask returns the service's one RUNNING task other than except.
func runningTask(t *testing.T, ctx context.Context, c clients, except string) types.Task {
	t.Helper()
	var found types.Task
	waitFor(t, "a RUNNING task", func() bool {
		for _, task := range tasks(t, ctx, c, types.DesiredStatusRunning) {
			if aws.ToString(task.LastStatus) == "RUNNING" && aws.ToString(task.TaskArn) != except {
				found = task
				return true
			}
		}
		return false
	})
	return found
}

// addr is the task's endpoint: its private IP and the container port, as
// for a real awsvpc task, or the twin-only host port binding.
func addr(task types.Task) string {
	port := int32(6379)
	if bs := task.Containers[0].NetworkBindings; len(bs) > 0 {
		port = aws.ToInt32(bs[0].HostPort)
	}
	return net.JoinHostPort(aws.ToString(task.Containers[0].NetworkInterfaces[0].PrivateIpv4Address), fmt.Sprint(port))
}

func do(t *testing.T, ctx context.Context, addr string, args ...string) probe.Reply {
	t.Helper()
	rep, err := probe.Do(ctx, addr, 5*time.Second, args...)
	if err != nil {
		t.Fatalf("%v on %s: %v", args, addr, err)
	}
	return rep
}

// waitServing waits until the server answers PING with PONG (loaded).
func waitServing(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	waitFor(t, "PONG from "+addr, func() bool {
		rep, err := probe.Do(ctx, addr, time.Second, "PING")
		return err == nil && rep.Str == "PONG"
	})
}

func waitStopped(t *testing.T, ctx context.Context, c clients, arn string) types.Task {
	t.Helper()
	var task types.Task
	waitFor(t, "task "+arn+" STOPPED", func() bool {
		task = describe(t, ctx, c, arn)
		return aws.ToString(task.LastStatus) == "STOPPED"
	})
	return task
}

func TestStopTaskReplacesTaskOnTheSameData(t *testing.T) {
	tw, c := startTwin(t, ecstwin.Config{})
	ctx := ctxT(t)
	first := runningTask(t, ctx, c, "")
	do(t, ctx, addr(first), "SET", "before-stop", "kept by the final save")

	if _, err := c.ecs.StopTask(ctx, &awsecs.StopTaskInput{Cluster: aws.String("chaos"), Task: first.TaskArn, Reason: aws.String("chaos: stop")}); err != nil {
		t.Fatalf("StopTask: %v", err)
	}
	old := waitStopped(t, ctx, c, aws.ToString(first.TaskArn))
	if old.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(old.StoppedReason) != "chaos: stop" {
		t.Errorf("stop code %q reason %q, want UserInitiated and the reason given", old.StopCode, aws.ToString(old.StoppedReason))
	}
	if code := aws.ToInt32(old.Containers[0].ExitCode); old.Containers[0].ExitCode == nil || code != 0 {
		t.Errorf("container exit code %v, want 0 after a graceful SIGTERM", old.Containers[0].ExitCode)
	}
	if s, e, st := aws.ToTime(old.StoppingAt), aws.ToTime(old.ExecutionStoppedAt), aws.ToTime(old.StoppedAt); s.After(e) || e.After(st) {
		t.Errorf("timestamps out of order: stoppingAt %v executionStoppedAt %v stoppedAt %v", s, e, st)
	}

	next := runningTask(t, ctx, c, aws.ToString(first.TaskArn))
	if addr(next) == addr(first) {
		t.Errorf("replacement listens on %s like the old task; the twin gives each task its own port", addr(next))
	}
	if c, p, s := aws.ToTime(next.CreatedAt), aws.ToTime(next.PullStartedAt), aws.ToTime(next.StartedAt); p.Before(c) || s.Before(p) || s.Sub(c) < 150*time.Millisecond {
		t.Errorf("replacement createdAt %v pullStartedAt %v startedAt %v: want ordered and the provisioning delay between", c, p, s)
	}
	waitServing(t, ctx, addr(next))
	if got := do(t, ctx, addr(next), "GET", "before-stop"); got.Str != "kept by the final save" {
		t.Errorf("replacement reads %s; the key should survive in %s/dump.rdb", got, tw.DataDir())
	}
}

func TestProcessExitStopsTaskAsEssentialContainerExited(t *testing.T) {
	_, c := startTwin(t, ecstwin.Config{})
	ctx := ctxT(t)
	first := runningTask(t, ctx, c, "")
	do(t, ctx, addr(first), "SET", "unsaved", "1")
	if _, err := probe.Do(ctx, addr(first), 5*time.Second, "SHUTDOWN", "NOSAVE"); err == nil {
		t.Fatal("SHUTDOWN NOSAVE got a reply; the server should close the connection")
	}
	old := waitStopped(t, ctx, c, aws.ToString(first.TaskArn))
	if old.StopCode != types.TaskStopCodeEssentialContainerExited {
		t.Errorf("stop code %q, want EssentialContainerExited", old.StopCode)
	}
	next := runningTask(t, ctx, c, aws.ToString(first.TaskArn))
	waitServing(t, ctx, addr(next))
	if got := do(t, ctx, addr(next), "EXISTS", "unsaved"); got.Int != 0 {
		t.Error("a key written after the last save survived SHUTDOWN NOSAVE")
	}
}

func TestForcedDeploymentHonoursDeploymentPercentages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		deploy ecstwin.DeploymentConfig
		rule   string
		// wantOverlap: the new task starts before the old container exits
		// (nil: depends on the final save against provisioning).
		wantOverlap *bool
		// earlyCreate: the replacement is created before the old task is
		// STOPPED.
		earlyCreate bool
	}{
		{"ECS defaults 100/200 start the new task first", ecstwin.DeploymentConfig{MinimumHealthyPercent: 100, MaximumPercent: 200}, "", ptr(true), true},
		{"0/100 under AWS's rule launches while the old task stops", ecstwin.DeploymentConfig{MinimumHealthyPercent: 0, MaximumPercent: 100}, ecstwin.CapacityAWS, nil, true},
		{"0/100 under the stricter rule waits for STOPPED", ecstwin.DeploymentConfig{MinimumHealthyPercent: 0, MaximumPercent: 100}, ecstwin.CapacityNotStopped, ptr(false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c := startTwin(t, ecstwin.Config{Deployment: tc.deploy, CapacityRule: tc.rule, DeprovisionDelay: 500 * time.Millisecond})
			ctx := ctxT(t)
			first := runningTask(t, ctx, c, "")
			if _, err := c.ecs.UpdateService(ctx, &awsecs.UpdateServiceInput{Cluster: aws.String("chaos"), Service: aws.String("valkey"), ForceNewDeployment: true}); err != nil {
				t.Fatalf("UpdateService: %v", err)
			}
			old := waitStopped(t, ctx, c, aws.ToString(first.TaskArn))
			if old.StopCode != types.TaskStopCodeServiceSchedulerInitiated {
				t.Errorf("old task stop code %q, want ServiceSchedulerInitiated", old.StopCode)
			}
			next := runningTask(t, ctx, c, aws.ToString(first.TaskArn))
			overlap := aws.ToTime(next.StartedAt).Before(aws.ToTime(old.ExecutionStoppedAt))
			if tc.wantOverlap != nil && overlap != *tc.wantOverlap {
				t.Errorf("new startedAt %v, old executionStoppedAt %v: overlap %v, want %v",
					aws.ToTime(next.StartedAt), aws.ToTime(old.ExecutionStoppedAt), overlap, *tc.wantOverlap)
			}
			if early := aws.ToTime(next.CreatedAt).Before(aws.ToTime(old.StoppedAt)); early != tc.earlyCreate {
				t.Errorf("new task created %v, old STOPPED %v: created first %v, want %v", aws.ToTime(next.CreatedAt), aws.ToTime(old.StoppedAt), early, tc.earlyCreate)
			}
			if a := addr(next); a == addr(first) {
				t.Errorf("the replacement has the old task's endpoint %s", a)
			}
			waitFor(t, "the deployment to complete", func() bool {
				ds, err := c.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("chaos"), Services: []string{"valkey"}})
				return err == nil && len(ds.Services[0].Deployments) == 1 && ds.Services[0].Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestTaskDefinitionAndLogStreamsLookLikeAwslogs(t *testing.T) {
	_, c := startTwin(t, ecstwin.Config{StopTimeout: 7 * time.Second})
	ctx := ctxT(t)
	task := runningTask(t, ctx, c, "")
	td, err := c.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: task.TaskDefinitionArn})
	if err != nil {
		t.Fatalf("DescribeTaskDefinition: %v", err)
	}
	cd := td.TaskDefinition.ContainerDefinitions[0]
	opts := cd.LogConfiguration.Options
	if aws.ToInt32(cd.StopTimeout) != 7 || cd.LogConfiguration.LogDriver != types.LogDriverAwslogs || opts["awslogs-group"] != "/ecs/valkey" {
		t.Fatalf("container definition: stopTimeout %d, log driver %q, options %v", aws.ToInt32(cd.StopTimeout), cd.LogConfiguration.LogDriver, opts)
	}
	id := aws.ToString(task.TaskArn)[strings.LastIndexByte(aws.ToString(task.TaskArn), '/')+1:]
	stream := opts["awslogs-stream-prefix"] + "/" + aws.ToString(cd.Name) + "/" + id

	ds, err := c.logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/ecs/valkey"), LogStreamNamePrefix: aws.String(opts["awslogs-stream-prefix"] + "/")})
	if err != nil || len(ds.LogStreams) != 1 || aws.ToString(ds.LogStreams[0].LogStreamName) != stream {
		t.Fatalf("DescribeLogStreams: %v, want the one stream %s", err, stream)
	}
	// Lines arrive in batches: wait for the ready line's.
	waitFor(t, "the ready line in CloudWatch", func() bool {
		fl, err := c.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/ecs/valkey"), FilterPattern: aws.String(`"Ready to accept"`)})
		return err == nil && len(fl.Events) == 1
	})
	// Small pages, read from the head until the forward token repeats.
	var messages []string
	var last int64
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/ecs/valkey"), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), Limit: aws.Int32(3)}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("GetLogEvents never repeated its forward token")
		}
		out, err := c.logs.GetLogEvents(ctx, in)
		if err != nil {
			t.Fatalf("GetLogEvents: %v", err)
		}
		for _, e := range out.Events {
			if aws.ToInt64(e.Timestamp) < last {
				t.Errorf("event timestamps go backwards: %d after %d", aws.ToInt64(e.Timestamp), last)
			}
			last = aws.ToInt64(e.Timestamp)
			messages = append(messages, aws.ToString(e.Message))
		}
		if aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
			break
		}
		in.NextToken = out.NextForwardToken
	}
	if len(messages) < 4 || !strings.Contains(strings.Join(messages, "\n"), "Ready to accept connections") {
		t.Errorf("read %d log lines without the server's ready line: %q", len(messages), messages)
	}
	if started := aws.ToTime(task.StartedAt).UnixMilli(); last < started-1000 || last > time.Now().UnixMilli() {
		t.Errorf("last event at %d ms, task started at %d ms: timestamps should be the lines' own", last, started)
	}
	fl, err := c.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/ecs/valkey"), FilterPattern: aws.String(`"Ready to accept"`)})
	if err != nil || len(fl.Events) != 1 || aws.ToString(fl.Events[0].LogStreamName) != stream {
		t.Errorf("FilterLogEvents \"Ready to accept\": %v, %d events; want exactly one from %s", err, len(fl.Events), stream)
	}
}

func TestCloudWatchSpeaksCBOR(t *testing.T) {
	tw, c := startTwin(t, ecstwin.Config{Alarms: map[string]string{"valkey-errors": "OK"}})
	ctx := ctxT(t)
	tw.SetAlarm("valkey-memory", "ALARM", "Threshold Crossed")
	out, err := c.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"valkey-memory", "valkey-errors", "absent"}})
	if err != nil {
		t.Fatalf("DescribeAlarms: %v", err)
	}
	got := map[string]cwtypes.StateValue{}
	for _, a := range out.MetricAlarms {
		got[aws.ToString(a.AlarmName)] = a.StateValue
		if ts := aws.ToTime(a.StateUpdatedTimestamp); time.Since(ts) > time.Minute {
			t.Errorf("alarm %s updated at %v, want about now", aws.ToString(a.AlarmName), ts)
		}
	}
	if len(got) != 2 || got["valkey-memory"] != cwtypes.StateValueAlarm || got["valkey-errors"] != cwtypes.StateValueOk {
		t.Errorf("alarms %v, want valkey-memory ALARM and valkey-errors OK", got)
	}
	at := time.UnixMilli(1764000000123)
	_, err = c.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("ValkeyChaos"), MetricData: []cwtypes.MetricDatum{{
		MetricName: aws.String("rto_s"), Value: aws.Float64(2.5), Unit: cwtypes.StandardUnitSeconds, Timestamp: aws.Time(at),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Scenario"), Value: aws.String("thresholds")}},
	}}})
	if err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
	m := tw.Metrics()
	if len(m) != 1 || m[0].Name != "rto_s" || m[0].Value != 2.5 || m[0].Dimensions["Scenario"] != "thresholds" || !m[0].Timestamp.Equal(at) {
		t.Errorf("metrics received %+v", m)
	}

	// The aws CLI (botocore) asks the same over awsJson1.0.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tw.URL()+"/", strings.NewReader(`{"AlarmNames":["valkey-memory"]}`))
	req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801.DescribeAlarms")
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("awsJson1.0 DescribeAlarms: %v", err)
	}
	defer resp.Body.Close()
	var js struct {
		MetricAlarms []struct{ AlarmName, StateValue string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&js); err != nil || len(js.MetricAlarms) != 1 || js.MetricAlarms[0].StateValue != "ALARM" {
		t.Errorf("awsJson1.0 DescribeAlarms: %v %+v, want valkey-memory in ALARM", err, js)
	}
}

func TestInjectedErrorsReachTheSDKAsAWSErrors(t *testing.T) {
	tw, c := startTwin(t, ecstwin.Config{})
	ctx := ctxT(t)
	tw.FailCalls("ListTasks", "ThrottlingException", 2)
	if _, err := c.ecs.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("chaos")}); err != nil {
		t.Fatalf("ListTasks after two throttles: %v; the SDK retryer should have retried", err)
	}
	var codes []string
	for _, call := range tw.Calls() {
		if call.Operation == "ListTasks" {
			codes = append(codes, call.Error)
		}
	}
	if strings.Join(codes, ",") != "ThrottlingException,ThrottlingException," {
		t.Errorf("ListTasks calls ended with %q, want two throttled then one success", codes)
	}

	tw.FailCalls("StopTask", "AccessDeniedException", -1)
	_, err := c.ecs.StopTask(ctx, &awsecs.StopTaskInput{Cluster: aws.String("chaos"), Task: aws.String("any")})
	var denied *types.AccessDeniedException
	if !errors.As(err, &denied) || !strings.Contains(denied.ErrorMessage(), "ecs:StopTask") {
		t.Errorf("StopTask error %v, want AccessDeniedException naming ecs:StopTask", err)
	}
	_, err = c.ecs.ListTasks(ctx, &awsecs.ListTasksInput{Cluster: aws.String("elsewhere")})
	var noCluster *types.ClusterNotFoundException
	if !errors.As(err, &noCluster) {
		t.Errorf("ListTasks on an unknown cluster: %v, want ClusterNotFoundException", err)
	}
	for _, call := range tw.Calls() {
		if !call.ReadOnly() && call.Operation != "StopTask" {
			t.Errorf("unexpected mutating call %s", call.Operation)
		}
	}
}

func TestCloseLeavesNothingRunning(t *testing.T) {
	tw, c := startTwin(t, ecstwin.Config{})
	task := runningTask(t, ctxT(t), c, "")
	a := addr(task)
	if err := tw.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on %s after Close", a)
	}
}

// The task definition's memory is enforced (a memory cgroup) and an OOM
// kill is described as ECS describes one: the container's exit code 137
// and reason OutOfMemoryError, the task's EssentialContainerExited.
func TestTaskMemoryOOMKillIsDescribedAsECSDoes(t *testing.T) {
	if _, err := memlimit.Detect(); err != nil {
		t.Skipf("no usable memory cgroup on this machine: %v", err)
	}
	_, c := startTwin(t, ecstwin.Config{TaskMemory: 64})
	ctx := ctxT(t)
	first := runningTask(t, ctx, c, "")
	if m := aws.ToString(first.Memory); m != "64" {
		t.Errorf("task memory %q, want the task definition's 64", m)
	}
	// 100 values of 1 MiB: well over the 64 MiB the task may use.
	big := strings.Repeat("x", 1<<20)
	for i := 0; i < 100; i++ {
		if _, err := probe.Do(ctx, addr(first), 5*time.Second, "SET", fmt.Sprintf("big:%d", i), big); err != nil {
			break // the kernel killed it
		}
	}
	old := waitStopped(t, ctx, c, aws.ToString(first.TaskArn))
	if old.StopCode != types.TaskStopCodeEssentialContainerExited || aws.ToString(old.StoppedReason) != "Essential container in task exited" {
		t.Errorf("stop code %q reason %q, want EssentialContainerExited / Essential container in task exited", old.StopCode, aws.ToString(old.StoppedReason))
	}
	if len(old.Containers) == 0 {
		t.Fatal("no container described")
	}
	ct := old.Containers[0]
	if ct.ExitCode == nil || *ct.ExitCode != 137 || aws.ToString(ct.Reason) != "OutOfMemoryError: Container killed due to memory usage" {
		t.Errorf("container exit %v reason %q, want 137 and OutOfMemoryError: Container killed due to memory usage", ct.ExitCode, aws.ToString(ct.Reason))
	}
}
