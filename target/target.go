// Package target holds the vocabulary shared by every place Valkey can run
// (target/local processes, target/ecs tasks): fault kinds and the reports a
// target returns. The interface the runner drives is declared where it is
// consumed, in package scenarios; both implementations return these types, so
// results never depend on where a run happened.
package target

import (
	"errors"
	"fmt"
	"time"
)

// ErrStopCondition marks a run a target stopped before injecting a fault
// because a stop condition held (target/ecs: a CloudWatch alarm in ALARM).
// The trial is no evidence either way; the run ends cleanly, with a partial
// result.
var ErrStopCondition = errors.New("stop condition")

// FaultKind names how the running server is taken down.
type FaultKind string

const (
	// Crash kills the server without warning (SIGKILL to the process group, a
	// container killed): everything since the last snapshot is lost.
	Crash FaultKind = "crash"
	// Stop is ECS StopTask: SIGTERM, a final save, SIGKILL after the stop timeout.
	Stop FaultKind = "stop"
	// ShutdownNoSave sends SHUTDOWN NOSAVE over the connection.
	ShutdownNoSave FaultKind = "shutdown-nosave"
	// RollingDeploy starts the replacement before the old one stops (ECS
	// forceNewDeployment); only targets that run a scheduler support it.
	RollingDeploy FaultKind = "rolling-deploy"
)

// Kinds lists every fault kind, for flag help and validation.
var Kinds = []FaultKind{Crash, Stop, ShutdownNoSave, RollingDeploy}

// Graceful is true for faults that end the old server with SIGTERM, its
// final save, and SIGKILL only after the stop timeout: a stop, and a
// rolling deployment (the scheduler stops the old task exactly so once the
// new one is placed). Such a fault loses nothing when the final save fits
// the stop timeout; an escalation to SIGKILL is a failure.
func (k FaultKind) Graceful() bool { return k == Stop || k == RollingDeploy }

// NeedsScheduler is true for faults that only a target with a service
// scheduler can inject: one that starts the new server itself, before the
// old one stops.
func (k FaultKind) NeedsScheduler() bool { return k == RollingDeploy }

// ErrUnsupported marks a fault a target cannot inject (Supports).
var ErrUnsupported = errors.New("fault not supported by this target")

// ParseFaultKind validates a fault name from a scenario or flag.
func ParseFaultKind(s string) (FaultKind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown fault %q: use one of crash, stop, shutdown-nosave, rolling-deploy", s)
}

// StartSpec is what the runner asks of a server it wants running.
type StartSpec struct {
	// Save is the save rule string passed as --save (already time-scaled).
	Save string
	// ExtraArgs are appended to the server command line (e.g.
	// "--stop-writes-on-bgsave-error", "no").
	ExtraArgs []string
	// Label names the trial, for directory and log names.
	Label string
	// StopTimeout is the grace between SIGTERM and SIGKILL the scenario asks
	// for; targets that cannot choose it (ECS: the task definition decides)
	// report the one in force in FaultReport.StopTimeout. Zero: default.
	StopTimeout time.Duration
	// RestartDelay delays the replacement (local only; ECS schedules itself).
	RestartDelay time.Duration
	// Storage describes the data directory's storage for local runs, e.g.
	// {"mode": "efs-bursting", "credits": "1GiB"}; nil means local disk.
	Storage map[string]string
	// KeepTempFiles leaves the temp-*.rdb files a killed save left behind
	// in place (they are always reported), so repeated crashes show how
	// they pile up on a volume nobody cleans.
	KeepTempFiles bool
	// TaskMemory is the hard memory limit in bytes of each server process
	// together with its save child, as a task's memory is enforced (local
	// runs: a memory cgroup per process). Zero: no limit.
	TaskMemory int64
	// Drill is a deployment drill's server choice and volume ownership (drill.go).
	Drill
}

// Which process the kernel OOM-killed for exceeding the task memory.
const (
	// OOMParent: the server itself died; the task crashes.
	OOMParent = "parent"
	// OOMSaveChild: a BGSAVE child died; the server stays up, the save
	// fails (rdb_last_bgsave_status:err) and writes get MISCONF.
	OOMSaveChild = "save-child"
)

// MemoryReport is what the task memory limit saw of one server process (and
// its save children), from the kernel's cgroup figures.
type MemoryReport struct {
	LimitBytes int64
	// PeakBytes is the cgroup's peak; it includes page cache, e.g. of the
	// RDB being written, so it can reach the limit without any kill.
	PeakBytes    int64
	CurrentBytes int64
	// AnonBytes is the anonymous memory (dataset plus copied pages) when
	// read; the kernel keeps no peak of it.
	AnonBytes int64
	// OOMKills counts processes the kernel killed for the limit.
	OOMKills int64
	// ParentKilled: the server process itself was OOM-killed.
	ParentKilled bool
	// SaveChildKills counts OOM kills of other processes (BGSAVE children).
	SaveChildKills int64
}

// OOMKilled names the process the kernel killed ("parent" wins when both
// were), or "" when none was.
func (m MemoryReport) OOMKilled() string {
	switch {
	case m.ParentKilled:
		return OOMParent
	case m.SaveChildKills > 0:
		return OOMSaveChild
	}
	return ""
}

// StorageFault is a misbehaviour of the storage under the data directory,
// injected while a trial runs (local runs on the EFS emulator). It mirrors
// the emulator's faults without tying the runner to it.
type StorageFault struct {
	// Kind is eio, enospc, stall, slow or torn.
	Kind string
	// Path is a glob relative to the data directory; one without "/"
	// matches base names ("temp-*.rdb"). Empty matches every file.
	Path string
	// Ops limits the fault to read, write, fsync, create, rename or open;
	// empty means every operation the kind applies to.
	Ops []string
	// MiBps is the rate a slow fault allows.
	MiBps float64
	// Keep is the fraction of the file a torn rename keeps (0: half).
	Keep float64
}

// Instance is one running server: a process or an ECS task.
type Instance struct {
	Addr          string    // host:port to connect to
	ID            string    // pid or task ARN
	StartedAt     time.Time // process spawned / task startedAt
	ServerVersion string
	Bin           string // the binary (local) or image (ECS) it runs, when known
	DataDir       string // where dump.rdb lives, when the target can see it
}

// FaultReport says what the fault did to the old instance.
type FaultReport struct {
	Kind        FaultKind
	IssuedAt    time.Time // the signal was sent / the API call was made
	GoneAt      time.Time // the old process exited / the task reached STOPPED; zero if never
	Confirmed   bool      // the old instance is verifiably gone
	Escalated   bool      // a stop hit its timeout and ended in SIGKILL
	ExitDetail  string    // "signal: killed", "exit status 0", stop code, ...
	StopTimeout time.Duration
	// OOMKilled is OOMParent or OOMSaveChild when the kernel killed a
	// process of the old instance for its memory limit before or during
	// the fault ("" otherwise): the fault that actually happened.
	OOMKilled string
	// OverlapFrom/To bound the time two instances ran on the same data
	// (rolling deploys); zero when they never overlapped.
	OverlapFrom, OverlapTo time.Time
	// GoneAfter and GoneBy bracket the old server's exit: it lies in
	// [GoneAfter, GoneBy], GoneAt within. The target observed the instance
	// still there at GoneAfter and gone at GoneBy (the poll before and the
	// poll after), narrowed by what the platform reports: ECS's
	// executionStoppedAt, which may be whole seconds (the exit then lies in
	// [executionStoppedAt, executionStoppedAt+1 s)). Equal to GoneAt when
	// the exit instant is known exactly (a local process). Zero: unknown.
	GoneAfter, GoneBy time.Time
	// GoneSource names what GoneAt is: "process" (the exit the target
	// reaped), "executionStoppedAt", "container-status" (the first poll that
	// saw the container STOPPED: an upper bound), "stoppedAt".
	GoneSource string
}

// WriterOverlap says whether two servers wrote to the same data: whether
// the replacement's server process started before the old one exited
// (container exit: its final save included). It is about servers, not
// tasks: a replacement task that waits for the single-writer lock runs as
// a task but not as a server.
type WriterOverlap struct {
	// Decided is false when the evidence cannot tell (no start line, or
	// the start lies inside the old exit's bracket).
	Decided    bool
	Overlapped bool
	// NewServerStarted is the replacement server's own start line (its log,
	// ms); OldGoneAfter/OldGoneBy the old exit's bracket (FaultReport).
	NewServerStarted        time.Time
	OldGoneAfter, OldGoneBy time.Time
	Detail                  string // one line for the report
}

// Recovery describes the replacement instance and the milestones the target
// itself observed (the probe adds accept/ready/serving times).
type Recovery struct {
	Instance Instance
	// Milestones are target-specific instants, e.g. ECS pullStartedAt, in order.
	Milestones []Milestone
	// StaleTempFiles lists temp-*.rdb left in the data dir by a killed save.
	StaleTempFiles []string
	StaleTempBytes int64
	TempRemoved    bool
	// WarmupUpperBound is set when the target's first look at the
	// replacement already got a non-LOADING reply: the load ended before
	// anyone could watch it, so a warm-up measured from the probe is an
	// upper bound; prefer the server's own load line (server_load_s).
	WarmupUpperBound bool
	// FirstReplyAt is when that first look got its reply (zero: no look).
	FirstReplyAt time.Time
}

// Milestone is a named instant reported by the target.
type Milestone struct {
	Name   string
	At     time.Time
	Source string // "process", "ecs", ...
}

// LogLine is one raw server log line with the instance that wrote it.
type LogLine struct {
	Instance string // pid or task id
	Text     string
	// Received is when the target read the line; the line's own timestamp is
	// parsed by package probe.
	Received time.Time
	// Zone is the zone of the line's zone-less (legacy) timestamp, to pass
	// to probe.ParseLogLine: the server's TZ (local), or derived from the
	// event's timestamp (ECS, probe.ZoneOfEvent). Nil: unknown, the
	// harness's zone is assumed.
	Zone *time.Location
	// EventTime is the log service's own timestamp of the line (CloudWatch
	// event timestamp, epoch ms); zero where there is none (local files).
	EventTime time.Time
}

// RDBCheck is an RDB checker's verdict on one dump file (valkey-check-rdb,
// a program apart from the server that wrote the file and the one that
// loaded it): an independent oracle for what survived.
type RDBCheck struct {
	File    string // path checked
	Checker string // the checker binary that ran
	OK      bool   // the checker printed "RDB looks OK"
	Verdict string // "ok", or "error: " and the checker's reason
	Keys    int64  // "[info] N keys read" (before the error, when there is one)
	Expires int64  // "[info] N expires"
}

// KeptData is a trial's data directory kept with the run (--keep-data).
type KeptData struct {
	// Dir is the data directory as the trial left it: after the runner's
	// clean-up and the last server's shutdown save, so its dump is not the
	// evidence; AtFault's is.
	Dir string
	// AtFault holds the files as they were when the replacement started:
	// the dump it loaded and any temp-*.rdb the fault left. Empty when
	// the trial never got that far.
	AtFault string
	// Checks has a verdict for every *.rdb in Dir and AtFault; nil when no
	// checker is on PATH (CheckerMissing says so).
	Checks         []RDBCheck
	CheckerMissing bool
}
