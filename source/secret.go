package source

// Secret is a credential string that never prints: fmt, zap, JSON and YAML
// show it as "REDACTED". Its value is read with string(s). Adapters take
// their client secrets as Secret.
type Secret string

// String hides the value.
func (s Secret) String() string { return s.redacted() }

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.redacted() + `"` }

// MarshalText hides the value from encoders (JSON, YAML, zap).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

func (s Secret) redacted() string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}
