package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Filter is a SCIM filter expression (RFC 7644 section 3.4.2.2) built from
// parts whose attribute paths are checked and whose values are always
// encoded as JSON literals, so no value can change the expression's shape.
// The zero Filter means "no filter". Build reports the first error met
// while building; String returns the expression, or "" on error.
type Filter struct {
	expr string
	err  error
	// logical is "and" or "or" for a filter that is a logical expression,
	// so that mixing them adds parentheses.
	logical string
}

// IsZero reports whether f is the empty filter.
func (f Filter) IsZero() bool { return f.expr == "" && f.err == nil }

// Build returns the expression, or the first error met while building it.
func (f Filter) Build() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return f.expr, nil
}

// String returns the expression, or "" if building it failed.
func (f Filter) String() string {
	if f.err != nil {
		return ""
	}
	return f.expr
}

// Err returns the error met while building f, if any.
func (f Filter) Err() error { return f.err }

func compare(op, attr string, value any) Filter {
	if _, err := ParsePath(attr); err != nil {
		return Filter{err: fmt.Errorf("%w: %s %s: %w", ErrInvalidFilter, attr, op, err)}
	}
	lit, err := literal(value)
	if err != nil {
		return Filter{err: fmt.Errorf("%w: %s %s: %w", ErrInvalidFilter, attr, op, err)}
	}
	return Filter{expr: attr + " " + op + " " + lit}
}

// Eq matches resources whose attr equals value.
func Eq(attr string, value any) Filter { return compare("eq", attr, value) }

// Ne matches resources whose attr does not equal value.
func Ne(attr string, value any) Filter { return compare("ne", attr, value) }

// Co matches resources whose attr contains value.
func Co(attr string, value any) Filter { return compare("co", attr, value) }

// Sw matches resources whose attr starts with value.
func Sw(attr string, value any) Filter { return compare("sw", attr, value) }

// Ew matches resources whose attr ends with value.
func Ew(attr string, value any) Filter { return compare("ew", attr, value) }

// Gt matches resources whose attr is greater than value.
func Gt(attr string, value any) Filter { return compare("gt", attr, value) }

// Ge matches resources whose attr is greater than or equal to value.
func Ge(attr string, value any) Filter { return compare("ge", attr, value) }

// Lt matches resources whose attr is less than value.
func Lt(attr string, value any) Filter { return compare("lt", attr, value) }

// Le matches resources whose attr is less than or equal to value.
func Le(attr string, value any) Filter { return compare("le", attr, value) }

// Present matches resources that have a value for attr.
func Present(attr string) Filter {
	if _, err := ParsePath(attr); err != nil {
		return Filter{err: fmt.Errorf("%w: %s pr: %w", ErrInvalidFilter, attr, err)}
	}
	return Filter{expr: attr + " pr"}
}

// And matches resources that every filter matches. Zero filters are skipped.
func And(fs ...Filter) Filter { return logical("and", fs) }

// Or matches resources that any filter matches. Zero filters are skipped.
func Or(fs ...Filter) Filter { return logical("or", fs) }

func logical(op string, fs []Filter) Filter {
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		if f.err != nil {
			return f
		}
		if f.IsZero() {
			continue
		}
		e := f.expr
		if f.logical != "" && f.logical != op {
			e = "(" + e + ")"
		}
		parts = append(parts, e)
	}
	switch len(parts) {
	case 0:
		return Filter{}
	case 1:
		return Filter{expr: parts[0]}
	}
	return Filter{expr: strings.Join(parts, " "+op+" "), logical: op}
}

// Not matches resources that f does not match.
func Not(f Filter) Filter {
	if f.err != nil || f.IsZero() {
		return f
	}
	return Filter{expr: "not (" + f.expr + ")"}
}

// ValuePath filters the values of multi-valued attribute attr, as in
// emails[type eq "work"]. The result also serves as a PATCH path.
func ValuePath(attr string, f Filter) Filter {
	if _, err := ParsePath(attr); err != nil {
		return Filter{err: fmt.Errorf("%w: %s[...]: %w", ErrInvalidFilter, attr, err)}
	}
	if f.err != nil {
		return f
	}
	if f.IsZero() {
		return Filter{err: fmt.Errorf("%w: %s[...]: empty value filter", ErrInvalidFilter, attr)}
	}
	return Filter{expr: attr + "[" + f.expr + "]"}
}

// literal encodes v as a SCIM comparison value: a JSON string, number,
// true, false or null.
func literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case string:
		return jsonString(x), nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case time.Time:
		return jsonString(x.UTC().Format(time.RFC3339Nano)), nil
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), nil
	case float32:
		return floatLiteral(float64(x))
	case float64:
		return floatLiteral(x)
	case fmt.Stringer:
		return jsonString(x.String()), nil
	}
	return "", fmt.Errorf("%w: unsupported filter value type %T", ErrInvalidValue, v)
}

func floatLiteral(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%w: %v is not a JSON number", ErrInvalidValue, f)
	}
	b, _ := json.Marshal(f)
	return string(b), nil
}

// jsonString encodes s as a JSON string (RFC 8259). Quotes, backslashes
// and control characters are escaped, hex digits are upper case (some
// filter parsers accept no other), invalid UTF-8 becomes U+FFFD and every
// other character is written as is.
func jsonString(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xF])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Path is a parsed SCIM attribute path: [URN ":"] attribute ["." sub].
type Path struct {
	// URN is the schema URN prefix, "" for core attributes.
	URN string
	// Attribute is the attribute name.
	Attribute string
	// Sub is the sub-attribute name, "" if none.
	Sub string
}

// String writes the path back in its canonical form.
func (p Path) String() string {
	s := p.Attribute
	if p.Sub != "" {
		s += "." + p.Sub
	}
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	return s
}

// ParsePath parses an attribute path such as "userName", "name.givenName"
// or "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".
func ParsePath(s string) (Path, error) {
	var p Path
	rest := s
	if len(s) >= 4 && strings.EqualFold(s[:4], "urn:") {
		i := strings.LastIndexByte(s, ':')
		p.URN, rest = s[:i], s[i+1:]
		for _, r := range p.URN {
			if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"()[]\`, r) {
				return Path{}, fmt.Errorf("%w: %q: bad character %q in schema URN", ErrInvalidPath, s, r)
			}
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) {
		return Path{}, fmt.Errorf("%w: %q: attribute name must be a letter followed by letters, digits, '-' or '_'", ErrInvalidPath, s)
	}
	if hasSub && !validName(sub) {
		return Path{}, fmt.Errorf("%w: %q: bad sub-attribute name", ErrInvalidPath, s)
	}
	p.Attribute, p.Sub = name, sub
	return p, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !alpha && c != '$' {
			return false
		}
		if !alpha && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '$' {
			return false
		}
	}
	return true
}
