package scenarios

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// StorageTarget is a Target whose data directory sits on storage the runner
// can fault mid-trial (target/local on the EFS emulator). Faults take
// effect at once and never block.
type StorageTarget interface {
	InjectStorageFault(f target.StorageFault) (id int, err error)
	LiftStorageFault(id int) error
	// StorageNote says what the storage was and whether the emulator, not
	// the modelled storage, set the pace; nil when there is nothing to say.
	StorageNote() *result.StorageNote
}

// StorageValidator is implemented by targets that can check a storage block
// and a storage fault before any trial runs.
type StorageValidator interface {
	ValidateStorage(params map[string]string) error
	ValidateStorageFault(f target.StorageFault) error
}

// storageSpec holds the scenario fields about storage faults, where the
// fault lands, and capacity sweeps. It is inlined into Scenario.
type storageSpec struct {
	// StorageFaults misbehave the data directory's storage during the
	// trial (needs storage.mode efs-...).
	StorageFaults []StorageFaultSpec `yaml:"storage_faults"`
	// FaultAfter places the fault this long after the first save during the
	// load ended, overriding fault_at (storage faults need time to bite).
	FaultAfter Duration `yaml:"fault_after"`
	// FaultDuring "bgsave" holds the fault until a background save runs.
	FaultDuring string `yaml:"fault_during"`
	// BGSaveCrashes crashes the server this many times during a BGSAVE
	// right after the preload, before the measured phase.
	BGSaveCrashes int `yaml:"bgsave_crashes"`
	// KeepTempFiles leaves the temp-*.rdb files killed saves leave behind.
	KeepTempFiles bool `yaml:"keep_temp_files"`
	// Sizes runs one trial per dataset size (keys), a capacity sweep.
	Sizes []int64 `yaml:"sizes"`

	sizeKeys int64 // set on the copies expandSizes makes
}

// StorageFaultSpec is one storage fault of a scenario.
type StorageFaultSpec struct {
	Kind  string   `yaml:"kind"` // eio, enospc, stall, slow, torn
	Path  string   `yaml:"path"` // glob, e.g. temp-*.rdb; empty: every file
	Ops   []string `yaml:"ops"`
	MiBps float64  `yaml:"mibps"` // slow
	Keep  float64  `yaml:"keep"`  // torn
	// At and Lift are moments: a phase (load, save, fault, recover, end)
	// with an optional delay, "save+2s". Lift defaults to recover, so the
	// replacement starts on healthy storage; "end" keeps it to the end.
	At   string `yaml:"at"`
	Lift string `yaml:"lift"`

	at, lift moment // At and Lift, parsed by validateStorage
}

// Trial phases a storage fault can be tied to, in the order they happen.
var storagePhases = []string{"load", "save", "fault", "recover", "end"}

type moment struct {
	phase int
	delay time.Duration
}

func (m moment) String() string {
	if m.delay == 0 {
		return storagePhases[m.phase]
	}
	return storagePhases[m.phase] + "+" + m.delay.String()
}

func parseMoment(field, s, def string) (moment, error) {
	if strings.TrimSpace(s) == "" {
		s = def
	}
	name, delayText, hasDelay := strings.Cut(strings.TrimSpace(s), "+")
	if name == "never" {
		name = "end"
	}
	m := moment{phase: -1}
	for i, p := range storagePhases {
		if p == strings.TrimSpace(name) {
			m.phase = i
		}
	}
	if m.phase < 0 {
		return m, fmt.Errorf("%s %q: use a phase (%s) with an optional delay, e.g. save+2s", field, s, strings.Join(storagePhases, ", "))
	}
	if hasDelay {
		d, err := time.ParseDuration(strings.TrimSpace(delayText))
		if err != nil || d < 0 {
			return m, fmt.Errorf("%s %q: the delay after the phase must be a duration like 2s or 500ms", field, s)
		}
		if m.phase == len(storagePhases)-1 {
			return m, fmt.Errorf("%s %q: nothing happens after end; drop the delay", field, s)
		}
		m.delay = d
	}
	return m, nil
}

func (f StorageFaultSpec) fault() target.StorageFault {
	return target.StorageFault{Kind: f.Kind, Path: f.Path, Ops: f.Ops, MiBps: f.MiBps, Keep: f.Keep}
}

// validateStorage checks the storage fields; errors name the field and the fix.
func (s *Scenario) validateStorage() error {
	mode := s.Storage["mode"]
	if len(s.StorageFaults) > 0 && !strings.HasPrefix(mode, "efs-") {
		return fmt.Errorf("storage_faults need EFS-like storage: set storage: {mode: efs-elastic} (or efs-bursting, efs-provisioned)")
	}
	for i := range s.StorageFaults {
		f := &s.StorageFaults[i]
		field := fmt.Sprintf("storage_faults[%d]", i)
		switch f.Kind {
		case "eio", "enospc", "stall", "slow", "torn":
		default:
			return fmt.Errorf("%s.kind %q: use eio, enospc, stall, slow or torn", field, f.Kind)
		}
		if f.Kind == "slow" && !(f.MiBps > 0) {
			return fmt.Errorf("%s: a slow fault needs mibps above 0 (e.g. mibps: 1)", field)
		}
		if f.At == "" {
			return fmt.Errorf("%s.at is required: when the fault starts, e.g. at: save (the first save during the load ended) or save+2s", field)
		}
		at, err := parseMoment(field+".at", f.At, "")
		if err != nil {
			return err
		}
		lift, err := parseMoment(field+".lift", f.Lift, "recover")
		if err != nil {
			return err
		}
		f.at, f.lift = at, lift
		if lift.phase < at.phase || (lift.phase == at.phase && lift.delay <= at.delay && lift.phase != len(storagePhases)-1) {
			return fmt.Errorf("%s: lift %s comes before at %s: lift it later (default: recover)", field, lift, at)
		}
	}
	if s.FaultAfter < 0 {
		return fmt.Errorf("fault_after %v: must be a positive duration like 5s", time.Duration(s.FaultAfter))
	}
	if s.FaultAfter > 0 && s.FaultAt > 0 {
		return fmt.Errorf("fault_at and fault_after both set: keep one (fault_after is a fixed delay after the save, fault_at a fraction of the cycle)")
	}
	if s.FaultDuring != "" && s.FaultDuring != "bgsave" {
		return fmt.Errorf("fault_during %q: the only choice is bgsave (hold the fault until a background save runs)", s.FaultDuring)
	}
	if s.BGSaveCrashes < 0 || s.BGSaveCrashes > 20 {
		return fmt.Errorf("bgsave_crashes %d: use 0 to 20", s.BGSaveCrashes)
	}
	for i, k := range s.Sizes {
		if k <= 0 {
			return fmt.Errorf("sizes[%d] %d: dataset sizes are key counts above 0, e.g. sizes: [20000, 100000]", i, k)
		}
		if i > 0 && k <= s.Sizes[i-1] {
			return fmt.Errorf("sizes: list the dataset sizes in increasing order (%d after %d)", k, s.Sizes[i-1])
		}
	}
	if len(s.Sizes) > 0 && s.Dataset.Keys > 0 {
		return fmt.Errorf("sizes and dataset.keys both set: the sweep sets the dataset size; keep dataset.value_size only")
	}
	return nil
}

// prepareScenarios expands capacity sweeps into one scenario per size and
// checks storage blocks and faults with the target, before any trial runs.
func prepareScenarios(cfg Config, scens []*Scenario) ([]*Scenario, error) {
	var out []*Scenario
	for _, s := range scens {
		if v, ok := cfg.Target.(StorageValidator); ok {
			if err := v.ValidateStorage(s.Storage); err != nil {
				return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
			}
			for i, f := range s.StorageFaults {
				if err := v.ValidateStorageFault(f.fault()); err != nil {
					return nil, fmt.Errorf("scenario %s: storage_faults[%d]: %w", s.Name, i, err)
				}
			}
		}
		if len(s.StorageFaults) > 0 {
			if _, ok := cfg.Target.(StorageTarget); !ok {
				return nil, fmt.Errorf("%w: scenario %s has storage_faults, which this target cannot inject (use the local target)", result.ErrBadInput, s.Name)
			}
		}
		if _, ok := cfg.Target.(SnapshotRestorer); s.Restore != "" && !ok {
			return nil, fmt.Errorf("%w: scenario %s restores an old snapshot (restore: %s), which this target cannot do: use the local target", result.ErrBadInput, s.Name, s.Restore)
		}
		if len(s.Sizes) == 0 {
			out = append(out, s)
			continue
		}
		for _, k := range s.Sizes {
			c := *s
			c.sizeKeys = k
			out = append(out, &c)
		}
	}
	return out, nil
}

// storageRun applies a trial's storage faults at their moments. Delayed
// actions run on timers; end stops them and lifts what is left, so no
// fault outlives the trial.
type storageRun struct {
	env   *trialEnv
	st    StorageTarget // nil when the target has no faultable storage
	specs []StorageFaultSpec

	mu     sync.Mutex
	ids    map[int]int // spec index -> target fault id, while in force
	events map[int]int // spec index -> index in evs
	evs    []result.StorageFaultEvent
	timers []*time.Timer
	errs   []string
	ended  bool
	first  time.Time // first injection: the achieved rate is judged before it
}

// startStorage prepares the trial's storage faults; they are injected as
// the trial reaches their phases.
func startStorage(env *trialEnv) *storageRun {
	sr := &storageRun{env: env, specs: env.plan.Scenario.StorageFaults, ids: map[int]int{}, events: map[int]int{}}
	sr.st, _ = env.cfg.Target.(StorageTarget)
	return sr
}

// storageDone is what the storage did during the trial.
type storageDone struct {
	events []result.StorageFaultEvent
	errs   []string // injections or lifts that failed: the fault under test never happened
	note   *result.StorageNote
	first  time.Time // first injection (zero: none)
}

func storageMode(n *result.StorageNote) string {
	if n == nil {
		return ""
	}
	return n.Mode
}

// phase is called as the trial reaches a phase: actions tied to it run now
// or after their delay.
func (sr *storageRun) phase(name string) {
	if sr == nil || len(sr.specs) == 0 {
		return
	}
	for i := range sr.specs {
		for _, act := range []struct {
			m      moment
			inject bool
		}{{sr.specs[i].at, true}, {sr.specs[i].lift, false}} {
			if storagePhases[act.m.phase] != name {
				continue
			}
			i, inject := i, act.inject
			run := func() {
				if inject {
					sr.inject(i)
				} else {
					sr.liftOne(i)
				}
			}
			if act.m.delay == 0 {
				run()
				continue
			}
			sr.mu.Lock()
			if !sr.ended {
				sr.timers = append(sr.timers, time.AfterFunc(act.m.delay, run))
			}
			sr.mu.Unlock()
		}
	}
}

func (sr *storageRun) inject(i int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.ended || sr.st == nil {
		return
	}
	f := sr.specs[i]
	id, err := sr.st.InjectStorageFault(f.fault())
	now := time.Now()
	if err != nil {
		sr.errs = append(sr.errs, fmt.Sprintf("storage fault %s could not be injected: %v", f.Kind, err))
		return
	}
	if sr.first.IsZero() {
		sr.first = now
	}
	sr.ids[i] = id
	sr.events[i] = len(sr.evs)
	sr.evs = append(sr.evs, result.StorageFaultEvent{
		Kind: f.Kind, Path: f.Path, Ops: f.Ops, AtS: sr.env.offset(now), Trigger: f.at.String(),
	})
	sr.env.logf("storage fault %s on %q injected (%s)", f.Kind, f.Path, f.at)
}

func (sr *storageRun) liftOne(i int) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	sr.liftLocked(i)
}

func (sr *storageRun) liftLocked(i int) {
	id, ok := sr.ids[i]
	if !ok {
		return
	}
	delete(sr.ids, i)
	if err := sr.st.LiftStorageFault(id); err != nil {
		sr.errs = append(sr.errs, fmt.Sprintf("storage fault %s could not be lifted: %v", sr.specs[i].Kind, err))
		return
	}
	now := time.Now()
	sr.evs[sr.events[i]].LiftS = sr.env.offset(now)
	sr.env.logf("storage fault %s lifted", sr.specs[i].Kind)
}

// end stops pending actions, lifts every fault still in force, and says
// what the storage did.
func (sr *storageRun) end() storageDone {
	if sr == nil {
		return storageDone{}
	}
	sr.mu.Lock()
	sr.ended = true
	timers := sr.timers
	sr.mu.Unlock()
	for _, t := range timers {
		t.Stop() // an action already running finishes under mu before ended is read
	}
	sr.mu.Lock()
	for i := range sr.specs {
		sr.liftLocked(i)
	}
	done := storageDone{events: append([]result.StorageFaultEvent(nil), sr.evs...), errs: sr.errs, first: sr.first}
	sr.mu.Unlock()
	if sr.st != nil {
		done.note = sr.st.StorageNote()
	}
	return done
}

// withStorage records a trial's storage mode in the run's target block:
// "local-disk", or the modes the trials used.
func withStorage(current, mode string) string {
	if mode == "" {
		return current
	}
	modes := strings.Split(current, ", ")
	if current == "" || current == "local-disk" {
		modes = nil
	}
	for _, m := range modes {
		if m == mode {
			return current
		}
	}
	return strings.Join(append(modes, mode), ", ")
}

// sizeLabel tells the trials of a capacity sweep apart in file names.
func (s *Scenario) sizeLabel() string {
	if s.sizeKeys == 0 {
		return ""
	}
	return fmt.Sprintf("-%dkeys", s.sizeKeys)
}

// noteStorage says what the storage faults did to the trial: saves that
// failed or hung, and what that cost. Each line is a failure reason.
func noteStorage(t *result.Trial, evs []result.StorageFaultEvent, tFault time.Duration) []string {
	if len(evs) == 0 {
		return nil
	}
	first := evs[0]
	var lastGood float64
	failed := 0
	for _, s := range t.Saves {
		if s.StartS >= tFault.Seconds() || s.Trigger == "shutdown" {
			continue
		}
		if s.OK && s.StartS < first.AtS {
			lastGood = s.StartS
		}
		if s.StartS >= first.AtS && !s.OK {
			failed++
		}
	}
	window := 0.0
	if w := t.LossWindowS; w != nil {
		window = w.Estimate
	}
	what := fmt.Sprintf("%s on %q from %.2fs", first.Kind, orAll(first.Path), first.AtS)
	switch {
	case first.Kind == "stall" && t.StopEscalated:
		return []string{fmt.Sprintf("the storage stalled (%s): no save finished after the last good save, which forked at %.2fs; the stop's final save hung until SIGKILL at the stop timeout, so the loss is everything since that last good save: %d acknowledged writes, a %.2fs window",
			what, lastGood, t.Lost, window)}
	case t.Refused == nil && failed > 0 && t.Lost > 0:
		return []string{fmt.Sprintf("%d background saves failed on the storage (%s) while writes were still acknowledged (stop-writes-on-bgsave-error no): the loss window grew to %.2fs since the last good save at %.2fs",
			failed, what, window, lastGood)}
	}
	return nil
}

func orAll(glob string) string {
	if glob == "" {
		return "*"
	}
	return glob
}

// noteRefusals measures the writes the server refused with MISCONF (a
// failed background save, stop-writes-on-bgsave-error): how many, from when
// to when, and when acknowledged writes resumed, up to the fault. It says
// so when writes were still refused after the storage healed.
func noteRefusals(h *loadgen.History, tFault time.Duration, evs []result.StorageFaultEvent) (*result.Refusal, []string) {
	var r *result.Refusal
	var last time.Duration
	h.Each(func(op *loadgen.Op) bool {
		if op.Intended >= tFault || op.Outcome != loadgen.Fail || op.Err != loadgen.ErrMisconf {
			return true
		}
		if r == nil {
			r = &result.Refusal{Kind: "misconf", FromS: op.Intended.Seconds()}
		}
		r.Count++
		last = max(last, op.Intended)
		return true
	})
	if r == nil {
		return nil, nil
	}
	r.ToS = last.Seconds()
	r.Seconds = r.ToS - r.FromS
	h.Each(func(op *loadgen.Op) bool {
		if op.Outcome == loadgen.OK && op.Intended > last && op.Intended < tFault && (r.ResumedS == 0 || op.Intended.Seconds() < r.ResumedS) {
			r.ResumedS = op.Intended.Seconds()
		}
		return true
	})
	if len(evs) > 0 {
		if lifted := evs[0].LiftS; lifted > 0 && lifted < tFault.Seconds() && r.ResumedS == 0 {
			return r, []string{fmt.Sprintf("writes were still refused (MISCONF) %.2fs after the storage fault was lifted", tFault.Seconds()-lifted)}
		}
	}
	return r, nil
}
