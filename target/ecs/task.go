package ecs

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/target"
)

// taskView is what the harness needs of one DescribeTasks entry.
type taskView struct {
	arn, id, group             string
	lastStatus, desiredStatus  string
	stopCode, stoppedReason    string
	createdAt, pullStartedAt   time.Time
	pullStoppedAt, startedAt   time.Time
	stoppingAt, stoppedAt      time.Time
	executionStoppedAt         time.Time
	exitCode                   *int32
	containerReason            string // the Valkey container's reason ("OutOfMemoryError: ...")
	containerStatus            string // the Valkey container's lastStatus
	privateIP                  string
	bindings                   map[int32]int32 // containerPort -> hostPort of the Valkey container
	taskDefinitionARN, startBy string
}

func (v taskView) running() bool {
	return v.lastStatus == "RUNNING" && v.desiredStatus == "RUNNING"
}

func (v taskView) stopped() bool { return v.lastStatus == "STOPPED" }

// containerExited is whether the Valkey container has exited: ECS stamped
// executionStoppedAt, the container reports STOPPED, or the task is past
// it (DEPROVISIONING, STOPPED).
func (v taskView) containerExited() bool {
	return !v.executionStoppedAt.IsZero() || v.containerStatus == "STOPPED" ||
		v.lastStatus == "DEPROVISIONING" || v.lastStatus == "STOPPED"
}

// containerGone is when the old container stopped serving: its exit when
// ECS reports one, else the task's stoppedAt.
func (v taskView) containerGone() time.Time {
	if !v.executionStoppedAt.IsZero() {
		return v.executionStoppedAt
	}
	return v.stoppedAt
}

func (v taskView) exitDetail() string {
	s := v.stopCode
	if v.stoppedReason != "" {
		s += ": " + v.stoppedReason
	}
	if v.exitCode != nil {
		s += fmt.Sprintf(" (container exit code %d)", *v.exitCode)
	}
	if v.containerReason != "" {
		s += " (" + v.containerReason + ")"
	}
	return s
}

// oomKilled: ECS says the container was killed at the task's memory limit.
func (v taskView) oomKilled() bool { return strings.HasPrefix(v.containerReason, "OutOfMemoryError") }

func viewOf(t types.Task, container string) taskView {
	v := taskView{
		arn:                aws.ToString(t.TaskArn),
		group:              aws.ToString(t.Group),
		lastStatus:         aws.ToString(t.LastStatus),
		desiredStatus:      aws.ToString(t.DesiredStatus),
		stopCode:           string(t.StopCode),
		stoppedReason:      aws.ToString(t.StoppedReason),
		createdAt:          aws.ToTime(t.CreatedAt),
		pullStartedAt:      aws.ToTime(t.PullStartedAt),
		pullStoppedAt:      aws.ToTime(t.PullStoppedAt),
		startedAt:          aws.ToTime(t.StartedAt),
		stoppingAt:         aws.ToTime(t.StoppingAt),
		stoppedAt:          aws.ToTime(t.StoppedAt),
		executionStoppedAt: aws.ToTime(t.ExecutionStoppedAt),
		taskDefinitionARN:  aws.ToString(t.TaskDefinitionArn),
		startBy:            aws.ToString(t.StartedBy),
		bindings:           map[int32]int32{},
	}
	v.id = v.arn[strings.LastIndexByte(v.arn, '/')+1:]
	for _, a := range t.Attachments {
		if aws.ToString(a.Type) != "ElasticNetworkInterface" {
			continue
		}
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				v.privateIP = aws.ToString(d.Value)
			}
		}
	}
	for _, c := range t.Containers {
		if container != "" && aws.ToString(c.Name) != container {
			continue
		}
		v.exitCode = c.ExitCode
		v.containerReason = aws.ToString(c.Reason)
		v.containerStatus = aws.ToString(c.LastStatus)
		for _, ni := range c.NetworkInterfaces {
			if v.privateIP == "" {
				v.privateIP = aws.ToString(ni.PrivateIpv4Address)
			}
		}
		for _, b := range c.NetworkBindings {
			if b.ContainerPort != nil && b.HostPort != nil {
				v.bindings[*b.ContainerPort] = *b.HostPort
			}
		}
	}
	return v
}

// endpoint is where the task's Valkey listens: --endpoint when given, else
// the task's private IP and the port: awsvpc tasks (Fargate) have no
// network bindings and listen on the container port itself. A binding's
// hostPort (bridge mode, or the twin's HostPortBinding) wins when present.
func (t *Target) endpoint(v taskView) (string, error) {
	if t.cfg.Endpoint != "" {
		return t.cfg.Endpoint, nil
	}
	if v.privateIP == "" {
		return "", fmt.Errorf("task %s reports no private IPv4 address (not an awsvpc task?): pass --endpoint host:port", v.id)
	}
	port := int32(t.cfg.Port)
	if hp, ok := v.bindings[port]; ok && hp != 0 {
		port = hp
	}
	return net.JoinHostPort(v.privateIP, strconv.Itoa(int(port))), nil
}

// describeTasks returns the tasks in the order asked; a task ECS no longer
// knows is an error.
func (t *Target) describeTasks(ctx context.Context, arns ...string) ([]taskView, error) {
	if len(arns) == 0 {
		return nil, nil
	}
	out, err := t.ecs.DescribeTasks(ctx, &awsecs.DescribeTasksInput{Cluster: aws.String(t.cfg.Cluster), Tasks: arns})
	if err != nil {
		return nil, t.explain("ecs:DescribeTasks", err)
	}
	if len(out.Failures) > 0 {
		f := out.Failures[0]
		return nil, fmt.Errorf("ecs:DescribeTasks: task %s: %s %s", aws.ToString(f.Arn), aws.ToString(f.Reason), aws.ToString(f.Detail))
	}
	views := make([]taskView, 0, len(out.Tasks))
	for _, task := range out.Tasks {
		views = append(views, viewOf(task, t.def.container))
	}
	return views, nil
}

func (t *Target) describeTask(ctx context.Context, arn string) (taskView, error) {
	views, err := t.describeTasks(ctx, arn)
	if err != nil {
		return taskView{}, err
	}
	if len(views) != 1 {
		return taskView{}, fmt.Errorf("ecs:DescribeTasks returned %d tasks for %s", len(views), arn)
	}
	return views[0], nil
}

// serviceTasks lists the service's tasks with the given desired status,
// newest first.
func (t *Target) serviceTasks(ctx context.Context, desired types.DesiredStatus) ([]taskView, error) {
	var arns []string
	p := awsecs.NewListTasksPaginator(t.ecs, &awsecs.ListTasksInput{
		Cluster:       aws.String(t.cfg.Cluster),
		ServiceName:   aws.String(t.cfg.Service),
		DesiredStatus: desired,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, t.explain("ecs:ListTasks", err)
		}
		arns = append(arns, page.TaskArns...)
	}
	var views []taskView
	for len(arns) > 0 {
		n := min(len(arns), 100)
		batch, err := t.describeTasks(ctx, arns[:n]...)
		if err != nil {
			return nil, err
		}
		views = append(views, batch...)
		arns = arns[n:]
	}
	sort.Slice(views, func(i, j int) bool { return views[i].createdAt.After(views[j].createdAt) })
	return views, nil
}

// milestones are the ECS timestamps of the old and new task, in order.
func milestones(old, cur taskView) []target.Milestone {
	var ms []target.Milestone
	add := func(name string, at time.Time) {
		if !at.IsZero() {
			ms = append(ms, target.Milestone{Name: name, At: at, Source: "ecs"})
		}
	}
	add("old_stopping", old.stoppingAt)
	add("old_execution_stopped", old.executionStoppedAt)
	add("old_stopped", old.stoppedAt)
	add("new_created", cur.createdAt)
	add("new_pull_started", cur.pullStartedAt)
	add("new_pull_stopped", cur.pullStoppedAt)
	add("new_started", cur.startedAt)
	if from, to, ok := overlap(old, cur); ok {
		add("overlap_start", from)
		add("overlap_end", to)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].At.Before(ms[j].At) })
	return ms
}

// overlap is the interval in which the new task ran while the old
// container had not yet exited: two servers on one dump.rdb.
func overlap(old, cur taskView) (from, to time.Time, ok bool) {
	gone := old.containerGone()
	if cur.startedAt.IsZero() || gone.IsZero() || !cur.startedAt.Before(gone) {
		return time.Time{}, time.Time{}, false
	}
	return cur.startedAt, gone, true
}
