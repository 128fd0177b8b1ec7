package terraform

import (
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// unknown stands for a value Terraform only knows at apply time (a resource
// attribute, a data source, a variable without a default).
const unknown = "<unknown>"

// module is one Terraform module directory, parsed, with its variable
// defaults and locals ready for static evaluation.
type module struct {
	dir       string
	blocks    []*hclsyntax.Block
	variables map[string]*hclsyntax.Block
	defaults  map[string]cty.Value
	locals    map[string]hcl.Expression
}

func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no .tf files in %s (err %v)", dir, err)
	}
	sort.Strings(paths)
	m := &module{
		dir:       dir,
		variables: map[string]*hclsyntax.Block{},
		defaults:  map[string]cty.Value{},
		locals:    map[string]hcl.Expression{},
	}
	parser := hclparse.NewParser()
	for _, p := range paths {
		f, diags := parser.ParseHCLFile(p)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", p, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			m.blocks = append(m.blocks, b)
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = b
				m.defaults[b.Labels[0]] = cty.DynamicVal
				if def, ok := b.Body.Attributes["default"]; ok {
					v, diags := def.Expr.Value(nil)
					if diags.HasErrors() {
						t.Fatalf("variable %q default in %s: %s", b.Labels[0], p, diags.Error())
					}
					m.defaults[b.Labels[0]] = v
				}
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			}
		}
	}
	return m
}

// block returns the block with the given type and labels, failing the test
// when the module has none.
func (m *module) block(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	for _, b := range m.blocks {
		if b.Type == typ && strings.Join(b.Labels, ".") == strings.Join(labels, ".") {
			return b
		}
	}
	t.Fatalf("%s: no %s %q", m.dir, typ, strings.Join(labels, "."))
	return nil
}

// blocksOf returns every block of a type, e.g. all resources of one kind.
func (m *module) blocksOf(typ string, firstLabel string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && (firstLabel == "" || (len(b.Labels) > 0 && b.Labels[0] == firstLabel)) {
			out = append(out, b)
		}
	}
	return out
}

// defaultOf is a variable's default as a Go value.
func (m *module) defaultOf(t *testing.T, name string) any {
	t.Helper()
	v, ok := m.defaults[name]
	if !ok {
		t.Fatalf("%s: no variable %q", m.dir, name)
	}
	return goValue(v)
}

// evalContext holds var (defaults, then overrides), the locals that evaluate
// under them, and unknown values for every other root an expression names.
func (m *module) evalContext(expr hcl.Expression, overrides map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for k, v := range m.defaults {
		vars[k] = v
	}
	for k, v := range overrides {
		vars[k] = v
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: functions(),
	}
	addUnknownRoots(ctx, expr)

	locals := map[string]cty.Value{}
	pending := map[string]hcl.Expression{}
	for k, e := range m.locals {
		pending[k] = e
		addUnknownRoots(ctx, e)
	}
	for progress := true; progress && len(pending) > 0; {
		progress = false
		ctx.Variables["local"] = cty.ObjectVal(locals)
		for name, e := range pending {
			v, diags := e.Value(ctx)
			if diags.HasErrors() {
				continue
			}
			locals[name] = v
			delete(pending, name)
			progress = true
		}
	}
	for name := range pending {
		locals[name] = cty.DynamicVal
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

func addUnknownRoots(ctx *hcl.EvalContext, expr hcl.Expression) {
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if root == "var" || root == "local" {
			continue
		}
		if _, ok := ctx.Variables[root]; !ok {
			ctx.Variables[root] = cty.DynamicVal
		}
	}
}

// eval evaluates an expression of the module statically.
func (m *module) eval(t *testing.T, expr hcl.Expression, overrides map[string]cty.Value) cty.Value {
	t.Helper()
	v, diags := expr.Value(m.evalContext(expr, overrides))
	if diags.HasErrors() {
		t.Fatalf("%s: evaluate %s: %s", m.dir, exprText(expr), diags.Error())
	}
	return v
}

// attr evaluates a block's attribute to a Go value.
func (m *module) attr(t *testing.T, b *hclsyntax.Block, name string, overrides map[string]cty.Value) any {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		t.Fatalf("%s %s: no attribute %q", b.Type, strings.Join(b.Labels, "."), name)
	}
	return goValue(m.eval(t, a.Expr, overrides))
}

// containers evaluates a task definition's container_definitions. The
// jsonencode call is unwrapped so one unknown field (an image URL) leaves the
// rest readable, as tfmodule.SaveRules reads it.
func (m *module) containers(t *testing.T, taskDef *hclsyntax.Block, overrides map[string]cty.Value) []map[string]any {
	t.Helper()
	a, ok := taskDef.Body.Attributes["container_definitions"]
	if !ok {
		t.Fatalf("task definition %s has no container_definitions", taskDef.Labels[1])
	}
	call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "jsonencode" || len(call.Args) != 1 {
		t.Fatalf("container_definitions of %s must be jsonencode([...]) so it can be read statically", taskDef.Labels[1])
	}
	list, ok := goValue(m.eval(t, call.Args[0], overrides)).([]any)
	if !ok {
		t.Fatalf("container_definitions of %s is not a list", taskDef.Labels[1])
	}
	out := make([]map[string]any, len(list))
	for i, c := range list {
		out[i] = c.(map[string]any)
	}
	return out
}

// validationPasses runs every validation block of a variable against a value.
func (m *module) validationPasses(t *testing.T, name string, value cty.Value) bool {
	t.Helper()
	b, ok := m.variables[name]
	if !ok {
		t.Fatalf("%s: no variable %q", m.dir, name)
	}
	for _, v := range b.Body.Blocks {
		if v.Type != "validation" {
			continue
		}
		cond := v.Body.Attributes["condition"].Expr
		got, diags := cond.Value(m.evalContext(cond, map[string]cty.Value{name: value}))
		if diags.HasErrors() || !got.IsKnown() || got.IsNull() || got.False() {
			return false
		}
	}
	return true
}

// refs lists the traversals an expression names, rendered "module.valkey.x".
func refs(expr hcl.Expression) []string {
	var out []string
	for _, tr := range expr.Variables() {
		parts := []string{tr.RootName()}
		for _, step := range tr[1:] {
			if a, ok := step.(hcl.TraverseAttr); ok {
				parts = append(parts, a.Name)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

func exprText(expr hcl.Expression) string {
	r := expr.Range()
	src, err := os.ReadFile(r.Filename)
	if err != nil || r.End.Byte > len(src) {
		return r.String()
	}
	return string(src[r.Start.Byte:r.End.Byte])
}

// goValue turns a cty value into maps, slices, strings, float64 and bools;
// unknown parts become the string unknown.
func goValue(v cty.Value) any {
	switch {
	case !v.IsKnown():
		return unknown
	case v.IsNull():
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString()
	case ty == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f
	case ty == cty.Bool:
		return v.True()
	case ty.IsObjectType() || ty.IsMapType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = goValue(e)
		}
		return out
	case ty.IsTupleType() || ty.IsListType() || ty.IsSetType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, goValue(e))
		}
		return out
	}
	return fmt.Sprintf("<%s>", ty.FriendlyName())
}

func stringList(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("want a list of strings, got %#v", v)
	}
	out := make([]string, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("want a list of strings, element %d is %#v", i, e)
		}
		out[i] = s
	}
	return out
}

// functions are the Terraform functions the modules use, from cty's stdlib
// where Terraform's behave the same.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"alltrue":    allTrueFunc,
		"can":        tryfunc.CanFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"compact":    stdlib.CompactFunc,
		"concat":     stdlib.ConcatFunc,
		"contains":   stdlib.ContainsFunc,
		"distinct":   stdlib.DistinctFunc,
		"element":    stdlib.ElementFunc,
		"flatten":    stdlib.FlattenFunc,
		"floor":      stdlib.FloorFunc,
		"format":     stdlib.FormatFunc,
		"join":       stdlib.JoinFunc,
		"jsonencode": stdlib.JSONEncodeFunc,
		"keys":       stdlib.KeysFunc,
		"length":     lengthFunc,
		"lookup":     stdlib.LookupFunc,
		"merge":      stdlib.MergeFunc,
		"one":        oneFunc,
		"range":      stdlib.RangeFunc,
		"regex":      stdlib.RegexFunc,
		"replace":    stdlib.ReplaceFunc,
		"slice":      stdlib.SliceFunc,
		"split":      stdlib.SplitFunc,
		"startswith": startsWithFunc,
		"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"try":        tryfunc.TryFunc,
	}
}

// allTrueFunc is Terraform's alltrue: every element of a collection is true.
var allTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for it := args[0].ElementIterator(); it.Next(); {
			_, e := it.Element()
			if !e.IsKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			if e.IsNull() || e.Type() != cty.Bool || e.False() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})

// oneFunc is Terraform's one: the only element, or null for none.
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type:   function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var out []cty.Value
		for it := args[0].ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, e)
		}
		switch len(out) {
		case 0:
			return cty.NullVal(cty.DynamicPseudoType), nil
		case 1:
			return out[0], nil
		}
		return cty.NilVal, fmt.Errorf("one: %d elements", len(out))
	},
})

// lengthFunc is Terraform's length: characters of a string, elements of a
// collection.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})

var startsWithFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "string", Type: cty.String}, {Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.BoolVal(strings.HasPrefix(args[0].AsString(), args[1].AsString())), nil
	},
})

func num(f float64) cty.Value { return cty.NumberVal(new(big.Float).SetFloat64(f)) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 20 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
