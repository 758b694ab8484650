package sourcetest

import (
	"regexp"
	"strings"
)

// contextWord is a context prefix of an error message: a lower-case word,
// or a name such as "file:/x" or "entra/on-demand", followed by ": ".
var contextWord = regexp.MustCompile(`^[a-z][a-z0-9_/:.-]*$`)

// RepeatedContext returns the first context prefix that msg carries twice,
// such as "entra" in "sync: source read failed: entra: entra: ...", or ""
// if there is none. A name's first part stands for it: "google" for
// "google:example.com", "entra" for "entra/on-demand". Each layer of a wrapped error should add its context
// once; tests of failed reads use this to check it.
func RepeatedContext(msg string) string {
	parts := strings.Split(msg, ": ")
	seen := map[string]bool{}
	for _, p := range parts[:len(parts)-1] {
		if !contextWord.MatchString(p) {
			continue
		}
		// "google:example.com" and "google" name the same thing.
		if i := strings.IndexAny(p, ":/"); i > 0 {
			p = p[:i]
		}
		if seen[p] {
			return p
		}
		seen[p] = true
	}
	return ""
}
