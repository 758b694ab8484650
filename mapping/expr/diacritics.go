package expr

import (
	"strings"
	"unicode/utf8"
)

// latin1Ext maps U+00C0 to U+017F to a plain letter: '.' keeps the
// character, '*' looks it up in multiLetter.
const latin1Ext = "" +
	"AAAAAA*CEEEEIIIIDNOOOOO.*UUUUY.*" + // U+00C0
	"aaaaaa*ceeeeiiiidnooooo.*uuuuy.y" + // U+00E0
	"AaAaAaCcCcCcCcDd" + // U+0100
	"DdEeEeEeEeEeGgGg" + // U+0110
	"GgGgHhHhIiIiIiIi" + // U+0120
	"Ii**JjKk.LlLlLlL" + // U+0130
	"lLlNnNnNnn..OoOo" + // U+0140
	"Oo**RrRrRrSsSsSs" + // U+0150
	"SsTtTtTtUuUuUuUu" + // U+0160
	"UuUuWwYyYZzZzZzs" //  U+0170

// multiLetter are the letters that become more than one letter.
var multiLetter = map[rune]string{
	'Æ': "AE", 'æ': "ae", 'Ø': "OE", 'ø': "oe", 'ß': "ss",
	'Ĳ': "IJ", 'ĳ': "ij", 'Œ': "OE", 'œ': "oe", 'Ǣ': "AE", 'ǣ': "ae",
}

// otherLetters are the letters beyond U+017F in Microsoft's table of
// NormalizeDiacritics, and a few close relatives.
var otherLetters = map[rune]byte{
	'Ǎ': 'A', 'ǎ': 'a', 'Ǐ': 'I', 'ǐ': 'i', 'Ǒ': 'O', 'ǒ': 'o', 'Ǔ': 'U', 'ǔ': 'u',
	'Ǖ': 'U', 'ǖ': 'u', 'Ǘ': 'U', 'ǘ': 'u', 'Ǚ': 'U', 'ǚ': 'u', 'Ǜ': 'U', 'ǜ': 'u',
	'Ǟ': 'A', 'ǟ': 'a', 'Ǡ': 'A', 'ǡ': 'a', 'Ǭ': 'O', 'ǭ': 'o', 'Ơ': 'O', 'ơ': 'o',
	'Ư': 'U', 'ư': 'u', 'Ș': 'S', 'ș': 's', 'Ț': 'T', 'ț': 't', 'Ȫ': 'O', 'ȫ': 'o',
	'Ȭ': 'O', 'ȭ': 'o', 'Ȱ': 'O', 'ȱ': 'o', 'Ȳ': 'Y', 'ȳ': 'y',
	'Ḏ': 'D', 'ḏ': 'd', 'Ḕ': 'E', 'ḕ': 'e', 'Ḗ': 'E', 'ḗ': 'e', 'Ḡ': 'G', 'ḡ': 'g',
	'Ḹ': 'L', 'ḹ': 'l', 'Ḻ': 'L', 'ḻ': 'l', 'Ṉ': 'N', 'ṉ': 'n', 'Ṑ': 'O', 'ṑ': 'o',
	'Ṓ': 'O', 'ṓ': 'o', 'Ṝ': 'R', 'ṝ': 'r', 'Ṟ': 'R', 'ṟ': 'r', 'Ṳ': 'U', 'ṳ': 'u',
	'Ṻ': 'U', 'ṻ': 'u', 'Ẕ': 'Z', 'ẕ': 'z',
}

// isCombining reports whether r is a combining diacritical mark.
func isCombining(r rune) bool {
	return (r >= 0x0300 && r <= 0x036F) || (r >= 0x1AB0 && r <= 0x1AFF) ||
		(r >= 0x1DC0 && r <= 0x1DFF) || (r >= 0x20D0 && r <= 0x20FF)
}

// plainLetter returns what r becomes, and false if r stays as it is.
func plainLetter(r rune) (string, bool) {
	switch {
	case r < 0xC0:
		return "", false
	case r <= 0x17F:
		switch c := latin1Ext[r-0xC0]; c {
		case '.':
			return "", false
		case '*':
			return multiLetter[r], true
		default:
			return latin1Ext[r-0xC0 : r-0xC0+1], true
		}
	case isCombining(r):
		return "", true
	}
	if s, ok := multiLetter[r]; ok {
		return s, true
	}
	if c, ok := otherLetters[r]; ok {
		return string(rune(c)), true
	}
	return "", false
}

// normalizeDiacritics replaces accented Latin letters with plain ones and
// drops combining marks. It returns s itself when nothing changes.
func normalizeDiacritics(s string) string {
	i := 0
	for i < len(s) {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if _, ok := plainLetter(r); ok {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if p, ok := plainLetter(r); ok {
			b.WriteString(p)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
