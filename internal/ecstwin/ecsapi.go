package ecstwin

import (
	"fmt"
	"strings"
	"time"
)

func (tw *Twin) clusterARN() string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.Cluster)
}

func (tw *Twin) serviceARN() string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.Cluster, tw.cfg.Service)
}

func (tw *Twin) taskDefinitionARN() string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:1", tw.cfg.Region, tw.cfg.Account, tw.cfg.Family)
}

func (tw *Twin) ecsOps() map[string]jsonOp {
	return map[string]jsonOp{
		"ListTasks":              tw.listTasks,
		"DescribeTasks":          tw.describeTasks,
		"StopTask":               tw.stopTask,
		"DescribeServices":       tw.describeServices,
		"UpdateService":          tw.updateService,
		"DescribeTaskDefinition": tw.describeTaskDefinition,
		"ListTagsForResource":    tw.listTagsForResource,
		"TagResource":            tw.tagResource,
		"UntagResource":          tw.untagResource,
	}
}

// checkCluster accepts the cluster's name or ARN; ECS's default cluster
// ("default" or empty) does not exist in the twin.
func (tw *Twin) checkCluster(c string) *apiError {
	if c == tw.cfg.Cluster || c == tw.clusterARN() {
		return nil
	}
	return clientError("ClusterNotFoundException", "Cluster not found.")
}

func (tw *Twin) isService(s string) bool { return s == tw.cfg.Service || s == tw.serviceARN() }

func (tw *Twin) listTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster, ServiceName, DesiredStatus, Family, StartedBy string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkCluster(in.Cluster); e != nil {
		return nil, e
	}
	if in.ServiceName != "" && !tw.isService(in.ServiceName) {
		return nil, clientError("ServiceNotFoundException", "Service not found.")
	}
	if in.DesiredStatus == "" {
		in.DesiredStatus = statusRunning
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	arns := []string{}
	for _, t := range tw.tasks {
		if t.desiredStatus == in.DesiredStatus {
			arns = append(arns, t.arn)
		}
	}
	return map[string]any{"taskArns": arns}, nil
}

func (tw *Twin) describeTasks(body []byte) (any, *apiError) {
	var in struct {
		Cluster string
		Tasks   []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkCluster(in.Cluster); e != nil {
		return nil, e
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > 100 {
		return nil, clientError("InvalidParameterException", "Tasks cannot be empty and may hold at most 100 entries.")
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	out := struct {
		Tasks    []wireTask    `json:"tasks"`
		Failures []wireFailure `json:"failures"`
	}{Tasks: []wireTask{}, Failures: []wireFailure{}}
	for _, ref := range in.Tasks {
		if t := tw.findTaskLocked(ref); t != nil {
			out.Tasks = append(out.Tasks, tw.wireTaskLocked(t))
		} else {
			out.Failures = append(out.Failures, wireFailure{Arn: ref, Reason: "MISSING"})
		}
	}
	return out, nil
}

func (tw *Twin) findTaskLocked(ref string) *task {
	for _, t := range tw.tasks {
		if ref == t.arn || ref == t.id {
			return t
		}
	}
	return nil
}

func (tw *Twin) stopTask(body []byte) (any, *apiError) {
	var in struct{ Cluster, Task, Reason string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkCluster(in.Cluster); e != nil {
		return nil, e
	}
	tw.mu.Lock()
	t := tw.findTaskLocked(in.Task)
	if t == nil {
		tw.mu.Unlock()
		return nil, clientError("InvalidParameterException", "The referenced task was not found.")
	}
	reason := in.Reason
	if reason == "" {
		reason = "Task stopped by user"
	}
	if !tw.closed {
		tw.stopLocked(t, stopUserInitiated, reason, time.Now())
	}
	out := map[string]any{"task": tw.wireTaskLocked(t)}
	tw.mu.Unlock()
	tw.poke()
	return out, nil
}

func (tw *Twin) describeServices(body []byte) (any, *apiError) {
	var in struct {
		Cluster  string
		Services []string
		Include  []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkCluster(in.Cluster); e != nil {
		return nil, e
	}
	withTags := false
	for _, inc := range in.Include {
		withTags = withTags || inc == "TAGS"
	}
	out := struct {
		Services []wireService `json:"services"`
		Failures []wireFailure `json:"failures"`
	}{Services: []wireService{}, Failures: []wireFailure{}}
	for _, s := range in.Services {
		if !tw.isService(s) {
			arn := s
			if !strings.HasPrefix(arn, "arn:") {
				arn = fmt.Sprintf("arn:aws:ecs:%s:%s:service/%s/%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.Cluster, s)
			}
			out.Failures = append(out.Failures, wireFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Services = append(out.Services, tw.wireService(withTags))
	}
	return out, nil
}

func (tw *Twin) wireService(withTags bool) wireService {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	minPct, maxPct := tw.deploy.MinimumHealthyPercent, tw.deploy.MaximumPercent
	s := wireService{
		ServiceArn:              tw.serviceARN(),
		ServiceName:             tw.cfg.Service,
		ClusterArn:              tw.clusterARN(),
		Status:                  "ACTIVE",
		DesiredCount:            1,
		LaunchType:              "FARGATE",
		TaskDefinition:          tw.taskDefinitionARN(),
		DeploymentConfiguration: wireDeploymentConfiguration{MinimumHealthyPercent: &minPct, MaximumPercent: &maxPct},
		CreatedAt:               epochSeconds(tw.created),
		SchedulingStrategy:      "REPLICA",
	}
	if tw.cfg.CircuitBreaker {
		s.DeploymentConfiguration.DeploymentCircuitBreaker = &wireCircuitBreaker{Enable: true}
	}
	for i, d := range tw.deployments {
		wd := wireDeployment{
			ID: d.id, Status: "ACTIVE", TaskDefinition: tw.taskDefinitionARN(), LaunchType: "FARGATE",
			CreatedAt: epochSeconds(d.createdAt), UpdatedAt: epochSeconds(d.updatedAt),
			RolloutState: d.rollout, RolloutStateReason: d.reason, FailedTasks: d.failed,
		}
		if i == 0 {
			wd.Status, wd.DesiredCount = "PRIMARY", 1
		}
		for _, t := range tw.tasks {
			if t.deployment != d.id {
				continue
			}
			switch {
			case t.lastStatus == statusRunning:
				wd.RunningCount++
			case t.desiredStatus == statusRunning:
				wd.PendingCount++
			}
		}
		s.RunningCount += wd.RunningCount
		s.PendingCount += wd.PendingCount
		s.Deployments = append(s.Deployments, wd)
	}
	s.Events = []wireServiceEvent{}
	for _, ev := range tw.events {
		s.Events = append(s.Events, wireServiceEvent{ID: ev.id, CreatedAt: epochSeconds(ev.createdAt), Message: ev.message})
	}
	if withTags {
		for _, kv := range tw.sortedTags() {
			s.Tags = append(s.Tags, wireTag{Key: kv[0], Value: kv[1]})
		}
	}
	return s
}

func (tw *Twin) updateService(body []byte) (any, *apiError) {
	var in struct {
		Cluster, Service        string
		DesiredCount            *int
		ForceNewDeployment      bool
		DeploymentConfiguration *wireDeploymentConfiguration
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := tw.checkCluster(in.Cluster); e != nil {
		return nil, e
	}
	if !tw.isService(in.Service) {
		return nil, clientError("ServiceNotFoundException", "Service not found.")
	}
	if in.DesiredCount != nil && *in.DesiredCount != 1 {
		return nil, clientError("InvalidParameterException", "the ECS twin runs desiredCount 1 only")
	}
	if dc := in.DeploymentConfiguration; dc != nil {
		tw.mu.Lock()
		d := tw.deploy
		tw.mu.Unlock()
		if dc.MinimumHealthyPercent != nil {
			d.MinimumHealthyPercent = *dc.MinimumHealthyPercent
		}
		if dc.MaximumPercent != nil {
			d.MaximumPercent = *dc.MaximumPercent
		}
		if err := tw.SetDeployment(d); err != nil {
			return nil, clientError("InvalidParameterException", "%v", err)
		}
	}
	if in.ForceNewDeployment {
		tw.mu.Lock()
		tw.deployments = append([]*deployment{newDeployment(time.Now())}, tw.deployments...)
		tw.mu.Unlock()
		tw.poke()
	}
	return map[string]any{"service": tw.wireService(false)}, nil
}

func (tw *Twin) describeTaskDefinition(body []byte) (any, *apiError) {
	var in struct {
		TaskDefinition string
		Include        []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	switch in.TaskDefinition {
	case tw.taskDefinitionARN(), tw.cfg.Family, tw.cfg.Family + ":1":
	default:
		return nil, clientError("ClientException", "Unable to describe task definition.")
	}
	command := append([]string{"--dir", "/data", "--save", tw.cfg.Save,
		"--dbfilename", "dump.rdb", "--rdbcompression", "yes", "--appendonly", "no"}, tw.cfg.ExtraArgs...)
	var entryPoint []string
	if tw.cfg.WriterLock {
		// The module's single-writer guard, as the terraform helper writes it.
		entryPoint = []string{"sh", "-c", `exec 9>>/data/.valkey-writer.lock && flock -x -w "$LOCK_WAIT" 9 && exec valkey-server "$@"`, "--"}
	} else {
		command = append([]string{"valkey-server"}, command...)
	}
	var env []wireKeyValue
	var secrets []wireSecret
	if cd := tw.cfg.TaskContainer; cd != nil {
		entryPoint, command = nil, cd.Command
		env, secrets = cd.wire()
	}
	var hc *wireHealthCheck
	if h := tw.cfg.HealthCheck; h != nil {
		w := h.WithDefaults()
		// The wire carries whole seconds; a test's sub-second check shows as 1.
		secs := func(d time.Duration) int { return max(1, int((d+time.Second-1)/time.Second)) }
		hc = &wireHealthCheck{Command: w.Command, Interval: secs(w.Interval), Timeout: secs(w.Timeout), Retries: w.Retries}
		if w.StartPeriod > 0 {
			hc.StartPeriod = secs(w.StartPeriod)
		}
	}
	td := wireTaskDefinition{
		TaskDefinitionArn:       tw.taskDefinitionARN(),
		Family:                  tw.cfg.Family,
		Revision:                1,
		Status:                  "ACTIVE",
		NetworkMode:             "awsvpc",
		RequiresCompatibilities: []string{"FARGATE"},
		Compatibilities:         []string{"EC2", "FARGATE"},
		Cpu:                     "512",
		Memory:                  tw.taskMemory(),
		RegisteredAt:            epochSeconds(tw.created),
		ContainerDefinitions: []wireContainerDefinition{{
			Name:         tw.cfg.Container,
			Image:        "valkey/valkey:8.0.1",
			Essential:    true,
			User:         "1000:1000",
			EntryPoint:   entryPoint,
			Command:      command,
			Environment:  env,
			Secrets:      secrets,
			HealthCheck:  hc,
			StopTimeout:  int(tw.cfg.StopTimeout / time.Second),
			PortMappings: []wirePortMapping{{ContainerPort: tw.cfg.Port, HostPort: tw.cfg.Port, Protocol: "tcp"}},
			MountPoints:  []wireMountPoint{{SourceVolume: "valkey-data", ContainerPath: "/data"}},
			LogConfiguration: wireLogConfiguration{LogDriver: "awslogs", Options: map[string]string{
				"awslogs-group":         tw.cfg.LogGroup,
				"awslogs-region":        tw.cfg.Region,
				"awslogs-stream-prefix": tw.cfg.StreamPrefix,
			}},
		}},
	}
	return map[string]any{"taskDefinition": td, "tags": []wireTag{}}, nil
}

func (tw *Twin) listTagsForResource(body []byte) (any, *apiError) {
	var in struct{ ResourceArn string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	tags := []wireTag{}
	switch in.ResourceArn {
	case tw.serviceARN():
		tw.mu.Lock()
		for _, kv := range tw.sortedTags() {
			tags = append(tags, wireTag{Key: kv[0], Value: kv[1]})
		}
		tw.mu.Unlock()
	case tw.clusterARN(), tw.taskDefinitionARN():
	default:
		return nil, clientError("InvalidParameterException", "The specified resource is not found or its ARN is invalid: %s", in.ResourceArn)
	}
	return map[string]any{"tags": tags}, nil
}

func (tw *Twin) tagResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn string
		Tags        []wireTag
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.ResourceArn != tw.serviceARN() {
		return nil, clientError("InvalidParameterException", "the ECS twin tags only its service %s", tw.serviceARN())
	}
	for _, t := range in.Tags {
		tw.SetTag(t.Key, t.Value)
	}
	return map[string]any{}, nil
}

func (tw *Twin) untagResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn string
		TagKeys     []string
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.ResourceArn != tw.serviceARN() {
		return nil, clientError("InvalidParameterException", "the ECS twin tags only its service %s", tw.serviceARN())
	}
	for _, k := range in.TagKeys {
		tw.SetTag(k, "")
	}
	return map[string]any{}, nil
}

// wireTaskLocked renders a task as DescribeTasks does for an awsvpc
// Fargate task: no networkBindings (the endpoint is the private IP and the
// container port), except with the twin-only HostPortBinding.
func (tw *Twin) wireTaskLocked(t *task) wireTask {
	health := string(tw.healthStatusLocked(t))
	w := wireTask{
		TaskArn:            t.arn,
		ClusterArn:         tw.clusterARN(),
		TaskDefinitionArn:  tw.taskDefinitionARN(),
		Group:              "service:" + tw.cfg.Service,
		StartedBy:          t.deployment,
		LaunchType:         "FARGATE",
		PlatformVersion:    "1.4.0",
		AvailabilityZone:   tw.cfg.Region + "a",
		Cpu:                "512",
		Memory:             tw.taskMemory(),
		LastStatus:         t.lastStatus,
		DesiredStatus:      t.desiredStatus,
		HealthStatus:       health,
		Version:            t.version,
		CreatedAt:          epochSeconds(t.createdAt),
		PullStartedAt:      epochSeconds(t.pullStartedAt),
		PullStoppedAt:      epochSeconds(t.pullStoppedAt),
		StartedAt:          epochSeconds(t.startedAt),
		ConnectivityAt:     epochSeconds(t.pullStartedAt),
		StoppingAt:         epochSeconds(t.stoppingAt),
		ExecutionStoppedAt: epochSeconds(t.executionStoppedAt),
		StoppedAt:          epochSeconds(t.stoppedAt),
		StopCode:           t.stopCode,
		StoppedReason:      t.stoppedReason,
	}
	if !t.pullStartedAt.IsZero() {
		w.Connectivity = "CONNECTED"
	}
	containerStatus := "PENDING"
	switch {
	case t.lastStatus == statusStopped || t.lastStatus == statusDeprovisioning:
		containerStatus = "STOPPED"
	case t.srv != nil:
		containerStatus = "RUNNING"
	}
	c := wireContainer{
		ContainerArn: fmt.Sprintf("arn:aws:ecs:%s:%s:container/%s/%s/%s", tw.cfg.Region, tw.cfg.Account, tw.cfg.Cluster, t.id, t.id[:8]),
		TaskArn:      t.arn,
		Name:         tw.cfg.Container,
		Image:        "valkey/valkey:8.0.1",
		LastStatus:   containerStatus,
		ExitCode:     t.exitCode,
		Reason:       t.containerReason,
		HealthStatus: health,
		NetworkInterfaces: []wireNetworkInterface{{
			AttachmentID: t.eniID, PrivateIpv4Address: t.ip,
		}},
	}
	if t.srv != nil && tw.cfg.HostPortBinding {
		c.NetworkBindings = []wireNetworkBinding{{
			BindIP: "0.0.0.0", ContainerPort: tw.cfg.Port, HostPort: portOf(t.srv.Addr()), Protocol: "tcp",
		}}
	}
	w.Containers = []wireContainer{c}
	eniStatus := "ATTACHED"
	switch t.lastStatus {
	case statusProvisioning:
		eniStatus = "PRECREATED"
	case statusDeprovisioning:
		eniStatus = "DETACHING"
	case statusStopped:
		eniStatus = "DELETED"
	}
	w.Attachments = []wireAttachment{{
		ID: t.eniID, Type: "ElasticNetworkInterface", Status: eniStatus,
		Details: []wireKeyValue{
			{Name: "subnetId", Value: "subnet-0twin"},
			{Name: "networkInterfaceId", Value: t.eniID},
			{Name: "privateIPv4Address", Value: t.ip},
		},
	}}
	return w
}

func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	var p int
	fmt.Sscanf(addr[i+1:], "%d", &p)
	return p
}
