// Package loadgen writes keys to Valkey on an open-loop schedule and records
// every operation with its outcome: the History the check package compares
// with what survived a fault. It also preloads datasets and summarises a
// History (achieved rate, latency from the intended send time, time series).
package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Outcome is one of Jepsen's three outcomes of a write.
type Outcome uint8

const (
	// OK: acknowledged by the server.
	OK Outcome = 1
	// Fail: definitely not applied (error reply, or nothing was sent).
	Fail Outcome = 2
	// Unknown: sent, but no reply (timeout, connection lost): may or may not
	// have been applied.
	Unknown Outcome = 3
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Unknown:
		return "unknown"
	}
	return "invalid"
}

// ErrKind says why a write did not succeed, for error series and reports.
type ErrKind uint8

const (
	ErrNone    ErrKind = iota
	ErrLoading         // LOADING: the server is loading its RDB
	ErrRefused         // connection refused: nothing listens on the port
	ErrMisconf         // MISCONF: writes disabled after a failed background save
	ErrTimeout         // no reply (or no connection) within the timeout
	ErrConn            // connection closed or reset
	ErrOther           // any other error reply or failure
)

// ErrKinds lists the error kinds in their order, for iterating over series.
var ErrKinds = []ErrKind{ErrLoading, ErrRefused, ErrMisconf, ErrTimeout, ErrConn, ErrOther}

func (k ErrKind) String() string {
	switch k {
	case ErrNone:
		return ""
	case ErrLoading:
		return "loading"
	case ErrRefused:
		return "refused"
	case ErrMisconf:
		return "misconf"
	case ErrTimeout:
		return "timeout"
	case ErrConn:
		return "conn"
	case ErrOther:
		return "other"
	}
	return "invalid"
}

// Classify maps the error of one write to its outcome. sent says whether the
// command may have reached the server; a failed dial overrides it (nothing was
// sent). Error replies (LOADING, MISCONF, ...) are Fail: the server refused
// the command. A timeout or a lost connection after sending is Unknown.
func Classify(err error, sent bool) (Outcome, ErrKind) {
	if err == nil {
		return OK, ErrNone
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := reply.Error()
		switch {
		case strings.HasPrefix(msg, "LOADING"):
			return Fail, ErrLoading
		case strings.HasPrefix(msg, "MISCONF"):
			return Fail, ErrMisconf
		}
		return Fail, ErrOther
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return Fail, ErrRefused
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		sent = false
	}
	kind := ErrOther
	var netErr net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		kind = ErrTimeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), opErr != nil:
		kind = ErrConn
	}
	if sent {
		return Unknown, kind
	}
	return Fail, kind
}

// ClassifyStatus is Classify for a command whose status reply may have been
// read before its connection died: a read "+OK" is an acknowledgement, so the
// op is OK whatever error came later. go-redis (v9.23) stamps a pipeline's
// transport error on every command that had no error of its own, including
// those whose reply it had already read (FACTS.md Part 2 §8); their value
// still holds the reply.
func ClassifyStatus(val string, err error, sent bool) (Outcome, ErrKind) {
	if val == "OK" {
		return OK, ErrNone
	}
	return Classify(err, sent)
}
