package provlog_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// stopAfterCycle ends the example's Run after its first cycle; a service
// runs until it is told to stop instead.
type stopAfterCycle struct{ stop context.CancelFunc }

func (stopAfterCycle) ChangeDone(sync.ChangeEvent)  {}
func (s stopAfterCycle) CycleDone(sync.CycleReport) { s.stop() }

// A Runner writes each change to the provisioning log, which is then
// queried by object and outcome.
func Example() {
	dir, err := os.MkdirTemp("", "provlog")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	plog, err := provlog.Open(filepath.Join(dir, "prov.jsonl"), provlog.WithRotation(10<<20, 5))
	if err != nil {
		log.Fatal(err)
	}
	defer plog.Close()

	srv := netskopetest.NewServer()
	defer srv.Close()
	tgt, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	user := func(id, name string) source.User {
		return source.User{ID: id, UserName: name + "@example.com", GivenName: name, FamilyName: "Example",
			State: source.StateActive, Emails: []source.Email{{Value: name + "@example.com", Primary: true}}}
	}
	src := file.FromDirectory(&source.Directory{Users: []source.User{user("u1", "ada"), user("u2", "alan")}})
	eng, err := sync.New(src, tgt)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := sync.NewRunner(eng, sync.WithObserver(plog), sync.WithObserver(stopAfterCycle{cancel}))
	if err != nil {
		log.Fatal(err)
	}
	if err := run.Run(ctx); err != nil {
		log.Fatal(err)
	}

	events, err := plog.Query(provlog.Filter{Object: "ada@example.com", Outcome: sync.StatusApplied})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Action, e.Kind, e.SourceID, e.Name, e.Outcome)
	}
	failed, err := plog.Query(provlog.Filter{Outcome: sync.StatusFailed})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("failed:", len(failed))
	// Output:
	// create-user user u1 ada@example.com applied
	// failed: 0
}
