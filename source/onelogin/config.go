package onelogin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/internal/httpx"
)

// Status codes of a OneLogin user.
const (
	StatusUnactivated       = 0
	StatusActive            = 1
	StatusSuspended         = 2
	StatusLocked            = 3
	StatusPasswordExpired   = 4
	StatusAwaitingReset     = 5
	StatusPasswordPending   = 7
	StatusSecurityQuestions = 8
)

// Approval states of a OneLogin user (its state field).
const (
	// UserStateUnknown is passed to Config.State when a profile has no
	// state.
	UserStateUnknown    = -1
	UserStateUnapproved = 0
	UserStateApproved   = 1
	UserStateRejected   = 2
	UserStateUnlicensed = 3
)

// GroupSource says which OneLogin objects become source groups.
type GroupSource string

// Group sources.
const (
	// GroupsRolesAndGroups (the default) reports the roles that hold the
	// app and the OneLogin groups of users in scope. A role and a group
	// with the same name map to one Netskope displayName, which the sync
	// engine reports as a plan problem for both.
	GroupsRolesAndGroups GroupSource = ""
	// GroupsRoles reports roles only: one group per role that holds the
	// app, the groups the hosted connector's usual rule makes (it sends
	// groups only through rules, never OneLogin groups on their own).
	GroupsRoles GroupSource = "roles"
	// GroupsGroups reports OneLogin groups only.
	GroupsGroups GroupSource = "groups"
	// GroupsNone reports no groups.
	GroupsNone GroupSource = "none"
)

// Config configures a OneLogin source. The zero value of every optional
// field is a working default; Open validates it and fills the defaults.
type Config struct {
	// BaseURL is the account's API host: https://<subdomain>.onelogin.com,
	// or a legacy regional host (https://api.us.onelogin.com,
	// https://api.eu.onelogin.com). It must be https except on loopback.
	BaseURL string `json:"baseURL"`
	// ClientID and ClientSecret are an API credential pair with Read All
	// (or Manage All): listing app users needs it.
	ClientID     string        `json:"clientID"`
	ClientSecret source.Secret `json:"clientSecret"`
	// AuthStyle is how the credentials go to the token endpoint: in the
	// form body (the default, as documented) or as HTTP Basic
	// (oauth2.AuthStyleInHeader, as OneLogin's SDKs send them).
	AuthStyle oauth2.AuthStyle `json:"-"`
	// AppID is the Netskope app whose users are read.
	AppID int64 `json:"appID"`
	// SkipRoleUsers reads only /api/2/apps/{id}/users. By default the
	// users of the roles that hold the app are added, in case that listing
	// leaves out users who get the app through a role.
	SkipRoleUsers bool `json:"skipRoleUsers,omitempty"`
	// UserName is the OneLogin field that becomes the user name:
	// "email" (the default, as the Netskope connector's email parameter
	// defaults to email) or "username". Either falls back to the other
	// when empty.
	UserName string `json:"userName,omitempty"`
	// Groups says which OneLogin objects are reported as groups.
	Groups GroupSource `json:"groups,omitempty"`
	// State maps a user's status and state (UserStateUnknown if the
	// profile has none) to provsync's states. The default is DefaultState.
	State func(status, state int) source.State `json:"-"`
	// PageSize is items per page of user profile listings (default 50,
	// OneLogin's documented maximum for users); app and role user
	// listings ask for 1,000.
	PageSize int `json:"pageSize,omitempty"`
	// Concurrency is how many requests run at once; default 4.
	Concurrency int `json:"concurrency,omitempty"`
	// MaxRetries is how many times a 429, a 5xx or a broken connection is
	// retried: 0 means the default, 5, and a negative number none, as in
	// every provsync client.
	MaxRetries int `json:"maxRetries,omitempty"`
	// RateLimit, if positive, caps the requests a second this source
	// sends. Whatever it is, the source slows down when the
	// X-RateLimit-Remaining header falls under a tenth of the limit, and
	// waits for X-RateLimit-Reset when it reaches 0.
	RateLimit float64 `json:"rateLimit,omitempty"`
	// Backoff is the first retry's wait when the server names none,
	// doubling up to 30s, with full jitter; 0 means 1s. A Retry-After
	// header wins.
	Backoff time.Duration `json:"backoff,omitempty"`
	// Overlap is how far before the last run's start an incremental read
	// looks for updated users, against clock skew; default 5 minutes.
	Overlap time.Duration `json:"overlap,omitempty"`
	// HTTPClient's transport and timeout are used for every request.
	HTTPClient *http.Client `json:"-"`
	// Logger receives debug and warning logs without personal data or
	// credentials; zap.NewNop() if nil.
	Logger *zap.Logger `json:"-"`
}

// DefaultState is the documented default mapping. Only status 1 (Active,
// the one status that can sign in) is active, unless the user's state is
// 2 (Rejected: an administrator refused the account). Every other status
// (unactivated, suspended, locked, the password states) is suspended.
// States 0 (Unapproved) and 3 (Unlicensed) do not suspend an active user:
// OneLogin does not document that they stop a sign-in, and a wrong guess
// here would suspend users in bulk. OneLogin has no soft-deleted state: a
// deleted user is simply gone, and leaves scope.
func DefaultState(status, state int) source.State {
	if status == StatusActive && state != UserStateRejected {
		return source.StateActive
	}
	return source.StateSuspended
}

// ErrConfig is wrapped by every configuration error Open returns; it
// wraps source.ErrInvalid.
var ErrConfig = fmt.Errorf("onelogin: bad configuration: %w", source.ErrInvalid)

// Open validates the configuration, fills the defaults and returns a
// source. It makes no request.
func (c Config) Open() (*Source, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if err := httpx.CheckURL(c.BaseURL); err != nil {
		bad("BaseURL %q: %v", c.BaseURL, err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		bad("ClientID and ClientSecret: an API credential pair is required")
	}
	if c.AppID <= 0 {
		bad("AppID %d: the app's numeric id is required", c.AppID)
	}
	switch c.Groups {
	case GroupsRolesAndGroups, GroupsRoles, GroupsGroups, GroupsNone:
	default:
		bad("Groups %q: want roles, groups, none or empty for both", c.Groups)
	}
	switch c.UserName {
	case "":
		c.UserName = "email"
	case "email", "username":
	default:
		bad("UserName %q: want email or username", c.UserName)
	}
	switch {
	case c.PageSize == 0:
		c.PageSize = 50
	case c.PageSize < 1 || c.PageSize > 1000:
		bad("PageSize %d: want 1 to 1000", c.PageSize)
	}
	if c.RateLimit < 0 {
		bad("RateLimit %v: want a positive number of requests a second, or 0 for no cap", c.RateLimit)
	}
	if c.AuthStyle == oauth2.AuthStyleAutoDetect {
		c.AuthStyle = oauth2.AuthStyleInParams
	}
	if c.State == nil {
		c.State = DefaultState
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Backoff < 0 {
		bad("Backoff %v: want 0 (the default) or more", c.Backoff)
	}
	if c.Overlap <= 0 {
		c.Overlap = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Source{cfg: c, c: newClient(&c), log: c.Logger}
	// The token source holds the secret now; the Source keeps no copy, so
	// printing it with any fmt verb cannot show one (fmt prints an
	// unexported field's value raw, without its Format method).
	s.cfg.ClientSecret = ""
	return s, nil
}
