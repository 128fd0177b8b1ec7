package ecstwin

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"strconv"
)

// taskIPLocked picks the new task's private IP: a loopback address
// 127.0.0.x (x in 2..254) that no live task of this twin holds and on
// which nothing listens on the container port, so a replacement's address
// differs from the old task's as a real ENI's does. With HostPortBinding
// every task is on 127.0.0.1 and tells its port apart.
func (tw *Twin) taskIPLocked() string {
	if tw.cfg.HostPortBinding {
		return "127.0.0.1"
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
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(tw.cfg.Port)))
		if err != nil {
			continue // another process (another twin's task) holds it
		}
		l.Close()
		return ip
	}
	return "127.0.0.1" // every try was taken: the server's own bind error will say so
}
