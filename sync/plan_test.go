package sync_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
)

func TestPlanJSONAndRenderRoundTrip(t *testing.T) {
	e := newEnv(t, 12, 2)
	eng := e.engine()
	e.apply(eng)
	i := firstActive(e.dir)
	e.edit(func(d *source.Directory) { d.Users[i].DisplayName = "Renamed Person" })
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalIndentJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back sync.Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Changes) != 1 || back.Changes[0].Action != sync.ActionUpdateUser ||
		back.Changes[0].Attributes[0].Path != "displayName" || back.Changes[0].Attributes[0].After != "Renamed Person" {
		t.Fatalf("plan after a JSON round trip: %s", b)
	}
	var out strings.Builder
	if err := back.Render(&out, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 to update", "~ update-user", `displayName: "`, `→ "Renamed Person"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rendering lacks %q:\n%s", want, out.String())
		}
	}
	// A plan read back from JSON applies like the original.
	res, err := eng.Apply(ctx(t), &back)
	if err != nil || res.Applied != 1 {
		t.Fatalf("Apply of the decoded plan: %v, %+v", err, res)
	}
	e.mustBeEmpty(eng)
}
