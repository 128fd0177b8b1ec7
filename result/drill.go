package result

// ServerRun is one server process (or task) that ran during a trial.
type ServerRun struct {
	Bin     string `json:"bin,omitempty"` // binary path (local) or image (ECS)
	Version string `json:"version"`       // "valkey 8.0.2", from --version or INFO server
	Role    string `json:"role"`          // original | replacement
}

// Dump is one RDB file the trial left in its data directory, with the
// format version its header names.
type Dump struct {
	File       string `json:"file"`
	RDBVersion int    `json:"rdb_version"`     // 0 when the header could not be read
	Magic      string `json:"magic,omitempty"` // REDIS or VALKEY
	Bytes      int64  `json:"bytes"`
	Problem    string `json:"problem,omitempty"` // why the header could not be read
}

// ClientView is what the application's client saw around the fault:
// how its writes ended, by error kind, and when one first succeeded again.
type ClientView struct {
	Source string `json:"source"` // "writer" (the measured write load)
	// Errors counts the failed or unknown writes by kind (loading,
	// refused, misconf, timeout, conn, other).
	Errors map[string]int `json:"errors"`
	// FirstErrorS and LastErrorS are the intended times of the first and
	// last failed writes; FirstOKAfterFaultS that of the first write
	// acknowledged after the fault (when the client succeeded again). Nil:
	// none.
	FirstErrorS        *float64 `json:"first_error_s,omitempty"`
	LastErrorS         *float64 `json:"last_error_s,omitempty"`
	FirstOKAfterFaultS *float64 `json:"first_ok_after_fault_s,omitempty"`
}
