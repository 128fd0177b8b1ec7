package loadgen

import (
	"bytes"
	"compress/flate"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

func TestPreloadBuildsDataset(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	const keys, size = 20000, 100
	st, err := Preload(ctx, valkeyconn.Settings{}, srv.addr, "vc:pre:", keys, size, 4)
	if err != nil {
		t.Fatal(err)
	}
	wantBytes := int64(0)
	names := make([]string, keys)
	for i := range names {
		names[i] = DatasetKey("vc:pre:", int64(i))
		wantBytes += int64(len(names[i]) + size)
	}
	if st.Keys != keys || st.Bytes != wantBytes || st.Duration <= 0 {
		t.Errorf("stats %+v, want %d keys, %d bytes", st, keys, wantBytes)
	}
	c := srv.client()
	if n, err := c.DBSize(ctx).Result(); err != nil || n != keys {
		t.Errorf("DBSIZE %d (%v), want %d", n, err, keys)
	}
	values := readBack(ctx, t, c, names)
	var sample bytes.Buffer
	seen := make(map[string]string, keys) // every connection's stream its own
	for i, v := range values {
		if len(v) != size {
			t.Fatalf("%s holds %d bytes, want %d", names[i], len(v), size)
		}
		if other, dup := seen[string(v)]; dup {
			t.Fatalf("%s and %s hold the same value", other, names[i])
		}
		seen[string(v)] = names[i]
		if i < 1000 {
			sample.Write(v)
		}
	}
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(sample.Bytes())
	fw.Close()
	if ratio := float64(z.Len()) / float64(sample.Len()); ratio < 0.95 {
		t.Errorf("values deflate to %.0f%%; want random, incompressible bytes", ratio*100)
	}
}

func TestPreloadErrors(t *testing.T) {
	srv := startServer(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		addr string
		want string
	}{
		{"nothing listening", context.Background(), closedPort(t), "connection refused"},
		{"cancelled", cancelled, srv.addr, context.Canceled.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Preload(tt.ctx, valkeyconn.Settings{}, tt.addr, "vc:pre:", 1000, 100, 2)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("error %v, want one naming %s and %q", err, tt.addr, tt.want)
			}
		})
	}
	if _, err := Preload(context.Background(), valkeyconn.Settings{}, srv.addr, "", 10, 100, 1); err == nil {
		t.Error("preload without a prefix accepted")
	}
	// An error reply stops the preload: the server refuses writes above maxmemory.
	c := srv.client()
	if err := c.ConfigSet(context.Background(), "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := Preload(context.Background(), valkeyconn.Settings{}, srv.addr, "vc:pre:", 1000, 100, 2)
	if err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Errorf("preload over maxmemory: %v, want an OOM error", err)
	}
}

func TestPreloadReportsEveryAcknowledgedKey(t *testing.T) {
	srv := startServer(t)
	var mu sync.Mutex
	var reported int64
	st, err := PreloadWithProgress(context.Background(), valkeyconn.Settings{}, srv.addr, "vc:prog:", 5000, 50, 3, func(n int64) {
		mu.Lock()
		reported += n
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if reported != st.Keys || st.Keys != 5000 {
		t.Fatalf("progress reported %d keys, preload wrote %d, want 5000", reported, st.Keys)
	}
}
