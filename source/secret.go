package source

import "fmt"

// Secret is a credential string that never prints: fmt, zap, JSON and YAML
// show it as "REDACTED". Its value is read with string(s). Adapters take
// their client secrets as Secret.
type Secret string

// String hides the value.
func (s Secret) String() string { return s.redacted() }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.redacted() + `"` }

// Format hides the value from every fmt verb, %x and %d included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		fmt.Fprintf(f, "%q", s.redacted())
		return
	}
	_, _ = f.Write([]byte(s.redacted()))
}

// MarshalText hides the value from encoders (JSON, YAML, zap).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}
