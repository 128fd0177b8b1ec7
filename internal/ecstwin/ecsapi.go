package ecstwin

import (
	"fmt"
	"strings"
	"time"
)

// The ECS operations, with the member names of the awsJson1.1 wire format.

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireKeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type wireFailure struct {
	Arn    string `json:"arn"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

type wireNetworkBinding struct {
	BindIP        string `json:"bindIP"`
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

type wireNetworkInterface struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}

type wireContainer struct {
	ContainerArn      string                 `json:"containerArn"`
	TaskArn           string                 `json:"taskArn"`
	Name              string                 `json:"name"`
	Image             string                 `json:"image"`
	LastStatus        string                 `json:"lastStatus"`
	ExitCode          *int                   `json:"exitCode,omitempty"`
	Reason            string                 `json:"reason,omitempty"`
	HealthStatus      string                 `json:"healthStatus"`
	NetworkBindings   []wireNetworkBinding   `json:"networkBindings,omitempty"`
	NetworkInterfaces []wireNetworkInterface `json:"networkInterfaces,omitempty"`
}

type wireAttachment struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Status  string         `json:"status"`
	Details []wireKeyValue `json:"details"`
}

type wireTask struct {
	TaskArn            string           `json:"taskArn"`
	ClusterArn         string           `json:"clusterArn"`
	TaskDefinitionArn  string           `json:"taskDefinitionArn"`
	Group              string           `json:"group"`
	StartedBy          string           `json:"startedBy"`
	LaunchType         string           `json:"launchType"`
	PlatformVersion    string           `json:"platformVersion"`
	AvailabilityZone   string           `json:"availabilityZone"`
	Cpu                string           `json:"cpu"`
	Memory             string           `json:"memory"`
	LastStatus         string           `json:"lastStatus"`
	DesiredStatus      string           `json:"desiredStatus"`
	HealthStatus       string           `json:"healthStatus"`
	Connectivity       string           `json:"connectivity,omitempty"`
	Version            int64            `json:"version"`
	CreatedAt          *float64         `json:"createdAt,omitempty"`
	PullStartedAt      *float64         `json:"pullStartedAt,omitempty"`
	PullStoppedAt      *float64         `json:"pullStoppedAt,omitempty"`
	ConnectivityAt     *float64         `json:"connectivityAt,omitempty"`
	StartedAt          *float64         `json:"startedAt,omitempty"`
	StoppingAt         *float64         `json:"stoppingAt,omitempty"`
	ExecutionStoppedAt *float64         `json:"executionStoppedAt,omitempty"`
	StoppedAt          *float64         `json:"stoppedAt,omitempty"`
	StopCode           string           `json:"stopCode,omitempty"`
	StoppedReason      string           `json:"stoppedReason,omitempty"`
	Containers         []wireContainer  `json:"containers"`
	Attachments        []wireAttachment `json:"attachments"`
}

type wireDeploymentConfiguration struct {
	MinimumHealthyPercent *int `json:"minimumHealthyPercent,omitempty"`
	MaximumPercent        *int `json:"maximumPercent,omitempty"`
}

type wireDeployment struct {
	ID             string   `json:"id"`
	Status         string   `json:"status"`
	TaskDefinition string   `json:"taskDefinition"`
	DesiredCount   int      `json:"desiredCount"`
	PendingCount   int      `json:"pendingCount"`
	RunningCount   int      `json:"runningCount"`
	FailedTasks    int      `json:"failedTasks"`
	CreatedAt      *float64 `json:"createdAt"`
	UpdatedAt      *float64 `json:"updatedAt"`
	LaunchType     string   `json:"launchType"`
	RolloutState   string   `json:"rolloutState"`
}

type wireService struct {
	ServiceArn              string                      `json:"serviceArn"`
	ServiceName             string                      `json:"serviceName"`
	ClusterArn              string                      `json:"clusterArn"`
	Status                  string                      `json:"status"`
	DesiredCount            int                         `json:"desiredCount"`
	RunningCount            int                         `json:"runningCount"`
	PendingCount            int                         `json:"pendingCount"`
	LaunchType              string                      `json:"launchType"`
	TaskDefinition          string                      `json:"taskDefinition"`
	DeploymentConfiguration wireDeploymentConfiguration `json:"deploymentConfiguration"`
	Deployments             []wireDeployment            `json:"deployments"`
	CreatedAt               *float64                    `json:"createdAt"`
	SchedulingStrategy      string                      `json:"schedulingStrategy"`
	Tags                    []wireTag                   `json:"tags,omitempty"`
}

type wireLogConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

type wirePortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

type wireMountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}

type wireContainerDefinition struct {
	Name             string               `json:"name"`
	Image            string               `json:"image"`
	Essential        bool                 `json:"essential"`
	User             string               `json:"user"`
	Command          []string             `json:"command"`
	StopTimeout      int                  `json:"stopTimeout"`
	PortMappings     []wirePortMapping    `json:"portMappings"`
	MountPoints      []wireMountPoint     `json:"mountPoints"`
	LogConfiguration wireLogConfiguration `json:"logConfiguration"`
}

type wireTaskDefinition struct {
	TaskDefinitionArn       string                    `json:"taskDefinitionArn"`
	Family                  string                    `json:"family"`
	Revision                int                       `json:"revision"`
	Status                  string                    `json:"status"`
	NetworkMode             string                    `json:"networkMode"`
	RequiresCompatibilities []string                  `json:"requiresCompatibilities"`
	Compatibilities         []string                  `json:"compatibilities"`
	Cpu                     string                    `json:"cpu"`
	Memory                  string                    `json:"memory"`
	ContainerDefinitions    []wireContainerDefinition `json:"containerDefinitions"`
	RegisteredAt            *float64                  `json:"registeredAt"`
}

// containerPort is the port of the task definition's port mapping.
const containerPort = 6379

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
	now := time.Now()
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
	for i, d := range tw.deployments {
		wd := wireDeployment{
			ID: d.id, Status: "ACTIVE", TaskDefinition: tw.taskDefinitionARN(), LaunchType: "FARGATE",
			CreatedAt: epochSeconds(d.createdAt), UpdatedAt: epochSeconds(d.updatedAt), RolloutState: "IN_PROGRESS",
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
			case t.stopCode == stopEssentialExited || t.stopCode == stopFailedToStart:
				wd.FailedTasks++
			}
		}
		if i == 0 && len(tw.deployments) == 1 && wd.RunningCount == 1 && tw.healthyCountLocked(now) == 1 {
			wd.RolloutState = "COMPLETED"
		}
		s.RunningCount += wd.RunningCount
		s.PendingCount += wd.PendingCount
		s.Deployments = append(s.Deployments, wd)
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
	command := append([]string{"valkey-server", "--dir", "/data", "--save", tw.cfg.Save,
		"--dbfilename", "dump.rdb", "--rdbcompression", "yes", "--appendonly", "no"}, tw.cfg.ExtraArgs...)
	td := wireTaskDefinition{
		TaskDefinitionArn:       tw.taskDefinitionARN(),
		Family:                  tw.cfg.Family,
		Revision:                1,
		Status:                  "ACTIVE",
		NetworkMode:             "awsvpc",
		RequiresCompatibilities: []string{"FARGATE"},
		Compatibilities:         []string{"EC2", "FARGATE"},
		Cpu:                     "512",
		Memory:                  "1024",
		RegisteredAt:            epochSeconds(tw.created),
		ContainerDefinitions: []wireContainerDefinition{{
			Name:         tw.cfg.Container,
			Image:        "valkey/valkey:8.0.1",
			Essential:    true,
			User:         "1000:1000",
			Command:      command,
			StopTimeout:  int(tw.cfg.StopTimeout / time.Second),
			PortMappings: []wirePortMapping{{ContainerPort: containerPort, HostPort: containerPort, Protocol: "tcp"}},
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

// wireTaskLocked renders a task as DescribeTasks does. Twin-only: the
// container's network binding carries the task's own host port.
func (tw *Twin) wireTaskLocked(t *task) wireTask {
	health := "UNKNOWN"
	if tw.healthyLocked(t, time.Now()) {
		health = "HEALTHY"
	}
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
		Memory:             "1024",
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
		HealthStatus: health,
		NetworkInterfaces: []wireNetworkInterface{{
			AttachmentID: t.eniID, PrivateIpv4Address: "127.0.0.1",
		}},
	}
	if t.srv != nil {
		c.NetworkBindings = []wireNetworkBinding{{
			BindIP: "127.0.0.1", ContainerPort: containerPort, HostPort: portOf(t.srv.Addr()), Protocol: "tcp",
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
			{Name: "privateIPv4Address", Value: "127.0.0.1"},
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
