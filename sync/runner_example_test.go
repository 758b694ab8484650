package sync_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
)

// stopAfterFirstCycle is an Observer that ends the example's Run after
// its first cycle; a service runs until it is told to stop instead.
type stopAfterFirstCycle struct{ stop context.CancelFunc }

func (stopAfterFirstCycle) ChangeDone(sync.ChangeEvent) {}

func (o stopAfterFirstCycle) CycleDone(c sync.CycleReport) {
	fmt.Printf("cycle %s: %s, %d applied\n", c.Trigger, c.Outcome, c.Applied)
	o.stop()
}

// A Runner runs an engine unattended: a cycle at once, then one every
// interval, backing off into quarantine when cycles fail. A service
// runs it until a signal ends its context and serves Status for health
// checks.
func ExampleRunner() {
	src := file.FromDirectory(exampleDirectory())
	tgt, stopTarget := exampleTarget()
	defer stopTarget()
	eng, err := sync.New(src, tgt) // with sync.WithState(sync.NewFileState(path)) in a service
	if err != nil {
		log.Fatal(err)
	}
	// In a service: signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := sync.NewRunner(eng,
		sync.WithInterval(40*time.Minute), sync.WithJitter(5*time.Minute),
		sync.WithHeldPlans(sync.HeldWait),
		sync.WithObserver(stopAfterFirstCycle{cancel}))
	if err != nil {
		log.Fatal(err)
	}
	if err := run.Run(ctx); err != nil {
		log.Fatal(err)
	}
	s := run.Status()
	fmt.Println("state:", s.State, "quarantined:", s.Quarantine != nil)
	// Output:
	// cycle start: succeeded, 3 applied
	// state: stopped quarantined: false
}
