package check

import (
	"context"
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// DeletePrefix removes every key under prefix (SCAN + UNLINK) and returns
// how many it removed. The prefix is glob-escaped, so a run id such as
// "a*" or "x[1]" never matches another run's or the user's keys. It never
// sends FLUSHALL/FLUSHDB: with save rules set, FLUSHALL overwrites dump.rdb.
func DeletePrefix(ctx context.Context, conn valkeyconn.Settings, addr, prefix string) (int, error) {
	if prefix == "" {
		return 0, fmt.Errorf("delete keys: empty prefix would match every key")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rdb := newClient(conn, addr, 1)
	defer rdb.Close()
	match := globEscape(prefix) + "*"
	deleted := 0
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return deleted, fmt.Errorf("scan %s: %w", match, err)
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return deleted, fmt.Errorf("unlink %d keys under %s: %w", len(keys), prefix, err)
			}
			deleted += len(keys)
		}
		cursor = next
		if cursor == 0 {
			return deleted, nil
		}
	}
}
