package expr

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds of Value.
const (
	// KindNull is an absent value: a missing attribute, an omitted
	// argument, or a function's "no value" result.
	KindNull Kind = iota
	// KindString is a string.
	KindString
	// KindBool is a boolean.
	KindBool
	// KindNumber is an integer (int64) or a floating-point number.
	KindNumber
	// KindList is a multi-valued attribute: a list of strings.
	KindList
	// KindTime is a date and time, always in UTC.
	KindTime
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindBool:
		return "bool"
	case KindNumber:
		return "number"
	case KindList:
		return "multi-valued"
	case KindTime:
		return "datetime"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

const (
	flagIgnore   uint8 = 1 << iota // IgnoreFlowIfNullOrEmpty tripped
	flagRedacted                   // Redact was evaluated
	flagFloat                      // number is f, not i
)

// Value is the result of evaluating an expression or a part of one. The
// zero Value is null. Values are small and passed by value; a Value never
// shares mutable state with the Env it came from except the backing array
// of a list, which must not be modified.
type Value struct {
	kind  Kind
	flags uint8
	s     string
	i     int64
	f     float64
	t     time.Time
	list  []string
}

// Null returns the null value.
func Null() Value { return Value{} }

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.i = 1
	}
	return v
}

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindNumber, i: i} }

// Float returns a floating-point value.
func Float(f float64) Value { return Value{kind: KindNumber, f: f, flags: flagFloat} }

// List returns a multi-valued value. The slice is not copied.
func List(l []string) Value { return Value{kind: KindList, list: l} }

// Time returns a date-time value, converted to UTC.
func Time(t time.Time) Value { return Value{kind: KindTime, t: t.UTC()} }

// FromAny converts an attribute value as source.User.Attr returns it (nil,
// string, bool, int64, int, float64, []string or time.Time) to a Value. It
// reports an error for any other type.
func FromAny(a any) (Value, error) {
	switch x := a.(type) {
	case nil:
		return Value{}, nil
	case string:
		return String(x), nil
	case bool:
		return Bool(x), nil
	case int64:
		return Int(x), nil
	case int:
		return Int(int64(x)), nil
	case int32:
		return Int(int64(x)), nil
	case float64:
		return Float(x), nil
	case float32:
		return Float(float64(x)), nil
	case []string:
		return List(x), nil
	case time.Time:
		return Time(x), nil
	case Value:
		return x, nil
	}
	return Value{}, fmt.Errorf("unsupported attribute value type %T", a)
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether the value is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// IsEmpty reports whether the value is null, an empty string or an empty
// list.
func (v Value) IsEmpty() bool {
	switch v.kind {
	case KindNull:
		return true
	case KindString:
		return v.s == ""
	case KindList:
		return len(v.list) == 0
	}
	return false
}

// Ignored reports whether IgnoreFlowIfNullOrEmpty decided that the target
// attribute must not be set at all (rather than set to null).
func (v Value) Ignored() bool { return v.flags&flagIgnore != 0 }

// Redacted reports whether the expression used Redact: the value must not
// be logged.
func (v Value) Redacted() bool { return v.flags&flagRedacted != 0 }

// Str returns the value of a string and whether v is one.
func (v Value) Str() (string, bool) { return v.s, v.kind == KindString }

// BoolValue returns the value of a boolean and whether v is one.
func (v Value) BoolValue() (bool, bool) { return v.i != 0, v.kind == KindBool }

// IntValue returns the value of a number as an int64 and whether v is a
// number with an integral value that fits.
func (v Value) IntValue() (int64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	if v.flags&flagFloat == 0 {
		return v.i, true
	}
	return floatToInt(v.f)
}

// FloatValue returns the value of a number as a float64 and whether v is a
// number.
func (v Value) FloatValue() (float64, bool) {
	if v.kind != KindNumber {
		return 0, false
	}
	if v.flags&flagFloat == 0 {
		return float64(v.i), true
	}
	return v.f, true
}

// ListValue returns the values of a list and whether v is one. The slice
// must not be modified.
func (v Value) ListValue() ([]string, bool) { return v.list, v.kind == KindList }

// TimeValue returns the value of a date-time and whether v is one.
func (v Value) TimeValue() (time.Time, bool) { return v.t, v.kind == KindTime }

// Any returns the value as a plain Go value: nil, string, bool, int64,
// float64, []string or time.Time.
func (v Value) Any() any {
	switch v.kind {
	case KindString:
		return v.s
	case KindBool:
		return v.i != 0
	case KindNumber:
		if v.flags&flagFloat != 0 {
			return v.f
		}
		return v.i
	case KindList:
		return v.list
	case KindTime:
		return v.t
	}
	return nil
}

// String returns the value as text, the way the expression language
// converts it: null is "", booleans are "True" and "False", dates use
// Entra's "M/d/yyyy h:mm:ss tt" and lists are joined with ",".
func (v Value) String() string {
	switch v.kind {
	case KindString:
		return v.s
	case KindBool:
		if v.i != 0 {
			return "True"
		}
		return "False"
	case KindNumber:
		if v.flags&flagFloat != 0 {
			return formatFloat(v.f)
		}
		return strconv.FormatInt(v.i, 10)
	case KindList:
		return strings.Join(v.list, ",")
	case KindTime:
		return v.t.Format(entraTimeLayout)
	}
	return ""
}

// entraTimeLayout is Entra's date-time text form, .NET "M/d/yyyy h:mm:ss tt".
const entraTimeLayout = "1/2/2006 3:04:05 PM"

// withFlags returns v with the given flags added.
func (v Value) withFlags(f uint8) Value {
	v.flags |= f
	return v
}

// formatFloat formats f without an exponent, so that it reads back.
func formatFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// floatToInt converts an integral float that fits an int64.
func floatToInt(f float64) (int64, bool) {
	if f != f || f < -9.223372036854775e18 || f > 9.223372036854775e18 {
		return 0, false
	}
	i := int64(f)
	return i, float64(i) == f
}
