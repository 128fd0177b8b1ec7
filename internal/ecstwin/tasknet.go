package ecstwin

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ipClaim holds a task's private IP against every twin on the machine: an
// exclusive flock on a file named for the address and port. A test binary
// runs twins in parallel with other packages' twins, all on the container
// port; a free-port check alone leaves the provisioning delay between the
// pick and the server's bind, in which another twin could pick the same
// address (the CI failure of stop 19: the replacement exited with code 1,
// its bind refused). The kernel drops the lock when the process dies.
type ipClaim struct{ f *os.File }

func claimIP(ip string, port int) (*ipClaim, bool) {
	dir := filepath.Join(os.TempDir(), "valkey-chaos-ecstwin-ips")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, true // no lock dir: the listen check alone decides
	}
	f, err := os.OpenFile(filepath.Join(dir, ip+"_"+strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return &ipClaim{f: f}, true
}

// release frees the address once the task's server is gone; nil-safe and
// idempotent.
func (c *ipClaim) release() {
	if c == nil || c.f == nil {
		return
	}
	_ = c.f.Close() // closing the only descriptor drops the flock
	c.f = nil
}

// taskIPLocked picks the new task's private IP: a loopback address
// 127.0.0.x (x in 2..254) that no live task of this twin holds, no other
// twin has claimed, and on which nothing listens on the container port, so
// a replacement's address differs from the old task's as a real ENI's
// does. With HostPortBinding every task is on 127.0.0.1 and tells its port
// apart.
func (tw *Twin) taskIPLocked() (string, *ipClaim) {
	if tw.cfg.HostPortBinding {
		return "127.0.0.1", nil
	}
	held := map[string]bool{}
	for _, t := range tw.tasks {
		if t.lastStatus != statusStopped {
			held[t.ip] = true
		}
	}
	for range 64 {
		n, _ := rand.Int(rand.Reader, big.NewInt(253))
		ip := fmt.Sprintf("127.0.0.%d", n.Int64()+2)
		if held[ip] {
			continue
		}
		claim, ok := claimIP(ip, tw.cfg.Port)
		if !ok {
			continue // another twin's task holds it
		}
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(tw.cfg.Port)))
		if err != nil {
			claim.release()
			continue // another process holds it
		}
		l.Close()
		return ip, claim
	}
	return "127.0.0.1", nil // every try was taken: the server's own bind error will say so
}
