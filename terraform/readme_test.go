package terraform

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The module READMEs carry generated reference tables in terraform-docs
// layout (Requirements, Providers, Modules, Resources, Inputs, Outputs)
// between these markers. TestModuleReadmesAreGenerated fails on drift;
// `go test ./terraform -run TestModuleReadmesAreGenerated -update` rewrites them.
const (
	docsBegin = "<!-- BEGIN_TF_DOCS -->"
	docsEnd   = "<!-- END_TF_DOCS -->"
)

var update = flag.Bool("update", false, "rewrite the generated tables of the module READMEs")

var documentedModules = []string{valkeyDir, chaosDir, commonDir, "examples/minimal", "examples/complete"}

func TestModuleReadmesAreGenerated(t *testing.T) {
	for _, dir := range documentedModules {
		path := filepath.Join(dir, "README.md")
		old, err := os.ReadFile(path)
		if err != nil && !*update {
			t.Errorf("%s: %v (create it with -update)", path, err)
			continue
		}
		want := spliceDocs(string(old), moduleDocs(t, loadModule(t, dir)))
		if want == string(old) {
			continue
		}
		if *update {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is out of date with the HCL: run go test ./terraform -run TestModuleReadmesAreGenerated -update", path)
	}
}

// spliceDocs replaces the marked block, or appends one.
func spliceDocs(readme, docs string) string {
	block := docsBegin + "\n" + docs + docsEnd + "\n"
	i, j := strings.Index(readme, docsBegin), strings.Index(readme, docsEnd)
	if i >= 0 && j > i {
		return readme[:i] + block + strings.TrimPrefix(readme[j+len(docsEnd):], "\n")
	}
	if readme != "" && !strings.HasSuffix(readme, "\n\n") {
		readme = strings.TrimRight(readme, "\n") + "\n\n"
	}
	return readme + block
}

func moduleDocs(t *testing.T, m *module) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("## Requirements\n\n| Name | Version |\n|------|---------|\n")
	for _, tf := range m.blocksOf("terraform", "") {
		if a, ok := tf.Body.Attributes["required_version"]; ok {
			fmt.Fprintf(&b, "| terraform | `%s` |\n", goValue(m.eval(t, a.Expr, nil)))
		}
		for _, rp := range tf.Body.Blocks {
			if rp.Type != "required_providers" {
				continue
			}
			for _, name := range sortedAttrs(rp.Body) {
				p, _ := goValue(m.eval(t, rp.Body.Attributes[name].Expr, nil)).(map[string]any)
				fmt.Fprintf(&b, "| %s | `%v` |\n", name, p["version"])
			}
		}
	}

	if calls := m.blocksOf("module", ""); len(calls) > 0 {
		b.WriteString("\n## Modules\n\n| Name | Source |\n|------|--------|\n")
		for _, c := range calls {
			fmt.Fprintf(&b, "| %s | `%s` |\n", c.Labels[0], goValue(m.eval(t, c.Body.Attributes["source"].Expr, nil)))
		}
	}

	var rows []string
	for _, kind := range []string{"resource", "data"} {
		for _, r := range m.blocksOf(kind, "") {
			typ, kindName, path := r.Labels[0], "resource", "resources"
			if kind == "data" {
				kindName, path = "data source", "data-sources"
			}
			name := typ + "." + r.Labels[1]
			if kind == "data" {
				name = "data." + name
			}
			short := strings.TrimPrefix(typ, "aws_")
			rows = append(rows, fmt.Sprintf("| [%s](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/%s/%s) | %s |", name, path, short, kindName))
		}
	}
	if len(rows) > 0 {
		sort.Strings(rows)
		b.WriteString("\n## Resources\n\n| Name | Type |\n|------|------|\n" + strings.Join(rows, "\n") + "\n")
	}

	b.WriteString("\n## Inputs\n\n| Name | Description | Type | Default | Required |\n|------|-------------|------|---------|:--------:|\n")
	for _, v := range sortedBlocks(m.blocksOf("variable", "")) {
		typ, def, required := "`any`", "n/a", "yes"
		if a, ok := v.Body.Attributes["type"]; ok {
			typ = "`" + oneLineText(exprText(a.Expr)) + "`"
		}
		if a, ok := v.Body.Attributes["default"]; ok {
			def, required = "`"+oneLineText(exprText(a.Expr))+"`", "no"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", v.Labels[0], cell(description(t, m, v)), cell(typ), cell(def), required)
	}

	b.WriteString("\n## Outputs\n\n| Name | Description |\n|------|-------------|\n")
	for _, o := range sortedBlocks(m.blocksOf("output", "")) {
		fmt.Fprintf(&b, "| `%s` | %s |\n", o.Labels[0], cell(description(t, m, o)))
	}
	return b.String()
}

func description(t *testing.T, m *module, b *hclsyntax.Block) string {
	t.Helper()
	a, ok := b.Body.Attributes["description"]
	if !ok {
		return ""
	}
	s, _ := goValue(m.eval(t, a.Expr, nil)).(string)
	return s
}

var spaces = regexp.MustCompile(`\s+`)

func oneLineText(s string) string { return spaces.ReplaceAllString(strings.TrimSpace(s), " ") }

// cell escapes what would break a Markdown table cell or vanish as HTML.
func cell(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", "<br>").Replace(s)
}

func sortedBlocks(bs []*hclsyntax.Block) []*hclsyntax.Block {
	out := append([]*hclsyntax.Block(nil), bs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Labels[0] < out[j].Labels[0] })
	return out
}

func sortedAttrs(body *hclsyntax.Body) []string {
	var names []string
	for n := range body.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestReadmeDocsSpliceIsIdempotent checks the splice keeps hand-written
// text around the markers and replaces only the block.
func TestReadmeDocsSpliceIsIdempotent(t *testing.T) {
	readme := "# m\n\nintro\n\n" + docsBegin + "\nold\n" + docsEnd + "\n\n## Checks\n\ntext\n"
	got := spliceDocs(readme, "new\n")
	want := "# m\n\nintro\n\n" + docsBegin + "\nnew\n" + docsEnd + "\n\n## Checks\n\ntext\n"
	if got != want {
		t.Errorf("splice = %q\nwant %q", got, want)
	}
	if again := spliceDocs(got, "new\n"); again != got {
		t.Errorf("splice is not idempotent: %q", again)
	}
	if got := spliceDocs("# m\n", "x\n"); got != "# m\n\n"+docsBegin+"\nx\n"+docsEnd+"\n" {
		t.Errorf("append = %q", got)
	}
}
