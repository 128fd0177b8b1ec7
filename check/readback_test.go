package check_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// A History spooled to disk reads back (ReadBackStream) like the same ops in memory: a real
// writer spools 20k SETs, a tenth of the keys are then deleted, and both
// read-backs find exactly the others.
func TestReadBackHistoryFromSpool(t *testing.T) {
	srv := startServer(t, t.TempDir(), 0, "", "")
	addr := srv.Addr()
	ctx := context.Background()
	const prefix, n = "vc:spoolrb:", 20000
	w, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: func() string { return addr }, Prefix: prefix, Conns: 4,
		Pacer: loadgen.ConstantPacer{Freq: math.Inf(1)}, Base: time.Now(), MaxOps: n,
		MaxDuration: time.Minute, OpTimeout: 10 * time.Second, Spool: filepath.Join(t.TempDir(), "h.spool"),
	})
	if err != nil {
		t.Fatal(err)
	}
	<-w.Done()
	h := w.Stop()
	if _, ok := h.Spooled(); !ok || h.Len() != n {
		t.Fatalf("spooled %v, %d ops; want a spooled History of %d", ok, h.Len(), n)
	}
	var mem []loadgen.Op
	if err := h.Range(func(_ int, op *loadgen.Op) bool { mem = append(mem, *op); return true }); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(10); seq <= n; seq += 10 {
		do(t, addr, "DEL", loadgen.Key(prefix, seq))
	}
	fromDisk, err := check.ReadBackStream(ctx, valkeyconn.Settings{}, addr, prefix, h, 300)
	if err != nil {
		t.Fatal(err)
	}
	fromMem, err := check.ReadBack(ctx, valkeyconn.Settings{}, addr, prefix, mem, 300)
	if err != nil {
		t.Fatal(err)
	}
	for i, op := range mem {
		want := check.Found{Present: true, Match: true}
		if op.Seq%10 == 0 || op.Outcome != loadgen.OK {
			want = check.Found{}
		}
		if fromDisk[i] != want || fromMem[i] != want {
			t.Fatalf("op %d (%v): from disk %+v, from memory %+v, want %+v", op.Seq, op.Outcome, fromDisk[i], fromMem[i], want)
		}
	}
}
