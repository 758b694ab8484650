// Package logtest holds the cases that every store of the provisioning
// log (sync/provlog's file, sync/pgstate's table) must answer alike: the
// events a test writes and the filters it queries them with.
package logtest

import (
	"fmt"
	"time"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
)

// T0 is the time of the first event.
var T0 = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// Base returns the i-th plain event of a test: an update of a user
// applied, one a minute from T0, ten a cycle.
func Base(i int) sync.ChangeEvent {
	return sync.ChangeEvent{Time: T0.Add(time.Duration(i) * time.Minute), Cycle: fmt.Sprintf("c%d", i/10),
		Action: sync.ActionUpdateUser, Kind: sync.KindUser, SourceID: fmt.Sprintf("s%d", i),
		TargetID: fmt.Sprintf("t%d", i), Name: fmt.Sprintf("user%d@example.com", i),
		Attributes: []string{"title"}, Outcome: sync.StatusApplied}
}

// Event returns the i-th event of a filter test: Base(i), but every
// fourth failed, every fifth is a delete, and the i with i%7 == 3 are
// groups.
func Event(i int) sync.ChangeEvent {
	ev := Base(i)
	if i%4 == 0 {
		ev.Outcome, ev.Error = sync.StatusFailed, "409 conflict"
	}
	if i%5 == 0 {
		ev.Action = sync.ActionDeleteUser
	}
	if i%7 == 3 {
		ev.Kind = sync.KindGroup
	}
	return ev
}

// Names returns the events' names, in order.
func Names(evs []provlog.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Name)
	}
	return out
}

// Events is how many events a filter test writes: Event(0) to
// Event(Events-1), in order.
const Events = 30

// Case is a filter and the events (by number) it selects, oldest first.
type Case struct {
	Name   string
	Filter provlog.Filter
	Want   []int
}

// Names returns the names of the events numbered want, in order.
func (c Case) Names() []string {
	var out []string
	for _, i := range c.Want {
		out = append(out, Event(i).Name)
	}
	return out
}

// Cases are the filter cases.
func Cases() []Case {
	return []Case{
		{"all", provlog.Filter{}, seq(0, 30)},
		{"since", provlog.Filter{Since: T0.Add(25 * time.Minute)}, seq(25, 30)},
		{"since half a microsecond after an event", provlog.Filter{Since: T0.Add(25*time.Minute + 500*time.Nanosecond)}, seq(26, 30)},
		{"until excludes its own minute", provlog.Filter{Until: T0.Add(3 * time.Minute)}, seq(0, 3)},
		{"until half a microsecond after an event", provlog.Filter{Until: T0.Add(3*time.Minute + 500*time.Nanosecond)}, seq(0, 4)},
		{"range", provlog.Filter{Since: T0.Add(10 * time.Minute), Until: T0.Add(12 * time.Minute)}, []int{10, 11}},
		{"source id", provlog.Filter{Object: "s7"}, []int{7}},
		{"target id", provlog.Filter{Object: "t17"}, []int{17}},
		{"name in another case", provlog.Filter{Object: "USER21@example.com"}, []int{21}},
		{"unknown object", provlog.Filter{Object: "nobody"}, nil},
		{"failed", provlog.Filter{Outcome: sync.StatusFailed}, []int{0, 4, 8, 12, 16, 20, 24, 28}},
		{"failed in a range", provlog.Filter{Outcome: sync.StatusFailed, Since: T0.Add(5 * time.Minute), Until: T0.Add(17 * time.Minute)}, []int{8, 12, 16}},
		{"applied object", provlog.Filter{Outcome: sync.StatusApplied, Object: "s8"}, nil},
		{"cycle", provlog.Filter{Cycle: "c2"}, seq(20, 30)},
		{"action", provlog.Filter{Action: sync.ActionDeleteUser}, []int{0, 5, 10, 15, 20, 25}},
		{"failed deletes", provlog.Filter{Action: sync.ActionDeleteUser, Outcome: sync.StatusFailed}, []int{0, 20}},
		{"kind", provlog.Filter{Kind: sync.KindGroup}, []int{3, 10, 17, 24}},
		{"kind and cycle", provlog.Filter{Kind: sync.KindGroup, Cycle: "c1"}, []int{10, 17}},
		{"no API calls", provlog.Filter{Kind: provlog.KindAPI}, nil},
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
