package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target/ecs"
)

// publishTimeout bounds the last PutMetricData of a run, which runs even
// after a signal cancelled the run's context.
const publishTimeout = 30 * time.Second

// publisher sends a run's Heartbeat and Outcome to CloudWatch on every
// exit path once --publish is known, and the per-trial metrics when there
// is a run (terraform/modules/chaos-schedule: the alarms treat missing
// data as breaching, so a run that exits without publishing turns them red).
type publisher struct {
	namespace string
	aws       aws.Config
	dryRun    bool
	out       io.Writer
	run       *result.Run // set once scenarios.Run returned one
}

// newPublisher parses --publish; nil when it is not set. The AWS
// configuration is loaded here, before the target, so a refused target
// (untagged service, access denied) still publishes its outcome.
func newPublisher(ctx context.Context, o runOpts, out io.Writer) (*publisher, error) {
	if o.publish == "" {
		return nil, nil
	}
	namespace, err := ecs.ParsePublish(o.publish)
	if err != nil {
		return nil, err
	}
	if o.targetKind != "ecs" {
		return nil, fmt.Errorf("%w: --publish needs --target ecs (metrics go to the AWS account of the service)", result.ErrBadInput)
	}
	cfg, err := ecs.LoadAWSConfig(ctx, o.ecs)
	if err != nil {
		return nil, fmt.Errorf("--publish: %w", err)
	}
	return &publisher{namespace: namespace, aws: cfg, dryRun: o.ecs.DryRun, out: out}, nil
}

// finish publishes the outcome of runErr and returns runErr, joined with
// the publishing error if any (the outcome then stays what the run was:
// outcomeOf looks through the join).
func (p *publisher) finish(ctx context.Context, runErr error) error {
	if p == nil {
		return runErr
	}
	oc := outcomeOf(asInterruption(ctx, runErr)) // as main will report it
	if p.dryRun {
		fmt.Fprintf(p.out, "dry-run: would call cloudwatch:PutMetricData (namespace %s: Heartbeat, Outcome=%s and the per-trial metrics)\n", p.namespace, oc.name)
		return runErr
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := ecs.PublishOutcome(ctx, p.aws, p.namespace, oc.name, p.run); err != nil {
		return errors.Join(runErr, fmt.Errorf("publish outcome %s: %w", oc.name, err))
	}
	fmt.Fprintf(p.out, "metrics: CloudWatch namespace %s (outcome %s)\n", p.namespace, oc.name)
	return runErr
}
