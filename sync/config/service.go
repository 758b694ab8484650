package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/provsync/provsync/source/merge"
	"github.com/provsync/provsync/sync"
)

// Service is what a program that runs the sync as a service reads from
// the file besides the mapping and policy: the source, the target, the
// state, the schedule, the webhook and the HTTP listener. Every key is
// optional to Parse; RequireService checks that a service can start.
//
//	source:                      # exactly one of entra, google, onelogin, file
//	  entra:    {tenantId: ..., clientId: ..., clientSecret: {env: AZURE_CLIENT_SECRET}, appId: ...}
//	  google:   {adminEmail: ..., customer: my_customer, domain: "", keyFile: /etc/provsync/sa.json}
//	  onelogin: {url: https://acme.onelogin.com, clientId: ..., clientSecret: {env: ONELOGIN_CLIENT_SECRET}, appId: 123}
//	  file:     {path: directory.yaml}
//	sources:                     # or several, merged, in precedence order (see source/merge)
//	  - name: employees          # letters, digits, . _ -; ids become "employees/<id>"
//	    entra: {...}             # exactly one of entra, google, onelogin, file, as under source
//	  - name: contractors
//	    google: {...}
//	merge:                       # how sources merge; only with sources
//	  groups: separate           # separate (default: same-named groups are a plan problem) | namespace | merge
//	  groupFormat: "{name} ({source})"   # namespace: the group's name with {name} and {source}
//	  match: [email]             # user attributes that, besides userName, make one person
//	  retired: [lab]             # sources no longer read whose objects are still this engine's to deprovision
//	owner: entra                 # this engine's name, when other engines feed the tenant (sync.WithOwner)
//	ownerMarker: true            # "provsync:<owner>:<id>" as externalId; default: on with owner
//	markerBatch: 2000            # objects a plan marks when nothing else changes
//	target:
//	  url: https://acme.goskope.com/api/v2/scim
//	  token: {env: NETSKOPE_TOKEN}   # or {file: /etc/provsync/netskope-token}
//	  name: acme                     # the target's name (sync.WithTargetName); default: url
//	state: /var/lib/provsync/state.json   # a state file (or {file: PATH}), one process at a time
//	state: {postgres: {env: PROVSYNC_DATABASE_URL}}   # or PostgreSQL (sync/pgstate): replicas, one leader per target
//	log: /var/lib/provsync/prov.jsonl  # the provisioning log; omit for none
//	logRetention: {maxAge: 90d, maxRows: 1000000}   # with state.postgres: the log in the database (pgstate.Log)
//	schedule: {interval: 40m, jitter: 5m, heldPlans: wait}   # heldPlans: wait | apply-rest
//	webhook: {url: https://hooks.example.com/provsync, secret: {env: PROVSYNC_WEBHOOK_SECRET}}
//	listener:
//	  address: 127.0.0.1:8080      # off loopback only with tlsCert, tlsKey and token
//	  token: {env: PROVSYNCD_TOKEN} # bearer token of the mutating API calls
//	  tlsCert: /etc/provsync/tls.crt
//	  tlsKey: /etc/provsync/tls.key
//
// Secrets are never written in the file: a secret key takes {env: NAME}
// or {file: PATH}, and a literal value is an error.
type Service struct {
	Source SourceConfig `yaml:"source"`
	// Sources are several sources merged into one directory, in
	// precedence order; give Source or Sources, not both.
	Sources []NamedSource `yaml:"sources"`
	// Merge is how Sources merge.
	Merge MergeConfig `yaml:"merge"`
	// Owner names the engine's owner (sync.WithOwner): set it when
	// another engine feeds the same tenant, or shares the state.
	Owner string `yaml:"owner"`
	// OwnerMarker turns the owner marker in externalId on or off
	// (sync.WithOwnerMarker); left out, it is on when Owner is set.
	OwnerMarker *bool `yaml:"ownerMarker"`
	// MarkerBatch bounds the objects a plan marks when nothing else about
	// them changes (sync.WithMarkerBatch); 0 keeps the default.
	MarkerBatch int          `yaml:"markerBatch"`
	Target      TargetConfig `yaml:"target"`
	State       StateConfig  `yaml:"state"`
	Log         string       `yaml:"log"`
	// LogRetention bounds the provisioning log kept in a PostgreSQL
	// state; only with State.Postgres.
	LogRetention LogRetention `yaml:"logRetention"`
	Schedule     Schedule     `yaml:"schedule"`
	Webhook      Webhook      `yaml:"webhook"`
	Listener     Listener     `yaml:"listener"`
}

// StateConfig is where the engine's state lives: a file (state: PATH or
// state: {file: PATH}), which one process at a time may hold, or a
// PostgreSQL database (state: {postgres: {env: NAME}}), which replicas
// share with one leader per target name (see sync/pgstate).
type StateConfig struct {
	// File is the state file's path.
	File string `yaml:"file"`
	// Postgres is the database's connection string (a URL or key=value
	// pairs, as libpq takes them), a secret: it may hold a password.
	Postgres Secret `yaml:"postgres"`

	connString bool   // written as a connection string in place of a path: refused
	badKey     string // a key other than file and postgres
}

// UnmarshalYAML reads a path, or {file: PATH} or {postgres: SECRET}. A
// connection string written as the path is recorded, not kept, and
// reported by Parse.
func (s *StateConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if looksLikeConnString(n.Value) {
			s.connString = true
			return nil
		}
		s.File = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: state: want a path, {file: PATH} or {postgres: {env: NAME}}", n.Line)
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, v := n.Content[k].Value, n.Content[k+1]
		switch key {
		case "file":
			if err := v.Decode(&s.File); err != nil {
				return err
			}
		case "postgres":
			if err := v.Decode(&s.Postgres); err != nil {
				return err
			}
		default:
			s.badKey = key
		}
	}
	return nil
}

// looksLikeConnString reports whether a state path is a PostgreSQL
// connection string instead.
func looksLikeConnString(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") ||
		strings.Contains(v, "host=") || strings.Contains(v, "password=") || strings.Contains(v, "dbname=")
}

// Kind names the state chosen: "file", "postgres", or "" for none.
func (s StateConfig) Kind() string {
	switch {
	case s.Postgres.Set():
		return "postgres"
	case strings.TrimSpace(s.File) != "":
		return "file"
	}
	return ""
}

// String describes the state without its secret: the file's path, or
// "postgres" and where the connection string comes from.
func (s StateConfig) String() string {
	switch s.Kind() {
	case "postgres":
		if s.Postgres.Env != "" {
			return "postgres (connection string from $" + s.Postgres.Env + ")"
		}
		return "postgres (connection string from " + s.Postgres.File + ")"
	case "file":
		return s.File
	}
	return "none"
}

// SourceConfig chooses the identity provider: exactly one is set.
type SourceConfig struct {
	Entra    *EntraSource    `yaml:"entra"`
	Google   *GoogleSource   `yaml:"google"`
	OneLogin *OneLoginSource `yaml:"onelogin"`
	File     *FileSource     `yaml:"file"`
}

// Kind names the source chosen: "entra", "google", "onelogin", "file",
// or "" for none.
func (s SourceConfig) Kind() string {
	switch {
	case s.Entra != nil:
		return "entra"
	case s.Google != nil:
		return "google"
	case s.OneLogin != nil:
		return "onelogin"
	case s.File != nil:
		return "file"
	}
	return ""
}

// NamedSource is one of several merged sources: its name (the prefix
// of its objects' ids, see merge.CheckName) and its provider.
type NamedSource struct {
	Name         string `yaml:"name"`
	SourceConfig `yaml:",inline"`
}

// MergeConfig is how several sources merge; see source/merge.
type MergeConfig struct {
	// Groups is separate (""), namespace or merge: see merge.GroupMode.
	Groups string `yaml:"groups"`
	// GroupFormat is the name of a namespaced group; "" keeps
	// merge.DefaultGroupFormat.
	GroupFormat string `yaml:"groupFormat"`
	// Match are the user attributes that, besides the user name, make
	// users of different sources one person; empty keeps the primary
	// e-mail address.
	Match []string `yaml:"match"`
	// Retired names sources removed from Sources whose objects are still
	// this engine's to deprovision; see merge.WithRetired.
	Retired []string `yaml:"retired"`
}

// Options returns the merge options the configuration sets.
func (m MergeConfig) Options() []merge.Option {
	var opts []merge.Option
	if m.Groups != "" {
		opts = append(opts, merge.WithGroups(merge.GroupMode(m.Groups)))
	}
	if m.GroupFormat != "" {
		opts = append(opts, merge.WithGroupFormat(m.GroupFormat))
	}
	if len(m.Match) > 0 {
		opts = append(opts, merge.WithMatch(m.Match...))
	}
	if len(m.Retired) > 0 {
		opts = append(opts, merge.WithRetired(m.Retired...))
	}
	return opts
}

// EntraSource is Microsoft Entra ID's app registration and enterprise
// app.
type EntraSource struct {
	TenantID           string `yaml:"tenantId"`
	ClientID           string `yaml:"clientId"`
	ClientSecret       Secret `yaml:"clientSecret"`
	AppID              string `yaml:"appId"`
	ServicePrincipalID string `yaml:"servicePrincipalId"`
	GraphURL           string `yaml:"graphUrl"`
	AuthorityHost      string `yaml:"authorityHost"`
}

// GoogleSource is Google Workspace's Directory API access. Without
// KeyFile, Application Default Credentials are used.
type GoogleSource struct {
	AdminEmail string `yaml:"adminEmail"`
	Customer   string `yaml:"customer"`
	Domain     string `yaml:"domain"`
	KeyFile    string `yaml:"keyFile"`
	Endpoint   string `yaml:"endpoint"`
}

// OneLoginSource is OneLogin's API credential and Netskope app.
type OneLoginSource struct {
	URL          string `yaml:"url"`
	ClientID     string `yaml:"clientId"`
	ClientSecret Secret `yaml:"clientSecret"`
	AppID        int64  `yaml:"appId"`
}

// FileSource is a directory file (.yaml or .json).
type FileSource struct {
	Path string `yaml:"path"`
}

// TargetConfig is the Netskope tenant.
type TargetConfig struct {
	URL   string `yaml:"url"`
	Token Secret `yaml:"token"`
	// Name names the target in plans and states (sync.WithTargetName)
	// and is the key of its rows in a PostgreSQL state; "" keeps the
	// URL. A state holds one target's name: renaming it refuses the
	// state saved under the old name.
	Name string `yaml:"name"`
}

// LogRetention is how much of the provisioning log a PostgreSQL state
// keeps (pgstate.WithLogRetention, pgstate.WithLogMaxRows); older events
// are deleted once per pgstate.DefaultLogPruneInterval.
type LogRetention struct {
	// MaxAge is how long an event is kept; 0 keeps
	// pgstate.DefaultLogRetention (90 days).
	MaxAge sync.Duration `yaml:"maxAge"`
	// MaxRows keeps at most the target's newest MaxRows events; 0 sets
	// no bound.
	MaxRows int64 `yaml:"maxRows"`
}

// Schedule is when cycles run.
type Schedule struct {
	// Interval is the time between cycles; 0 keeps sync.DefaultInterval.
	Interval sync.Duration `yaml:"interval"`
	// Jitter is the random delay added to each scheduled cycle.
	Jitter sync.Duration `yaml:"jitter"`
	// HeldPlans is what a cycle does while a plan waits for
	// confirmation; "" keeps sync.HeldWait.
	HeldPlans sync.HeldPlans `yaml:"heldPlans"`
	// DriftCheck is how often a cycle reads the whole target to correct
	// changes made by hand (sync.WithDriftCheck); 0 keeps
	// sync.DefaultDriftCheck.
	DriftCheck sync.Duration `yaml:"driftCheck"`
}

// Webhook is where notifications are posted.
type Webhook struct {
	URL string `yaml:"url"`
	// Secret signs the posts with HMAC-SHA256; optional.
	Secret Secret `yaml:"secret"`
}

// Listener is the HTTP listener of the status page and API.
type Listener struct {
	// Address is host:port; "" keeps DefaultListenAddress.
	Address string `yaml:"address"`
	// Token is the bearer token of the mutating API calls; without it
	// they are refused.
	Token Secret `yaml:"token"`
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
}

// DefaultListenAddress is the listener's address when none is set.
const DefaultListenAddress = "127.0.0.1:8080"

// ListenAddress returns the listener's address, or the default.
func (l Listener) ListenAddress() string {
	if l.Address == "" {
		return DefaultListenAddress
	}
	return l.Address
}

// Loopback reports whether host:port addr listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Secret names where a credential comes from: an environment variable
// or a file, never the configuration file itself. Resolve reads it.
type Secret struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`

	path, file   string
	line, column int
	literal      bool   // written as a value: refused
	badKey       string // a key other than env and file
}

// ErrLiteralSecret is wrapped by the error for a secret written in the
// file as a value.
var ErrLiteralSecret = errors.New("a secret is never written in the configuration file: give {env: NAME} or {file: PATH}")

// UnmarshalYAML reads {env: NAME} or {file: PATH} and refuses a literal.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	// Problems are recorded and reported, located, by Parse; the value
	// of a literal is not kept.
	s.line, s.column = n.Line, n.Column
	if n.Kind != yaml.MappingNode {
		s.literal = n.Tag != "!!null"
		return nil
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, v := n.Content[k].Value, n.Content[k+1]
		switch {
		case key == "env" && v.Kind == yaml.ScalarNode:
			s.Env = v.Value
		case key == "file" && v.Kind == yaml.ScalarNode:
			s.File = v.Value
		default:
			s.badKey = key
		}
	}
	return nil
}

// Set reports whether the secret names a variable or a file.
func (s Secret) Set() bool { return s.Env != "" || s.File != "" }

// Resolve reads the secret from its variable or file (a file's trailing
// newline dropped). An unset or empty variable, or an unreadable or empty
// file, is an error located at the key; the value never appears in it.
func (s Secret) Resolve() (string, error) {
	var v string
	switch {
	case s.Env != "":
		v = os.Getenv(s.Env)
		if v == "" {
			return "", s.fail(fmt.Errorf("environment variable %s is not set", s.Env))
		}
	case s.File != "":
		b, err := os.ReadFile(s.File)
		if err != nil {
			return "", s.fail(err)
		}
		if v = strings.TrimRight(string(b), "\r\n"); v == "" {
			return "", s.fail(fmt.Errorf("file %s is empty", s.File))
		}
	default:
		return "", s.fail(errors.New("not set: give {env: NAME} or {file: PATH}"))
	}
	return v, nil
}

func (s Secret) fail(err error) error {
	return &Error{File: s.file, Line: s.line, Column: s.column, Path: s.path, Err: fmt.Errorf("%w: %w", ErrInvalid, err)}
}

// secrets returns the service's secrets with their key paths.
func (s *Service) secrets() map[string]*Secret {
	m := map[string]*Secret{"target.token": &s.Target.Token, "webhook.secret": &s.Webhook.Secret, "listener.token": &s.Listener.Token,
		"state.postgres": &s.State.Postgres}
	sourceSecrets(m, "source", &s.Source)
	for i := range s.Sources {
		sourceSecrets(m, fmt.Sprintf("sources[%d]", i), &s.Sources[i].SourceConfig)
	}
	return m
}

// sourceSecrets adds a source's secrets to m, under path.
func sourceSecrets(m map[string]*Secret, path string, s *SourceConfig) {
	if s.Entra != nil {
		m[path+".entra.clientSecret"] = &s.Entra.ClientSecret
	}
	if s.OneLogin != nil {
		m[path+".onelogin.clientSecret"] = &s.OneLogin.ClientSecret
	}
}

// serviceDurations are the service's duration keys, checked before the
// decoder runs (it reports a bad one without its line).
var serviceDurations = []string{"schedule.interval", "schedule.jitter", "schedule.driftCheck"}

// validateService checks the service keys that are present and locates
// the secrets for Resolve's errors.
func (c *Config) validateService(add func(path string, err error)) {
	s := &c.Service
	secrets := s.secrets()
	for _, path := range slices.Sorted(maps.Keys(secrets)) {
		sec := secrets[path]
		sec.path, sec.file = path, c.file
		if sec.line == 0 {
			sec.line, sec.column = position(c.root, path)
		}
		switch {
		case sec.literal:
			add(path, ErrLiteralSecret)
		case sec.badKey != "":
			add(path, fmt.Errorf("key %q: a secret takes env or file", sec.badKey))
		case sec.Env != "" && sec.File != "":
			add(path, errors.New("give env or file, not both"))
		}
	}
	validateSource(add, "source", &s.Source)
	c.validateSources(add)
	if u := s.Target.URL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		add("target.url", fmt.Errorf("%q: want an https:// URL", u))
	}
	if n := s.Target.Name; n != "" && (strings.TrimSpace(n) != n || strings.IndexFunc(n, unicode.IsControl) >= 0) {
		add("target.name", fmt.Errorf("%q: no control characters, nor spaces around it", n))
	}
	st := s.State
	switch {
	case st.connString:
		add("state", errors.New("a connection string is a secret, never written in the file: give {postgres: {env: NAME}} or {postgres: {file: PATH}}"))
	case st.badKey != "":
		add("state", fmt.Errorf("key %q: state takes file or postgres", st.badKey))
	case st.Postgres.Set() && st.File != "":
		add("state", errors.New("give file or postgres, not both"))
	}
	if s.LogRetention.MaxAge < 0 {
		add("logRetention.maxAge", errors.New("negative"))
	}
	if s.LogRetention.MaxRows < 0 {
		add("logRetention.maxRows", errors.New("negative"))
	}
	if s.LogRetention != (LogRetention{}) && !st.Postgres.Set() {
		add("logRetention", errors.New("applies to the provisioning log in a PostgreSQL state (state: {postgres: ...}); the file log rotates by size"))
	}
	if s.Schedule.Interval < 0 {
		add("schedule.interval", errors.New("negative"))
	}
	if s.Schedule.Jitter < 0 {
		add("schedule.jitter", errors.New("negative"))
	}
	if s.Schedule.DriftCheck < 0 {
		add("schedule.driftCheck", errors.New("negative"))
	}
	if strings.IndexFunc(s.Owner, unicode.IsControl) >= 0 {
		add("owner", fmt.Errorf("%q holds a control character", s.Owner))
	}
	if s.MarkerBatch < 0 {
		add("markerBatch", errors.New("negative"))
	}
	if h := s.Schedule.HeldPlans; h != "" && h != sync.HeldWait && h != sync.HeldApplyRest {
		add("schedule.heldPlans", fmt.Errorf("%q: want %s or %s", h, sync.HeldWait, sync.HeldApplyRest))
	}
	if s.Webhook.Secret.Set() && s.Webhook.URL == "" {
		add("webhook.url", errors.New("a webhook secret needs a url"))
	}
	l := s.Listener
	if (l.TLSCert == "") != (l.TLSKey == "") {
		add("listener", errors.New("give both tlsCert and tlsKey, or neither"))
	}
	addr := l.ListenAddress()
	if _, _, err := net.SplitHostPort(addr); err != nil {
		add("listener.address", err)
	} else if !Loopback(addr) && (l.TLSCert == "" || !l.Token.Set()) {
		add("listener.address", fmt.Errorf("%s is not a loopback address: listening on it needs tlsCert, tlsKey and token", addr))
	}
}

// validateSource checks one source's keys, under path.
func validateSource(add func(path string, err error), path string, s *SourceConfig) {
	set := 0
	for _, ok := range []bool{s.Entra != nil, s.Google != nil, s.OneLogin != nil, s.File != nil} {
		if ok {
			set++
		}
	}
	if set > 1 {
		add(path, errors.New("choose one of entra, google, onelogin and file"))
	}
	if e := s.Entra; e != nil && e.AppID != "" && e.ServicePrincipalID != "" {
		add(path+".entra.appId", errors.New("give appId or servicePrincipalId, not both"))
	}
	if f := s.File; f != nil && strings.TrimSpace(f.Path) == "" {
		add(path+".file.path", errors.New("empty"))
	}
}

// validateSources checks the merged sources and how they merge.
func (c *Config) validateSources(add func(path string, err error)) {
	s := &c.Service
	if len(s.Sources) > 0 && s.Source.Kind() != "" {
		add("sources", errors.New("give source or sources, not both"))
	}
	if len(s.Sources) > merge.MaxMembers {
		add("sources", fmt.Errorf("%d sources: at most %d", len(s.Sources), merge.MaxMembers))
	}
	names := map[string]int{}
	for i := range s.Sources {
		n := &s.Sources[i]
		path := fmt.Sprintf("sources[%d]", i)
		if err := merge.CheckName(n.Name); err != nil {
			add(path+".name", err)
		} else if j, dup := names[strings.ToLower(n.Name)]; dup {
			add(path+".name", fmt.Errorf("%q: sources[%d] has that name too", n.Name, j))
		} else {
			names[strings.ToLower(n.Name)] = i
		}
		if n.Kind() == "" {
			add(path, errors.New("missing: choose entra, google, onelogin or file"))
		}
		validateSource(add, path, &n.SourceConfig)
	}
	m := s.Merge
	for i, n := range m.Retired {
		path := fmt.Sprintf("merge.retired[%d]", i)
		if err := merge.CheckName(n); err != nil {
			add(path, err)
		} else if j, dup := names[strings.ToLower(n)]; dup && j >= 0 {
			add(path, fmt.Errorf("%q is sources[%d]: a retired source is one no longer read", n, j))
		} else if dup {
			add(path, fmt.Errorf("%q is listed twice", n))
		} else {
			names[strings.ToLower(n)] = -1
		}
	}
	if len(s.Sources) == 0 && (m.Groups != "" || m.GroupFormat != "" || len(m.Match) > 0 || len(m.Retired) > 0) {
		add("merge", errors.New("merge settings need sources"))
	}
	mode, err := merge.ParseGroupMode(m.Groups)
	if err != nil {
		add("merge.groups", err)
	}
	if m.GroupFormat != "" {
		if err := merge.CheckGroupFormat(m.GroupFormat); err != nil {
			add("merge.groupFormat", err)
		} else if mode != merge.GroupsNamespace {
			add("merge.groupFormat", fmt.Errorf("a group format needs groups: %s", merge.GroupsNamespace))
		}
	}
	for i, a := range m.Match {
		if strings.TrimSpace(a) == "" {
			add(fmt.Sprintf("merge.match[%d]", i), errors.New("empty"))
		}
	}
}

// RequireService checks that the file configures a service that can
// start: a source, a target URL and token, and a state (a file or
// PostgreSQL). Each
// missing key is an error located at its parent.
func (c *Config) RequireService() error {
	var errs []error
	add := func(path string, err error) {
		line, col := position(c.root, path)
		errs = append(errs, &Error{File: c.file, Line: line, Column: col, Path: path, Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
	}
	s := &c.Service
	if s.Source.Kind() == "" && len(s.Sources) == 0 {
		add("source", errors.New("missing: choose entra, google, onelogin or file, or give sources"))
	}
	if s.Target.URL == "" {
		add("target.url", errors.New("missing"))
	}
	if !s.Target.Token.Set() {
		add("target.token", errors.New("missing: give {env: NAME} or {file: PATH}"))
	}
	if s.State.Kind() == "" {
		add("state", errors.New("missing: the state file's path, or {postgres: {env: NAME}}"))
	}
	return errors.Join(errs...)
}
