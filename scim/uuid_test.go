package scim_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// TestParseUUID: ParseUUID accepts exactly the lower-case UUIDs, with the
// bytes hex decoding reads from their digits, and AppendUUID writes them
// back as they were.
func TestParseUUID(t *testing.T) {
	const id = "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b"
	want, _ := hex.DecodeString("7496ad381f1c41c18fb53ae6177faf8b")
	tests := []struct {
		name, s string
		ok      bool
	}{
		{"lower case", id, true},
		{"zero", "00000000-0000-0000-0000-000000000000", true},
		{"all f", "ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"empty", "", false},
		{"short", id[:35], false},
		{"long", id + "0", false},
		{"upper case", strings.ToUpper(id), false},
		{"one upper digit", "7496AD38" + id[8:], false},
		{"not hex", "g" + id[1:], false},
		{"hyphen moved", id[:7] + "-" + id[8:], false},
		{"digit for hyphen", id[:8] + "0" + id[9:], false},
		{"no hyphens", "7496ad381f1c41c18fb53ae6177faf8b0000", false},
		{"zero byte", id[:35] + "\x00", false},
		{"high byte", id[:35] + "\xff", false},
		{"braces", "{" + id[1:35] + "}", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := scim.ParseUUID(tt.s)
			if ok != tt.ok {
				t.Fatalf("ParseUUID(%q) ok = %v, want %v", tt.s, ok, tt.ok)
			}
			if !ok {
				if u != [16]byte{} {
					t.Errorf("ParseUUID(%q) = %x on failure, want zero", tt.s, u)
				}
				return
			}
			if got := string(scim.AppendUUID([]byte("x"), u)); got != "x"+tt.s {
				t.Errorf("AppendUUID(ParseUUID(%q)) = %q", tt.s, got)
			}
		})
	}
	if u, _ := scim.ParseUUID(id); !bytes.Equal(u[:], want) {
		t.Errorf("ParseUUID(%q) = %x, want %x", id, u, want)
	}
}
