package mapping

import (
	"regexp"
	"testing"
)

// tailPatterns are scoping filter patterns; fast says whether
// newTailMatcher takes them.
var tailPatterns = []struct {
	pattern string
	fast    bool
}{
	{`.*@example\.com`, true},
	{`.*@contoso.com`, true}, // the dot before com matches any rune
	{`^.*@x\.io$`, true},
	{`(.*)(@x\.io)`, true},
	{`.*`, true},
	{`.*[0-9]\d`, true},
	{`.*[^a-z]`, true},
	{`(?s).*@x\.io`, true},
	{`.*?@x\.io`, true},
	{`.*é`, true},
	{`(?i).*@X\.io`, false}, // folding: left to the engine
	{`.+@x\.io`, false},
	{`a.*@x\.io`, false},
	{`.*@(x|y)\.io`, true}, // simplified to a class
	{`.*@(xa|yb)\.io`, false},
	{`.*@x\.io|.*@y\.io`, false},
	{`.*@x\.io.*`, false},
	{`(1[0-9][0-9][0-9][0-9][0-9][0-9])`, false},
}

var tailValues = []string{
	"", "a", "@example.com", "ada@example.com", "ada@example.com ", "ada@EXAMPLE.com", "ada@exampleXcom",
	"ada@contoso.com", "ada@contosoécom", "a\nda@example.com", "ada@example.com\n", "x@x.io", "X@X.IO", "\n@x.io",
	"a12", "a1", "12", "ab", "a!", "café", "cafe", "é", "@x.io\n", "ada@x\xffio", "\xff@x.io", "ada@y.io",
}

// TestTailMatcherAgreesWithRegexp: wherever newTailMatcher applies, it
// decides every value as the regexp engine does.
func TestTailMatcherAgreesWithRegexp(t *testing.T) {
	for _, p := range tailPatterns {
		m := newTailMatcher(p.pattern)
		if (m != nil) != p.fast {
			t.Errorf("%q: fast form %v, want %v", p.pattern, m != nil, p.fast)
		}
		c, field, err := compileClause(Clause{Attribute: "userName", Operator: OpRegexMatch, Value: p.pattern})
		if err != nil {
			t.Fatalf("%q: %s: %v", p.pattern, field, err)
		}
		re := regexp.MustCompile(`^(?:` + p.pattern + `)$`)
		for _, v := range tailValues {
			if got, want := c.matchRegex(v), re.MatchString(v); got != want {
				t.Errorf("%q matching %q = %v, the regexp engine says %v", p.pattern, v, got, want)
			}
		}
	}
}

// FuzzTailMatcher compares the fast form with the regexp engine on
// patterns and values the fuzzer makes up; go test runs the seeds.
func FuzzTailMatcher(f *testing.F) {
	for _, p := range tailPatterns {
		for _, v := range tailValues[:8] {
			f.Add(p.pattern, v)
		}
	}
	f.Fuzz(func(t *testing.T, pattern, value string) {
		re, err := regexp.Compile(`^(?:` + pattern + `)$`)
		if err != nil {
			return
		}
		m := newTailMatcher(pattern)
		if m == nil {
			return
		}
		c := compiledClause{op: OpRegexMatch, re: re, tail: m}
		if got, want := c.matchRegex(value), re.MatchString(value); got != want {
			t.Errorf("%q matching %q = %v, the regexp engine says %v", pattern, value, got, want)
		}
	})
}
