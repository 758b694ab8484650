package sync

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/provsync/provsync/scim"
)

// readUserJSON reads a user's SCIM JSON as a state stores it in a mirror:
// a JSON object with the attribute names scim.User's JSON has, exactly,
// strings for its text, booleans for active and primary, and null where
// encoding/json allows one. It reads about ten times as fast as
// encoding/json, which matters for a state of 100,000 mirrors; false for
// anything else (another spelling of a name, an active given as text),
// which the caller leaves to encoding/json. What it reads is what
// encoding/json reads, but that invalid UTF-8 is kept as it is: a mirror's
// compact form replaces it as encoding/json does.
func readUserJSON(b []byte) (scim.User, bool) {
	r := jsonReader{s: string(b)}
	var u scim.User
	if !r.object(func(k string) bool { return r.userField(&u, k) }) {
		return scim.User{}, false
	}
	r.ws()
	return u, r.i == len(r.s)
}

// jsonReader reads JSON text from s at i.
type jsonReader struct {
	s string
	i int
}

func (r *jsonReader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte, 0 at the end.
func (r *jsonReader) next() byte {
	r.ws()
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

// literal reads word (true, false, null) if it comes next.
func (r *jsonReader) literal(word string) bool {
	if strings.HasPrefix(r.s[r.i:], word) {
		r.i += len(word)
		return true
	}
	return false
}

// null reads a null if one comes next.
func (r *jsonReader) null() bool { return r.next() == 'n' && r.literal("null") }

// object reads an object, calling field for each name with the reader
// at its value, which field reads; false if the text is not one, or
// field returns false.
func (r *jsonReader) object(field func(name string) bool) bool {
	if r.next() != '{' {
		return false
	}
	r.i++
	if r.next() == '}' {
		r.i++
		return true
	}
	for {
		name, ok := r.str()
		if !ok || r.next() != ':' {
			return false
		}
		r.i++
		if !field(name) {
			return false
		}
		switch r.next() {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// array reads an array of objects: reset empties the slice it goes to
// (a null leaves it empty), item adds an element for each object, whose
// fields field reads.
func (r *jsonReader) array(reset, item func(), field func(name string) bool) bool {
	if r.null() {
		reset()
		return true
	}
	if r.next() != '[' {
		return false
	}
	r.i++
	reset()
	if r.next() == ']' {
		r.i++
		return true
	}
	for {
		item()
		if !r.object(field) {
			return false
		}
		switch r.next() {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// textOf reads a string into *dst; false if dst is nil (an attribute
// not read here).
func (r *jsonReader) textOf(dst *string) bool { return dst != nil && r.text(dst) }

// text reads a string into *dst; a null leaves *dst as it is.
func (r *jsonReader) text(dst *string) bool {
	if r.null() {
		return true
	}
	v, ok := r.str()
	*dst = v
	return ok
}

// flag reads a boolean into *dst; a null leaves *dst as it is.
func (r *jsonReader) flag(dst *bool) bool {
	switch {
	case r.null():
	case r.literal("true"):
		*dst = true
	case r.literal("false"):
		*dst = false
	default:
		return false
	}
	return true
}

// str reads a string, unescaped as encoding/json does.
func (r *jsonReader) str() (string, bool) {
	if r.next() != '"' {
		return "", false
	}
	r.i++
	start := r.i
	for r.i < len(r.s) {
		switch c := r.s[r.i]; {
		case c == '"':
			r.i++
			return r.s[start : r.i-1], true
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return "", false
		}
		r.i++
	}
	return "", false
}

// escaped reads the rest of a string begun at start that holds escapes.
func (r *jsonReader) escaped(start int) (string, bool) {
	var b strings.Builder
	b.WriteString(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			r.i++
			return b.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			b.WriteByte(c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.s) {
			return "", false
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			u, ok := r.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(u) {
				// A valid pair is one rune; anything else is U+FFFD, and
				// what follows is read on its own.
				if strings.HasPrefix(r.s[r.i:], `\u`) {
					save := r.i
					r.i += 2
					if u2, ok := r.hex4(); ok {
						if d := utf16.DecodeRune(u, u2); d != utf8.RuneError {
							b.WriteRune(d)
							continue
						}
					}
					r.i = save
				}
				u = utf8.RuneError
			}
			b.WriteRune(u)
		default:
			return "", false
		}
	}
	return "", false
}

// hex4 reads the four hex digits of a \u escape.
func (r *jsonReader) hex4() (rune, bool) {
	if len(r.s)-r.i < 4 {
		return 0, false
	}
	var v rune
	for _, c := range []byte(r.s[r.i : r.i+4]) {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v<<4 | rune(d)
	}
	r.i += 4
	return v, true
}

// skip reads any value: the attributes a mirror leaves out (id, schemas,
// meta, groups) are read past.
func (r *jsonReader) skip() bool {
	switch c := r.next(); {
	case c == '"':
		_, ok := r.str()
		return ok
	case c == '{':
		return r.object(func(string) bool { return r.skip() })
	case c == '[':
		r.i++
		if r.next() == ']' {
			r.i++
			return true
		}
		for {
			if !r.skip() {
				return false
			}
			switch r.next() {
			case ',':
				r.i++
			case ']':
				r.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := r.i
		for r.i < len(r.s) && strings.IndexByte("+-.eE0123456789", r.s[r.i]) >= 0 {
			r.i++
		}
		return r.i > start
	}
	return false
}

// userField reads the value of the user's attribute name.
func (r *jsonReader) userField(u *scim.User, name string) bool {
	if p := textNamed(userKeys[:], u, name); p != nil {
		return r.text(p)
	}
	if p := textNamed(userTexts[:], u, name); p != nil {
		return r.text(p)
	}
	switch name {
	case "id", "schemas", "meta", "groups":
		return r.skip()
	case "active":
		if r.null() {
			u.Active = nil
			return true
		}
		var v bool
		if !r.flag(&v) {
			return false
		}
		u.Active = &v
		return true
	case "name":
		if r.null() {
			u.Name = nil
			return true
		}
		if u.Name == nil {
			u.Name = &scim.Name{}
		}
		n := u.Name
		return r.object(func(k string) bool { return r.textOf(textNamed(nameParts[:], n, k)) })
	case "emails":
		return r.array(func() { u.Emails = nil }, func() { u.Emails = append(u.Emails, scim.Email{}) }, func(k string) bool {
			e := &u.Emails[len(u.Emails)-1]
			return r.multiValue(k, &e.Value, &e.Display, &e.Type, &e.Primary)
		})
	case "phoneNumbers":
		return r.array(func() { u.PhoneNumbers = nil }, func() { u.PhoneNumbers = append(u.PhoneNumbers, scim.PhoneNumber{}) }, func(k string) bool {
			p := &u.PhoneNumbers[len(u.PhoneNumbers)-1]
			return r.multiValue(k, &p.Value, &p.Display, &p.Type, &p.Primary)
		})
	case "addresses":
		return r.array(func() { u.Addresses = nil }, func() { u.Addresses = append(u.Addresses, scim.Address{}) }, func(k string) bool {
			a := &u.Addresses[len(u.Addresses)-1]
			switch k {
			case "primary":
				return r.flag(&a.Primary)
			case "type":
				return r.text(&a.Type)
			}
			return r.textOf(textNamed(addressParts[:], a, k))
		})
	case scim.SchemaEnterpriseUser:
		if r.null() {
			u.Enterprise = nil
			return true
		}
		if u.Enterprise == nil {
			u.Enterprise = &scim.EnterpriseUser{}
		}
		x := u.Enterprise
		return r.object(func(k string) bool {
			if k == "manager" {
				return r.manager(x)
			}
			return r.textOf(textNamed(enterpriseParts[:], x, k))
		})
	}
	return false
}

// manager reads x's manager.
func (r *jsonReader) manager(x *scim.EnterpriseUser) bool {
	if r.null() {
		x.Manager = nil
		return true
	}
	if x.Manager == nil {
		x.Manager = &scim.Manager{}
	}
	m := x.Manager
	return r.object(func(k string) bool {
		switch k {
		case "value":
			return r.text(&m.Value)
		case "$ref":
			return r.text(&m.Ref)
		case "displayName":
			return r.text(&m.DisplayName)
		}
		return false
	})
}

// multiValue reads attribute k of an email or phone number.
func (r *jsonReader) multiValue(k string, value, display, typ *string, primary *bool) bool {
	switch k {
	case "value":
		return r.text(value)
	case "display":
		return r.text(display)
	case "type":
		return r.text(typ)
	case "primary":
		return r.flag(primary)
	}
	return false
}
