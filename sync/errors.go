package sync

import (
	"fmt"
	"strings"
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
