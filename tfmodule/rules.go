// Package tfmodule reads what the Terraform module deploys, without
// Terraform: the Valkey container's save rules, from the module's HCL. It
// keeps HCL out of everything that imports the model (package savepolicy).
package tfmodule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// maxModuleDepth bounds how far FromTerraform follows local module calls.
const maxModuleDepth = 4

// SaveRules reads the save rules a Terraform configuration deploys,
// statically (no terraform binary, no provider): the `--save` arguments of
// the container command in an aws_ecs_task_definition's
// container_definitions, evaluated with variable defaults (overridden by
// terraform.tfvars and *.auto.tfvars in dir), locals and Terraform's
// common functions. When dir holds no task definition it follows calls to
// local modules (source = "./..." or "../..."), passing their arguments.
// A Valkey container without --save runs the server defaults. Errors unwrap
// to result.ErrBadInput.
func SaveRules(dir string) (savepolicy.Rules, error) {
	inputs, err := readTFVars(dir)
	if err != nil {
		return nil, err
	}
	rules, found, err := readModule(dir, inputs, 0)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, badInput("terraform %s: no aws_ecs_task_definition with a Valkey container command found (nor a local module that has one): point --terraform at the module that deploys Valkey", dir)
	}
	return rules, nil
}

type tfFile struct {
	name string
	src  []byte
}

func readTFFiles(dir, pattern string) ([]tfFile, error) {
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, badInput("terraform %s: %v", dir, err)
	}
	sort.Strings(names)
	var files []tfFile
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, badInput("terraform %s: %v", n, err)
		}
		files = append(files, tfFile{name: n, src: src})
	}
	return files, nil
}

// readTFVars reads the variable values a plan in dir would pick up by itself.
func readTFVars(dir string) (map[string]cty.Value, error) {
	var files []tfFile
	for _, pattern := range []string{"terraform.tfvars", "*.auto.tfvars"} {
		f, err := readTFFiles(dir, pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, f...)
	}
	inputs := map[string]cty.Value{}
	for _, f := range files {
		file, diags := hclsyntax.ParseConfig(f.src, f.name, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, badInput("terraform %s: %s", f.name, oneLine(diags))
		}
		attrs, diags := file.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, badInput("terraform %s: %s", f.name, oneLine(diags))
		}
		for name, a := range attrs {
			v, diags := a.Expr.Value(&hcl.EvalContext{Functions: tfFunctions()})
			if !diags.HasErrors() {
				inputs[name] = v
			}
		}
	}
	return inputs, nil
}

func readModule(dir string, inputs map[string]cty.Value, depth int) (savepolicy.Rules, bool, error) {
	hits, err := findInModules(dir, inputs, depth, (*tfModule).saveRules)
	if err != nil || len(hits) == 0 {
		return nil, false, err
	}
	// All modules that deploy Valkey must agree.
	var from []string
	for _, h := range hits {
		from = append(from, fmt.Sprintf("%s: %q", h.from, h.value))
	}
	for _, h := range hits[1:] {
		if h.value.String() != hits[0].value.String() {
			return nil, false, badInput("terraform %s: modules deploy different save rules (%s): point --terraform at one of them", dir, strings.Join(from, ", "))
		}
	}
	return hits[0].value, true, nil
}

// hit is what a search of modules found, and in which module call.
type hit[T any] struct {
	from  string // "" for dir itself, else `module "name"`
	value T
}

// findInModules parses the module in dir and asks find; when find finds
// nothing there it follows calls to local modules (source "./..." or
// "../..."), passing their arguments, and returns every hit.
func findInModules[T any](dir string, inputs map[string]cty.Value, depth int, find func(*tfModule, map[string]cty.Value) (T, bool, error)) ([]hit[T], error) {
	if depth > maxModuleDepth {
		return nil, badInput("terraform %s: modules nest deeper than %d", dir, maxModuleDepth)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		if errors.Is(err, os.ErrNotExist) {
			return nil, badInput("terraform directory %s not found: pass the module directory (e.g. terraform/modules/valkey)", dir)
		}
		return nil, badInput("terraform %s: not a directory of .tf files", dir)
	}
	files, err := readTFFiles(dir, "*.tf")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, badInput("terraform %s: no .tf files there", dir)
	}
	m, err := parseModule(files)
	if err != nil {
		return nil, err
	}
	v, found, err := find(m, inputs)
	if err != nil {
		return nil, err
	}
	if found {
		return []hit[T]{{value: v}}, nil
	}
	var hits []hit[T]
	for _, call := range m.calls {
		if !strings.HasPrefix(call.source, "./") && !strings.HasPrefix(call.source, "../") {
			continue
		}
		sub, err := findInModules(filepath.Join(dir, call.source), m.evalArgs(call, inputs), depth+1, find)
		if err != nil {
			return nil, fmt.Errorf("module %q: %w", call.name, err)
		}
		for _, h := range sub {
			hits = append(hits, hit[T]{from: fmt.Sprintf("module %q", call.name), value: h.value})
		}
	}
	return hits, nil
}

type tfVariable struct {
	def    hcl.Expression // nil: no default
	hasDef bool
}

type tfModuleCall struct {
	name, source string
	args         map[string]hcl.Expression
}

// tfModule is the part of one Terraform module the reader needs.
type tfModule struct {
	variables map[string]tfVariable
	locals    map[string]hcl.Expression
	taskDefs  []hcl.Expression // container_definitions of aws_ecs_task_definition
	calls     []tfModuleCall
	outputs   map[string]hcl.Expression // output values by name
	exprs     []hcl.Expression          // everything evaluated, for roots and functions
	names     []string                  // file names, for messages
}

// parseModule reads variables, locals, task definitions and module calls
// from the files of one module.
func parseModule(files []tfFile) (*tfModule, error) {
	m := &tfModule{variables: map[string]tfVariable{}, locals: map[string]hcl.Expression{}, outputs: map[string]hcl.Expression{}}
	for _, f := range files {
		m.names = append(m.names, f.name)
		file, diags := hclsyntax.ParseConfig(f.src, f.name, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, badInput("terraform %s: %s", f.name, oneLine(diags))
		}
		body, ok := file.Body.(*hclsyntax.Body)
		if !ok {
			return nil, badInput("terraform %s: not native HCL syntax", f.name)
		}
		for _, b := range body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				v := tfVariable{}
				if a, ok := b.Body.Attributes["default"]; ok {
					v = tfVariable{def: a.Expr, hasDef: true}
					m.exprs = append(m.exprs, a.Expr)
				}
				m.variables[b.Labels[0]] = v
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
					m.exprs = append(m.exprs, a.Expr)
				}
			case b.Type == "resource" && len(b.Labels) == 2 && b.Labels[0] == "aws_ecs_task_definition":
				if a, ok := b.Body.Attributes["container_definitions"]; ok {
					m.taskDefs = append(m.taskDefs, a.Expr)
					m.exprs = append(m.exprs, a.Expr)
				}
			case b.Type == "output" && len(b.Labels) == 1:
				if a, ok := b.Body.Attributes["value"]; ok {
					m.outputs[b.Labels[0]] = a.Expr
					m.exprs = append(m.exprs, a.Expr)
				}
			case b.Type == "module" && len(b.Labels) == 1:
				call := tfModuleCall{name: b.Labels[0], args: map[string]hcl.Expression{}}
				for name, a := range b.Body.Attributes {
					if name == "source" {
						if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
							call.source = v.AsString()
						}
						continue
					}
					call.args[name] = a.Expr
					m.exprs = append(m.exprs, a.Expr)
				}
				m.calls = append(m.calls, call)
			}
		}
	}
	return m, nil
}

// evalContext resolves var (inputs, else defaults, else unknown), local
// (evaluated in dependency order), every other root (resources, data,
// path, ...) as unknown, and functions (Terraform's common ones; any other
// returns unknown, so only what depends on it is lost).
func (m *tfModule) evalContext(inputs map[string]cty.Value) *hcl.EvalContext {
	funcs := tfFunctions()
	roots := map[string]bool{}
	for _, e := range m.exprs {
		for _, t := range e.Variables() {
			roots[t.RootName()] = true
		}
		if se, ok := e.(hclsyntax.Expression); ok {
			hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
				if call, ok := n.(*hclsyntax.FunctionCallExpr); ok {
					if _, known := funcs[call.Name]; !known {
						funcs[call.Name] = unknownFunc
					}
				}
				return nil
			})
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: funcs}
	for r := range roots {
		ctx.Variables[r] = cty.DynamicVal
	}
	vars := map[string]cty.Value{}
	for name, v := range m.variables {
		in, given := inputs[name]
		switch {
		case given:
			vars[name] = in
		case v.hasDef:
			val, diags := v.def.Value(&hcl.EvalContext{Functions: funcs})
			if diags.HasErrors() {
				val = cty.DynamicVal
			}
			vars[name] = val
		default:
			vars[name] = cty.DynamicVal
		}
	}
	ctx.Variables["var"] = objectOrEmpty(vars)

	locals := map[string]cty.Value{}
	pending := map[string]bool{}
	for name := range m.locals {
		pending[name] = true
	}
	for progress := true; progress && len(pending) > 0; {
		progress = false
		for _, name := range sortedKeys(pending) {
			expr := m.locals[name]
			ready := true
			for _, t := range expr.Variables() {
				if t.RootName() != "local" || len(t) < 2 {
					continue
				}
				if attr, ok := t[1].(hcl.TraverseAttr); ok && pending[attr.Name] {
					ready = false
				}
			}
			if !ready {
				continue
			}
			ctx.Variables["local"] = objectOrEmpty(locals)
			val, diags := safeValue(expr, ctx)
			if diags.HasErrors() {
				val = cty.DynamicVal
			}
			locals[name] = val
			delete(pending, name)
			progress = true
		}
	}
	for name := range pending { // a cycle: Terraform would refuse it too
		locals[name] = cty.DynamicVal
	}
	ctx.Variables["local"] = objectOrEmpty(locals)
	return ctx
}

func (m *tfModule) evalArgs(call tfModuleCall, inputs map[string]cty.Value) map[string]cty.Value {
	ctx := m.evalContext(inputs)
	args := map[string]cty.Value{}
	for name, e := range call.args {
		v, diags := safeValue(e, ctx)
		if diags.HasErrors() {
			v = cty.DynamicVal
		}
		args[name] = v
	}
	return args
}

// container is one entry of container_definitions with a command.
type container struct {
	name, image string
	command     []string // savepolicy.UnknownArg where the value is only known at apply time
}

// saveRules finds the Valkey container's command and applies its --save
// arguments. found is false when the module has no such container.
func (m *tfModule) saveRules(inputs map[string]cty.Value) (savepolicy.Rules, bool, error) {
	if len(m.taskDefs) == 0 {
		return nil, false, nil
	}
	ctx := m.evalContext(inputs)
	var containers []container
	for _, expr := range m.taskDefs {
		v, err := containerDefinitions(expr, ctx)
		if err != nil {
			return nil, false, err
		}
		findContainers(v, &containers, 0)
	}
	type candidate struct {
		c     container
		rules savepolicy.Rules
	}
	var withSave, valkeyLike []candidate
	for _, c := range containers {
		rules, found, err := savepolicy.FromCommand(c.command)
		if err != nil {
			return nil, false, badInput("terraform %s: container %q: %v", strings.Join(m.names, ", "), c.name, err)
		}
		described := strings.ToLower(c.name + " " + c.image + " " + strings.Join(c.command, " "))
		// This harness's own scheduled task (chaos-schedule) names Valkey
		// everywhere but runs no server.
		harness := strings.Contains(strings.ToLower(c.name+" "+c.image), "valkey-chaos") ||
			len(c.command) > 0 && c.command[0] == "run" && slices.Contains(c.command, "--target")
		looksValkey := strings.Contains(described, "valkey") && !harness
		switch {
		case found:
			withSave = append(withSave, candidate{c, rules})
		case looksValkey:
			for _, a := range c.command {
				if strings.HasSuffix(a, ".conf") {
					return nil, false, badInput("terraform: container %q reads its configuration from %s inside the image, which this reader cannot see: pass --config with that file", c.name, a)
				}
			}
			// No --save: the server runs its built-in defaults.
			defaults, _ := savepolicy.Parse(savepolicy.ServerDefault)
			valkeyLike = append(valkeyLike, candidate{c, defaults})
		}
	}
	pick := withSave
	if len(pick) == 0 {
		pick = valkeyLike
	}
	switch len(pick) {
	case 0:
		return nil, false, nil
	case 1:
		return pick[0].rules, true, nil
	}
	for _, p := range pick[1:] {
		if p.rules.String() != pick[0].rules.String() {
			return nil, false, badInput("terraform: containers %q and %q set different save rules (%q, %q): point --terraform at one module", pick[0].c.name, p.c.name, pick[0].rules, p.rules)
		}
	}
	return pick[0].rules, true, nil
}

// containerDefinitions evaluates the attribute to a value holding the
// container objects. jsonencode(...) is unwrapped so that unknown parts
// elsewhere (an image tag variable without a default, a log group's name)
// do not make the whole string unknown.
func containerDefinitions(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, error) {
	if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "jsonencode" && len(call.Args) == 1 {
		expr = call.Args[0]
	}
	v, diags := safeValue(expr, ctx)
	if diags.HasErrors() && !v.IsKnown() {
		return cty.NilVal, badInput("terraform %s: container_definitions: %s", expr.Range().Filename, oneLine(diags))
	}
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		// A JSON document (heredoc, file contents already inlined).
		data := []byte(v.AsString())
		ty, err := ctyjson.ImpliedType(data)
		if err != nil {
			return cty.NilVal, badInput("terraform %s: container_definitions is not JSON: %v", expr.Range().Filename, err)
		}
		if v, err = ctyjson.Unmarshal(data, ty); err != nil {
			return cty.NilVal, badInput("terraform %s: container_definitions is not JSON: %v", expr.Range().Filename, err)
		}
	}
	return v, nil
}

// findContainers walks v for objects with a command and a name or image
// (a health check's command has neither, so it is not mistaken for one).
func findContainers(v cty.Value, out *[]container, depth int) {
	if depth > 32 || !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return
	}
	ty := v.Type()
	if ty.IsObjectType() || ty.IsMapType() {
		if cmd, ok := attr(v, "command"); ok {
			name, _ := attr(v, "name")
			image, _ := attr(v, "image")
			if s := asString(name); s != "" || asString(image) != "" {
				*out = append(*out, container{name: s, image: asString(image), command: asStrings(cmd)})
				return
			}
		}
	}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		findContainers(e, out, depth+1)
	}
}
