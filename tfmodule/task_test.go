package tfmodule

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/trigpointing/valkey-chaos/result"
)

// moduleDefaults is what terraform/modules/valkey deploys with its
// variables' defaults, read off variables.tf by hand.
var moduleDefaults = Task{
	CPU: 256, MemoryMiB: 512, StopTimeout: 120 * time.Second,
	HealthInterval: 10 * time.Second, HealthTimeout: 5 * time.Second, HealthRetries: 3,
	HealthStartPeriod: 120 * time.Second, LoadingGrace: 600 * time.Second,
	MaxmemoryBytes:  214748364, // floor(512 x 1048576 x 40 / 100)
	MaxmemoryPolicy: "allkeys-lru", EFSThroughputMode: "bursting",
}

func TestReadTask(t *testing.T) {
	complete := moduleDefaults
	complete.CPU, complete.MemoryMiB, complete.LoadingGrace = 1024, 4096, 900*time.Second
	complete.MaxmemoryBytes, complete.MaxmemoryPolicy, complete.EFSThroughputMode = 1503238553, "allkeys-lfu", "elastic" // 4096 MiB x 35 %
	complete.From = `module "valkey"`
	common := moduleDefaults
	common.From = `module "valkey"`
	small := Task{
		CPU: 512, MemoryMiB: 2048, StopTimeout: 90 * time.Second,
		HealthInterval: 15 * time.Second, HealthTimeout: 4 * time.Second, HealthRetries: 2, HealthStartPeriod: 45 * time.Second,
		MaxmemoryBytes: 644245094, MaxmemoryPolicy: "noeviction", // floor(2048 x 1048576 x 30 / 100)
		EFSThroughputMode: "provisioned", EFSProvisionedMiBps: 64,
	}
	called := small
	called.CPU, called.MemoryMiB, called.MaxmemoryBytes = 1024, 4096, 1288490188
	called.EFSThroughputMode, called.EFSProvisionedMiBps, called.From = "elastic", 0, `module "cache"`
	tests := []struct {
		name, dir string
		want      Task
	}{
		{"the module's defaults", filepath.Join("..", "terraform", "modules", "valkey"), moduleDefaults},
		{"terraform/common calls the module", filepath.Join("..", "terraform", "common"), common},
		{"an example passing its own values", filepath.Join("..", "terraform", "examples", "complete"), complete},
		{"terraform.tfvars overrides defaults", filepath.Join("testdata", "terraform", "task"), small},
		{"a root's arguments, not the child's tfvars", filepath.Join("testdata", "terraform", "taskroot"), called},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadTask(tc.dir)
			if err != nil || got != tc.want {
				t.Errorf("ReadTask(%s) = %+v, %v\nwant %+v", tc.dir, got, err, tc.want)
			}
		})
	}
}

func TestReadTaskErrors(t *testing.T) {
	write := func(t *testing.T, src string) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	full := func(edit string) string {
		keys := map[string]string{
			"cpu": "1024", "memory_mib": "2048", "stop_timeout": "120", "health_check_interval": "10",
			"health_check_timeout": "5", "health_check_retries": "3", "health_check_start_period": "60",
			"health_check_loading_grace": "0", "maxmemory_bytes": "100000000", "maxmemory_policy": `"noeviction"`,
			"efs_throughput_mode": `"elastic"`, "efs_provisioned_throughput_mibps": "null",
		}
		k, v, _ := strings.Cut(edit, "=")
		if v == "" {
			delete(keys, k)
		} else {
			keys[k] = v
		}
		src := "variable \"memory\" {}\noutput \"capacity\" {\n  value = {\n"
		for k, v := range keys {
			src += "    " + k + " = " + v + "\n"
		}
		return src + "  }\n}\n"
	}
	tests := []struct {
		name, dir, mention string
	}{
		{"no output", write(t, "variable \"a\" {\n  default = 1\n}\n"), `no "capacity" output`},
		{"missing key", write(t, full("stop_timeout=")), `no key "stop_timeout"`},
		{"only known at apply", write(t, full("memory_mib=var.memory")), "only known at apply time"},
		{"null", write(t, full("cpu=null")), "cpu is null"},
		{"not a number", write(t, full(`cpu="lots"`)), "not a number"},
		{"negative", write(t, full("stop_timeout=-1")), ">= 0"},
		{"provisioned without a rate", write(t, full(`efs_throughput_mode="provisioned"`)), "efs_provisioned_throughput_mibps"},
		{"not an object", write(t, "output \"capacity\" {\n  value = 3\n}\n"), "not an object"},
		{"missing directory", filepath.Join("testdata", "terraform", "absent"), "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTask(tc.dir)
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %v, want one line mentioning %q", err, tc.mention)
			}
		})
	}
}

// TestCapacityOutputMatchesTheTaskDefinition holds the module's capacity
// output against what it really deploys: the task definition's cpu and
// memory, the container's stopTimeout and healthCheck, the --maxmemory
// arguments of its command and the file system's throughput mode.
func TestCapacityOutputMatchesTheTaskDefinition(t *testing.T) {
	dir := filepath.Join("..", "terraform", "modules", "valkey")
	for _, vars := range []map[string]cty.Value{
		nil,
		{"cpu": cty.NumberIntVal(1024), "memory": cty.NumberIntVal(4096), "stop_timeout": cty.NumberIntVal(60),
			"health_check_start_period": cty.NumberIntVal(30), "maxmemory_bytes": cty.NumberIntVal(1 << 30),
			"efs_throughput_mode": cty.StringVal("provisioned"), "efs_provisioned_throughput_mibps": cty.NumberIntVal(50)},
	} {
		hits, err := findInModules(dir, vars, 0, (*tfModule).task)
		if err != nil || len(hits) != 1 {
			t.Fatalf("%v: %v", hits, err)
		}
		got := hits[0].value
		files, _ := readTFFiles(dir, "*.tf")
		m, err := parseModule(files)
		if err != nil {
			t.Fatal(err)
		}
		deployed := deployedTask(t, m, vars)
		if got != deployed {
			t.Errorf("vars %v: the capacity output says %+v\nthe resources deploy %+v", vars, got, deployed)
		}
	}
}

// deployedTask reads the Task off the module's resources, independently
// of the capacity output.
func deployedTask(t *testing.T, m *tfModule, vars map[string]cty.Value) Task {
	t.Helper()
	ctx := m.evalContext(vars)
	num := func(v cty.Value) float64 {
		if v.IsNull() {
			return 0
		}
		f, _ := v.AsBigFloat().Float64()
		return f
	}
	sec := func(v cty.Value) time.Duration { return time.Duration(num(v) * float64(time.Second)) }
	attrOf := func(resType, name string) cty.Value {
		for _, f := range m.names {
			src, _ := os.ReadFile(f)
			file, _ := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
			for _, b := range file.Body.(*hclsyntax.Body).Blocks {
				if b.Type == "resource" && b.Labels[0] == resType && b.Labels[1] == "valkey" {
					v, diags := b.Body.Attributes[name].Expr.Value(ctx)
					if diags.HasErrors() {
						t.Fatalf("%s.%s: %s", resType, name, diags)
					}
					return v
				}
			}
		}
		t.Fatalf("no %s.valkey", resType)
		return cty.NilVal
	}
	var d Task
	d.CPU = int(num(attrOf("aws_ecs_task_definition", "cpu")))
	d.MemoryMiB = int64(num(attrOf("aws_ecs_task_definition", "memory")))
	d.EFSThroughputMode = attrOf("aws_efs_file_system", "throughput_mode").AsString()
	d.EFSProvisionedMiBps = num(attrOf("aws_efs_file_system", "provisioned_throughput_in_mibps"))
	defs, err := containerDefinitions(m.taskDefs[0], ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := defs.Index(cty.NumberIntVal(0))
	d.StopTimeout = sec(c.GetAttr("stopTimeout"))
	hc := c.GetAttr("healthCheck")
	d.HealthInterval, d.HealthTimeout = sec(hc.GetAttr("interval")), sec(hc.GetAttr("timeout"))
	d.HealthRetries, d.HealthStartPeriod = int(num(hc.GetAttr("retries"))), sec(hc.GetAttr("startPeriod"))
	script := asStrings(hc.GetAttr("command"))[1]
	if m := regexp.MustCompile(`-lt (\d+) \]`).FindStringSubmatch(script); m != nil {
		n, _ := strconv.Atoi(m[1])
		d.LoadingGrace = time.Duration(n) * time.Second
	} else {
		t.Fatalf("no LOADING grace in the health check %q", script)
	}
	var cs []container
	findContainers(defs, &cs, 0)
	for i, a := range cs[0].command {
		switch a {
		case "--maxmemory":
			d.MaxmemoryBytes, _ = strconv.ParseInt(cs[0].command[i+1], 10, 64)
		case "--maxmemory-policy":
			d.MaxmemoryPolicy = cs[0].command[i+1]
		}
	}
	return d
}
