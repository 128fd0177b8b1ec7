// Package report renders a run's result files as report.md, a self-contained
// report.html and PNG charts (gonum/plot), compares runs, and writes verdicts
// for CI (JUnit XML) and dashboards (JSON lines). It reads result files only,
// never a live server, and renders deterministically: the same run directory
// gives the same bytes (no clock, stable ordering).
package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	htmltemplate "html/template"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
)

// Report and chart file names inside a run directory.
const (
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
	PlotsDir     = "plots"
)

//go:embed templates
var templates embed.FS

// chart is one rendered PNG: written under plots/, linked from report.md,
// embedded in report.html.
type chart struct {
	Title string
	Path  string // relative to the run directory, forward slashes
	png   []byte
}

// DataURI embeds the PNG so report.html needs nothing else.
func (c chart) DataURI() htmltemplate.URL {
	return htmltemplate.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(c.png))
}

// renderSafely turns a panic inside gonum/plot (it panics on some bad
// input) into an error, so one bad chart never loses the whole report.
func renderSafely(name string, draw func() ([]byte, bool, error)) (png []byte, ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			png, ok, err = nil, false, fmt.Errorf("%s chart: %v", name, r)
		}
	}()
	png, ok, err = draw()
	if err != nil {
		err = fmt.Errorf("%s chart: %w", name, err)
	}
	return png, ok, err
}

// Write renders run into dir: plots/*.png, report.md and report.html. It
// only reads the run: the chart paths are result.PlotFiles of each trial,
// which result.json names already. A chart that cannot be drawn is named in
// the report, not fatal; errors are for files that cannot be written.
func Write(dir string, run *result.Run) error {
	if run == nil {
		return fmt.Errorf("%w: no run to render", result.ErrBadInput)
	}
	if err := os.MkdirAll(filepath.Join(dir, PlotsDir), 0o755); err != nil {
		return fmt.Errorf("create plots dir: %w", err)
	}
	v := buildView(dir, run)
	for _, c := range v.allCharts() {
		if err := result.WriteFileAtomic(filepath.Join(dir, filepath.FromSlash(c.Path)), c.png); err != nil {
			return err
		}
	}
	md, err := executeText("templates/report.md.tmpl", v)
	if err != nil {
		return err
	}
	if err := result.WriteFileAtomic(filepath.Join(dir, MarkdownFile), md); err != nil {
		return err
	}
	html, err := executeHTML("templates/report.html.tmpl", v)
	if err != nil {
		return err
	}
	return result.WriteFileAtomic(filepath.Join(dir, HTMLFile), html)
}

var funcs = map[string]any{
	"md":      mdCell,
	"inc":     func(i int) int { return i + 1 },
	"join":    strings.Join,
	"upper":   strings.ToUpper,
	"seconds": fmtSeconds,
}

func executeText(name string, data any) ([]byte, error) {
	t, err := texttemplate.New(filepath.Base(name)).Funcs(funcs).ParseFS(templates, name)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func executeHTML(name string, data any) ([]byte, error) {
	t, err := htmltemplate.New(filepath.Base(name)).Funcs(funcs).ParseFS(templates, name)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// mdCell keeps a value inside one Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// fmtUnixMs renders a wall-clock instant from the run itself (never "now").
func fmtUnixMs(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}
