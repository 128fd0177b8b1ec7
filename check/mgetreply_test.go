package check

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

const replyPrefix = "vc:reply:"

// replyCases writes one key per case, each a shape the read-back's reply
// parser must judge, and returns the ops that name them.
func replyCases(t *testing.T, addr string) []loadgen.Op {
	t.Helper()
	own := func(seq uint64, size int) string { return string(loadgen.Value(seq, time.Second, size)) }
	values := []string{
		own(1, 100),             // its own value
		"",                      // absent: never written
		own(4, 100),             // another write's value
		own(4, 100)[:99],        // its own value, truncated (wrong size)
		own(5, 200),             // its own value, twice the size
		own(6, 100<<10),         // its own value, larger than any read buffer
		"",                      // an empty string (set below)
		"garbage\r\n$5\r\n*1\n", // not ours, with RESP-like bytes inside
		own(9, 40),              // the smallest value
		"",                      // a list, not a string: MGET answers nil
	}
	ops := make([]loadgen.Op, len(values))
	for i := range ops {
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Outcome: loadgen.OK}
		key := loadgen.Key(replyPrefix, ops[i].Seq)
		switch i {
		case 1:
		case 6:
			doReply(t, addr, "SET", key, "")
		case 9:
			doReply(t, addr, "RPUSH", key, own(10, 100))
		default:
			doReply(t, addr, "SET", key, values[i])
		}
	}
	return ops
}

// oracle is the verdict from go-redis's own MGET reply (the path the
// parser replaced): the same keys judged with loadgen.ParseValue.
func oracle(t *testing.T, addr string, ops []loadgen.Op) []Found {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rdb.Close()
	keys := make([]string, len(ops))
	for i, op := range ops {
		keys[i] = loadgen.Key(replyPrefix, op.Seq)
	}
	vals, err := rdb.MGet(context.Background(), keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := make([]Found, len(ops))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			seq, _, parsed := loadgen.ParseValue([]byte(s))
			want[i] = Found{Present: true, Match: parsed && seq == ops[i].Seq}
		}
	}
	return want
}

// The streaming parser agrees with go-redis's MGET on every shape of value
// a real server returns, and the shapes come out as classification needs.
func TestReadBackJudgesEveryValueShape(t *testing.T) {
	srv := startLocal(t)
	ops := replyCases(t, srv.Addr())
	want := oracle(t, srv.Addr(), ops)
	shapes := []Found{{true, true}, {}, {true, false}, {true, false}, {true, true}, {true, true}, {true, false}, {true, false}, {true, true}, {}}
	for i := range shapes {
		if want[i] != shapes[i] {
			t.Fatalf("oracle says key %d is %+v, the case table %+v: fix the table", i+1, want[i], shapes[i])
		}
	}
	for _, batch := range []int{1, 3, len(ops)} {
		found, err := ReadBack(context.Background(), valkeyconn.Settings{}, srv.Addr(), replyPrefix, ops, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ops {
			if found[i] != want[i] {
				t.Errorf("batch %d: key %d read back %+v, want %+v", batch, i+1, found[i], want[i])
			}
		}
	}
}

// The parser takes the reply in any chunking: the raw bytes of a real
// server's MGET reply, fed one byte at a time and in other sizes, give the
// oracle's verdicts; a reply cut short or of the wrong length is an error.
func TestMgetReplyAnyChunking(t *testing.T) {
	srv := startLocal(t)
	ops := replyCases(t, srv.Addr())
	want := oracle(t, srv.Addr(), ops)
	args := []any{"mget"}
	for _, op := range ops {
		args = append(args, loadgen.Key(replyPrefix, op.Seq))
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer rdb.Close()
	raw := redis.NewRawCmd(context.Background(), args...)
	if err := rdb.Process(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	stream := raw.Val()
	for _, chunk := range []int{1, 2, 7, 100, 4096, len(stream)} {
		var r mgetReply
		found := make([]Found, len(ops))
		r.reset(ops, found)
		for p := stream; len(p) > 0; p = p[min(chunk, len(p)):] {
			if n, err := r.Write(p[:min(chunk, len(p))]); err != nil || n != min(chunk, len(p)) {
				t.Fatalf("chunk %d: write %d, %v", chunk, n, err)
			}
		}
		if err := r.result(); err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		for i := range ops {
			if found[i] != want[i] {
				t.Errorf("chunk %d: key %d %+v, want %+v", chunk, i+1, found[i], want[i])
			}
		}
	}
	var r mgetReply
	r.reset(ops, make([]Found, len(ops)))
	_, _ = r.Write(stream[:len(stream)-3])
	if err := r.result(); err == nil || !strings.Contains(err.Error(), "ended after 9 of 10") {
		t.Errorf("a reply cut short: %v, want it named", err)
	}
	r.reset(ops[:9], make([]Found, 9))
	_, _ = r.Write(stream)
	if err := r.result(); err == nil || !strings.Contains(err.Error(), "answered 10 values") {
		t.Errorf("a reply of the wrong length: %v, want it named", err)
	}
}

// An error reply to an MGET fails the read-back with the server's words:
// a user whose ACL forbids MGET gets NOPERM.
func TestReadBackReportsErrorReply(t *testing.T) {
	srv := startLocal(t)
	ops := replyCases(t, srv.Addr())
	doReply(t, srv.Addr(), "ACL", "SETUSER", "nomget", "on", ">pw", "~*", "+@all", "-mget")
	conn := valkeyconn.Settings{Auth: valkeyconn.Auth{User: "nomget", Password: "pw"}}
	found, err := ReadBack(context.Background(), conn, srv.Addr(), replyPrefix, ops, 4)
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("read-back without MGET permission: %v (found %v), want the NOPERM reply", err, found)
	}
}

func startLocal(t *testing.T) *local.Server {
	t.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
	srv, err := local.Spawn(local.ServerConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("spawn valkey-server: %v", err)
	}
	t.Cleanup(func() {
		_ = srv.KillGroup()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Wait(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := probe.WaitReady(ctx, func() string { return srv.Addr() }, 2*time.Millisecond); err != nil {
		t.Fatalf("server on %s never ready: %v", srv.Addr(), err)
	}
	return srv
}

func doReply(t *testing.T, addr string, args ...string) {
	t.Helper()
	rep, err := probe.Do(context.Background(), addr, 30*time.Second, args...)
	if err != nil || rep.IsError() {
		t.Fatalf("%v: %v %v", args, rep, err)
	}
}
