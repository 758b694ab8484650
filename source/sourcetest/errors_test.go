package sourcetest

import "testing"

func TestRepeatedContext(t *testing.T) {
	for _, tt := range []struct{ msg, want string }{
		{"sync: source read failed: entra: entra: reading the assignments: graph: 500 X", "entra"},
		{"memory: memory: users[1]: id: duplicate of users[0]", "memory"},
		{"entra: sync: source read failed: entra: reading the assignments", "entra"},
		{"sync: source read failed: entra: reading the assignments: graph: 500 X: source: unavailable", ""},
		{"sync: source read failed: source: unavailable: google: listing users: googleapi: Error 503", ""},
		{"plain message", ""},
		{"sync: source read failed: google:example.com: source: unavailable: google: listing users", "google"},
		{"sync: source read failed: file: open /tmp/x.yaml: no such file or directory", ""},
	} {
		if got := RepeatedContext(tt.msg); got != tt.want {
			t.Errorf("RepeatedContext(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
}
