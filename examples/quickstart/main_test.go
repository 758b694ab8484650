package main

import (
	"context"
	"strings"
	"testing"
)

// TestQuickstart runs the whole quickstart in-process: three passes
// against the embedded server, the second showing exactly the edits and
// the third empty.
func TestQuickstart(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("quickstart failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"== Pass 1", "294 to create",
		"== Pass 2", "1 to update, 1 to deactivate", "Memberships: +1 -1",
		"== Pass 3", "No changes",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestQuickstartRejectsTenantWithoutToken(t *testing.T) {
	t.Setenv("NETSKOPE_TOKEN", "")
	var out strings.Builder
	err := run(context.Background(), []string{"-url", "https://acme.goskope.com/api/v2/scim"}, &out)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("run with a URL and no token = %v", err)
	}
}
