package netskope

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/provsync/provsync/scim"
)

// A listing decodes its users and groups with the reader below instead of
// by reflection: encoding/json spends most of a listing's CPU looking up
// fields and storing through reflect. The reader handles the common form
// of a resource (known attributes in their own case, each once, with
// values of their type) and gives up on anything else (null, another
// case, a value of another type, a repeated attribute), which is then
// decoded by encoding/json, so that the result, and every error, is
// exactly encoding/json's. Attributes the scim types do not have are
// skipped, as encoding/json skips them. TestFastDecodeKnowsEveryField
// keeps the attribute lists here in step with the scim types.

// jsonReader reads one JSON value that is known to be well formed (the
// json.Decoder checked it). ok turns false at the first thing the reader
// does not handle; every method then does nothing.
type jsonReader struct {
	b  []byte
	i  int
	ok bool
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte that is not white space, 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if !r.ok || r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

// expect consumes c, or gives up.
func (r *jsonReader) expect(c byte) {
	if r.peek() != c {
		r.ok = false
		return
	}
	r.i++
}

// literal returns the bytes of the string literal at the reader, quotes
// included, and whether they stand for themselves: no escape, no control
// character, valid UTF-8 (what encoding/json copies as it is).
func (r *jsonReader) literal() ([]byte, bool) {
	if r.peek() != '"' {
		r.ok = false
		return nil, false
	}
	start, plain, ascii := r.i, true, true
	for r.i++; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			lit := r.b[start:r.i]
			return lit, plain && (ascii || utf8.Valid(lit))
		case c == '\\':
			plain = false
			r.i++
		case c < 0x20:
			plain = false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	r.ok = false
	return nil, false
}

// str reads a string value.
func (r *jsonReader) str() string {
	lit, plain := r.literal()
	if !r.ok {
		return ""
	}
	if plain {
		return string(lit[1 : len(lit)-1])
	}
	if s, ok := unquote(lit); ok {
		return s
	}
	var s string // surrogates and bad UTF-8 exactly as encoding/json reads them
	if json.Unmarshal(lit, &s) != nil {
		r.ok = false
	}
	return s
}

// unquote returns the string literal lit stands for, if it holds valid
// UTF-8 and only escapes other than of a UTF-16 surrogate; false
// otherwise (encoding/json then reads it).
func unquote(lit []byte) (string, bool) {
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
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
				if i+6 > len(s) {
					return "", false
				}
				var r rune
				for _, h := range s[i+2 : i+6] {
					d, ok := fromHexDigit(h)
					if !ok {
						return "", false
					}
					r = r<<4 | rune(d)
				}
				if utf16.IsSurrogate(r) {
					return "", false
				}
				b.WriteRune(r)
				i += 6
				continue
			default:
				return "", false
			}
			i += 2
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			b.Write(s[i : i+size])
			i += size
		}
	}
	return b.String(), true
}

// fromHexDigit returns the value of hex digit c.
func fromHexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// boolean reads true or false.
func (r *jsonReader) boolean() bool {
	switch r.peek() {
	case 't':
		if r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "true" {
			r.i += 4
			return true
		}
	case 'f':
		if r.i+5 <= len(r.b) && string(r.b[r.i:r.i+5]) == "false" {
			r.i += 5
			return false
		}
	}
	r.ok = false
	return false
}

// skip reads any value.
func (r *jsonReader) skip() {
	switch r.peek() {
	case '"':
		r.literal()
	case '{', '[':
		depth := 0
		for ; r.i < len(r.b); r.i++ {
			switch r.b[r.i] {
			case '"':
				r.literal()
				r.i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					r.i++
					return
				}
			}
		}
		r.ok = false
	case 0:
		r.ok = false
	default: // a number, true, false or null
		for r.i < len(r.b) {
			switch r.b[r.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			r.i++
		}
	}
}

// object is an object being read, member by member (next).
type object struct {
	r       *jsonReader
	names   []string // at most 64
	seen    uint64   // bit i: names[i] came
	started bool
	done    bool
}

// object starts reading an object whose members of interest are names.
func (r *jsonReader) object(names []string) object {
	r.expect('{')
	o := object{r: r, names: names}
	if r.peek() == '}' {
		r.i++
		o.done = true
	}
	return o
}

// next reads the name of the next member that is one of names, and
// returns it, the reader before its value, which the caller reads; the
// values of other members are skipped, unless the name is one of names
// in another case, which encoding/json would match: the reader gives up.
// A name of names that comes twice makes it give up too. false at the
// end of the object.
func (o *object) next() (string, bool) {
	r := o.r
	for r.ok && !o.done {
		if o.started {
			switch r.peek() {
			case ',':
				r.i++
			case '}':
				r.i++
				o.done = true
				return "", false
			default:
				r.ok = false
				return "", false
			}
		}
		o.started = true
		lit, plain := r.literal()
		if !plain {
			r.ok = false
			return "", false
		}
		name := lit[1 : len(lit)-1]
		r.expect(':')
		k := -1
		for j, n := range o.names {
			if n == string(name) {
				k = j
				break
			}
			if foldMatch(n, name) {
				r.ok = false
				return "", false
			}
		}
		if k < 0 {
			r.skip()
			continue
		}
		if o.seen&(1<<k) != 0 {
			r.ok = false
			return "", false
		}
		o.seen |= 1 << k
		return o.names[k], true
	}
	return "", false
}

// foldMatch reports whether encoding/json might match member name to
// attribute n, a name in ASCII: they are equal but for ASCII case, or
// name holds a byte beyond ASCII (Unicode folding, as of K to k, is
// left to encoding/json).
func foldMatch(n string, name []byte) bool {
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	if len(n) != len(name) {
		return false
	}
	for i := range name {
		if lowerASCII(n[i]) != lowerASCII(name[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// array is an array being read, element by element (next).
type array struct {
	r       *jsonReader
	started bool
	done    bool
}

// array starts reading an array.
func (r *jsonReader) array() array {
	r.expect('[')
	a := array{r: r}
	if r.peek() == ']' {
		r.i++
		a.done = true
	}
	return a
}

// next reports whether an element follows, the reader before it.
func (a *array) next() bool {
	r := a.r
	if !r.ok || a.done {
		return false
	}
	if a.started {
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			a.done = true
			return false
		default:
			r.ok = false
			return false
		}
	}
	a.started = true
	return true
}

// strs reads an array of strings; [] is an empty, non-nil slice.
func (r *jsonReader) strs() []string {
	out := []string{}
	for a := r.array(); a.next(); {
		out = append(out, r.str())
	}
	return out
}

// The attribute names of the scim types, as their json tags spell them.
var (
	userNames = []string{"schemas", "id", "externalId", "userName", "name", "displayName", "nickName", "profileUrl",
		"title", "userType", "preferredLanguage", "locale", "timezone", "active", "emails", "phoneNumbers", "addresses",
		"groups", scim.SchemaEnterpriseUser, "meta"}
	groupNames      = []string{"schemas", "id", "externalId", "displayName", "members", "meta"}
	nameNames       = []string{"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"}
	multiNames      = []string{"value", "display", "type", "primary"}
	addressNames    = []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"}
	refNames        = []string{"value", "$ref", "display", "type"}
	enterpriseNames = []string{"employeeNumber", "costCenter", "organization", "division", "department", "manager"}
	managerNames    = []string{"value", "$ref", "displayName"}
	metaNames       = []string{"resourceType", "created", "lastModified", "location", "version"}
)

// fastUser decodes b into u; false if the reader gave up (u is then
// undefined).
func fastUser(b []byte, u *scim.User) bool {
	r := jsonReader{b: b, ok: true}
	*u = scim.User{}
	for o := r.object(userNames); ; {
		name, ok := o.next()
		if !ok {
			break
		}
		switch name {
		case "schemas":
			u.Schemas = r.strs()
		case "id":
			u.ID = r.str()
		case "externalId":
			u.ExternalID = r.str()
		case "userName":
			u.UserName = r.str()
		case "name":
			u.Name = r.name()
		case "displayName":
			u.DisplayName = r.str()
		case "nickName":
			u.NickName = r.str()
		case "profileUrl":
			u.ProfileURL = r.str()
		case "title":
			u.Title = r.str()
		case "userType":
			u.UserType = r.str()
		case "preferredLanguage":
			u.PreferredLanguage = r.str()
		case "locale":
			u.Locale = r.str()
		case "timezone":
			u.Timezone = r.str()
		case "active":
			u.Active = scim.Bool(r.boolean())
		case "emails":
			u.Emails = []scim.Email{}
			for a := r.array(); a.next(); {
				var e scim.Email
				e.Value, e.Display, e.Type, e.Primary = r.multiValue()
				u.Emails = append(u.Emails, e)
			}
		case "phoneNumbers":
			u.PhoneNumbers = []scim.PhoneNumber{}
			for a := r.array(); a.next(); {
				var p scim.PhoneNumber
				p.Value, p.Display, p.Type, p.Primary = r.multiValue()
				u.PhoneNumbers = append(u.PhoneNumbers, p)
			}
		case "addresses":
			u.Addresses = []scim.Address{}
			for a := r.array(); a.next(); {
				u.Addresses = append(u.Addresses, r.address())
			}
		case "groups":
			u.Groups = []scim.GroupRef{}
			for a := r.array(); a.next(); {
				var g scim.GroupRef
				g.Value, g.Ref, g.Display, g.Type = r.ref()
				u.Groups = append(u.Groups, g)
			}
		case scim.SchemaEnterpriseUser:
			u.Enterprise = r.enterprise()
		case "meta":
			u.Meta = r.meta()
		}
	}
	r.ws()
	return r.ok && r.i == len(b)
}

// fastGroup decodes b into g; false if the reader gave up.
func fastGroup(b []byte, g *scim.Group) bool {
	r := jsonReader{b: b, ok: true}
	*g = scim.Group{}
	for o := r.object(groupNames); ; {
		name, ok := o.next()
		if !ok {
			break
		}
		switch name {
		case "schemas":
			g.Schemas = r.strs()
		case "id":
			g.ID = r.str()
		case "externalId":
			g.ExternalID = r.str()
		case "displayName":
			g.DisplayName = r.str()
		case "members":
			g.Members = []scim.Member{}
			for a := r.array(); a.next(); {
				var m scim.Member
				m.Value, m.Ref, m.Display, m.Type = r.ref()
				g.Members = append(g.Members, m)
			}
		case "meta":
			g.Meta = r.meta()
		}
	}
	r.ws()
	return r.ok && r.i == len(b)
}

// multiValue reads an email or phone number.
func (r *jsonReader) multiValue() (value, display, typ string, primary bool) {
	for o := r.object(multiNames); ; {
		name, ok := o.next()
		if !ok {
			return value, display, typ, primary
		}
		switch name {
		case "value":
			value = r.str()
		case "display":
			display = r.str()
		case "type":
			typ = r.str()
		case "primary":
			primary = r.boolean()
		}
	}
}

// ref reads a group's member or a user's group.
func (r *jsonReader) ref() (value, ref, display, typ string) {
	for o := r.object(refNames); ; {
		name, ok := o.next()
		if !ok {
			return value, ref, display, typ
		}
		switch s := r.str(); name {
		case "value":
			value = s
		case "$ref":
			ref = s
		case "display":
			display = s
		case "type":
			typ = s
		}
	}
}

func (r *jsonReader) name() *scim.Name {
	n := &scim.Name{}
	for o := r.object(nameNames); ; {
		name, ok := o.next()
		if !ok {
			return n
		}
		switch s := r.str(); name {
		case "formatted":
			n.Formatted = s
		case "familyName":
			n.FamilyName = s
		case "givenName":
			n.GivenName = s
		case "middleName":
			n.MiddleName = s
		case "honorificPrefix":
			n.HonorificPrefix = s
		case "honorificSuffix":
			n.HonorificSuffix = s
		}
	}
}

func (r *jsonReader) address() scim.Address {
	var a scim.Address
	for o := r.object(addressNames); ; {
		name, ok := o.next()
		if !ok {
			return a
		}
		if name == "primary" {
			a.Primary = r.boolean()
			continue
		}
		switch s := r.str(); name {
		case "formatted":
			a.Formatted = s
		case "streetAddress":
			a.StreetAddress = s
		case "locality":
			a.Locality = s
		case "region":
			a.Region = s
		case "postalCode":
			a.PostalCode = s
		case "country":
			a.Country = s
		case "type":
			a.Type = s
		}
	}
}

func (r *jsonReader) enterprise() *scim.EnterpriseUser {
	e := &scim.EnterpriseUser{}
	for o := r.object(enterpriseNames); ; {
		name, ok := o.next()
		if !ok {
			return e
		}
		if name == "manager" {
			e.Manager = r.manager()
			continue
		}
		switch s := r.str(); name {
		case "employeeNumber":
			e.EmployeeNumber = s
		case "costCenter":
			e.CostCenter = s
		case "organization":
			e.Organization = s
		case "division":
			e.Division = s
		case "department":
			e.Department = s
		}
	}
}

func (r *jsonReader) manager() *scim.Manager {
	m := &scim.Manager{}
	for o := r.object(managerNames); ; {
		name, ok := o.next()
		if !ok {
			return m
		}
		switch s := r.str(); name {
		case "value":
			m.Value = s
		case "$ref":
			m.Ref = s
		case "displayName":
			m.DisplayName = s
		}
	}
}

func (r *jsonReader) meta() *scim.Meta {
	m := &scim.Meta{}
	for o := r.object(metaNames); ; {
		name, ok := o.next()
		if !ok {
			return m
		}
		switch s := r.str(); name {
		case "resourceType":
			m.ResourceType = s
		case "created":
			m.Created = s
		case "lastModified":
			m.LastModified = s
		case "location":
			m.Location = s
		case "version":
			m.Version = s
		}
	}
}

// elemFor returns what the elements of a page are decoded into, each
// landing in v: users and groups without reflection where they can be.
func elemFor[T any](v *T) any {
	switch p := any(v).(type) {
	case *scim.User:
		return &userElem{p}
	case *scim.Group:
		return &groupElem{p}
	}
	return v
}

// userElem decodes a list element as a user: fastUser, or else
// scim.User.UnmarshalJSON, as a json.Decoder would.
type userElem struct{ u *scim.User }

func (e *userElem) UnmarshalJSON(b []byte) error {
	if fastUser(b, e.u) {
		return nil
	}
	return e.u.UnmarshalJSON(b)
}

// groupElem decodes a list element as a group: fastGroup, or else
// encoding/json.
type groupElem struct{ g *scim.Group }

func (e *groupElem) UnmarshalJSON(b []byte) error {
	if fastGroup(b, e.g) {
		return nil
	}
	*e.g = scim.Group{}
	return json.Unmarshal(b, e.g)
}
