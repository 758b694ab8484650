package expr

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// mapEnv is an Env over a map.
type mapEnv map[string]any

func (m mapEnv) Attr(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

var testNow = time.Date(2021, 8, 25, 17, 41, 18, 0, time.UTC)

func testEnv() mapEnv {
	return mapEnv{
		"givenName":   "Jöhn",
		"surname":     "Müller",
		"department":  "Sales",
		"upn":         "John.Doe@contoso.com",
		"empty":       "",
		"roles":       []string{"b", "a", "b", "c", "a"},
		"oneRole":     []string{"admin"},
		"noRoles":     []string{},
		"count":       int64(42),
		"ratio":       1.5,
		"active":      true,
		"hired":       time.Date(2012, 3, 16, 7, 0, 0, 0, time.UTC),
		"phone":       "+91 9998887777",
		"mobile":      "+1 (999) 888-7777",
		"adDate":      "20150123105347.1Z",
		"ticks":       "129699324000000000",
		"numText":     "7",
		"bad":         struct{}{},
		"prefix":      "3444",
		"csv":         "a,b,,c",
		"title":       "Product Developer",
		"statusFlag":  "TRUE",
		"lastLogon":   int64(129699324000000000),
		"mixedCase":   "ÀÉÎ Õü",
		"hireDateStr": "2012-03-16-07:00",
	}
}

// show renders a value as kind:text for comparison.
func show(v Value) string {
	s := v.Kind().String() + ":" + v.String()
	if v.Ignored() {
		s += " (ignored)"
	}
	if v.Redacted() {
		s += " (redacted)"
	}
	return s
}

func testOptions() []EvalOption {
	return []EvalOption{
		WithClock(func() time.Time { return testNow }),
		WithGUID(func() string { return "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" }),
		WithRand(rand.New(rand.NewPCG(1, 2))),
	}
}

// TestEval covers every function: normal, null and error inputs.
func TestEval(t *testing.T) {
	tests := []struct {
		src  string
		want string // show(value), or the error text's distinctive part
		err  bool   // want an ErrEval error containing want
	}{
		// Attributes and literals.
		{`[givenName]`, "string:Jöhn", false},
		{`[missing]`, "null:", false},
		{`[count]`, "number:42", false},
		{`[ratio]`, "number:1.5", false},
		{`[active]`, "bool:True", false},
		{`[hired]`, "datetime:3/16/2012 7:00:00 AM", false},
		{`[roles]`, "multi-valued:b,a,b,c,a", false},
		{`[bad]`, "unsupported attribute value type struct {}", true},
		{`"a\"b\\c"`, `string:a"b\c`, false},
		{`&HFF`, "number:255", false},
		{`-2.5`, "number:-2.5", false},
		{`True`, "bool:True", false},

		// Append
		{`Append([upn], ".test")`, "string:John.Doe@contoso.com.test", false},
		{`Append([missing], ".test")`, "null:", false},
		{`Append([roles], "x")`, "argument 1 is multi-valued", true},
		{`Append([oneRole], "x")`, "string:adminx", false},

		// AppRoleAssignmentsComplex
		{`AppRoleAssignmentsComplex([roles])`, "multi-valued:b,a,b,c,a", false},
		{`AppRoleAssignmentsComplex([missing])`, "null:", false},
		{`AppRoleAssignmentsComplex([upn])`, "multi-valued:John.Doe@contoso.com", false},
		{`AppRoleAssignmentsComplex([count])`, "expects the multi-valued", true},

		// BitAnd
		{`BitAnd(&HF, &HF7)`, "number:7", false},
		{`BitAnd([count], "10")`, "number:10", false},
		{`BitAnd([missing], 1)`, "null:", false},
		{`BitAnd("banana", 1)`, `argument 1: "banana" is not an integer`, true},

		// CBool
		{`CBool(1)`, "bool:True", false},
		{`CBool(0)`, "bool:False", false},
		{`CBool("true")`, "bool:True", false},
		{`CBool([statusFlag])`, "bool:True", false},
		{`CBool([givenName] = [givenName])`, "bool:True", false},
		{`CBool([missing])`, "bool:False", false},
		{`CBool("banana")`, `CBool: argument 1: cannot convert "banana" to a boolean`, true},

		// CDate
		{`CDate([hireDateStr])`, "datetime:3/16/2012 7:00:00 AM", false},
		{`CDate("2021-06-30+08:00")`, "datetime:6/29/2021 4:00:00 PM", false},
		{`CDate("2009-06-15T01:45:30-07:00")`, "datetime:6/15/2009 8:45:30 AM", false},
		{`CDate("8/25/2021 5:41:18 PM")`, "datetime:8/25/2021 5:41:18 PM", false},
		{`CDate([hired])`, "datetime:3/16/2012 7:00:00 AM", false},
		{`CDate([missing])`, "null:", false},
		{`CDate("banana")`, `cannot convert "banana" to a date`, true},

		// Coalesce
		{`Coalesce([missing], [upn])`, "string:John.Doe@contoso.com", false},
		{`Coalesce([missing], [empty], "default")`, "string:default", false},
		{`Coalesce([missing], "")`, "string:", false},
		{`Coalesce([missing], [missing])`, "null:", false},
		{`Coalesce([noRoles], [roles])`, "multi-valued:b,a,b,c,a", false},
		{`Coalesce([missing], CBool("x"))`, "cannot convert", true},

		// ConvertToBase64, ConvertToUTF8Hex
		{`ConvertToBase64("Hello world!")`, "string:SABlAGwAbABvACAAdwBvAHIAbABkACEA", false},
		{`ConvertToBase64([missing])`, "null:", false},
		{`ConvertToBase64([roles])`, "multi-valued", true},
		{`ConvertToUTF8Hex("Hello world!")`, "string:48656C6C6F20776F726C6421", false},
		{`ConvertToUTF8Hex("é")`, "string:C3A9", false},
		{`ConvertToUTF8Hex([missing])`, "null:", false},
		{`ConvertToUTF8Hex([roles])`, "multi-valued", true},

		// Count
		{`Count([roles])`, "number:5", false},
		{`Count([missing])`, "number:0", false},
		{`Count([upn])`, "number:1", false},
		{`Count(CBool("x"))`, "cannot convert", true},

		// CStr
		{`CStr([count])`, "string:42", false},
		{`CStr([active])`, "string:True", false},
		{`CStr([hired])`, "string:3/16/2012 7:00:00 AM", false},
		{`CStr([missing])`, "null:", false},
		{`CStr([roles])`, "multi-valued", true},

		// DateAdd (Microsoft's examples)
		{`DateAdd("d", 7, CDate([hireDateStr]))`, "datetime:3/23/2012 7:00:00 AM", false},
		{`DateAdd("d", -10, CDate([hireDateStr]))`, "datetime:3/6/2012 7:00:00 AM", false},
		{`DateAdd("ww", 2, [hireDateStr])`, "datetime:3/30/2012 7:00:00 AM", false},
		{`DateAdd("m", 10, [hired])`, "datetime:1/16/2013 7:00:00 AM", false},
		{`DateAdd("yyyy", 2, [hired])`, "datetime:3/16/2014 7:00:00 AM", false},
		{`DateAdd("m", 1, "2021-01-31")`, "datetime:2/28/2021 12:00:00 AM", false},
		{`DateAdd("h", 1, [hired])`, "datetime:3/16/2012 8:00:00 AM", false},
		{`DateAdd("n", 90, [hired])`, "datetime:3/16/2012 8:30:00 AM", false},
		{`DateAdd("s", 5, [hired])`, "datetime:3/16/2012 7:00:05 AM", false},
		{`DateAdd("d", 1, [missing])`, "null:", false},
		{`DateAdd([department], 1, [hired])`, `unknown interval "Sales"`, true},
		{`DateAdd("d", "x", [hired])`, "not an integer", true},
		{`DateAdd("d", 1, "banana")`, "cannot convert", true},

		// DateDiff (Microsoft's examples)
		{`DateDiff("d", CDate("2021-08-18+08:00"), CDate("2021-08-31+08:00"))`, "number:13", false},
		{`DateDiff("d", Now(), CDate([hireDateStr]))`, "number:-3449", false},
		{`DateDiff("ww", Now(), CDate([hireDateStr]))`, "number:-493", false},
		{`DateDiff("m", Now(), CDate([hireDateStr]))`, "number:-113", false},
		{`DateDiff("yyyy", Now(), CDate([hireDateStr]))`, "number:-9", false},
		{`DateDiff("d", "2021-08-31+08:00", "2021-08-31+08:00")`, "number:0", false},
		{`DateDiff("h", "2021-08-24", "2021-08-25")`, "number:24", false},
		{`DateDiff("n", "2021-08-24", "2021-08-25")`, "number:1440", false},
		{`DateDiff("s", "2021-08-24", "2021-08-25")`, "number:86400", false},
		{`DateDiff("yyyy", "2020-12-31", "2021-01-01")`, "number:1", false},
		{`DateDiff("q", "2021-03-31", "2021-04-01")`, "number:1", false},
		{`DateDiff("w", "2021-08-01", "2021-08-15")`, "number:2", false},
		{`DateDiff("d", [missing], Now())`, "null:", false},
		{`DateDiff("d", "x", Now())`, "cannot convert", true},

		// DateFromNum, NumFromDate
		{`DateFromNum(129699324000000000)`, "datetime:1/1/2012 11:00:00 PM", false},
		{`DateFromNum([ticks])`, "datetime:1/1/2012 11:00:00 PM", false},
		{`DateFromNum([lastLogon])`, "datetime:1/1/2012 11:00:00 PM", false},
		{`DateFromNum([missing])`, "null:", false},
		{`DateFromNum("banana")`, "DateFromNum: argument 1: \"banana\" is not an integer", true},
		{`DateFromNum(-1)`, "outside the range", true},
		{`NumFromDate("2012-01-01 23:00:00Z")`, "number:129699324000000000", false},
		{`NumFromDate(Join("", FormatDateTime("2020-12-31-08:00", , "yyyy-MM-ddzzz", "yyyy-MM-dd"), " 23:59:59-08:00"))`, "number:132539615990000000", false},
		{`NumFromDate(DateFromNum(129699324000000000))`, "number:129699324000000000", false},
		{`NumFromDate([missing])`, "null:", false},
		{`NumFromDate("1500-01-01")`, "outside the range", true},
		{`NumFromDate("banana")`, "cannot convert", true},

		// FormatDateTime
		{`FormatDateTime([adDate], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")`, "string:2015-01-23", false},
		{`FormatDateTime([adDate], "yyyyMMddHHmmss.fZ", "dddd, MMMM d, yyyy h:mm:ss.ff tt")`, "string:Friday, January 23, 2015 10:53:47.10 AM", false},
		{`FormatDateTime("3/5/2021 01:02:03 PM", , "M/d/yyyy hh:mm:ss tt", "yyyy-MM-ddTHH:mm:ssK")`, "string:2021-03-05T13:02:03Z", false},
		{`FormatDateTime("05-Mar-21", , "dd-MMM-yy", "yyyyMMdd")`, "string:20210305", false},
		{`FormatDateTime([hired], , , "yyyy-MM-dd'T'HH:mm:ss.FFFzzz")`, "string:2012-03-16T07:00:00+00:00", false},
		{`FormatDateTime("2012-03-16", , , "%d")`, "string:16", false},
		{`FormatDateTime([missing], , "yyyy", "yyyy")`, "null:", false},
		{`FormatDateTime("2015-13-01", , "yyyy-MM-dd", "yyyy")`, "cannot read", true},
		{`FormatDateTime("2015", , [department], "yyyy")`, "cannot read", true},

		// Guid
		{`Guid()`, "string:00aa00aa-bb11-cc22-dd33-44ee44ee44ee", false},

		// IgnoreFlowIfNullOrEmpty
		{`IgnoreFlowIfNullOrEmpty([department])`, "string:Sales", false},
		{`IgnoreFlowIfNullOrEmpty([missing])`, "null: (ignored)", false},
		{`IgnoreFlowIfNullOrEmpty(Switch([prefix], "", "3443", "Dr.", "3444", "Prof."))`, "string:Prof.", false},
		{`IgnoreFlowIfNullOrEmpty(Switch([department], "", "3443", "Dr."))`, "null: (ignored)", false},
		{`IgnoreFlowIfNullOrEmpty(CBool("x"))`, "cannot convert", true},

		// IIF and comparisons
		{`IIF([department]="Sales", "yes", "no")`, "string:yes", false},
		{`IIF([department]<>"Sales", "yes", "no")`, "string:no", false},
		{`IIF([count] > 5, "big", "small")`, "string:big", false},
		{`IIF([numText] >= 10, "big", "small")`, "string:small", false},
		{`IIF(DateDiff("d", Now(), CDate("2021-08-28")) > 2, "soon", "later")`, "string:soon", false},
		{`IIF([hired] < Now(), "past", "future")`, "string:past", false},
		{`IIF([active] = "True", 1, 0)`, "number:1", false},
		{`IIF([missing], "yes", "no")`, "string:no", false},
		{`IIF([givenName], "yes", "no")`, `cannot convert "Jöhn" to a boolean`, true},

		// InStr
		{`InStr("The quick brown fox", "quick")`, "number:5", false},
		{`InStr("repEated", "e", 3, vbBinaryCompare)`, "number:7", false},
		{`InStr("repEated", "e", 3, vbTextCompare)`, "number:4", false},
		{`InStr("Jöhn", "h")`, "number:3", false},
		{`InStr("abc", "x")`, "number:0", false},
		{`InStr([missing], "x")`, "number:0", false},
		{`InStr("abc", "a", 0)`, "start 0 must be 1 or more", true},
		{`InStr("abc", "a", 1, 7)`, "compareType", true},

		// IsNull, IsNullOrEmpty, IsPresent, IsString
		{`IsNull([missing])`, "bool:True", false},
		{`IsNull([empty])`, "bool:False", false},
		{`IsNullOrEmpty([empty])`, "bool:True", false},
		{`IsNullOrEmpty([noRoles])`, "bool:True", false},
		{`IsNullOrEmpty([upn])`, "bool:False", false},
		{`IsPresent([upn])`, "bool:True", false},
		{`IsPresent([missing])`, "bool:False", false},
		{`IsString([upn])`, "bool:True", false},
		{`IsString([count])`, "bool:False", false},
		{`IsString([missing])`, "bool:False", false},
		{`IsNull(CBool("x"))`, "cannot convert", true},

		// Item
		{`Item([roles], 1)`, "string:b", false},
		{`Item([roles], 5)`, "string:a", false},
		{`Item([roles], 6)`, "null:", false},
		{`Item([roles], 0)`, "null:", false},
		{`Item([upn], 1)`, "string:John.Doe@contoso.com", false},
		{`Item([missing], 1)`, "null:", false},
		{`Item([roles], "x")`, "not an integer", true},

		// Join
		{`Join(" ", [givenName], [surname])`, "string:Jöhn Müller", false},
		{`Join(", ", "", [surname], [givenName])`, "string:Müller, Jöhn", false},
		{`Join(",", [roles], "z")`, "string:b,a,b,c,a,z", false},
		{`Join("", 1000, [count])`, "string:100042", false},
		{`Join("-", [missing], [empty])`, "string:", false},
		{`Join("-", [upn])`, "string:John.Doe@contoso.com", false},
		{`Join([roles], "a", "b")`, "multi-valued", true},

		// Left
		{`Left("John Doe", 3)`, "string:Joh", false},
		{`Left([givenName], 2)`, "string:Jö", false},
		{`Left("John", 0)`, "string:", false},
		{`Left("John", -1)`, "string:John", false},
		{`Left("John", 10)`, "string:John", false},
		{`Left([missing], 3)`, "string:", false},
		{`Left("John", "x")`, "not an integer", true},

		// Mid
		{`Mid("John Doe", 1, 3)`, "string:Joh", false},
		{`Mid("John Doe", 6, 10)`, "string:Doe", false},
		{`Mid([surname], 2, 1)`, "string:ü", false},
		{`Mid("John", 9, 1)`, "string:", false},
		{`Mid([missing], 1, 1)`, "null:", false},
		{`Mid("John", 0, 1)`, "start must be 1 or more", true},
		{`Mid("John", 1, -1)`, "length must be 0 or more", true},

		// NormalizeDiacritics
		{`NormalizeDiacritics("Zoë")`, "string:Zoe", false},
		{`NormalizeDiacritics("Łukasz Żółć Ærøskøbing Straße Ș")`, "string:Lukasz Zolc AEroeskoebing Strasse S", false},
		{`NormalizeDiacritics("Ā́ ḗ ȫ")`, "string:A e o", false},
		{`NormalizeDiacritics("日本 Smith")`, "string:日本 Smith", false},
		{`NormalizeDiacritics([missing])`, "null:", false},
		{`NormalizeDiacritics([roles])`, "multi-valued", true},

		// Not
		{`Not("True")`, "bool:False", false},
		{`Not("False")`, "bool:True", false},
		{`Not([active])`, "bool:False", false},
		{`Not([missing])`, "bool:True", false},
		{`Not(CBool("x"))`, "cannot convert", true},

		// Now
		{`Now()`, "datetime:8/25/2021 5:41:18 PM", false},

		// PCase
		{`PCase("PABLO GONSALVES (SECOND)")`, "string:Pablo Gonsalves (Second)", false},
		{`PCase("PINTO-DE'SILVA", " '-")`, "string:Pinto-De'Silva", false},
		{`PCase("o'neil mc-donald", " ")`, "string:O'neil Mc-donald", false},
		{`PCase(Join(" ", "GREGORY", "JAMES"))`, "string:Gregory James", false},
		{`PCase([missing])`, "null:", false},
		{`PCase([roles])`, "multi-valued", true},

		// Redact
		{`Redact([upn])`, "string:John.Doe@contoso.com (redacted)", false},
		{`Join("@", Redact("x"), "y")`, "string:x@y (redacted)", false},
		{`Redact([missing])`, "null: (redacted)", false},
		{`Redact(CBool("x"))`, "cannot convert", true},

		// RemoveDuplicates
		{`RemoveDuplicates([roles])`, "multi-valued:b,a,c", false},
		{`RemoveDuplicates([oneRole])`, "multi-valued:admin", false},
		{`RemoveDuplicates([missing])`, "null:", false},
		{`RemoveDuplicates(CBool("x"))`, "cannot convert", true},

		// Replace (Microsoft's examples)
		{`Replace([title], "Product Developer", , , "Software Engineer", , )`, "string:Software Engineer", false},
		{`Replace("jsmith", "<username>", , , , , "<username>@contoso.com")`, "string:jsmith@contoso.com", false},
		{`Replace([phone], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", , "${phoneNumber}", , )`, "string:9998887777", false},
		{`Replace([mobile], , "[()\\s-]+", , "", , )`, "string:+19998887777", false},
		{`Replace("545 Tremont Street", , "(?<streetNumber>^\\d*)", "streetNumber", "888", , )`, "string:888 Tremont Street", false},
		{`Replace([upn], , "(?<Suffix>@(.)*)", "Suffix", "", , )`, "string:John.Doe", false},
		{`Replace([empty], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber", , [phone], )`, "string:9998887777", false},
		{`Replace([upn], , "\\+(?<isdCode>\\d* )(?<phoneNumber>\\d{10})", "phoneNumber", , [phone], )`, "string:John.Doe@contoso.com", false},
		{`Replace("john_doe72", , "[a-zA-Z_]*", , "", , )`, "string:72", false},
		{`Replace([upn], "@contoso.com", , , "", , )`, "string:John.Doe", false},
		{`Replace([upn], "@contoso.com", , , "")`, "string:John.Doe", false},
		{`Replace([missing], "a", , , "b", , )`, "null:", false},
		{`Replace([missing], , "a", , "b", , )`, "null:", false},
		{`Replace([upn], , [department], , "x", , )`, "string:John.Doe@contoso.com", false},
		{`Replace([upn], , Join("", "("), , "x", , )`, "Replace: bad pattern", true},
		{`Replace([upn], , "(?<a>x)", [department], "y", , )`, `no group named "Sales"`, true},

		// SelectUniqueValue: see TestSelectUniqueValue.
		{`SelectUniqueValue([missing], Join(".", [givenName], [surname]))`, "string:Jöhn.Müller", false},
		{`SelectUniqueValue([missing], [empty])`, "no candidate value is unique", true},

		// SingleAppRoleAssignment
		{`SingleAppRoleAssignment([oneRole])`, "string:admin", false},
		{`SingleAppRoleAssignment([noRoles])`, "null:", false},
		{`SingleAppRoleAssignment([missing])`, "null:", false},
		{`SingleAppRoleAssignment([roles])`, "has 5 app role assignments", true},

		// Split
		{`Split([csv], ",")`, "multi-valued:a,b,,c", false},
		{`Count(Split("PermissionSetOne, PermissionSetTwo", ","))`, "number:2", false},
		{`Split("abc", "")`, "multi-valued:abc", false},
		{`Split([missing], ",")`, "null:", false},
		{`Split([roles], ",")`, "multi-valued", true},

		// StripSpaces
		{`StripSpaces(" a b  c ")`, "string:abc", false},
		{`StripSpaces([missing])`, "null:", false},
		{`StripSpaces([roles])`, "multi-valued", true},

		// Switch
		{`Switch([department], "Other", "Sales", "S1", "IT", "S2")`, "string:S1", false},
		{`Switch("HR", "Other", "Sales", "S1", "IT", "S2")`, "string:Other", false},
		{`Switch("HR", , "Sales", "S1")`, "null:", false},
		{`Switch([missing], "Default Value", "true", "1", "", "0")`, "string:0", false},
		{`Switch(ToLower([statusFlag]), "0", "true", "1", "false", "0")`, "string:1", false},
		{`Switch([department], "x", "sales", "lower")`, "string:x", false},
		{`Switch([roles], "x", "a", "b")`, "multi-valued", true},
		{`Switch("a", "x", "a", CBool("z"))`, "cannot convert", true},
		{`Switch("b", "x", "a", CBool("z"))`, "string:x", false},

		// ToLower, ToUpper
		{`ToLower("JOHN Müller")`, "string:john müller", false},
		{`ToLower("TITLE", "tr-TR")`, "string:tıtle", false},
		{`ToUpper("john")`, "string:JOHN", false},
		{`ToUpper("istanbul", "tr")`, "string:İSTANBUL", false},
		{`ToUpper([missing])`, "null:", false},
		{`ToLower([roles])`, "multi-valued", true},

		// Trim
		{"Trim(\"  a b \t\")", "string:a b", false},
		{`Trim([missing])`, "null:", false},
		{`Trim([roles])`, "multi-valued", true},

		// Word
		{`Word("The quick brown fox", 3, " ")`, "string:brown", false},
		{`Word("This,string!has&many separators", 3, ",!&#")`, "string:has", false},
		{`Word("This,string!has&many separators", 4, ",!&#")`, "string:many separators", false},
		{`Word("a,,b", 2, ",")`, "string:b", false},
		{`Word("a b", 3, " ")`, "string:", false},
		{`Word("a b", 0, " ")`, "string:", false},
		{`Word([missing], 1, " ")`, "string:", false},
		{`Word("a b", "x", " ")`, "not an integer", true},

		// Typical mappings.
		{`Join("", Left(ToLower([givenName]),1), ToLower(NormalizeDiacritics([surname])))`, "string:jmuller", false},
		{`ToLower(Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com"))`, "string:john.muller@contoso.com", false},
		{`Append(Mid([givenName], 1, 3), Mid([surname], 1, 5))`, "string:JöhMülle", false},
	}
	// Every case runs twice: as parsed, and bound to readers that return
	// what FromAny makes of Attr, which must not change any result.
	reads := 0
	viaAttr := func(name string) AttrFunc {
		return func(env Env) (Value, error) {
			reads++
			a, ok := env.Attr(name)
			if !ok {
				return Null(), nil
			}
			return FromAny(a)
		}
	}
	for _, bound := range []bool{false, true} {
		for _, tt := range tests {
			e, err := Parse(tt.src)
			if err != nil {
				t.Errorf("Parse(%s): %v", tt.src, err)
				continue
			}
			if bound {
				e = e.Bind(viaAttr)
				tt.src += " (bound)"
			}
			evalCase(t, e, tt.src, tt.want, tt.err)
		}
	}
	if reads == 0 {
		t.Error("no bound expression read an attribute through its AttrFunc")
	}
}

// recordingEnv is testEnv, recording the names read.
type recordingEnv struct {
	mapEnv
	read []string
}

func (r *recordingEnv) Attr(name string) (any, bool) {
	r.read = append(r.read, name)
	return r.mapEnv.Attr(name)
}

// evalCase evaluates e against testEnv and checks the result: want is
// show(value), or with isErr the error text's distinctive part. Every
// attribute the evaluation reads must be one e.Attributes lists, which
// a mapping relies on to read only those from its source.
func evalCase(t *testing.T, e *Expr, src, want string, isErr bool) {
	t.Helper()
	env := &recordingEnv{mapEnv: testEnv()}
	v, err := e.EvalWith(env, testOptions()...)
	for _, name := range env.read {
		if !slices.Contains(e.Attributes(), name) {
			t.Errorf("%s read attribute %q, which Attributes() = %q does not list", src, name, e.Attributes())
		}
	}
	switch {
	case isErr:
		if err == nil {
			t.Errorf("%s = %s, want error containing %q", src, show(v), want)
			return
		}
		if !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q, want ErrEval containing %q", src, err, want)
		}
		var ee *EvalError
		if !errors.As(err, &ee) || ee.Line != 1 || ee.Col < 1 {
			t.Errorf("%s: error %#v has no position", src, err)
		}
	case err != nil:
		t.Errorf("%s: %v", src, err)
	case show(v) != want:
		t.Errorf("%s = %s, want %s", src, show(v), want)
	}
}

func TestEvalErrorPosition(t *testing.T) {
	e := MustParse(`Join(" ", [givenName],
  CBool("banana"))`)
	_, err := e.Eval(testEnv())
	var ee *EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("err = %v, want *EvalError", err)
	}
	if ee.Func != "CBool" || ee.Pos != 25 || ee.Line != 2 || ee.Col != 3 {
		t.Errorf("got Func %q at %d (%d:%d), want CBool at 25 (2:3)", ee.Func, ee.Pos, ee.Line, ee.Col)
	}
	if want := `expr: 2:3: CBool: argument 1: cannot convert "banana" to a boolean`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestSelectUniqueValue(t *testing.T) {
	e := MustParse(`SelectUniqueValue(
		Join("@", NormalizeDiacritics(StripSpaces(Join(".", [givenName], [surname]))), "contoso.com"),
		Join("@", NormalizeDiacritics(StripSpaces(Join(".", Mid([givenName], 1, 1), [surname]))), "contoso.com"),
		Join("@", NormalizeDiacritics(StripSpaces(Join(".", Mid([givenName], 1, 2), [surname]))), "contoso.com"))`)
	taken := map[string]bool{}
	var got []string
	for range 3 {
		v, err := e.EvalWith(testEnv(), WithUnique(func(s string) bool { return !taken[s] }))
		if err != nil {
			t.Fatal(err)
		}
		taken[v.String()] = true
		got = append(got, v.String())
	}
	want := "John.Muller@contoso.com J.Muller@contoso.com Jo.Muller@contoso.com"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	_, err := e.EvalWith(testEnv(), WithUnique(func(s string) bool { return !taken[s] }))
	if !errors.Is(err, ErrNoUniqueValue) || !errors.Is(err, ErrEval) {
		t.Errorf("all taken: err = %v, want ErrNoUniqueValue and ErrEval", err)
	}
}

func TestRandomString(t *testing.T) {
	e := MustParse(`RandomString(10, 2, 2, 2, 1, "?,")`)
	for seed := range uint64(50) {
		v, err := e.EvalWith(nil, WithRand(rand.New(rand.NewPCG(seed, 1))))
		if err != nil {
			t.Fatal(err)
		}
		s := v.String()
		var digits, special, upper, lower int
		for _, r := range s {
			switch {
			case strings.ContainsRune(randDigits, r):
				digits++
			case strings.ContainsRune(randUpper, r):
				upper++
			case strings.ContainsRune(randLower, r):
				lower++
			default:
				special++
			}
		}
		if len(s) != 10 || digits < 2 || special < 2 || upper < 2 || lower < 1 || strings.ContainsAny(s, "?,") {
			t.Fatalf("RandomString = %q: does not meet the rules", s)
		}
	}
	a, _ := e.EvalWith(nil, WithRand(rand.New(rand.NewPCG(7, 7))))
	b, _ := e.EvalWith(nil, WithRand(rand.New(rand.NewPCG(7, 7))))
	if a.String() != b.String() {
		t.Errorf("same seed, different strings: %q %q", a, b)
	}
	if v, err := MustParse(`RandomString(6, 3, 0, 0, 3)`).Eval(nil); err != nil || len(v.String()) != 6 {
		t.Errorf("default generator: %q, %v", v, err)
	}
	for _, src := range []string{
		`RandomString(3, 2, 2, 0, 0)`,
		`RandomString(300, 0, 0, 0, 0)`,
		`RandomString(4, 1, 0, 0, 0, "0123456789")`,
		`RandomString(-1, 0, 0, 0, 0)`,
		`RandomString("x", 0, 0, 0, 0)`,
	} {
		if _, err := MustParse(src).Eval(nil); !errors.Is(err, ErrEval) {
			t.Errorf("%s: err = %v, want ErrEval", src, err)
		}
	}
}

func TestGuidDefault(t *testing.T) {
	e := MustParse(`Guid()`)
	a, err := e.Eval(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := e.Eval(nil)
	s := a.String()
	if len(s) != 36 || s[14] != '4' || s[8] != '-' || a.String() == b.String() {
		t.Errorf("Guid() = %q, %q: want two different version 4 UUIDs", a, b)
	}
	c, _ := e.EvalWith(nil, WithRand(rand.New(rand.NewPCG(1, 1))))
	d, _ := e.EvalWith(nil, WithRand(rand.New(rand.NewPCG(1, 1))))
	if c.String() != d.String() {
		t.Errorf("seeded Guid differs: %q %q", c, d)
	}
}

func TestNowDefault(t *testing.T) {
	// Without WithClock, Now() is the time of the call: between the reads
	// of the clock around it.
	before := time.Now()
	v, err := MustParse(`Now()`).Eval(nil)
	after := time.Now()
	tm, ok := v.TimeValue()
	if err != nil || !ok || tm.Before(before) || tm.After(after) {
		t.Errorf("Now() = %v, %v; want between %v and %v", v, err, before, after)
	}
}

func TestValueAccessors(t *testing.T) {
	tm := time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tests := []struct {
		v    Value
		kind Kind
		any  any
	}{
		{Null(), KindNull, nil},
		{String("a"), KindString, "a"},
		{Bool(true), KindBool, true},
		{Int(3), KindNumber, int64(3)},
		{Float(2.5), KindNumber, 2.5},
		{Time(tm), KindTime, tm.UTC()},
	}
	for _, tt := range tests {
		if tt.v.Kind() != tt.kind || tt.v.Any() != tt.any {
			t.Errorf("%#v: kind %v any %v, want %v %v", tt.v, tt.v.Kind(), tt.v.Any(), tt.kind, tt.any)
		}
	}
	if l, ok := List([]string{"a"}).ListValue(); !ok || len(l) != 1 {
		t.Error("ListValue")
	}
	if i, ok := Float(4).IntValue(); !ok || i != 4 {
		t.Error("IntValue of 4.0")
	}
	if _, ok := Float(4.5).IntValue(); ok {
		t.Error("IntValue of 4.5")
	}
	if f, ok := Int(4).FloatValue(); !ok || f != 4 {
		t.Error("FloatValue")
	}
	if s, ok := String("x").Str(); !ok || s != "x" {
		t.Error("Str")
	}
	if b, ok := Bool(false).BoolValue(); !ok || b {
		t.Error("BoolValue")
	}
	if _, err := FromAny(struct{}{}); err == nil {
		t.Error("FromAny(struct{}{}) succeeded")
	}
	if v, err := FromAny(3); err != nil || v.String() != "3" {
		t.Error("FromAny(3)")
	}
}

func TestAttributes(t *testing.T) {
	e := MustParse(`Replace([telephoneNumber], , "(?<p>\\d+)", "p", , [mobile], ) = Join(",", [mobile], [ mail ])`)
	got := strings.Join(e.Attributes(), " ")
	if got != "telephoneNumber mobile mail" {
		t.Errorf("Attributes() = %q", got)
	}
}
