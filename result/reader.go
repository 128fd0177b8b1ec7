package result

// ReadBin is one bin of the reader's time series; reads fall in it by their
// intended time, origin requests by the time the fetch began.
type ReadBin struct {
	SinceFaultS float64 `json:"since_fault_s"` // bin start - fault
	Reads       int     `json:"reads"`
	Hits        int     `json:"hits"`
	Misses      int     `json:"misses"`
	Errors      int     `json:"errors"`
	// HitRatio is Hits / Reads (errors count as reads that did not hit); 0
	// when the bin has no reads.
	HitRatio   float64 `json:"hit_ratio"`
	Origin     int     `json:"origin_requests"`
	OriginPerS float64 `json:"origin_per_s"`
	// LatP50Ms and LatP99Ms are of the GETs that got a reply (hit or miss),
	// from the intended time; 0 when none did.
	LatP50Ms float64 `json:"lat_p50_ms"`
	LatP99Ms float64 `json:"lat_p99_ms"`
}

// ReadSummary is what the application saw through a fault. Durations are
// in seconds from the fault unless named otherwise.
type ReadSummary struct {
	// Client is the reader's client: default or tuned (go-redis, as an
	// application holds it) or resp (the raw fast path, no application's).
	Client string `json:"client,omitempty"`
	Reads  int    `json:"reads"`
	Hits   int    `json:"hits"`
	Misses int    `json:"misses"`
	Errors int    `json:"errors"`
	// ErrorsByKind counts failed reads by kind (refused, loading, timeout,
	// conn, other).
	ErrorsByKind map[string]int `json:"errors_by_kind"`
	// Fills are the acknowledged SETs after misses: changes to the dataset
	// the server counts like any write.
	Fills  int `json:"fills"`
	Origin int `json:"origin_requests"`

	// SteadyHitRatio is Hits / Reads over the reads intended in
	// [SteadyFromS, fault); SteadyOriginPerS the origin requests begun in
	// that window per second.
	SteadyFromS      float64 `json:"steady_from_s"`
	SteadyReads      int     `json:"steady_reads"`
	SteadyHitRatio   float64 `json:"steady_hit_ratio"`
	SteadyOriginPerS float64 `json:"steady_origin_per_s"`

	// To90S and To99S: from the fault to the end of the first bin at or
	// after it whose hit ratio is at least 90% (99%) of SteadyHitRatio;
	// exact to one bin. Reached is false when no bin got there.
	To90S      float64 `json:"to_90pct_s"`
	Reached90  bool    `json:"reached_90pct"`
	To99S      float64 `json:"to_99pct_s"`
	Reached99  bool    `json:"reached_99pct"`
	RecoveryS  float64 `json:"recovery_s"` // To99S, or to the last read when not reached
	RecoveryOK bool    `json:"recovery_reached"`
	// OriginDuringRecovery is the origin requests begun in [fault, fault +
	// RecoveryS); ExtraOrigin is that minus SteadyOriginPerS x RecoveryS:
	// the load the cache's loss put on the database.
	OriginDuringRecovery int     `json:"origin_during_recovery"`
	OriginPerSRecovery   float64 `json:"origin_per_s_during_recovery"`
	ExtraOrigin          float64 `json:"extra_origin_requests"`

	// FirstErrorS is when the first read failed at or after the fault (Done;
	// -1: none did). ClientGapS is the longest stretch from the fault on in
	// which no read got a reply, and ClientBackS the reply that ended it:
	// how long the application's own client took to come back, to compare
	// with the raw probe (-1: no read succeeded after the fault).
	FirstErrorS float64 `json:"first_error_s"`
	ClientGapS  float64 `json:"client_gap_s"`
	ClientBackS float64 `json:"client_back_s"`

	BinS float64   `json:"bin_s"`
	Bins []ReadBin `json:"bins"`
}
