package tfmodule

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// CapacityOutput is the output of terraform/modules/valkey that says what
// the task is: the reader evaluates its value rather than re-deriving each
// figure from the resources, so the module keeps one place that names them.
const CapacityOutput = "capacity"

// Task is what the module deploys that bounds the cache's capacity.
type Task struct {
	CPU       int   `json:"cpu"` // CPU units, 1024 = 1 vCPU
	MemoryMiB int64 `json:"memory_mib"`
	// StopTimeout is the container's stopTimeout (SIGTERM to SIGKILL).
	StopTimeout time.Duration `json:"stop_timeout_ns"`
	// The container health check as ECS runs it.
	HealthInterval    time.Duration `json:"health_check_interval_ns"`
	HealthTimeout     time.Duration `json:"health_check_timeout_ns"`
	HealthRetries     int           `json:"health_check_retries"`
	HealthStartPeriod time.Duration `json:"health_check_start_period_ns"`
	// LoadingGrace is how long after start a LOADING reply counts as
	// healthy (the module's health check script; 0: never).
	LoadingGrace    time.Duration `json:"health_check_loading_grace_ns"`
	MaxmemoryBytes  int64         `json:"maxmemory_bytes"`
	MaxmemoryPolicy string        `json:"maxmemory_policy"`
	// EFSThroughputMode is bursting, elastic or provisioned;
	// EFSProvisionedMiBps is set only for provisioned.
	EFSThroughputMode   string  `json:"efs_throughput_mode"`
	EFSProvisionedMiBps float64 `json:"efs_provisioned_throughput_mibps,omitempty"`
	// From names where it was read: the module call (`module "valkey"`)
	// or "" for the directory itself.
	From string `json:"from,omitempty"`
}

// ReadTask reads the task a Terraform configuration deploys, statically
// (variable defaults overridden by terraform.tfvars and *.auto.tfvars, then
// module arguments): the value of the module's `capacity` output, in dir or
// in the local modules it calls. Errors unwrap to result.ErrBadInput.
func ReadTask(dir string) (Task, error) {
	inputs, err := readTFVars(dir)
	if err != nil {
		return Task{}, err
	}
	hits, err := findInModules(dir, inputs, 0, (*tfModule).task)
	if err != nil {
		return Task{}, err
	}
	switch len(hits) {
	case 0:
		return Task{}, badInput("terraform %s: no %q output (nor a local module with one): point --terraform at terraform/modules/valkey or a configuration that calls it, or give --cpu, --memory, --stop-timeout and --health-check", dir, CapacityOutput)
	case 1:
		t := hits[0].value
		t.From = hits[0].from
		return t, nil
	}
	var from []string
	for _, h := range hits {
		from = append(from, h.from)
	}
	return Task{}, badInput("terraform %s: several modules deploy a Valkey task (%s): point --terraform at one of them", dir, strings.Join(from, ", "))
}

// task evaluates the capacity output of one module.
func (m *tfModule) task(inputs map[string]cty.Value) (Task, bool, error) {
	expr, ok := m.outputs[CapacityOutput]
	if !ok {
		return Task{}, false, nil
	}
	where := fmt.Sprintf("terraform %s: output %q", expr.Range().Filename, CapacityOutput)
	v, diags := safeValue(expr, m.evalContext(inputs))
	if !v.IsKnown() && refersToModule(expr) {
		return Task{}, false, nil // a root passing on module.valkey.capacity: read the module
	}
	if diags.HasErrors() && !v.IsKnown() {
		return Task{}, false, badInput("%s: %s", where, oneLine(diags))
	}
	if !v.IsKnown() || v.IsNull() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return Task{}, false, badInput("%s is not an object of task settings", where)
	}
	r := outputReader{v: v, where: where}
	t := Task{
		CPU:               int(r.number("cpu", true)),
		MemoryMiB:         int64(r.number("memory_mib", true)),
		StopTimeout:       r.seconds("stop_timeout"),
		HealthInterval:    r.seconds("health_check_interval"),
		HealthTimeout:     r.seconds("health_check_timeout"),
		HealthRetries:     int(r.number("health_check_retries", true)),
		HealthStartPeriod: r.seconds("health_check_start_period"),
		LoadingGrace:      r.seconds("health_check_loading_grace"),
		MaxmemoryBytes:    int64(r.number("maxmemory_bytes", true)),
		MaxmemoryPolicy:   r.str("maxmemory_policy"),
		EFSThroughputMode: r.str("efs_throughput_mode"),
	}
	t.EFSProvisionedMiBps = r.number("efs_provisioned_throughput_mibps", false)
	if r.err != nil {
		return Task{}, false, r.err
	}
	if t.EFSThroughputMode == "provisioned" && !(t.EFSProvisionedMiBps > 0) {
		return Task{}, false, badInput("%s: efs_throughput_mode provisioned without efs_provisioned_throughput_mibps: set it", where)
	}
	return t, true, nil
}

// outputReader reads keys of an output's object value, keeping the first
// error (a missing key, a value only known at apply time).
type outputReader struct {
	v     cty.Value
	where string
	err   error
}

func (r *outputReader) get(key string, required bool) (cty.Value, bool) {
	if r.err != nil {
		return cty.NilVal, false
	}
	v, ok := attr(r.v, key)
	switch {
	case !ok:
		r.err = badInput("%s has no key %q: add it to the output", r.where, key)
	case !v.IsKnown():
		r.err = badInput("%s: %s is only known at apply time (a variable without a default, or a resource attribute): set it in terraform.tfvars", r.where, key)
	case v.IsNull() && required:
		r.err = badInput("%s: %s is null: set it", r.where, key)
	case v.IsNull():
		return cty.NilVal, false
	default:
		return v, true
	}
	return cty.NilVal, false
}

func (r *outputReader) number(key string, required bool) float64 {
	v, ok := r.get(key, required)
	if !ok {
		return 0
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		r.err = badInput("%s: %s = %s is not a number", r.where, key, asString(v))
		return 0
	}
	f, _ := n.AsBigFloat().Float64()
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		r.err = badInput("%s: %s = %g must be a finite number >= 0", r.where, key, f)
		return 0
	}
	return f
}

func (r *outputReader) seconds(key string) time.Duration {
	return time.Duration(r.number(key, true) * float64(time.Second))
}

func (r *outputReader) str(key string) string {
	v, ok := r.get(key, true)
	if !ok {
		return ""
	}
	return asString(v)
}

func refersToModule(expr hcl.Expression) bool {
	for _, t := range expr.Variables() {
		if t.RootName() == "module" {
			return true
		}
	}
	return false
}
