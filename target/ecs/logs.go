package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target"
)

// ErrLogIncomplete marks a server log returned without the lines it should
// hold by now (the awslogs driver ships in batches, and its non-blocking
// mode may drop lines): the lines that did arrive come with it.
var ErrLogIncomplete = errors.New("server log incomplete")

// ServerLog reads the awslogs stream <prefix>/<container>/<task-id> of
// every task of the trial, from the head. The driver ships lines in
// batches (every 5 s), so after a fault it polls until the replacement's
// stream holds "Ready to accept connections" and, if it loaded a dataset,
// "DB loaded from disk", or LogWait passes: then the lines so far come
// with an ErrLogIncomplete naming what is missing. Each line carries its
// event timestamp and the zone its timestamp was written in, derived from
// that timestamp (probe.ZoneOfEvent): Fargate logs in UTC, whatever zone
// the harness runs in.
func (t *Target) ServerLog(ctx context.Context) ([]target.LogLine, error) {
	if t.def.logDriver != string(types.LogDriverAwslogs) || t.def.logGroup == "" || t.def.logPrefix == "" {
		if !t.logNotice {
			t.notice("task definition %s logs with %q (group %q, stream prefix %q): the ECS target reads awslogs streams with a prefix only, so no server log lines; the timeline uses ECS timestamps and the probe",
				t.def.arn, t.def.logDriver, t.def.logGroup, t.def.logPrefix)
			t.logNotice = true
		}
		return nil, nil
	}
	deadline := time.Now().Add(t.cfg.LogWait)
	for {
		lines, err := t.readStreams(ctx)
		if err != nil {
			return nil, err
		}
		missing := t.missingLines(lines)
		if missing == "" {
			return lines, nil
		}
		if !time.Now().Before(deadline) || !t.faulted {
			return lines, fmt.Errorf("%w: after %v the log stream of task %s still lacks %s (awslogs batches every 5 s; mode non-blocking may drop lines)",
				ErrLogIncomplete, t.cfg.LogWait, t.cur.id, missing)
		}
		select {
		case <-ctx.Done():
			return lines, ctx.Err()
		case <-time.After(t.cfg.PollEvery):
		}
	}
}

// missingLines names the replacement's start-up lines not yet in the log.
func (t *Target) missingLines(lines []target.LogLine) string {
	if !t.faulted || t.cur.arn == t.old.arn || t.old.arn == "" {
		return ""
	}
	var loading, loaded, ready bool
	for _, l := range lines {
		if l.Instance != t.cur.id {
			continue
		}
		ev, ok := probe.ParseLogLine(l.Text, l.Zone)
		if !ok {
			continue
		}
		switch ev.Kind {
		case probe.LoadingStarted:
			loading = true
		case probe.DBLoaded:
			loaded = true
		case probe.Ready:
			ready = true
		}
	}
	var miss []string
	if loading && !loaded {
		miss = append(miss, `"DB loaded from disk"`)
	}
	if !ready {
		miss = append(miss, `"Ready to accept connections"`)
	}
	return strings.Join(miss, " and ")
}

// readStreams reads every trial task's stream once, from the head.
func (t *Target) readStreams(ctx context.Context) ([]target.LogLine, error) {
	var lines []target.LogLine
	for _, v := range t.trialTasks {
		stream := t.def.logPrefix + "/" + t.def.container + "/" + v.id
		in := &cloudwatchlogs.GetLogEventsInput{
			LogGroupName:  aws.String(t.def.logGroup),
			LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true),
		}
		zone := time.UTC // until a line says otherwise: Fargate containers run in UTC
		for {
			out, err := t.logs.GetLogEvents(ctx, in)
			var absent *logtypes.ResourceNotFoundException
			if errors.As(err, &absent) {
				break // not created yet: the next poll looks again
			}
			if err != nil {
				return nil, t.explain("logs:GetLogEvents", err)
			}
			received := time.Now()
			for _, e := range out.Events {
				text := aws.ToString(e.Message)
				at := time.UnixMilli(aws.ToInt64(e.Timestamp))
				if z, ok := probe.ZoneOfEvent(text, at); ok {
					zone = z
				}
				lines = append(lines, target.LogLine{Instance: v.id, Text: text, Received: received, Zone: zone, EventTime: at})
			}
			// The forward token repeats once the end of the stream is reached.
			if out.NextForwardToken == nil || aws.ToString(out.NextForwardToken) == aws.ToString(in.NextToken) {
				break
			}
			in.NextToken = out.NextForwardToken
		}
	}
	return lines, nil
}

// WriterOverlap says whether the replacement's server started before the
// old container exited, from the replacement's own start line (its log)
// against the exit bracket Inject reported. A replacement task held at
// the single-writer lock starts its server only after the old one is
// gone: its task overlapped (FaultReport.OverlapFrom), its server did not.
// Call it after ServerLog (it reads the log the same way).
func (t *Target) WriterOverlap(ctx context.Context) (target.WriterOverlap, error) {
	w := target.WriterOverlap{OldGoneAfter: t.gone.GoneAfter, OldGoneBy: t.gone.GoneBy}
	if !t.faulted || t.old.arn == "" || t.cur.arn == t.old.arn {
		w.Detail = "no replacement in this trial"
		return w, nil
	}
	lines, err := t.ServerLog(ctx)
	if err != nil && !errors.Is(err, ErrLogIncomplete) {
		return w, err
	}
	return writerOverlapOf(lines, t.cur.id, w), nil
}

// writerOverlapOf decides from the replacement's first start line.
func writerOverlapOf(lines []target.LogLine, newID string, w target.WriterOverlap) target.WriterOverlap {
	for _, l := range lines {
		if l.Instance != newID {
			continue
		}
		if ev, ok := probe.ParseLogLine(l.Text, l.Zone); ok && ev.Kind == probe.ServerStarting {
			w.NewServerStarted = ev.Time
			break
		}
	}
	// The log has ms resolution: compare the bracket at it.
	after, by := w.OldGoneAfter.Truncate(time.Millisecond), w.OldGoneBy
	switch {
	case w.NewServerStarted.IsZero():
		w.Detail = "the replacement's start line is not in its log: overlap undecided"
	case w.NewServerStarted.Before(after):
		w.Decided, w.Overlapped = true, true
		w.Detail = fmt.Sprintf("the replacement's server started %.3fs before the old container's exit (at the earliest): two writers on one dump.rdb",
			after.Sub(w.NewServerStarted).Seconds())
	case !w.NewServerStarted.Before(by):
		w.Decided = true
		w.Detail = fmt.Sprintf("the replacement's server started %.3fs after the old container had exited: one writer at a time",
			w.NewServerStarted.Sub(by).Seconds())
	default:
		w.Detail = "the replacement's server started within the old exit's bracket: overlap undecided"
	}
	return w
}
