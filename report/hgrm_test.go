package report

import (
	"bytes"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// The .hgrm files the harness writes (HdrHistogram's percentile format,
// whose 100th-percentile row has no 1/(1-Percentile) column) are what the
// latency charts read back.
func TestHgrmWrittenByTheHarnessReadsBack(t *testing.T) {
	var h loadgen.History
	for i := 0; i < 1000; i++ {
		h.Ops = append(h.Ops, loadgen.Op{Seq: uint64(i), Outcome: loadgen.OK, Intended: time.Duration(i) * time.Millisecond, Done: time.Duration(i)*time.Millisecond + time.Duration(100+i)*time.Microsecond})
	}
	var buf bytes.Buffer
	if err := loadgen.WriteHgrm(&buf, h.Latency(0, time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := parseHgrm(&buf)
	if err != nil {
		t.Fatalf("parse the harness's own .hgrm: %v", err)
	}
	last := got.points[len(got.points)-1]
	if last.percentile != 1 || last.value < 1.09 || last.value > 1.11 {
		t.Errorf("100th percentile row %+v, want 1.1 ms", last)
	}
	if got.count != 1000 {
		t.Errorf("total count %d, want 1000", got.count)
	}
}
