package ecs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/trigpointing/valkey-chaos/result"
)

// DefaultNamespace is where --publish cloudwatch puts metrics.
const DefaultNamespace = "ValkeyChaos"

// ParsePublish reads --publish: "cloudwatch" or "cloudwatch:NAMESPACE".
func ParsePublish(v string) (namespace string, err error) {
	dest, ns, hasNS := strings.Cut(v, ":")
	if dest != "cloudwatch" {
		return "", fmt.Errorf("%w: --publish %q: use cloudwatch or cloudwatch:NAMESPACE", result.ErrBadInput, v)
	}
	if !hasNS {
		return DefaultNamespace, nil
	}
	if ns == "" || len(ns) > 255 || strings.HasPrefix(ns, "AWS/") || strings.IndexFunc(ns, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/#: ", r))
	}) >= 0 {
		return "", fmt.Errorf("%w: --publish %q: a CloudWatch namespace is 1-255 letters, digits and . _ - / # : space, and may not start with AWS/", result.ErrBadInput, v)
	}
	return ns, nil
}

// metricsPerCall stays well inside PutMetricData's limits (1,000 data
// points, 1 MB).
const metricsPerCall = 500

// PublishMetrics puts each trial's loss_window_s (estimate), rto_s,
// warmup_s, lost and verdict_failed / verdict_invalid (1 or 0) with the
// dimensions Scenario and Fault, stamped at the trial's fault, plus one
// run-wide verdict_failed without dimensions (1 when any trial failed) for
// a single alarm on a scheduled run. Missing numbers (a trial that never
// served has no RTO, one never read back no lost) are left out rather
// than sent as zero.
func PublishMetrics(ctx context.Context, cfg aws.Config, namespace string, run *result.Run) error {
	return put(ctx, cfg, namespace, run.RunID, runMetrics(run))
}

// PublishOutcome is what a scheduled run publishes on every exit path
// (terraform/modules/chaos-schedule's metric contract): Heartbeat 1 and
// Outcome 1 with the dimension Outcome = outcome, both without other
// dimensions, plus PublishMetrics's per-trial metrics when run has trials.
// run may be nil (the run was refused before it started).
func PublishOutcome(ctx context.Context, cfg aws.Config, namespace, outcome string, run *result.Run) error {
	now := time.Now()
	data := []cwtypes.MetricDatum{
		{MetricName: aws.String("Heartbeat"), Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount, Timestamp: aws.Time(now)},
		{MetricName: aws.String("Outcome"), Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount, Timestamp: aws.Time(now),
			Dimensions: []cwtypes.Dimension{{Name: aws.String("Outcome"), Value: aws.String(outcome)}}},
	}
	runID := "(not started)"
	if run != nil {
		runID = run.RunID
		if len(run.Trials) > 0 {
			data = append(data, runMetrics(run)...)
		}
	}
	return put(ctx, cfg, namespace, runID, data)
}

func runMetrics(run *result.Run) []cwtypes.MetricDatum {
	runAt := time.Now()
	if run.FinishedUnixMs > 0 {
		runAt = time.UnixMilli(run.FinishedUnixMs)
	}
	var data []cwtypes.MetricDatum
	anyFailed := 0.0
	for _, tr := range run.Trials {
		at := runAt
		if tr.TFaultUnixMs > 0 {
			at = time.UnixMilli(tr.TFaultUnixMs)
		}
		dims := []cwtypes.Dimension{
			{Name: aws.String("Scenario"), Value: aws.String(tr.Scenario)},
			{Name: aws.String("Fault"), Value: aws.String(tr.Fault)},
		}
		add := func(name string, v float64, unit cwtypes.StandardUnit) {
			data = append(data, cwtypes.MetricDatum{
				MetricName: aws.String(name), Dimensions: dims, Value: aws.Float64(v), Unit: unit, Timestamp: aws.Time(at),
			})
		}
		if tr.LossWindowS != nil {
			add("loss_window_s", tr.LossWindowS.Estimate, cwtypes.StandardUnitSeconds)
		}
		if tr.RTOS != nil {
			add("rto_s", *tr.RTOS, cwtypes.StandardUnitSeconds)
		}
		if tr.WarmupS != nil {
			add("warmup_s", *tr.WarmupS, cwtypes.StandardUnitSeconds)
		}
		if tr.Unread == "" && tr.ReplacementExited == "" { // never read back: lost is unknown, not 0
			add("lost", float64(tr.Lost), cwtypes.StandardUnitCount)
		}
		add("verdict_failed", boolMetric(tr.Verdict == "fail"), cwtypes.StandardUnitCount)
		add("verdict_invalid", boolMetric(tr.Verdict == "invalid"), cwtypes.StandardUnitCount)
		anyFailed = max(anyFailed, boolMetric(tr.Verdict == "fail"))
	}
	return append(data, cwtypes.MetricDatum{
		MetricName: aws.String("verdict_failed"), Value: aws.Float64(anyFailed), Unit: cwtypes.StandardUnitCount, Timestamp: aws.Time(runAt),
	})
}

func put(ctx context.Context, cfg aws.Config, namespace, runID string, data []cwtypes.MetricDatum) error {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	client := cloudwatch.NewFromConfig(cfg)
	for len(data) > 0 {
		n := min(len(data), metricsPerCall)
		_, err := client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(namespace), MetricData: data[:n]})
		if err != nil {
			return fmt.Errorf("publish run %s to CloudWatch namespace %s: %w", runID, namespace, explainAWS("cloudwatch:PutMetricData", Config{Region: cfg.Region}, err))
		}
		data = data[n:]
	}
	return nil
}

func boolMetric(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
