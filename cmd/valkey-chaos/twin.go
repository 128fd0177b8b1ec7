package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/internal/ecstwin/healthcheck"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

func newTwinCmd() *cobra.Command {
	var cfg ecstwin.Config
	var opts twinOpts
	cmd := &cobra.Command{
		Use:   "twin",
		Short: "Run a local ECS twin (ECS, CloudWatch Logs and CloudWatch APIs over real valkey-server tasks) to rehearse --target ecs",
		Long: `Runs a local stand-in for the ECS service, its awslogs log group and CloudWatch,
whose tasks are real valkey-server processes sharing one data directory. Point
the AWS SDK (or the aws CLI) at it with the printed environment and run
'valkey-chaos run --target ecs' as you would against AWS.

As on Fargate: each task has its own private IP (a loopback address 127.0.0.x)
and listens on --port, with no network bindings; tasks log in UTC and their
lines reach CloudWatch in batches (--log-batch, the awslogs driver's 5 s); the
module's container health check really runs (--health-check); maximumPercent
counts PENDING and RUNNING tasks only (--capacity-rule). --timings fargate sets
provisioning 30 s, deprovisioning 20 s and log batches 5 s, times --time-scale.
Twin-only: --host-port-binding puts every task on 127.0.0.1 with its own port.

While it runs:
  curl -X POST "$AWS_ENDPOINT_URL/_twin/alarm?name=NAME&state=ALARM"   set an alarm's state
  curl -X POST "$AWS_ENDPOINT_URL/_twin/tag?key=valkey-chaos&value=allowed"
  curl -X POST "$AWS_ENDPOINT_URL/_twin/fail?op=ListTasks&code=ThrottlingException&n=3"
  curl "$AWS_ENDPOINT_URL/_twin/calls"                                 the call log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.tagAllowed {
				cfg.Tags = map[string]string{ecs.AllowTagKey: ecs.AllowTagValue}
			}
			if opts.timings != "" {
				if opts.timings != "fargate" {
					return fmt.Errorf("%w: --timings %q: the one profile is fargate", result.ErrBadInput, opts.timings)
				}
				if opts.timeScale <= 0 {
					return fmt.Errorf("%w: --time-scale %v must be positive", result.ErrBadInput, opts.timeScale)
				}
				ecstwin.FargateTimings(opts.timeScale).Apply(&cfg)
				cfg.WholeSecondExecutionStop = true
			}
			if opts.healthCheck {
				hc := healthcheck.ModuleSpec(opts.startPeriod)
				cfg.HealthCheck = &hc
			}
			cfg.Alarms = map[string]string{}
			for _, a := range opts.alarms {
				cfg.Alarms[a] = "OK"
			}
			tw, err := ecstwin.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer tw.Close()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ECS twin: cluster %s, service %s, one task running; data dir %s\n", tw.Cluster(), tw.Service(), tw.DataDir())
			fmt.Fprintf(w, "API on %s. Point the AWS SDK at it:\n\n", tw.URL())
			for _, kv := range tw.Env() {
				fmt.Fprintf(w, "  export %s\n", kv)
			}
			run := fmt.Sprintf("valkey-chaos run --target ecs --cluster %s --service %s", tw.Cluster(), tw.Service())
			if !opts.tagAllowed {
				run += " --allow-untagged"
			}
			if len(opts.alarms) > 0 {
				run += " --alarm " + strings.Join(opts.alarms, " --alarm ")
			}
			fmt.Fprintf(w, "\nthen, in that shell:\n\n  %s\n\nCtrl-C stops the twin and its tasks.\n", run)
			<-cmd.Context().Done()
			return tw.Close()
		},
	}
	twinFlags(cmd.Flags(), &cfg, &opts)
	return cmd
}

// twinOpts are the twin command's flags that are not Config fields.
type twinOpts struct {
	tagAllowed, healthCheck bool
	alarms                  []string
	timings                 string
	timeScale               float64
	startPeriod             time.Duration
}

func twinFlags(f *pflag.FlagSet, cfg *ecstwin.Config, o *twinOpts) {
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "address for the AWS API endpoint")
	f.StringVar(&cfg.Cluster, "cluster", "chaos", "cluster name")
	f.StringVar(&cfg.Service, "service", "valkey", "service name (one task, desiredCount 1)")
	f.StringVar(&cfg.Region, "region", "us-east-1", "region the ARNs and AWS_REGION name")
	f.StringVar(&cfg.Save, "save", savepolicy.Default, "the task definition's --save rules")
	f.StringVar(&cfg.ServerBin, "server-bin", "", "valkey-server binary (default: valkey-server on PATH)")
	f.StringVar(&cfg.DataDir, "dir", "", "data directory shared by every task, as the EFS access point is (default: a temp dir)")
	f.DurationVar(&cfg.ProvisionDelay, "provision-delay", 2*time.Second, "createdAt to startedAt of a new task (PROVISIONING, image pull, RUNNING)")
	f.DurationVar(&cfg.DeprovisionDelay, "deprovision-delay", 100*time.Millisecond, "container exit to STOPPED")
	f.DurationVar(&cfg.HealthyAfter, "healthy-after", 0, "without --health-check, how long a RUNNING task waits before a deployment counts it (twin-only; ECS: at once)")
	f.BoolVar(&o.healthCheck, "health-check", true, "run the module's container health check (valkey-cli ping | grep -q PONG, every 10 s, 3 retries)")
	f.DurationVar(&o.startPeriod, "health-start-period", 120*time.Second, "the health check's startPeriod (the module's default)")
	f.IntVar(&cfg.Port, "port", 6379, "the container port every task listens on at its own 127.0.0.x")
	f.BoolVar(&cfg.HostPortBinding, "host-port-binding", false, "twin-only: every task on 127.0.0.1 with its own port, reported as a network binding")
	f.StringVar(&cfg.CapacityRule, "capacity-rule", ecstwin.CapacityAWS, "how maximumPercent counts tasks: aws (PENDING and RUNNING) or not-stopped (stricter)")
	f.BoolVar(&cfg.WriterLock, "writer-lock", false, "start servers under the module's single-writer guard (flock on /data/.valkey-writer.lock)")
	f.DurationVar(&cfg.LogBatch, "log-batch", 5*time.Second, "delay before log lines reach CloudWatch (the awslogs driver's batch interval)")
	f.BoolVar(&cfg.CircuitBreaker, "circuit-breaker", true, "enable the deployment circuit breaker (no rollback)")
	f.StringVar(&o.timings, "timings", "", "fargate: provisioning 30 s, deprovisioning 20 s, log batches 5 s (times --time-scale), whole-second executionStoppedAt")
	f.Float64Var(&o.timeScale, "time-scale", 1, "factor for --timings, e.g. 0.1")
	f.IntVar(&cfg.Deployment.MinimumHealthyPercent, "min-healthy", 100, "deployment minimumHealthyPercent (ECS default 100)")
	f.IntVar(&cfg.Deployment.MaximumPercent, "max-percent", 200, "deployment maximumPercent (ECS default 200: the new task starts before the old stops)")
	f.DurationVar(&cfg.StopTimeout, "stop-timeout", 30*time.Second, "the container's stopTimeout: SIGTERM, then SIGKILL (whole seconds, at most 120s)")
	f.BoolVar(&o.tagAllowed, "tag-allowed", false, "tag the service valkey-chaos=allowed, so runs need no --allow-untagged")
	f.StringArrayVar(&o.alarms, "alarm", nil, "create a CloudWatch alarm in state OK (repeatable); flip it with the /_twin/alarm endpoint")
}
