// Package scenarios defines what a chaos trial is (a Scenario, written in
// YAML, with an embedded catalog) and the Runner that walks its phases:
// start -> preload -> steady load -> fault -> recover -> verify.
package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
	"github.com/trigpointing/valkey-chaos/target"
)

//go:embed catalog/*.yaml
var catalogFS embed.FS

// Scenario is one kind of trial, as written in YAML. A scenario may fan out
// into several trials: `faults` lists several kinds, `load.rule: each`
// exercises every save rule in turn.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Faults      []string `yaml:"faults"`
	Load        Load     `yaml:"load"`
	Dataset     Dataset  `yaml:"dataset"`
	// FaultAt places the fault at this fraction of the time from the end of
	// a save to the next fork the rules allow (0.9: late in the cycle; 1:
	// just before the next fork, the worst case). Default 0.9.
	FaultAt      float64           `yaml:"fault_at"`
	StopTimeout  Duration          `yaml:"stop_timeout"`
	RestartDelay Duration          `yaml:"restart_delay"`
	AfterRecover Duration          `yaml:"after_recover"` // keep writing this long after serving
	ServerArgs   []string          `yaml:"server_args"`
	Storage      map[string]string `yaml:"storage"`
	Expect       []string          `yaml:"expect"` // SLO expressions, e.g. "loss_window<=65s"
	// Restore "oldest" replaces dump.rdb, after the fault and before the
	// replacement starts, by the oldest snapshot the trial kept (the
	// dataset's): a volume restored from an old backup. The judge must
	// name the stale load.
	Restore string `yaml:"restore"`
	// Persistence lists the strategies to run every trial under (rdb,
	// none, aof-everysec, aof-always, rdb+aof); default rdb.
	Persistence []string `yaml:"persistence"`
	// HostLoss makes a crash also take the host: what the server wrote but
	// did not fsync is lost (needs EFS-like storage; Jepsen's LazyFS does
	// the same), as a Fargate task's VM goes with its unflushed NFS pages.
	HostLoss bool `yaml:"host_loss"`
	// TaskMemory is the task's hard memory limit ("256MiB"), enforced with
	// a memory cgroup on local runs, as Fargate enforces the task's.
	TaskMemory string `yaml:"task_memory"`
	// Overwrite changes the preloaded (unjudged) keys at a rate from the
	// end of the save during the load: the writes that dirty pages and
	// make a fork's copy-on-write grow.
	Overwrite *OverwriteSpec `yaml:"overwrite"`
	// Reader runs a cache-aside application beside the writer.
	Reader *ReaderSpec `yaml:"reader"`
	// Storage faults, where the fault lands, capacity sweeps (storage.go).
	storageSpec `yaml:",inline"`
	// Deployment drills: other servers, another volume owner (drills.go).
	drillSpec `yaml:",inline"`
	// Source is where the scenario came from ("catalog" or a file path).
	Source string `yaml:"-"`

	// Parsed once by validate, so a bad rate or SLO is refused before any
	// trial runs rather than after one.
	ratePerS   float64   // Load.Rate
	expect     []slo.SLO // Expect
	strategies []savepolicy.Strategy
	taskMemory int64
	reader     *loadgen.ReaderConfig // Reader, parsed: the settings the runner completes per trial
}

// Load is the measured write phase.
type Load struct {
	// Rule selects the rate: "each" (one trial per save rule, at a rate
	// where that rule fires), "sweep" (Points rates spread across the
	// loss-window sawtooth, on both sides of every threshold), a rule index
	// ("0"), or empty with Rate set.
	Rule string `yaml:"rule"`
	// Points is the number of sweep rates (at least 8).
	Points int `yaml:"points"`
	// Rate is a real-time rate ("200/s", "12000/min"); scaled by 1/time-scale.
	Rate      string `yaml:"rate"`
	Conns     int    `yaml:"conns"`
	ValueSize int    `yaml:"value_size"`
	// Client is what the measured writes go through: go-redis (the
	// default, the client applications run) or resp, the writer's raw RESP
	// fast path for rates a go-redis writer cannot keep (issue 16).
	Client string `yaml:"client"`
}

// Dataset is preloaded before the measured writes.
type Dataset struct {
	Keys      int64 `yaml:"keys"`
	ValueSize int   `yaml:"value_size"`
}

// Duration reads "30s", "1m30s" or a number of seconds.
type Duration time.Duration

// UnmarshalYAML accepts Go durations and plain seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration: %w", n.Line, err)
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: use a form like 30s or 2m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// Parse reads one scenario; unknown fields are errors with line numbers.
func Parse(r io.Reader, source string) (*Scenario, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read scenario %s: %w", source, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: scenario %s is empty", result.ErrBadInput, source)
		}
		return nil, fmt.Errorf("%w: scenario %s: %s", result.ErrBadInput, source, yamlProblem(err))
	}
	// fault_at's zero value means "not set" (0.9); written out, 0 is a
	// fault at the save's end, which the range (0, 1] excludes: say so
	// rather than run it at 0.9.
	var given struct {
		FaultAt *float64 `yaml:"fault_at"`
	}
	if yaml.Unmarshal(data, &given) == nil && given.FaultAt != nil && *given.FaultAt == 0 {
		return nil, fmt.Errorf("%w: scenario %s: fault_at 0: use a fraction of the snapshot cycle in (0, 1], e.g. 0.05 for just after the save (or leave it out: 0.9)", result.ErrBadInput, source)
	}
	s.Source = source
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: scenario %s: %w", result.ErrBadInput, source, err)
	}
	return &s, nil
}

// yamlProblem turns the decoder's multi-line report into one line that
// names the field and the fix.
func yamlProblem(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	msgs := make([]string, 0, len(te.Errors))
	for _, m := range te.Errors {
		if strings.Contains(m, " not found in type ") {
			m = m[:strings.Index(m, " not found in type ")] + " is unknown here: check its spelling and indentation against the README's Scenarios section"
		}
		msgs = append(msgs, strings.ReplaceAll(m, "\n", " "))
	}
	return strings.Join(msgs, "; ")
}

func (s *Scenario) validate() error {
	if s.Name == "" {
		return errors.New("name is required")
	}
	if len(s.Faults) == 0 {
		return errors.New("faults is required (e.g. faults: [crash, stop])")
	}
	for _, f := range s.Faults {
		if _, err := target.ParseFaultKind(f); err != nil {
			return err
		}
	}
	if s.Load.Rule == "" && s.Load.Rate == "" {
		return errors.New("load needs rule (each, or a rule index) or rate (e.g. 200/s)")
	}
	if s.Load.Rule != "" && s.Load.Rule != "each" && s.Load.Rule != "sweep" {
		if i, err := strconv.Atoi(s.Load.Rule); err != nil || i < 0 {
			return fmt.Errorf("load.rule %q: use each, sweep or a 0-based rule index", s.Load.Rule)
		}
	}
	if _, err := loadgen.ParseWriterClient(s.Load.Client); err != nil {
		return fmt.Errorf("load.client: %w", err)
	}
	if s.Load.Points != 0 && s.Load.Rule != "sweep" {
		return fmt.Errorf("load.points %d: only a sweep (load.rule: sweep) has points", s.Load.Points)
	}
	if s.Load.Points < 0 || s.Load.Points > 64 {
		return fmt.Errorf("load.points %d: use up to 64 sweep rates (fewer than 8 are raised to 8, the least that covers both sides of every threshold)", s.Load.Points)
	}
	if s.Load.Rate != "" {
		r, err := savepolicy.ParseRate(s.Load.Rate)
		if err != nil {
			return err
		}
		s.ratePerS = r
	}
	expect, err := slo.ParseAll(s.Expect)
	if err != nil {
		return fmt.Errorf("expect: %s", strings.TrimPrefix(err.Error(), result.ErrBadInput.Error()+": "))
	}
	s.expect = expect
	if s.FaultAt < 0 || s.FaultAt > 1 {
		return fmt.Errorf("fault_at %v: use a fraction of the snapshot cycle in (0, 1], e.g. 0.9 (1: just before the next fork)", s.FaultAt)
	}
	if err := s.validateStrategies(); err != nil {
		return err
	}
	if err := s.validateMemory(); err != nil {
		return err
	}
	if s.Restore != "" && s.Restore != "oldest" {
		return fmt.Errorf("restore %q: the only choice is oldest (the dataset's snapshot, taken before the measured writes)", s.Restore)
	}
	if s.Dataset.Keys < 0 {
		return fmt.Errorf("dataset.keys %d: must be zero or more", s.Dataset.Keys)
	}
	if err := s.validateDrill(); err != nil {
		return err
	}
	return s.validateStorage()
}

// Catalog returns the embedded scenarios, sorted by name.
func Catalog() ([]*Scenario, error) {
	entries, err := fs.ReadDir(catalogFS, "catalog")
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	var out []*Scenario
	for _, e := range entries {
		data, err := catalogFS.ReadFile(path.Join("catalog", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read catalog %s: %w", e.Name(), err)
		}
		s, err := Parse(bytes.NewReader(data), "catalog/"+e.Name())
		if err != nil {
			return nil, err
		}
		s.Source = "catalog"
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Resolve turns names and file paths into scenarios: a path to a YAML file
// (anything with a slash or .yaml suffix), else a catalog name.
func Resolve(args []string) ([]*Scenario, error) {
	if len(args) == 0 {
		args = []string{"thresholds"}
	}
	catalog, err := Catalog()
	if err != nil {
		return nil, err
	}
	byName := map[string]*Scenario{}
	var names []string
	for _, s := range catalog {
		byName[s.Name] = s
		names = append(names, s.Name)
	}
	var out []*Scenario
	for _, a := range args {
		if strings.ContainsRune(a, '/') || strings.HasSuffix(a, ".yaml") || strings.HasSuffix(a, ".yml") {
			f, err := os.Open(a)
			if err != nil {
				return nil, fmt.Errorf("%w: scenario file %s: %w", result.ErrBadInput, a, err)
			}
			s, err := Parse(f, a)
			f.Close()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		s, ok := byName[a]
		if !ok {
			return nil, fmt.Errorf("%w: unknown scenario %q: run 'valkey-chaos scenarios' to list them (%s), or pass a YAML file", result.ErrBadInput, a, strings.Join(names, ", "))
		}
		out = append(out, s)
	}
	return out, nil
}
