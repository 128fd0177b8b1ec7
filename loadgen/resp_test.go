package loadgen

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// scriptedServer reads `expect` SETs on its first connection (answering
// HELLO), then writes replies, one line each, and closes it; later
// connections are closed at once (refused, to the writer).
func scriptedServer(t *testing.T, expect int, replies []string) string {
	t.Helper()
	return loopbackServer(t, func(c net.Conn, n int) {
		defer c.Close()
		if n > 0 {
			return
		}
		r := bufio.NewReader(c)
		for sets := 0; sets < expect; {
			name, err := readCommand(r)
			if err != nil {
				return
			}
			if name == "HELLO" {
				fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
				continue
			}
			sets++
		}
		for _, reply := range replies {
			fmt.Fprint(c, reply+"\r\n")
		}
	})
}

// kindCounts counts a History's ops by outcome/kind.
func kindCounts(h *History) map[string]int {
	kinds := map[string]int{}
	for _, op := range h.Ops {
		kinds[op.Outcome.String()+"/"+op.Err.String()]++
	}
	return kinds
}

// outcomes is each op's outcome/kind, for comparing two clients' Histories.
func outcomes(h *History) []string {
	var out []string
	for _, op := range h.Ops {
		out = append(out, op.Outcome.String()+"/"+op.Err.String())
	}
	return out
}

// The resp client files every reply as go-redis's does: the same History
// outcomes from the same replies, whatever their kind.
func TestRESPClientClassifiesRepliesAsGoRedis(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		want    []string
	}{
		{"all ok", []string{"+OK", "+OK", "+OK"}, []string{"ok/", "ok/", "ok/"}},
		{"error replies", []string{
			"+OK",
			"-LOADING Valkey is loading the dataset in memory",
			"-MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk.",
			"-OOM command not allowed when used memory > 'maxmemory'.",
			"-READONLY You can't write against a read only replica.",
			"+OK",
		}, []string{"ok/", "fail/loading", "fail/misconf", "fail/other", "fail/other", "ok/"}},
		{"closed after an error reply", []string{"-LOADING Valkey is loading", "+OK"}, []string{"fail/loading", "ok/", "unknown/conn", "unknown/conn"}},
		// Replies Valkey never gives a SET, taken as go-redis's StatusCmd
		// takes them: any string or integer is a reply (ok), the nil reply
		// an error (redis.Nil), a line without its CR out of step.
		{"other status", []string{"+QUEUED", "+OK"}, []string{"ok/", "ok/"}},
		{"bulk string", []string{"$2\r\nOK", "+OK"}, []string{"ok/", "ok/"}},
		{"integer", []string{":1", "+OK"}, []string{"ok/", "ok/"}},
		{"nil", []string{"$-1", "+OK"}, []string{"fail/other", "ok/"}},
		{"bare LF", []string{"+OK\n+OK"}, []string{"unknown/other", "unknown/other"}},
		// An empty reply is a reply, even beside another command's error
		// (found by review: go-redis's filed it with the MISCONF).
		{"empty status before an error reply", []string{"+", "-MISCONF no disk"}, []string{"ok/", "fail/misconf"}},
		{"empty bulk before an error reply", []string{"$0\r\n", "-MISCONF no disk"}, []string{"ok/", "fail/misconf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.want)
			got := map[WriterClient][]string{}
			for _, client := range writerClients {
				addr := scriptedServer(t, n, tt.replies)
				_, h := runWriter(t, WriterConfig{
					Addr:        func() string { return addr },
					Client:      client,
					Conns:       1,
					Pipeline:    n,
					Pacer:       ConstantPacer{Freq: math.Inf(1)}, // one pipeline
					MaxOps:      uint64(n),
					MaxDuration: 10 * time.Second,
					OpTimeout:   5 * time.Second,
				})
				got[client] = outcomes(h)
				if !slices.Equal(got[client], tt.want) {
					t.Errorf("%s: %v, want %v", client, got[client], tt.want)
				}
			}
		})
	}
}

// Against a server with a password, both clients authenticate with the
// right one, and with a wrong one fail every op (fail/other, nothing
// applied), whether the batch a new connection starts with goes alone or
// pipelined. Before, the go-redis writer recorded a pipelined first batch
// acknowledged (go-redis leaves a pipeline's commands untouched when the
// connection's AUTH fails with an error reply) and the ops after it
// fail/conn (its one-connection pool dialed again and was refused).
func TestRESPClientAuthenticatesAsGoRedis(t *testing.T) {
	srv := startServer(t)
	if err := srv.client().ConfigSet(context.Background(), "requirepass", "s3cret").Err(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, password string
		rate           float64 // +Inf: every batch a pipeline of 16
		kinds          map[string]int
	}{
		{"right", "s3cret", 2000, map[string]int{"ok/": 200}},
		{"wrong", "wrong", 2000, map[string]int{"fail/other": 200}},
		{"right pipelined", "s3cret", math.Inf(1), map[string]int{"ok/": 200}},
		{"wrong pipelined", "wrong", math.Inf(1), map[string]int{"fail/other": 200}},
	} {
		for _, client := range writerClients {
			t.Run(tt.name+"/"+string(client), func(t *testing.T) {
				prefix := fmt.Sprintf("vc:auth%s%v%s:", tt.password, tt.rate, client)
				_, h := runWriter(t, WriterConfig{
					Addr:        func() string { return srv.addr },
					Conn:        valkeyconn.Settings{Auth: valkeyconn.Auth{Password: tt.password}},
					Prefix:      prefix,
					Client:      client,
					Conns:       2,
					Pacer:       ConstantPacer{Freq: tt.rate},
					MaxOps:      200,
					MaxDuration: 10 * time.Second,
				})
				kinds := kindCounts(h)
				if !maps.Equal(kinds, tt.kinds) {
					t.Errorf("ops by outcome/kind %v, want %v", kinds, tt.kinds)
				}
				admin := redis.NewClient(&redis.Options{Addr: srv.addr, Password: "s3cret", Protocol: 2, DisableIdentity: true})
				defer admin.Close()
				keys, err := admin.Keys(context.Background(), prefix+"*").Result()
				if err != nil {
					t.Fatal(err)
				}
				if want := tt.kinds["ok/"]; len(keys) != want {
					t.Errorf("%d keys under %s in the server, want %d (%v)", len(keys), prefix, want, kinds)
				}
			})
		}
	}
}

// answerServer answers each GET on its connections with the next of
// replies (a reply of "" is never sent: the GET times out) and each SET
// with +OK.
func answerServer(t *testing.T, replies []string) string {
	t.Helper()
	var mu sync.Mutex
	next := 0
	return commandServer(t, func(c net.Conn, _ int, name string) bool {
		switch name {
		case "SET":
			fmt.Fprint(c, "+OK\r\n")
		case "GET":
			mu.Lock()
			reply := "-ERR script exhausted"
			if next < len(replies) {
				reply = replies[next]
			}
			next++
			mu.Unlock()
			if reply != "" {
				fmt.Fprint(c, reply+"\r\n")
			}
		default:
			fmt.Fprint(c, "-ERR unknown command\r\n")
		}
		return true
	})
}

// The resp reader client reads each kind of GET reply as the reader's
// Read records it: an error reply by its kind, the nil reply a miss (then
// filled), a bulk string a hit, no reply within its 100 ms a timeout.
func TestRESPReaderReadsEveryReply(t *testing.T) {
	addr := answerServer(t, []string{
		"-LOADING Valkey is loading the dataset in memory",
		"$-1",
		"$5\r\nhello",
		"-ERR something else",
		"",
		"$3\r\nabc",
	})
	r := startReaderT(t, ReaderConfig{
		Addr: func() string { return addr }, Prefix: "vc:rs:", Keys: 10, Seed: 1, Client: ReaderClientRESP,
		Concurrency: 1, OriginLatency: time.Millisecond, NoFallback: true, Pacer: ConstantPacer{Freq: 100},
		Base: time.Now(), MaxReads: 6, MaxDuration: 10 * time.Second,
	})
	reads := waitReader(t, r, 10*time.Second)
	slices.SortFunc(reads, func(a, b Read) int { return cmp.Compare(a.Intended, b.Intended) })
	var got []string
	for _, rd := range reads {
		got = append(got, fmt.Sprintf("%v/%v/fill%d", rd.Result, rd.Err, rd.Fill))
	}
	want := []string{"error/loading/fill0", "miss//fill1", "hit//fill0", "error/other/fill0", "error/timeout/fill0", "hit//fill0"}
	if !slices.Equal(got, want) {
		t.Errorf("reads %v, want %v", got, want)
	}
	if st := r.Stats(); st.Timeouts != 1 || st.Fills != 1 {
		t.Errorf("stats %+v, want 1 timeout and 1 fill", st)
	}
}
