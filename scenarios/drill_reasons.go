package scenarios

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// rdbFormatRefused is the line of a server that meets a dump written in a
// newer RDB format than it reads (rdb.c: "Can't handle RDB format version %d").
var rdbFormatRefused = regexp.MustCompile(`Can't handle RDB format version (\d+)`)

// versionSkewReason names a replacement that refused dump.rdb because an
// older server met a newer format (a rollback), with the remedies that
// exist; "" when the log does not say so.
func versionSkewReason(lines []target.LogLine, detail string) string {
	line := ""
	for _, l := range lines {
		if rdbFormatRefused.MatchString(l.Text) {
			line = strings.TrimSpace(l.Text)
		}
	}
	if line == "" && rdbFormatRefused.MatchString(detail) {
		line = detail
	}
	if line == "" {
		return ""
	}
	version := rdbFormatRefused.FindStringSubmatch(line)[1]
	return fmt.Sprintf("the replacement cannot read dump.rdb: it runs an older server than the one that wrote it (RDB format version %s; log: %q) and exited (%s): on ECS the task would crash-loop and the cache never serves again: RTO unbounded. "+
		"Remedy: roll forward to a server that reads format %s (the one that wrote the dump; Redis 7.0 reads up to 10, Redis 7.2 and Valkey 7.2 to 8.1 write 11, Redis 7.4 12, Valkey 9 VALKEY080; Valkey 8.1 and later may try a newer format with rdb-version-check relaxed, Redis 7.0 has no such option). "+
		"To stay on the older server, give it data it can read: restore an older dump.rdb written by the older server (a backup from before the upgrade; later writes are lost), "+
		"or start the newer server on this dump and copy the keys into the older one by data structure (SCAN and per-type reads and writes, e.g. RIOT-X `replicate --struct`): "+
		"DUMP/RESTORE, MIGRATE and replication carry the newer format and are refused too, and redis-check-rdb/valkey-check-rdb only check a dump, they do not convert it",
		version, line, exitOnly(detail), version)
}

// saveFailureReason names a save the server could not write because the
// volume belongs to another user, and the Terraform settings that fix it.
func saveFailureReason(d drillSpec, t *result.Trial, lines []target.LogLine) string {
	why := t.SaveFailed
	for _, l := range lines {
		if strings.Contains(l.Text, "Permission denied") {
			why = strings.TrimSpace(l.Text)
			break
		}
	}
	refused := "no write was refused"
	if cv := t.Client; cv != nil && cv.Errors["misconf"] > 0 {
		refused = fmt.Sprintf("%d of %d writes were refused with MISCONF (stop-writes-on-bgsave-error)", cv.Errors["misconf"], t.Writes)
	}
	who := "the server's user cannot write the data directory"
	if d.RunAsUID != nil && d.DirOwnerUID != nil {
		who = fmt.Sprintf("the server runs as uid %d but the data directory belongs to uid %d (mode 0755), so it cannot create its temp-*.rdb there", *d.RunAsUID, *d.DirOwnerUID)
	}
	return fmt.Sprintf("the first save failed (%s) and %s: %s; nothing is ever saved, and on ECS the PONG health check fails (PING is refused with MISCONF too) and the task is replaced. "+
		"Fix: mount the volume through the module's access point, which maps every request to the directory's owner (terraform/modules/valkey: aws_efs_access_point posix_user uid/gid = var.posix_uid/var.posix_gid, default 1000), "+
		"or run the container as the directory's owner (the task definition's \"user\": \"1000:1000\", set from the same variables)",
		why, refused, who)
}

// restoredBackupReason says what restoring the volume from an old backup
// cost and what to do instead; "" when no stale load was found.
func restoredBackupReason(s *Scenario, t *result.Trial) string {
	if s.Restore == "" || t.StaleLoad == nil {
		return ""
	}
	back := "further back than the last completed save"
	if w := t.LossWindowS; w != nil {
		back = fmt.Sprintf("at least %.2fs back from the fault", w.Low)
	}
	return fmt.Sprintf("the volume was restored from a backup older than the replacement's own dump.rdb: the cache went %s; %d acknowledged writes lost, %d of them held by the last completed save. "+
		"Remedy: do not restore a cache volume whose dump.rdb is intact (the newest save is what the replacement should load); when a restore is needed, pick the newest recovery point (AWS Backup / EFS backups) and compare the restored dump.rdb's mtime with the one it replaces before starting the service",
		back, t.Lost, t.StaleLoad.LostBefore)
}
