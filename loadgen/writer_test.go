package loadgen

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runWriter runs a writer to its natural end (MaxDuration) and returns its
// history and the writer.
func runWriter(t *testing.T, cfg WriterConfig) (*Writer, *History) {
	t.Helper()
	if cfg.Base.IsZero() {
		cfg.Base = time.Now()
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "vc:test:"
	}
	w, err := StartWriter(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start writer: %v", err)
	}
	select {
	case <-w.Done():
	case <-time.After(cfg.MaxDuration + 30*time.Second):
		t.Fatalf("writer did not stop by itself after its %v schedule", cfg.MaxDuration)
	}
	return w, w.Stop()
}

// writerClients are the clients the writer tests run each behaviour
// through: the resp fast path must record what go-redis records.
var writerClients = []WriterClient{WriterClientGoRedis, WriterClientRESP}

// checkContiguous fails unless ops are seq first, first+1, ... in order.
func checkContiguous(t *testing.T, h *History, first uint64) {
	t.Helper()
	for i, op := range h.Ops {
		if op.Seq != first+uint64(i) {
			t.Fatalf("op %d has seq %d, want %d: the history has a gap", i, op.Seq, first+uint64(i))
		}
	}
}

func TestWriterAchievesTargetRate(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		rate float64
		dur  time.Duration
	}{
		{1, 2 * time.Second},
		{1000, 1500 * time.Millisecond},
		{10000, 1500 * time.Millisecond},
	}
	for _, client := range writerClients {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%g/s", client, tt.rate), func(t *testing.T) {
				prefix := fmt.Sprintf("vc:rate%s%g:", client, tt.rate)
				w, h := runWriter(t, WriterConfig{
					Addr:        func() string { return srv.addr },
					Prefix:      prefix,
					Client:      client,
					Pacer:       ConstantPacer{Freq: tt.rate},
					MaxOps:      1 << 30,
					MaxDuration: tt.dur,
				})
				want := int(math.Ceil(tt.rate * tt.dur.Seconds()))
				if len(h.Ops) != want {
					t.Errorf("%d ops issued, want %d (rate x schedule)", len(h.Ops), want)
				}
				checkContiguous(t, h, 1)
				from := w.Started()
				got := h.AchievedRate(from, from+tt.dur)
				if math.Abs(got-tt.rate) > 0.01*tt.rate {
					ok, fail, unknown := h.Counts()
					t.Errorf("achieved %.1f/s, want %g/s within 1%% (ok %d, fail %d, unknown %d)", got, tt.rate, ok, fail, unknown)
				}
				lat := h.Latency(from, from+tt.dur)
				t.Logf("%g/s: %d ops, achieved %.2f/s, latency from intended p50 %.2f ms p99 %.2f ms max %.2f ms",
					tt.rate, len(h.Ops), got, float64(lat.ValueAtQuantile(50))/1000, float64(lat.ValueAtQuantile(99))/1000, float64(lat.Max())/1000)

				// Every acknowledged write is in the server with the value it claims.
				keys := make([]string, 0, len(h.Ops))
				for _, op := range h.Ops {
					if op.Outcome == OK {
						keys = append(keys, Key(prefix, op.Seq))
					}
				}
				values := readBack(context.Background(), t, srv.client(), keys)
				j := 0
				for _, op := range h.Ops {
					if op.Outcome != OK {
						continue
					}
					seq, intended, ok := ParseValue(values[j])
					if !ok || seq != op.Seq || intended != op.Intended {
						t.Fatalf("key %s holds %q (seq %d, intended %v, valid %v), want seq %d intended %v",
							keys[j], values[j], seq, intended, ok, op.Seq, op.Intended)
					}
					j++
				}
			})
		}
	}
}

// sleepUntil sleeps until offset from base.
func sleepUntil(base time.Time, offset time.Duration) {
	time.Sleep(time.Until(base.Add(offset)))
}

func TestWriterRecordsCrashOutageAndResumes(t *testing.T) {
	for _, client := range writerClients {
		for _, rate := range []int{50, 2000} {
			t.Run(fmt.Sprintf("%s/%d/s", client, rate), func(t *testing.T) { testCrashOutage(t, client, rate) })
		}
	}
}

// testCrashOutage SIGKILLs the server 0.7 s into a 2.5 s schedule and starts
// a new one on the same port 0.3 s later.
func testCrashOutage(t *testing.T, client WriterClient, rate int) {
	srv := startServer(t)
	base := time.Now()
	cfg := WriterConfig{
		Addr:        func() string { return srv.addr },
		Prefix:      "vc:outage:",
		Client:      client,
		Pacer:       ConstantPacer{Freq: float64(rate)},
		Base:        base,
		MaxOps:      1 << 30,
		MaxDuration: 2500 * time.Millisecond,
		OpTimeout:   300 * time.Millisecond,
	}
	w, err := StartWriter(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sleepUntil(base, 700*time.Millisecond)
	srv.kill() // SIGKILL, returns once the port refuses connections
	dead := time.Since(base)
	time.Sleep(300 * time.Millisecond)
	restarting := time.Since(base)
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	answering := time.Since(base) // the test's own probe saw PONG
	<-w.Done()
	h := w.Stop()

	if want := rate * 2500 / 1000; len(h.Ops) != want {
		t.Errorf("%d ops recorded, want all %d scheduled: the outage must not be dropped", len(h.Ops), want)
	}
	checkContiguous(t, h, 1)
	kinds := map[string]int{}
	var firstAck *Op
	for i := range h.Ops {
		op := &h.Ops[i]
		if op.Outcome != OK {
			kinds[op.Outcome.String()+"/"+op.Err.String()]++
			if op.Err == ErrNone {
				t.Errorf("op %d is %v without an error kind", op.Seq, op.Outcome)
			}
			if op.Sent > answering {
				t.Errorf("op %d sent at %v, after the new server answered (%v), is %v/%v", op.Seq, op.Sent, answering, op.Outcome, op.Err)
			}
			continue
		}
		if op.Sent > dead && op.Done < restarting {
			t.Errorf("op %d acknowledged at %v while no server was running (%v-%v)", op.Seq, op.Done, dead, restarting)
		}
		// The earliest-sent ack, not the lowest seq: connections catch up
		// in parallel, so a higher seq can go out first on a busy machine.
		if op.Sent > dead && (firstAck == nil || op.Sent < firstAck.Sent) {
			firstAck = op
		}
	}
	t.Logf("outage %v-%v, server answering at %v; errors by outcome/kind: %v", dead, restarting, answering, kinds)
	if kinds["fail/refused"] == 0 {
		t.Errorf("no op failed with refused during a %v outage: %v", restarting-dead, kinds)
	}
	// Only writes in flight at the kill can be unknown (idle connections are
	// checked before reuse): at most one pipeline per connection (a busy
	// machine puts the writer behind, and it catches up in pipelines).
	if n := kinds["unknown/conn"] + kinds["unknown/timeout"]; n > defaultConns*defaultPipeline {
		t.Errorf("%d unknown writes, more than %d connections with pipelines of %d could have had in flight", n, defaultConns, defaultPipeline)
	}
	checkOutageOps(t, h, rate, dead, restarting)
	if firstAck == nil {
		t.Fatal("no write acknowledged after the restart")
	}
	checkResumed(t, h, answering, firstAck)
	// Caught up: from shortly after the restart every op succeeds again.
	from, to := answering+300*time.Millisecond, w.Started()+cfg.MaxDuration
	if got := h.AchievedRate(from, to); math.Abs(got-float64(rate)) > 0.01*float64(rate)+1/(to-from).Seconds() {
		t.Errorf("after recovery achieved %.1f/s, want %d/s within 1%%", got, rate)
	}
	checkAckedPresent(t, srv, cfg.Prefix, h, restarting)
}

// checkOutageOps asserts that the ops due while no server ran were all
// attempted (recorded) and none acknowledged.
func checkOutageOps(t *testing.T, h *History, rate int, dead, restarting time.Duration) {
	t.Helper()
	outageOps := 0
	for _, op := range h.Ops {
		if op.Intended > dead && op.Intended < restarting {
			outageOps++
			if op.Outcome == OK {
				t.Errorf("op %d due during the outage (%v) acknowledged: it was not attempted then", op.Seq, op.Intended)
			}
		}
	}
	if outageOps < int(0.9*float64(rate)*(restarting-dead).Seconds()) {
		t.Errorf("only %d ops due during the %v outage", outageOps, restarting-dead)
	}
}

// checkAckedPresent asserts that the writes acknowledged by the new server
// (sent after it was restarting) are there.
func checkAckedPresent(t *testing.T, srv *testServer, prefix string, h *History, restarting time.Duration) {
	t.Helper()
	var keys []string
	for _, op := range h.Ops {
		if op.Outcome == OK && op.Sent > restarting {
			keys = append(keys, Key(prefix, op.Seq))
		}
	}
	for i, v := range readBack(context.Background(), t, srv.client(), keys) {
		if v == nil {
			t.Fatalf("acknowledged key %s missing from the new server", keys[i])
		}
	}
}

// checkResumed asserts prompt resumption after a restart without a time
// tolerance (a busy machine delays any step): the first op sent after the
// test's own probe saw PONG is acknowledged, and no earlier-sent op is the
// first ack after the outage, so the writer neither waited out a backoff
// nor lost writes to a live server.
func checkResumed(t *testing.T, h *History, answering time.Duration, firstAck *Op) {
	t.Helper()
	var firstAfterAnswer *Op
	for i := range h.Ops {
		if op := &h.Ops[i]; op.Sent > answering && (firstAfterAnswer == nil || op.Sent < firstAfterAnswer.Sent) {
			firstAfterAnswer = op
		}
	}
	switch {
	case firstAfterAnswer == nil:
		t.Error("no op sent after the new server answered")
	case firstAfterAnswer.Outcome != OK:
		t.Errorf("first op sent after the server answered (%v) is %v/%v", firstAfterAnswer.Sent, firstAfterAnswer.Outcome, firstAfterAnswer.Err)
	case firstAck.Sent > firstAfterAnswer.Sent:
		t.Errorf("first ack after the outage sent at %v, after the first op sent once the server answered (%v)", firstAck.Sent, firstAfterAnswer.Sent)
	}
}

func TestWriterRecordsUnknownWhenServerHangs(t *testing.T) {
	for _, client := range writerClients {
		t.Run(string(client), func(t *testing.T) { testServerHangs(t, client) })
	}
}

func testServerHangs(t *testing.T, client WriterClient) {
	srv := startServer(t)
	base := time.Now()
	cfg := WriterConfig{
		Addr:        func() string { return srv.addr },
		Prefix:      "vc:hang:",
		Client:      client,
		Pacer:       ConstantPacer{Freq: 500},
		Base:        base,
		MaxOps:      1 << 30,
		MaxDuration: 1500 * time.Millisecond,
		OpTimeout:   100 * time.Millisecond,
		Conns:       4,
	}
	w, err := StartWriter(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	sleepUntil(base, 400*time.Millisecond)
	pid := srv.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	<-w.Done()
	h := w.Stop()
	checkContiguous(t, h, 1)
	if len(h.Ops) != 750 {
		t.Errorf("%d ops recorded, want 750", len(h.Ops))
	}
	var unknown []string
	for _, op := range h.Ops {
		switch {
		case op.Outcome == Unknown && op.Err == ErrTimeout:
			unknown = append(unknown, Key(cfg.Prefix, op.Seq))
		case op.Outcome != OK:
			t.Errorf("op %d: %v/%v, want ok or unknown/timeout from a hung server", op.Seq, op.Outcome, op.Err)
		}
	}
	if len(unknown) == 0 {
		t.Fatal("no write timed out while the server was stopped")
	}
	// A timed-out write is not a failed one: the server read it when it
	// resumed and applied it.
	present := 0
	for _, v := range readBack(context.Background(), t, srv.client(), unknown) {
		if v != nil {
			present++
		}
	}
	t.Logf("%d unknown writes, %d of them applied", len(unknown), present)
	if present == 0 {
		t.Error("no unknown write was applied; the server should have executed the buffered commands on resuming")
	}
}

func TestWriterStopsAtItsBounds(t *testing.T) {
	srv := startServer(t)
	tests := []struct {
		name    string
		rate    float64
		maxOps  uint64
		maxDur  time.Duration
		wantOps int
	}{
		{"MaxOps", 10000, 300, time.Minute, 300},
		{"MaxDuration", 2000, 1 << 30, 250 * time.Millisecond, 500},
		{"pacer issues nothing", 0, 100, time.Minute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			_, h := runWriter(t, WriterConfig{
				Addr:        func() string { return srv.addr },
				Pacer:       ConstantPacer{Freq: tt.rate},
				MaxOps:      tt.maxOps,
				MaxDuration: tt.maxDur,
			})
			if len(h.Ops) != tt.wantOps {
				t.Errorf("%d ops, want %d", len(h.Ops), tt.wantOps)
			}
			checkContiguous(t, h, 1)
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("writer took %v to stop", took)
			}
		})
	}
}

func TestWriterStopAndCancel(t *testing.T) {
	srv := startServer(t)
	_ = srv.client().Ping(context.Background()) // settle the test's own goroutines first
	before := runtime.NumGoroutine()
	for _, client := range writerClients {
		for _, how := range []string{"Stop", "cancel"} {
			t.Run(string(client)+"/"+how, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				base := time.Now()
				w, err := StartWriter(ctx, WriterConfig{
					Addr:        func() string { return srv.addr },
					Prefix:      "vc:stop:",
					Client:      client,
					Pacer:       ConstantPacer{Freq: 1000},
					Base:        base,
					StartSeq:    1000,
					MaxOps:      1 << 30,
					MaxDuration: time.Minute,
				})
				if err != nil {
					t.Fatal(err)
				}
				sleepUntil(base, 300*time.Millisecond)
				stopAt := time.Since(base)
				var h *History
				if how == "Stop" {
					h = w.Stop()
				} else {
					cancel()
					select {
					case <-w.Done():
					case <-time.After(5 * time.Second):
						t.Fatal("Done not closed 5s after cancel")
					}
					h = w.Stop()
				}
				stopped := time.Since(base)
				if h2 := w.Stop(); h2 != h {
					t.Error("second Stop returned a different history")
				}
				checkContiguous(t, h, 1000)
				// Bounds from what was observed, not a tolerance: the writer
				// ran, and it issued nothing due after its stop returned (at
				// 1000/s, at most one op per millisecond up to then). How close
				// it kept to the rate is the pacer's benchmark's business.
				if due := int(stopped/time.Millisecond) + 1; len(h.Ops) == 0 || len(h.Ops) > due {
					t.Errorf("%d ops; want 1..%d (due by the stop's return at %v, asked at %v)", len(h.Ops), due, stopped, stopAt)
				}
				for _, op := range h.Ops {
					if op.Intended > stopped {
						t.Errorf("op %d due at %v, after the stop returned at %v", op.Seq, op.Intended, stopped)
					}
				}
				ok, fail, unknown := h.Counts()
				st := w.Stats()
				if st.Issued != uint64(len(h.Ops)) || st.Acked != uint64(ok) || st.Failed != uint64(fail) || st.Unknown != uint64(unknown) {
					t.Errorf("stats %+v disagree with the history (%d ops: %d ok, %d fail, %d unknown)", st, len(h.Ops), ok, fail, unknown)
				}
				if st.LastAck <= 0 || st.LastAck > time.Since(base) {
					t.Errorf("LastAck %v outside the run", st.LastAck)
				}
			})
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after the writers stopped:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func TestStartWriterRejectsBadConfig(t *testing.T) {
	good := WriterConfig{
		Addr:        func() string { return "127.0.0.1:1" },
		Prefix:      "vc:x:",
		Pacer:       ConstantPacer{Freq: 1},
		Base:        time.Now(),
		MaxOps:      1,
		MaxDuration: time.Second,
	}
	tests := []struct {
		name   string
		mutate func(*WriterConfig)
		want   string
	}{
		{"no addr", func(c *WriterConfig) { c.Addr = nil }, "Addr"},
		{"no prefix", func(c *WriterConfig) { c.Prefix = "" }, "Prefix"},
		{"no pacer", func(c *WriterConfig) { c.Pacer = nil }, "Pacer"},
		{"no base", func(c *WriterConfig) { c.Base = time.Time{} }, "Base"},
		{"unbounded ops", func(c *WriterConfig) { c.MaxOps = 0 }, "MaxOps"},
		{"unbounded time", func(c *WriterConfig) { c.MaxDuration = 0 }, "MaxDuration"},
		{"too many conns", func(c *WriterConfig) { c.Conns = 70000 }, "Conns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			w, err := StartWriter(context.Background(), cfg)
			if err == nil {
				w.Stop()
				t.Fatal("StartWriter accepted the config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestMergeBySeq(t *testing.T) {
	conn := func(seqs ...uint64) *writerConn {
		c := &writerConn{}
		for _, s := range seqs {
			c.ops.add(Op{Seq: s, Outcome: OK})
		}
		return c
	}
	tests := []struct {
		name  string
		conns []*writerConn
		first uint64
		want  []uint64
	}{
		{"interleaved contiguous", []*writerConn{conn(5, 7, 8), conn(6, 9)}, 5, []uint64{5, 6, 7, 8, 9}},
		{"gap falls back to sorting", []*writerConn{conn(5, 9), conn(6)}, 5, []uint64{5, 6, 9}},
		{"empty", []*writerConn{conn(), conn()}, 1, []uint64{}},
	}
	for _, tt := range tests {
		n := 0
		for _, c := range tt.conns {
			n += c.ops.len()
		}
		got := []uint64{}
		for _, op := range mergeBySeq(tt.conns, n, tt.first) {
			got = append(got, op.Seq)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
