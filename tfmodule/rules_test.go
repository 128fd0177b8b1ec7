package tfmodule

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

func TestSaveRules(t *testing.T) {
	tests := []struct {
		dir, want string
	}{
		// The shape of terraform/modules/valkey: the command built from
		// locals (concat of a base list and ["--save", var.save_rules]), an
		// image variable without a default, resource references elsewhere.
		{"module", "900 1 300 10 60 10000"},
		{"inline", "3600 1 120 50"},          // command inline in jsonencode
		{"shell", "600 5 30 100000"},         // sh -c "valkey-server --save '...'"
		{"heredoc", "300 1 60 1000"},         // JSON heredoc, two --save options
		{"nosave", savepolicy.ServerDefault}, // valkey without --save: server defaults
		{"tfvars", "45 1"},                   // terraform.tfvars overrides the default
		{"root", "120 1 30 5000"},            // a root calling the module with its own value
	}
	for _, tc := range tests {
		rules, err := SaveRules(filepath.Join("testdata", "terraform", tc.dir))
		if err != nil || rules.String() != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.dir, rules, err, tc.want)
		}
	}
}

func TestFromTerraformErrors(t *testing.T) {
	writeModule := func(t *testing.T, src string) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name, dir, mention string
	}{
		{"variable without default", filepath.Join("testdata", "terraform", "unknown"), "only known at apply time"},
		{"missing directory", filepath.Join("testdata", "terraform", "absent"), "not found"},
		{"no tf files", t.TempDir(), "no .tf files"},
		{"syntax error", writeModule(t, "resource \"aws_ecs_task_definition\" \"x\" {\n  container_definitions = jsonencode([{\n}\n"), "line"},
		{"no task definition", writeModule(t, "variable \"a\" {\n  default = 1\n}\n"), "no aws_ecs_task_definition"},
		{"odd save", writeModule(t, `resource "aws_ecs_task_definition" "x" {
  container_definitions = jsonencode([{ name = "valkey", image = "valkey", command = ["valkey-server", "--save", "900"] }])
}
`), "pairs"},
		{"config file in the image", writeModule(t, `resource "aws_ecs_task_definition" "x" {
  container_definitions = jsonencode([{ name = "valkey", image = "valkey", command = ["valkey-server", "/etc/valkey/valkey.conf"] }])
}
`), "--config"},
	}
	for _, tc := range tests {
		rules, err := SaveRules(tc.dir)
		if err == nil || !errors.Is(err, result.ErrBadInput) {
			t.Errorf("%s: %q, %v; want a bad-input error", tc.name, rules, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q: want one line mentioning %q", tc.name, err, tc.mention)
		}
	}
}

// TestTerraformModuleDeploysDefaultRules reads the real module: one source
// of truth for the rules the harness assumes and the module deploys.
func TestTerraformModuleDeploysDefaultRules(t *testing.T) {
	dir := filepath.Join("..", "terraform", "modules", "valkey")
	if _, err := os.Stat(filepath.Join(dir, "main.tf")); err != nil {
		t.Fatalf("%s/main.tf: %v", dir, err)
	}
	// The module itself, and the root that calls it next to the harness's
	// scheduled task (whose container names Valkey but runs no server).
	for _, d := range []string{dir, filepath.Join("..", "terraform", "common")} {
		rules, err := SaveRules(d)
		if err != nil {
			t.Fatalf("read %s: %v", d, err)
		}
		if rules.String() != savepolicy.Default {
			t.Fatalf("%s deploys save %q, the harness defaults to %q: make them agree", d, rules, savepolicy.Default)
		}
	}
	// The rules come from the module's variable, not by coincidence: a copy
	// deployed with other rules reads back as those.
	cp := t.TempDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cp, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cp, "terraform.tfvars"), []byte("save_rules = \"120 1 30 5000\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rules, err := SaveRules(cp); err != nil || rules.String() != "120 1 30 5000" {
		t.Fatalf("the module with save_rules = \"120 1 30 5000\" reads back as %q, %v", rules, err)
	}
}
