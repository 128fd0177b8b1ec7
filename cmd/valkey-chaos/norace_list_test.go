package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The tests in files built only without -race run in make unit's second
// pass, selected by NORACE_TESTS: one missing from that pattern would never
// run in CI.
func TestNoRaceTestsRunInMakeUnit(t *testing.T) {
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^NORACE_TESTS\s*:?=\s*(\S+)\s*$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile sets no NORACE_TESTS")
	}
	selected, err := regexp.Compile(string(m[1]))
	if err != nil {
		t.Fatalf("NORACE_TESTS %q: %v", m[1], err)
	}
	files, _ := filepath.Glob("*_test.go")
	found := 0
	for _, f := range files {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if !buildsOnlyWithoutRace(file) {
			continue
		}
		for _, d := range file.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Test") && fn.Recv == nil {
				found++
				if !selected.MatchString(fn.Name.Name) {
					t.Errorf("%s in %s builds only without -race but NORACE_TESTS %q does not select it", fn.Name.Name, f, m[1])
				}
			}
		}
	}
	if found == 0 {
		t.Error("no test file builds only without -race: drop NORACE_TESTS and its pass")
	}
}

func buildsOnlyWithoutRace(f *ast.File) bool {
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if strings.TrimSpace(c.Text) == "//go:build !race" {
				return true
			}
		}
	}
	return false
}
