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
	"github.com/trigpointing/valkey-chaos/target"
)

func (t *Target) noticeSaveRules(ctx context.Context, addr string, v taskView, want string) {
	if want == "" {
		return
	}
	rep, err := t.probe().Do(ctx, addr, 5*time.Second, "CONFIG", "GET", "save")
	if err != nil || len(rep.Array) != 2 {
		return
	}
	if live := rep.Array[1].Str; strings.Join(strings.Fields(live), " ") != strings.Join(strings.Fields(want), " ") {
		t.notice("the scenario asks for save rules %q but task %s runs with %q (set by the task definition); the run measures the live rules", want, v.id, live)
	}
}

// noticeFixedByECS says once which scenario settings a deployed service
// decides for itself.
func (t *Target) noticeFixedByECS(spec target.StartSpec) {
	if t.specNoticed {
		return
	}
	var fixed []string
	if spec.StopTimeout > 0 && spec.StopTimeout != t.def.stopTimeout {
		fixed = append(fixed, fmt.Sprintf("stop_timeout %v (the container's stopTimeout is %v)", spec.StopTimeout, t.def.stopTimeout))
	}
	if spec.RestartDelay > 0 {
		fixed = append(fixed, "restart_delay (the service scheduler times the replacement)")
	}
	if len(spec.ExtraArgs) > 0 {
		fixed = append(fixed, fmt.Sprintf("server args %q (the task definition's command)", spec.ExtraArgs))
	}
	if len(spec.Storage) > 0 {
		fixed = append(fixed, "storage (the task's EFS volume)")
	}
	if len(fixed) > 0 {
		t.notice("the ECS task definition decides %s; the run measures what is deployed", strings.Join(fixed, ", "))
		t.specNoticed = true
	}
}

// checkAlarms fails with ErrAlarm when a stop-condition alarm is in ALARM;
// requireAll also fails for a name that matches no alarm.
func (t *Target) checkAlarms(ctx context.Context, requireAll bool) error {
	if len(t.cfg.AlarmNames) == 0 {
		return nil
	}
	out, err := t.cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{
		AlarmNames: t.cfg.AlarmNames,
		AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm, cwtypes.AlarmTypeCompositeAlarm},
	})
	if err != nil {
		return t.explain("cloudwatch:DescribeAlarms", err)
	}
	states := map[string][2]string{}
	for _, a := range out.MetricAlarms {
		states[aws.ToString(a.AlarmName)] = [2]string{string(a.StateValue), aws.ToString(a.StateReason)}
	}
	for _, a := range out.CompositeAlarms {
		states[aws.ToString(a.AlarmName)] = [2]string{string(a.StateValue), aws.ToString(a.StateReason)}
	}
	for _, name := range t.cfg.AlarmNames {
		s, ok := states[name]
		if !ok {
			if requireAll {
				return fmt.Errorf("%w: CloudWatch alarm %q not found in %s: check --alarm", result.ErrBadInput, name, t.cfg.Region)
			}
			continue
		}
		if s[0] == string(cwtypes.StateValueAlarm) {
			why := ""
			if r := oneLine(s[1]); r != "" {
				why = " (" + r + ")"
			}
			return fmt.Errorf("%w: alarm %q is in ALARM%s: no fault injected, the run stops here", ErrAlarm, name, why)
		}
	}
	return nil
}
