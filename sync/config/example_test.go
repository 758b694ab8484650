package config_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// A configuration file holds what an administrator sets in a console;
// Options turns it into engine options (Load reads it from a file).
func Example() {
	cfg, err := config.Parse([]byte(`
mapping:
  groupRules:
    - name: engineers
      conditions: [{attribute: department, operator: equals, value: Engineering}]
      actions: [{setGroup: Netskope Engineering}]
  skipSourceGroups: true
policy:
  leftScope: delete
  createSuspended: true
`))
	if err != nil {
		log.Fatal(err)
	}
	src := file.FromDirectory(&source.Directory{Users: []source.User{
		{ID: "1", UserName: "ada@example.com", State: source.StateActive, Attributes: source.NewAttrs(map[string]any{"department": "Engineering"})},
		{ID: "2", UserName: "bob@example.com", State: source.StateSuspended},
	}})
	srv := netskopetest.NewServer()
	defer srv.Close()
	tgt, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	eng, err := sync.New(src, tgt, cfg.Options()...)
	if err != nil {
		log.Fatal(err)
	}
	plan, err := eng.Plan(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	var b strings.Builder
	if err := plan.Render(&b, 0); err != nil {
		log.Fatal(err)
	}
	fmt.Print(b.String())
	// Output:
	// Users: 2 to create, 0 to update, 0 to deactivate, 0 to delete. Groups: 1 to create, 0 to update, 0 to delete. Memberships: +1 -0. Drift check: the target was read in full.
	//   + create-user user "ada@example.com" (new at source)
	//   + create-user user "bob@example.com" (new at source, suspended there: created inactive)
	//   + create-group group "Netskope Engineering" (new at source)
	//       + ada@example.com
}

// Every problem is reported at once, with its line and column.
func ExampleParse_errors() {
	_, err := config.Parse([]byte(`
mapping:
  users:
    - {target: userName, type: direct, source: mail}
    - {target: shoeSize, type: direct, source: mailNickname}
policy:
  leftScope: erase
`))
	fmt.Println(err)
	// Output:
	// 7:3: policy: config: invalid: sync: policy leftScope: "erase" is not one of deactivate, delete, none
	// 5:16: mapping.users[1].target: config: invalid: mapping: bad attribute mapping: "shoeSize" is not a SCIM user attribute provsync can write
}
