package netskopetest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// normalizeUserBody rewrites the few user body shapes that Netskope's
// clients send and elimity's validation would refuse, leaving everything
// else to elimity:
//
//   - "active": "true" (a string, seen in the wild) becomes a boolean, in
//     POST and PUT bodies and in PATCH values (with path active or no path);
//   - a PATCH value without a path that holds the enterprise extension as an
//     object ({"urn:...:enterprise:2.0:User": {"department": "x"}}), or a
//     PATCH whose path is the extension URN itself, is spread into
//     "urn:...:User:department" attribute paths.
//
// A body it cannot decode is returned unchanged for elimity to refuse.
func normalizeUserBody(method string, body []byte, enterpriseURN string) []byte {
	if !bytes.Contains(body, []byte("ctive")) && !bytes.Contains(bytes.ToLower(body), []byte(strings.ToLower(enterpriseURN))) {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return body
	}
	changed := false
	switch method {
	case http.MethodPost, http.MethodPut:
		changed = fixActive(doc)
	case http.MethodPatch:
		for k, v := range doc {
			if !strings.EqualFold(k, "Operations") {
				continue
			}
			ops, _ := v.([]any)
			for _, o := range ops {
				op, _ := o.(map[string]any)
				if op != nil && fixOperation(op, enterpriseURN) {
					changed = true
				}
			}
		}
	}
	if !changed {
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// fixOperation normalises one PATCH operation; it reports a change.
func fixOperation(op map[string]any, enterpriseURN string) bool {
	pathKey, path := "", ""
	valueKey := "value"
	for k, v := range op {
		switch {
		case strings.EqualFold(k, "path"):
			pathKey = k
			path, _ = v.(string)
		case strings.EqualFold(k, "value"):
			valueKey = k
		}
	}
	value := op[valueKey]
	switch {
	case strings.EqualFold(path, "active"):
		if b, ok := boolString(value); ok {
			op[valueKey] = b
			return true
		}
	case strings.EqualFold(path, enterpriseURN):
		if m, ok := value.(map[string]any); ok {
			delete(op, pathKey)
			op[valueKey] = spread(m, enterpriseURN)
			return true
		}
	case path == "":
		m, ok := value.(map[string]any)
		if !ok {
			return false
		}
		changed := fixActive(m)
		for k, v := range m {
			if ext, isMap := v.(map[string]any); isMap && strings.EqualFold(k, enterpriseURN) {
				delete(m, k)
				for ek, ev := range spread(ext, enterpriseURN) {
					m[ek] = ev
				}
				changed = true
			}
		}
		return changed
	}
	return false
}

// spread turns an extension object into attribute paths under its URN.
func spread(ext map[string]any, urn string) map[string]any {
	out := make(map[string]any, len(ext))
	for k, v := range ext {
		out[urn+":"+k] = v
	}
	return out
}

// fixActive turns a string "active" value of m into a boolean.
func fixActive(m map[string]any) bool {
	for k, v := range m {
		if strings.EqualFold(k, "active") {
			if b, ok := boolString(v); ok {
				m[k] = b
				return true
			}
		}
	}
	return false
}

func boolString(v any) (bool, bool) {
	s, ok := v.(string)
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return b, err == nil
}
