package source

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Size limits Validate enforces. They are sanity bounds, generous next to
// what providers allow, so that a corrupt or hostile source (a 1 MB user
// name, a 10 MB attribute) is refused before anything is sent to the
// target or kept in the state.
const (
	// MaxIDBytes bounds a user's or group's source id. Provider ids are
	// short (Entra and OneLogin ids, Google's numeric ids: under 40
	// bytes); ids become SCIM externalId values and state keys.
	MaxIDBytes = 1024
	// MaxUserNameBytes bounds a user name. Entra limits a
	// userPrincipalName to 113 characters (at most 452 bytes of UTF-8;
	// learn.microsoft.com/graph/api/resources/user), and an e-mail
	// address is at most 254 octets (RFC 5321 section 4.5.3.1.3 and its
	// errata), so 512 bytes is more than any provider's user name.
	MaxUserNameBytes = 512
	// MaxGroupNameBytes bounds a group's display name: Entra allows 256
	// characters (at most 1024 bytes of UTF-8), more than Google or
	// OneLogin.
	MaxGroupNameBytes = 1024
	// MaxValueBytes bounds every other string: an email, a given, family
	// or display name, a description, and each attribute value or item of
	// a list attribute. The largest provider attributes (Entra extension
	// attributes, Google custom schema strings) are a few KiB at most.
	MaxValueBytes = 64 << 10
	// MaxListItems bounds the number of items of a list attribute.
	MaxListItems = 10000
)

// textRule says what a string field may hold beyond valid UTF-8 and its
// size limit.
type textRule uint8

const (
	// freeText may hold any valid UTF-8, line breaks and tabs included
	// (descriptions, attribute values).
	freeText textRule = iota
	// keyText is an identifier or address: no control character.
	keyText
	// nameText is a user or group name: no control character, and not
	// white space only.
	nameText
)

// checkText reports a string field that is not valid UTF-8, is longer
// than limit bytes, or breaks rule. An empty string passes: whether a
// field may be empty is checked elsewhere.
func (p *problems) checkText(kind, id string, index int, field, s string, limit int, rule textRule) {
	if msg := textProblem(s, limit, rule); msg != "" {
		p.add(kind, id, index, field, "%s", msg)
	}
}

// textProblem says what is wrong with s, "" if nothing.
func textProblem(s string, limit int, rule textRule) string {
	switch {
	case s == "":
		return ""
	case len(s) > limit:
		return fmt.Sprintf("%d bytes; at most %d are allowed", len(s), limit)
	case !utf8.ValidString(s):
		return fmt.Sprintf("not valid UTF-8 (byte %d)", firstInvalid(s))
	case rule == freeText:
		return ""
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Sprintf("control character %U at byte %d", r, i)
	}
	if rule == nameText && strings.TrimSpace(s) == "" {
		return "only white space"
	}
	return ""
}

// firstInvalid returns the offset of the first byte of s that is not part
// of valid UTF-8.
func firstInvalid(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return len(s)
}

// checkValue reports an attribute value over the size limits or holding
// invalid UTF-8.
func (p *problems) checkValue(kind, id string, index int, field string, v any) {
	switch x := v.(type) {
	case string:
		p.checkText(kind, id, index, field, x, MaxValueBytes, freeText)
	case []string:
		if len(x) > MaxListItems {
			p.add(kind, id, index, field, "%d items; at most %d are allowed", len(x), MaxListItems)
			return
		}
		for k, s := range x {
			if msg := textProblem(s, MaxValueBytes, freeText); msg != "" {
				p.add(kind, id, index, fmt.Sprintf("%s[%d]", field, k), "%s", msg)
			}
		}
	}
}

// valueOK reports whether checkValue would find nothing wrong with v.
func valueOK(v any) bool {
	switch x := v.(type) {
	case string:
		return textProblem(x, MaxValueBytes, freeText) == ""
	case []string:
		if len(x) > MaxListItems {
			return false
		}
		for _, s := range x {
			if textProblem(s, MaxValueBytes, freeText) != "" {
				return false
			}
		}
	}
	return true
}

// shorten cuts s to at most 64 bytes (on a rune boundary) for a message,
// marking the cut.
func shorten(s string) string {
	const keep = 64
	if len(s) <= keep {
		return s
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
