package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// sendShutdownNoSave asks the server to exit without saving. The server
// closes the connection instead of replying, so EOF is success.
func sendShutdownNoSave(ctx context.Context, settings valkeyconn.Settings, addr string) error {
	conn, err := settings.DialAuth(ctx, addr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("connect to %s for SHUTDOWN NOSAVE: %w", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")); err != nil {
		return fmt.Errorf("send SHUTDOWN NOSAVE to %s: %w", addr, err)
	}
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if errors.Is(err, io.EOF) || (err != nil && n == 0) {
		return nil
	}
	if n > 0 && buf[0] == '-' {
		return fmt.Errorf("SHUTDOWN NOSAVE refused by %s: %s", addr, string(buf[:n]))
	}
	return nil
}
