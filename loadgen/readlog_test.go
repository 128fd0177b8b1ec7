package loadgen

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// A spooled reader through a restart: the file has every read once, in
// claim order (intended times in order), and its summary, made holding one
// bin's latencies at a time, equals the summary of the same reads shuffled
// in memory (every bin's latencies held): the two paths of one definition.
func TestSpooledReadsSummariseAsInMemory(t *testing.T) {
	srv := startServer(t)
	spool := filepath.Join(t.TempDir(), "r.reads.spool")
	base := time.Now()
	const before, after = time.Second, 1500 * time.Millisecond
	r := startReaderT(t, ReaderConfig{
		Addr: func() string { return srv.addr }, Prefix: "vc:rs:", Keys: 2000, ZipfS: 1.1, Seed: 3,
		OriginLatency: 2 * time.Millisecond, Pacer: ConstantPacer{Freq: 1500},
		Base: base, MaxReads: 1 << 20, MaxDuration: before + after, Spool: spool,
	})
	time.Sleep(before)
	fault := time.Since(base)
	srv.kill()
	if err := srv.start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	select {
	case <-r.Done():
	case <-time.After(before + after + 30*time.Second):
		t.Fatal("reader did not stop by itself")
	}
	log := r.Stop()
	if p, ok := log.Spooled(); !ok || p != spool {
		t.Fatalf("log spooled %v at %q, want %q", ok, p, spool)
	}
	var reads []Read
	if err := log.Chunks(97, func(c []Read) bool { reads = append(reads, c...); return true }); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); uint64(len(reads)) != st.Reads || log.Len() != len(reads) {
		t.Fatalf("spool has %d reads (Len %d), the reader counted %d", len(reads), log.Len(), st.Reads)
	}
	for i := 1; i < len(reads); i++ {
		if reads[i].Intended < reads[i-1].Intended {
			t.Fatalf("read %d intended at %v before read %d at %v: not in claim order", i, reads[i].Intended, i-1, reads[i-1].Intended)
		}
	}
	opt := ReadSummaryOptions{Fault: fault, Steady: 500 * time.Millisecond, Bin: 50 * time.Millisecond}
	spooled, err := SummarizeReadLog(log, opt)
	if err != nil {
		t.Fatal(err)
	}
	shuffled := append([]Read(nil), reads...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if mem := SummarizeReads(shuffled, opt); !reflect.DeepEqual(spooled, mem) {
		t.Errorf("spooled summary differs from the in-memory one:\nspooled %+v\nmemory  %+v", spooled, mem)
	}
	if spooled.Errors == 0 && spooled.ClientGapS <= 0 {
		t.Errorf("the restart shows neither errors nor a gap: %+v", spooled)
	}
	if err := log.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Errorf("spool still there after Remove: %v", err)
	}
}

// Reads completing in any order, some far past the ring (a stuck request
// holding the line), and claimed reads the stop cancelled, come back from
// the file in claim order, each once, exactly as recorded.
func TestReadSpoolWritesClaimOrderWhateverTheCompletionOrder(t *testing.T) {
	sp, err := createReadSpool(filepath.Join(t.TempDir(), "x.reads.spool"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*readRing + 17
	order := rand.New(rand.NewPCG(5, 6)).Perm(n)
	cancelled := map[uint64]bool{7: true, n - 1: true, readRing + 3: true}
	for _, i := range order {
		k := uint64(i)
		if cancelled[k] {
			sp.put(k, Read{Result: readNotTaken})
			continue
		}
		sp.put(k, Read{Key: k, Intended: time.Duration(k) * time.Millisecond, Done: time.Duration(k+1) * time.Millisecond,
			Result: ReadResult(1 + k%3), Err: ErrKind(k % 5), Origin: k%2 == 0, OriginAt: time.Duration(k), Fill: Fill(k % 3), FillDone: time.Duration(2 * k)})
	}
	log := sp.close()
	var got []Read
	if err := log.Chunks(0, func(c []Read) bool { got = append(got, c...); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n-len(cancelled) {
		t.Fatalf("%d reads back, want %d", len(got), n-len(cancelled))
	}
	want := uint64(0)
	for _, rd := range got {
		for cancelled[want] {
			want++
		}
		if rd.Key != want || rd.Intended != time.Duration(want)*time.Millisecond || rd.FillDone != time.Duration(2*want) ||
			rd.Result != ReadResult(1+want%3) || rd.Err != ErrKind(want%5) || rd.Origin != (want%2 == 0) || rd.Fill != Fill(want%3) {
			t.Fatalf("read %+v, want the one claimed at %d", rd, want)
		}
		want++
	}
}
