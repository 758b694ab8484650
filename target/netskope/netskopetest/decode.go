package netskopetest

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeBody decodes a POST or PUT body as elimity does: the first JSON
// value only, numbers kept as json.Number. A body of the usual shape is
// read by decodeObject, a quarter of encoding/json's cost (a user's
// decode was the largest single cost of a POST); anything decodeObject
// does not accept (numbers, deep nesting, anything invalid) is decoded by
// encoding/json, as before. Object keys found in names (nil: none) are
// given as names holds them, not allocated afresh.
func decodeBody(body []byte, names map[string]string) (map[string]any, error) {
	d := plainDecoder{b: body, names: names}
	d.space()
	if m, ok := d.object(0); ok {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	err := dec.Decode(&doc)
	return doc, err
}

// maxPlainDepth is the deepest nesting plainDecoder reads; a user is 3
// deep (emails, an email, its value).
const maxPlainDepth = 8

// plainDecoder reads the subset of JSON that request bodies are made
// of, giving the values encoding/json gives for it: objects (the last of
// duplicate keys wins), arrays, strings, true, false and null. It
// refuses numbers, so as not to judge their syntax, and anything it
// does not read as encoding/json would.
type plainDecoder struct {
	b []byte
	i int
	// names interns object keys: a user's stored attributes would
	// otherwise hold a copy of each of their eleven or so names, a third
	// of the objects the garbage collector marks per user.
	names map[string]string
	// src, when set, is b as a string: a plain string is then given as
	// a part of it rather than a copy of its own, which keeps all of src
	// in memory as long as the part is: for strings not kept beyond the
	// request (the member ids of a PATCH, a thousand a request).
	src string
}

func (d *plainDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next consumes c, after white space.
func (d *plainDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *plainDecoder) object(depth int) (map[string]any, bool) {
	if depth > maxPlainDepth || !d.next('{') {
		return nil, false
	}
	m := map[string]any{}
	if d.next('}') {
		return m, true
	}
	for {
		d.space()
		k, ok := d.key()
		if !ok || !d.next(':') {
			return nil, false
		}
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		m[k] = v
		if d.next('}') {
			return m, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

func (d *plainDecoder) array(depth int) ([]any, bool) {
	if depth > maxPlainDepth || !d.next('[') {
		return nil, false
	}
	l := []any{}
	if d.next(']') {
		return l, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		l = append(l, v)
		if d.next(']') {
			return l, true
		}
		if !d.next(',') {
			return nil, false
		}
	}
}

func (d *plainDecoder) value(depth int) (any, bool) {
	d.space()
	if d.i >= len(d.b) {
		return nil, false
	}
	switch d.b[d.i] {
	case '{':
		return d.object(depth + 1)
	case '[':
		return d.array(depth + 1)
	case '"':
		return d.str()
	case 't':
		return true, d.word("true")
	case 'f':
		return false, d.word("false")
	case 'n':
		return nil, d.word("null")
	}
	return nil, false
}

// literal consumes s.
func (d *plainDecoder) literal(s string) bool {
	if !bytes.HasPrefix(d.b[d.i:], []byte(s)) {
		return false
	}
	d.i += len(s)
	return true
}

// word consumes the literal w, which must not run on into a letter.
func (d *plainDecoder) word(w string) bool {
	return d.literal(w) && (d.i == len(d.b) || !isLetter(d.b[d.i]))
}

func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// key reads an object key at d.i: as str, but a key in d.names is
// given as the names entry.
func (d *plainDecoder) key() (string, bool) {
	if d.names != nil && d.i < len(d.b) && d.b[d.i] == '"' {
		if j := bytes.IndexByte(d.b[d.i+1:], '"'); j >= 0 {
			if k, ok := d.names[string(d.b[d.i+1:d.i+1+j])]; ok {
				d.i += j + 2
				return k, true
			}
		}
	}
	return d.str()
}

// str reads a string at d.i: one without escapes or control characters,
// of valid UTF-8, as it is (encoding/json gives such a string's bytes
// unchanged); anything else through encoding/json (escapes, invalid
// UTF-8, and the refusal of control characters are then its).
func (d *plainDecoder) str() (string, bool) {
	end, plain, ok := stringEnd(d.b, d.i)
	if !ok {
		return "", false
	}
	start := d.i
	d.i = end
	switch {
	case plain && d.src != "":
		return d.src[start+1 : end-1], true
	case plain:
		return string(d.b[start+1 : end-1]), true
	}
	var s string
	if json.Unmarshal(d.b[start:end], &s) != nil {
		return "", false
	}
	return s, true
}

// stringEnd finds the end of the JSON string at b[i] (the offset after
// its closing quote); plain reports that it holds no escape and no
// control character and is valid UTF-8, so that its value is its bytes
// between the quotes. ok is false if there is no string at i or it does
// not end.
func stringEnd(b []byte, i int) (end int, plain, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	// Most strings have no escape: find the closing quote at once.
	if q := bytes.IndexByte(b[i+1:], '"'); q >= 0 && bytes.IndexByte(b[i+1:i+1+q], '\\') < 0 {
		s := b[i+1 : i+1+q]
		ascii := true
		for _, c := range s {
			if c < 0x20 {
				return i + 2 + q, false, true
			}
			ascii = ascii && c < 0x80
		}
		return i + 2 + q, ascii || utf8.Valid(s), true
	}
	plain = true
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '\\':
			plain = false
			j++ // the escaped character cannot end the string
		case c == '"':
			if plain && !ascii {
				plain = utf8.Valid(b[i+1 : j])
			}
			return j + 1, plain, true
		case c < 0x20:
			plain = false
		case c >= 0x80:
			ascii = false
		}
	}
	return 0, false, false
}
