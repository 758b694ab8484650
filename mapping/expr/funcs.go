package expr

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// funcDef describes one function of the language.
type funcDef struct {
	name     string // as documented
	min, max int    // argument count; max < 0: no upper bound
	even     bool   // the argument count must be even (Switch)
	topLevel bool   // must not be nested (SelectUniqueValue)
	eval     func(c *evalCtx, n *node) (Value, error)
	// check validates a call at parse time and may set n.aux; it returns
	// the position, message and sentinel of a mistake, or msg "".
	check func(n *node) (pos int, msg string, sentinel error)
}

// functions are the language's functions by lower-case name. The table
// is never modified.
var functions = map[string]*funcDef{
	"append":                    {name: "Append", min: 2, max: 2, eval: fnAppend},
	"approleassignmentscomplex": {name: "AppRoleAssignmentsComplex", min: 1, max: 1, eval: fnAppRoleAssignmentsComplex},
	"bitand":                    {name: "BitAnd", min: 2, max: 2, eval: fnBitAnd},
	"cbool":                     {name: "CBool", min: 1, max: 1, eval: fnCBool},
	"cdate":                     {name: "CDate", min: 1, max: 1, eval: fnCDate},
	"coalesce":                  {name: "Coalesce", min: 1, max: -1, eval: fnCoalesce},
	"converttobase64":           {name: "ConvertToBase64", min: 1, max: 1, eval: stringFunc(toBase64UTF16)},
	"converttoutf8hex":          {name: "ConvertToUTF8Hex", min: 1, max: 1, eval: stringFunc(toUTF8Hex)},
	"count":                     {name: "Count", min: 1, max: 1, eval: fnCount},
	"cstr":                      {name: "CStr", min: 1, max: 1, eval: stringFunc(func(s string) string { return s })},
	"dateadd":                   {name: "DateAdd", min: 3, max: 3, eval: fnDateAdd, check: checkInterval},
	"datediff":                  {name: "DateDiff", min: 3, max: 3, eval: fnDateDiff, check: checkInterval},
	"datefromnum":               {name: "DateFromNum", min: 1, max: 1, eval: fnDateFromNum},
	"formatdatetime":            {name: "FormatDateTime", min: 3, max: 4, eval: fnFormatDateTime, check: checkFormatDateTime},
	"guid":                      {name: "Guid", min: 0, max: 0, eval: fnGuid},
	"ignoreflowifnullorempty":   {name: "IgnoreFlowIfNullOrEmpty", min: 1, max: 1, eval: fnIgnoreFlowIfNullOrEmpty},
	"iif":                       {name: "IIF", min: 3, max: 3, eval: fnIIF},
	"instr":                     {name: "InStr", min: 2, max: 4, eval: fnInStr},
	"isnull":                    {name: "IsNull", min: 1, max: 1, eval: fnIsNull},
	"isnullorempty":             {name: "IsNullOrEmpty", min: 1, max: 1, eval: fnIsNullOrEmpty},
	"ispresent":                 {name: "IsPresent", min: 1, max: 1, eval: fnIsPresent},
	"isstring":                  {name: "IsString", min: 1, max: 1, eval: fnIsString},
	"item":                      {name: "Item", min: 2, max: 2, eval: fnItem},
	"join":                      {name: "Join", min: 2, max: -1, eval: fnJoin},
	"left":                      {name: "Left", min: 2, max: 2, eval: fnLeft},
	"mid":                       {name: "Mid", min: 3, max: 3, eval: fnMid},
	"normalizediacritics":       {name: "NormalizeDiacritics", min: 1, max: 1, eval: stringFunc(normalizeDiacritics)},
	"not":                       {name: "Not", min: 1, max: 1, eval: fnNot},
	"now":                       {name: "Now", min: 0, max: 0, eval: fnNow},
	"numfromdate":               {name: "NumFromDate", min: 1, max: 1, eval: fnNumFromDate},
	"pcase":                     {name: "PCase", min: 1, max: 2, eval: fnPCase},
	"randomstring":              {name: "RandomString", min: 5, max: 6, eval: fnRandomString},
	"redact":                    {name: "Redact", min: 1, max: 1, eval: fnRedact},
	"removeduplicates":          {name: "RemoveDuplicates", min: 1, max: 1, eval: fnRemoveDuplicates},
	"replace":                   {name: "Replace", min: 3, max: 7, eval: fnReplace, check: checkReplace},
	"selectuniquevalue":         {name: "SelectUniqueValue", min: 2, max: -1, topLevel: true, eval: fnSelectUniqueValue},
	"singleapproleassignment":   {name: "SingleAppRoleAssignment", min: 1, max: 1, eval: fnSingleAppRoleAssignment},
	"split":                     {name: "Split", min: 2, max: 2, eval: fnSplit},
	"stripspaces":               {name: "StripSpaces", min: 1, max: 1, eval: stringFunc(stripSpaces)},
	"switch":                    {name: "Switch", min: 4, max: -1, even: true, eval: fnSwitch},
	"tolower":                   {name: "ToLower", min: 1, max: 2, eval: fnToLower},
	"toupper":                   {name: "ToUpper", min: 1, max: 2, eval: fnToUpper},
	"trim":                      {name: "Trim", min: 1, max: 1, eval: stringFunc(strings.TrimSpace)},
	"word":                      {name: "Word", min: 3, max: 3, eval: fnWord},
}

// ---- evaluation helpers ----

// fail returns an *EvalError for the call n.
func (c *evalCtx) fail(n *node, cause error, format string, args ...any) error {
	line, col := lineCol(c.src, n.pos)
	e := &EvalError{Pos: n.pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Err: cause}
	if n.fn != nil {
		e.Func = n.fn.name
	}
	if cause != nil {
		e.Msg += ": " + cause.Error()
	}
	return e
}

// arg evaluates argument i of n; a missing argument is null.
func (c *evalCtx) arg(n *node, i int) (Value, error) {
	if i >= len(n.args) {
		return Value{}, nil
	}
	return c.eval(n.args[i])
}

// asText converts v, argument i of n, to a string. A list of one value is
// that value; a longer list is an error.
func (c *evalCtx) asText(n *node, i int, v Value) (string, error) {
	if v.kind == KindList {
		switch len(v.list) {
		case 0:
			return "", nil
		case 1:
			return v.list[0], nil
		}
		return "", c.fail(n, nil, "argument %d is multi-valued (%d values); pick one with Item or SingleAppRoleAssignment, or use Join", i+1, len(v.list))
	}
	return v.String(), nil
}

// text evaluates argument i of n as a string, and reports whether it was
// null (or an empty list).
func (c *evalCtx) text(n *node, i int) (string, bool, error) {
	v, err := c.arg(n, i)
	if err != nil {
		return "", false, err
	}
	s, err := c.asText(n, i, v)
	return s, v.kind == KindNull || (v.kind == KindList && len(v.list) == 0), err
}

// toInt converts a number or a numeric string to an int64.
func toInt(v Value) (int64, bool) {
	switch v.kind {
	case KindNumber:
		return v.IntValue()
	case KindString, KindList:
		s := strings.TrimSpace(v.s)
		if v.kind == KindList {
			if len(v.list) != 1 {
				return 0, false
			}
			s = strings.TrimSpace(v.list[0])
		}
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return floatToInt(f)
		}
	}
	return 0, false
}

// toFloat converts a number or a numeric string to a float64.
func toFloat(v Value) (float64, bool) {
	switch v.kind {
	case KindNumber:
		return v.FloatValue()
	case KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		return f, err == nil && !math.IsNaN(f)
	}
	return 0, false
}

// integer evaluates argument i of n as an integer; null reports null.
func (c *evalCtx) integer(n *node, i int) (int64, bool, error) {
	v, err := c.arg(n, i)
	if err != nil {
		return 0, false, err
	}
	if v.kind == KindNull {
		return 0, true, nil
	}
	x, ok := toInt(v)
	if !ok {
		return 0, false, c.fail(n, nil, "argument %d: %s is not an integer", i+1, describe(v))
	}
	return x, false, nil
}

// describe renders v for an error message.
func describe(v Value) string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindString:
		s := v.s
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return strconv.Quote(s)
	}
	return v.kind.String() + " " + strconv.Quote(v.String())
}

// toBool converts v to a boolean: booleans, non-zero numbers, "True" and
// "False" in any case, numeric strings; null is false.
func toBool(v Value) (bool, bool) {
	switch v.kind {
	case KindNull:
		return false, true
	case KindBool:
		return v.i != 0, true
	case KindNumber:
		f, _ := v.FloatValue()
		return f != 0, true
	case KindString, KindList:
		s := v.s
		if v.kind == KindList {
			if len(v.list) != 1 {
				return false, false
			}
			s = v.list[0]
		}
		s = strings.TrimSpace(s)
		switch {
		case strings.EqualFold(s, "true"):
			return true, true
		case strings.EqualFold(s, "false"):
			return false, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f != 0, true
		}
	}
	return false, false
}

// boolArg evaluates argument i of n as a boolean.
func (c *evalCtx) boolArg(n *node, i int) (bool, error) {
	v, err := c.arg(n, i)
	if err != nil {
		return false, err
	}
	b, ok := toBool(v)
	if !ok {
		return false, c.fail(n, nil, "argument %d: cannot convert %s to a boolean", i+1, describe(v))
	}
	return b, nil
}

// timeArg evaluates argument i of n as a date-time; strings are parsed as
// CDate does. It reports null.
func (c *evalCtx) timeArg(n *node, i int) (time.Time, bool, error) {
	v, err := c.arg(n, i)
	if err != nil {
		return time.Time{}, false, err
	}
	switch v.kind {
	case KindNull:
		return time.Time{}, true, nil
	case KindTime:
		return v.t, false, nil
	}
	s, err := c.asText(n, i, v)
	if err != nil {
		return time.Time{}, false, err
	}
	if strings.TrimSpace(s) == "" {
		return time.Time{}, true, nil
	}
	t, ok := parseDate(s)
	if !ok {
		return time.Time{}, false, c.fail(n, nil, "argument %d: cannot convert %s to a date", i+1, describe(v))
	}
	return t, false, nil
}

// present reports whether argument i of n was written (not omitted).
func present(n *node, i int) bool {
	return i < len(n.args) && n.args[i].kind != nOmitted
}

// literal returns argument i of n if it is a string literal.
func literal(n *node, i int) (string, bool) {
	if i < len(n.args) && n.args[i].kind == nLit && n.args[i].val.kind == KindString {
		return n.args[i].val.s, true
	}
	return "", false
}

// ---- comparison ----

func (c *evalCtx) compare(n *node) (Value, error) {
	l, err := c.eval(n.args[0])
	if err != nil {
		return Value{}, err
	}
	r, err := c.eval(n.args[1])
	if err != nil {
		return Value{}, err
	}
	cmp, err := c.compareValues(n, l, r)
	if err != nil {
		return Value{}, err
	}
	var b bool
	switch n.op {
	case opEq:
		b = cmp == 0
	case opNe:
		b = cmp != 0
	case opLt:
		b = cmp < 0
	case opLe:
		b = cmp <= 0
	case opGt:
		b = cmp > 0
	case opGe:
		b = cmp >= 0
	}
	return Bool(b), nil
}

// compareValues orders l and r: as numbers if both are numbers (or one is
// and the other a numeric string), as dates if one is a date, as booleans
// if one is a boolean, else as strings (ordinal, case-sensitive).
func (c *evalCtx) compareValues(n *node, l, r Value) (int, error) {
	if l.kind == KindNumber || r.kind == KindNumber {
		if l.kind == KindNumber && r.kind == KindNumber && l.flags&flagFloat == 0 && r.flags&flagFloat == 0 {
			return cmpOrdered(l.i, r.i), nil
		}
		lf, lok := toFloat(l)
		rf, rok := toFloat(r)
		if lok && rok {
			return cmpOrdered(lf, rf), nil
		}
	}
	if l.kind == KindTime || r.kind == KindTime {
		lt, lok := l.t, l.kind == KindTime
		rt, rok := r.t, r.kind == KindTime
		if !lok && l.kind == KindString {
			lt, lok = parseDate(l.s)
		}
		if !rok && r.kind == KindString {
			rt, rok = parseDate(r.s)
		}
		if lok && rok {
			return lt.Compare(rt), nil
		}
	}
	if l.kind == KindBool || r.kind == KindBool {
		lb, lok := toBool(l)
		rb, rok := toBool(r)
		if lok && rok && l.kind != KindNull && r.kind != KindNull {
			return cmpOrdered(b2i(lb), b2i(rb)), nil
		}
	}
	ls, err := c.asText(n, 0, l)
	if err != nil {
		return 0, err
	}
	rs, err := c.asText(n, 1, r)
	if err != nil {
		return 0, err
	}
	return strings.Compare(ls, rs), nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmpOrdered[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stringFunc returns a function of one string argument that applies f;
// null stays null.
func stringFunc(f func(string) string) func(*evalCtx, *node) (Value, error) {
	return func(c *evalCtx, n *node) (Value, error) {
		s, null, err := c.text(n, 0)
		if err != nil || null {
			return Value{}, err
		}
		return String(f(s)), nil
	}
}

// toBase64UTF16 encodes s as .NET's "Unicode" encoding (UTF-16,
// little-endian) in base64.
func toBase64UTF16(s string) string {
	buf := make([]byte, 0, 2*len(s))
	for _, u := range utf16.Encode([]rune(s)) {
		buf = append(buf, byte(u), byte(u>>8))
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// toUTF8Hex returns the UTF-8 bytes of s in upper-case hexadecimal.
func toUTF8Hex(s string) string {
	const digits = "0123456789ABCDEF"
	buf := make([]byte, 2*len(s))
	for i := 0; i < len(s); i++ {
		buf[2*i], buf[2*i+1] = digits[s[i]>>4], digits[s[i]&15]
	}
	return string(buf)
}

func stripSpaces(s string) string { return strings.ReplaceAll(s, " ", "") }

// ---- the functions ----

func fnAppend(c *evalCtx, n *node) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	suffix, _, err := c.text(n, 1)
	if err != nil {
		return Value{}, err
	}
	return String(s + suffix), nil
}

func fnAppRoleAssignmentsComplex(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	switch v.kind {
	case KindNull, KindList:
		return v, nil
	case KindString:
		if v.s == "" {
			return Value{}, nil
		}
		return List([]string{v.s}), nil
	}
	return Value{}, c.fail(n, nil, "expects the multi-valued app role assignments attribute, got %s", describe(v))
}

func fnBitAnd(c *evalCtx, n *node) (Value, error) {
	a, null, err := c.integer(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	b, null, err := c.integer(n, 1)
	if err != nil || null {
		return Value{}, err
	}
	return Int(a & b), nil
}

func fnCBool(c *evalCtx, n *node) (Value, error) {
	b, err := c.boolArg(n, 0)
	if err != nil {
		return Value{}, err
	}
	return Bool(b), nil
}

func fnCDate(c *evalCtx, n *node) (Value, error) {
	t, null, err := c.timeArg(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	return Time(t), nil
}

func fnCoalesce(c *evalCtx, n *node) (Value, error) {
	var v Value
	for i := range n.args {
		var err error
		if v, err = c.eval(n.args[i]); err != nil {
			return Value{}, err
		}
		if !v.IsEmpty() {
			return v, nil
		}
	}
	return v, nil // the last (default) value, "" or null
}

func fnCount(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	switch v.kind {
	case KindNull:
		return Int(0), nil
	case KindList:
		return Int(int64(len(v.list))), nil
	}
	return Int(1), nil
}

// checkInterval validates a literal interval of DateAdd or DateDiff.
func checkInterval(n *node) (int, string, error) {
	if s, ok := literal(n, 0); ok {
		if _, ok := intervals[strings.ToLower(s)]; !ok {
			return n.args[0].pos, fmt.Sprintf("unknown interval %q (want yyyy, q, m, y, d, w, ww, h, n or s)", s), ErrSyntax
		}
	}
	return 0, "", nil
}

func (c *evalCtx) interval(n *node) (interval, error) {
	s, _, err := c.text(n, 0)
	if err != nil {
		return 0, err
	}
	iv, ok := intervals[strings.ToLower(s)]
	if !ok {
		return 0, c.fail(n, nil, "unknown interval %q (want yyyy, q, m, y, d, w, ww, h, n or s)", s)
	}
	return iv, nil
}

func fnDateAdd(c *evalCtx, n *node) (Value, error) {
	iv, err := c.interval(n)
	if err != nil {
		return Value{}, err
	}
	k, null, err := c.integer(n, 1)
	if err != nil || null {
		return Value{}, err
	}
	t, null, err := c.timeArg(n, 2)
	if err != nil || null {
		return Value{}, err
	}
	return Time(dateAdd(iv, k, t)), nil
}

func fnDateDiff(c *evalCtx, n *node) (Value, error) {
	iv, err := c.interval(n)
	if err != nil {
		return Value{}, err
	}
	t1, null, err := c.timeArg(n, 1)
	if err != nil || null {
		return Value{}, err
	}
	t2, null, err := c.timeArg(n, 2)
	if err != nil || null {
		return Value{}, err
	}
	return Int(dateDiff(iv, t1, t2)), nil
}

func fnDateFromNum(c *evalCtx, n *node) (Value, error) {
	ticks, null, err := c.integer(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	t, ok := fromFileTime(ticks)
	if !ok {
		return Value{}, c.fail(n, nil, "%d is outside the range of AD dates (0 to %d)", ticks, maxFileTime)
	}
	return Time(t), nil
}

func fnNumFromDate(c *evalCtx, n *node) (Value, error) {
	t, null, err := c.timeArg(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	ticks, ok := toFileTime(t)
	if !ok {
		return Value{}, c.fail(n, nil, "%s is outside the range of AD dates", t.Format(time.RFC3339))
	}
	return Int(ticks), nil
}

// formatArgs are FormatDateTime's formats, parsed at parse time when they
// are literals.
type formatArgs struct {
	in, out dateFormat
	inOK    bool
	outOK   bool
}

// formatIndexes returns the argument indexes of FormatDateTime's input
// and output formats: the 3-argument form omits dateTimeStyles.
func formatIndexes(n *node) (in, out int) {
	if len(n.args) == 3 {
		return 1, 2
	}
	return 2, 3
}

func checkFormatDateTime(n *node) (int, string, error) {
	in, out := formatIndexes(n)
	fa := &formatArgs{}
	if s, ok := literal(n, in); ok {
		f, err := parseDateFormat(s)
		if err != nil {
			return n.args[in].pos, "inputFormat: " + err.Error(), ErrSyntax
		}
		fa.in, fa.inOK = f, true
	}
	if s, ok := literal(n, out); ok {
		f, err := parseDateFormat(s)
		if err != nil {
			return n.args[out].pos, "outputFormat: " + err.Error(), ErrSyntax
		}
		fa.out, fa.outOK = f, true
	}
	if !present(n, out) {
		return n.pos, "outputFormat is required", ErrArity
	}
	n.aux = fa
	return 0, "", nil
}

func fnFormatDateTime(c *evalCtx, n *node) (Value, error) {
	inIdx, outIdx := formatIndexes(n)
	fa, _ := n.aux.(*formatArgs)
	v, err := c.arg(n, 0)
	if err != nil || v.kind == KindNull {
		return Value{}, err
	}
	getFormat := func(i int, pre dateFormat, ok bool) (dateFormat, bool, error) {
		if ok {
			return pre, len(pre) > 0, nil
		}
		s, _, err := c.text(n, i)
		if err != nil {
			return nil, false, err
		}
		f, err := parseDateFormat(s)
		if err != nil {
			return nil, false, c.fail(n, err, "format %q", s)
		}
		return f, len(f) > 0, nil
	}
	var t time.Time
	if v.kind == KindTime {
		t = v.t
	} else {
		s, err := c.asText(n, 0, v)
		if err != nil {
			return Value{}, err
		}
		if strings.TrimSpace(s) == "" {
			return Value{}, nil
		}
		in, have, err := getFormat(inIdx, fa.in, fa.inOK)
		if err != nil {
			return Value{}, err
		}
		var ok bool
		if have {
			t, err = in.parse(s)
			ok = err == nil
		} else {
			t, ok = parseDate(s)
		}
		if !ok {
			return Value{}, c.fail(n, err, "cannot read %s as a date in the input format", describe(v))
		}
	}
	out, have, err := getFormat(outIdx, fa.out, fa.outOK)
	if err != nil {
		return Value{}, err
	}
	if !have {
		return Value{}, c.fail(n, nil, "empty output format")
	}
	return String(out.format(t)), nil
}

func fnGuid(c *evalCtx, n *node) (Value, error) {
	if c.cfg.guid != nil {
		return String(c.cfg.guid()), nil
	}
	var b [16]byte
	if c.cfg.rand != nil {
		for i := range b {
			b[i] = byte(c.cfg.rand.Uint32())
		}
	} else if _, err := rand.Read(b[:]); err != nil {
		return Value{}, c.fail(n, err, "reading random bytes")
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[x>>4], hexd[x&15])
	}
	return String(string(out)), nil
}

func fnIgnoreFlowIfNullOrEmpty(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	if v.IsEmpty() {
		return Value{flags: flagIgnore | v.flags&flagRedacted}, nil
	}
	return v, nil
}

func fnIIF(c *evalCtx, n *node) (Value, error) {
	b, err := c.boolArg(n, 0)
	if err != nil {
		return Value{}, err
	}
	if b {
		return c.arg(n, 1)
	}
	return c.arg(n, 2)
}

func fnInStr(c *evalCtx, n *node) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil {
		return Value{}, err
	}
	if null {
		return Int(0), nil
	}
	sub, _, err := c.text(n, 1)
	if err != nil {
		return Value{}, err
	}
	start, null, err := c.integer(n, 2)
	if err != nil {
		return Value{}, err
	}
	if null {
		start = 1
	}
	if start < 1 {
		return Value{}, c.fail(n, nil, "start %d must be 1 or more", start)
	}
	fold := false
	if v, err := c.arg(n, 3); err != nil {
		return Value{}, err
	} else if v.kind != KindNull {
		switch x, ok := toInt(v); {
		case ok && (x == 0 || x == 1):
			fold = x == 1
		case strings.EqualFold(v.s, "vbTextCompare"):
			fold = true
		case strings.EqualFold(v.s, "vbBinaryCompare"):
		default:
			return Value{}, c.fail(n, nil, "compareType %s must be vbBinaryCompare or vbTextCompare", describe(v))
		}
	}
	return Int(int64(indexRunes(s, sub, int(min(start, math.MaxInt32)), fold))), nil
}

// indexRunes returns the 1-based character position of sub in s at or
// after character start, or 0.
func indexRunes(s, sub string, start int, fold bool) int {
	pos := 1
	for i := 0; i <= len(s); {
		if pos >= start && hasPrefix(s[i:], sub, fold) {
			return pos
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		pos++
	}
	return 0
}

func hasPrefix(s, prefix string, fold bool) bool {
	if !fold {
		return strings.HasPrefix(s, prefix)
	}
	for prefix != "" {
		if s == "" {
			return false
		}
		r1, n1 := utf8.DecodeRuneInString(s)
		r2, n2 := utf8.DecodeRuneInString(prefix)
		if r1 != r2 && unicode.ToLower(r1) != unicode.ToLower(r2) {
			return false
		}
		s, prefix = s[n1:], prefix[n2:]
	}
	return true
}

func fnIsNull(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	return Bool(v.kind == KindNull), err
}

func fnIsNullOrEmpty(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	return Bool(v.IsEmpty()), err
}

func fnIsPresent(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	return Bool(!v.IsEmpty()), err
}

func fnIsString(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	return Bool(v.kind == KindString), err
}

func fnItem(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	idx, null, err := c.integer(n, 1)
	if err != nil {
		return Value{}, err
	}
	if null {
		return Value{}, c.fail(n, nil, "index is null")
	}
	switch v.kind {
	case KindNull:
		return Value{}, nil
	case KindList:
		if idx < 1 || idx > int64(len(v.list)) {
			return Value{}, nil
		}
		return String(v.list[idx-1]), nil
	}
	if idx != 1 {
		return Value{}, nil
	}
	return v, nil
}

func fnJoin(c *evalCtx, n *node) (Value, error) {
	sep, _, err := c.text(n, 0)
	if err != nil {
		return Value{}, err
	}
	var (
		b     strings.Builder
		first string
		parts int
	)
	add := func(s string) {
		if s == "" {
			return
		}
		switch parts {
		case 0:
			first = s
		case 1:
			b.Grow(len(first) + len(sep) + len(s) + 16)
			b.WriteString(first)
			fallthrough
		default:
			b.WriteString(sep)
			b.WriteString(s)
		}
		parts++
	}
	for i := 1; i < len(n.args); i++ {
		v, err := c.eval(n.args[i])
		if err != nil {
			return Value{}, err
		}
		switch v.kind {
		case KindNull:
		case KindList:
			for _, s := range v.list {
				add(s)
			}
		default:
			add(v.String())
		}
	}
	switch parts {
	case 0:
		return String(""), nil
	case 1:
		return String(first), nil
	}
	return String(b.String()), nil
}

// runePrefix returns the first n characters of s.
func runePrefix(s string, n int64) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func fnLeft(c *evalCtx, n *node) (Value, error) {
	s, _, err := c.text(n, 0)
	if err != nil {
		return Value{}, err
	}
	k, null, err := c.integer(n, 1)
	if err != nil {
		return Value{}, err
	}
	if null || k < 0 {
		return String(s), nil
	}
	return String(runePrefix(s, k)), nil
}

func fnMid(c *evalCtx, n *node) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	start, null, err := c.integer(n, 1)
	if err != nil {
		return Value{}, err
	}
	if null || start < 1 {
		return Value{}, c.fail(n, nil, "start must be 1 or more (the first character is 1)")
	}
	length, null, err := c.integer(n, 2)
	if err != nil {
		return Value{}, err
	}
	if null || length < 0 {
		return Value{}, c.fail(n, nil, "length must be 0 or more")
	}
	rest := s
	for i := range s {
		if start == 1 {
			rest = s[i:]
			break
		}
		start--
	}
	if start > 1 {
		return String(""), nil
	}
	return String(runePrefix(rest, length)), nil
}

func fnNot(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	b, ok := toBool(v)
	return Bool(!(ok && b)), nil
}

func fnNow(c *evalCtx, _ *node) (Value, error) {
	if c.cfg.now != nil {
		return Time(c.cfg.now()), nil
	}
	return Time(time.Now()), nil
}

func fnPCase(c *evalCtx, n *node) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	seps, sepNull, err := c.text(n, 1)
	if err != nil {
		return Value{}, err
	}
	isSep := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) }
	if !sepNull {
		isSep = func(r rune) bool { return strings.ContainsRune(seps, r) }
	}
	var b strings.Builder
	b.Grow(len(s))
	start := true
	for _, r := range s {
		switch {
		case isSep(r):
			start = true
		case start:
			r = unicode.ToTitle(r)
			start = false
		default:
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return String(b.String()), nil
}

// Character classes of RandomString, as Windows password complexity
// counts them.
const (
	randDigits  = "0123456789"
	randUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	randLower   = "abcdefghijklmnopqrstuvwxyz"
	randSpecial = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"
	maxRandLen  = 256
)

func fnRandomString(c *evalCtx, n *node) (Value, error) {
	var nums [5]int64
	for i := range nums {
		x, null, err := c.integer(n, i)
		if err != nil {
			return Value{}, err
		}
		if null || x < 0 {
			return Value{}, c.fail(n, nil, "argument %d must be a number 0 or more", i+1)
		}
		nums[i] = x
	}
	length := nums[0]
	if length > maxRandLen {
		return Value{}, c.fail(n, nil, "length %d is over the maximum of %d", length, maxRandLen)
	}
	if sum := nums[1] + nums[2] + nums[3] + nums[4]; sum > length {
		return Value{}, c.fail(n, nil, "length %d is less than the sum of the minimums (%d)", length, sum)
	}
	avoid, _, err := c.text(n, 5)
	if err != nil {
		return Value{}, err
	}
	strip := func(set string) string {
		if avoid == "" {
			return set
		}
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(avoid, r) {
				return -1
			}
			return r
		}, set)
	}
	classes := [4]string{strip(randDigits), strip(randSpecial), strip(randUpper), strip(randLower)}
	intn := func(k int) int {
		if c.cfg.rand != nil {
			return c.cfg.rand.IntN(k)
		}
		return mrand.IntN(k)
	}
	out := make([]byte, 0, length)
	all := ""
	for i, set := range classes {
		want := nums[i+1]
		if want > 0 && set == "" {
			return Value{}, c.fail(n, nil, "CharactersToAvoid excludes every character of a required class")
		}
		for ; want > 0; want-- {
			out = append(out, set[intn(len(set))])
		}
		all += set
	}
	if int64(len(out)) < length && all == "" {
		return Value{}, c.fail(n, nil, "CharactersToAvoid excludes every character")
	}
	for int64(len(out)) < length {
		out = append(out, all[intn(len(all))])
	}
	for i := len(out) - 1; i > 0; i-- {
		j := intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return String(string(out)), nil
}

func fnRedact(c *evalCtx, n *node) (Value, error) {
	c.redacted = true
	return c.arg(n, 0)
}

func fnRemoveDuplicates(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil || v.kind != KindList {
		return v, err
	}
	var out []string
	for i, s := range v.list {
		dup := false
		for _, t := range v.list[:i] {
			if s == t {
				dup = true
				break
			}
		}
		switch {
		case dup && out == nil:
			out = append(make([]string, 0, len(v.list)), v.list[:i]...)
		case !dup && out != nil:
			out = append(out, s)
		}
	}
	if out == nil {
		return v, nil
	}
	return List(out), nil
}

// Replace's argument positions.
const (
	rSource = iota
	rOldValue
	rPattern
	rGroup
	rReplacement
	rAttribute
	rTemplate
)

type replaceMode uint8

const (
	modeOldValue     replaceMode = iota + 1 // oldValue → replacementValue in source
	modeTemplate                            // oldValue in template → source
	modeRegex                               // regexPattern → replacementValue (with ${group})
	modeRegexGroup                          // regexGroupName's matches → replacementValue
	modeRegexExtract                        // source, else regexGroupName of replacementAttributeName
)

// replaceArgs is Replace's mode and literal pattern, found at parse time.
type replaceArgs struct {
	mode replaceMode
	re   *regexp.Regexp // nil if the pattern is not a literal
}

func checkReplace(n *node) (int, string, error) {
	ra := &replaceArgs{}
	switch {
	case present(n, rPattern) && present(n, rOldValue):
		return n.pos, "give either oldValue or regexPattern, not both", ErrArity
	case present(n, rPattern) && present(n, rGroup) && present(n, rAttribute):
		ra.mode = modeRegexExtract
	case present(n, rPattern) && present(n, rGroup) && present(n, rReplacement):
		ra.mode = modeRegexGroup
	case present(n, rPattern) && present(n, rReplacement):
		ra.mode = modeRegex
	case present(n, rPattern):
		return n.pos, "regexPattern needs replacementValue, or regexGroupName with replacementValue or replacementAttributeName", ErrArity
	case present(n, rOldValue) && present(n, rTemplate):
		ra.mode = modeTemplate
	case present(n, rOldValue) && present(n, rReplacement):
		ra.mode = modeOldValue
	case present(n, rOldValue):
		return n.pos, "oldValue needs replacementValue or template", ErrArity
	default:
		return n.pos, "needs oldValue or regexPattern", ErrArity
	}
	if pat, ok := literal(n, rPattern); ok {
		re, err := compileRegex(pat)
		if err != nil {
			return n.args[rPattern].pos, err.Error(), ErrSyntax
		}
		if g, ok := literal(n, rGroup); ok && re.SubexpIndex(g) < 0 {
			return n.args[rGroup].pos, fmt.Sprintf("regexPattern has no group named %q", g), ErrSyntax
		}
		ra.re = re
	}
	n.aux = ra
	return 0, "", nil
}

// compileRegex compiles a .NET-style pattern; Go's RE2 accepts the common
// subset, including (?<name>...) groups, but not lookaround or
// backreferences.
func compileRegex(pat string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("regexPattern %q: %w", pat, err)
	}
	return re, nil
}

func fnReplace(c *evalCtx, n *node) (Value, error) {
	ra := n.aux.(*replaceArgs)
	src, srcNull, err := c.text(n, rSource)
	if err != nil {
		return Value{}, err
	}
	str := func(i int) (string, error) {
		s, _, err := c.text(n, i)
		return s, err
	}
	re := ra.re
	if re == nil && ra.mode >= modeRegex {
		pat, err := str(rPattern)
		if err != nil {
			return Value{}, err
		}
		if re, err = compileRegex(pat); err != nil {
			return Value{}, c.fail(n, err, "bad pattern")
		}
	}
	group := func() (int, error) {
		g, err := str(rGroup)
		if err != nil {
			return 0, err
		}
		i := re.SubexpIndex(g)
		if i < 0 {
			return 0, c.fail(n, nil, "regexPattern has no group named %q", g)
		}
		return i, nil
	}
	switch ra.mode {
	case modeOldValue, modeTemplate:
		old, err := str(rOldValue)
		if err != nil {
			return Value{}, err
		}
		if ra.mode == modeTemplate {
			tmpl, err := str(rTemplate)
			if err != nil || old == "" {
				return String(tmpl), err
			}
			return String(strings.ReplaceAll(tmpl, old, src)), nil
		}
		if srcNull {
			return Value{}, nil
		}
		repl, err := str(rReplacement)
		if err != nil || old == "" {
			return String(src), err
		}
		return String(strings.ReplaceAll(src, old, repl)), nil
	case modeRegex:
		if srcNull {
			return Value{}, nil
		}
		repl, err := str(rReplacement)
		if err != nil {
			return Value{}, err
		}
		return String(re.ReplaceAllString(src, repl)), nil
	case modeRegexGroup:
		if srcNull {
			return Value{}, nil
		}
		gi, err := group()
		if err != nil {
			return Value{}, err
		}
		repl, err := str(rReplacement)
		if err != nil {
			return Value{}, err
		}
		var b strings.Builder
		last := 0
		for _, m := range re.FindAllStringSubmatchIndex(src, -1) {
			gs, ge := m[2*gi], m[2*gi+1]
			if gs < 0 || gs < last {
				continue
			}
			b.WriteString(src[last:gs])
			b.WriteString(repl)
			last = ge
		}
		b.WriteString(src[last:])
		return String(b.String()), nil
	case modeRegexExtract:
		if src != "" {
			return String(src), nil
		}
		gi, err := group()
		if err != nil {
			return Value{}, err
		}
		from, _, err := c.text(n, rAttribute)
		if err != nil {
			return Value{}, err
		}
		m := re.FindStringSubmatchIndex(from)
		if m == nil || m[2*gi] < 0 {
			return Value{}, nil
		}
		return String(from[m[2*gi]:m[2*gi+1]]), nil
	}
	return Value{}, c.fail(n, nil, "internal error: no mode")
}

func fnSelectUniqueValue(c *evalCtx, n *node) (Value, error) {
	for i := range n.args {
		v, err := c.eval(n.args[i])
		if err != nil {
			return Value{}, err
		}
		if v.IsEmpty() {
			continue
		}
		s, err := c.asText(n, i, v)
		if err != nil {
			return Value{}, err
		}
		if c.cfg.unique == nil || c.cfg.unique(s) {
			return String(s), nil
		}
	}
	return Value{}, c.fail(n, ErrNoUniqueValue, "all %d candidates are taken or empty", len(n.args))
}

func fnSingleAppRoleAssignment(c *evalCtx, n *node) (Value, error) {
	v, err := c.arg(n, 0)
	if err != nil {
		return Value{}, err
	}
	switch v.kind {
	case KindNull, KindString:
		return v, nil
	case KindList:
		switch len(v.list) {
		case 0:
			return Value{}, nil
		case 1:
			return String(v.list[0]), nil
		}
		return Value{}, c.fail(n, nil, "the user has %d app role assignments; it supports one (use AppRoleAssignmentsComplex)", len(v.list))
	}
	return Value{}, c.fail(n, nil, "expects the app role assignments attribute, got %s", describe(v))
}

func fnSplit(c *evalCtx, n *node) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	sep, _, err := c.text(n, 1)
	if err != nil {
		return Value{}, err
	}
	if sep == "" {
		return List([]string{s}), nil
	}
	return List(strings.Split(s, sep)), nil
}

func fnSwitch(c *evalCtx, n *node) (Value, error) {
	src, _, err := c.text(n, 0)
	if err != nil {
		return Value{}, err
	}
	for i := 2; i+1 < len(n.args); i += 2 {
		key, _, err := c.text(n, i)
		if err != nil {
			return Value{}, err
		}
		if key == src {
			return c.eval(n.args[i+1])
		}
	}
	return c.arg(n, 1)
}

// changeCase evaluates ToLower or ToUpper.
func (c *evalCtx) changeCase(n *node, special func(unicode.SpecialCase, string) string, plain func(string) string) (Value, error) {
	s, null, err := c.text(n, 0)
	if err != nil || null {
		return Value{}, err
	}
	culture, _, err := c.text(n, 1)
	if err != nil {
		return Value{}, err
	}
	lang, _, _ := strings.Cut(strings.ToLower(culture), "-")
	if lang == "tr" || lang == "az" {
		return String(special(unicode.TurkishCase, s)), nil
	}
	return String(plain(s)), nil
}

func fnToLower(c *evalCtx, n *node) (Value, error) {
	return c.changeCase(n, strings.ToLowerSpecial, strings.ToLower)
}

func fnToUpper(c *evalCtx, n *node) (Value, error) {
	return c.changeCase(n, strings.ToUpperSpecial, strings.ToUpper)
}

func fnWord(c *evalCtx, n *node) (Value, error) {
	s, _, err := c.text(n, 0)
	if err != nil {
		return Value{}, err
	}
	k, null, err := c.integer(n, 1)
	if err != nil {
		return Value{}, err
	}
	delims, _, err := c.text(n, 2)
	if err != nil {
		return Value{}, err
	}
	if null || k < 1 {
		return String(""), nil
	}
	start := -1
	for i, r := range s {
		if strings.ContainsRune(delims, r) {
			if start >= 0 {
				if k--; k == 0 {
					return String(s[start:i]), nil
				}
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 && k == 1 {
		return String(s[start:]), nil
	}
	return String(""), nil
}
