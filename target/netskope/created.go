package netskope

import (
	"encoding/json"

	"github.com/provsync/provsync/scim"
)

// decodeCreated reads the id and meta of a POST response in one pass over
// its bytes, checking that they are JSON, without decoding the other
// attributes by reflection. It gives up (false) on anything out of the
// ordinary: a body that is not a JSON object, a name with an escape or
// other than ASCII, an id that is not a plain string, meta twice, deep
// nesting; the caller then decodes with encoding/json, which gives the
// same result or the error. Whatever it returns with true is what
// json.Unmarshal makes of the body (FuzzDecodeCreated).
func decodeCreated(b []byte) (out createdResource, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return out, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, skipSpace(b, i+1) == len(b)
	}
	metaSeen := false
	for {
		// A member's name: a string without escapes, in ASCII, so that
		// encoding/json's case-insensitive match is ASCII's.
		if i >= len(b) || b[i] != '"' {
			return out, false
		}
		start := i + 1
		j := start
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c == '\\' || c < 0x20 || c >= 0x80 {
				return out, false
			}
			j++
		}
		if j >= len(b) {
			return out, false
		}
		name := b[start:j]
		i = skipSpace(b, j+1)
		if i >= len(b) || b[i] != ':' {
			return out, false
		}
		i = skipSpace(b, i+1)
		end, valid := skipValue(b, i, 0)
		if !valid {
			return out, false
		}
		switch {
		case asciiEqualFold(name, "id"):
			v := b[i:end]
			if len(v) < 2 || v[0] != '"' {
				return out, false // null, or not a string: encoding/json decides
			}
			for _, c := range v[1 : len(v)-1] {
				if c == '\\' || c >= 0x80 {
					return out, false
				}
			}
			out.ID = string(v[1 : len(v)-1])
		case asciiEqualFold(name, "meta"):
			if metaSeen {
				return out, false
			}
			metaSeen = true
			m, ok := decodeMeta(b[i:end])
			if !ok {
				if json.Unmarshal(b[i:end], &m) != nil {
					return out, false
				}
			}
			out.Meta = m
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return out, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return out, skipSpace(b, i+1) == len(b)
		default:
			return out, false
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for k := range b {
		c := b[k]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[k] {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i], and whether it is
// one; it gives up past a nesting depth of 64.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > 64 {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{', c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		for {
			if c == '{' {
				var ok bool
				if i, ok = skipString(b, i); !ok || i >= len(b) {
					return i, false
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			var ok bool
			if i, ok = skipValue(b, i, depth+1); !ok {
				return i, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case closing:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	default:
		return skipNumber(b, i)
	}
}

func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// skipString returns the end of the JSON string at b[i].
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// skipNumber returns the end of the JSON number at b[i].
func skipNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(i)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

// decodeMeta decodes a meta object whose names are plain ASCII and whose
// values are strings, in ASCII, with no escapes but \" and \\ (as in
// W/"1"); false for anything else, which encoding/json decodes. b is a
// JSON value already checked.
func decodeMeta(b []byte) (*scim.Meta, bool) {
	if len(b) > 0 && b[0] == 'n' {
		return nil, true // null
	}
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	m := new(scim.Meta)
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c == '\\' || c >= 0x80 {
				return nil, false
			}
			j++
		}
		name := b[i+1 : j]
		i = skipSpace(b, skipSpace(b, j+1)+1) // past ':'
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end, _ := skipString(b, i)
		v, ok := plainString(b[i+1 : end-1])
		if !ok {
			return nil, false
		}
		switch {
		case asciiEqualFold(name, "resourcetype"):
			m.ResourceType = v
		case asciiEqualFold(name, "created"):
			m.Created = v
		case asciiEqualFold(name, "lastmodified"):
			m.LastModified = v
		case asciiEqualFold(name, "location"):
			m.Location = v
		case asciiEqualFold(name, "version"):
			m.Version = v
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return m, true
}

// plainString returns the text of a JSON string's content that is ASCII
// and escapes nothing but quotes and backslashes; false otherwise.
func plainString(s []byte) (string, bool) {
	esc := 0
	for k := 0; k < len(s); k++ {
		switch c := s[k]; {
		case c >= 0x80:
			return "", false
		case c == '\\':
			if k+1 >= len(s) || (s[k+1] != '"' && s[k+1] != '\\') {
				return "", false
			}
			esc++
			k++
		}
	}
	if esc == 0 {
		return string(s), true
	}
	out := make([]byte, 0, len(s)-esc)
	for k := 0; k < len(s); k++ {
		if s[k] == '\\' {
			k++
		}
		out = append(out, s[k])
	}
	return string(out), true
}
