package savepolicy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Strategy is how the server persists its dataset.
type Strategy string

const (
	// StrategyRDB snapshots by the save rules (the deployment's choice).
	StrategyRDB Strategy = "rdb"
	// StrategyNone persists nothing: save "" and no AOF.
	StrategyNone Strategy = "none"
	// StrategyAOFEverysec appends every write to the AOF and fsyncs it once a
	// second from a background thread; no RDB snapshots.
	StrategyAOFEverysec Strategy = "aof-everysec"
	// StrategyAOFAlways fsyncs the AOF before replying to each write.
	StrategyAOFAlways Strategy = "aof-always"
	// StrategyRDBAOF is both: the save rules plus an everysec AOF (which the
	// server loads at start-up in preference to the RDB).
	StrategyRDBAOF Strategy = "rdb+aof"
)

// Strategies lists every strategy, for flags and help.
var Strategies = []Strategy{StrategyRDB, StrategyNone, StrategyAOFEverysec, StrategyAOFAlways, StrategyRDBAOF}

// ParseStrategy accepts a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies {
		if Strategy(strings.ToLower(strings.TrimSpace(s))) == st {
			return st, nil
		}
	}
	names := make([]string, len(Strategies))
	for i, st := range Strategies {
		names[i] = string(st)
	}
	return "", badInput("persistence %q: use one of %s", s, strings.Join(names, ", "))
}

// AOF reports whether the strategy writes an append-only file.
func (s Strategy) AOF() bool {
	return s == StrategyAOFEverysec || s == StrategyAOFAlways || s == StrategyRDBAOF
}

// Snapshots reports whether the strategy takes RDB snapshots by rules.
func (s Strategy) Snapshots() bool { return s == StrategyRDB || s == StrategyRDBAOF }

// ServerArgs are the valkey-server arguments that put the strategy in force;
// rules are the save rules of rdb and rdb+aof (ignored otherwise). The AOF
// uses an RDB preamble (Valkey's default, stated so a changed default does
// not change the trial): a rewrite writes the dataset as RDB, then appends.
func (s Strategy) ServerArgs(rules Rules) []string {
	save := ""
	if s.Snapshots() {
		save = rules.String()
	}
	args := []string{"--save", save}
	switch s {
	case StrategyAOFEverysec, StrategyRDBAOF:
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec", "--aof-use-rdb-preamble", "yes")
	case StrategyAOFAlways:
		args = append(args, "--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "yes")
	default:
		args = append(args, "--appendonly", "no")
	}
	return args
}

// Fault is how the server goes away, as far as persistence cares.
type Fault string

const (
	// FaultCrash: the process is killed (SIGKILL, OOM kill, a segfault);
	// the kernel still holds and later writes what it had been given.
	FaultCrash Fault = "crash"
	// FaultStop: SIGTERM, and the server shuts down in its own time (within
	// the stop timeout): final save or AOF fsync.
	FaultStop Fault = "stop"
	// FaultHostLoss: the process dies with its machine (a Fargate task's VM
	// going away): what the server wrote but did not fsync is lost too. The
	// EFS emulator's drop-unsynced action models it.
	FaultHostLoss Fault = "host-loss"
)

// AOFEverysecLoss is the most an everysec AOF can lose: Valkey fsyncs once a
// second in the background and, when the previous fsync is still running,
// postpones writing the buffer for up to another second before writing
// anyway (aof_flush_postponed_start), so unsynced data is at most about 2 s.
const AOFEverysecLoss = 2 * time.Second

// AllowedLoss is the checker's rule for one strategy and fault: which
// acknowledged writes a correct server may lose.
type AllowedLoss struct {
	// Everything: no bound; the dataset may come back empty.
	Everything bool `json:"everything"`
	// Window: writes acknowledged within this span before the fault may be
	// lost; 0 means none may.
	Window  time.Duration `json:"-"`
	WindowS float64       `json:"window_s"`
	// Why names the mechanism, for the report.
	Why string `json:"why"`
}

// AllowedLoss gives the loss a correct server may show under fault.
// rdbWindow is the save rules' predicted worst window (Predict), used for
// rdb on a crash; a stop of rdb or rdb+aof assumes the final save or fsync
// fits in the stop timeout (the runner checks that separately).
func (s Strategy) AllowedLoss(fault Fault, rdbWindow time.Duration) AllowedLoss {
	loss := func(w time.Duration, why string) AllowedLoss {
		return AllowedLoss{Window: w, WindowS: w.Seconds(), Why: why}
	}
	switch {
	case s == StrategyNone:
		return AllowedLoss{Everything: true, Why: `save "" and no AOF: nothing is written, not even on SIGTERM`}
	case fault == FaultStop && s == StrategyRDB:
		return loss(0, "SIGTERM runs a final save before exiting")
	case fault == FaultStop:
		return loss(0, "SIGTERM flushes and fsyncs the AOF before exiting")
	case s == StrategyAOFAlways:
		return loss(0, "appendfsync always: each write is in the AOF and fsynced before its reply is sent")
	case s == StrategyRDB:
		return loss(rdbWindow, "the save rules' window: everything since the last completed snapshot")
	case fault == FaultCrash:
		return loss(AOFEverysecLoss, "appendfsync everysec: at most ~2 s unsynced; on a local disk a process kill loses almost nothing, the kernel keeps the written pages")
	}
	return loss(AOFEverysecLoss, "appendfsync everysec: at most ~2 s of writes were written but not fsynced when the host went")
}

// AOFBytesPerSet is the size of one SET of a key and value in the AOF: the
// command in RESP, *3 $3 SET $klen key $vlen value.
func AOFBytesPerSet(keyBytes, valueBytes int) int64 {
	bulk := func(n int) int { return 1 + len(strconv.Itoa(n)) + 2 + n + 2 }
	return int64(4 + bulk(3) + bulk(keyBytes) + bulk(valueBytes))
}

// AOF rewrite defaults (valkey.conf): rewrite when the AOF has grown by
// auto-aof-rewrite-percentage of its size after the last rewrite, and is at
// least auto-aof-rewrite-min-size.
const (
	DefaultRewritePercent  = 100
	DefaultRewriteMinBytes = 64 * mib
)

// StrategyCostInput is what a strategy's storage traffic depends on.
type StrategyCostInput struct {
	Strategy   Strategy
	RDBBytes   int64   // snapshot size; also an AOF rewrite's base (RDB preamble)
	WritesPerS float64 // SETs per second (the reader's fills count)
	KeyBytes   int
	ValueBytes int
	// SavesPerDay is the rules' snapshot count (rdb, rdb+aof), from the
	// model (Plan's SavesPerDay).
	SavesPerDay    float64
	RestartsPerDay float64
	// RewritePercent and RewriteMinBytes default to Valkey's.
	RewritePercent  float64
	RewriteMinBytes int64
}

// StrategyCost is what a strategy writes to storage and what that costs.
type StrategyCost struct {
	Strategy            Strategy `json:"strategy"`
	AOFBytesPerWrite    int64    `json:"aof_bytes_per_write,omitempty"`
	AOFBytesPerDay      float64  `json:"aof_bytes_per_day,omitempty"`
	RewritesPerDay      float64  `json:"aof_rewrites_per_day,omitempty"`
	RewriteBytesPerDay  float64  `json:"aof_rewrite_bytes_per_day,omitempty"`
	SnapshotBytesPerDay float64  `json:"snapshot_bytes_per_day,omitempty"`
	WriteBytesPerHour   float64  `json:"write_bytes_per_hour"`
	// StoredBytes is the mean size on storage: the RDB, plus the AOF's base
	// and half its growth between rewrites.
	StoredBytes float64 `json:"stored_bytes"`
	Cost        Cost    `json:"cost"`
}

// StrategyCost models the storage traffic of in and prices it. AOF: every
// write appends AOFBytesPerSet; a rewrite, each time the AOF has grown by
// max(RewritePercent% of the base, RewriteMinBytes - base), writes the
// base (the dataset, about RDBBytes) afresh. RDB: RDBBytes per save.
// Restarts read the RDB or, with an AOF, the base and half a growth.
func (st Storage) StrategyCost(in StrategyCostInput) StrategyCost {
	if in.RewritePercent <= 0 {
		in.RewritePercent = DefaultRewritePercent
	}
	if in.RewriteMinBytes <= 0 {
		in.RewriteMinBytes = DefaultRewriteMinBytes
	}
	out := StrategyCost{Strategy: in.Strategy}
	stored := 0.0
	if in.Strategy.Snapshots() {
		out.SnapshotBytesPerDay = float64(in.RDBBytes) * in.SavesPerDay
		stored = float64(in.RDBBytes)
	}
	loadBytes := stored
	if in.Strategy.AOF() {
		out.AOFBytesPerWrite = AOFBytesPerSet(in.KeyBytes, in.ValueBytes)
		out.AOFBytesPerDay = float64(out.AOFBytesPerWrite) * in.WritesPerS * 86400
		base := float64(in.RDBBytes)
		growth := max(base*in.RewritePercent/100, float64(in.RewriteMinBytes)-base, 1)
		out.RewritesPerDay = out.AOFBytesPerDay / growth
		out.RewriteBytesPerDay = out.RewritesPerDay * base
		aof := base + min(growth, out.AOFBytesPerDay)/2
		stored += aof
		loadBytes = aof
	}
	writes := out.SnapshotBytesPerDay + out.AOFBytesPerDay + out.RewriteBytesPerDay
	out.WriteBytesPerHour = writes / 24
	out.StoredBytes = stored
	out.Cost = st.costFor(writes, loadBytes*in.RestartsPerDay, stored)
	return out
}

// String is one line for plan and tune output.
func (c StrategyCost) String() string {
	return fmt.Sprintf("%s writes %s/hour: %s/day, %s/month on EFS %s", c.Strategy,
		FormatBytes(c.WriteBytesPerHour), fmtUSD(c.Cost.TotalUSD), fmtUSD(c.Cost.TotalUSDPerMonth), costParts(c.Cost))
}
