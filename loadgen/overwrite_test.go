package loadgen

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

func waitOverwriter(t *testing.T, o *Overwriter) OverwriteStats {
	t.Helper()
	select {
	case <-o.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("overwriter did not stop by itself")
	}
	return o.Stop()
}

func TestOverwriterChangesOnlyPreloadedKeys(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	const prefix, keys = "vc:ow:", 5000
	if _, err := Preload(ctx, valkeyconn.Settings{}, srv.addr, prefix, keys, 100, 2); err != nil {
		t.Fatal(err)
	}
	c := srv.client()
	names := make([]string, keys)
	for i := range names {
		names[i] = DatasetKey(prefix, int64(i))
	}
	before := readBack(ctx, t, c, names)
	o, err := StartOverwriter(ctx, OverwriteConfig{
		Addr: func() string { return srv.addr }, Prefix: prefix, Keys: keys,
		Pacer: ConstantPacer{Freq: 5000}, MaxOps: 2000, MaxDuration: time.Minute, OpTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := waitOverwriter(t, o)
	if st.Issued != 2000 || st.Acked != 2000 || st.Failed+st.Unknown != 0 {
		t.Fatalf("stats %+v, want 2000 issued and acknowledged", st)
	}
	after := readBack(ctx, t, c, names)
	changed := 0
	for i := range names {
		if after[i] == nil {
			t.Fatalf("%s vanished", names[i])
		}
		if len(after[i]) != 100 {
			t.Errorf("%s holds %d bytes, want 100", names[i], len(after[i]))
		}
		if !bytes.Equal(before[i], after[i]) {
			changed++
		}
	}
	// Oracle: the server's own values. Every key counted distinct changed.
	if uint64(changed) != st.Distinct || changed < 1000 {
		t.Errorf("%d keys changed on the server, overwriter counted %d distinct", changed, st.Distinct)
	}
	if n, _ := c.DBSize(ctx).Result(); n != keys {
		t.Errorf("dbsize %d, want %d: the overwriter must not add keys", n, keys)
	}
	if judged, _ := c.Keys(ctx, prefix+"w:*").Result(); len(judged) != 0 {
		t.Errorf("overwriter wrote judged keys %v", judged[:min(3, len(judged))])
	}
}

func TestOverwriterKeepsAnAbsoluteScheduleAndStopsByItself(t *testing.T) {
	addr := closedPort(t)
	began := time.Now()
	o, err := StartOverwriter(context.Background(), OverwriteConfig{
		Addr: func() string { return addr }, Prefix: "vc:ow:", Keys: 10,
		Pacer: ConstantPacer{Freq: 1000}, MaxOps: 1 << 40, MaxDuration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := waitOverwriter(t, o)
	took := time.Since(began)
	// Ops 0..199 fall due before 200 ms; each is attempted, late or not.
	if st.Issued != 200 || st.Failed != 200 || st.Acked != 0 {
		t.Errorf("stats %+v, want 200 issued and failed", st)
	}
	if st.Elapsed < 199*time.Millisecond || st.Elapsed > took {
		t.Errorf("elapsed %v, want between the last op's due time 199ms and the observed %v", st.Elapsed, took)
	}
}

func TestZipfDirtiesFewerKeysThanUniform(t *testing.T) {
	const keys, draws = 100_000, 50_000
	distinct := map[KeyDist]int{}
	for _, d := range []KeyDist{Uniform, Zipf} {
		cfg := OverwriteConfig{Addr: func() string { return "" }, Prefix: "p", Keys: keys, Dist: d, Pacer: ConstantPacer{Freq: 1}, MaxOps: 1, MaxDuration: 1, Seed: 7}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		p := newKeyPicker(cfg, 0)
		seen := map[int64]bool{}
		for i := 0; i < draws; i++ {
			k := p.next()
			if k < 0 || k >= keys {
				t.Fatalf("%s picked key %d outside [0, %d)", d, k, keys)
			}
			seen[k] = true
		}
		distinct[d] = len(seen)
	}
	// Uniform: keys*(1-e^(-draws/keys)) ≈ 39.3k distinct.
	if u := distinct[Uniform]; u < 38_000 || u > 40_500 {
		t.Errorf("uniform touched %d distinct keys, want about 39.3k", u)
	}
	if z := distinct[Zipf]; z*2 > distinct[Uniform] {
		t.Errorf("zipf touched %d distinct keys, want well under uniform's %d", z, distinct[Uniform])
	}
}

func TestCoprimeMultiplierIsAPermutation(t *testing.T) {
	for _, keys := range []uint64{1, 2, 3, 10, 64, 1000, 4096} {
		m := coprimeMultiplier(keys)
		seen := map[uint64]bool{}
		for r := uint64(0); r < keys; r++ {
			seen[mulMod(r, m, keys)] = true
		}
		if uint64(len(seen)) != keys {
			t.Errorf("keys %d multiplier %d maps onto %d keys, want all", keys, m, len(seen))
		}
	}
}

func TestOverwriteConfigErrors(t *testing.T) {
	ok := OverwriteConfig{Addr: func() string { return "" }, Prefix: "p", Keys: 1, Pacer: ConstantPacer{Freq: 1}, MaxOps: 1, MaxDuration: time.Second}
	tests := []struct {
		name string
		edit func(*OverwriteConfig)
		want string
	}{
		{"no prefix", func(c *OverwriteConfig) { c.Prefix = "" }, "Prefix"},
		{"no keys", func(c *OverwriteConfig) { c.Keys = 0 }, "preload"},
		{"no bound", func(c *OverwriteConfig) { c.MaxOps = 0 }, "MaxOps"},
		{"bad dist", func(c *OverwriteConfig) { c.Dist = "pareto" }, "uniform or zipf"},
		{"bad s", func(c *OverwriteConfig) { c.Dist, c.ZipfS = Zipf, 0.5 }, "ZipfS"},
	}
	for _, tc := range tests {
		cfg := ok
		tc.edit(&cfg)
		if _, err := StartOverwriter(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.want)
		}
	}
	if d, err := ParseKeyDist(""); err != nil || d != Uniform {
		t.Errorf("ParseKeyDist(\"\") = %q, %v; want uniform", d, err)
	}
}
