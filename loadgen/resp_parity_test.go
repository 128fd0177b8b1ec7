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
