package google

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

// Event names the admin log event of one change a provisioning run made,
// as Google's log would record it. action is the engine's name of the
// change (the value of a sync.Action: "create-user", "update-user",
// "deactivate-user", "delete-user", "add-members", ...) and failed says
// whether it failed. A created user is Create User By Auto Provisioning;
// an updated or deactivated (suspended) user is Update Auto Provisioned
// User; a deleted user is Hard Delete Auto Provisioned User; every change
// that failed, user or group, is Failures. ok is false for the changes
// Google's log has no entry for: group changes that succeeded. Changes
// that were skipped have no entry either; do not ask for them.
//
// The source package does not import the engine, so a program reads a
// run's result with this mapping (examples/google prints one).
func Event(action string, failed bool) (ev LogEventName, ok bool) {
	if failed {
		return EventFailure, true
	}
	switch action {
	case "create-user":
		return EventCreateUser, true
	case "update-user", "deactivate-user":
		return EventUpdateUser, true
	case "delete-user":
		return EventHardDelete, true
	}
	return "", false
}
