package ecstwin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/internal/ecstwin/healthcheck"
	"github.com/trigpointing/valkey-chaos/probe"
)

// A line becomes visible only when its batch is published: its ingestion
// time lies between the last read that missed it and the first that saw
// it, no batch is published before one interval after the stream began,
// and its timestamp is when the driver read it (not a parse of the line),
// so its zone comes out as the task's: UTC.
func TestLogsArriveInBatches(t *testing.T) {
	const batch = 700 * time.Millisecond
	_, c := startTwin(t, ecstwin.Config{LogBatch: batch})
	ctx := ctxT(t)
	task := runningTask(t, ctx, c, "")
	id := aws.ToString(task.TaskArn)[strings.LastIndexByte(aws.ToString(task.TaskArn), '/')+1:]
	in := &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/ecs/valkey"), LogStreamName: aws.String("valkey/valkey/" + id), StartFromHead: aws.Bool(true)}
	var missedAt, sawAt time.Time
	var ready *cloudwatchlogs.GetLogEventsOutput
	waitFor(t, "the ready line", func() bool {
		before := time.Now()
		out, err := c.logs.GetLogEvents(ctx, in)
		if err != nil {
			return false
		}
		for _, e := range out.Events {
			if strings.Contains(aws.ToString(e.Message), "Ready to accept connections") {
				sawAt, ready = time.Now(), out
				return true
			}
		}
		missedAt = before
		return false
	})
	for _, e := range ready.Events {
		text := aws.ToString(e.Message)
		ingested := time.UnixMilli(aws.ToInt64(e.IngestionTime))
		stamped := time.UnixMilli(aws.ToInt64(e.Timestamp))
		if ingested.Before(stamped) || ingested.Before(aws.ToTime(task.StartedAt).Add(batch).Truncate(time.Millisecond)) {
			t.Errorf("%q ingested %v, stamped %v, stream began %v: published before its batch", text, ingested, stamped, aws.ToTime(task.StartedAt))
		}
		if !strings.Contains(text, "Ready to accept") {
			continue
		}
		if !missedAt.IsZero() && ingested.Before(missedAt.Truncate(time.Millisecond)) {
			t.Errorf("ready line ingested %v, before a read at %v that did not see it", ingested, missedAt)
		}
		if ingested.After(sawAt) {
			t.Errorf("ready line ingested %v, after the read at %v that saw it", ingested, sawAt)
		}
		zone, ok := probe.ZoneOfEvent(text, stamped)
		ev, _ := probe.ParseLogLine(text, zone)
		if !ok || zone != time.UTC || ev.Time.After(stamped) {
			t.Errorf("ready line zone %v (ok %v), time %v after its stamp %v", zone, ok, ev.Time, stamped)
		}
	}
}

// With the module's health check (scaled down) a task is UNKNOWN until its
// first check, then HEALTHY; without one it stays UNKNOWN. A server that
// stops answering fails its checks, and the scheduler stops the task and
// replaces it, saying why in its events.
func TestHealthCheckReportsAndReplacesUnhealthyTasks(t *testing.T) {
	spec := healthcheck.ModuleSpec(0)
	spec.Interval, spec.Timeout, spec.Retries = 150*time.Millisecond, 300*time.Millisecond, 2
	_, c := startTwin(t, ecstwin.Config{HealthCheck: &spec})
	ctx := ctxT(t)
	first := runningTask(t, ctx, c, "")
	waitFor(t, "HEALTHY", func() bool {
		return describe(t, ctx, c, aws.ToString(first.TaskArn)).HealthStatus == types.HealthStatusHealthy
	})
	td, err := c.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: first.TaskDefinitionArn})
	if err != nil || td.TaskDefinition.ContainerDefinitions[0].HealthCheck == nil || td.TaskDefinition.ContainerDefinitions[0].HealthCheck.Command[1] != spec.Command[1] {
		t.Fatalf("task definition health check: %v %+v", err, td)
	}
	// CLIENT PAUSE holds every client's commands: valkey-cli ping times out.
	do(t, ctx, addr(first), "CLIENT", "PAUSE", "600000", "ALL")
	old := waitStopped(t, ctx, c, aws.ToString(first.TaskArn))
	if aws.ToString(old.StoppedReason) != "Task failed container health checks" || old.StopCode != types.TaskStopCodeServiceSchedulerInitiated {
		t.Errorf("unhealthy task stopped with %s: %q", old.StopCode, aws.ToString(old.StoppedReason))
	}
	runningTask(t, ctx, c, aws.ToString(first.TaskArn))
	ds, err := c.ecs.DescribeServices(ctx, &awsecs.DescribeServicesInput{Cluster: aws.String("chaos"), Services: []string{"valkey"}})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, ev := range ds.Services[0].Events {
		events = append(events, aws.ToString(ev.Message))
	}
	if !strings.Contains(strings.Join(events, "\n"), "failed container health checks") {
		t.Errorf("service events %q lack the health check failure", events)
	}

	_, c2 := startTwin(t, ecstwin.Config{})
	if h := runningTask(t, ctx, c2, "").HealthStatus; h != types.HealthStatusUnknown {
		t.Errorf("without a health check the task's healthStatus is %s, want UNKNOWN", h)
	}
}

// A dataset whose load outlasts the health check's budget (startPeriod +
// retries × interval) gets its task killed while LOADING: the replacement
// is stopped for failing its health checks, its log shows a load that
// began and never ended, and the service launches another, a crash loop
// the module's defaults must budget for.
func TestHealthCheckKillsALoadThatOutlastsItsBudget(t *testing.T) {
	spec := healthcheck.ModuleSpec(0)
	spec.Interval, spec.Timeout, spec.Retries = 200*time.Millisecond, time.Second, 2
	_, c := startTwin(t, ecstwin.Config{HealthCheck: &spec, ExtraArgs: []string{
		"--enable-debug-command", "yes", "--key-load-delay", "2000", "--loading-process-events-interval-bytes", "1024"}})
	ctx := ctxT(t)
	first := runningTask(t, ctx, c, "")
	waitFor(t, "the first task HEALTHY", func() bool {
		return describe(t, ctx, c, aws.ToString(first.TaskArn)).HealthStatus == types.HealthStatusHealthy
	})
	do(t, ctx, addr(first), "DEBUG", "POPULATE", "3000") // 3000 keys × 2 ms: a 6 s load
	do(t, ctx, addr(first), "SAVE")
	if b := spec.Budget(); b >= 6*time.Second {
		t.Fatalf("budget %v does not fall short of the load", b)
	}
	_, _ = probe.Do(ctx, addr(first), time.Second, "SHUTDOWN", "NOSAVE")
	var victim types.Task
	waitFor(t, "a replacement stopped for failing its health checks", func() bool {
		for _, task := range tasks(t, ctx, c, types.DesiredStatusStopped) {
			if aws.ToString(task.TaskArn) != aws.ToString(first.TaskArn) && aws.ToString(task.StoppedReason) == "Task failed container health checks" {
				victim = task
				return true
			}
		}
		return false
	})
	id := aws.ToString(victim.TaskArn)[strings.LastIndexByte(aws.ToString(victim.TaskArn), '/')+1:]
	var text string
	waitFor(t, "the victim's log", func() bool {
		out, err := c.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/ecs/valkey"), LogStreamName: aws.String("valkey/valkey/" + id), StartFromHead: aws.Bool(true)})
		if err != nil {
			return false
		}
		var b strings.Builder
		for _, e := range out.Events {
			b.WriteString(aws.ToString(e.Message) + "\n")
		}
		text = b.String()
		return strings.Contains(text, "Loading RDB")
	})
	if strings.Contains(text, "DB loaded from disk") {
		t.Errorf("the killed task finished its load, so the health check did not kill it while LOADING:\n%s", text)
	}
	runningTask(t, ctx, c, aws.ToString(victim.TaskArn)) // the service tries again
}
