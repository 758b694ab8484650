package google

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"
	googleoauth "golang.org/x/oauth2/google"
	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/option"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/internal/httpx"
)

// Scopes are the read-only OAuth scopes the source needs; grant them to
// the service account's client id under domain-wide delegation.
var Scopes = []string{
	admin.AdminDirectoryUserReadonlyScope,
	admin.AdminDirectoryGroupReadonlyScope,
	admin.AdminDirectoryGroupMemberReadonlyScope,
}

// GroupSelection says which Google groups become source groups.
type GroupSelection string

const (
	// GroupsAuto (the default) is GroupsScope when ScopeGroups is set,
	// else GroupsAll.
	GroupsAuto GroupSelection = ""
	// GroupsAll reads every group of the customer (or domain).
	GroupsAll GroupSelection = "all"
	// GroupsScope reads only the groups named in ScopeGroups.
	GroupsScope GroupSelection = "scope"
	// GroupsNamed reads only the groups named in Groups.
	GroupsNamed GroupSelection = "named"
	// GroupsNone reads no groups: users only.
	GroupsNone GroupSelection = "none"
)

// Config configures a Google Workspace source. The zero value of every
// optional field is a working default; Open validates it and fills the
// defaults.
type Config struct {
	// ServiceAccountKey is a service account's JSON key file. With
	// AdminEmail it signs in through domain-wide delegation, impersonating
	// that administrator. It is a source.Secret: fmt (every verb), zap and
	// encoders print it as REDACTED, so printing a Config or a Source never
	// shows the private key. Its token_uri must be https, or http on a
	// loopback address: the signed assertion is sent there.
	ServiceAccountKey source.Secret `json:"-"`
	// AdminEmail is the administrator the service account impersonates;
	// required with ServiceAccountKey. It needs the privileges to read
	// users and groups (a super administrator, or a custom role).
	AdminEmail string `json:"adminEmail,omitempty"`
	// TokenSource authenticates requests when ServiceAccountKey is not
	// set: workload identity federation, a user's credentials, a fixed
	// token in tests.
	TokenSource oauth2.TokenSource `json:"-"`
	// HTTPClient is the client requests go through, before
	// authentication is added; http.DefaultClient's transport if nil.
	HTTPClient *http.Client `json:"-"`
	// ClientOptions are passed to admin.NewService after the source's
	// own, so they win; with option.WithHTTPClient the caller's client
	// must authenticate by itself.
	ClientOptions []option.ClientOption `json:"-"`
	// Endpoint is the Directory API's base URL, with a trailing slash:
	// https://admin.googleapis.com/ by default, a local test server in
	// tests. It must be https except on a loopback address.
	Endpoint string `json:"endpoint,omitempty"`

	// Customer is the account to read, "my_customer" (the default: the
	// admin's own account, all its domains) or a customer id. Domain
	// reads one domain instead.
	Customer string `json:"customer,omitempty"`
	Domain   string `json:"domain,omitempty"`

	// OrgUnits scopes users to these organizational units, by path such
	// as "/Sales"; their sub-units are included unless ExcludeSubUnits.
	OrgUnits        []string `json:"orgUnits,omitempty"`
	ExcludeSubUnits bool     `json:"excludeSubUnits,omitempty"`
	// ScopeGroups scopes users to the members of these groups, by email
	// or id, nested members included. With both OrgUnits and ScopeGroups
	// empty, every user of the customer is in scope.
	ScopeGroups []string `json:"scopeGroups,omitempty"`

	// Groups says which groups are read (see GroupSelection); Named lists
	// them, by email or id, for GroupsNamed.
	Groups GroupSelection `json:"groups,omitempty"`
	Named  []string       `json:"named,omitempty"`
	// SkipCustomerMembers leaves out a group's CUSTOMER member, the one
	// that stands for every user of the account (the Admin console's
	// "all users in the organization"). By default (false) such a member
	// makes every user in scope a member of the group, as Google's own
	// membership does, and the group says so: its attribute
	// AttrCustomerMember is true and the read logs it. The default keeps
	// what earlier versions did: skipping the member on an existing sync
	// would remove every one of those memberships at the target. With it
	// set, a scope group with a CUSTOMER member scopes only its other
	// members, and a group with one carries only its other members.
	SkipCustomerMembers bool `json:"skipCustomerMembers,omitempty"`
	// FlattenNested lists the users of nested groups as members of the
	// groups that contain them (Google's derived membership). Otherwise a
	// nested group read too is reported in MemberGroups, and one not read
	// is left out.
	FlattenNested bool `json:"flattenNested,omitempty"`

	// SkipDeleted leaves deleted users out. By default users deleted in
	// the last days (still listed with showDeleted) are read with state
	// deleted and their deletion time, so policy can act on the deletion
	// itself rather than on the user disappearing. They are read only
	// when the scope is the whole customer or organizational units: a
	// deleted user is no longer a member of any group.
	SkipDeleted bool `json:"skipDeleted,omitempty"`
	// CustomSchemas reads these custom schemas, as "Schema.field"
	// attributes; "*" reads all of them (projection full). None by
	// default.
	CustomSchemas []string `json:"customSchemas,omitempty"`

	// PageSize is users per users.list page, at most 500 (the default);
	// groups and members are read 200 a page, Google's maximum.
	PageSize int `json:"pageSize,omitempty"`
	// Concurrency is how many member listings run at once; default 4.
	Concurrency int `json:"concurrency,omitempty"`
	// RequestsPerMinute caps the request rate, under Google's quota of
	// 2,400 queries per minute per user; default 1,500. Negative means no
	// limit.
	RequestsPerMinute int `json:"requestsPerMinute,omitempty"`
	// MaxRetries is how many times a throttled or failed request is
	// retried (403 rateLimitExceeded, userRateLimitExceeded or
	// quotaExceeded, 429, 5xx, a broken connection): 0 means the default,
	// 5, and a negative number none, as in every provsync client.
	MaxRetries int `json:"maxRetries,omitempty"`
	// Backoff is the first retry's wait when the server names none,
	// doubling each time up to 30s, with full jitter; 0 means 1s. A
	// Retry-After header wins.
	Backoff time.Duration `json:"backoff,omitempty"`

	// Logger receives debug and warning logs without personal data;
	// zap.NewNop() if nil.
	Logger *zap.Logger `json:"-"`
}

// Default endpoint and customer.
const (
	DefaultEndpoint = "https://admin.googleapis.com/"
	MyCustomer      = "my_customer"
)

// ErrConfig is wrapped by every configuration error Open returns; it
// wraps source.ErrInvalid.
var ErrConfig = fmt.Errorf("google: bad configuration: %w", source.ErrInvalid)

// Open validates the configuration, fills the defaults and returns a
// source. It makes no request: credentials are first used by Read.
func (c Config) Open() (*Source, error) {
	if err := c.fill(); err != nil {
		return nil, err
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	opts := []option.ClientOption{option.WithEndpoint(c.Endpoint)}
	if hc != nil {
		opts = append(opts, option.WithHTTPClient(hc))
	}
	svc, err := admin.NewService(context.Background(), append(opts, c.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("google: creating the Directory client: %w", err)
	}
	// The key is in the token source now. The Source keeps no copy: fmt
	// prints a struct's unexported fields without their methods, so a
	// Secret there would print.
	c.ServiceAccountKey = ""
	return newSource(c, svc), nil
}

func (c *Config) fill() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	switch {
	case len(c.ServiceAccountKey) > 0 && c.AdminEmail == "":
		bad("AdminEmail: domain-wide delegation needs the administrator to impersonate")
	case len(c.ServiceAccountKey) > 0 && c.TokenSource != nil:
		bad("ServiceAccountKey and TokenSource: set one, not both")
	case len(c.ServiceAccountKey) == 0 && c.TokenSource == nil && !hasClientOptions(c.ClientOptions):
		bad("credentials: set ServiceAccountKey and AdminEmail, TokenSource, or ClientOptions")
	}
	if c.Customer != "" && c.Domain != "" {
		bad("Customer and Domain: set one, not both")
	}
	if c.Customer == "" && c.Domain == "" {
		c.Customer = MyCustomer
	}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if !strings.HasSuffix(c.Endpoint, "/") {
		c.Endpoint += "/"
	}
	if err := httpx.CheckURL(c.Endpoint); err != nil {
		bad("Endpoint: %v", err)
	}
	for i, ou := range c.OrgUnits {
		if !strings.HasPrefix(ou, "/") {
			bad("OrgUnits[%d] %q: an organizational unit path starts with /", i, ou)
		}
		if strings.Contains(ou, "'") {
			bad("OrgUnits[%d] %q: a path with a quote cannot be searched for", i, ou)
		}
	}
	for i, g := range c.ScopeGroups {
		if strings.TrimSpace(g) == "" {
			bad("ScopeGroups[%d]: empty group key", i)
		}
	}
	switch c.Groups {
	case GroupsAuto:
		c.Groups = GroupsAll
		if len(c.ScopeGroups) > 0 {
			c.Groups = GroupsScope
		}
	case GroupsAll, GroupsNone:
	case GroupsScope:
		if len(c.ScopeGroups) == 0 {
			bad("Groups %q: ScopeGroups is empty", c.Groups)
		}
	case GroupsNamed:
		if len(c.Named) == 0 {
			bad("Groups %q: Named is empty", c.Groups)
		}
	default:
		bad("Groups %q: want all, scope, named or none", c.Groups)
	}
	switch {
	case c.PageSize == 0:
		c.PageSize = 500
	case c.PageSize < 1 || c.PageSize > 500:
		bad("PageSize %d: users.list takes 1 to 500", c.PageSize)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = 1500
	}
	if c.Backoff < 0 {
		bad("Backoff %v: want 0 (the default) or more", c.Backoff)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return errors.Join(errs...)
}

// hasClientOptions reports whether the caller brought options that may
// carry credentials of their own.
func hasClientOptions(opts []option.ClientOption) bool { return len(opts) > 0 }

// httpClient builds the authenticated client: the token source (from the
// key, or the caller's) over the caller's transport. It returns nil when
// only ClientOptions were given, so that theirs decide.
func (c *Config) httpClient() (*http.Client, error) {
	base := http.DefaultTransport
	timeout := time.Duration(0)
	if c.HTTPClient != nil {
		timeout = c.HTTPClient.Timeout
		if c.HTTPClient.Transport != nil {
			base = c.HTTPClient.Transport
		}
	}
	ts := c.TokenSource
	if len(c.ServiceAccountKey) > 0 {
		jwt, err := googleoauth.JWTConfigFromJSON([]byte(c.ServiceAccountKey), Scopes...)
		if err != nil {
			// The parser's message does not quote the key.
			return nil, fmt.Errorf("%w: ServiceAccountKey: %v", ErrConfig, err)
		}
		// The signed assertion goes to token_uri; it must not cross a
		// network in the clear.
		if err := httpx.CheckURL(jwt.TokenURL); err != nil {
			return nil, fmt.Errorf("%w: ServiceAccountKey: token_uri %q: %v", ErrConfig, jwt.TokenURL, err)
		}
		if err := checkKey(jwt.PrivateKey); err != nil {
			return nil, fmt.Errorf("%w: ServiceAccountKey: private_key: %v", ErrConfig, err)
		}
		jwt.Subject = c.AdminEmail
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base, Timeout: 30 * time.Second})
		ts = jwt.TokenSource(ctx)
	}
	switch {
	case ts == nil && c.HTTPClient == nil:
		return nil, nil // the caller's ClientOptions authenticate
	case ts == nil:
		return c.HTTPClient, nil
	}
	return &http.Client{Transport: &oauth2.Transport{Source: ts, Base: base}, Timeout: timeout}, nil
}

// checkKey parses a key file's private key now, so that a damaged key is
// a configuration error at Open rather than a failed first request. The
// errors name no part of the key.
func checkKey(pemKey []byte) error {
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return errors.New("not a PEM block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return errors.New("neither a PKCS #8 nor a PKCS #1 private key")
	}
	return nil
}
