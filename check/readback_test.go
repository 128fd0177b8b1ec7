package check_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/target/local"
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

// killingStream gives ops in chunks and kills the server (waiting until
// its process is gone) before it gives the second: the read-back meets a
// server that went away after it had answered.
type killingStream struct {
	ops  check.OpSlice
	kill func()
}

func (s killingStream) Len() int { return s.ops.Len() }

func (s killingStream) Chunks(n int, fn func(first int, ops []loadgen.Op) bool) error {
	return s.ops.Chunks(n, func(first int, ops []loadgen.Op) bool {
		if first > 0 && s.kill != nil {
			s.kill()
			s.kill = nil
		}
		return fn(first, ops)
	})
}

var _ check.OpStream = killingStream{}

// A server killed in the middle of a read-back, or of the scan for
// unexpected keys, fails them with an *UnavailableError (the system under
// test stopped serving), as does one that is gone before they start; an
// error reply (NOPERM: the harness's user may not read) is the harness's
// problem and is not one.
func TestReadBackFromAServerThatWentAway(t *testing.T) {
	ctx := context.Background()
	const prefix = "vc:gone:"
	ops := make(check.OpSlice, 4000)
	for i := range ops {
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Outcome: loadgen.OK}
	}
	servers := make([]*local.Server, 2)
	for i := range servers {
		servers[i] = startServer(t, t.TempDir(), 0, "", "")
		for _, op := range ops[:2500] { // more than one SCAN's worth
			do(t, servers[i].Addr(), "SET", loadgen.Key(prefix, op.Seq), "x")
		}
	}
	var un *check.UnavailableError

	srv, addr := servers[0], servers[0].Addr()
	do(t, addr, "ACL", "SETUSER", "noread", "on", ">pw", "~*", "+@all", "-mget", "-scan")
	noRead := valkeyconn.Settings{Auth: valkeyconn.Auth{User: "noread", Password: "pw"}}
	if _, err := check.ReadBackStream(ctx, noRead, addr, prefix, ops, 100); err == nil || errors.As(err, &un) || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("read-back refused by ACL: %v, want a NOPERM error that is not the server going away", err)
	}
	if _, err := check.ScanUnexpected(ctx, noRead, addr, prefix, func(uint64) bool { return true }); err == nil || errors.As(err, &un) || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("scan refused by ACL: %v, want a NOPERM error that is not the server going away", err)
	}
	killed := false
	_, err := check.ScanUnexpected(ctx, valkeyconn.Settings{}, addr, prefix, func(uint64) bool {
		if !killed { // the first SCAN's reply is in: the next one meets a dead server
			stopServer(srv)
			killed = true
		}
		return true
	})
	if !killed {
		t.Fatal("the scan met no key")
	}
	if err == nil || !errors.As(err, &un) {
		t.Fatalf("scan of a server killed mid-way: %v, want an *UnavailableError", err)
	}
	t.Logf("scan: %v", err)
	if _, err := check.ReadBack(ctx, valkeyconn.Settings{}, addr, prefix, ops, 100); err == nil || !errors.As(err, &un) {
		t.Errorf("read-back from a server that is gone: %v, want an *UnavailableError", err)
	}

	srv, addr = servers[1], servers[1].Addr()
	killed = false
	stream := killingStream{ops: ops, kill: func() { stopServer(srv); killed = true }}
	found, err := check.ReadBackStream(ctx, valkeyconn.Settings{}, addr, prefix, stream, 100)
	if !killed {
		t.Fatal("the read-back asked for one chunk only: make the history longer")
	}
	if err == nil || !errors.As(err, &un) || found != nil {
		t.Fatalf("read-back from a server killed mid-way: %d results, %v; want an *UnavailableError and no results", len(found), err)
	}
	t.Logf("read-back: %v", err)
}

// The errors a server that went away gives (the EOF of a connection it
// closed mid-reply, a reset, a refused dial, a timeout, LOADING after a
// restart) are marked unavailable; an error reply of another kind, an
// error of the harness's own and the caller's cancelled context are not.
func TestFromServerMarksTheServerGoingAway(t *testing.T) {
	live, cancelled := context.Background(), func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx
	}()
	for _, tc := range []struct {
		ctx   context.Context
		err   error
		marks bool
	}{
		{live, io.EOF, true},
		{live, fmt.Errorf("scan: %w", io.ErrUnexpectedEOF), true},
		{live, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{live, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{live, os.ErrDeadlineExceeded, true},
		{live, replyError("LOADING Valkey is loading the dataset in memory"), true},
		{live, replyError("NOPERM User x has no permissions to run the 'mget' command"), false},
		{live, errors.New("read history spool: record checksum mismatch"), false},
		{cancelled, context.Canceled, false},
		{cancelled, io.EOF, false},
	} {
		var un *check.UnavailableError
		if got := check.FromServer(tc.ctx, tc.err); errors.As(got, &un) != tc.marks || !errors.Is(got, tc.err) {
			t.Errorf("%v (ctx %v): %#v, want unavailable %v, wrapping it", tc.err, tc.ctx.Err(), got, tc.marks)
		}
	}
}

// replyError is an error reply as go-redis types one (redis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var _ redis.Error = replyError("")
