package main

import (
	"fmt"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// make unit runs every test exactly once: its first pass runs every
// package but report/ under -race; its second runs report/ without -race,
// and the CLI's tests selected by NORACE_TESTS without -race. A test in a
// file built only without -race that NORACE_TESTS misses, or in such a file
// anywhere else, would never run in CI; one that NORACE_TESTS selects in a
// file built with -race too would run twice. This test reads the Makefile's
// recipe and every test file of the module.
func TestNoRaceTestsRunInMakeUnit(t *testing.T) {
	root := filepath.Join("..", "..")
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
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
	for _, p := range unitRecipeProblems(string(makefile)) {
		t.Error(p)
	}
	problems, noRace, err := unitPassProblems(root, selected)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if noRace == 0 {
		t.Error("no CLI test file builds only without -race: drop NORACE_TESTS and its pass")
	}
}

// unitRecipeProblems checks make unit's three passes are the ones
// unitPassProblems assumes.
func unitRecipeProblems(makefile string) []string {
	start := strings.Index(makefile, "\nunit:\n")
	if start < 0 {
		return []string{"the Makefile has no unit target"}
	}
	recipe := makefile[start+len("\nunit:\n"):]
	if end := strings.Index(recipe, "\n\n"); end >= 0 {
		recipe = recipe[:end]
	}
	var out []string
	for _, want := range []struct{ what, re string }{
		{"every package but report/ under -race", `(?m)^\t\$\(GO\) test -race .*\$\(PKGS\).*grep -v '/report\$\$'`},
		{"report/ without -race", `(?m)^\t\$\(GO\) test (?:-[a-z]+ \S+ )*\./report$`},
		{"the CLI's NORACE_TESTS without -race", `(?m)^\t\$\(GO\) test (?:-[a-z]+ \S+ )*-run '\$\(NORACE_TESTS\)' \./cmd/valkey-chaos$`},
	} {
		if !regexp.MustCompile(want.re).MatchString(recipe) {
			out = append(out, fmt.Sprintf("make unit no longer runs %s (recipe:\n%s)", want.what, recipe))
		}
	}
	return out
}

// unitPassProblems walks the module at root and names every test that make
// unit would run never or twice; noRace counts the CLI's tests in files
// built only without -race.
func unitPassProblems(root string, selected *regexp.Regexp) (problems []string, noRace int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		withRace, withoutRace, err := buildsWith(file)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, test := range testFuncs(file) {
			runs := 0
			switch filepath.ToSlash(rel) {
			case "report": // the second pass only, every test
				runs = count(withoutRace)
			case "cmd/valkey-chaos": // the first pass, and the selected ones in the third
				runs = count(withRace) + count(withoutRace && selected.MatchString(test))
				if withoutRace && !withRace {
					noRace++
				}
			default: // the first pass only
				runs = count(withRace)
			}
			if runs != 1 {
				problems = append(problems, fmt.Sprintf("%s in %s runs %d times in make unit, want once (built with -race %v, without %v; NORACE_TESTS %q)",
					test, filepath.ToSlash(path), runs, withRace, withoutRace, selected))
			}
		}
		return nil
	})
	return problems, noRace, err
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// buildsWith says whether the file builds with -race and without it, on
// this machine's GOOS and GOARCH, from its //go:build (or // +build) lines.
func buildsWith(f *ast.File) (withRace, withoutRace bool, err error) {
	var expr constraint.Expr
	for _, g := range f.Comments {
		if g.Pos() > f.Package {
			break
		}
		for _, c := range g.List {
			if !constraint.IsGoBuild(c.Text) && !constraint.IsPlusBuild(c.Text) {
				continue
			}
			e, err := constraint.Parse(c.Text)
			if err != nil {
				return false, false, err
			}
			if expr == nil || constraint.IsGoBuild(c.Text) { // //go:build wins over // +build
				expr = e
			}
		}
	}
	if expr == nil {
		return true, true, nil
	}
	tags := func(race bool) func(string) bool {
		return func(tag string) bool {
			switch {
			case tag == "race":
				return race
			case tag == runtime.GOOS, tag == runtime.GOARCH, tag == "gc", tag == "cgo":
				return true
			case tag == "unix":
				return runtime.GOOS != "windows" && runtime.GOOS != "plan9" && runtime.GOOS != "js" && runtime.GOOS != "wasip1"
			}
			return strings.HasPrefix(tag, "go1.")
		}
	}
	return expr.Eval(tags(true)), expr.Eval(tags(false)), nil
}

// testFuncs are the functions go test runs and -run selects: tests, fuzz
// targets (their seed corpus) and examples.
func testFuncs(f *ast.File) []string {
	var out []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Name.Name == "TestMain" {
			continue
		}
		for _, prefix := range []string{"Test", "Fuzz", "Example"} {
			if strings.HasPrefix(fn.Name.Name, prefix) {
				out = append(out, fn.Name.Name)
			}
		}
	}
	return out
}

// The guard finds what the first version of it missed: a constraint
// other than the exact line "//go:build !race", a file built only without
// -race outside the CLI (never run), a race-only file in report/ (never
// run), a CLI test NORACE_TESTS selects in a file built both ways (run
// twice), and a make unit that lost its pass.
func TestUnitPassProblemsFindsTestsRunNeverOrTwice(t *testing.T) {
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cmd/valkey-chaos/a_test.go", "//go:build !race\n\npackage main\n\nfunc TestReportA(t *testing.T) {}\n")
	write("cmd/valkey-chaos/b_test.go", "package main\n\nfunc TestRunB(t *testing.T) {}\nfunc TestReportTwice(t *testing.T) {}\n")
	write("cmd/valkey-chaos/c_test.go", "//go:build !race && "+runtime.GOOS+"\n\npackage main\n\nfunc TestUnselected(t *testing.T) {}\n")
	write("cmd/valkey-chaos/d_test.go", "// +build !race\n\npackage main\n\nfunc TestPlusBuild(t *testing.T) {}\n")
	write("check/e_test.go", "//go:build !race\n\npackage check\n\nfunc TestNeverRun(t *testing.T) {}\nfunc FuzzNeverRun(f *testing.F) {}\n")
	write("check/f_test.go", "package check\n\nfunc TestFine(t *testing.T) {}\nfunc TestMain(m *testing.M) {}\n")
	write("report/g_test.go", "//go:build race\n\npackage report\n\nfunc TestRaceOnly(t *testing.T) {}\n")
	write("report/h_test.go", "package report\n\nfunc TestRendered(t *testing.T) {}\n")
	write("report/testdata/x_test.go", "//go:build race\n\npackage x\n\nfunc TestIgnored(t *testing.T) {}\n")
	problems, noRace, err := unitPassProblems(root, regexp.MustCompile(`^(TestReport)`))
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, p := range problems {
		named = append(named, strings.Fields(p)[0])
	}
	slices.Sort(named)
	if want := []string{"FuzzNeverRun", "TestNeverRun", "TestPlusBuild", "TestRaceOnly", "TestReportTwice", "TestUnselected"}; !slices.Equal(named, want) || noRace != 3 {
		t.Errorf("problems %q (%d CLI tests without -race), want %q (3):\n%s", named, noRace, want, strings.Join(problems, "\n"))
	}
	good := "unit:\n\t$(GO) test -race -p $(UNIT_P) -timeout 25m $$($(GO) list $(PKGS) | grep -v '/report$$')\n\t$(GO) test -timeout 25m ./report\n\t$(GO) test -timeout 25m -run '$(NORACE_TESTS)' ./cmd/valkey-chaos\n\nfuzz:\n"
	if p := unitRecipeProblems("x\n" + good); len(p) != 0 {
		t.Errorf("a whole recipe: %q", p)
	}
	for _, drop := range []string{"\t$(GO) test -timeout 25m ./report\n", "\t$(GO) test -timeout 25m -run '$(NORACE_TESTS)' ./cmd/valkey-chaos\n"} {
		if p := unitRecipeProblems("x\n" + strings.Replace(good, drop, "", 1)); len(p) != 1 {
			t.Errorf("a recipe without %q: %q, want one problem", drop, p)
		}
	}
}
