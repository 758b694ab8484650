package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/retry"
)

// Scope says which users and groups the source reads.
type Scope string

const (
	// ScopeAssigned (the default) reads the users and groups assigned to
	// the enterprise app, as Entra's "Sync only assigned users and groups"
	// does: users assigned directly, groups assigned and their direct
	// (or, with Transitive, nested) user members.
	ScopeAssigned Scope = "assigned"
	// ScopeAll reads every user and group of the tenant, as Entra's
	// "Sync all users and groups" does.
	ScopeAll Scope = "all"
)

// Cloud names the endpoints of one Microsoft cloud.
type Cloud struct {
	// GraphURL is the Graph base URL with the version, no trailing slash.
	GraphURL string
	// AuthorityHost is the Entra authority host, with a trailing slash.
	AuthorityHost string
	// TokenScope is the app-only scope of that cloud's Graph: its
	// service root + "/.default".
	TokenScope string
}

// The Microsoft clouds (see the package doc for the table and its
// source). Use one by copying its fields into Config.GraphURL,
// Config.AuthorityHost and Config.TokenScopes. A local test server is
// configured by setting those fields directly.
var (
	CloudPublic = Cloud{GraphURL: "https://graph.microsoft.com/v1.0", AuthorityHost: "https://login.microsoftonline.com/",
		TokenScope: "https://graph.microsoft.com/.default"}
	CloudUSGovernment = Cloud{GraphURL: "https://graph.microsoft.us/v1.0", AuthorityHost: "https://login.microsoftonline.us/",
		TokenScope: "https://graph.microsoft.us/.default"}
	CloudUSGovDoD = Cloud{GraphURL: "https://dod-graph.microsoft.us/v1.0", AuthorityHost: "https://login.microsoftonline.us/",
		TokenScope: "https://dod-graph.microsoft.us/.default"}
	CloudChina = Cloud{GraphURL: "https://microsoftgraph.chinacloudapi.cn/v1.0", AuthorityHost: "https://login.chinacloudapi.cn/",
		TokenScope: "https://microsoftgraph.chinacloudapi.cn/.default"}
)

// Secret is a string that never prints; it is source.Secret.
type Secret = source.Secret

// Config configures an Entra ID source. The zero value of every optional
// field is a working default; Open validates it and fills the defaults.
type Config struct {
	// Credential authenticates to Graph; any azcore.TokenCredential works
	// (azidentity's client secret, certificate, managed identity, workload
	// identity, Azure CLI credentials). When nil, TenantID, ClientID and
	// ClientSecret make a client secret credential.
	Credential azcore.TokenCredential `json:"-"`
	// TenantID, ClientID and ClientSecret are the app registration used
	// when Credential is nil. It needs the Graph application permissions
	// Application.Read.All (assignments), User.Read.All and
	// GroupMember.Read.All (or Directory.Read.All).
	TenantID     string `json:"tenantID,omitempty"`
	ClientID     string `json:"clientID,omitempty"`
	ClientSecret Secret `json:"clientSecret,omitempty"`

	// ServicePrincipalID is the object id of the enterprise app whose
	// assignments scope the sync (Entra admin center: Enterprise
	// applications, the app, Object ID). AppID, the app's application
	// (client) id, may be given instead. ScopeAssigned needs one.
	ServicePrincipalID string `json:"servicePrincipalID,omitempty"`
	AppID              string `json:"appID,omitempty"`

	// Scope is ScopeAssigned (default) or ScopeAll.
	Scope Scope `json:"scope,omitempty"`
	// IncludeDefaultAccess keeps assignments with the Default Access role:
	// the all-zero role id and the app's own default role (msiam_access,
	// whose value is null). The Netskope guides exclude them, and so does
	// this source by default.
	IncludeDefaultAccess bool `json:"includeDefaultAccess,omitempty"`
	// Transitive makes an assigned group's members include the users of
	// its nested groups. Off by default, as in Entra, whose provisioning
	// reads only the direct members of an assigned group.
	Transitive bool `json:"transitive,omitempty"`
	// UserAttributes are Graph user properties to read besides the ones
	// the default mapping needs (for example "city", "employeeType",
	// "onPremisesSamAccountName", "extension_<appid>_costCenter"). They
	// land in source.User.Attributes under their Graph names.
	UserAttributes []string `json:"userAttributes,omitempty"`
	// GuestUserName says what a guest's (B2B) user name is: "mail-alias"
	// (default) does what Entra's provisioning does with a UPN like
	// alias_theirdomain#EXT#@yourdomain: it becomes alias@theirdomain;
	// "upn" keeps the UPN with #EXT#. The full UPN is always kept in the
	// attribute "originalUserPrincipalName".
	GuestUserName string `json:"guestUserName,omitempty"`

	// GraphURL is the Graph base URL, version included. Default
	// CloudPublic.GraphURL; a national cloud's or a local test server's.
	GraphURL string `json:"graphURL,omitempty"`
	// AuthorityHost is the Entra authority for the client secret
	// credential. Default CloudPublic.AuthorityHost. It must be https.
	AuthorityHost string `json:"authorityHost,omitempty"`
	// TokenScopes are the scopes asked of the credential. Default: the
	// Graph URL's origin + "/.default", which is right for Microsoft's
	// clouds (Cloud.TokenScope). Set it when GraphURL is not Graph's own
	// host (a proxy or gateway): the token must still be for the cloud's
	// Graph, e.g. "https://graph.microsoft.us/.default".
	TokenScopes []string `json:"tokenScopes,omitempty"`
	// MaxRetries bounds the retries of a throttled (429) or failed (500,
	// 502, 503, 504) read: 0 means the default, 5, and a negative number
	// none, as in every provsync client. Each retry waits what
	// Retry-After says, else backs off; no retry starts once the waits of
	// one request add up to 180 s.
	MaxRetries int `json:"maxRetries,omitempty"`
	// Backoff is the first retry's wait when Graph names none, doubling
	// each time up to 30s, with full jitter; 0 means 1s.
	Backoff time.Duration `json:"backoff,omitempty"`
	// PageSize is the $top of list requests, 1 to 999. Default 999.
	PageSize int `json:"pageSize,omitempty"`
	// HTTPClient, when set, carries the Graph requests (under the retry
	// and logging middleware) and the token requests of the client secret
	// credential. Its Transport is used, and its Timeout if set.
	HTTPClient *http.Client `json:"-"`
	// Logger receives warnings (assignment not required, throttling,
	// fallbacks to a full read) and debug lines per request. Default:
	// none. Neither tokens nor secrets are logged.
	Logger *zap.Logger `json:"-"`
	// Name is the source's name in logs and plans. Default "entra".
	Name string `json:"name,omitempty"`

	// retrySleep, if set, waits between retries instead of the real
	// clock (tests).
	retrySleep func(ctx context.Context, d time.Duration) error
}

// Guest user name styles.
const (
	GuestUserNameMailAlias = "mail-alias"
	GuestUserNameUPN       = "upn"
)

const (
	maxPageSize = 999
	// retryBudget bounds the waits of one request's retries, as kiota's
	// retry handler, which this source used before, does.
	retryBudget = 180 * time.Second
)

// MarshalLogObject logs the configuration without the secret or the
// credential.
func (c Config) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("scope", string(c.Scope))
	if c.ServicePrincipalID != "" {
		enc.AddString("servicePrincipalID", c.ServicePrincipalID)
	}
	if c.AppID != "" {
		enc.AddString("appID", c.AppID)
	}
	enc.AddString("graphURL", c.GraphURL)
	enc.AddBool("includeDefaultAccess", c.IncludeDefaultAccess)
	enc.AddBool("transitive", c.Transitive)
	return nil
}

// userFieldProps are the Graph user properties the source maps to typed
// fields (and, for the UPN, the attribute originalUserPrincipalName):
// every read asks for them.
var userFieldProps = []string{"id", "userPrincipalName", "mail", "otherMails", "givenName", "surname",
	"displayName", "accountEnabled"}

// userAttrProps are the Graph user properties the source maps to the
// attributes of the same name; Read asks for them, ReadAttributes for
// those it keeps.
var userAttrProps = []string{"employeeId", "department", "jobTitle", "userType"}

// builtinUserAttrs are the Graph user properties Read always reads.
var builtinUserAttrs = slices.Concat(userFieldProps, userAttrProps)

// withDefaults validates c and returns it with every default filled.
// Errors match source.ErrInvalid.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Scope == "" {
		c.Scope = ScopeAssigned
	}
	switch c.Scope {
	case ScopeAssigned:
		if c.ServicePrincipalID == "" && c.AppID == "" {
			bad("scope %q needs the enterprise app: set ServicePrincipalID (its object id) or AppID (its application id)", c.Scope)
		}
	case ScopeAll:
	default:
		bad("unknown scope %q (want %q or %q)", c.Scope, ScopeAssigned, ScopeAll)
	}
	if c.ServicePrincipalID != "" && c.AppID != "" {
		bad("set ServicePrincipalID or AppID, not both")
	}
	if c.Credential == nil {
		switch {
		case c.TenantID == "" && c.ClientID == "" && c.ClientSecret == "":
			bad("no credential: set Credential, or TenantID, ClientID and ClientSecret")
		case c.TenantID == "" || c.ClientID == "" || c.ClientSecret == "":
			bad("a client secret credential needs TenantID, ClientID and ClientSecret; one is empty")
		}
	}
	if c.GraphURL == "" {
		c.GraphURL = CloudPublic.GraphURL
	}
	c.GraphURL = strings.TrimRight(c.GraphURL, "/")
	gu, err := url.Parse(c.GraphURL)
	if err != nil || gu.Host == "" || (gu.Scheme != "https" && gu.Scheme != "http") {
		bad("GraphURL %q is not an absolute http(s) URL", c.GraphURL)
	} else if gu.Scheme == "http" && !isLoopback(gu.Hostname()) {
		bad("GraphURL %q: plain http is allowed for localhost only", c.GraphURL)
	}
	if c.AuthorityHost == "" {
		c.AuthorityHost = CloudPublic.AuthorityHost
	}
	if !strings.HasSuffix(c.AuthorityHost, "/") {
		c.AuthorityHost += "/"
	}
	if au, err := url.Parse(c.AuthorityHost); err != nil || au.Scheme != "https" || au.Host == "" {
		bad("AuthorityHost %q is not an https URL", c.AuthorityHost)
	}
	if len(c.TokenScopes) == 0 && gu != nil && gu.Host != "" {
		c.TokenScopes = []string{gu.Scheme + "://" + gu.Host + "/.default"}
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = retry.DefaultMaxRetries
	}
	if c.Backoff < 0 {
		bad("Backoff %v: want 0 (the default) or more", c.Backoff)
	}
	switch {
	case c.PageSize == 0:
		c.PageSize = maxPageSize
	case c.PageSize < 1 || c.PageSize > maxPageSize:
		bad("PageSize %d is out of range 1..%d", c.PageSize, maxPageSize)
	}
	switch c.GuestUserName {
	case "":
		c.GuestUserName = GuestUserNameMailAlias
	case GuestUserNameMailAlias, GuestUserNameUPN:
	default:
		bad("GuestUserName %q: want %q or %q", c.GuestUserName, GuestUserNameMailAlias, GuestUserNameUPN)
	}
	var extra []string
	for _, a := range c.UserAttributes {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			bad("UserAttributes has an empty name")
		case strings.ContainsAny(a, ",()/ $"):
			bad("UserAttributes: %q is not a property name", a)
		case slices.ContainsFunc(builtinUserAttrs, func(b string) bool { return strings.EqualFold(a, b) }),
			slices.ContainsFunc(extra, func(b string) bool { return strings.EqualFold(a, b) }):
			// read anyway
		default:
			extra = append(extra, a)
		}
	}
	c.UserAttributes = extra
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Name == "" {
		c.Name = "entra"
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("%w: entra config: %w", source.ErrInvalid, errors.Join(errs...))
	}
	return c, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// userSelect returns the $select of every user read.
func (c *Config) userSelect() []string {
	return append(slices.Clone(builtinUserAttrs), c.UserAttributes...)
}

// fingerprint identifies the settings a cursor depends on: a cursor made
// under other settings is not used.
func (c *Config) fingerprint() string {
	return shortHash(strings.Join([]string{string(c.Scope), c.ServicePrincipalID, strings.ToLower(c.AppID),
		fmt.Sprint(c.IncludeDefaultAccess), fmt.Sprint(c.Transitive), c.GuestUserName,
		strings.Join(c.userSelect(), ","), c.GraphURL}, "|"))
}
