package data

import (
	"errors"
	"fmt"
)

// ErrNotFound is matched (with errors.Is) by every error that reports a
// missing dataset file or an unknown dataset name.
var ErrNotFound = errors.New("data: not found")

// ErrFormat is matched (with errors.Is) by every error that reports a file or
// stream whose contents are not what its format requires: a wrong magic
// number, a truncated body, a bad number in a CSV file, a checksum mismatch.
var ErrFormat = errors.New("data: bad format")

// ErrChecksum is matched by errors that report a file whose SHA-256 or CRC
// does not match the expected one. It also matches ErrFormat.
var ErrChecksum = fmt.Errorf("%w: checksum mismatch", ErrFormat)

// dataError carries a complete user-facing message and the sentinel (and
// optional cause) it matches, so that the message does not repeat the
// sentinel's text.
type dataError struct {
	kind  error // ErrNotFound, ErrFormat or ErrChecksum
	cause error // may be nil
	msg   string
}

func (e *dataError) Error() string { return e.msg }

func (e *dataError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// formatErrorf returns an error matching ErrFormat with the message
// "data: " + the formatted text.
func formatErrorf(format string, args ...any) error {
	return newError(ErrFormat, nil, format, args...)
}

// notFoundErrorf returns an error matching ErrNotFound.
func notFoundErrorf(format string, args ...any) error {
	return newError(ErrNotFound, nil, format, args...)
}

func newError(kind, cause error, format string, args ...any) error {
	return &dataError{kind: kind, cause: cause, msg: "data: " + fmt.Sprintf(format, args...)}
}

// withHint appends "; hint" to err's message and keeps what it matches.
func withHint(err error, hint string) error {
	if err == nil || hint == "" {
		return err
	}
	var de *dataError
	if errors.As(err, &de) {
		return &dataError{kind: de.kind, cause: de.cause, msg: de.msg + "; " + hint}
	}
	return fmt.Errorf("%w; %s", err, hint)
}
