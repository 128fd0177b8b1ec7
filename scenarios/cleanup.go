package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// deletePrefix removes every key under prefix (SCAN + UNLINK). It never
// sends FLUSHALL/FLUSHDB: with save rules set, FLUSHALL overwrites dump.rdb.
func deletePrefix(ctx context.Context, addr, prefix string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{
		Addr:                     addr,
		Protocol:                 2,
		DisableIdentity:          true,
		MaxRetries:               -1,
		ReadTimeout:              30 * time.Second,
		WriteTimeout:             30 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	defer rdb.Close()
	deleted := 0
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 5000).Result()
		if err != nil {
			return deleted, fmt.Errorf("scan %s*: %w", prefix, err)
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
