//go:build unix

package loadgen

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open: a non-blocking
// peek finds EOF or an error once the server has gone (a SIGKILLed process's
// sockets are closed by the kernel). Checking before reuse turns what would
// be an Unknown write on a dead socket into a fresh connect.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	healthy := true
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n == 0 && err == nil: // orderly shutdown by the peer
			healthy = false
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		case err != nil:
			healthy = false
		}
		return true
	})
	return err == nil && healthy
}
