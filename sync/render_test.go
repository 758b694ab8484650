package sync

import (
	"strings"
	"testing"
	"time"
)

// The rendered plan says what Apply will do with it: an incomplete plan
// (provision on demand) that Apply carries out must not be called "not
// applyable".
func TestRenderSaysWhetherItApplies(t *testing.T) {
	for _, tt := range []struct {
		name                         string
		complete, applyable, confirm bool
		want                         string
	}{
		{"complete and applyable", true, true, false, ""},
		{"incomplete but applyable", false, true, false, "Plan is incomplete but applyable:\n"},
		{"not applyable", true, false, false, "Plan is not applyable:\n"},
		{"needs confirmation", true, false, true, "Plan needs confirmation:\n"},
		{"incomplete and not applyable", false, false, false, "Plan is incomplete and not applyable:\n"},
		{"incomplete and needs confirmation", false, false, true, "Plan is incomplete and needs confirmation:\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Complete: tt.complete, Applyable: tt.applyable, NeedsConfirmation: tt.confirm}
			if !tt.complete || !tt.applyable {
				p.Reasons = []string{"a reason"}
			}
			var b strings.Builder
			if err := p.Render(&b, 0); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			if tt.want == "" && strings.Contains(out, "Plan is") || tt.want != "" && !strings.Contains(out, tt.want) {
				t.Errorf("Render:\n%s\nwant %q", out, tt.want)
			}
		})
	}
}

// The rendered plan lists the changes the escrow holds back, with their
// attempts, their retry and their last error.
func TestRenderEscrowed(t *testing.T) {
	next := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	p := &Plan{Complete: false, Applyable: true, Reasons: []string{"held back"}, Escrowed: []EscrowEntry{
		{Action: ActionCreateUser, Object: Ref{Kind: KindUser, Key: "ada"}, Attempts: 2, LastError: "500 boom", NextAttempt: next},
		{Action: ActionUpdateGroup, Object: Ref{Kind: KindGroup, Key: "ops"}, Attempts: 5, LastError: "400 bad", Persistent: true},
	}}
	var b strings.Builder
	if err := p.Render(&b, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Held back after failing (2):\n",
		`  ! create-user user "ada": 2 attempts, retried from 2026-11-02T09:00:00Z; last error: 500 boom` + "\n",
		`  ! update-group group "ops": 5 attempts, failed persistently; last error: 400 bad` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Render:\n%s\nwant %q", b.String(), want)
		}
	}
}
