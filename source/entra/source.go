package entra

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"
	"sync/atomic"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// Source reads users and groups from Microsoft Entra ID through Microsoft
// Graph. It is safe for concurrent use.
type Source struct {
	cfg     Config
	adapter abstractions.RequestAdapter
	users   *users.UsersRequestBuilder
	groups  *groups.GroupsRequestBuilder
	sps     *serviceprincipals.ServicePrincipalsRequestBuilder
	log     *zap.Logger

	requests atomic.Int64

	mu       gosync.Mutex
	required *bool // the app's appRoleAssignmentRequired, when read
}

var (
	_ source.Source         = (*Source)(nil)
	_ source.Incremental    = (*Source)(nil)
	_ source.RequestCounter = (*Source)(nil)
)

// Open validates the configuration, fills its defaults and returns a
// source. It makes no request: a wrong credential or app id shows on the
// first read. Errors match source.ErrInvalid.
func (c Config) Open() (*Source, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	cred := cfg.Credential
	if cred == nil {
		if cred, err = newCredential(&cfg); err != nil {
			return nil, err
		}
	}
	// The secret is in the credential now. The Source keeps no copy: fmt
	// prints a struct's unexported fields without their methods, so a
	// Secret there would print.
	cfg.ClientSecret = ""
	s := &Source{cfg: cfg, log: cfg.Logger.With(zap.String("source", cfg.Name))}
	cfg.Logger = s.log
	if s.adapter, err = newAdapter(&cfg, cred, &s.requests); err != nil {
		return nil, err
	}
	s.adapter = odataAdapter{s.adapter}
	root := map[string]string{}
	s.users = users.NewUsersRequestBuilderInternal(root, s.adapter)
	s.groups = groups.NewGroupsRequestBuilderInternal(root, s.adapter)
	s.sps = serviceprincipals.NewServicePrincipalsRequestBuilderInternal(root, s.adapter)
	return s, nil
}

// NewClientSecret returns a source for the users and groups assigned to
// the enterprise app whose application (client) id is appID, signing in
// as the app registration clientID of tenantID with a client secret, in
// Microsoft's public cloud. Use Config for anything else.
func NewClientSecret(tenantID, clientID, clientSecret, appID string) (*Source, error) {
	return Config{TenantID: tenantID, ClientID: clientID, ClientSecret: Secret(clientSecret), AppID: appID}.Open()
}

// Name returns the configured name, "entra" by default.
func (s *Source) Name() string { return s.cfg.Name }

// Config returns the configuration with its defaults filled.
func (s *Source) Config() Config { return s.cfg }

// AssignmentRequired reports the enterprise app's
// appRoleAssignmentRequired as of the last read, and whether a read has
// seen it. When it is false anyone in the tenant can sign in to the app,
// so the assigned users are not everyone who has access; every read
// logs a warning then.
func (s *Source) AssignmentRequired() (required, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.required == nil {
		return false, false
	}
	return *s.required, true
}

// Requests returns how many HTTP requests the source sent to Graph,
// retries included, since it was opened.
func (s *Source) Requests() int64 { return s.requests.Load() }

// RequestCount is Requests, as source.RequestCounter asks.
func (s *Source) RequestCount() int64 { return s.Requests() }

// Read returns every user and group in scope, or an error and no
// directory. It does not use delta queries (ReadChanges does).
func (s *Source) Read(ctx context.Context) (*source.Directory, error) {
	snap, err := s.readFull(ctx, false, nil)
	if err != nil {
		return nil, withContext(ctx, err)
	}
	return snap.dir, nil
}

// withContext makes sure an error caused by the context matches its error.
func withContext(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", err, cerr)
	}
	return err
}

// ReadChanges returns what changed since cursor: an empty cursor, one
// made with other settings, or one whose delta tokens Graph no longer
// honours (410 Gone, syncStateNotFound) give a full read with Full set.
// Assignments are re-read every time, since Graph has no delta for them.
// The returned cursor holds the users/delta and groups/delta links and
// the ids in scope; it holds no credential.
func (s *Source) ReadChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	ch, err := s.readChanges(ctx, cursor)
	if err != nil {
		return nil, withContext(ctx, err)
	}
	return ch, nil
}

func (s *Source) readChanges(ctx context.Context, cursor string) (*source.Changes, error) {
	if cursor == "" {
		return s.fullChanges(ctx)
	}
	cur, err := decodeCursor(cursor)
	switch {
	case errors.Is(err, errOldCursor):
		s.log.Info("the cursor was made by another version of this source; reading everything")
		return s.fullChanges(ctx)
	case err != nil:
		return nil, fmt.Errorf("%w: entra: cursor: %w", source.ErrInvalid, err)
	case cur.Fingerprint != s.cfg.fingerprint():
		s.log.Info("the cursor was made with other settings; reading everything")
		return s.fullChanges(ctx)
	}
	var ch *source.Changes
	if s.cfg.Scope == ScopeAll {
		ch, err = s.changesAll(ctx, cur)
	} else {
		ch, err = s.changesAssigned(ctx, cur)
	}
	if errors.Is(err, errFallback) {
		s.log.Warn("incremental read not possible; reading everything", zap.Error(err))
		return s.fullChanges(ctx)
	}
	if err != nil {
		return nil, err
	}
	return ch, nil
}

func (s *Source) fullChanges(ctx context.Context) (*source.Changes, error) {
	snap, err := s.readFull(ctx, true, nil)
	if err != nil {
		return nil, err
	}
	c, err := snap.cur.encode()
	if err != nil {
		return nil, err
	}
	return &source.Changes{Users: snap.dir.Users, Groups: snap.dir.Groups, Cursor: c, Full: true}, nil
}

// errFallback says an incremental read has to become a full one.
var errFallback = errors.New("delta token expired or rejected")

func (s *Source) setRequired(v bool) {
	s.mu.Lock()
	s.required = &v
	s.mu.Unlock()
	if !v {
		s.log.Warn("the enterprise app does not require assignment (appRoleAssignmentRequired is false): " +
			"anyone in the tenant can sign in to it, but only assigned users and groups are synced; " +
			"set \"Assignment required?\" to Yes in the app's properties")
	}
}
