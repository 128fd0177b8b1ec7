package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/trigpointing/valkey-chaos/memlimit"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// DefaultStopTimeout is ECS's default stopTimeout: SIGTERM, then SIGKILL 30 s later.
const DefaultStopTimeout = 30 * time.Second

// Config configures the local target.
type Config struct {
	ServerBin string // valkey-server (default) or redis-server, name or path
	Host      string // default 127.0.0.1
	Port      int    // 0: a free port per trial
	// WorkDir holds the per-trial data directories; default a temp dir.
	WorkDir string
	// DataDir, when set, is used as the data directory of every trial and
	// never removed (e.g. an existing dump.rdb to exercise).
	DataDir string
	// LogDir receives one server log per process; it must exist.
	LogDir string
	// StopTimeout is the grace between SIGTERM and SIGKILL for the stop
	// fault. Never time-scaled: a final save takes as long as it takes.
	StopTimeout time.Duration
	// RestartDelay waits before spawning the replacement (task scheduling).
	RestartDelay time.Duration
	// KeepTempFiles leaves temp-*.rdb files a kill left behind (they are
	// always reported).
	KeepTempFiles bool
	// StartTimeout bounds how long a fresh server may take to accept.
	StartTimeout time.Duration
	// WriterLock starts every server under the module's single-writer
	// guard: an exclusive flock on <data dir>/.valkey-writer.lock, held by
	// the server and its save child, waited for up to LockWait (default
	// 60 s) before the server starts.
	WriterLock bool
	LockWait   time.Duration
	// TaskMemory is the default hard memory limit in bytes of each server
	// process and its save children (StartSpec.TaskMemory overrides it);
	// zero: none.
	TaskMemory int64
	// Cgroups is where the memory cgroups are created; zero: detected.
	Cgroups memlimit.Hierarchy
	// KeepData keeps every trial's data directory under WorkDir, named by
	// the trial's label, with <label>.at-fault beside it holding the files
	// the replacement started on; every dump in them is checked (KeptData).
	KeepData bool

	// ReplacementBin is the binary of every replacement after a fault (an
	// upgrade or rollback drill); a scenario's replacement_bin wins. Empty: ServerBin.
	ReplacementBin string
	// Security starts every server with these ACL users and TLS; its
	// Client is how the target itself connects.
	Security Security
}

// DiscardsServer says whether the trial's server and data go away at
// Finish: they do unless the data directory is the caller's (Config.DataDir),
// whose dump.rdb must not keep the trial's keys.
func (t *Target) DiscardsServer() bool { return t.cfg.DataDir == "" }

// Target runs one valkey-server per trial phase; the replacement after a
// fault is a new process on the same directory and port, as an ECS
// replacement task mounts the same EFS access point.
type Target struct {
	cfg     Config
	bin     string
	version string

	trial     int
	label     string
	spec      target.StartSpec
	dataDir   string // where the server keeps dump.rdb (a mount point on EFS-like storage)
	ownedDir  string // the directory the target created, removed by Finish
	store     *storage
	port      int
	curMu     sync.Mutex // guards cur: watchers read it from their goroutines
	cur       *Server
	all       []*Server
	logFiles  []string
	tempFiles map[string]bool
	atFault   string           // the kept copy of the data dir at the fault (KeepData)
	kept      *target.KeptData // what the last finished trial kept

	versions map[string]string // resolved binary -> its --version, for drills
}

// New checks the binary and the port once, before any trial runs.
func New(ctx context.Context, cfg Config) (*Target, error) {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	bin, err := ResolveBin(cfg.ServerBin)
	if err != nil {
		return nil, err
	}
	version, err := ServerVersion(ctx, bin)
	if errors.Is(err, errSignaled) {
		// Ctrl-C reaches the child first; the context follows at once.
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if err != nil && ctx.Err() != nil {
		return nil, interrupted(ctx, "checking the server binary "+bin)
	}
	if err != nil {
		shown := cfg.ServerBin
		if shown == "" || shown != bin {
			shown = strings.TrimSpace(cfg.ServerBin + " (" + bin + ")")
		}
		return nil, fmt.Errorf("%w: --server-bin %s is not a valkey-server or redis-server (%w): pass the path of valkey-server", result.ErrBadInput, shown, err)
	}
	if err := checkReplacementBin(ctx, cfg.ReplacementBin); err != nil {
		return nil, err
	}
	if cfg.Port != 0 {
		if err := CheckPortFree(cfg.Host, cfg.Port); err != nil {
			return nil, err
		}
	}
	if cfg.LogDir == "" {
		return nil, errors.New("local target: LogDir is required")
	}
	// The server resolves --logfile against its own working directory.
	if cfg.LogDir, err = filepath.Abs(cfg.LogDir); err != nil {
		return nil, fmt.Errorf("log dir %s: %w", cfg.LogDir, err)
	}
	if cfg.DataDir != "" {
		if cfg.DataDir, err = filepath.Abs(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
		}
	}
	if cfg.TaskMemory > 0 && cfg.Cgroups.Root == "" {
		// Fail before any trial, with the fix, when no limit can be applied.
		if cfg.Cgroups, err = memlimit.Detect(); err != nil {
			return nil, fmt.Errorf("task memory %d bytes: %w", cfg.TaskMemory, err)
		}
	}
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "valkey-chaos-")
		if err != nil {
			return nil, fmt.Errorf("create work dir: %w", err)
		}
		cfg.WorkDir = dir
	}
	return &Target{cfg: cfg, bin: bin, version: version}, nil
}

// Bin is the resolved server binary.
func (t *Target) Bin() string { return t.bin }

// Version is the server's version as reported by --version.
func (t *Target) Version() string { return t.version }

// stopTimeout is the grace period of the stop fault: the scenario's, else the target's.
func (t *Target) stopTimeout() time.Duration {
	if t.spec.StopTimeout > 0 {
		return t.spec.StopTimeout
	}
	return t.cfg.StopTimeout
}

// Start spawns a fresh server on a fresh data directory and waits until it
// accepts connections.
func (t *Target) Start(ctx context.Context, spec target.StartSpec) (target.Instance, error) {
	if t.current() != nil {
		return target.Instance{}, errors.New("local target: Start called while a trial is running; call Finish first")
	}
	t.trial++
	t.spec = spec
	t.label = spec.Label
	if t.label == "" {
		t.label = fmt.Sprintf("trial-%d", t.trial)
	}
	t.all, t.logFiles, t.tempFiles = nil, nil, map[string]bool{}
	t.atFault, t.kept = "", nil
	if err := t.checkDrill(ctx); err != nil {
		return target.Instance{}, err
	}
	mode, efsCfg, err := parseStorage(spec.Storage)
	if err != nil {
		return target.Instance{}, err
	}
	if t.cfg.DataDir != "" {
		t.dataDir, t.ownedDir = t.cfg.DataDir, ""
	} else {
		dir, err := os.MkdirTemp(t.cfg.WorkDir, result.SafeName(t.label)+"-")
		if t.cfg.KeepData {
			dir, err = t.keptDataDir()
		}
		if err != nil {
			return target.Instance{}, fmt.Errorf("create data dir: %w", err)
		}
		t.dataDir, t.ownedDir = dir, dir
	}
	if mode != LocalDisk {
		// The EFS emulator is mounted over the data dir; the server uses the mount.
		st, err := mountEFS(ctx, t.dataDir, mode, efsCfg)
		if err != nil {
			t.Finish(ctx)
			return target.Instance{}, err
		}
		t.store, t.dataDir = st, st.mnt
	}
	t.port = t.cfg.Port
	srv, err := t.spawn()
	if err != nil {
		return target.Instance{}, err
	}
	if err := srv.WaitAccepting(ctx, t.cfg.StartTimeout); err != nil {
		t.killAll()
		return target.Instance{}, fmt.Errorf("start server for %s: %w", t.label, err)
	}
	return t.instance(srv), nil
}

func (t *Target) spawn() (*Server, error) {
	logFile := filepath.Join(t.cfg.LogDir, fmt.Sprintf("%s-server-%d.log", result.SafeName(t.label), len(t.all)+1))
	cfg := ServerConfig{
		Bin:       t.binFor(len(t.all) > 0),
		Host:      t.cfg.Host,
		Port:      t.port,
		Dir:       t.dataDir,
		Save:      t.spec.Save,
		LogFile:   logFile,
		ExtraArgs: t.spec.ExtraArgs,
		LockWait:  t.cfg.LockWait,

		MemoryLimit: t.taskMemory(),
		Cgroups:     t.cfg.Cgroups,
		Security:    t.cfg.Security,
	}
	if t.cfg.WriterLock {
		cfg.WriterLock = filepath.Join(t.dataDir, WriterLockFile)
	}
	if err := t.applyOwnership(&cfg, len(t.all) == 0); err != nil {
		return nil, err
	}
	srv, err := Spawn(cfg)
	if err != nil {
		return nil, err
	}
	t.port = portOf(srv.Addr())
	t.setCurrent(srv)
	t.all = append(t.all, srv)
	t.logFiles = append(t.logFiles, logFile)
	return srv, nil
}

func (t *Target) instance(srv *Server) target.Instance {
	return target.Instance{
		Addr:          srv.Addr(),
		ID:            fmt.Sprintf("pid %d", srv.PID()),
		StartedAt:     srv.StartedAt(),
		ServerVersion: t.versionOf(srv.cfg.Bin),
		Bin:           srv.cfg.Bin,
		DataDir:       t.dataDir,
	}
}

// Inject takes the current server down the way production would and waits
// until the process is gone.
func (t *Target) Inject(ctx context.Context, kind target.FaultKind) (target.FaultReport, error) {
	srv := t.current()
	if srv == nil || !srv.Running() {
		return target.FaultReport{}, errors.New("local target: no running server to fault")
	}
	stopTimeout := t.stopTimeout()
	rep := target.FaultReport{Kind: kind, StopTimeout: stopTimeout}
	switch kind {
	case target.Crash:
		rep.IssuedAt = time.Now()
		if err := srv.KillGroup(); err != nil {
			return rep, err
		}
		if err := waitGone(ctx, srv, 10*time.Second); err != nil {
			return rep, err
		}
	case target.Stop:
		rep.IssuedAt = time.Now()
		if err := srv.Signal(syscall.SIGTERM); err != nil {
			return rep, err
		}
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-srv.Exited():
		case <-timer.C:
			// ECS: the container did not exit within stopTimeout.
			rep.Escalated = true
			if err := srv.KillGroup(); err != nil {
				return rep, err
			}
			if err := waitGone(ctx, srv, 10*time.Second); err != nil {
				return rep, err
			}
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	case target.ShutdownNoSave:
		rep.IssuedAt = time.Now()
		if err := sendShutdownNoSave(ctx, t.cfg.Security.Client, srv.Addr()); err != nil {
			return rep, err
		}
		if err := waitGone(ctx, srv, 30*time.Second); err != nil {
			return rep, err
		}
	default:
		return rep, fmt.Errorf("%w: fault %q is not supported by the local target (use crash, stop or shutdown-nosave)", result.ErrBadInput, kind)
	}
	rep.GoneAt = srv.ExitedAt()
	rep.GoneAfter, rep.GoneBy, rep.GoneSource = rep.GoneAt, rep.GoneAt, "process"
	rep.Confirmed = !srv.Running()
	rep.ExitDetail = srv.ExitDetail()
	if mem, ok, _ := srv.Memory(); ok {
		rep.OOMKilled = mem.OOMKilled()
	}
	// Any save child must be gone too before a replacement touches the dir.
	_ = srv.KillGroup()
	return rep, nil
}

func waitGone(ctx context.Context, srv *Server, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := srv.Wait(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("server pid %d still running %v after the fault: %w", srv.PID(), limit, err)
	}
	return interrupted(ctx, fmt.Sprintf("waiting for server pid %d to exit", srv.PID()))
}

// Recover spawns the replacement on the same directory and port after the
// restart delay, reporting temp-*.rdb files the old process left behind.
func (t *Target) Recover(ctx context.Context) (target.Recovery, error) {
	if srv := t.current(); srv != nil && srv.Running() {
		return target.Recovery{}, errors.New("local target: the old server is still running; inject a fault first")
	}
	var rec target.Recovery
	delay := t.cfg.RestartDelay
	if t.spec.RestartDelay > 0 {
		delay = t.spec.RestartDelay
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return rec, ctx.Err()
		}
	}
	if err := t.keepAtFault(); err != nil {
		return rec, err
	}
	files, bytes, err := staleTempFiles(t.dataDir)
	if err != nil {
		return rec, err
	}
	rec.StaleTempFiles, rec.StaleTempBytes = files, bytes
	if len(files) > 0 && !t.cfg.KeepTempFiles && !t.spec.KeepTempFiles {
		for _, f := range files {
			if err := os.Remove(filepath.Join(t.dataDir, f)); err != nil {
				return rec, fmt.Errorf("remove stale %s: %w", f, err)
			}
		}
		rec.TempRemoved = true
	}
	if t.store != nil {
		t.store.dropCache(filepath.Join(t.dataDir, "dump.rdb"))
	}
	srv, err := t.spawn()
	if err != nil {
		return rec, fmt.Errorf("start replacement server: %w", err)
	}
	rec.Instance = t.instance(srv)
	rec.Milestones = []target.Milestone{{Name: "new_started", At: srv.StartedAt(), Source: "process"}}
	return rec, nil
}

func (t *Target) taskMemory() int64 {
	if t.spec.TaskMemory > 0 {
		return t.spec.TaskMemory
	}
	return t.cfg.TaskMemory
}

// LogFiles are the server logs of the current trial, in process order.
func (t *Target) LogFiles() []string { return append([]string(nil), t.logFiles...) }

// DataDir is the current trial's data directory.
func (t *Target) DataDir() string { return t.dataDir }

// Finish stops the trial's server (gracefully, bounded by the stop timeout)
// and removes the data directory the target created.
func (t *Target) Finish(ctx context.Context) error {
	var errs []error
	if srv := t.current(); srv != nil && srv.Running() {
		_ = srv.Signal(syscall.SIGTERM)
		ctx2, cancel := context.WithTimeout(ctx, t.stopTimeout())
		if srv.Wait(ctx2) != nil {
			_ = srv.KillGroup()
		}
		cancel()
	}
	t.killAll()
	t.setCurrent(nil)
	t.dropBackups()
	if t.store != nil {
		if err := t.store.release(); err != nil {
			errs = append(errs, fmt.Errorf("release storage: %w", err))
		}
	}
	t.store = nil
	switch {
	case t.ownedDir != "" && t.cfg.KeepData:
		if err := t.keep(ctx); err != nil {
			errs = append(errs, fmt.Errorf("check the kept dumps: %w", err))
		}
	case t.ownedDir != "":
		if err := os.RemoveAll(t.ownedDir); err != nil {
			errs = append(errs, fmt.Errorf("remove data dir: %w", err))
		}
	}
	t.dataDir, t.ownedDir, t.atFault = "", "", ""
	return errors.Join(errs...)
}

func (t *Target) killAll() {
	for _, s := range t.all {
		if s.Running() {
			_ = s.KillGroup()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.Wait(ctx)
			cancel()
		}
	}
}

// Close kills anything still running and removes the work dir it created.
func (t *Target) Close() error {
	err := t.Finish(context.Background())
	if t.cfg.WorkDir != "" && strings.HasPrefix(filepath.Base(t.cfg.WorkDir), "valkey-chaos-") {
		if rerr := os.RemoveAll(t.cfg.WorkDir); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	var p int
	fmt.Sscanf(addr[i+1:], "%d", &p)
	return p
}
