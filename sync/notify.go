package sync

import (
	"context"
	"slices"
	"strings"
	"time"
)

// NotificationKind is what a Notification reports.
type NotificationKind string

// Notification kinds.
const (
	// NotifyQuarantined: a cycle failed and the Runner backs off; the
	// notification carries the reason and the next attempt. It is sent
	// on entering quarantine and when the reason changes.
	NotifyQuarantined NotificationKind = "quarantined"
	// NotifyRecovered: the first healthy cycle after a quarantine.
	NotifyRecovered NotificationKind = "recovered"
	// NotifyPlanHeld: a plan waits for a confirmation (a deletion limit,
	// or a scope that accepts no one); see HeldPlans for what the Runner
	// does meanwhile.
	NotifyPlanHeld NotificationKind = "plan-held"
	// NotifyApprovalPending: changes wait for an administrator's
	// approval (Policy.RequireApproval).
	NotifyApprovalPending NotificationKind = "approval-pending"
	// NotifyPersistentFailure: a change failed as often as the Runner's
	// retry limit allows (WithRetryLimit) and is no longer retried; the
	// notification carries the object and the last error. It is sent once
	// per object and error.
	NotifyPersistentFailure NotificationKind = "persistent-failure"
)

// Notification is an alert for people: quarantine entered or left, a
// plan held, approvals pending. It carries names, counts and error
// messages, never a credential or an attribute value.
type Notification struct {
	Kind NotificationKind `json:"kind"`
	Time time.Time        `json:"time"`
	// Source and Target name the two sides, as plans do.
	Source string `json:"source,omitempty"`
	Target string `json:"target,omitempty"`
	// Cycle is the id of the cycle that raised it.
	Cycle string `json:"cycle,omitempty"`
	// Message says what happened in one line.
	Message string `json:"message"`
	// Quarantine is set on quarantined notifications.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
	// Held is set on plan-held notifications.
	Held *HeldPlan `json:"held,omitempty"`
	// Approvals are the ids of the changes pending approval.
	Approvals []string `json:"approvals,omitempty"`
	// Failure is set on persistent-failure notifications.
	Failure *EscrowEntry `json:"failure,omitempty"`
}

// Notifier delivers notifications, e.g. to a webhook (package
// sync/webhook). The Runner calls it from its loop with a bounded
// context; an error is logged and the notification dropped.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// ChangeEvent is the outcome of one change a Runner's cycle applied: the
// record a provisioning log keeps. It marshals to JSON with the names of
// the attributes changed but none of their values.
type ChangeEvent struct {
	Time     time.Time `json:"time"`
	Cycle    string    `json:"cycle"`
	Action   Action    `json:"action"`
	Kind     Kind      `json:"kind"`
	SourceID string    `json:"sourceId,omitempty"`
	TargetID string    `json:"targetId,omitempty"`
	// Name is the user's userName or the group's displayName.
	Name string `json:"name"`
	// Attributes are the paths of the attributes an update changed,
	// "members" for membership changes; empty for creates and deletes.
	Attributes []string `json:"attributes,omitempty"`
	Outcome    Status   `json:"outcome"`
	Error      string   `json:"error,omitempty"`
	// Retries is how many earlier cycles tried the change and failed
	// (the escrow's count of attempts).
	Retries int `json:"retries"`
	// Changes are the attribute changes of an update with their values,
	// for an observer configured to record values (a provisioning log's
	// option). They never marshal with the event.
	Changes []AttrChange `json:"-"`
}

// Observer hears what a Runner does: each change applied and each cycle
// finished. Provisioning logs and metrics plug in here. Calls come from
// one goroutine at a time and should return quickly.
type Observer interface {
	// ChangeDone is called after each change of a cycle.
	ChangeDone(ChangeEvent)
	// CycleDone is called after each cycle, once the status is updated
	// and the notifications are sent.
	CycleDone(CycleReport)
}

// changeEvent makes the event of one outcome of change c.
func changeEvent(now time.Time, cycle string, c *Change, o Outcome) ChangeEvent {
	ev := ChangeEvent{Time: now, Cycle: cycle, Action: o.Action, Kind: o.Object.Kind,
		SourceID: o.Object.SourceID, TargetID: o.TargetID, Name: o.Object.Key, Outcome: o.Status, Error: o.Error}
	if ev.TargetID == "" {
		ev.TargetID = o.Object.TargetID
	}
	switch c.Action {
	case ActionAddMembers, ActionRemoveMembers:
		ev.Attributes = []string{"members"}
	case ActionUpdateUser, ActionUpdateGroup, ActionDeactivateUser:
		for _, a := range c.Attributes {
			ev.Attributes = append(ev.Attributes, a.Path)
		}
		ev.Changes = slices.Clone(c.Attributes)
	}
	return ev
}

// alertLimiter rate-limits identical notifications: one with the same
// kind and key as one sent less than every ago is dropped.
type alertLimiter struct {
	every time.Duration
	sent  map[string]time.Time
}

func alertKey(kind NotificationKind, key string) string { return string(kind) + "\x00" + key }

// allow reports whether the notification may go out now, and if so
// remembers it.
func (l *alertLimiter) allow(kind NotificationKind, key string, now time.Time) bool {
	k := alertKey(kind, key)
	if at, ok := l.sent[k]; ok && now.Sub(at) < l.every {
		return false
	}
	if l.sent == nil {
		l.sent = map[string]time.Time{}
	}
	l.sent[k] = now
	return true
}

// forget drops what was sent of kind, so the next one goes out: a
// change of state (quarantine left) makes a new alert of the opposite
// kind no repeat.
func (l *alertLimiter) forget(kind NotificationKind) {
	for k := range l.sent {
		if strings.HasPrefix(k, string(kind)+"\x00") {
			delete(l.sent, k)
		}
	}
}
