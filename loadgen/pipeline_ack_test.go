package loadgen

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// partialServer accepts one connection, reads a whole pipeline of `expect`
// SETs, answers the first `answer` with +OK and closes the connection (after
// reading everything, so the close is a FIN and the client gets every reply
// that was sent). Later connections are refused by closing them at once.
func partialServer(t *testing.T, expect, answer int) string {
	t.Helper()
	return scriptedServer(t, expect, slices.Repeat([]string{"+OK"}, answer))
}

// A reply that was read is an acknowledgement even when the connection dies
// before the rest of the pipeline is answered (issue 10, item 2).
func TestPipelineAnsweredOpsAreOKWhenConnectionDies(t *testing.T) {
	const n = 16
	for _, client := range writerClients {
		for _, answer := range []int{0, 1, 7, 15, 16} {
			t.Run(fmt.Sprintf("%s/%d of %d answered", client, answer, n), func(t *testing.T) {
				addr := partialServer(t, n, answer)
				_, h := runWriter(t, WriterConfig{
					Addr:        func() string { return addr },
					Client:      client,
					Conns:       1,
					Pipeline:    n,
					Pacer:       ConstantPacer{Freq: math.Inf(1)}, // all due at once: one pipeline
					MaxOps:      n,
					MaxDuration: 10 * time.Second,
					OpTimeout:   5 * time.Second,
				})
				if len(h.Ops) != n {
					t.Fatalf("%d ops recorded, want %d", len(h.Ops), n)
				}
				for i, op := range h.Ops {
					if op.Sent != h.Ops[0].Sent {
						t.Fatalf("op %d sent at %v, op 1 at %v: not one pipeline", op.Seq, op.Sent, h.Ops[0].Sent)
					}
					want, wantKind := Unknown, ErrConn
					if i < answer {
						want, wantKind = OK, ErrNone
					}
					if op.Outcome != want || op.Err != wantKind {
						t.Errorf("op %d: %v/%q, want %v/%q (%d replies were read before the close)", op.Seq, op.Outcome, op.Err, want, wantKind, answer)
					}
				}
			})
		}
	}
}

// A real server is SIGKILLed while the writer catches up with pipelines of
// 4 KB values. With appendfsync always the server fsyncs every write before
// it replies, so every op recorded ok must be there after the restart; ops
// never sent (refused) must not. A pipeline is told apart in the History by
// its shared connection, sent and done times: at least one pipeline must be
// cut mid-way (ok ops followed by unknown ones), which the code before the
// fix never recorded (it stamped the error on all of them).
func TestCrashDuringPipelinedCatchUpKeepsReadAcks(t *testing.T) {
	for _, client := range writerClients {
		t.Run(string(client), func(t *testing.T) {
			const attempts = 5
			mixed := 0
			for attempt := 1; attempt <= attempts && mixed == 0; attempt++ {
				mixed = crashDuringPipelines(t, client, attempt)
			}
			if mixed == 0 {
				t.Errorf("no pipeline was cut mid-way in %d crashes: replies read before a crash are not recorded as ok", attempts)
			}
		})
	}
}

// crashDuringPipelines runs one crash and returns how many pipelines had both
// ok and unknown ops.
func crashDuringPipelines(t *testing.T, client WriterClient, attempt int) int {
	t.Helper()
	srv := startServer(t, "--appendonly", "yes", "--appendfsync", "always")
	prefix := fmt.Sprintf("vc:pipecrash%d:", attempt)
	base := time.Now()
	w, err := StartWriter(context.Background(), WriterConfig{
		Addr:        func() string { return srv.addr },
		Prefix:      prefix,
		Client:      client,
		Conns:       4,
		Pipeline:    16,
		ValueSize:   4096,
		Pacer:       ConstantPacer{Freq: math.Inf(1)}, // always behind: always pipelined
		Base:        base,
		MaxOps:      40_000,
		MaxDuration: 3 * time.Second,
		OpTimeout:   5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Kill once writes flow; poll so a slow machine still gets there.
	for deadline := time.Now().Add(10 * time.Second); w.Stats().Acked < 2000 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	srv.kill()
	h := w.Stop()
	if err := srv.start(); err != nil { // reloads the AOF
		t.Fatal(err)
	}
	keys := make([]string, len(h.Ops))
	for i, op := range h.Ops {
		keys[i] = Key(prefix, op.Seq)
	}
	vals := readBack(context.Background(), t, srv.client(), keys)
	counts := map[Outcome]int{}
	present := map[Outcome]int{}
	for i, op := range h.Ops {
		counts[op.Outcome]++
		if vals[i] != nil {
			present[op.Outcome]++
		}
		switch {
		case op.Outcome == OK && vals[i] == nil:
			t.Errorf("op %d recorded ok but missing after restart with appendfsync always", op.Seq)
		case op.Outcome == Fail && vals[i] != nil:
			t.Errorf("op %d recorded fail (%v) but present after restart", op.Seq, op.Err)
		}
	}
	if counts[OK] < 2000 {
		t.Fatalf("only %d ops acknowledged before the kill", counts[OK])
	}
	mixed := 0
	for _, p := range pipelines(h) {
		seenUnknown, hasOK := false, false
		for _, op := range p {
			switch op.Outcome {
			case Unknown:
				seenUnknown = true
			case OK:
				hasOK = true
				if seenUnknown {
					t.Errorf("op %d ok after an unknown op of its pipeline: replies come in order", op.Seq)
				}
			}
		}
		if hasOK && seenUnknown {
			mixed++
		}
	}
	t.Logf("attempt %d: outcomes %v, present after restart %v, pipelines cut mid-way %d", attempt, counts, present, mixed)
	return mixed
}

// pipelines groups a History's ops by connection and (sent, done): the ops of
// one round trip share both times.
func pipelines(h *History) [][]Op {
	type id struct {
		conn       uint16
		sent, done time.Duration
	}
	index := map[id]int{}
	var out [][]Op
	for _, op := range h.Ops {
		k := id{op.Conn, op.Sent, op.Done}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], op)
	}
	return out
}
