package google

import (
	"github.com/provsync/provsync/sync"
)

// LogEventName is one of the admin log events Google Workspace records for
// automated user provisioning.
type LogEventName string

// The events of Google's "Monitor automated user provisioning" log.
const (
	EventCreateUser LogEventName = "Create User By Auto Provisioning"
	EventUpdateUser LogEventName = "Update Auto Provisioned User"
	EventHardDelete LogEventName = "Hard Delete Auto Provisioned User"
	EventFailure    LogEventName = "Failures"
)

// LogEvent is one entry of a provisioning run, in the terms of Google's
// admin log.
type LogEvent struct {
	// Event is the admin log event.
	Event LogEventName `json:"event"`
	// Object is the user (or, for a failure, the group) concerned.
	Object sync.Ref `json:"object"`
	// Action is the engine's change behind the event.
	Action sync.Action `json:"action"`
	// Error says why a change failed; empty otherwise.
	Error string `json:"error,omitempty"`
}

// AdminLog reads an engine result as Google's admin log reads a
// provisioning run: a created user is Create User By Auto Provisioning; an
// updated or deactivated (suspended) user is Update Auto Provisioned User;
// a deleted user is Hard Delete Auto Provisioned User; every change that
// failed, user or group, is a Failures entry. Group changes that succeeded
// and skipped changes have no entry, as Google's log has none for them.
// Events follow the result's order.
func AdminLog(res *sync.Result) []LogEvent {
	if res == nil {
		return nil
	}
	var out []LogEvent
	for _, o := range res.Outcomes {
		ev := LogEvent{Object: o.Object, Action: o.Action}
		switch {
		case o.Status == sync.StatusFailed:
			ev.Event, ev.Error = EventFailure, o.Error
		case o.Status != sync.StatusApplied:
			continue
		case o.Action == sync.ActionCreateUser:
			ev.Event = EventCreateUser
		case o.Action == sync.ActionUpdateUser || o.Action == sync.ActionDeactivateUser:
			ev.Event = EventUpdateUser
		case o.Action == sync.ActionDeleteUser:
			ev.Event = EventHardDelete
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// LogCounts counts a result's events by name, as the usage summary of
// Google's console shows them.
func LogCounts(res *sync.Result) map[LogEventName]int {
	out := map[LogEventName]int{}
	for _, ev := range AdminLog(res) {
		out[ev.Event]++
	}
	return out
}
