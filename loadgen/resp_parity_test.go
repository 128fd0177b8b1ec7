package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// sameKinds runs the writer with cfg through each client and fails unless
// both record the same ops by outcome/kind; it returns go-redis's.
func sameKinds(t *testing.T, cfg WriterConfig) map[string]int {
	t.Helper()
	got := map[WriterClient]map[string]int{}
	for _, client := range writerClients {
		c := cfg
		c.Client = client
		c.Prefix = fmt.Sprintf("%s%s:", cfg.Prefix, client)
		_, h := runWriter(t, c)
		got[client] = kindCounts(h)
	}
	if !maps.Equal(got[WriterClientGoRedis], got[WriterClientRESP]) {
		t.Errorf("go-redis recorded %v, resp %v", got[WriterClientGoRedis], got[WriterClientRESP])
	}
	return got[WriterClientGoRedis]
}

// Servers that refuse writes in ways a chaos run meets: a replica after a
// failover (READONLY, after which go-redis drops its connection), and a
// server at maxclients (it writes an error and closes every new connection,
// which go-redis reads as the reply to its HELLO). Found by review: the
// go-redis writer recorded half of the READONLY ops fail/conn (its pool
// dialed again and was refused), and the resp client, which sent no HELLO,
// took the maxclients error for its SET's reply.
func TestRESPClientMatchesGoRedisOnRefusingServers(t *testing.T) {
	t.Run("readonly replica", func(t *testing.T) {
		srv := startServer(t)
		if err := srv.client().Do(context.Background(), "REPLICAOF", "127.0.0.1", "1").Err(); err != nil {
			t.Fatal(err)
		}
		for _, pipeline := range []int{1, 16} {
			kinds := sameKinds(t, WriterConfig{Addr: func() string { return srv.addr }, Prefix: fmt.Sprintf("vc:ro%d", pipeline),
				Conns: 1, Pipeline: pipeline, Pacer: ConstantPacer{Freq: 500}, MaxOps: 100, MaxDuration: 10 * time.Second, OpTimeout: 2 * time.Second})
			if !maps.Equal(kinds, map[string]int{"fail/other": 100}) {
				t.Errorf("pipeline %d: %v, want every op fail/other", pipeline, kinds)
			}
		}
	})
	t.Run("maxclients", func(t *testing.T) {
		srv := startServer(t, "--maxclients", "1")
		hold, err := net.Dial("tcp", srv.addr) // the one client slot
		if err != nil {
			t.Fatal(err)
		}
		defer hold.Close()
		if _, err := fmt.Fprint(hold, "*1\r\n$4\r\nPING\r\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(hold).ReadString('\n'); err != nil || line != "+PONG\r\n" {
			t.Fatalf("holding the one client slot: %q, %v", line, err)
		}
		for _, pipeline := range []int{1, 4} {
			kinds := sameKinds(t, WriterConfig{Addr: func() string { return srv.addr }, Prefix: fmt.Sprintf("vc:max%d", pipeline),
				Conns: 1, Pipeline: pipeline, Pacer: ConstantPacer{Freq: 200}, MaxOps: 40, MaxDuration: 10 * time.Second, OpTimeout: time.Second})
			if kinds["ok/"] != 0 {
				t.Errorf("pipeline %d: %v: acknowledged writes by a server that refused every connection", pipeline, kinds)
			}
		}
	})
}

// slowServer answers HELLO (as an old server: unknown command) after
// helloDelay, AUTH after authDelay, anything else at once with +OK. It
// counts the connections that sent a command, and the HELLOs.
func slowServer(t *testing.T, helloDelay, authDelay time.Duration) (addr string, conns, hellos *atomic.Int32) {
	t.Helper()
	conns, hellos = new(atomic.Int32), new(atomic.Int32)
	return commandServer(t, func(c net.Conn, n int, name string) bool {
		conns.Store(max(conns.Load(), int32(n+1)))
		switch name {
		case "HELLO":
			hellos.Add(1)
			time.Sleep(helloDelay)
			fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
		case "AUTH":
			time.Sleep(authDelay)
			fmt.Fprint(c, "+OK\r\n")
		default:
			fmt.Fprint(c, "+OK\r\n")
		}
		return true
	}), conns, hellos
}

// The first op on a new connection waits for the client's greeting (HELLO,
// then AUTH where HELLO is refused) within the op's timeout, in both
// clients: its latency holds the greeting's round trips, and a server slow
// to answer AUTH (300 ms here, under a 1 s OpTimeout and over the 200 ms
// DialTimeout) still takes writes. Found by review: the resp client sent no
// HELLO (its first op was 100 ms quicker than go-redis's against a slow
// HELLO), and AUTH moved into the dial timed out every connect.
func TestRESPClientGreetsAsGoRedis(t *testing.T) {
	const helloDelay, authDelay = 100 * time.Millisecond, 300 * time.Millisecond
	for _, client := range writerClients {
		t.Run(string(client), func(t *testing.T) {
			addr, conns, hellos := slowServer(t, helloDelay, authDelay)
			_, h := runWriter(t, WriterConfig{
				Addr: func() string { return addr }, Conn: valkeyconn.Settings{Auth: valkeyconn.Auth{Password: "pw"}},
				Client: client, Conns: 1, Pacer: ConstantPacer{Freq: 20}, MaxOps: 10, MaxDuration: 5 * time.Second, OpTimeout: time.Second,
			})
			if kinds := kindCounts(h); !maps.Equal(kinds, map[string]int{"ok/": 10}) {
				t.Fatalf("%v, want every op acknowledged", kinds)
			}
			first := h.Ops[0]
			if took := first.Done - first.Sent; took < helloDelay+authDelay {
				t.Errorf("first op took %v, less than the greeting's %v: it did not wait for HELLO and AUTH", took, helloDelay+authDelay)
			}
			if conns.Load() != 1 || hellos.Load() != 1 {
				t.Errorf("%d connections, %d HELLOs: want one of each (greeted once, then reused)", conns.Load(), hellos.Load())
			}
		})
	}
}

// A failover that moves the endpoint: the old primary, now a replica,
// answers READONLY, and Addr already names the new primary. go-redis drops
// its connection on READONLY (go-redis #790), so its next write dials the
// new primary; the resp client must too. Found by review: it kept the
// connection to the replica and recorded fail/other for every later op.
func TestRESPClientLeavesAReadOnlyReplicaAsGoRedis(t *testing.T) {
	answer := func(reply string) string {
		return commandServer(t, func(c net.Conn, _ int, name string) bool {
			if name == "HELLO" {
				fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
			} else {
				fmt.Fprint(c, reply)
			}
			return true
		})
	}
	for _, client := range writerClients {
		t.Run(string(client), func(t *testing.T) {
			replica, primary := answer("-READONLY You can't write against a read only replica.\r\n"), answer("+OK\r\n")
			var moved atomic.Bool
			addr := func() string {
				if moved.Load() {
					return primary
				}
				return replica
			}
			w, err := StartWriter(t.Context(), WriterConfig{
				Addr: addr, Client: client, Conns: 1, Prefix: "vc:ro:", Base: time.Now(),
				Pacer: ConstantPacer{Freq: 200}, MaxOps: 100, MaxDuration: 10 * time.Second, OpTimeout: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			for w.Stats().Issued < 20 && !isDone(w.Done()) {
				time.Sleep(time.Millisecond)
			}
			moved.Store(true)
			flipped := w.Stats().Issued // ops recorded before the move was visible
			<-w.Done()
			h := w.Stop()
			kinds := kindCounts(h)
			if kinds["fail/other"] == 0 {
				t.Fatalf("%v: no write met the replica", kinds)
			}
			// The op in flight at the move may still meet the replica on its
			// old connection; every later one dials the new primary.
			for _, op := range h.Ops {
				if op.Seq > flipped+2 && op.Outcome != OK {
					t.Errorf("op %d, after the move (at op %d), %v/%v: the writer stayed on the replica (%v)", op.Seq, flipped, op.Outcome, op.Err, kinds)
					break
				}
			}
		})
	}
}

// A server (a proxy) that answers HELLO with a status reply: go-redis
// cannot read it as HELLO's map and drops the connection, so every op is
// unknown; the resp client must not take it for a greeting. Found by
// review: it acknowledged every op.
func TestRESPClientRefusesAStatusForHELLOAsGoRedis(t *testing.T) {
	addr := commandServer(t, func(c net.Conn, _ int, _ string) bool {
		fmt.Fprint(c, "+OK\r\n") // HELLO and SET alike
		return true
	})
	kinds := sameKinds(t, WriterConfig{Addr: func() string { return addr }, Prefix: "vc:hs", Conns: 1,
		Pacer: ConstantPacer{Freq: 200}, MaxOps: 20, MaxDuration: 10 * time.Second, OpTimeout: time.Second})
	if kinds["ok/"] != 0 {
		t.Errorf("%v: acknowledged writes on a connection whose greeting failed", kinds)
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
