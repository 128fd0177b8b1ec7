package check_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// spooledCrash is a real crash mid-load with the writer's History spooled
// to disk: writes at 2000/s under --save "1 1", SIGKILL 300 ms after a save
// completed, a replacement on the same dir and port taking writes too.
type spooledCrash struct {
	h    *loadgen.History // on disk
	addr string
	in   check.Input // everything but the ops and the read-back
}

func runSpooledCrash(t *testing.T, ctx context.Context, prefix string) spooledCrash {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log1 := filepath.Join(tmp, "old.log")
	old := startServer(t, dir, 0, "1 1", log1)
	addr := old.Addr()
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	base := time.Now()
	saves := probe.WatchSaves(ctx, fixed(addr), 5*time.Millisecond)
	defer saves.Stop()
	writer, err := loadgen.StartWriter(ctx, loadgen.WriterConfig{
		Addr: fixed(addr), Prefix: prefix, Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 2000},
		Base: base, MaxOps: 100_000, MaxDuration: 30 * time.Second, OpTimeout: 500 * time.Millisecond,
		Spool: filepath.Join(tmp, "history.spool"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Stop()
	if saved, err := saves.WaitEnd(ctx, base.Add(100*time.Millisecond)); err != nil || !saved.OK {
		t.Fatalf("no good save after writes began: %+v %v", saved, err)
	}
	time.Sleep(300 * time.Millisecond)
	fault := time.Now()
	if err := old.KillGroup(); err != nil {
		t.Fatal(err)
	}
	stopServer(old)
	saves.Stop()
	time.Sleep(50 * time.Millisecond) // the outage: writes are refused
	replacement := startServer(t, dir, port, "1 1", filepath.Join(tmp, "new.log"))
	if _, err := probe.WaitReady(ctx, fixed(addr), 2*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the replacement takes writes too
	h := writer.Stop()
	if _, ok := h.Spooled(); !ok || h.Len() == 0 || h.Err() != nil {
		t.Fatalf("want a spooled History with ops: spooled %v, %d ops, %v", ok, h.Len(), h.Err())
	}
	oldLog := parseLog(t, log1)
	var starts []time.Duration
	for _, s := range completedSaveStarts(oldLog) {
		starts = append(starts, s.Sub(base))
	}
	return spooledCrash{h: h, addr: addr, in: check.Input{
		TFault: fault.Sub(base), Replacement: replacement.StartedAt().Sub(base), SaveStarts: starts,
		CompletedSaves: lastSaveFork(oldLog, base, fault),
	}}
}

// Classifying a History from its spool file, in chunks whose boundaries fall
// anywhere (97 ops), gives exactly what classifying the same ops in memory
// gives, and what the brute-force oracle gives: on a real crash mid-load,
// and on the same read-back with one early survivor removed (a prefix
// anomaly, so the stream is read a second time). The read-back and the set
// of written keys are the same from disk as from memory, and a damaged
// spool is an error, not a classification.
func TestClassifyFromSpoolEqualsMemory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	const prefix = "vc:spool-classify:"
	tr := runSpooledCrash(t, ctx, prefix)
	var mem []loadgen.Op
	if err := tr.h.Range(func(_ int, op *loadgen.Op) bool { mem = append(mem, *op); return true }); err != nil {
		t.Fatal(err)
	}
	found, err := check.ReadBackStream(ctx, valkeyconn.Settings{}, tr.addr, prefix, tr.h, 100)
	if err != nil {
		t.Fatal(err)
	}
	foundMem, err := check.ReadBack(ctx, valkeyconn.Settings{}, tr.addr, prefix, mem, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found, foundMem) {
		t.Fatal("the read-back from the spool differs from the read-back from memory")
	}
	defer check.SetChunkSize(97)()
	written, err := check.WrittenSeqs(tr.h)
	if err != nil {
		t.Fatal(err)
	}
	first, last := mem[0].Seq, mem[len(mem)-1].Seq
	for seq := first - 1; seq <= last+200; seq++ {
		if want := seq >= first && seq <= last; written.Has(seq) != want {
			t.Fatalf("written set: seq %d in it %v, want %v (history %d..%d)", seq, written.Has(seq), want, first, last)
		}
	}
	if tr.in.Unexpected, err = check.ScanUnexpected(ctx, valkeyconn.Settings{}, tr.addr, prefix, written.Has); err != nil {
		t.Fatal(err)
	}

	in := tr.in
	in.Ops, in.Found = mem, found
	fromMem := check.Classify(in)
	if fromMem.Lost == 0 || fromMem.Acked == 0 || fromMem.Failed == 0 || fromMem.LastSave == nil || fromMem.Anomalies != 0 {
		t.Fatalf("the crash did not give the cases to compare (lost, acked, failed writes, a last save, no anomaly): %+v", fromMem)
	}
	survivor := slices.IndexFunc(found, func(f check.Found) bool { return f.Match })
	tampered := slices.Clone(found)
	tampered[survivor] = check.Found{}
	for _, tc := range []struct {
		name      string
		found     []check.Found
		anomalies bool
	}{{"crash", found, false}, {"early survivor removed", tampered, true}} {
		in.Ops, in.Found = mem, tc.found
		want := check.Classify(in)
		compareOracle(t, tc.name, want, oracle(in))
		in.Ops = nil
		got, err := check.ClassifyStream(tr.h, in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: from the spool %+v\nfrom memory %+v", tc.name, got, want)
		}
		if (got.Anomalies > 0) != tc.anomalies {
			t.Errorf("%s: %d anomalies, want some: %v", tc.name, got.Anomalies, tc.anomalies)
		}
	}
	t.Logf("%d writes in %d-op chunks: acked %d, failed %d, unknown %d, lost %d, recovered %d", fromMem.Writes, 97,
		fromMem.Acked, fromMem.Failed, fromMem.Unknown, fromMem.Lost, fromMem.Recovered)

	damaged := damagedCopy(t, tr.h, len(mem)/2)
	in.Found = found
	if c, err := check.ClassifyStream(damaged, in); err == nil || !strings.Contains(err.Error(), "checksum") || c.Writes != 0 {
		t.Errorf("a damaged spool classified as %+v (%v), want a checksum error and no classification", c, err)
	}
	var un *check.UnavailableError
	if _, err := check.ReadBackStream(ctx, valkeyconn.Settings{}, tr.addr, prefix, damaged, 100); err == nil || errors.As(err, &un) {
		t.Errorf("a damaged spool read back: %v, want an error of the harness's, not the server going away", err)
	}
}

// damagedCopy copies h's spool file with one byte of op i's record flipped.
func damagedCopy(t *testing.T, h *loadgen.History, i int) *loadgen.History {
	t.Helper()
	path, _ := h.Spooled()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := len(data) - 40*h.Len()
	data[header+40*i+9] ^= 0x40 // inside the record's intended time
	bad := filepath.Join(t.TempDir(), "damaged.spool")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := loadgen.OpenSpooledHistory(bad)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// OpSlice gives its ops in chunks of the size asked, in order, and stops
// when told to.
func TestOpSliceChunks(t *testing.T) {
	ops := make(check.OpSlice, 10)
	for i := range ops {
		ops[i].Seq = uint64(i + 1)
	}
	var firsts, lens []int
	var seqs []uint64
	err := ops.Chunks(4, func(first int, chunk []loadgen.Op) bool {
		firsts, lens = append(firsts, first), append(lens, len(chunk))
		for _, op := range chunk {
			seqs = append(seqs, op.Seq)
		}
		return first < 4
	})
	if err != nil || !slices.Equal(firsts, []int{0, 4}) || !slices.Equal(lens, []int{4, 4}) || !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("chunks at %v of %v, seqs %v (%v): want 0 and 4, 4 each, 1..8, stopped", firsts, lens, seqs, err)
	}
	if ops.Len() != 10 {
		t.Errorf("Len %d, want 10", ops.Len())
	}
}

// The written set holds exactly the sequence numbers given, in any order,
// and refuses numbers too far apart for a bitmap.
func TestWrittenSeqs(t *testing.T) {
	seqs := []uint64{1000, 1001, 1063, 1064, 999, 5, 2000, 1}
	ops := make(check.OpSlice, len(seqs))
	for i, s := range seqs {
		ops[i].Seq = s
	}
	w, err := check.WrittenSeqs(ops)
	if err != nil {
		t.Fatal(err)
	}
	for s := uint64(0); s <= 2100; s++ {
		if want := slices.Contains(seqs, s); w.Has(s) != want {
			t.Errorf("seq %d: in the set %v, want %v", s, w.Has(s), want)
		}
	}
	if _, err := check.WrittenSeqs(check.OpSlice{{Seq: 1}, {Seq: 1 << 40}}); err == nil {
		t.Error("sequence numbers 2^40 apart made a bitmap")
	}
}
