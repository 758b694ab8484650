package expr

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		src, want string // want is the canonical String()
	}{
		{`[givenName]`, `[givenName]`},
		{`"x"`, `"x"`},
		{`Join(" ",[givenName],[surname])`, `Join(" ", [givenName], [surname])`},
		{`join(" ", [a])`, `Join(" ", [a])`},
		{`  Append ( [a] , "b" )  `, `Append([a], "b")`},
		{"Join(\",\",\n\t[a],\r\n\t[b])", `Join(",", [a], [b])`},
		{`ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [a], [b]))), "c.com"))`,
			`ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [a], [b]))), "c.com"))`},
		{`"Company name: \"Contoso\""`, `"Company name: \"Contoso\""`},
		{`"a\\b"`, `"a\\b"`},
		{`"a""b"`, `"a\"b"`},
		{`""`, `""`},
		{`"\d+"`, `"\\d+"`},
		{`Replace([mail], "@contoso.com", , ,"", ,)`, `Replace([mail], "@contoso.com", , , "", , )`},
		{`FormatDateTime([x], , "yyyy", "yyyy")`, `FormatDateTime([x], , "yyyy", "yyyy")`},
		{`Switch([Active], , "1", "a", "0", "b")`, `Switch([Active], , "1", "a", "0", "b")`},
		{`IIF([country]="USA",[country],[department])`, `IIF([country] = "USA", [country], [department])`},
		{`IIF([a]<>1,1,0)`, `IIF([a] <> 1, 1, 0)`},
		{`IIF([a]<=1,1,0)`, `IIF([a] <= 1, 1, 0)`},
		{`IIF([a]>=-1.5,1,0)`, `IIF([a] >= -1.5, 1, 0)`},
		{`IIF([a]<1,1,0)`, `IIF([a] < 1, 1, 0)`},
		{`IIF([a]>1,1,0)`, `IIF([a] > 1, 1, 0)`},
		{`BitAnd(&HF, &hf7)`, `BitAnd(15, 247)`},
		{`InStr("a", "b", 1, vbtextcompare)`, `InStr("a", "b", 1, vbTextCompare)`},
		{`IIF(true, 1, FALSE)`, `IIF(True, 1, False)`},
		{`Guid( )`, `Guid()`},
		{`Left("x", 007)`, `Left("x", 7)`},
		{`Left("x", 2.50)`, `Left("x", 2.5)`},
		{`Left("x", -0.0)`, `Left("x", 0)`},
		{`Left("x", 99999999999999999999)`, `Left("x", 100000000000000000000)`},
		{`[ spaced name ]`, `[spaced name]`},
		{`[extension_abc_employeeNumber]`, `[extension_abc_employeeNumber]`},
		{`"日本"`, `"日本"`},
	}
	for _, tt := range tests {
		e, err := Parse(tt.src)
		if err != nil {
			t.Errorf("Parse(%s): %v", tt.src, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%s).String() = %s, want %s", tt.src, got, tt.want)
		}
		if e.Source() != tt.src {
			t.Errorf("Source() = %q", e.Source())
		}
		again, err := Parse(e.String())
		if err != nil || again.String() != e.String() {
			t.Errorf("round trip of %s: %v, %v", e, again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src      string
		sentinel error
		want     string // the complete Error()
		pos      int
	}{
		{``, ErrSyntax, `expr: 1:1: empty expression`, 0},
		{`   `, ErrSyntax, `expr: 1:4: empty expression`, 3},
		{`Join(" ", [a]`, ErrSyntax, `expr: 1:14: expected ")" after arguments of Join, found end of input`, 13},
		{`Join(" ", [givenName] [surname])`, ErrSyntax, `expr: 1:23: expected ")" after arguments of Join, found '['`, 22},
		{`Join(" ", [a]))`, ErrSyntax, `expr: 1:15: unexpected ')' after the end of the expression`, 14},
		{`Join(" , [a])`, ErrSyntax, `expr: 1:6: unterminated string: no closing "`, 5},
		{`Join(" ", [a)`, ErrSyntax, `expr: 1:11: unterminated attribute: no closing ]`, 10},
		{"Join(\" \", [a\n])", ErrSyntax, `expr: 1:11: unterminated attribute: no closing ]`, 10},
		{`Join(" ", [])`, ErrSyntax, `expr: 1:11: empty attribute name`, 10},
		{`Join(" ", givenName)`, ErrSyntax, `expr: 1:11: unknown name "givenName": attributes are written [givenName], strings "givenName"`, 10},
		{`Join`, ErrSyntax, `expr: 1:5: expected "(" after Join, found end of input`, 4},
		{`Join(" ", @)`, ErrSyntax, `expr: 1:11: expected a function call, [attribute], "string" or number, found '@'`, 10},
		{`Join(" ", -)`, ErrSyntax, `expr: 1:11: expected a digit after -`, 10},
		{`Left("x", 1.)`, ErrSyntax, `expr: 1:13: expected a digit after the decimal point`, 12},
		{`BitAnd(&X1, 1)`, ErrSyntax, `expr: 1:8: expected a hexadecimal number like &HFF after &`, 7},
		{`BitAnd(&H, 1)`, ErrSyntax, `expr: 1:8: invalid hexadecimal number "&H"`, 7},
		{`IIF([a] = 1 = 2, 1, 0)`, ErrSyntax, `expr: 1:13: comparisons cannot be chained; nest them in IIF instead`, 12},
		{`IIF([a] = , 1, 0)`, ErrSyntax, `expr: 1:11: expected a function call, [attribute], "string" or number, found ','`, 10},
		{"Join(\" \",\n  Lfet([a], 1))", ErrUnknownFunction, `expr: 2:3: unknown function "Lfet"; did you mean Left?`, 12},
		{`NormaliseDiacritics([a])`, ErrUnknownFunction, `expr: 1:1: unknown function "NormaliseDiacritics"; did you mean NormalizeDiacritics?`, 0},
		{`Frobnicate([a])`, ErrUnknownFunction, `expr: 1:1: unknown function "Frobnicate"`, 0},
		{`Left([a])`, ErrArity, `expr: 1:1: Left takes 2 arguments, got 1`, 0},
		{`Join(" ", Trim([a], [b]))`, ErrArity, `expr: 1:11: Trim takes 1 argument, got 2`, 10},
		{`Join(" ")`, ErrArity, `expr: 1:1: Join takes at least 2 arguments, got 1`, 0},
		{`PCase()`, ErrArity, `expr: 1:1: PCase takes 1 to 2 arguments, got 0`, 0},
		{`Guid(1)`, ErrArity, `expr: 1:1: Guid takes 0 arguments, got 1`, 0},
		{`Switch([a], "d", "k")`, ErrArity, `expr: 1:1: Switch takes at least 4 arguments, got 3`, 0},
		{`Switch([a], "d", "k", "v", "k2")`, ErrArity, `expr: 1:1: Switch takes an even number of arguments (source, default, then key/value pairs), got 5`, 0},
		{`Replace([a], "x", , , , , )`, ErrArity, `expr: 1:1: Replace: oldValue needs replacementValue or template`, 0},
		{`Replace([a], "x", "y", , "z", , )`, ErrArity, `expr: 1:1: Replace: give either oldValue or regexPattern, not both`, 0},
		{`Replace([a], , "y", , , , )`, ErrArity, `expr: 1:1: Replace: regexPattern needs replacementValue, or regexGroupName with replacementValue or replacementAttributeName`, 0},
		{`Replace([a], , , , "z", , )`, ErrArity, `expr: 1:1: Replace: needs oldValue or regexPattern`, 0},
		{`Replace([a], , "(?=x)", , "z", , )`, ErrSyntax, "expr: 1:16: Replace: regexPattern \"(?=x)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=`", 15},
		{`Replace([a], , "(?<g>x)", "h", "z", , )`, ErrSyntax, `expr: 1:27: Replace: regexPattern has no group named "h"`, 26},
		{`DateAdd("days", 1, Now())`, ErrSyntax, `expr: 1:9: DateAdd: unknown interval "days" (want yyyy, q, m, y, d, w, ww, h, n or s)`, 8},
		{`FormatDateTime([a], , "yyyy'", "yyyy")`, ErrSyntax, `expr: 1:23: FormatDateTime: inputFormat: unterminated quoted text`, 22},
		{`FormatDateTime([a], , "yyyy", "%")`, ErrSyntax, `expr: 1:31: FormatDateTime: outputFormat: trailing %`, 30},
		{`FormatDateTime([a], , "yyyy", )`, ErrArity, `expr: 1:1: FormatDateTime: outputFormat is required`, 0},
		{`Join(",", SelectUniqueValue([a], [b]))`, ErrSyntax, `expr: 1:11: SelectUniqueValue must be the outermost function and cannot be nested`, 10},
		{`Left("x", 1` + strings.Repeat("0", 400) + `)`, ErrSyntax, `expr: 1:11: number 1` + strings.Repeat("0", 400) + ` out of range`, 10},
		{strings.Repeat("Trim(", 300) + `"x"` + strings.Repeat(")", 300), ErrSyntax, `expr: 1:1001: calls nested more than 200 deep`, 1000},
		{"Join(\"é\", \"ü\" \"x\")", ErrSyntax, `expr: 1:15: expected ")" after arguments of Join, found '"'`, 16},
	}
	for _, tt := range tests {
		_, err := Parse(tt.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error = %v, want *SyntaxError", tt.src, err)
			continue
		}
		if !errors.Is(err, tt.sentinel) {
			t.Errorf("Parse(%q) error %v does not wrap %v", tt.src, err, tt.sentinel)
		}
		if err.Error() != tt.want || se.Pos != tt.pos {
			t.Errorf("Parse(%q)\n got %s (pos %d)\nwant %s (pos %d)", tt.src, err, se.Pos, tt.want, tt.pos)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse of a bad expression did not panic")
		}
	}()
	MustParse(`Join(`)
}

// FuzzParse checks that Parse never panics, that whatever it accepts
// prints in a form it parses back to the same text, and that evaluating
// it does not panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`Join(" ", [givenName], [surname])`,
		`Switch([department], "Other", "Sales", "S1", "IT", "S2")`,
		`Replace([mail], "@contoso.com", , ,"", ,)`,
		`Replace([p], , "\\+(?<isd>\\d* )(?<n>\\d{10})", "n", , [m], )`,
		`IIF([country]="USA",[country],[department])`,
		`FormatDateTime([x], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`,
		`BitAnd(&HF, -2.5)`,
		`"a\"b\\c""d"`,
		`InStr("repEated","e",3,vbBinaryCompare)`,
		`SelectUniqueValue(Join(".", Mid([a], 1, 1), [b]), [c])`,
		`DateDiff("ww", Now(), CDate([hire]))`,
		`Word("This,string!has&many separators",3,",!&#")`,
		`FormatDateTime("20150123105347.1Z", , "yyyyMMddHHmmss.fZ", "dddd MMM yy h tt zzz K g FFF")`,
		`DateAdd("m", 99999999999999, Now())`,
		`DateFromNum(2650467743999999999)`,
		`Mid("abc", 9223372036854775807, 9223372036854775807)`,
		`RandomString(256, 64, 64, 64, 64, "abc")`,
	} {
		f.Add(s)
	}
	env := testEnv()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(src) {
				t.Fatalf("Parse(%q): bad error %v", src, err)
			}
			return
		}
		s := e.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", src, s, err)
		}
		if again.String() != s {
			t.Fatalf("round trip of %q: %q then %q", src, s, again.String())
		}
		// Evaluation must not panic; errors are fine.
		_, _ = e.EvalWith(env, testOptions()...)
	})
}
