package sync_test

import (
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
)

func TestCreateSuspended(t *testing.T) {
	for _, tt := range []struct {
		name   string
		create bool
	}{{"skipped by default", false}, {"created inactive by policy", true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 4, 1)
			for i := range e.dir.Users {
				e.dir.Users[i].State = source.StateActive
			}
			e.dir.Users[0].State = source.StateSuspended
			e.src.Set(e.dir)
			pol := sync.DefaultPolicy()
			pol.CreateSuspended = tt.create
			eng := e.engine(sync.WithPolicy(pol))
			e.apply(eng)
			name := e.dir.Users[0].UserName
			var found bool
			for _, u := range e.srv.Users() {
				if u.UserName == name {
					found = true
					if u.IsActive() {
						t.Errorf("%s was created active", name)
					}
				}
			}
			if found != tt.create {
				t.Fatalf("suspended user in Netskope: %v, want %v", found, tt.create)
			}
			e.mustBeEmpty(eng)

			// Activated at the source: created, or reactivated.
			e.dir.Users[0].State = source.StateActive
			e.src.Set(e.dir)
			p, _ := e.apply(eng)
			want := sync.Summary{CreateUsers: 1}
			if tt.create {
				want = sync.Summary{UpdateUsers: 1}
			}
			if p.Summary.CreateUsers != want.CreateUsers || p.Summary.UpdateUsers != want.UpdateUsers {
				t.Errorf("after activation: %+v, want %+v", p.Summary, want)
			}
		})
	}
}

func TestCreateSuspendedNeedsNoDelete(t *testing.T) {
	pol := sync.DefaultPolicy()
	pol.CreateSuspended, pol.Suspended = true, sync.Delete
	if err := pol.Validate(); err == nil {
		t.Fatal("createSuspended with suspended: delete validated")
	}
}
