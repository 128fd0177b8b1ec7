package result

// Memory is one trial's memory, from INFO and the task's memory cgroup.
type Memory struct {
	UsedBytes int64 `json:"used_bytes"` // INFO used_memory before the fault
	RSSBytes  int64 `json:"rss_bytes"`  // INFO used_memory_rss before the fault
	// LimitBytes is the task's hard limit (0: none); PeakBytes the
	// cgroup's peak over the trial (it includes the page cache of the RDB
	// being written) and AnonPeakBytes the largest anonymous figure sampled.
	LimitBytes    int64   `json:"limit_bytes,omitempty"`
	PeakBytes     int64   `json:"peak_bytes,omitempty"`
	AnonPeakBytes int64   `json:"anon_peak_bytes,omitempty"`
	ForkMs        float64 `json:"fork_ms"` // INFO latest_fork_usec
	// CowBytes is rdb_last_cow_size: the peak of the server's own samples
	// of the save child's private memory, so a lower bound of the true
	// copy-on-write peak.
	CowBytes int64 `json:"cow_bytes"`
	// OOMKilled names the process the kernel killed at the limit: parent
	// (the task crashes) or save-child (the save fails, MISCONF); empty
	// when none.
	OOMKilled   string `json:"oom_killed,omitempty"`
	EvictedKeys int64  `json:"evicted_keys"` // INFO evicted_keys over the trial
	ExpiredKeys int64  `json:"expired_keys"`
}

// KeptData is a trial's data kept with the run: as the trial left it, and
// as the replacement found it at the fault (the dump it loaded).
type KeptData struct {
	Dir            string     `json:"dir"`
	AtFault        string     `json:"at_fault,omitempty"`
	Checks         []RDBCheck `json:"checks,omitempty"`
	CheckerMissing bool       `json:"checker_missing,omitempty"`
}

// RDBCheck is valkey-check-rdb's (or redis-check-rdb's) word on one dump:
// an oracle independent of the harness for what survived.
type RDBCheck struct {
	File    string `json:"file"`
	OK      bool   `json:"ok"`
	Verdict string `json:"verdict"`
	Keys    int64  `json:"keys"`
	Expires int64  `json:"expires"`
}

// AllowedLoss is the loss a correct server may show: everything, or the
// writes acknowledged within WindowS before the fault.
type AllowedLoss struct {
	Everything bool    `json:"everything,omitempty"`
	WindowS    float64 `json:"window_s"`
	Why        string  `json:"why"`
}

// HostLoss says what the storage lost with the host: bytes written but not
// fsynced when the fault landed.
type HostLoss struct {
	DroppedBytes int64 `json:"dropped_bytes"`
}

// Classified holds the classification's inputs other than the ops and the
// read-back, as offsets in seconds from the trial's start.
type Classified struct {
	TFaultS        float64    `json:"t_fault_s"` // the instant the window is measured to
	ReplacementS   float64    `json:"replacement_s,omitempty"`
	FloorFS        float64    `json:"floor_f_s,omitempty"`
	SaveStartsS    []float64  `json:"save_starts_s,omitempty"`
	CompletedSaves []SaveFork `json:"completed_saves,omitempty"`
	Unexpected     int        `json:"unexpected"`
	// Excluded are the measured writes the server evicted or expired:
	// left out of the classification (they are not persistence evidence).
	Excluded    []uint64 `json:"excluded_seqs,omitempty"`
	DatasetKeys int64    `json:"dataset_keys"`
	KeysLoaded  int64    `json:"keys_loaded"` // -1: unknown
}

// SaveFork is one completed save: its fork in [ForkLowS, ForkHighS).
type SaveFork struct {
	ForkLowS  float64 `json:"fork_low_s"`
	ForkHighS float64 `json:"fork_high_s"`
	EndS      float64 `json:"end_s"`
	Source    string  `json:"source"`
}

// StaleLoad says the replacement loaded a snapshot older than the last
// completed save: acknowledged writes the last save contained are missing.
type StaleLoad struct {
	LastSaveForkS float64 `json:"last_save_fork_s"` // the last completed save's fork (low end)
	LostBefore    int     `json:"lost_before"`      // acknowledged before that fork, yet lost
	// KeysLoaded is what the replacement reported loading (server log or
	// INFO rdb_last_load_keys_loaded); -1 when it was not available.
	KeysLoaded int64 `json:"keys_loaded"`
	// KeysExpected brackets what the last completed save held.
	KeysExpectedMin int64  `json:"keys_expected_min"`
	KeysExpectedMax int64  `json:"keys_expected_max"`
	Detail          string `json:"detail"`
}
