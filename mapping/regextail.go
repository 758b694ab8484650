package mapping

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// tailMatcher decides a whole-value regular expression of the form .*T,
// where T matches a fixed number of runes (literal runes, character
// classes, dots): Entra's own example ".*@contoso.com" and the usual
// domain filters. The value matches when it ends in runes that T's match
// one for one and what precedes them holds no newline (unless the dot
// matches newlines, (?s)). That is what the regexp engine decides too,
// but by backtracking, which costs a scoping filter more than the rest
// of a user's mapping.
type tailMatcher struct {
	tail   []runeSet // T, one set per rune
	dotAll bool      // the leading .* matches newlines
}

// runeSet is what one position of T accepts: a rune in one of the
// ranges (lo, hi pairs), or any rune but a newline (notNL), or any rune.
type runeSet struct {
	ranges []rune
	any    bool
	notNL  bool
}

func (s *runeSet) has(r rune) bool {
	switch {
	case s.any:
		return true
	case s.notNL:
		return r != '\n'
	}
	for i := 0; i+1 < len(s.ranges); i += 2 {
		if s.ranges[i] <= r && r <= s.ranges[i+1] {
			return true
		}
	}
	return false
}

// newTailMatcher returns the matcher of the anchored pattern
// ^(?:pattern)$ as regexp.Compile parses it, or nil when the pattern is
// of another form (or ignores case, where the engine's folding rules
// apply).
func newTailMatcher(pattern string) *tailMatcher {
	re, err := syntax.Parse(`^(?:`+pattern+`)$`, syntax.Perl)
	if err != nil {
		return nil
	}
	items := flattenConcat(re.Simplify(), nil)
	for len(items) > 0 && items[0].Op == syntax.OpBeginText {
		items = items[1:]
	}
	for len(items) > 0 && items[len(items)-1].Op == syntax.OpEndText {
		items = items[:len(items)-1]
	}
	if len(items) == 0 || items[0].Op != syntax.OpStar || len(items[0].Sub) != 1 {
		return nil
	}
	m := &tailMatcher{}
	switch dot := items[0].Sub[0]; dot.Op {
	case syntax.OpAnyChar:
		m.dotAll = true
	case syntax.OpAnyCharNotNL:
	default:
		return nil
	}
	for _, it := range items[1:] {
		if it.Flags&syntax.FoldCase != 0 {
			return nil
		}
		switch it.Op {
		case syntax.OpLiteral:
			for _, r := range it.Rune {
				m.tail = append(m.tail, runeSet{ranges: []rune{r, r}})
			}
		case syntax.OpCharClass:
			m.tail = append(m.tail, runeSet{ranges: it.Rune})
		case syntax.OpAnyChar:
			m.tail = append(m.tail, runeSet{any: true})
		case syntax.OpAnyCharNotNL:
			m.tail = append(m.tail, runeSet{notNL: true})
		default:
			return nil
		}
	}
	return m
}

// flattenConcat appends the items of re, a concatenation, to out, with
// capture groups (which do not change whether a value matches) unwrapped.
func flattenConcat(re *syntax.Regexp, out []*syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture:
		return flattenConcat(re.Sub[0], out)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			out = flattenConcat(sub, out)
		}
		return out
	}
	return append(out, re)
}

// match reports whether s, valid UTF-8, matches the whole pattern.
func (m *tailMatcher) match(s string) bool {
	i := len(s)
	for k := len(m.tail) - 1; k >= 0; k-- {
		if i == 0 {
			return false
		}
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if !m.tail[k].has(r) {
			return false
		}
		i -= size
	}
	return m.dotAll || strings.IndexByte(s[:i], '\n') < 0
}
