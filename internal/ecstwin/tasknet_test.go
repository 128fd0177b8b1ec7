package ecstwin

import (
	"fmt"
	"net"
	"testing"
)

// A task's address is claimed against every twin on the machine, not only
// checked for a listener: another twin's task still provisioning has not
// bound yet. A claimed address is refused until its claim is released,
// and with every address claimed elsewhere the pick falls back to
// 127.0.0.1, where the server's own bind error will speak.
func TestTaskIPSkipsAddressesClaimedByOtherTwins(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port // a port no real twin uses
	l.Close()
	t.Setenv("TMPDIR", t.TempDir()) // the claims' lock files go with the test

	first, ok := claimIP("127.0.0.9", port)
	if !ok || first == nil {
		t.Fatalf("claim 127.0.0.9:%d refused on a fresh port", port)
	}
	if _, ok := claimIP("127.0.0.9", port); ok {
		t.Errorf("127.0.0.9:%d claimed twice", port)
	}
	first.release()
	again, ok := claimIP("127.0.0.9", port)
	if !ok {
		t.Errorf("127.0.0.9:%d still refused after its claim was released", port)
	}
	again.release()

	var others []*ipClaim
	defer func() {
		for _, c := range others {
			c.release()
		}
	}()
	for x := 2; x <= 254; x++ {
		c, ok := claimIP(fmt.Sprintf("127.0.0.%d", x), port)
		if !ok {
			t.Fatalf("claim 127.0.0.%d:%d refused on a fresh port", x, port)
		}
		others = append(others, c)
	}
	tw := &Twin{cfg: Config{Port: port}}
	if ip, claim := tw.taskIPLocked(); ip != "127.0.0.1" || claim != nil {
		t.Errorf("every address claimed by another twin: picked %s (claim %v), want the 127.0.0.1 fallback", ip, claim)
	}
}
