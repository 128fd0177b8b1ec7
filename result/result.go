// Package result is the schema of result.json, the one file every other command
// (report, compare, scheduled jobs) reads. Writes are atomic: a run that dies
// midway leaves the previous complete version or a valid partial one with
// "complete": false, never a half-written file.
package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Schema names the version of this file format. Readers refuse other versions.
const Schema = "valkey-chaos/result/v1"

// FileName is the name of the result file inside a run directory.
const FileName = "result.json"

// Run is one invocation of `valkey-chaos run`: a target and its trials.
type Run struct {
	Schema         string   `json:"schema"`
	RunID          string   `json:"run_id"`
	Complete       bool     `json:"complete"`
	StartedUnixMs  int64    `json:"started_unix_ms"`
	FinishedUnixMs int64    `json:"finished_unix_ms,omitempty"`
	Harness        Harness  `json:"harness"`
	Args           []string `json:"args,omitempty"`
	Target         Target   `json:"target"`
	Trials         []Trial  `json:"trials"`
	Interrupted    string   `json:"interrupted,omitempty"` // why a partial run stopped early
	SLOs           []string `json:"slos,omitempty"`        // --slo expressions applied to every trial
}

// Harness identifies the build that produced a run.
type Harness struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	// PeakRSSBytes is the harness's own peak resident memory over the run
	// so far (VmHWM): what a capacity review of the harness itself needs.
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// Target echoes where the run happened and with which persistence settings.
type Target struct {
	Kind          string  `json:"kind"` // "local" or "ecs"
	ServerVersion string  `json:"server_version"`
	ServerBin     string  `json:"server_bin,omitempty"`
	Save          string  `json:"save"`      // rules the server ran with (scaled)
	SaveReal      string  `json:"save_real"` // the rules they stand for (time scale 1)
	TimeScale     float64 `json:"time_scale"`
	StopTimeoutS  float64 `json:"stop_timeout_s"`
	Storage       string  `json:"storage,omitempty"` // local-disk, efs-bursting, ...
	Cluster       string  `json:"cluster,omitempty"`
	Service       string  `json:"service,omitempty"`
	Dataset       Dataset `json:"dataset"`
}

// Dataset is what the preload phase built before the measured writes.
type Dataset struct {
	Keys       int64 `json:"keys"`
	ValueBytes int   `json:"value_bytes"`
	RDBBytes   int64 `json:"rdb_bytes,omitempty"`
}

// Window is a duration known to lie within [Low, High], with a point estimate.
type Window struct {
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
	Estimate float64 `json:"estimate"`
	// OneSided: no write survived, so only the low end is evidence (the
	// snapshot instant lies before the first lost acknowledgement); High is
	// the fault minus the oldest snapshot the replacement could have loaded.
	OneSided bool `json:"one_sided,omitempty"`
}

// Trial is one scenario executed once: load, fault, recovery, read-back.
// Every duration is in seconds at the time scale the run used; offsets ending
// in _s without "unix" are seconds from the trial's start (TrialStartUnixMs).
type Trial struct {
	Scenario string `json:"scenario"`
	Index    int    `json:"index"` // 0-based repetition of this scenario
	Fault    string `json:"fault"`
	Seed     int64  `json:"seed"`
	Rule     string `json:"rule,omitempty"` // the save rule the rate was chosen to exercise

	TrialStartUnixMs int64   `json:"trial_start_unix_ms"`
	RatePerS         float64 `json:"rate_per_s"`
	AchievedRatePerS float64 `json:"achieved_rate_per_s"` // before the fault
	// WriterClient is set when the measured writes went through the resp
	// fast path instead of go-redis (load.client): their latencies are
	// then a raw client's, not an application's.
	WriterClient string `json:"writer_client,omitempty"`

	Writes     int `json:"writes"` // all ops issued
	Acked      int `json:"acked"`
	Failed     int `json:"failed"`
	Unknown    int `json:"unknown"`
	Lost       int `json:"lost"`
	Recovered  int `json:"recovered"`
	Unexpected int `json:"unexpected"`
	Corrupt    int `json:"corrupt"`
	Anomalies  int `json:"anomalies"`

	LostSpanS            *Span   `json:"lost_span_s,omitempty"`
	LossWindowS          *Window `json:"loss_window_s,omitempty"`
	PredictedLossWindowS float64 `json:"predicted_loss_window_s"`
	PredictedRule        string  `json:"predicted_rule,omitempty"`
	BGSaveS              float64 `json:"bgsave_s,omitempty"` // duration of the last background save before the fault

	TFaultUnixMs   int64  `json:"t_fault_unix_ms"`
	SnapshotUnixMs int64  `json:"snapshot_unix_ms,omitempty"`
	SnapshotSource string `json:"snapshot_source,omitempty"` // "server-log" or "client-bracket"

	WarmupS *float64 `json:"warmup_s"` // new process start -> first non-LOADING reply
	// WarmupUpperBound: the first probe already met a non-LOADING reply,
	// so warmup_s bounds the load from above and is no measurement.
	WarmupUpperBound bool `json:"warmup_upper_bound,omitempty"`
	// StaleLoad is set when the replacement loaded an older snapshot than
	// the last completed save.
	StaleLoad *StaleLoad `json:"stale_load,omitempty"`
	// FiredRules are the save rules the server log names as triggers of
	// the saves during the load ("60 10000"), at the run's scale.
	FiredRules []string `json:"fired_rules,omitempty"`
	// ServerChangesPerS is the server's own change rate during the load
	// (rdb_changes_since_last_save over time), beside RatePerS.
	ServerChangesPerS float64 `json:"server_changes_per_s,omitempty"`
	// Unread says why the keys were never read back (the run was cut
	// short first); absent when they were. lost and the other counts are
	// then unknown, never 0.
	Unread string `json:"unread,omitempty"`
	// StoppedServing says how the server went away after it had recovered
	// and served, during the read-back (the connection closed or reset,
	// nothing listened, no reply, LOADING again): e.g. a health check
	// killed the replacement. A failure of the system under test, not of
	// the harness; Unread is set with it, the counts are unknown.
	StoppedServing string `json:"stopped_serving,omitempty"`
	// Classified is what the classification was given besides the history
	// and the read-back files: `valkey-chaos check` redoes it from these.
	Classified *Classified `json:"classified,omitempty"`
	// Persistence is the strategy the server ran (rdb, none, aof-everysec,
	// aof-always, rdb+aof); empty means rdb.
	Persistence string `json:"persistence,omitempty"`
	// AllowedLoss is what a correct server may lose under this strategy and
	// fault; the judge holds the loss against it instead of the rules'
	// window when the strategy is not rdb.
	AllowedLoss *AllowedLoss `json:"allowed_loss,omitempty"`
	// OldestLostS is how long before the fault the oldest lost write was
	// acknowledged (t_fault - first lost ack); the AOF strategies' bound.
	OldestLostS *float64 `json:"oldest_lost_s,omitempty"`
	// HostLoss: the trial also dropped what the server had not fsynced when
	// the fault landed (the task's VM went with it).
	HostLoss *HostLoss `json:"host_loss,omitempty"`
	// Memory is what the trial saw of memory: the dataset, the fork's copy
	// on write, the task's limit, an OOM kill.
	Memory *Memory `json:"memory,omitempty"`
	// Evicted and Expired are measured writes the server evicted
	// (maxmemory) or expired, key by key from its keyspace notifications:
	// absent after recovery but not persistence loss, so not in lost.
	Evicted int `json:"evicted,omitempty"`
	Expired int `json:"expired,omitempty"`
	// ActualFault is the fault that really ended the old server when it
	// was not the planned one (oom-kill: the kernel killed it first).
	ActualFault string `json:"actual_fault,omitempty"`
	// KeptData is the trial's data directory kept with the run
	// (--keep-data), each dump checked by valkey-check-rdb.
	KeptData *KeptData `json:"kept_data,omitempty"`
	// Reader is what a cache-aside application saw through the fault.
	Reader *ReadSummary `json:"reader,omitempty"`
	// Interrupted is set on the trial a signal cut short.
	Interrupted   string   `json:"interrupted,omitempty"`
	ServerLoadS   *float64 `json:"server_load_s"` // "DB loaded from disk: X seconds"
	RTOS          *float64 `json:"rto_s"`         // serving - t_fault; null when never served
	FinalSaveS    *float64 `json:"final_save_s,omitempty"`
	StopEscalated bool     `json:"stop_escalated,omitempty"` // SIGKILL after stop_timeout
	// StopTimeoutS is the SIGTERM-to-SIGKILL grace in force for this trial.
	StopTimeoutS float64 `json:"stop_timeout_s,omitempty"`

	// OverlapS is when the replacement ran while the old server had not yet
	// exited, from the replacement's start to the old one's exit: two
	// servers on one dump.rdb, as an ECS deployment with minimum healthy
	// 100 % / maximum 200 % does. Absent when they never overlapped.
	OverlapS *Span `json:"overlap_s,omitempty"`

	// Verdict is decided by package judge alone, from the fields above
	// and Assumptions/Problems; reports and exit codes read it, never
	// recompute it.
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons"`
	// NeverServed: the judge found that the cache never served again
	// after a fault took the old server away (the replacement was watched
	// to the end, or it exited while starting: a crash loop): RTO
	// unbounded. A null rto_s alone does not say so: a trial with no fault,
	// one invalid before its fault or cut short leaves it null too.
	NeverServed bool `json:"never_served,omitempty"`
	// LossWindowVerdict is how the judge held the loss window against the
	// save rules' prediction: fail (the server log's instant, or the
	// bracket's low end, beyond it), inconclusive (the bracket straddles
	// it, or the loss could not be bracketed), pass; empty when it was not
	// held against it (nothing lost, no prediction, a graceful fault, a
	// persistence strategy with its own allowance).
	LossWindowVerdict Verdict `json:"loss_window_verdict,omitempty"`
	// Assumptions are the harness's own preconditions as the phases
	// observed them (pacing held, a snapshot completed during the load, the
	// fault was confirmed and landed in the planned cycle, the rule that
	// fired is the one planned). One that did not hold makes the trial
	// invalid. Recorded so that a finished run can be re-judged offline.
	Assumptions []Assumption `json:"assumptions,omitempty"`
	// Problems are what the phases saw go wrong that the numbers alone do
	// not show (the replacement exited, writes stayed refused after the
	// storage recovered); each is a failure reason.
	Problems []string `json:"problems,omitempty"`
	// Notes explain the numbers (what a storage fault did, why a scaled
	// trial is not representative) and never change the verdict.
	Notes   []string      `json:"notes,omitempty"`
	Checks  []Check       `json:"checks,omitempty"`
	Steps   []Step        `json:"steps"`
	Saves   []Save        `json:"saves,omitempty"`
	Latency *Latency      `json:"latency,omitempty"`
	Series  *Series       `json:"series,omitempty"`
	Files   Files         `json:"files"`
	Leaks   *TempFileLeak `json:"temp_files,omitempty"`
	Storage *StorageNote  `json:"storage,omitempty"`

	// Dataset is this trial's preloaded dataset when it differs between
	// trials of a run (a capacity sweep); the run's Target.Dataset otherwise.
	Dataset       *Dataset            `json:"dataset,omitempty"`
	StorageFaults []StorageFaultEvent `json:"storage_faults,omitempty"`
	Refused       *Refusal            `json:"writes_refused,omitempty"`
	// ReplacementExited is set when the replacement server exited during
	// start-up (e.g. a corrupt dump.rdb): on ECS it would crash-loop.
	ReplacementExited string `json:"replacement_exited,omitempty"`
	// Deployment drills (drill.go): the servers that ran, the dumps left,
	// the writer's view, and a save failure the drill expected.
	Servers    []ServerRun `json:"servers,omitempty"`
	Dumps      []Dump      `json:"dumps,omitempty"`
	Client     *ClientView `json:"client,omitempty"`
	SaveFailed string      `json:"save_failed,omitempty"`
}

// Label names a trial in one line: scenario, fault, rule, persistence
// strategy when it is not the default RDB, repetition.
func (t *Trial) Label() string {
	s := t.Scenario + " " + t.Fault
	if t.Rule != "" {
		s += " " + t.Rule
	}
	if t.Persistence != "" && t.Persistence != "rdb" {
		s += " " + t.Persistence
	}
	if t.Index > 0 {
		s += fmt.Sprintf(" #%d", t.Index+1)
	}
	return s
}

// Where a snapshot instant's estimate came from (Trial.SnapshotSource).
const (
	SourceServerLog     = "server-log"     // a save start from the server's log inside the bracket
	SourceClientBracket = "client-bracket" // the bracket's midpoint
)

// Verdict is a trial's outcome. Only package judge assigns it.
type Verdict string

const (
	// Pass: every assumption held, every invariant and SLO held.
	Pass Verdict = "pass"
	// Fail: an invariant (loss beyond what the rules allow, loss on a
	// graceful stop, anomalies, a stale load, no recovery) or an SLO broke.
	Fail Verdict = "fail"
	// Invalid: the trial's own preconditions did not hold; never evidence.
	Invalid Verdict = "invalid"
	// Inconclusive: the trial ran as planned but its evidence cannot decide
	// (the loss-window bracket straddles the prediction; an SLO's metric is
	// unknown). Exit 4 like invalid: rerun.
	Inconclusive Verdict = "inconclusive"
)

// Assumption is one precondition of a trial as observed.
type Assumption struct {
	Name   string `json:"name"` // pacing, snapshot_during_load, fault_confirmed, fault_in_cycle, rule_fired, finished, storage_faults
	Held   bool   `json:"held"`
	Detail string `json:"detail,omitempty"` // why it did not hold, in words
}

// Span is an interval in seconds from trial start.
type Span struct {
	From float64 `json:"from"`
	To   float64 `json:"to"`
}

// Check is one SLO or invariant evaluated against a trial.
type Check struct {
	Name     string   `json:"name"` // e.g. "loss_window<=65s"
	Metric   string   `json:"metric"`
	Op       string   `json:"op"`
	Limit    float64  `json:"limit"`
	Observed *float64 `json:"observed"` // null: the metric is unknown for this trial
	Pass     bool     `json:"pass"`
	// Undecided: the evidence cannot decide the check (the metric is
	// unknown, or its bracket straddles the limit); Pass is false, and
	// the trial is inconclusive unless something else fails it.
	Undecided bool `json:"undecided,omitempty"`
	// ObservedLow and ObservedHigh bracket the metric when it is only
	// known to lie between them (a loss window's client or one-sided
	// bracket): the check is decided by the ends, Observed is the point
	// estimate shown beside them.
	ObservedLow  *float64 `json:"observed_low,omitempty"`
	ObservedHigh *float64 `json:"observed_high,omitempty"`
}

// Step is one labelled instant of the recovery timeline.
type Step struct {
	Name   string  `json:"name"` // fault, old_gone, new_started, port_accepts, loaded, serving, ...
	AtS    float64 `json:"at_s"`
	UnixMs int64   `json:"unix_ms"`
	Source string  `json:"source"` // client, server-log, process, ecs
}

// Save is one background or foreground save seen during the trial.
type Save struct {
	StartS  float64 `json:"start_s"`
	EndS    float64 `json:"end_s,omitempty"`
	OK      bool    `json:"ok"`
	Trigger string  `json:"trigger,omitempty"` // "60 10000", "shutdown", "manual"
	Source  string  `json:"source"`
}

// Latency summarises latency from the intended send time (coordinated
// omission corrected) of acknowledged writes, in milliseconds.
type Latency struct {
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Count int64   `json:"count"`
}

// Series is the trial binned in time for plotting: index i covers
// [StartS + i*BinS, StartS + (i+1)*BinS).
type Series struct {
	StartS   float64              `json:"start_s"`
	BinS     float64              `json:"bin_s"`
	AckedPS  []float64            `json:"acked_per_s"`
	ErrorsPS map[string][]float64 `json:"errors_per_s"` // by kind: loading, refused, misconf, timeout, conn, other
	LatP50Ms []float64            `json:"lat_p50_ms"`   // NaN-free: 0 where the bin has no acks
	LatP99Ms []float64            `json:"lat_p99_ms"`
	LatMaxMs []float64            `json:"lat_max_ms"`
}

// Files names the artifacts of a trial, relative to the run directory.
type Files struct {
	ServerLogs []string `json:"server_logs,omitempty"`
	Hgrm       string   `json:"hgrm,omitempty"`
	History    string   `json:"history,omitempty"`
	Found      string   `json:"found,omitempty"` // per-key read-back (check.WriteFound), for re-judging offline
	Plots      []string `json:"plots,omitempty"`
}

// TempFileLeak reports temp-*.rdb files a kill left behind in the data dir.
type TempFileLeak struct {
	Files   []string `json:"files"`
	Bytes   int64    `json:"bytes"`
	Removed bool     `json:"removed"`
}

// StorageNote records the storage the data dir sat on and whether the
// emulator itself, not the modelled storage, limited throughput.
type StorageNote struct {
	Mode               string  `json:"mode"`
	ThroughputMiBps    float64 `json:"throughput_mibps,omitempty"`
	EmulatorBottleneck bool    `json:"emulator_bottleneck,omitempty"`
	ObservedWriteMiBps float64 `json:"observed_write_mibps,omitempty"`
	BytesRead          int64   `json:"bytes_read,omitempty"`
	BytesWritten       int64   `json:"bytes_written,omitempty"`
	// CreditBytes is the burst credit balance at the end (bursting only).
	CreditBytes *int64 `json:"credit_bytes,omitempty"`
	Config      string `json:"config,omitempty"` // the emulator's configuration, in words
	Note        string `json:"note,omitempty"`
}

// StorageFaultEvent is one storage fault injected during a trial: what, and
// when it was in force (seconds from trial start; LiftS 0 while never lifted
// before the trial ended).
type StorageFaultEvent struct {
	Kind    string   `json:"kind"`
	Path    string   `json:"path,omitempty"`
	Ops     []string `json:"ops,omitempty"`
	AtS     float64  `json:"at_s"`
	LiftS   float64  `json:"lift_s,omitempty"`
	Trigger string   `json:"trigger"` // the spec's at, e.g. "save+0s"
}

// Refusal is a stretch of writes the server refused with an error reply
// (MISCONF after a failed background save): definitely not applied, so
// "fail", never "unknown".
type Refusal struct {
	Kind    string  `json:"kind"` // misconf
	Count   int     `json:"count"`
	FromS   float64 `json:"from_s"` // intended time of the first refused write
	ToS     float64 `json:"to_s"`   // of the last
	Seconds float64 `json:"seconds"`
	// ResumedS is the first acknowledged write intended after the last
	// refusal; 0 when writes never resumed before the fault.
	ResumedS float64 `json:"resumed_s,omitempty"`
}

// Outcome sentinels; the CLI maps them to exit codes.
var (
	// ErrFailed: a trial, an SLO or a comparison failed (exit 3).
	ErrFailed = errors.New("verdict failed")
	// ErrInconclusive: no failure, but a trial was invalid or inconclusive (exit 4).
	ErrInconclusive = errors.New("inconclusive")
	// ErrInvalid: no failure and nothing inconclusive, but a trial's own
	// preconditions did not hold. It wraps ErrInconclusive (same exit code).
	ErrInvalid = fmt.Errorf("invalid (%w)", ErrInconclusive)
)

// ErrBadInput marks errors caused by the user's files or arguments rather than
// by the harness; the CLI maps them to exit code 2.
var ErrBadInput = errors.New("bad input")

// Load reads dir/result.json (or a path to the file itself) and checks its schema.
func Load(path string) (*Run, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, FileName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s not found: pass a run directory made by 'valkey-chaos run' (results/<run-id>)", ErrBadInput, path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid JSON (%v): the file is truncated or not a valkey-chaos result; re-run or re-copy it", ErrBadInput, path, err)
	}
	if run.Schema != Schema {
		if strings.HasPrefix(run.Schema, "valkey-chaos/result/") {
			return nil, fmt.Errorf("%w: %s has schema %q, this build reads %q: use the matching valkey-chaos version", ErrBadInput, path, run.Schema, Schema)
		}
		return nil, fmt.Errorf("%w: %s has no valkey-chaos schema (got %q): pass a result.json written by 'valkey-chaos run'", ErrBadInput, path, run.Schema)
	}
	return &run, nil
}

// SafeName turns a trial label into a file name for the run directory:
// letters, digits, '-', '_' and '.' stay, anything else becomes '-'.
func SafeName(label string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, label)
}
