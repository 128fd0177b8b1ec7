package ecstwin

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
	MinimumHealthyPercent    *int                `json:"minimumHealthyPercent,omitempty"`
	MaximumPercent           *int                `json:"maximumPercent,omitempty"`
	DeploymentCircuitBreaker *wireCircuitBreaker `json:"deploymentCircuitBreaker,omitempty"`
}

type wireCircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type wireServiceEvent struct {
	ID        string   `json:"id"`
	CreatedAt *float64 `json:"createdAt"`
	Message   string   `json:"message"`
}

type wireHealthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod,omitempty"`
}

type wireDeployment struct {
	ID                 string   `json:"id"`
	Status             string   `json:"status"`
	TaskDefinition     string   `json:"taskDefinition"`
	DesiredCount       int      `json:"desiredCount"`
	PendingCount       int      `json:"pendingCount"`
	RunningCount       int      `json:"runningCount"`
	FailedTasks        int      `json:"failedTasks"`
	CreatedAt          *float64 `json:"createdAt"`
	UpdatedAt          *float64 `json:"updatedAt"`
	LaunchType         string   `json:"launchType"`
	RolloutState       string   `json:"rolloutState"`
	RolloutStateReason string   `json:"rolloutStateReason,omitempty"`
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
	Events                  []wireServiceEvent          `json:"events"`
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
	EntryPoint       []string             `json:"entryPoint,omitempty"`
	Command          []string             `json:"command"`
	Environment      []wireKeyValue       `json:"environment,omitempty"`
	Secrets          []wireSecret         `json:"secrets,omitempty"`
	HealthCheck      *wireHealthCheck     `json:"healthCheck,omitempty"`
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
