package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"

	"github.com/trigpointing/valkey-chaos/target"
)

// RDBCheckers are the dump checkers tried in order: valkey-tools ships the
// first, redis-tools the second.
var RDBCheckers = []string{"valkey-check-rdb", "redis-check-rdb"}

// FindRDBChecker returns the first checker on PATH, or "" when there is none.
func FindRDBChecker() string {
	for _, name := range RDBCheckers {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

var (
	checkingLine = regexp.MustCompile(`^\[offset \d+\] Checking RDB file `)
	offsetLine   = regexp.MustCompile(`^\[offset \d+\] (.*)$`)
	infoCount    = regexp.MustCompile(`^\[info\] (\d+) (keys read|expires)$`)
)

// CheckRDB runs checker on the dump at path and reads its verdict and key
// count. A damaged dump is a verdict, not an error: err is for a checker
// that could not run or printed nothing a checker prints.
func CheckRDB(ctx context.Context, checker, path string) (target.RDBCheck, error) {
	c := target.RDBCheck{File: path, Checker: checker}
	cmd := exec.CommandContext(ctx, checker, path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return c, fmt.Errorf("check %s with %s: %w", path, checker, ctx.Err())
	}
	var exit *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exit) {
		return c, fmt.Errorf("run %s: %w", checker, runErr)
	}
	if err := parseCheckRDB(&c, out.String()); err != nil {
		return c, fmt.Errorf("%s %s (%v): %w", checker, path, runErr, err)
	}
	if c.OK != (runErr == nil) {
		return c, fmt.Errorf("%s %s: verdict %q but %v", checker, path, c.Verdict, runErr)
	}
	return c, nil
}

// parseCheckRDB reads the checker's report:
//
//	[offset 0] Checking RDB file dump.rdb
//	[offset 99] \o/ RDB looks OK! \o/        or  --- RDB ERROR DETECTED ---
//	                                             [offset 0] Unexpected EOF reading RDB file
//	[info] 1 keys read
//	[info] 0 expires
func parseCheckRDB(c *target.RDBCheck, text string) error {
	var checking, errorSeen bool
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case checkingLine.MatchString(line):
			checking = true
		case strings.Contains(line, "RDB looks OK!"):
			c.OK, c.Verdict = true, "ok"
		case line == "--- RDB ERROR DETECTED ---":
			errorSeen, c.Verdict = true, "error"
		case errorSeen && c.Verdict == "error" && offsetLine.MatchString(line):
			c.Verdict = "error: " + offsetLine.FindStringSubmatch(line)[1]
		}
		if m := infoCount.FindStringSubmatch(line); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			if m[2] == "keys read" {
				c.Keys = n
			} else {
				c.Expires = n
			}
		}
	}
	switch {
	case !checking:
		return fmt.Errorf("no %q line in its output %.200q", "Checking RDB file", text)
	case c.Verdict == "":
		// The checker stops silently on a file it cannot open.
		return fmt.Errorf("no verdict in its output %.200q", text)
	}
	if c.OK && errorSeen {
		return fmt.Errorf("both OK and an error in its output %.200q", text)
	}
	return nil
}
