package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// TrialPlan is one expanded trial with everything it needs resolved once,
// the flags (Config) over the scenario's own, so a trial and its dry run
// agree and no phase resolves a setting again.
type TrialPlan struct {
	Scenario  *Scenario
	Fault     target.FaultKind
	Index     int
	Seq       int     // position in the run: scopes the key prefix
	RuleIndex int     // -1 when the rate is explicit
	RealRate  float64 // writes/s at time scale 1, before the BGSAVE is measured
	Label     string

	Strategy    savepolicy.Strategy // how the server persists (rdb, none, aof-...)
	Rules       savepolicy.Rules    // scaled: what the server is started with (none without snapshots)
	RealRules   savepolicy.Rules    // at time scale 1
	TimeScale   float64
	Rate        float64 // scaled writes/s, re-planned from the measured BGSAVE (replan)
	Conns       int
	ValueSize   int                  // measured writes
	Client      loadgen.WriterClient // what the measured writes go through
	Keys        int64                // dataset keys to preload
	DatasetSize int                  // dataset value size
	Prefix      string               // vc:<run-id>.<seq>:
	StopTimeout time.Duration
	TaskMemory  int64   // hard memory limit in bytes; 0: none
	FaultAt     float64 // fraction of the way from a save's end to the next fork
}

// startSpec is what the target starts for this trial.
func (p TrialPlan) startSpec() target.StartSpec {
	s := p.Scenario
	return target.StartSpec{
		Save:          p.Rules.String(),
		ExtraArgs:     serverArgs(p.Strategy, s.ServerArgs),
		Label:         p.Label,
		StopTimeout:   p.StopTimeout,
		RestartDelay:  time.Duration(s.RestartDelay),
		Storage:       s.Storage,
		KeepTempFiles: s.KeepTempFiles,
		TaskMemory:    p.TaskMemory,
		Drill:         s.drill(),
	}
}

// keyPrefix is the trial's key namespace. DESIGN.md names keys
// vc:<run-id>:<seq>; the trial number in the prefix (and loadgen's w: for
// measured writes, d: for the dataset) scopes the read-back, the
// unexpected-key scan and the cleanup to one trial, so a trial never takes
// the previous trial's keys for its own.
func keyPrefix(runID string, seq int) string { return fmt.Sprintf("vc:%s.%d:", runID, seq) }

// Plan expands scenarios into trials: one per fault, per exercised rule and
// per repetition, in a stable order.
func Plan(cfg Config, scens []*Scenario) ([]TrialPlan, error) {
	trials := max(cfg.Trials, 1)
	scaled := cfg.SaveReal.Scale(cfg.TimeScale)
	var plans []TrialPlan
	for _, s := range scens {
		rates, err := planRates(cfg, s)
		if err != nil {
			return nil, fmt.Errorf("%w: scenario %s: %w", result.ErrBadInput, s.Name, err)
		}
		base := TrialPlan{Scenario: s, Rules: scaled, RealRules: cfg.SaveReal, TimeScale: cfg.TimeScale,
			Conns: orDefault(s.Load.Conns, 16), ValueSize: orDefault(s.Load.ValueSize, 100),
			Client: loadgen.WriterClient(s.Load.Client),
			Keys:   s.Dataset.Keys, DatasetSize: orDefault(s.Dataset.ValueSize, 100),
			StopTimeout: time.Duration(s.StopTimeout), FaultAt: s.FaultAt}
		switch {
		case s.sizeKeys > 0:
			base.Keys = s.sizeKeys // a capacity sweep sets each trial's size
		case cfg.Keys >= 0:
			base.Keys = cfg.Keys
		}
		if cfg.StopTimeout > 0 {
			base.StopTimeout = cfg.StopTimeout
		}
		base.TaskMemory = s.taskMemory
		if cfg.TaskMemory > 0 {
			base.TaskMemory = cfg.TaskMemory
		}
		if base.FaultAt == 0 {
			base.FaultAt = 0.9
		}
		strategies := strategiesOf(cfg, s)
		for _, rc := range rates {
			for _, st := range strategies {
				for _, f := range s.Faults {
					kind, _ := target.ParseFaultKind(f) // validated
					for rep := 0; rep < trials; rep++ {
						p := base
						p.Fault, p.Index, p.RuleIndex, p.RealRate, p.Strategy = kind, rep, rc.rule, rc.real, st
						if !st.Snapshots() {
							p.Rules = nil
						}
						p.Rate = rc.real / cfg.TimeScale
						p.Label = fmt.Sprintf("%s-%s-%s", s.Name, rc.tag, kind) + s.sizeLabel() // sweep trials differ only in size
						if len(strategies) > 1 || st != savepolicy.StrategyRDB {
							p.Label += "-" + strings.ReplaceAll(string(st), "+", "-")
						}
						if trials > 1 {
							p.Label += fmt.Sprintf("-%d", rep)
						}
						p.Seq = len(plans)
						p.Prefix = keyPrefix(cfg.RunID, p.Seq)
						plans = append(plans, p)
					}
				}
			}
		}
	}
	return plans, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// replanned is the measured phase's rate once the dataset's BGSAVE has been
// measured (the save is never scaled and shifts which rule fires), and
// what the scaled trial does not represent.
type replanned struct {
	rate float64
	note string
}

// replan re-plans a rule-chosen rate from the measured BGSAVE; an explicit
// rate (--rate, load.rate, a sweep point) stays as planned.
func (p TrialPlan) replan(bgsave time.Duration) replanned {
	if p.RuleIndex < 0 || p.Scenario.Load.Rule == "sweep" || p.Scenario.Load.Rule == "" {
		return replanned{rate: p.Rate}
	}
	ex, ok := savepolicy.ExerciseRateAt(p.RealRules, p.TimeScale, p.RuleIndex, bgsave)
	if !ok {
		return replanned{rate: p.Rate, note: fmt.Sprintf("with a %.2fs BGSAVE no write rate makes rule %q fire first: the trial runs at the planned %s", bgsave.Seconds(), p.Rules[p.RuleIndex], savepolicy.FormatRate(p.Rate))}
	}
	return replanned{rate: ex.Rate, note: ex.Note}
}

// rateChoice is one write rate a scenario exercises.
type rateChoice struct {
	rule int     // index into the rules that fires at this rate; -1: not chosen by rule
	real float64 // writes/s at time scale 1
	tag  string  // for the trial's label
}

// planRates picks a scenario's write rates: --rate, one per rule (each), a
// sweep across the sawtooth, one rule by index, or the scenario's rate.
// Rules are chosen on the scaled rules, the ones the server runs, keeping
// each rule's real regime where a scaled rate can (replan refines the rate
// once the BGSAVE is measured).
func planRates(cfg Config, s *Scenario) ([]rateChoice, error) {
	scaled := cfg.SaveReal.Scale(cfg.TimeScale)
	byRule := func(i int) (rateChoice, bool) {
		ex, ok := savepolicy.ExerciseRateAt(cfg.SaveReal, cfg.TimeScale, i, 0)
		return rateChoice{i, ex.Rate * cfg.TimeScale, strings.ReplaceAll(cfg.SaveReal[i].String(), " ", "-")}, ok
	}
	switch {
	case cfg.Rate > 0:
		return []rateChoice{{-1, cfg.Rate, fmtRate(cfg.Rate)}}, nil
	case s.Load.Rule == "":
		return []rateChoice{{-1, s.ratePerS, fmtRate(s.ratePerS)}}, nil
	case len(scaled) == 0:
		return nil, fmt.Errorf(`load.rule %s chooses rates by the save rules, but --save is "": persistence is off. To measure a cache without snapshots deliberately, run the worth-it scenario with --persistence none`, s.Load.Rule)
	case s.Load.Rule == "each":
		var rates []rateChoice
		for i := range scaled {
			if rc, ok := byRule(i); ok { // else a shorter rule always fires first
				rates = append(rates, rc)
			}
		}
		return rates, nil
	case s.Load.Rule == "sweep":
		var rates []rateChoice
		for _, rate := range savepolicy.SweepRates(scaled, s.Load.Points) {
			rule := slices.Index(scaled, savepolicy.Predict(scaled, rate, 0).Rule)
			rates = append(rates, rateChoice{rule, rate * cfg.TimeScale, fmtRate(rate * cfg.TimeScale)})
		}
		return rates, nil
	}
	i, _ := strconv.Atoi(s.Load.Rule) // validated
	if i >= len(scaled) {
		return nil, fmt.Errorf("load.rule %d but the save rules %q have %d rules", i, cfg.SaveReal, len(scaled))
	}
	rc, ok := byRule(i)
	if !ok {
		return nil, fmt.Errorf("no write rate makes rule %q fire first", cfg.SaveReal[i])
	}
	return []rateChoice{rc}, nil
}

func fmtRate(r float64) string {
	return strings.ReplaceAll(strconv.FormatFloat(r, 'g', 4, 64), ".", "_") + "ps"
}
