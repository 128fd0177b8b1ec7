package loadgen

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/trigpointing/valkey-chaos/result"
)

// sampleHistory is a small history with every outcome and kind, including
// odd values (negative offsets, huge latencies) that must survive encoding.
func sampleHistory() *History {
	h := &History{}
	kinds := []ErrKind{ErrLoading, ErrRefused, ErrMisconf, ErrTimeout, ErrConn, ErrOther}
	for i := 0; i < 1000; i++ {
		intended := time.Duration(i) * time.Millisecond
		op := Op{Seq: 41 + uint64(i), Conn: uint16(i % 16), Intended: intended, Sent: intended + 30*time.Microsecond, Done: intended + 400*time.Microsecond, Outcome: OK}
		switch {
		case i >= 500 && i < 600: // an outage: refused connects
			op.Outcome, op.Err, op.Done = Fail, ErrRefused, op.Sent
		case i >= 600 && i < 620:
			op.Outcome, op.Err = Unknown, kinds[i%len(kinds)]
		case i >= 620 && i < 700: // the catch-up: late acks
			op.Done = time.Duration(700) * time.Millisecond
		}
		h.Ops = append(h.Ops, op)
	}
	h.Ops = append(h.Ops,
		Op{Seq: 2000, Conn: 65535, Intended: -5 * time.Second, Sent: -4 * time.Second, Done: 2 * time.Hour, Outcome: OK},
		Op{Seq: 2001, Intended: 1 << 50, Sent: 1<<50 + 1, Done: 1<<50 + 2, Outcome: Fail, Err: ErrMisconf},
	)
	return h
}

func TestHistoryRoundTrip(t *testing.T) {
	for _, h := range []*History{{}, sampleHistory()} {
		var buf bytes.Buffer
		n, err := h.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(buf.Len()) {
			t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
		}
		if len(h.Ops) > 0 && buf.Len() > 12*len(h.Ops) {
			t.Errorf("%d ops took %d bytes; want a compact encoding (<= 12 B/op)", len(h.Ops), buf.Len())
		}
		got, err := ReadHistory(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Ops) != len(h.Ops) || (len(h.Ops) > 0 && !reflect.DeepEqual(got.Ops, h.Ops)) {
			t.Errorf("round trip changed the history (%d ops in, %d out)", len(h.Ops), len(got.Ops))
		}
	}
}

func TestReadHistoryRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if _, err := sampleHistory().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	wrongVersion := bytes.Clone(good[:len(good)-4])
	wrongVersion[6] = 9
	wrongVersion = binary.LittleEndian.AppendUint32(wrongVersion, crc32.ChecksumIEEE(wrongVersion))
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"not a history", []byte("{\"schema\": \"valkey-chaos/result/v1\"}"), "bad magic"},
		{"truncated", good[:len(good)-100], "checksum"},
		{"bit flip", flipped, "checksum"},
		{"future version", wrongVersion, "version 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHistory(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadHistory error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestAchievedRateCountsAcksByIntendedTime(t *testing.T) {
	h := sampleHistory()
	tests := []struct {
		from, to time.Duration
		want     float64
	}{
		{0, 500 * time.Millisecond, 1000},                      // all acknowledged
		{500 * time.Millisecond, 600 * time.Millisecond, 0},    // outage
		{0, time.Second, 880},                                  // 1000 - 100 refused - 20 unknown
		{620 * time.Millisecond, 700 * time.Millisecond, 1000}, // late acks count at their intended time
		{time.Second, time.Second, 0},                          // empty window
	}
	for _, tt := range tests {
		if got := h.AchievedRate(tt.from, tt.to); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("AchievedRate(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestLatencyIsFromIntendedTime(t *testing.T) {
	h := sampleHistory()
	lat := h.Latency(0, 500*time.Millisecond)
	if lat.TotalCount() != 500 {
		t.Fatalf("%d latencies, want the 500 acks", lat.TotalCount())
	}
	if p50 := lat.ValueAtQuantile(50); p50 < 399 || p50 > 401 {
		t.Errorf("p50 %d µs, want 400 (Done - Intended, not Done - Sent)", p50)
	}
	// The catch-up ops waited until 700 ms: up to 80 ms late.
	late := h.Latency(620*time.Millisecond, 700*time.Millisecond)
	if max := late.Max(); max < 79_900 || max > 80_100 {
		t.Errorf("max latency of late acks %d µs, want 80000", max)
	}
	// A two-hour latency is clamped at the ceiling, not dropped.
	all := h.Latency(-time.Minute, time.Hour)
	if all.TotalCount() != 881 || all.Max() < LatencyCeiling.Microseconds()*999/1000 {
		t.Errorf("count %d max %d µs: want the outlier kept at the ceiling", all.TotalCount(), all.Max())
	}
}

func TestSeriesBinsSumToOpCounts(t *testing.T) {
	h := sampleHistory()
	bin := 100 * time.Millisecond
	s := h.Series(0, 950*time.Millisecond, bin) // rounded up to 10 bins
	if len(s.AckedPS) != 10 || len(s.LatP50Ms) != 10 || s.BinS != 0.1 || s.StartS != 0 {
		t.Fatalf("series shape: %d bins of %v s from %v", len(s.AckedPS), s.BinS, s.StartS)
	}
	acked := 0.0
	for _, v := range s.AckedPS {
		acked += v * s.BinS
	}
	errs := map[string]float64{}
	for kind, series := range s.ErrorsPS {
		if len(series) != 10 {
			t.Errorf("errors[%s] has %d bins", kind, len(series))
		}
		for _, v := range series {
			errs[kind] += v * s.BinS
		}
	}
	ok, fail, unknown := (&History{Ops: h.Ops[:1000]}).Counts()
	if math.Round(acked) != float64(ok) {
		t.Errorf("acked bins sum to %v, want %d", acked, ok)
	}
	totalErr := 0.0
	for _, v := range errs {
		totalErr += v
	}
	if math.Round(totalErr) != float64(fail+unknown) {
		t.Errorf("error bins %v sum to %v, want %d", errs, totalErr, fail+unknown)
	}
	wantKinds := map[string]float64{}
	for _, op := range h.Ops[:1000] {
		if op.Outcome != OK {
			wantKinds[op.Err.String()]++
		}
	}
	for kind, want := range wantKinds {
		if math.Round(errs[kind]) != want {
			t.Errorf("errors[%s] sum to %v, want %v", kind, errs[kind], want)
		}
	}
	if s.AckedPS[0] != 1000 || s.LatP50Ms[0] != 0.4 || s.LatMaxMs[0] != 0.4 {
		t.Errorf("bin 0: %v acked/s, p50 %v ms, max %v ms; want 1000, 0.4, 0.4", s.AckedPS[0], s.LatP50Ms[0], s.LatMaxMs[0])
	}
	if s.AckedPS[5] != 0 || s.LatP50Ms[5] != 0 || s.LatP99Ms[5] != 0 {
		t.Errorf("outage bin: %v acked/s, p50 %v; want zeros", s.AckedPS[5], s.LatP50Ms[5])
	}
	for i := range s.AckedPS {
		for _, v := range []float64{s.AckedPS[i], s.LatP50Ms[i], s.LatP99Ms[i], s.LatMaxMs[i]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("bin %d holds %v", i, v)
			}
		}
	}
}

func TestWriteHgrm(t *testing.T) {
	h := sampleHistory().Latency(0, time.Second)
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Scan()
	if got := strings.Fields(sc.Text()); !reflect.DeepEqual(got, []string{"Value", "Percentile", "TotalCount", "1/(1-Percentile)"}) {
		t.Fatalf("header %q", sc.Text())
	}
	var last []string
	var prevPct float64
	rows := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 && len(f) != 3 {
			t.Fatalf("line %q: want 4 columns (3 on the last)", line)
		}
		pct, err := strconv.ParseFloat(f[1], 64)
		if err != nil || pct < prevPct {
			t.Fatalf("line %q: percentile not increasing", line)
		}
		prevPct = pct
		last = f
		rows++
	}
	if rows < 10 || len(last) != 3 || last[1] != "1.000000000000" || last[2] != "880" {
		t.Fatalf("%d rows, last %q: want a final 100%% line with the total count 880", rows, last)
	}
	if v, _ := strconv.ParseFloat(last[0], 64); v < 79.9 || v > 80.1 {
		t.Errorf("max %v ms, want 80", v)
	}
}

// A History holds tens of millions of ops: each must stay within 40 bytes
// (issue 16; BenchmarkHistoryMemory measures the whole recording path).
func TestOpSize(t *testing.T) {
	if got := unsafe.Sizeof(Op{}); got > 40 {
		t.Errorf("Op is %d bytes, want at most 40", got)
	}
}

// MayHaveApplied bounds the changes the harness can have made in a window
// from above, so a writer catching up is never taken for another writer.
func TestMayHaveAppliedCountsEveryOpThatCouldLandInTheWindow(t *testing.T) {
	h := sampleHistory()
	ms := time.Millisecond
	tests := []struct {
		name     string
		from, to time.Duration
		want     int
	}{
		{"acknowledged in the window, and the long one", 0, 500 * ms, 500 + 1},
		{"refused ops never land; unknown ones may, late acks may", 550 * ms, 650 * ms, 20 + 30 + 1},
		{"the catch-up: 80 late acks, one on time, every unknown sent before", 699 * ms, 701 * ms, 80 + 1 + 20 + 1},
		{"nothing sent before the window's end lands in it", -5 * time.Second, -4 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := h.MayHaveApplied(tt.from, tt.to); got != tt.want {
			t.Errorf("%s: MayHaveApplied(%v, %v) = %d, want %d", tt.name, tt.from, tt.to, got, tt.want)
		}
	}
}

// SentRate judges the writer's pacing by what it sent in time, whatever the
// reply: in-flight (unknown) and late-acknowledged ops were sent on schedule.
func TestSentRateCountsOpsSentInTimeWhateverTheReply(t *testing.T) {
	h := sampleHistory()
	ms := time.Millisecond
	tests := []struct {
		name     string
		from, to time.Duration
		want     float64
	}{
		{"acknowledged on time", 0, 500 * ms, 1000},
		{"refused dials were never sent", 500 * ms, 600 * ms, 0},
		{"unknown replies were sent", 600 * ms, 620 * ms, 1000},
		{"late acknowledgements were sent on time", 620 * ms, 700 * ms, 1000},
		{"whole window: only the 100 refused are missing", 0, time.Second, 900},
		{"empty window", time.Second, time.Second, 0},
	}
	for _, tt := range tests {
		if got := h.SentRate(tt.from, tt.to); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: SentRate(%v, %v) = %v, want %v", tt.name, tt.from, tt.to, got, tt.want)
		}
	}
}

// seriesOracle is Series as first written: every bin's latencies held,
// sorted, ranked.
func seriesOracle(h *History, from, to, bin time.Duration) result.Series {
	s := result.Series{StartS: from.Seconds(), BinS: bin.Seconds(), ErrorsPS: map[string][]float64{}}
	nbins := int((to - from + bin - 1) / bin)
	end := from + time.Duration(nbins)*bin
	s.AckedPS, s.LatP50Ms, s.LatP99Ms, s.LatMaxMs = make([]float64, nbins), make([]float64, nbins), make([]float64, nbins), make([]float64, nbins)
	lat := make([][]time.Duration, nbins)
	for _, op := range h.Ops {
		if op.Intended < from || op.Intended >= end {
			continue
		}
		k := int((op.Intended - from) / bin)
		if op.Outcome == OK {
			s.AckedPS[k] += 1 / bin.Seconds()
			lat[k] = append(lat[k], op.Latency())
			continue
		}
		name := op.Err.String()
		if name == "" {
			name = ErrOther.String()
		}
		if s.ErrorsPS[name] == nil {
			s.ErrorsPS[name] = make([]float64, nbins)
		}
		s.ErrorsPS[name][k] += 1 / bin.Seconds()
	}
	for k, l := range lat {
		if len(l) > 0 {
			slices.Sort(l)
			s.LatP50Ms[k], s.LatP99Ms[k], s.LatMaxMs[k] = ms(nearestRank(l, 0.5)), ms(nearestRank(l, 0.99)), ms(l[len(l)-1])
		}
	}
	return s
}

// The series of a long trial holds one bin's latencies at a time, not one
// per op (8 B each: 576 MB for a one-hour trial's 72M ops, on top of the
// spool the History streams from), and gives what holding them all gives;
// ops out of order give it too.
func TestSeriesHoldsOneBinAtATime(t *testing.T) {
	const n = 500_000
	h := &History{Ops: make([]Op, n)}
	for i := range h.Ops {
		intended := time.Duration(i) * 20 * time.Microsecond // 50k/s for 10 s
		op := Op{Seq: uint64(i), Intended: intended, Sent: intended, Done: intended + time.Duration(i%997)*time.Microsecond, Outcome: OK}
		if i%50 == 7 {
			op.Outcome, op.Err = Unknown, ErrTimeout
		}
		h.Ops[i] = op
	}
	from, to, bin := time.Duration(0), 10*time.Second, 50*time.Millisecond
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := h.Series(from, to, bin)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > n {
		t.Errorf("Series allocated %d bytes for %d ops: more than a byte per op, so it holds them all", alloc, n)
	}
	if want := seriesOracle(h, from, to, bin); !reflect.DeepEqual(got, want) {
		t.Errorf("series differs from every bin's latencies held:\n got %+v\nwant %+v", got.LatP99Ms[:5], want.LatP99Ms[:5])
	}
	shuffled := &History{Ops: slices.Clone(h.Ops)}
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { shuffled.Ops[i], shuffled.Ops[j] = shuffled.Ops[j], shuffled.Ops[i] })
	if got, want := shuffled.Series(from, to, bin), seriesOracle(shuffled, from, to, bin); !reflect.DeepEqual(got, want) {
		t.Error("the series of ops out of order differs from every bin's latencies held")
	}
}
