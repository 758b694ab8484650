package scim

import (
	"strings"
	"unicode/utf8"
)

// AppendJSON appends u's JSON encoding to b and returns the result. It is
// byte for byte what encoding/json's Marshal makes of u (escaping
// included), without reflection; request bodies and mirrors of users are
// encoded with it.
func (u *User) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	if len(u.Schemas) > 0 {
		b = AppendKey(b, n, "schemas")
		b = appendStrings(b, u.Schemas)
	}
	b = appendField(b, n, "id", u.ID)
	b = appendField(b, n, "externalId", u.ExternalID)
	b = AppendKey(b, n, "userName")
	b = AppendString(b, u.UserName)
	if u.Name != nil {
		b = AppendKey(b, n, "name")
		b = u.Name.appendJSON(b)
	}
	b = appendField(b, n, "displayName", u.DisplayName)
	b = appendField(b, n, "nickName", u.NickName)
	b = appendField(b, n, "profileUrl", u.ProfileURL)
	b = appendField(b, n, "title", u.Title)
	b = appendField(b, n, "userType", u.UserType)
	b = appendField(b, n, "preferredLanguage", u.PreferredLanguage)
	b = appendField(b, n, "locale", u.Locale)
	b = appendField(b, n, "timezone", u.Timezone)
	if u.Active != nil {
		b = AppendKey(b, n, "active")
		b = appendBool(b, *u.Active)
	}
	if len(u.Emails) > 0 {
		b = AppendKey(b, n, "emails")
		b = appendList(b, u.Emails, func(b []byte, e *Email) []byte {
			return appendMultiValue(b, e.Value, e.Display, e.Type, e.Primary)
		})
	}
	if len(u.PhoneNumbers) > 0 {
		b = AppendKey(b, n, "phoneNumbers")
		b = appendList(b, u.PhoneNumbers, func(b []byte, p *PhoneNumber) []byte {
			return appendMultiValue(b, p.Value, p.Display, p.Type, p.Primary)
		})
	}
	if len(u.Addresses) > 0 {
		b = AppendKey(b, n, "addresses")
		b = appendList(b, u.Addresses, func(b []byte, a *Address) []byte { return a.appendJSON(b) })
	}
	if len(u.Groups) > 0 {
		b = AppendKey(b, n, "groups")
		b = appendList(b, u.Groups, func(b []byte, g *GroupRef) []byte {
			b = append(b, '{')
			n := len(b)
			b = appendField(b, n, "value", g.Value)
			b = appendField(b, n, "$ref", g.Ref)
			b = appendField(b, n, "display", g.Display)
			b = appendField(b, n, "type", g.Type)
			return append(b, '}')
		})
	}
	if u.Enterprise != nil {
		b = AppendKey(b, n, SchemaEnterpriseUser)
		b = u.Enterprise.appendJSON(b)
	}
	if u.Meta != nil {
		b = AppendKey(b, n, "meta")
		b = u.Meta.appendJSON(b)
	}
	return append(b, '}')
}

// AppendJSON appends g's JSON encoding to b and returns the result, byte
// for byte what encoding/json's Marshal makes of g, without reflection.
func (g *Group) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	if len(g.Schemas) > 0 {
		b = AppendKey(b, n, "schemas")
		b = appendStrings(b, g.Schemas)
	}
	b = appendField(b, n, "id", g.ID)
	b = appendField(b, n, "externalId", g.ExternalID)
	b = AppendKey(b, n, "displayName")
	b = AppendString(b, g.DisplayName)
	if len(g.Members) > 0 {
		b = AppendKey(b, n, "members")
		b = appendList(b, g.Members, appendMember)
	}
	if g.Meta != nil {
		b = AppendKey(b, n, "meta")
		b = g.Meta.appendJSON(b)
	}
	return append(b, '}')
}

func appendMember(b []byte, m *Member) []byte {
	b = append(b, `{"value":`...)
	b = AppendString(b, m.Value)
	b = appendField(b, 0, "$ref", m.Ref)
	b = appendField(b, 0, "display", m.Display)
	b = appendField(b, 0, "type", m.Type)
	return append(b, '}')
}

// AppendJSON appends p's JSON encoding to b, byte for byte what
// encoding/json's Marshal makes of p, when every operation's value is a
// member list ([]Member) or absent, as the PATCH requests that add and
// remove members are; ok is false, and b returned as it was, for any
// other value: encode p with json.Marshal then.
func (p *PatchOp) AppendJSON(b []byte) (_ []byte, ok bool) {
	for i := range p.Operations {
		switch p.Operations[i].Value.(type) {
		case nil, []Member:
		default:
			return b, false
		}
	}
	b = append(b, `{"schemas":`...)
	b = appendStringsOrNull(b, p.Schemas)
	b = append(b, `,"Operations":`...)
	if p.Operations == nil {
		b = append(b, "null"...)
	} else {
		b = appendList(b, p.Operations, func(b []byte, o *PatchOperation) []byte {
			b = append(b, `{"op":`...)
			b = AppendString(b, o.Op)
			b = appendField(b, 0, "path", o.Path)
			if ms, isList := o.Value.([]Member); isList {
				b = append(b, `,"value":`...)
				if ms == nil {
					b = append(b, "null"...)
				} else {
					b = appendList(b, ms, appendMember)
				}
			}
			return append(b, '}')
		})
	}
	return append(b, '}'), true
}

func (m *Name) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendField(b, n, "formatted", m.Formatted)
	b = appendField(b, n, "familyName", m.FamilyName)
	b = appendField(b, n, "givenName", m.GivenName)
	b = appendField(b, n, "middleName", m.MiddleName)
	b = appendField(b, n, "honorificPrefix", m.HonorificPrefix)
	b = appendField(b, n, "honorificSuffix", m.HonorificSuffix)
	return append(b, '}')
}

func (a *Address) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendField(b, n, "formatted", a.Formatted)
	b = appendField(b, n, "streetAddress", a.StreetAddress)
	b = appendField(b, n, "locality", a.Locality)
	b = appendField(b, n, "region", a.Region)
	b = appendField(b, n, "postalCode", a.PostalCode)
	b = appendField(b, n, "country", a.Country)
	b = appendField(b, n, "type", a.Type)
	if a.Primary {
		b = AppendKey(b, n, "primary")
		b = append(b, "true"...)
	}
	return append(b, '}')
}

func (e *EnterpriseUser) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendField(b, n, "employeeNumber", e.EmployeeNumber)
	b = appendField(b, n, "costCenter", e.CostCenter)
	b = appendField(b, n, "organization", e.Organization)
	b = appendField(b, n, "division", e.Division)
	b = appendField(b, n, "department", e.Department)
	if m := e.Manager; m != nil {
		b = AppendKey(b, n, "manager")
		b = append(b, '{')
		n := len(b)
		b = appendField(b, n, "value", m.Value)
		b = appendField(b, n, "$ref", m.Ref)
		b = appendField(b, n, "displayName", m.DisplayName)
		b = append(b, '}')
	}
	return append(b, '}')
}

func (m *Meta) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendField(b, n, "resourceType", m.ResourceType)
	b = appendField(b, n, "created", m.Created)
	b = appendField(b, n, "lastModified", m.LastModified)
	b = appendField(b, n, "location", m.Location)
	b = appendField(b, n, "version", m.Version)
	return append(b, '}')
}

// appendMultiValue appends an email or phone number.
func appendMultiValue(b []byte, value, display, typ string, primary bool) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendField(b, n, "value", value)
	b = appendField(b, n, "display", display)
	b = appendField(b, n, "type", typ)
	if primary {
		b = AppendKey(b, n, "primary")
		b = append(b, "true"...)
	}
	return append(b, '}')
}

func appendList[T any](b []byte, items []T, item func([]byte, *T) []byte) []byte {
	b = append(b, '[')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, &items[i])
	}
	return append(b, ']')
}

func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, v)
	}
	return append(b, ']')
}

// appendStringsOrNull is appendStrings, with null for a nil slice.
func appendStringsOrNull(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendStrings(b, s)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// AppendKey appends a JSON object member's name and colon to b, after a
// comma unless it is the first member of the object whose members begin
// at b[start]. key is written as it is, so it must need no escaping (a
// constant attribute name).
func AppendKey(b []byte, start int, key string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendField appends a string member that is omitted when empty.
func appendField(b []byte, start int, key, v string) []byte {
	if v == "" {
		return b
	}
	b = AppendKey(b, start, key)
	return AppendString(b, v)
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the ASCII characters a JSON string holds as they are.
var plainJSON = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, c)
	}
	return t
}()

// Byte-wise tests on eight bytes held in a uint64: lows has each byte's
// low bit set, highs each byte's high bit.
const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether the eight bytes of w are all ASCII characters
// a JSON string holds as they are (plainJSON): none is a control
// character, non-ASCII, or one of " \ < > &.
func plainWord(w string) bool {
	x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
	// A byte below 0x20 or at or above 0x80; then bytes equal to one of
	// the five characters, each found as a zero byte of x XOR it.
	bad := (x - lows*0x20) | x | zeroByte(x^(lows*'"')) | zeroByte(x^(lows*'\\')) |
		zeroByte(x^(lows*'<')) | zeroByte(x^(lows*'>')) | zeroByte(x^(lows*'&'))
	return bad&highs == 0
}

// zeroByte has a byte's high bit set, under highs, if y has a zero byte
// (and may have others set above it then); none if it has none.
func zeroByte(y uint64) uint64 { return (y - lows) &^ y }

// AppendString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters, the HTML
// characters <, > and &, U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time: most strings (ids,
		// names, addresses) have nothing to escape.
		for i+8 <= len(s) && plainWord(s[i:i+8]) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plainJSON[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
