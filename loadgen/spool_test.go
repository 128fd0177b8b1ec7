package loadgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Ops completing in any order, some far beyond the ring (a stuck op holding
// the line), come back from the file in Seq order, each exactly as recorded.
func TestSpoolWritesSeqOrderWhateverTheCompletionOrder(t *testing.T) {
	const first, n = 7, 2*spoolRing + 123
	want := make([]Op, n)
	for i := range want {
		want[i] = Op{Seq: first + uint64(i), Conn: uint16(i % 5), Intended: time.Duration(i) * time.Microsecond,
			Sent: time.Duration(i+1) * time.Microsecond, Done: time.Duration(i+3) * time.Microsecond,
			Outcome: Outcome(1 + i%3), Err: ErrKind(i % 7)}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	nearOrder := make([]int, n) // connections finishing a little out of order
	for i := range nearOrder {
		nearOrder[i] = i
	}
	for i := 0; i+64 <= n; i += 64 {
		rng.Shuffle(64, func(a, b int) { nearOrder[i+a], nearOrder[i+b] = nearOrder[i+b], nearOrder[i+a] })
	}
	tests := []struct {
		name  string
		order []int
		held  int // completes last
	}{
		{"near order, one op stuck to the end", nearOrder, 10},
		{"random order", rng.Perm(n), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "h.spool")
			sp, err := createSpool(path, first)
			if err != nil {
				t.Fatal(err)
			}
			maxOverflow := 0
			for _, i := range tt.order {
				if i != tt.held {
					sp.put(uint64(i), want[i])
					maxOverflow = max(maxOverflow, len(sp.order.overflow))
				}
			}
			if maxOverflow == 0 {
				t.Fatalf("no op went past the ring: the overflow path is untested")
			}
			if tt.held >= 0 {
				sp.put(uint64(tt.held), want[tt.held])
			}
			if got, err := sp.close(); err != nil || got != n {
				t.Fatalf("close: %d records, %v; want %d", got, err, n)
			}
			h, err := OpenSpooledHistory(path)
			if err != nil {
				t.Fatal(err)
			}
			if h.Len() != n {
				t.Fatalf("Len %d, want %d", h.Len(), n)
			}
			var got []Op
			if err := h.Chunks(1000, func(from int, ops []Op) bool {
				if from != len(got) {
					t.Fatalf("chunk at %d after %d ops", from, len(got))
				}
				got = append(got, ops...)
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ops read back differ from those recorded")
			}
		})
	}
}

func TestOpenSpooledHistoryRejectsDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.spool")
	sp, err := createSpool(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		sp.put(uint64(i), Op{Seq: uint64(i + 1), Outcome: OK})
	}
	if _, err := sp.close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "bad.spool")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := OpenSpooledHistory(write(data[:len(data)-3])); err == nil {
		t.Error("a torn last record opened without error")
	}
	if _, err := OpenSpooledHistory(write(append([]byte("nothere"), data[7:]...))); err == nil {
		t.Error("a bad magic opened without error")
	}
	flipped := bytes.Clone(data)
	flipped[spoolHeader+5*spoolRecord+3] ^= 1
	h, err := OpenSpooledHistory(write(flipped))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Range(func(int, *Op) bool { return true }); err == nil {
		t.Error("a flipped bit read back without error")
	}
	if h.Counts(); h.Err() == nil {
		t.Error("Counts over a damaged spool left no error in Err")
	}
	if _, err := createSpool(path, 1); err == nil {
		t.Error("a spool over an existing file was created")
	}
}

// A spooled writer through a SIGKILL and restart against a real server: the
// History read from disk has every scheduled op once, in Seq order, the
// writer's own counters agree with it, the summaries work from disk, and
// history.bin written from it reads back equal.
func TestSpooledWriterThroughCrash(t *testing.T) {
	srv := startServer(t)
	path := filepath.Join(t.TempDir(), "h.spool")
	base := time.Now()
	const rate, dur = 2000, 2 * time.Second
	w, err := StartWriter(context.Background(), WriterConfig{
		Addr: func() string { return srv.addr }, Prefix: "vc:spool:", Pacer: ConstantPacer{Freq: rate},
		Base: base, MaxOps: 1 << 30, MaxDuration: dur, OpTimeout: 300 * time.Millisecond, Spool: path,
	})
	if err != nil {
		t.Fatal(err)
	}
	sleepUntil(base, 600*time.Millisecond)
	srv.kill()
	time.Sleep(200 * time.Millisecond)
	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	<-w.Done()
	h := w.Stop()
	if _, ok := h.Spooled(); !ok || h.Ops != nil {
		t.Fatalf("History not spooled (Ops has %d)", len(h.Ops))
	}
	if h.Len() != rate*int(dur/time.Second) {
		t.Errorf("%d ops, want %d", h.Len(), rate*int(dur/time.Second))
	}
	var mem History
	if err := h.Range(func(i int, op *Op) bool {
		if op.Seq != uint64(i+1) {
			t.Fatalf("op %d has seq %d", i, op.Seq)
		}
		mem.Ops = append(mem.Ops, *op)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	ok, fail, unknown := h.Counts()
	if uint64(ok) != st.Acked || uint64(fail) != st.Failed || uint64(unknown) != st.Unknown || fail == 0 {
		t.Errorf("spooled counts %d/%d/%d, writer counted %d/%d/%d (want some failures during the outage)", ok, fail, unknown, st.Acked, st.Failed, st.Unknown)
	}
	from, to := w.Started(), w.Started()+dur
	if a, b := h.AchievedRate(from, to), mem.AchievedRate(from, to); a != b {
		t.Errorf("achieved rate from disk %v, from memory %v", a, b)
	}
	if a, b := h.Latency(from, to).TotalCount(), mem.Latency(from, to).TotalCount(); a != b || a != int64(ok) {
		t.Errorf("latency counts from disk %d, from memory %d, ok %d", a, b, ok)
	}
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Ops, mem.Ops) {
		t.Error("history.bin from the spool differs from the spooled ops")
	}
}

// A spool left by a build that wrote version 1 (CRC-32 IEEE records) still
// opens and reads; a version this build does not know is refused; a
// version-1 record read as version 2 fails its checksum (the version picks
// the checksum, so neither can pass for the other).
func TestSpoolVersionsPickTheRecordChecksum(t *testing.T) {
	ops := []Op{
		{Seq: 7, Intended: 10 * time.Millisecond, Sent: 11 * time.Millisecond, Done: 13 * time.Millisecond, Conn: 2, Outcome: OK},
		{Seq: 8, Intended: 20 * time.Millisecond, Sent: 21 * time.Millisecond, Done: 90 * time.Millisecond, Conn: 3, Outcome: Unknown, Err: ErrTimeout},
	}
	file := func(version uint16, crc *crc32.Table) []byte {
		b := append([]byte(spoolMagic), 0, 0)
		binary.LittleEndian.PutUint16(b[len(spoolMagic):], version)
		b = binary.LittleEndian.AppendUint64(b, 7)
		for i := range ops {
			var rec [spoolRecord]byte
			encodeRecord(rec[:], &ops[i])
			binary.LittleEndian.PutUint32(rec[36:], crc32.Checksum(rec[:36], crc))
			b = append(b, rec[:]...)
		}
		return b
	}
	open := func(b []byte) (*History, error) {
		p := filepath.Join(t.TempDir(), "old.spool")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return OpenSpooledHistory(p)
	}
	h, err := open(file(1, crc32.IEEETable))
	if err != nil {
		t.Fatalf("a version-1 spool: %v", err)
	}
	var got []Op
	if err := h.Range(func(_ int, op *Op) bool { got = append(got, *op); return true }); err != nil {
		t.Fatalf("reading a version-1 spool: %v", err)
	}
	if !slices.Equal(got, ops) {
		t.Errorf("version-1 spool read %+v, want %+v", got, ops)
	}
	v1asV2 := file(1, crc32.IEEETable)
	binary.LittleEndian.PutUint16(v1asV2[len(spoolMagic):], 2)
	if h, err := open(v1asV2); err != nil {
		t.Fatal(err)
	} else if err := h.Range(func(int, *Op) bool { return true }); err == nil {
		t.Error("IEEE records under a version-2 header read without a checksum error")
	}
	if _, err := open(file(3, crc32.IEEETable)); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("a version-3 spool: %v, want refused naming the version", err)
	}
}
