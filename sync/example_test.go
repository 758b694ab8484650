package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// exampleDirectory is what the examples' source holds: two active users,
// a suspended one, and a group.
func exampleDirectory() *source.Directory {
	user := func(id, name string, state source.State) source.User {
		return source.User{ID: id, UserName: name + "@example.com", GivenName: name, FamilyName: "Example", State: state,
			Emails: []source.Email{{Value: name + "@example.com", Primary: true}}}
	}
	return &source.Directory{
		Users: []source.User{user("u1", "ada", source.StateActive), user("u2", "alan", source.StateActive),
			user("u3", "grace", source.StateSuspended)},
		Groups: []source.Group{{ID: "g1", DisplayName: "Engineering", Members: []string{"u1", "u2"}}},
	}
}

// exampleTarget starts the embedded Netskope server and returns a client
// for it.
func exampleTarget() (*netskope.Client, func()) {
	srv := netskopetest.NewServer()
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	return client, srv.Close
}

// Plan, review, apply: a plan changes nothing; it can be rendered for
// people or marshalled for a review step, and Apply carries out exactly
// it. Right after, a new plan is empty.
func Example() {
	src := file.FromDirectory(exampleDirectory())
	tgt, stop := exampleTarget()
	defer stop()
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	eng, err := sync.New(src, tgt,
		sync.WithState(sync.NewMemoryState()), // sync.NewFileState(path) in a real run
		sync.WithClock(func() time.Time { return now }))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	plan, err := eng.Plan(ctx) // a dry run: nothing is written
	if err != nil {
		log.Fatal(err) // a failed source read plans nothing
	}
	if err := plan.Render(os.Stdout, 10); err != nil {
		log.Fatal(err)
	}
	if _, err := json.Marshal(plan); err != nil { // for a review elsewhere
		log.Fatal(err)
	}
	if !plan.Applyable {
		log.Fatalf("held back: %v", plan.Reasons)
	}
	res, err := eng.Apply(ctx, plan)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.SummaryLine())

	again, err := eng.Plan(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.SummaryLine())
	// Output:
	// Users: 2 to create, 0 to update, 0 to deactivate, 0 to delete. Groups: 1 to create, 0 to update, 0 to delete. Memberships: +2 -0. Drift check: the target was read in full.
	//   + create-user user "ada@example.com" (new at source)
	//   + create-user user "alan@example.com" (new at source)
	//   + create-group group "Engineering" (new at source)
	//       + ada@example.com
	//       + alan@example.com
	// 3 applied, 0 failed, 0 skipped in 0s
	// No changes: 2 users and 1 groups are up to date.
}

// Sync plans and applies in one call; DryRun stops after the plan, and
// apply options such as Confirm go to the same call.
func ExampleEngine_Sync() {
	src := file.FromDirectory(exampleDirectory())
	tgt, stop := exampleTarget()
	defer stop()
	pol := sync.DefaultPolicy()
	pol.CreateSuspended = true // create Grace, suspended at the source, inactive
	eng, err := sync.New(src, tgt, sync.WithPolicy(pol))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	plan, res, err := eng.Sync(ctx, sync.DryRun())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("dry run:", plan.Summary.CreateUsers, "users to create; applied:", res != nil)
	plan, res, err = eng.Sync(ctx, sync.Confirm())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied", res.Applied, "changes;", plan.Changes[2].Object, "-", plan.Changes[2].Reason)
	// Output:
	// dry run: 3 users to create; applied: false
	// applied 4 changes; user "grace@example.com" - new at source, suspended there: created inactive
}
