package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/provsync/provsync/source"
)

// Checks encoding/json and yaml.v3 do not make: encoding/json keeps the
// last of two equal keys (and matches field names ignoring case), and
// turns invalid UTF-8 into U+FFFD; yaml.v3 refuses both, but names no
// line for invalid UTF-8.

// maxReported bounds the problems one check reports.
const maxReported = 20

// checkUTF8 reports each line of data holding bytes that are not UTF-8.
func checkUTF8(data []byte, at func(int) string) []error {
	if utf8.Valid(data) {
		return nil
	}
	var errs []error
	line, lineStart, lastBad := 1, 0, 0
	for i := 0; i < len(data); {
		c := data[i]
		if c == '\n' {
			line, lineStart = line+1, i+1
			i++
			continue
		}
		if c < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			if line != lastBad {
				lastBad = line
				if len(errs) == maxReported {
					errs = append(errs, classify(fmt.Errorf("%s: more lines are not valid UTF-8", at(line)), source.ErrInvalid))
					return errs
				}
				errs = append(errs, classify(fmt.Errorf("%s: not valid UTF-8 (byte %d of the line); save the file as UTF-8",
					at(line), i-lineStart+1), source.ErrInvalid))
			}
		}
		i += size
	}
	return errs
}

// jsonFrame is an object or array open at some point of a JSON text.
// Keys are slices of the text (unescaped copies only for keys with
// escapes), so that a valid file costs no allocation per key.
type jsonFrame struct {
	name     []byte // its key in its parent object, or
	item     int    // its index in its parent array,
	inArray  bool   // which of the two
	object   bool   // an object, else an array
	index    int    // an array's current item
	key      []byte // an object's current key
	wantKey  bool
	keys     [][]byte // an object's keys so far
	keyLines []int
}

// jsonStrict reports every object of a valid JSON text that repeats a
// key, comparing keys as encoding/json matches them to fields: ignoring
// case; and every string whose escapes hold half a UTF-16 surrogate pair
// (encoding/json turns it into U+FFFD). d names the users and groups the
// problems belong to.
func jsonStrict(data []byte, d *doc, at func(int) string) []error {
	var (
		stack []jsonFrame
		errs  []error
		line  = 1
	)
	report := func(err error) {
		if len(errs) < maxReported {
			errs = append(errs, err)
		}
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '{', '[':
			f := jsonFrame{object: c == '{', wantKey: c == '{'}
			if n := len(stack); n > 0 {
				if top := &stack[n-1]; top.object {
					f.name = top.key
				} else {
					f.item, f.inArray = top.index, true
				}
			}
			if n := len(stack); n < cap(stack) {
				// Reuse a frame's key slices.
				stack = stack[:n+1]
				f.keys, f.keyLines = stack[n].keys[:0], stack[n].keyLines[:0]
				stack[n] = f
			} else {
				stack = append(stack, f)
			}
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 {
				if top := &stack[n-1]; top.object {
					top.wantKey = true
				} else {
					top.index++
				}
			}
		case '"':
			start, escaped := i, false
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					escaped = true
					i++
				}
			}
			raw := data[start+1 : i]
			n := len(stack)
			isKey := n > 0 && stack[n-1].object && stack[n-1].wantKey
			if isKey {
				key := raw
				if escaped {
					var s string
					_ = json.Unmarshal(data[start:i+1], &s)
					key = []byte(s)
				}
				stack[n-1].key, stack[n-1].wantKey = key, false
			}
			if escaped {
				if bad := loneSurrogate(raw); bad != "" {
					msg := fmt.Sprintf("the escape \\u%s is half of a UTF-16 surrogate pair, not a character", bad)
					if isKey {
						msg = "key: " + msg
					}
					report(jsonProblem(stack, line, d, at, msg))
				}
			}
			if !isKey {
				continue
			}
			top := &stack[n-1]
			for k, prev := range top.keys {
				if bytes.EqualFold(prev, top.key) {
					msg := fmt.Sprintf("set twice in one object (also on line %d)", top.keyLines[k])
					if !bytes.Equal(prev, top.key) {
						msg = fmt.Sprintf("set twice in one object: %q (line %d) and %q name the same field", prev, top.keyLines[k], top.key)
					}
					report(jsonProblem(stack, line, d, at, msg))
					break
				}
			}
			top.keys = append(top.keys, top.key)
			top.keyLines = append(top.keyLines, line)
		}
	}
	return errs
}

// loneSurrogate returns the hex digits of the first \u escape in the raw
// text of a JSON string that is a surrogate not paired as UTF-16 needs,
// "" if there is none.
func loneSurrogate(raw []byte) string {
	escape := func(i int) (rune, bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		if !ok {
			i++ // a two-byte escape such as \\ or \"
			continue
		}
		switch {
		case utf16.IsSurrogate(r) && r < 0xdc00:
			if r2, ok := escape(i + 6); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
				i += 11
				continue
			}
			return string(raw[i+2 : i+6])
		case utf16.IsSurrogate(r):
			return string(raw[i+2 : i+6])
		}
		i += 5
	}
	return ""
}

// jsonProblem locates a problem at the current key or value of the
// innermost frame of stack, naming the user or group it belongs to.
func jsonProblem(stack []jsonFrame, line int, d *doc, at func(int) string, msg string) error {
	// The path: the names of the frames below the top one, then the
	// current key or item.
	path := make([]any, 0, len(stack)+1)
	for _, f := range stack[min(1, len(stack)):] {
		if f.inArray {
			path = append(path, f.item)
		} else {
			path = append(path, string(f.name))
		}
	}
	if n := len(stack); n > 0 {
		if top := &stack[n-1]; top.object {
			path = append(path, string(top.key))
		} else {
			path = append(path, top.index)
		}
	}
	if len(path) >= 3 {
		list, _ := path[0].(string)
		i, isIndex := path[1].(int)
		if isIndex && (list == "users" || list == "groups") {
			kind, id := strings.TrimSuffix(list, "s"), ""
			switch {
			case list == "users" && i < len(d.dir.Users):
				id = d.dir.Users[i].ID
			case list == "groups" && i < len(d.dir.Groups):
				id = d.dir.Groups[i].ID
			}
			return problem(at(line), kind, id, i, fieldOf(path[2:]), errors.New(msg))
		}
	}
	return classify(fmt.Errorf("%s: %s: %s", at(line), formatPath(path), msg), source.ErrInvalid)
}

// fieldOf names a field of a user or group as Validate does:
// `attributes["HR.costCenter"]` for a (nested) attribute, else
// `emails[0].value`.
func fieldOf(path []any) string {
	if first, _ := path[0].(string); first == "attributes" && len(path) > 1 {
		parts := make([]string, 0, len(path)-1)
		for _, p := range path[1:] {
			if _, isIndex := p.(int); isIndex {
				break
			}
			parts = append(parts, p.(string))
		}
		return fmt.Sprintf("attributes[%q]", strings.Join(parts, "."))
	}
	return formatPath(path)
}
