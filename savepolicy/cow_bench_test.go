package savepolicy

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// cowCase is one measured save: keys preloaded, overwrites per second.
type cowCase struct {
	keys int64
	rate float64
	dist string
}

func infoNum(tb testing.TB, addr, section, field string) int64 {
	tb.Helper()
	f, err := probe.Info(context.Background(), addr, section)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(f[field], 10, 64)
	if err != nil {
		tb.Fatalf("INFO %s: %q", field, f[field])
	}
	return n
}

// measureCow preloads a server, overwrites at the case's rate through one
// BGSAVE stretched by rdb-key-save-delay, and returns the model's input as
// observed (rate = overwrites acknowledged during the save / its duration
// between two polls) with rdb_last_cow_size.
func measureCow(tb testing.TB, c cowCase, saveDelay string) CowRun {
	tb.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		tb.Fatalf("valkey-server is required: %v", err)
	}
	srv, err := local.Spawn(local.ServerConfig{Dir: tb.TempDir(), ExtraArgs: []string{"--rdb-key-save-delay", saveDelay}})
	if err != nil {
		tb.Fatal(err)
	}
	defer func() {
		srv.KillGroup()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Wait(ctx)
	}()
	ctx := context.Background()
	if err := srv.WaitAccepting(ctx, 30*time.Second); err != nil {
		tb.Fatal(err)
	}
	addr := srv.Addr()
	const prefix = "vc:cow:"
	if _, err := loadgen.Preload(ctx, valkeyconn.Settings{}, addr, prefix, c.keys, 100, 4); err != nil {
		tb.Fatal(err)
	}
	// The allocator's figures are refreshed by serverCron (every 100 ms):
	// read them after two ticks, never below what is allocated.
	time.Sleep(300 * time.Millisecond)
	heap := max(infoNum(tb, addr, "memory", "allocator_resident"), infoNum(tb, addr, "memory", "used_memory"))
	var ow *loadgen.Overwriter
	if c.rate > 0 {
		dist, _ := loadgen.ParseKeyDist(c.dist)
		ow, err = loadgen.StartOverwriter(ctx, loadgen.OverwriteConfig{
			Addr: func() string { return addr }, Prefix: prefix, Keys: c.keys, Dist: dist,
			Pacer: loadgen.ConstantPacer{Freq: c.rate}, MaxOps: 10_000_000, MaxDuration: 5 * time.Minute, OpTimeout: 10 * time.Second,
		})
		if err != nil {
			tb.Fatal(err)
		}
		defer ow.Stop()
	}
	acked := func() uint64 {
		if ow == nil {
			return 0
		}
		return ow.Stats().Acked
	}
	before := acked()
	began := time.Now()
	if rep, err := probe.Do(ctx, addr, 10*time.Second, "BGSAVE"); err != nil || rep.IsError() {
		tb.Fatalf("BGSAVE: %v %v", rep, err)
	}
	for infoNum(tb, addr, "persistence", "rdb_bgsave_in_progress") == 1 || infoNum(tb, addr, "persistence", "rdb_saves") == 0 {
		if time.Since(began) > 5*time.Minute {
			tb.Fatal("BGSAVE did not finish in 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(began)
	writes := acked() - before
	if ok := infoNum(tb, addr, "persistence", "rdb_last_cow_size"); ok < 0 {
		tb.Fatal("no cow size")
	}
	return CowRun{
		In: CowInput{DatasetBytes: heap, Keys: c.keys, WritesPerS: float64(writes) / took.Seconds(), BGSave: took,
			Kind: Overwrite, Dist: c.dist},
		Measured: infoNum(tb, addr, "persistence", "rdb_last_cow_size"),
	}
}

// BenchmarkCowModel fits the copy-on-write model on one set of saves and
// checks it on saves at held-out write rates and another dataset size:
// each measured rdb_last_cow_size must lie within the bound and the
// largest within 25% of it.
//
//	go test -run '^$' -bench CowModel -benchtime 1x ./savepolicy/
func BenchmarkCowModel(b *testing.B) {
	delay := os.Getenv("COW_SAVE_DELAY")
	if delay == "" {
		delay = "1"
	}
	train := []cowCase{{100_000, 0, ""}, {100_000, 50, ""}, {100_000, 400, ""}}
	held := []cowCase{{100_000, 100, ""}, {100_000, 200, ""}, {100_000, 800, ""}, {200_000, 200, ""}, {100_000, 400, "zipf"}}
	for i := 0; i < b.N; i++ {
		var fit []CowRun
		for _, c := range train {
			r := measureCow(b, c, delay)
			b.Logf("train %s", describeRun(c, r, nil))
			fit = append(fit, r)
		}
		m, err := FitCow(fit, 4096)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("fitted: %s (default model: %s)", m, DefaultCowModel)
		maxRatio, tight := 0.0, 0
		for _, c := range held {
			r := measureCow(b, c, delay)
			est, err := m.Bound(r.In)
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("held-out %s", describeRun(c, r, &est))
			ratio := float64(r.Measured) / float64(est.Bytes)
			maxRatio = max(maxRatio, ratio)
			if ratio > 1 {
				b.Errorf("%+v: measured %d above the bound %d", c, r.Measured, est.Bytes)
			}
			if ratio >= 0.75 && ratio <= 1 {
				tight++
			}
			if def, _ := DefaultCowModel.Bound(r.In); r.Measured > def.Bytes {
				b.Errorf("%+v: measured %d above the default model's bound %d", c, r.Measured, def.Bytes)
			}
		}
		if tight < 3 {
			b.Errorf("%d held-out saves within 25%% below the bound, want >= 3", tight)
		}
		b.ReportMetric(maxRatio, "max-measured/bound")
		b.ReportMetric(float64(tight), "held-out-within-25%")
	}
}

func describeRun(c cowCase, r CowRun, est *CowEstimate) string {
	s := fmt.Sprintf("keys=%d dist=%s rate=%.0f/s (asked %.0f) save=%.2fs writes=%.0f heap=%s cow=%s",
		c.keys, c.dist, r.In.WritesPerS, c.rate, r.In.BGSave.Seconds(), r.In.WritesPerS*r.In.BGSave.Seconds(),
		FormatBytes(float64(r.In.DatasetBytes)), FormatBytes(float64(r.Measured)))
	if est != nil {
		s += fmt.Sprintf(" bound=%s (%.0f%%)", FormatBytes(float64(est.Bytes)), 100*float64(r.Measured)/float64(est.Bytes))
	}
	return s
}
