package savepolicy

import (
	"fmt"
	"io"
	"math"
	"sort"
	"text/tabwriter"
	"time"
)

// Candidate ladders for the tuner: the seconds and counts people write, plus
// the tight values the RPO implies (added per run).
var (
	secondsLadder = []int64{1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400, 43200, 86400}
	countsLadder  = []int64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000}
)

// tuneGrid is how many log-spaced rates the tuner checks across the range
// (plus each candidate rule's switch points).
const tuneGrid = 64

// TuneInput asks for the cheapest rules that keep every write rate in
// [Lo, Hi] within the RPO.
type TuneInput struct {
	RPO            time.Duration
	Lo, Hi         float64
	RDBBytes       int64
	BGSave         time.Duration // overrides RDBBytes / Storage
	Storage        Storage
	Current        Rules // compared side by side; nil for none
	StopTimeout    time.Duration
	RestartsPerDay float64
	// KeyBytes and ValueBytes size the AOF option's entries (defaults 32
	// and 100, the harness's own writes).
	KeyBytes, ValueBytes int
}

// RuleSetSummary is one rule set across the rate range.
type RuleSetSummary struct {
	Rules    string `json:"rules"`
	MeetsRPO bool   `json:"meets_rpo"`
	// OldestLostWriteS is the RPO measure: the worst age of a write a crash
	// loses, over the range, and the rate where it is worst.
	OldestLostWriteS  float64 `json:"oldest_lost_write_s"`
	OldestAtRate      float64 `json:"oldest_at_rate_per_s"`
	WorstWindowS      float64 `json:"worst_window_s"` // time since the snapshot, worst over the range
	SavesPerDayLo     float64 `json:"saves_per_day_at_lo"`
	SavesPerDayHi     float64 `json:"saves_per_day_at_hi"`
	MeanSavesPerDay   float64 `json:"mean_saves_per_day"` // over the range, log-uniform in rate
	BytesPerDayHi     float64 `json:"bytes_per_day_at_hi"`
	USDPerDayHi       float64 `json:"usd_per_day_at_hi"`
	BurstSustainable  *bool   `json:"bursting_sustainable_at_hi,omitempty"`
	BurstDaysFromFull float64 `json:"bursting_days_from_full,omitempty"`
}

// Tuning is the tuner's answer.
type Tuning struct {
	RPOS       float64         `json:"rpo_s"`
	Lo         float64         `json:"lo_per_s"`
	Hi         float64         `json:"hi_per_s"`
	BGSaveS    float64         `json:"bgsave_s"`
	BGSaveFrom string          `json:"bgsave_from"`
	Mode       string          `json:"storage_mode"`
	Feasible   bool            `json:"feasible"`
	Proposed   *RuleSetSummary `json:"proposed,omitempty"`
	Current    *RuleSetSummary `json:"current,omitempty"`
	Candidates int             `json:"candidates_evaluated"`
	// When no rule set can meet the RPO: the best any could do, and what
	// would make it.
	BestPossibleS float64  `json:"best_possible_s,omitempty"`
	NeedMiBps     float64  `json:"need_mibps,omitempty"`
	MaxRDBBytes   int64    `json:"max_rdb_bytes,omitempty"`
	Findings      []string `json:"findings"`
	// AOF is the modelled alternative when no rule set meets the RPO.
	AOF      *AOFOption `json:"aof_option,omitempty"`
	proposed Rules
}

// AOFOption is what an everysec AOF would give at the top of the range, by
// the model; the scenario named measures it.
type AOFOption struct {
	Strategy  Strategy     `json:"strategy"`
	MaxLossS  float64      `json:"max_loss_s"`
	Cost      StrategyCost `json:"cost_at_hi"`
	Latency   string       `json:"latency"`
	Scenario  string       `json:"scenario"`
	AlwaysFor string       `json:"always"`
}

// WorthItScenario is the catalog scenario that measures persistence
// strategies side by side.
const WorthItScenario = "worth-it"

func aofOption(in TuneInput) *AOFOption {
	key, value := in.KeyBytes, in.ValueBytes
	if key <= 0 {
		key = 32
	}
	if value <= 0 {
		value = 100
	}
	cost := in.Storage.StrategyCost(StrategyCostInput{Strategy: StrategyAOFEverysec, RDBBytes: in.RDBBytes,
		WritesPerS: in.Hi, KeyBytes: key, ValueBytes: value, RestartsPerDay: in.RestartsPerDay})
	return &AOFOption{
		Strategy: StrategyAOFEverysec, MaxLossS: AOFEverysecLoss.Seconds(), Cost: cost, Scenario: WorthItScenario,
		Latency:   "everysec fsyncs in a background thread: no added write latency while an fsync takes under 1 s; a slower EFS fsync stalls writes for up to 2 s",
		AlwaysFor: fmt.Sprintf("aof-always loses no acknowledged write but adds one EFS fsync (from %.1f ms) to every write", DefaultEFSWriteLatency.Seconds()*1000),
	}
}

// DefaultEFSWriteLatency is EFS's documented best write latency (FACTS.md
// §7.35), the least an fsync on EFS costs.
const DefaultEFSWriteLatency = 2700 * time.Microsecond

// ProposedRules is the rule set the tuner recommends (nil when none fits).
func (t Tuning) ProposedRules() Rules { return t.proposed }

// ruleProfile is one candidate rule evaluated at every grid rate.
type ruleProfile struct {
	rule             Rule
	mean, high, aged []float64 // seconds from the save's end; aged: age bound
}

// Tune searches rule sets of one to three rules (seconds and counts from
// ladders, plus the tight values the RPO implies) for the fewest saves per
// day (hence bytes written) whose worst oldest-lost-write stays within the
// RPO at every rate in [Lo, Hi]. Adding a rule can only make saves come
// sooner, so larger sets are tried only when no smaller one fits. Ties go to
// fewer rules, then to the better window just below the range.
func Tune(in TuneInput) (Tuning, error) {
	if in.RPO <= 0 {
		return Tuning{}, badInput("RPO %v: must be positive, e.g. --rpo 2m", in.RPO)
	}
	if !(in.Lo > 0 && in.Hi >= in.Lo) {
		return Tuning{}, badInput("rate range %g..%g: need 0 < lo <= hi", in.Lo, in.Hi)
	}
	pin := PlanInput{RDBBytes: in.RDBBytes, BGSave: in.BGSave, Storage: in.Storage}
	dur, from := pin.bgsave()
	d, rpo := dur.Seconds(), in.RPO.Seconds()
	t := Tuning{RPOS: rpo, Lo: in.Lo, Hi: in.Hi, BGSaveS: d, BGSaveFrom: from, Mode: string(in.Storage.Mode), Findings: []string{}}

	// The fastest any rule set can go: a 1 s rule, saving back to back.
	t.BestPossibleS = 1 + Granularity.Seconds() + 2*d
	rates := tuneRates(in.Lo, in.Hi)
	var candidates []ruleProfile
	for _, s := range withTight(secondsLadder, int64(math.Floor(rpo-Granularity.Seconds()-2*d))) {
		if s < 1 || s > maxSeconds || float64(s) > rpo {
			continue
		}
		for _, c := range withTight(countsLadder, int64(math.Floor(in.Lo*(rpo-d-Tick.Seconds())))+1) {
			if c >= 1 && c <= math.MaxInt32 {
				candidates = append(candidates, profileRule(Rule{s, c}, rates, d))
			}
		}
	}
	best, found := searchRuleSets(candidates, rates, d, rpo, in, &t.Candidates)
	if in.Current != nil {
		cur := summarise(in.Current, rates, d, rpo, in)
		t.Current = &cur
	}
	if !found {
		t.explainInfeasible(in, d, rpo)
		return t, nil
	}
	t.Feasible, t.proposed = true, best
	sum := summarise(best, rates, d, rpo, in)
	t.Proposed = &sum
	if in.Storage.Mode == Bursting && sum.BurstSustainable != nil && !*sum.BurstSustainable {
		b := in.Storage.Bursting(in.RDBBytes, sum.SavesPerDayHi, in.RestartsPerDay)
		el := in.Storage
		el.Mode = Elastic
		elCost := el.DailyCost(in.RDBBytes, sum.SavesPerDayHi, in.RestartsPerDay)
		padding := in.Storage.DailyCost(int64(b.StoredBytesNeeded), 0, 0).StorageUSD
		t.Feasible = false
		t.Findings = append(t.Findings, fmt.Sprintf(
			"%q meets the RPO only while Bursting credits last: at %s it writes %s/day against a baseline of %s/day, so a full balance lasts %.1f days; then each save takes %s. Elastic would cost %s/day; or store %s on the file system to raise the baseline (%s/day of storage)",
			best, FormatRate(in.Hi), FormatBytes(sum.BytesPerDayHi), FormatBytes(b.BaselineBytesPerS*86400), b.DaysFromFull,
			fmtDuration(b.SaveAtBaseline), fmtUSD(elCost.TotalUSD), FormatBytes(b.StoredBytesNeeded), fmtUSD(padding)))
	}
	t.Findings = append(t.Findings, t.explainProposal(best, in, d, rpo)...)
	return t, nil
}

// tuneRates is the grid: log-spaced across the range, both ends included.
func tuneRates(lo, hi float64) []float64 {
	if lo == hi {
		return []float64{lo}
	}
	return LogSpace(lo, hi, tuneGrid)
}

func withTight(ladder []int64, tight int64) []int64 {
	out := append([]int64(nil), ladder...)
	if tight >= 1 {
		out = append(out, tight)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func profileRule(r Rule, rates []float64, d float64) ruleProfile {
	p := ruleProfile{rule: r, mean: make([]float64, len(rates)), high: make([]float64, len(rates)), aged: make([]float64, len(rates))}
	for i, rate := range rates {
		b, _ := boundsFor(r, rate, d)
		p.mean[i], p.high[i], p.aged[i] = b.mean, b.high, b.ageHigh
	}
	return p
}

// setScore is a rule set's standing in the search.
type setScore struct {
	feasible  bool
	worstAge  float64 // max over rates of the oldest-lost-write bound
	meanSaves float64 // mean saves/day over the grid
}

func scoreSet(set []ruleProfile, n int, d, rpo float64) setScore {
	sc := setScore{feasible: true}
	for i := 0; i < n; i++ {
		mean, high, aged := math.Inf(1), math.Inf(1), math.Inf(1)
		for _, p := range set {
			mean, high, aged = math.Min(mean, p.mean[i]), math.Min(high, p.high[i]), math.Min(aged, p.aged[i])
		}
		age := math.Min(aged+d, high+2*d)
		sc.worstAge = math.Max(sc.worstAge, age)
		sc.meanSaves += 86400 / (d + mean) / float64(n)
	}
	sc.feasible = sc.worstAge <= rpo
	return sc
}

func searchRuleSets(cands []ruleProfile, rates []float64, d, rpo float64, in TuneInput, evaluated *int) (Rules, bool) {
	n := len(rates)
	better := func(a, b []ruleProfile, sa, sb setScore) bool {
		// Fewest saves first (within 0.5%: ladder noise), then the better
		// window just below the range.
		if math.Abs(sa.meanSaves-sb.meanSaves) > 0.005*sb.meanSaves {
			return sa.meanSaves < sb.meanSaves
		}
		wa, wb := belowRange(a, in.Lo, d), belowRange(b, in.Lo, d)
		if wa != wb {
			return wa < wb
		}
		return sa.worstAge < sb.worstAge
	}
	var bestSet []ruleProfile
	var bestScore setScore
	consider := func(set []ruleProfile) {
		*evaluated++
		sc := scoreSet(set, n, d, rpo)
		if sc.feasible && (bestSet == nil || better(set, bestSet, sc, bestScore)) {
			bestSet, bestScore = append([]ruleProfile(nil), set...), sc
		}
	}
	for i := range cands {
		consider(cands[i : i+1])
	}
	if bestSet == nil {
		for i := range cands {
			for j := i + 1; j < len(cands); j++ {
				consider([]ruleProfile{cands[i], cands[j]})
			}
		}
	}
	if bestSet == nil {
		// Triples from the singles that came closest.
		sorted := append([]ruleProfile(nil), cands...)
		sort.Slice(sorted, func(i, j int) bool {
			return scoreSet(sorted[i:i+1], n, d, rpo).worstAge < scoreSet(sorted[j:j+1], n, d, rpo).worstAge
		})
		sorted = sorted[:min(len(sorted), 30)]
		for i := range sorted {
			for j := i + 1; j < len(sorted); j++ {
				for k := j + 1; k < len(sorted); k++ {
					consider([]ruleProfile{sorted[i], sorted[j], sorted[k]})
				}
			}
		}
	}
	if bestSet == nil {
		return nil, false
	}
	rules := make(Rules, len(bestSet))
	for i, p := range bestSet {
		rules[i] = p.rule
	}
	// Valkey's convention: longest interval first.
	sort.Slice(rules, func(i, j int) bool { return rules[i].Seconds > rules[j].Seconds })
	return rules, true
}

// belowRange is the oldest-lost-write bound at a quarter of the lowest rate:
// how gracefully the rules degrade when traffic falls below the range.
func belowRange(set []ruleProfile, lo, d float64) float64 {
	rules := make(Rules, len(set))
	for i, p := range set {
		rules[i] = p.rule
	}
	return Predict(rules, lo/4, seconds(d)).OldestLostWrite.Seconds()
}

func summarise(rules Rules, rates []float64, d, rpo float64, in TuneInput) RuleSetSummary {
	s := RuleSetSummary{Rules: rules.String()}
	var mean float64
	for _, r := range rates {
		p := Predict(rules, r, seconds(d))
		if !p.Fires {
			s.OldestLostWriteS, s.WorstWindowS, s.OldestAtRate = math.Inf(1), math.Inf(1), r
			continue
		}
		if age := p.OldestLostWrite.Seconds(); age > s.OldestLostWriteS {
			s.OldestLostWriteS, s.OldestAtRate = age, r
		}
		s.WorstWindowS = math.Max(s.WorstWindowS, p.WorstWindow.Seconds())
		mean += p.SavesPerDay / float64(len(rates))
	}
	s.MeanSavesPerDay = mean
	s.SavesPerDayLo = Predict(rules, in.Lo, seconds(d)).SavesPerDay
	s.SavesPerDayHi = Predict(rules, in.Hi, seconds(d)).SavesPerDay
	s.MeetsRPO = s.OldestLostWriteS <= rpo
	if in.RDBBytes > 0 {
		c := in.Storage.DailyCost(in.RDBBytes, s.SavesPerDayHi, in.RestartsPerDay)
		s.BytesPerDayHi, s.USDPerDayHi = c.WriteBytesPerDay, c.TotalUSD
		if in.Storage.Mode == Bursting {
			b := in.Storage.Bursting(in.RDBBytes, s.SavesPerDayHi, in.RestartsPerDay)
			s.BurstSustainable, s.BurstDaysFromFull = &b.Sustainable, b.DaysFromFull
			if !b.Sustainable {
				s.MeetsRPO = false
			}
		}
	}
	if math.IsInf(s.OldestLostWriteS, 1) {
		s.OldestLostWriteS, s.WorstWindowS = 0, 0 // JSON has no infinity; MeetsRPO says it
	}
	return s
}

func (t *Tuning) explainInfeasible(in TuneInput, d, rpo float64) {
	fixed := 1 + Granularity.Seconds()
	if t.BestPossibleS <= rpo {
		// The BGSAVE fits; nothing in the ladders did (should not happen: a
		// "s 1" rule with s = RPO - 2d - 1.1 always does).
		t.Findings = append(t.Findings, fmt.Sprintf("no rule set of 1-3 rules from the ladders keeps the oldest lost write within %s across %s..%s", fmtSeconds(rpo), FormatRate(in.Lo), FormatRate(in.Hi)))
		return
	}
	t.Findings = append(t.Findings, fmt.Sprintf(
		"no save rules can meet a %s RPO: each save takes %s (%s), and a crash just before a save completes loses the previous save's %s plus this one's plus at least %.1f s of clock and tick, so the best any rules can do is %s",
		fmtSeconds(rpo), fmtSeconds(d), t.BGSaveFrom, fmtSeconds(d), fixed, fmtSeconds(t.BestPossibleS)))
	t.AOF = aofOption(in)
	t.Findings = append(t.Findings, fmt.Sprintf(
		"AOF would: appendonly yes with appendfsync everysec loses at most about %s of writes whatever the dataset size; at %s %s (%s); %s; %s. Measure it: valkey-chaos run %s",
		fmtSeconds(t.AOF.MaxLossS), FormatRate(in.Hi), t.AOF.Cost, aofTraffic(t.AOF.Cost), t.AOF.Latency, t.AOF.AlwaysFor, t.AOF.Scenario))
	if budget := (rpo - fixed) / 2; budget > 0 {
		if in.RDBBytes > 0 {
			t.NeedMiBps = float64(in.RDBBytes) / mib / budget
			t.MaxRDBBytes = int64(in.Storage.WriteMiBps() * mib * budget)
			t.Findings = append(t.Findings, fmt.Sprintf(
				"faster saves would: at least %.0f MiB/s (Elastic allows %d MiB/s per client, but Valkey itself serialises only ~25-45 MB/s per core measured here)",
				t.NeedMiBps, ElasticClientMiBps))
			t.Findings = append(t.Findings, fmt.Sprintf("a smaller dataset would: at most %s at %.4g MiB/s", FormatBytes(float64(t.MaxRDBBytes)), in.Storage.WriteMiBps()))
		}
	} else {
		t.Findings = append(t.Findings, fmt.Sprintf("even an instant save cannot: the whole-second clock and the 100 ms tick alone cost %.1f s", fixed))
	}
}

func aofTraffic(c StrategyCost) string {
	return fmt.Sprintf("%d B per write, %s/day appended, %.1f rewrites/day of %s", c.AOFBytesPerWrite,
		FormatBytes(c.AOFBytesPerDay), c.RewritesPerDay, FormatBytes(c.RewriteBytesPerDay/math.Max(c.RewritesPerDay, 1e-9)))
}

func (t *Tuning) explainProposal(best Rules, in TuneInput, d, rpo float64) []string {
	var out []string
	if len(best) == 1 {
		out = append(out, fmt.Sprintf(
			"one rule suffices: at the top of the range every save must start within %s of the previous one's end (RPO - 2 x BGSAVE - 1.1 s), and extra rules can only add saves",
			fmtSeconds(rpo-2*d-Granularity.Seconds())))
		if best[0].Changes > 1 {
			out = append(out, fmt.Sprintf(
				"below %s rule %q waits for its %d changes; if traffic can fall that low, append \"%d 1\" (it costs nothing within the range)",
				FormatRate(in.Lo), best[0], best[0].Changes, max(best[0].Seconds*4, 900)))
		}
	}
	if t.Current != nil && t.Proposed != nil {
		c, p := t.Current, t.Proposed
		if !c.MeetsRPO {
			out = append(out, fmt.Sprintf("the current rules %q miss the RPO: a crash at %s can lose writes %s old", c.Rules, FormatRate(c.OldestAtRate), fmtSeconds(c.OldestLostWriteS)))
		}
		if in.RDBBytes > 0 && c.BytesPerDayHi > 0 {
			out = append(out, fmt.Sprintf("at %s the proposal writes %s/day instead of %s/day", FormatRate(in.Hi), FormatBytes(p.BytesPerDayHi), FormatBytes(c.BytesPerDayHi)))
		}
	}
	if in.StopTimeout > 0 && in.RDBBytes > 0 && seconds(d) > in.StopTimeout {
		out = append(out, fmt.Sprintf("the final save on SIGTERM (%s) exceeds the %s stop timeout whatever the rules: a StopTask will lose writes", fmtSeconds(d), fmtDuration(in.StopTimeout)))
	}
	return out
}

// WriteText prints the comparison table and the findings.
func (t Tuning) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "tune: RPO %s for %s..%s, BGSAVE %s (%s)", fmtSeconds(t.RPOS), FormatRate(t.Lo), FormatRate(t.Hi), fmtSeconds(t.BGSaveS), t.BGSaveFrom)
	if t.Mode != "" {
		fmt.Fprintf(w, ", EFS %s", t.Mode)
	}
	fmt.Fprintf(w, "; %d rule sets evaluated\n", t.Candidates)
	var cols []*RuleSetSummary
	if t.Current != nil {
		cols = append(cols, t.Current)
	}
	if t.Proposed != nil {
		cols = append(cols, t.Proposed)
	}
	if len(cols) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		row := func(name string, f func(*RuleSetSummary) string) {
			fmt.Fprintf(tw, "  %s", name)
			for _, c := range cols {
				fmt.Fprintf(tw, "\t%s", f(c))
			}
			fmt.Fprintln(tw)
		}
		row("", func(c *RuleSetSummary) string {
			if c == t.Current {
				return "current"
			}
			return "proposed"
		})
		row("rules", func(c *RuleSetSummary) string { return c.Rules })
		row("meets RPO", func(c *RuleSetSummary) string {
			if c.MeetsRPO {
				return "yes"
			}
			return "NO"
		})
		row("oldest lost write (worst)", func(c *RuleSetSummary) string {
			if c.OldestLostWriteS == 0 && !c.MeetsRPO {
				return "never saves at some rates"
			}
			return fmt.Sprintf("%s at %s", fmtSeconds(c.OldestLostWriteS), FormatRate(c.OldestAtRate))
		})
		row("window since snapshot (worst)", func(c *RuleSetSummary) string { return fmtSeconds(c.WorstWindowS) })
		row("saves/day (lo .. hi)", func(c *RuleSetSummary) string {
			return fmt.Sprintf("%.0f .. %.0f", c.SavesPerDayLo, c.SavesPerDayHi)
		})
		if t.Current != nil && t.Current.BytesPerDayHi > 0 || t.Proposed != nil && t.Proposed.BytesPerDayHi > 0 {
			row("bytes/day at hi", func(c *RuleSetSummary) string { return FormatBytes(c.BytesPerDayHi) })
			row("$/day at hi", func(c *RuleSetSummary) string { return fmtUSD(c.USDPerDayHi) })
			row("$/month at hi", func(c *RuleSetSummary) string { return fmtUSD(c.USDPerDayHi * daysPerMonth) })
		}
		if t.Mode == string(Bursting) && len(cols) > 0 && cols[0].BurstSustainable != nil {
			row("bursting credits at hi", func(c *RuleSetSummary) string {
				if c.BurstSustainable == nil || *c.BurstSustainable {
					return "sustainable"
				}
				return fmt.Sprintf("drain: %.1f days from full", c.BurstDaysFromFull)
			})
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, f := range t.Findings {
		if _, err := fmt.Fprintf(w, "- %s\n", f); err != nil {
			return err
		}
	}
	return nil
}
