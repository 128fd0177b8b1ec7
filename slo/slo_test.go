package slo

import (
	"errors"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
)

func TestParse(t *testing.T) {
	cases := []struct {
		expr   string
		metric string
		op     string
		limit  float64
		name   string
	}{
		{"loss_window<=65s", "loss_window", "<=", 65, "loss_window<=65s"},
		{" rto < 30s ", "rto", "<", 30, "rto<30s"},
		{"warmup<=500ms", "warmup", "<=", 0.5, "warmup<=0.5s"},
		{"rto<=1m30s", "rto", "<=", 90, "rto<=90s"},
		{"lost_on_stop==0", "lost_on_stop", "==", 0, "lost_on_stop==0"},
		{"anomalies==0", "anomalies", "==", 0, "anomalies==0"},
		{"lost==0", "lost", "==", 0, "lost==0"},
		{"lost>=1", "lost", ">=", 1, "lost>=1"},
		{"corrupt!=3", "corrupt", "!=", 3, "corrupt!=3"},
		{"loss_window_high>2s", "loss_window_high", ">", 2, "loss_window_high>2s"},
	}
	for _, c := range cases {
		s, err := Parse(c.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.expr, err)
			continue
		}
		if s.Metric != c.metric || s.Op != c.op || s.Limit != c.limit || s.Expr != c.name {
			t.Errorf("Parse(%q) = %+v, want %s %s %g named %q", c.expr, s, c.metric, c.op, c.limit, c.name)
		}
	}
}

func TestParseRejectsWithClearMessage(t *testing.T) {
	cases := []struct {
		expr string
		want string // a fragment the user needs to see
	}{
		{"loss_window", "no comparison"},
		{"rto=30s", "no comparison"},
		{"latency<=5s", "valid metrics: anomalies, corrupt, final_save"},
		{"rto<=30", "add a unit, e.g. 30s"},
		{"rto<=soon", "not a duration"},
		{"lost==1s", "whole number"},
		{"lost==-1", "whole number"},
		{"warmup<=", "missing value"},
	}
	for _, c := range cases {
		_, err := Parse(c.expr)
		if err == nil {
			t.Errorf("Parse(%q) accepted a bad expression", c.expr)
			continue
		}
		if !errors.Is(err, result.ErrBadInput) {
			t.Errorf("Parse(%q) error %v does not wrap ErrBadInput", c.expr, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.expr) {
			t.Errorf("Parse(%q) error %q: want it to name the expression and say %q", c.expr, err, c.want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) error spans several lines: %q", c.expr, err)
		}
	}
}

func ptr(v float64) *float64 { return &v }

func TestEvaluate(t *testing.T) {
	slos, err := ParseAll([]string{"loss_window<=65s", "rto<=30s", "lost_on_stop==0", "anomalies==0", "warmup<=5s", "final_save<=30s"})
	if err != nil {
		t.Fatal(err)
	}
	crash := &result.Trial{Fault: "crash", Lost: 120, LossWindowS: &result.Window{Low: 60, High: 70, Estimate: 66},
		RTOS: ptr(2.5), WarmupS: ptr(1.9)}
	stop := &result.Trial{Fault: "stop", Lost: 3, LossWindowS: &result.Window{}, RTOS: nil, WarmupS: ptr(6), FinalSaveS: ptr(41)}

	type want struct {
		pass     bool
		observed float64
	}
	cases := []struct {
		trial *result.Trial
		want  map[string]want
	}{
		{crash, map[string]want{
			"loss_window<=65s": {false, 66},
			"rto<=30s":         {true, 2.5},
			"anomalies==0":     {true, 0},
			"warmup<=5s":       {true, 1.9},
			// lost_on_stop and final_save do not apply to a crash: skipped.
		}},
		{stop, map[string]want{
			"loss_window<=65s": {true, 0},
			"rto<=30s":         {false, -1}, // null RTO: never served, fails with observed null
			"lost_on_stop==0":  {false, 3},
			"anomalies==0":     {true, 0},
			"warmup<=5s":       {false, 6},
			"final_save<=30s":  {false, 41},
		}},
	}
	for _, c := range cases {
		checks := Evaluate(c.trial, slos)
		if len(checks) != len(c.want) {
			t.Errorf("%s trial: %d checks %+v, want %d", c.trial.Fault, len(checks), checks, len(c.want))
		}
		for _, ch := range checks {
			w, ok := c.want[ch.Name]
			if !ok {
				t.Errorf("%s trial: unexpected check %s", c.trial.Fault, ch.Name)
				continue
			}
			got := -1.0 // null
			if ch.Observed != nil {
				got = *ch.Observed
			}
			if ch.Pass != w.pass || got != w.observed {
				t.Errorf("%s trial: %s pass=%v observed=%g, want pass=%v observed=%g (-1: null)", c.trial.Fault, ch.Name, ch.Pass, got, w.pass, w.observed)
			}
		}
	}
}

func TestNullLossWindowWithLossFails(t *testing.T) {
	s, err := Parse("loss_window<=65s")
	if err != nil {
		t.Fatal(err)
	}
	tr := &result.Trial{Fault: "crash", Lost: 5} // lost writes but no window recorded
	checks := Evaluate(tr, []SLO{s})
	if len(checks) != 1 || checks[0].Pass {
		t.Fatalf("a trial that lost writes without a measured window passed %+v", checks)
	}
}

func TestEveryMetricIsDescribed(t *testing.T) {
	for _, m := range Metrics() {
		if Describe(m) == "" {
			t.Errorf("metric %s has no description", m)
		}
	}
}
