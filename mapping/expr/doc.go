// Package expr implements the expression language of Microsoft Entra ID
// attribute mappings ("Mapping type: Expression"), for provsync's mapping
// layer. An expression is parsed once with Parse and evaluated many times
// with Eval or EvalWith against an Env such as *source.User.
//
// # Grammar
//
//	expression = operand [ compare operand ] .
//	operand    = call | attribute | string | number | constant .
//	call       = name "(" [ argument { "," argument } ] ")" .
//	argument   = [ expression ] .         // empty: omitted, evaluates to null
//	attribute  = "[" name-characters "]" . // any text but "]" and newline
//	string     = `"` { char | `\"` | `\\` | `""` } `"` .
//	number     = [ "-" ] digits [ "." digits ] | "&H" hex-digits .
//	constant   = "True" | "False" | "vbBinaryCompare" | "vbTextCompare" .
//	compare    = "=" | "<>" | "<" | "<=" | ">" | ">=" .
//
// There are no operators besides one comparison per argument (Entra's IIF
// condition, e.g. IIF([country]="USA", ...)); everything else is a call.
// White space, including newlines, may separate tokens. Function and
// constant names are matched ignoring case and printed as documented.
// Inside strings a backslash escapes '"' and '\'; any other backslash is
// kept as it is (so "\d" in a regular expression works either way).
// Parse also checks function names, argument counts, Replace's argument
// combinations, literal regular expressions, date formats and intervals,
// and that SelectUniqueValue is not nested.
//
// An Env hands attribute values over by name (Env.Attr). A caller that
// evaluates one expression for many users can resolve the names once
// instead, with Expr.Bind: each [name] then reads through an AttrFunc
// that returns a Value directly, so that reading a string allocates
// nothing.
//
// # Values
//
// A Value is null, a string, a boolean, a number (int64 or float64), a
// multi-valued list of strings, or a date-time in UTC. Absent attributes
// and omitted arguments are null. Functions that transform one string
// return null for null; text conversions render booleans as "True" and
// "False" and dates as "M/d/yyyy h:mm:ss tt". A multi-valued argument
// where one string is wanted is an error unless it has one value.
//
// # Functions
//
//	Append(source, suffix)                source followed by suffix
//	AppRoleAssignmentsComplex([roles])    the multi-valued role list as is
//	BitAnd(value1, value2)                bitwise AND of two integers
//	CBool(expression)                     boolean: non-zero numbers, "True"/"False"
//	CDate(expression)                     date-time (UTC) from an ISO 8601, US or AD string
//	Coalesce(source1, …, default)         first non-null, non-empty value, else the last
//	ConvertToBase64(source)               base64 of the UTF-16LE bytes
//	ConvertToUTF8Hex(source)              upper-case hex of the UTF-8 bytes
//	Count(attribute)                      number of values (0 for null)
//	CStr(value)                           text form of a value
//	DateAdd(interval, n, dateTime)        dateTime plus n intervals
//	DateDiff(interval, date1, date2)      interval boundaries from date1 to date2
//	DateFromNum(value)                    date-time from AD FILETIME (100 ns since 1601)
//	FormatDateTime(source, [styles], in, out)  re-format a date with .NET format strings
//	Guid()                                a new random UUID (see WithGUID, WithRand)
//	IgnoreFlowIfNullOrEmpty(expression)   the value; if null or empty, Value.Ignored
//	IIF(condition, ifTrue, ifFalse)       one of two values
//	InStr(value, find, [start], [compare]) 1-based position of find, 0 if absent
//	IsNull(expression)                    whether the value is null
//	IsNullOrEmpty(expression)             whether null, "" or an empty list
//	IsPresent(expression)                 not IsNullOrEmpty
//	IsString(expression)                  whether the value is a string
//	Item(attribute, index)                the index-th value (1-based), null if none
//	Join(separator, source1, …)           non-empty values (lists flattened) joined
//	Left(string, n)                       first n characters ("" for null, all if n<0)
//	Mid(source, start, length)            length characters from 1-based start
//	NormalizeDiacritics(source)           accented Latin letters to plain ones
//	Not(source)                           False if source is true, else True
//	Now()                                 current time, UTC (see WithClock)
//	NumFromDate(value)                    AD FILETIME of a date
//	PCase(source, [separators])           first letter of each word upper, rest lower
//	RandomString(len, digits, special, upper, lower, [avoid])  random password-like string
//	Redact(value)                         the value, marked Value.Redacted
//	RemoveDuplicates(attribute)           the values without repeats, in order
//	Replace(source, oldValue, regexPattern, regexGroupName,
//	        replacementValue, replacementAttributeName, template)
//	                                      literal, template or regular-expression replacement
//	SelectUniqueValue(rule1, rule2, …)    first candidate WithUnique accepts
//	SingleAppRoleAssignment([roles])      the only value; an error if several
//	Split(source, delimiter)              multi-valued list of the parts
//	StripSpaces(source)                   source without ' ' characters
//	Switch(source, default, key1, value1, …)  value of the key equal to source, else default
//	ToLower(source, [culture])            lower case (Turkish rules for tr and az)
//	ToUpper(source, [culture])            upper case (Turkish rules for tr and az)
//	Trim(source)                          without leading and trailing white space
//	Word(string, n, delimiters)           n-th word (1-based) split at any delimiter
//
// Intervals are "yyyy", "q", "m", "y" or "d" (day), "w" (7 days), "ww"
// (calendar week), "h", "n" (minute) and "s". FormatDateTime understands
// the .NET custom specifiers y, M, d, h, H, m, s, f, F, t, z, K and g,
// quoted text and backslash escapes; other characters are literal.
// Regular expressions use Go's RE2 syntax, which accepts the usual .NET
// forms including (?<name>...) but not lookaround or backreferences.
package expr
