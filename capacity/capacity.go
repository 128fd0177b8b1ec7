// Package capacity works out how big a Valkey cache on one task may grow
// and how fast it may be written: the largest dataset and the highest write
// rate for which the final save fits the stop timeout, the load fits the
// health check's budget, the dataset plus the copy-on-write of a save fits
// the task's memory and the EFS burst credits last, with the RPO the save
// rules give there. A pure function of its input: no server, no clock.
package capacity

import (
	"fmt"
	"math"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// HealthCheck is a container health check as ECS runs it.
type HealthCheck struct {
	Interval, Timeout, StartPeriod time.Duration
	Retries                        int
	// LoadingGrace is how long after start the check itself passes on a
	// LOADING reply (terraform/modules/valkey's health_check_loading_grace;
	// 0: LOADING fails the check).
	LoadingGrace time.Duration
}

// Budget is how long a starting task may stay LOADING before ECS replaces
// it: failures during StartPeriod do not count and LOADING passes during
// LoadingGrace, then Retries consecutive failures, one per Interval, mark
// it unhealthy.
func (h HealthCheck) Budget() time.Duration {
	return max(h.StartPeriod, h.LoadingGrace) + time.Duration(h.Retries)*h.Interval
}

// Input is a task, its storage and rules, and the workload to judge.
type Input struct {
	// CPU is the task's CPU units (1024 = 1 vCPU; 0 means 1024). A save and
	// a load run on one core each, so below 1024 they slow in proportion.
	CPU         int
	MemoryBytes int64
	StopTimeout time.Duration
	HealthCheck HealthCheck
	// Storage sets the save throughput (SaveMiBps, capped by the mode).
	Storage savepolicy.Storage
	// LoadMiBps is the RDB load rate (read and parse; 0: DefaultLoadMiBps).
	LoadMiBps float64
	Rules     savepolicy.Rules
	// DatasetBytes (heap, used_memory) and WritesPerS are the workload the
	// limits are read at: the largest dataset is given at WritesPerS, the
	// highest rate at DatasetBytes.
	DatasetBytes int64
	WritesPerS   float64
	// BytesPerKey is the heap per key (0: 170, 100-byte values) and
	// RDBRatio the RDB's size per heap byte (0: 0.7, incompressible values).
	BytesPerKey, RDBRatio float64
	// Dist is the key distribution of the writes (uniform or zipf): they
	// are taken as overwrites, the case that copies most.
	Dist           string
	RestartsPerDay float64 // loads per day, for the burst credits (0: 1)
	// BurstHorizon is how long a full EFS Bursting credit balance (2.1 TiB)
	// must last; 0 asks for a sustainable account (the baseline carries
	// the saves forever).
	BurstHorizon  time.Duration
	Cow           savepolicy.CowModel
	OverheadBytes int64 // 0: savepolicy.DefaultOverheadBytes
}

// Defaults from FACTS.md (valkey 8.0, 100-byte random values).
const (
	DefaultLoadMiBps   = 20  // RDB load: 21-41 MB/s measured, the low end
	DefaultBytesPerKey = 170 // 161.5 MB for 1M keys
	DefaultRDBRatio    = 0.7 // 113.9 MB RDB for 161.5 MB in memory
	stopMargin         = 0.9 // a final save may use 90% of the stop timeout
	unlimited          = -1  // MaxDatasetBytes of a limit that never binds
	maxDatasetBytes    = 1 << 50
)

// Limit is one constraint at the input workload.
type Limit struct {
	Name string `json:"name"`
	// MaxDatasetBytes is the largest dataset at the input rate (-1: no limit).
	MaxDatasetBytes int64 `json:"max_dataset_bytes"`
	// MaxWritesPerS is the highest rate at the input dataset (-1: no limit;
	// 0: not even idle).
	MaxWritesPerS float64 `json:"max_writes_per_s"`
	Holds         bool    `json:"holds"`
	// Detail names the number that binds it.
	Detail string `json:"detail"`
}

// Result is every limit and what binds.
type Result struct {
	Limits []Limit `json:"limits"`
	// Binding names the limit with the smallest largest dataset at the rate.
	Binding         string        `json:"binding"`
	MaxDatasetBytes int64         `json:"max_dataset_bytes"`
	MaxWritesPerS   float64       `json:"max_writes_per_s"`
	Holds           bool          `json:"holds"`
	SaveDuration    time.Duration `json:"save_ns"`
	LoadDuration    time.Duration `json:"load_ns"`
	CowPeakBytes    int64         `json:"cow_peak_bytes"`
	// RPO is the worst loss window of a crash under the rules at the input
	// workload (the model's WorstWindow); MeanRPO its mean over a cycle.
	RPO     time.Duration `json:"rpo_ns"`
	MeanRPO time.Duration `json:"mean_rpo_ns"`
}

func (in *Input) normalise() error {
	switch {
	case in.MemoryBytes <= 0:
		return fmt.Errorf("%w: task memory %d bytes: give the task's memory (e.g. 1GiB)", result.ErrBadInput, in.MemoryBytes)
	case in.StopTimeout <= 0:
		return fmt.Errorf("%w: stop timeout %v: give the task's stopTimeout (ECS default 30s)", result.ErrBadInput, in.StopTimeout)
	case in.HealthCheck.Budget() <= 0:
		return fmt.Errorf("%w: health check budget %v: give interval, retries and start period", result.ErrBadInput, in.HealthCheck.Budget())
	case in.DatasetBytes < 0 || in.WritesPerS < 0 || math.IsNaN(in.WritesPerS) || math.IsInf(in.WritesPerS, 0):
		return fmt.Errorf("%w: dataset %d bytes at %g writes/s: both must be finite and >= 0", result.ErrBadInput, in.DatasetBytes, in.WritesPerS)
	case in.CPU < 0:
		return fmt.Errorf("%w: cpu %d units must be >= 0", result.ErrBadInput, in.CPU)
	}
	if in.CPU == 0 {
		in.CPU = 1024
	}
	if in.LoadMiBps <= 0 {
		in.LoadMiBps = DefaultLoadMiBps
	}
	if in.BytesPerKey <= 0 {
		in.BytesPerKey = DefaultBytesPerKey
	}
	if in.RDBRatio <= 0 {
		in.RDBRatio = DefaultRDBRatio
	}
	if in.RestartsPerDay <= 0 {
		in.RestartsPerDay = 1
	}
	if in.Cow.PageBytes == 0 {
		in.Cow = savepolicy.DefaultCowModel
	}
	if in.OverheadBytes == 0 {
		in.OverheadBytes = savepolicy.DefaultOverheadBytes
	}
	return nil
}

// cpuShare is the fraction of one core a single-threaded save or load gets.
func (in Input) cpuShare() float64 { return math.Min(1, float64(in.CPU)/1024) }

func (in Input) rdbBytes(dataset int64) int64 { return int64(float64(dataset) * in.RDBRatio) }

// saveTime is a save's duration (final or background) for a dataset.
func (in Input) saveTime(dataset int64) time.Duration {
	return savepolicy.SaveDuration(in.rdbBytes(dataset), in.Storage.WriteMiBps()*in.cpuShare())
}

func (in Input) loadTime(dataset int64) time.Duration {
	return savepolicy.SaveDuration(in.rdbBytes(dataset), in.LoadMiBps*in.cpuShare())
}
