package source_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
)

// TestSecretFormats prints a Secret, alone and in a struct, with every fmt
// verb and as JSON: the value never shows.
func TestSecretFormats(t *testing.T) {
	const value = "hunter2-value"
	s := source.Secret(value)
	holder := struct{ Key source.Secret }{s}
	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		for _, v := range []any{s, holder, &holder} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, value) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", value)) {
				t.Errorf("%s of %T: %q", verb, v, out)
			}
		}
	}
	if got := fmt.Sprintf("%q %#v", s, s); got != `"REDACTED" "REDACTED"` {
		t.Errorf("quoted: %s", got)
	}
	if got := fmt.Sprint(source.Secret("")); got != "" {
		t.Errorf("empty secret prints %q", got)
	}
	b, err := json.Marshal(holder)
	if err != nil || string(b) != `{"Key":"REDACTED"}` {
		t.Errorf("JSON: %s %v", b, err)
	}
}
