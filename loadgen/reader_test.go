package loadgen

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// infoField reads one numeric field of INFO section from the server.
func infoField(t *testing.T, srv *testServer, section, field string) int64 {
	t.Helper()
	info, err := srv.client().Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %s=%q: %v", section, field, v, err)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

func startReaderT(t *testing.T, cfg ReaderConfig) *Reader {
	t.Helper()
	r, err := StartReader(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start reader: %v", err)
	}
	t.Cleanup(func() { r.Stop() })
	return r
}

func waitReader(t *testing.T, r *Reader, bound time.Duration) []Read {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(bound + 30*time.Second):
		t.Fatalf("reader did not stop by itself after its %v schedule", bound)
	}
	return r.Stop().Reads
}

// The server's own counters are the oracle: every GET is a keyspace hit or
// miss, every fill a SET, and the keys in the server are the keys filled.
func TestReaderCountsAgreeWithServer(t *testing.T) {
	for _, client := range []ReaderClient{ReaderClientDefault, ReaderClientTuned, ReaderClientRESP} {
		t.Run(string(client), func(t *testing.T) {
			srv := startServer(t)
			const rate, dur = 1000.0, 1500 * time.Millisecond
			r := startReaderT(t, ReaderConfig{
				Addr: func() string { return srv.addr }, Prefix: "vc:rd:", Keys: 2000, ZipfS: 1.1, Seed: 1,
				Client: client, OriginLatency: 2 * time.Millisecond, Pacer: ConstantPacer{Freq: rate},
				Base: time.Now(), MaxReads: 1 << 20, MaxDuration: dur,
			})
			reads := waitReader(t, r, dur)
			s := SummarizeReads(reads, ReadSummaryOptions{Fault: dur})
			if want := int(math.Ceil(rate * dur.Seconds())); len(reads) != want {
				t.Errorf("%d reads recorded, want %d (rate x schedule)", len(reads), want)
			}
			// A read or fill that timed out (a busy machine, the tuned client's
			// 100 ms) may or may not have run on the server, and the tuned
			// client retries it: the server's count then lies between the
			// reader's successes and successes plus failures plus timeouts.
			st := r.Stats()
			bracket := func(what string, server, reader, unknown int64) {
				t.Helper()
				if server < reader || server > reader+unknown {
					t.Errorf("server counted %d %s, reader %d (+%d unknown outcomes: failed or timed out)", server, what, reader, unknown)
				}
			}
			errs, timeouts := int64(s.Errors), int64(st.Timeouts)
			bracket("keyspace hits", infoField(t, srv, "stats", "keyspace_hits"), int64(s.Hits), errs+timeouts)
			bracket("keyspace misses", infoField(t, srv, "stats", "keyspace_misses"), int64(s.Misses), errs+timeouts)
			bracket("changes", infoField(t, srv, "persistence", "rdb_changes_since_last_save"), int64(s.Fills), int64(st.FillsFailed)+timeouts)
			if st.Fills != uint64(s.Fills) || s.Fills+int(st.FillsFailed) != s.Misses || s.Origin != s.Misses+s.Errors {
				t.Errorf("fills %d (stats %d, failed %d), misses %d, errors %d, origin %d: every miss and error goes to the origin, every miss is filled",
					s.Fills, st.Fills, st.FillsFailed, s.Misses, s.Errors, s.Origin)
			}
			filled, maybe := map[uint64]bool{}, map[uint64]bool{}
			for _, rd := range reads {
				switch rd.Fill {
				case FillOK:
					filled[rd.Key] = true
				case FillFailed:
					maybe[rd.Key] = true
				}
			}
			for k := range filled {
				delete(maybe, k)
			}
			n, _ := srv.client().DBSize(context.Background()).Result()
			bracket("keys", n, int64(len(filled)), int64(len(maybe)))
			if s.Errors > 0 {
				t.Logf("%d reads failed on a healthy server (a busy machine): %v", s.Errors, s.ErrorsByKind)
			}
			distinct := filled
			t.Logf("%s: %d reads, hit ratio %.3f, %d fills, %d distinct keys", client, s.Reads, float64(s.Hits)/float64(s.Reads), s.Fills, len(distinct))
		})
	}
}

// Through a restart: with no dump nothing the reader filled survives, so
// every hit after the restart is of a key filled after it; with a dump every
// key filled before the SAVE is a hit after it.
func TestReaderThroughRestart(t *testing.T) {
	tests := []struct {
		dump   bool
		client ReaderClient
	}{
		{false, ReaderClientDefault},
		{true, ReaderClientTuned},
		{true, ReaderClientDefault},
		{false, ReaderClientRESP},
		{true, ReaderClientRESP},
	}
	for _, tt := range tests {
		t.Run(map[bool]string{false: "no-dump", true: "dump"}[tt.dump]+"/"+string(tt.client), func(t *testing.T) {
			srv := startServer(t)
			const before, after = 1500 * time.Millisecond, 2500 * time.Millisecond
			const originLatency = 2 * time.Millisecond
			base := time.Now()
			r := startReaderT(t, ReaderConfig{
				Addr: func() string { return srv.addr }, Prefix: "vc:rr:", Keys: 3000, ZipfS: 1.1, Seed: 2,
				Client: tt.client, OriginLatency: originLatency, Pacer: ConstantPacer{Freq: 1000},
				Base: base, MaxReads: 1 << 20, MaxDuration: before + after,
			})
			time.Sleep(before)
			saveStart := time.Since(base)
			if tt.dump {
				if err := srv.client().Save(context.Background()).Err(); err != nil {
					t.Fatalf("SAVE: %v", err)
				}
			}
			fault := time.Since(base)
			srv.kill()
			restarted := time.Since(base) // the port refuses from here
			if err := srv.start(); err != nil {
				t.Fatalf("restart: %v", err)
			}
			reads := waitReader(t, r, before+after)
			checkRestartOracle(t, reads, tt.dump, saveStart, restarted, originLatency)
			s := SummarizeReads(reads, ReadSummaryOptions{Fault: fault, Steady: time.Second})
			t.Logf("steady %.3f; to 90%% %.1f s (%v), to 99%% %.1f s (%v); first error %.3f s, client back %.3f s (kill done %.3f s); origin during recovery %d (%.0f extra); errors %v",
				s.SteadyHitRatio, s.To90S, s.Reached90, s.To99S, s.Reached99, s.FirstErrorS, s.ClientBackS, (restarted - fault).Seconds(), s.OriginDuringRecovery, s.ExtraOrigin, s.ErrorsByKind)
			// The first reply after the outage came from the new process.
			if back := fault + sec(s.ClientBackS); s.ClientBackS < 0 || back < restarted {
				t.Errorf("client back at %v (%.3f s after the fault), want a reply after the old process was gone at %v", back, s.ClientBackS, restarted)
			}
			if tt.dump && !s.Reached90 {
				t.Errorf("with a dump the hit ratio never got back to 90%% of %.3f", s.SteadyHitRatio)
			}
		})
	}
}

// checkRestartOracle checks the hits after the restart against the fills.
func checkRestartOracle(t *testing.T, reads []Read, dump bool, saveStart, restarted, originLatency time.Duration) {
	t.Helper()
	savedKeys := map[uint64]bool{}
	refilled := map[uint64][]Read{}
	for _, rd := range reads {
		if rd.Fill != FillOK {
			continue
		}
		if rd.FillDone < saveStart {
			savedKeys[rd.Key] = true
		}
		if rd.FillDone >= restarted {
			refilled[rd.Key] = append(refilled[rd.Key], rd)
		}
	}
	served, hits, firstServed := 0, 0, Read{Done: math.MaxInt64}
	for _, rd := range reads {
		if rd.Sent < restarted || rd.Result == ReadError {
			continue
		}
		served++
		if rd.Done < firstServed.Done {
			firstServed = rd
		}
		if rd.Result == Hit {
			hits++
		}
		switch {
		case dump && savedKeys[rd.Key] && rd.Result != Hit:
			t.Fatalf("key %d was filled before the SAVE but missed after the restart (read at %v)", rd.Key, rd.Sent)
		case !dump && rd.Result == Hit && !filledBefore(refilled[rd.Key], rd.Done, originLatency):
			t.Fatalf("key %d hit at %v after a restart with no dump, but no fill after the restart preceded it", rd.Key, rd.Sent)
		}
	}
	if served == 0 {
		t.Fatalf("no read succeeded after the restart")
	}
	if !dump && firstServed.Result != Miss {
		t.Errorf("first read served after the restart is a %v, want a miss: the cache starts empty", firstServed.Result)
	}
	if dump && len(savedKeys) == 0 {
		t.Fatalf("nothing was filled before the SAVE: the test proves nothing")
	}
	t.Logf("after the restart: %d served, hit ratio %.3f; %d keys saved", served, float64(hits)/float64(served), len(savedKeys))
}

// filledBefore: one of the fills' SETs was sent (origin done) before done.
func filledBefore(fills []Read, done, originLatency time.Duration) bool {
	for _, f := range fills {
		if f.OriginAt+originLatency <= done {
			return true
		}
	}
	return false
}

func TestReaderConfigRejectsBadInput(t *testing.T) {
	good := ReaderConfig{Addr: func() string { return "127.0.0.1:1" }, Prefix: "vc:x:", Keys: 10, Pacer: ConstantPacer{Freq: 1},
		Base: time.Now(), MaxReads: 1, MaxDuration: time.Second}
	tests := []struct {
		name string
		edit func(*ReaderConfig)
		want string
	}{
		{"no prefix", func(c *ReaderConfig) { c.Prefix = "" }, "Prefix"},
		{"no keys", func(c *ReaderConfig) { c.Keys = 0 }, "Keys"},
		{"zipf 1", func(c *ReaderConfig) { c.ZipfS = 1 }, "ZipfS"},
		{"client", func(c *ReaderConfig) { c.Client = "fast" }, "use default, tuned or resp"},
		{"unbounded", func(c *ReaderConfig) { c.MaxDuration = 0 }, "MaxDuration"},
	}
	for _, tt := range tests {
		cfg := good
		tt.edit(&cfg)
		if _, err := StartReader(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one naming %q", tt.name, err, tt.want)
		}
	}
}

// The reader counts its connections' timeouts through a wrapper; the
// wrapper must keep the socket visible to go-redis, whose pool checks an
// idle connection before reuse only through syscall.Conn (without it, a
// connection the server closed at a restart is handed out as alive).
func TestReaderConnectionsStayCheckableByThePool(t *testing.T) {
	srv := startServer(t)
	for _, client := range []ReaderClient{ReaderClientDefault, ReaderClientTuned} {
		cfg := ReaderConfig{Addr: func() string { return srv.addr }, Client: client, Concurrency: 1}
		var timeouts atomic.Uint64
		opt := cfg.clientOptions(&timeouts)
		c, err := opt.Dialer(context.Background(), "tcp", srv.addr)
		if err != nil {
			t.Fatalf("%s: dial: %v", client, err)
		}
		if _, ok := c.(syscall.Conn); !ok {
			t.Errorf("%s: the dialled %T hides the socket from go-redis's connection check", client, c)
		}
		c.Close()
	}
	// The resp client's idle check peeks at the socket the same way.
	cfg := ReaderConfig{Addr: func() string { return srv.addr }, Client: ReaderClientRESP, Concurrency: 1}
	var timeouts atomic.Uint64
	c, err := newRespCache(&cfg, &timeouts).dial(context.Background())
	if err != nil {
		t.Fatalf("resp: dial: %v", err)
	}
	if _, ok := c.(syscall.Conn); !ok {
		t.Errorf("resp: the dialled %T hides the socket from the idle check", c)
	}
	c.Close()
}

// A fill TTL under a millisecond is sent as 1 ms by every client (go-redis
// rounds it up; Valkey refuses PX 0). Found by review:
// the resp client sent PX 0 and failed every fill.
func TestReaderFillsWithASubMillisecondTTL(t *testing.T) {
	srv := startServer(t)
	for _, client := range []ReaderClient{ReaderClientTuned, ReaderClientRESP} {
		t.Run(string(client), func(t *testing.T) {
			prefix := "vc:ttl" + string(client) + ":"
			r := startReaderT(t, ReaderConfig{
				Addr: func() string { return srv.addr }, Prefix: prefix, Keys: 1 << 20, Client: client,
				Concurrency: 4, OriginLatency: time.Millisecond, FillTTL: 500 * time.Microsecond,
				Pacer: ConstantPacer{Freq: 200}, Base: time.Now(), MaxReads: 20, MaxDuration: 5 * time.Second,
			})
			waitReader(t, r, 5*time.Second)
			if st := r.Stats(); st.Fills == 0 || st.FillsFailed != 0 {
				t.Errorf("fills %d, failed %d: want every miss filled", st.Fills, st.FillsFailed)
			}
		})
	}
}
