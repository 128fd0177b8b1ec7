package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// loopbackServer listens on 127.0.0.1 until the test ends and runs handle
// on its own goroutine for each connection it accepts (n counts them from
// 0). It returns the address.
func loopbackServer(t *testing.T, handle func(c net.Conn, n int)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c, n)
		}
	}()
	return l.Addr().String()
}

// commandServer is a loopbackServer that reads each connection's commands
// and has answer reply to each by name (n counts the connections from 0);
// the connection closes when answer returns false or the client goes.
func commandServer(t *testing.T, answer func(c net.Conn, n int, name string) bool) string {
	t.Helper()
	return loopbackServer(t, func(c net.Conn, n int) {
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			name, err := readCommand(r)
			if err != nil || !answer(c, n, name) {
				return
			}
		}
	})
}

// replyServer accepts connections and answers every command line it reads
// with reply; reply "" never answers, reply "close" closes the connection
// once it has read the command after HELLO.
func replyServer(t *testing.T, reply string) string {
	t.Helper()
	return commandServer(t, func(c net.Conn, _ int, cmd string) bool {
		switch {
		case reply == "":
			// never answer
		case cmd == "HELLO":
			// go-redis falls back to RESP2 when HELLO is rejected.
			fmt.Fprint(c, "-ERR unknown command 'HELLO'\r\n")
		case reply == "close":
			return false // the SET was read, then the connection drops
		default:
			fmt.Fprint(c, reply)
		}
		return true
	})
}

func readCommand(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	var n int
	if _, err := fmt.Sscanf(line, "*%d", &n); err != nil {
		return strings.TrimSpace(line), nil
	}
	var name string
	for i := 0; i < n; i++ {
		if _, err := r.ReadString('\n'); err != nil { // $len
			return "", err
		}
		arg, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if i == 0 {
			name = strings.ToUpper(strings.TrimSpace(arg))
		}
	}
	return name, nil
}

// setErr runs one SET the way the writer does and returns its error.
func setErr(t *testing.T, addr string, timeout time.Duration) error {
	t.Helper()
	nc, err := dial(valkeyconn.Settings{}, addr, time.Second)
	if err != nil {
		return err
	}
	c := newClient(valkeyconn.Settings{}, nc, timeout)
	defer c.Close()
	return c.Set(context.Background(), "vc:test:w:1", Value(1, 0, 100), 0).Err()
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClassifyRealErrors(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		err     func(t *testing.T) error
		sent    bool
		outcome Outcome
		kind    ErrKind
	}{
		{"acknowledged", func(t *testing.T) error { return setErr(t, srv.addr, time.Second) }, true, OK, ErrNone},
		{"connection refused: nothing sent", func(t *testing.T) error { return setErr(t, closedPort(t), time.Second) }, false, Fail, ErrRefused},
		{"refused even if the caller thought it sent", func(t *testing.T) error { return setErr(t, closedPort(t), time.Second) }, true, Fail, ErrRefused},
		{"no reply within the timeout: unknown", func(t *testing.T) error { return setErr(t, replyServer(t, ""), 50*time.Millisecond) }, true, Unknown, ErrTimeout},
		{"connection closed after sending: unknown", func(t *testing.T) error { return setErr(t, replyServer(t, "close"), time.Second) }, true, Unknown, ErrConn},
		{"LOADING reply: fail", func(t *testing.T) error {
			return setErr(t, replyServer(t, "-LOADING Valkey is loading the dataset in memory\r\n"), time.Second)
		}, true, Fail, ErrLoading},
		{"error reply from the server: fail", func(t *testing.T) error {
			return srv.client().Do(ctx, "SET", "vc:test:only-one-arg").Err()
		}, true, Fail, ErrOther},
		{"dial timeout: nothing sent", func(*testing.T) error {
			return &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
		}, true, Fail, ErrTimeout},
		{"go-redis asked to redial: nothing sent", func(*testing.T) error { return errRedial }, true, Fail, ErrConn},
		{"unrecognised error after sending", func(*testing.T) error { return errors.New("bad reply") }, true, Unknown, ErrOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			outcome, kind := Classify(err, tt.sent)
			if outcome != tt.outcome || kind != tt.kind {
				t.Errorf("Classify(%v, sent=%v) = (%v, %q), want (%v, %q)", err, tt.sent, outcome, kind, tt.outcome, tt.kind)
			}
		})
	}
}

// A real MISCONF: a background save fails (its directory is gone) while
// stop-writes-on-bgsave-error is on, so the server refuses writes.
func TestClassifyMisconf(t *testing.T) {
	srv := startServer(t, "--save", "3600 1")
	c := srv.client()
	ctx := context.Background()
	if err := os.RemoveAll(srv.dir); err != nil {
		t.Fatal(err)
	}
	if err := c.BgSave(ctx).Err(); err != nil {
		t.Fatalf("bgsave: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.Info(ctx, "persistence").Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(info, "rdb_last_bgsave_status:err") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background save did not fail: %s", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := setErr(t, srv.addr, time.Second)
	if outcome, kind := Classify(err, true); outcome != Fail || kind != ErrMisconf {
		t.Errorf("Classify(%v) = (%v, %q), want (fail, misconf)", err, outcome, kind)
	}
}

func TestOutcomeAndKindNames(t *testing.T) {
	names := map[string]bool{}
	for _, k := range ErrKinds {
		names[k.String()] = true
	}
	for _, want := range []string{"loading", "refused", "misconf", "timeout", "conn", "other"} {
		if !names[want] {
			t.Errorf("no ErrKind named %q", want)
		}
	}
	if OK.String() != "ok" || Fail.String() != "fail" || Unknown.String() != "unknown" || ErrNone.String() != "" {
		t.Errorf("outcome names: %v %v %v %q", OK, Fail, Unknown, ErrNone)
	}
}
