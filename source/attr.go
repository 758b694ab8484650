package source

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// validValue reports whether v has one of the attribute value types.
func validValue(v any) bool {
	switch v.(type) {
	case string, bool, int64, float64, []string, time.Time:
		return true
	}
	return false
}

// NormalizeValue converts a decoded value to one of the attribute value
// types: other integer types become int64, float32 becomes float64, a
// []any of strings becomes []string, a *time.Time becomes time.Time.
// Values already of an attribute type are returned as they are ([]string
// copied). nil, an unsigned value above math.MaxInt64, and any other type
// are errors matching ErrInvalid; callers leave null attributes out.
func NormalizeValue(v any) (any, error) {
	switch x := v.(type) {
	case string, bool, int64, float64, time.Time:
		return x, nil
	case []string:
		return append([]string(nil), x...), nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		return normalizeUint(uint64(x))
	case uint64:
		return normalizeUint(x)
	case float32:
		return float64(x), nil
	case *time.Time:
		if x == nil {
			return nil, fmt.Errorf("%w: nil is not an attribute value", ErrInvalid)
		}
		return *x, nil
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			es, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: list item %d is %T; list attributes hold strings only", ErrInvalid, i, e)
			}
			s[i] = es
		}
		return s, nil
	case nil:
		return nil, fmt.Errorf("%w: nil is not an attribute value", ErrInvalid)
	}
	return nil, fmt.Errorf("%w: %T is not an attribute value type (string, bool, int64, float64, []string, time.Time)", ErrInvalid, v)
}

func normalizeUint(x uint64) (any, error) {
	if x > math.MaxInt64 {
		return nil, fmt.Errorf("%w: %d overflows int64", ErrInvalid, x)
	}
	return int64(x), nil
}

// isBuiltin reports whether name is one of builtins (lower-case ASCII),
// ignoring case.
func isBuiltin(builtins []string, name string) bool {
	for _, b := range builtins {
		if len(b) == len(name) && strings.EqualFold(b, name) {
			return true
		}
	}
	return false
}
