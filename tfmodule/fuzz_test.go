package tfmodule

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

func FuzzTerraform(f *testing.F) {
	for _, dir := range []string{"module", "inline", "shell", "heredoc", "nosave", "unknown", "root"} {
		files, err := readTFFiles(filepath.Join("testdata", "terraform", dir), "*.tf")
		if err != nil {
			f.Fatal(err)
		}
		var all []byte
		for _, tf := range files {
			all = append(all, tf.src...)
			all = append(all, '\n')
		}
		f.Add(all)
	}
	f.Add([]byte(`resource "aws_ecs_task_definition" "x" { container_definitions = jsonencode(local.missing) }`))
	f.Add([]byte(`locals { a = local.b
b = local.a }
resource "aws_ecs_task_definition" "x" { container_definitions = jsonencode([{ name = "v", command = local.a }]) }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := parseModule([]tfFile{{name: "fuzz.tf", src: src}})
		if err != nil {
			if !errors.Is(err, result.ErrBadInput) {
				t.Fatalf("parse error %v is not bad input", err)
			}
			return
		}
		rules, found, err := m.saveRules(nil)
		if err != nil {
			if !errors.Is(err, result.ErrBadInput) {
				t.Fatalf("error %v is not bad input", err)
			}
			return
		}
		if found {
			if _, err := savepolicy.Parse(rules.String()); err != nil {
				t.Fatalf("module gave rules %q that do not parse: %v", rules, err)
			}
		}
	})
}
