package sync

import (
	"errors"
	"fmt"
	"strings"

	"github.com/provsync/provsync/target"
)

// named returns err prefixed with name, the component that returned it,
// unless err names it already: adapters prefix their errors with their own
// name ("entra: ...", "memory: ..."), and each layer adds its context
// once.
func named(name string, err error) error {
	if namesItself(err.Error(), name) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// namesItself reports whether msg names the component called name: it
// starts with the name, or carries the name's first part ("google" of
// "google:example.com", "entra" of "entra/on-demand") as a prefix of its
// own.
func namesItself(msg, name string) bool {
	if name == "" || strings.HasPrefix(msg, name+":") {
		return true
	}
	base := name
	if i := strings.IndexAny(name, ":/"); i > 0 {
		base = name[:i]
	}
	return strings.HasPrefix(msg, base+":") || strings.Contains(msg, ": "+base+":")
}

// changeError is the error of one change: the change as the plan names it
// ("create-user user \"ada@example.com\"") and the cause.
type changeError struct {
	change string
	err    error
}

// changeFailed wraps err, the failure of action on obj.
func changeFailed(action Action, obj Ref, err error) error {
	return &changeError{change: fmt.Sprintf("%s %s", action, obj), err: err}
}

// Error names the change once: a target error's own operation and object
// ("create user userName=ada@example.com") say the same again and are
// left out of the text (they stay in the wrapped *target.Error).
func (e *changeError) Error() string {
	msg := e.err.Error()
	var te *target.Error
	if errors.As(e.err, &te) {
		op := te.Op
		if te.Object != "" {
			op += " " + te.Object
		}
		msg = strings.TrimPrefix(msg, op+": ")
	}
	return e.change + ": " + msg
}

// Unwrap returns the cause.
func (e *changeError) Unwrap() error { return e.err }
