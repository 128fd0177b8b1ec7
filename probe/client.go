package probe

import (
	"context"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// Client is the probe with one set of connection settings: every
// connection it opens does TLS and AUTH as Conn says (valkeyconn.DialAuth).
// The zero Client is a plaintext, unauthenticated probe, which is what the
// package-level functions use.
//
// Readiness polls (WaitReady, WaitServing) open a new connection per poll
// when Conn is plaintext and unauthenticated, as before: the first accept
// and the first reply are then timestamped exactly (FACTS.md Part 2 §3).
// With TLS or AUTH a new connection costs a handshake or an extra round
// trip (during loading each round trip waits for a load checkpoint, 20-40
// ms), so a connection that answered is kept and the next poll reuses it;
// up to maxInFlight are kept. While the server is down every kept
// connection fails (EOF, reset) and is dropped, and polls dial afresh:
// each dial is refused until the replacement listens, then does TCP, TLS
// and AUTH, so with TLS/AUTH Accepted is when that whole handshake
// completed (one or two round trips after the TCP accept), never earlier.
type Client struct {
	Conn valkeyconn.Settings
}

// keepsConnections reports whether polls reuse connections.
func (cl Client) keepsConnections() bool {
	return cl.Conn.TLS != nil || cl.Conn.Auth.Password != ""
}

// Do is Client{}.Do.
func Do(ctx context.Context, addr string, timeout time.Duration, args ...string) (Reply, error) {
	return Client{}.Do(ctx, addr, timeout, args...)
}

// Info is Client{}.Info.
func Info(ctx context.Context, addr string, section string) (map[string]string, error) {
	return Client{}.Info(ctx, addr, section)
}

// WaitReady is Client{}.WaitReady.
func WaitReady(ctx context.Context, addr func() string, every time.Duration) (Readiness, error) {
	return Client{}.WaitReady(ctx, addr, every)
}

// WaitServing is Client{}.WaitServing.
func WaitServing(ctx context.Context, addr func() string, key string, every time.Duration) (time.Time, Reply, error) {
	return Client{}.WaitServing(ctx, addr, key, every)
}

// WatchSaves is Client{}.WatchSaves.
func WatchSaves(ctx context.Context, addr func() string, every time.Duration) *SaveWatcher {
	return Client{}.WatchSaves(ctx, addr, every)
}

// TakeSnapshot is Client{}.TakeSnapshot.
func TakeSnapshot(ctx context.Context, addr string) (Snapshot, error) {
	return Client{}.TakeSnapshot(ctx, addr)
}

// StartBGSave is Client{}.StartBGSave.
func StartBGSave(ctx context.Context, addr string) error { return Client{}.StartBGSave(ctx, addr) }

// Persistence is Client{}.Persistence.
func Persistence(ctx context.Context, addr string) (map[string]string, error) {
	return Client{}.Persistence(ctx, addr)
}

// LastSaveTime is Client{}.LastSaveTime.
func LastSaveTime(ctx context.Context, addr string) (int64, error) {
	return Client{}.LastSaveTime(ctx, addr)
}

// WaitBGSave is Client{}.WaitBGSave.
func WaitBGSave(ctx context.Context, addr string, running bool, limit time.Duration) error {
	return Client{}.WaitBGSave(ctx, addr, running, limit)
}

// WatchMemory is Client{}.WatchMemory.
func WatchMemory(ctx context.Context, addr func() string, every time.Duration, cg CgroupStats) *MemoryWatcher {
	return Client{}.WatchMemory(ctx, addr, every, cg)
}

// RecordKeyEvents is Client{}.RecordKeyEvents.
func RecordKeyEvents(ctx context.Context, addr func() string, prefix string) (*KeyEventRecorder, error) {
	return Client{}.RecordKeyEvents(ctx, addr, prefix)
}
