// Package config reads a provsync configuration file (YAML): the
// attribute mapping, scoping filters, group rules, matching properties
// and provisioning policy, as administrators set them in Entra's,
// Google's and OneLogin's consoles. Parse validates everything and reports
// every problem with its line and column; Options turns the result into
// engine options.
//
// # Reference
//
//	mapping:
//	  users:                       # the attribute mapping table; omit for the Netskope default
//	    - target: userName         # SCIM attribute: userName, externalId, displayName, name.givenName,
//	                               # name.familyName, emails (or emails[type eq "work"].value), active,
//	                               # title, userType, locale, ..., enterprise: department, employeeNumber,
//	                               # costCenter, organization, division, manager
//	      type: direct             # direct | constant | expression
//	      source: userPrincipalName # direct: the source attribute
//	      value: ""                # constant: the value
//	      expression: ""           # expression: Entra's expression language (see mapping/expr)
//	      default: ""              # written when the value comes out empty
//	      apply: always            # always | create (only when the user is created)
//	  scope:                       # scoping filters: ORed; clauses ANDed; omit for everyone
//	    - name: Sales only
//	      clauses:
//	        - attribute: department
//	          operator: EQUALS     # EQUALS, NOT EQUALS, IS TRUE, IS FALSE, IS NULL, IS NOT NULL,
//	                               # REGEX MATCH, NOT REGEX MATCH, Greater_Than, Greater_Than_OR_EQUALS,
//	                               # Less_Than, Less_Than_OR_EQUALS, Includes, IS MEMBER OF, IS NOT MEMBER OF
//	          value: Sales
//	  groupRules:                  # OneLogin-style rules, applied top to bottom
//	    - name: Engineers
//	      match: all               # all | any
//	      conditions:
//	        - attribute: department
//	          operator: equals     # equals, not equals, contains, does not contain, starts with,
//	                               # ends with, greater than, less than, matches regex, is present,
//	                               # is not present, includes, member of, not member of
//	          value: Engineering
//	      actions:
//	        - setGroup: Netskope Engineering
//	        - fromAttribute: memberOf   # or groups named by an attribute
//	          delimiter: ";"
//	          pattern: "^CN=([^,]+)"
//	      replace: false           # a match replaces the groups of earlier rules
//	      stop: false              # a match ends the evaluation for the user
//	  skipSourceGroups: false      # sync only the groups rules make
//	  existingGroupsOnly: false    # rules only use groups Netskope already has
//	matching:                      # matching properties, in order
//	  users:  [{attribute: externalId}, {attribute: userName, ignoreCase: true}]
//	  groups: [{attribute: externalId}, {attribute: displayName, ignoreCase: true}]
//	policy:                        # keys left out keep the defaults
//	  leftScope: deactivate        # deactivate | delete | none
//	  suspended: deactivate
//	  deleted: deactivate
//	  createSuspended: false       # true: create users suspended at the source, inactive
//	  leftScopeDeleteAfter: 30d    # delete after so long deactivated (30d, 72h)
//	  suspendedDeleteAfter: 0
//	  deletedDeleteAfter: 0
//	  deleteGroups: true
//	  adopt: true
//	  adoptSuspended: false        # true: adopt an existing user matching a suspended one, then deactivate it
//	  userLimit:  {maxCount: 500, maxPercent: 20, floor: 10}   # deactivations and deletions
//	  groupLimit: {maxCount: 500, maxPercent: 20, floor: 10}   # group deletions
//	  membershipLimit: {maxCount: 500, maxPercent: 20, floor: 10} # membership removals
//	                               # a limit key left out keeps its default; maxCount and
//	                               # maxPercent take "unlimited", floor takes "none"; 0 is an
//	                               # error (it reads as "no deletions" or "no limit" alike),
//	                               # and so is a maxPercent above 100 (it could never hold)
//	approval: [create, update, delete]   # actions held for an administrator's approval
//
// A program that runs the sync as a service (examples/provsyncd) reads
// more keys from the same file: source, target, state, log, schedule,
// webhook and listener; see Service. Secrets are never written in the
// file, only the environment variable or file that holds them.
//
// # What Parse cannot know
//
// Scoping filters and group rules name source attributes and groups,
// which only the source's data shows. A clause or condition on an
// attribute no source user has, or a member of test naming no source
// group (conditions test the source's memberships, never the groups rules
// make, so rules cannot refer to each other and no cycle is possible), is
// therefore reported when a plan is made, as a warning naming the filter
// or rule (sync.Plan.Warnings); a scope that accepts no user because of
// one holds the plan for confirmation.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/mapping/expr"
	"github.com/provsync/provsync/sync"
)

// ErrInvalid is wrapped by every error Parse and Load return for a bad
// configuration.
var ErrInvalid = errors.New("config: invalid")

// Config is a provsync configuration file: the mapping, the matching
// properties and the provisioning policy, and for a program that runs
// the sync as a service its source, target, state, schedule, webhook and
// listener (Service).
type Config struct {
	// Mapping is the attribute mapping, scoping filters and group rules.
	Mapping mapping.Rules `yaml:"mapping"`
	// Matching are the matching properties, in order, per object type.
	Matching Matching `yaml:"matching"`
	// Policy is what the engine may do beyond creating and updating; keys
	// left out keep sync.DefaultPolicy's values.
	Policy sync.Policy `yaml:"policy"`
	// Approval names the actions held for approval: create, update,
	// delete, or action names (see sync.ApprovalFor).
	Approval []string `yaml:"approval"`
	// Service is the source, target, state, schedule, webhook and
	// listener of a program that runs the sync as a service.
	Service Service `yaml:",inline"`

	mapper *mapping.RuleMapper
	root   *yaml.Node
	file   string
}

// Matching lists the matching properties for users and groups.
type Matching struct {
	Users  []mapping.MatchKey `yaml:"users"`
	Groups []mapping.MatchKey `yaml:"groups"`
}

// Error is one problem in a configuration file, located.
type Error struct {
	// File is the file's name, "" when parsed from bytes.
	File string
	// Line and Column locate the problem, 1-based; 0 when unknown.
	Line, Column int
	// Path is the key path, such as "mapping.users[2].expression".
	Path string
	// Err is the cause.
	Err error
}

// Error reads file:line:col: path: message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(b, path)
}

// Parse reads and validates a configuration from YAML. Every problem is
// reported, each an *Error with its line and column, joined; all wrap
// ErrInvalid.
func Parse(data []byte) (*Config, error) { return parse(data, "") }

func parse(data []byte, file string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(file, nil, err)
	}
	// Durations are checked first: the decoder reports a bad one without
	// its line.
	var derrs []error
	durations := append([]string{"policy.leftScopeDeleteAfter", "policy.suspendedDeleteAfter", "policy.deletedDeleteAfter"}, serviceDurations...)
	for _, path := range durations {
		if n := lookup(&root, path); n != nil {
			var d sync.Duration
			if err := d.UnmarshalText([]byte(n.Value)); err != nil {
				derrs = append(derrs, &Error{File: file, Line: n.Line, Column: n.Column, Path: path, Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
			}
		}
	}
	// So are limits, whose bounds may be words (unlimited, none).
	for _, key := range []string{"userLimit", "groupLimit", "membershipLimit"} {
		path := "policy." + key
		if n := lookup(&root, path); n != nil {
			var l sync.Limit
			if err := n.Decode(&l); err != nil {
				derrs = append(derrs, &Error{File: file, Line: n.Line, Column: n.Column, Path: path, Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
				continue
			}
			derrs = append(derrs, limitBounds(n, file, path)...)
		}
	}
	if err := errors.Join(derrs...); err != nil {
		return nil, err
	}
	cfg := &Config{Policy: sync.DefaultPolicy(), root: &root, file: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(file, &root, err)
	}
	var errs []error
	add := func(path string, err error) {
		line, col := position(&root, path)
		errs = append(errs, &Error{File: file, Line: line, Column: col, Path: path, Err: fmt.Errorf("%w: %w", ErrInvalid, err)})
	}
	if len(cfg.Approval) > 0 {
		acts, err := sync.ApprovalFor(cfg.Approval...)
		if err != nil {
			add("approval", err)
		}
		cfg.Policy.RequireApproval = acts
	}
	if err := cfg.Policy.Validate(); err != nil {
		add("policy", err)
	}
	cfg.validateService(add)
	for kind, keys := range map[string][]mapping.MatchKey{"users": cfg.Matching.Users, "groups": cfg.Matching.Groups} {
		for i, k := range keys {
			if strings.TrimSpace(k.Attribute) == "" {
				add(fmt.Sprintf("matching.%s[%d].attribute", kind, i), errors.New("empty"))
			}
		}
	}
	m, err := cfg.Mapping.Compile()
	if err != nil {
		for _, e := range flatten(err) {
			var re *mapping.MappingError
			if errors.As(e, &re) {
				path := "mapping." + re.Path
				line, col := position(&root, path)
				if line > 0 {
					line, col = exprPosition(&root, path, re.Err, line, col)
				}
				errs = append(errs, &Error{File: file, Line: line, Column: col, Path: path, Err: fmt.Errorf("%w: %w", ErrInvalid, re.Err)})
				continue
			}
			add("mapping", e)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg.mapper = m
	return cfg, nil
}

// limitBounds reports the bounds of a deprovision limit n (at path) that
// read two ways: 0, which sync.Limit takes for the default although a
// reader may take it for "none allowed" or "no limit", and a percentage
// above 100, which no plan can exceed.
func limitBounds(n *yaml.Node, file, path string) []error {
	var errs []error
	for _, key := range []string{"maxCount", "maxPercent", "floor"} {
		v := lookup(n, key)
		if v == nil || v.Kind != yaml.ScalarNode {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
		if err != nil {
			continue // a word; Limit read it
		}
		var msg string
		switch {
		case f == 0 && key == "floor":
			msg = "0 is ambiguous: write none to check the percentage from the first deprovision, or leave the key out for the default"
		case f == 0:
			msg = "0 is ambiguous: write unlimited to remove the bound, 1 to confirm every deprovision, or leave the key out for the default"
		case key == "maxPercent" && f > 100:
			msg = fmt.Sprintf("%v%% can never be exceeded: write unlimited to remove the bound, or a percentage up to 100", f)
		default:
			continue
		}
		errs = append(errs, &Error{File: file, Line: v.Line, Column: v.Column, Path: path + "." + key,
			Err: fmt.Errorf("%w: %s", ErrInvalid, msg)})
	}
	return errs
}

// Mapper returns the compiled mapping.
func (c *Config) Mapper() *mapping.RuleMapper { return c.mapper }

// Options returns the engine options the configuration sets: the mapper,
// the policy, the matching properties, the drift check interval
// (schedule.driftCheck), the owner (owner, ownerMarker, markerBatch) and
// the target's name (target.name).
// Add state, logger and the rest.
func (c *Config) Options() []sync.Option {
	opts := []sync.Option{sync.WithMapper(c.mapper), sync.WithPolicy(c.Policy)}
	if len(c.Matching.Users) > 0 {
		opts = append(opts, sync.WithUserMatch(c.Matching.Users...))
	}
	if len(c.Matching.Groups) > 0 {
		opts = append(opts, sync.WithGroupMatch(c.Matching.Groups...))
	}
	if d := c.Service.Schedule.DriftCheck; d > 0 {
		opts = append(opts, sync.WithDriftCheck(time.Duration(d)))
	}
	if o := c.Service.Owner; o != "" {
		opts = append(opts, sync.WithOwner(o))
	}
	if n := c.Service.Target.Name; n != "" {
		opts = append(opts, sync.WithTargetName(n))
	}
	if m := c.Service.OwnerMarker; m != nil {
		opts = append(opts, sync.WithOwnerMarker(*m))
	}
	if n := c.Service.MarkerBatch; n > 0 {
		opts = append(opts, sync.WithMarkerBatch(n))
	}
	return opts
}

// flatten unwraps joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

var (
	yamlLine     = regexp.MustCompile(`line (\d+): `)
	unknownField = regexp.MustCompile(`^field (\S+) not found`)
)

// yamlError turns yaml.v3's errors ("yaml: line 4: ...", or a TypeError
// listing several "line N: ..." messages) into located Errors; with the
// document's root, an unknown key gets its column too.
func yamlError(file string, root *yaml.Node, err error) error {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		line := 0
		if sub := yamlLine.FindStringSubmatch(m); sub != nil {
			line, _ = strconv.Atoi(sub[1])
			m = strings.Replace(m, sub[0], "", 1)
		}
		m = strings.TrimPrefix(m, "yaml: ")
		col := 0
		if sub := unknownField.FindStringSubmatch(m); sub != nil && root != nil && line > 0 {
			col = keyColumn(root, line, sub[1])
		}
		errs = append(errs, &Error{File: file, Line: line, Column: col, Err: fmt.Errorf("%w: %s", ErrInvalid, m)})
	}
	return errors.Join(errs...)
}

// keyColumn returns the column of the mapping key named key on line, 0
// when there is none.
func keyColumn(n *yaml.Node, line int, key string) int {
	if n.Kind == yaml.MappingNode {
		for k := 0; k+1 < len(n.Content); k += 2 {
			if c := n.Content[k]; c.Line == line && c.Value == key {
				return c.Column
			}
		}
	}
	for _, c := range n.Content {
		if col := keyColumn(c, line, key); col > 0 {
			return col
		}
	}
	return 0
}

// position finds the node a key path names ("mapping.users[2].target")
// and returns its line and column; for a path that goes further than the
// document, the deepest node found.
func position(root *yaml.Node, path string) (int, int) {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := n.Line, n.Column
	for _, part := range splitPath(path) {
		next := step(n, part)
		if next == nil {
			break
		}
		n = next
		line, col = n.Line, n.Column
	}
	return line, col
}

// lookup returns the node a key path names, or nil.
func lookup(root *yaml.Node, path string) *yaml.Node {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, part := range splitPath(path) {
		if n = step(n, part); n == nil {
			return nil
		}
	}
	return n
}

// splitPath splits "a.b[2].c" into "a", "b", "[2]", "c".
func splitPath(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, ".") {
		for seg != "" {
			i := strings.IndexByte(seg, '[')
			switch {
			case i < 0:
				out = append(out, seg)
				seg = ""
			case i > 0:
				out = append(out, seg[:i])
				seg = seg[i:]
			default:
				j := strings.IndexByte(seg, ']')
				if j < 0 {
					out = append(out, seg)
					seg = ""
					continue
				}
				out = append(out, seg[:j+1])
				seg = seg[j+1:]
			}
		}
	}
	return out
}

// step moves from n to the child a path part names: a mapping key or a
// sequence index "[i]".
func step(n *yaml.Node, part string) *yaml.Node {
	if strings.HasPrefix(part, "[") {
		i, err := strconv.Atoi(strings.Trim(part, "[]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for k := 0; k+1 < len(n.Content); k += 2 {
		if n.Content[k].Value == part {
			return n.Content[k+1]
		}
	}
	return nil
}

// exprPosition moves a location into an expression: for an expression
// syntax error at a byte offset, on a single-line scalar, the column of
// that byte.
func exprPosition(root *yaml.Node, path string, err error, line, col int) (int, int) {
	var se *expr.SyntaxError
	if !errors.As(err, &se) {
		return line, col
	}
	n := lookup(root, path)
	if n == nil {
		return line, col
	}
	if strings.Contains(n.Value, "\n") || (n.Style != 0 && n.Style != yaml.DoubleQuotedStyle && n.Style != yaml.SingleQuotedStyle) {
		return line, col
	}
	offset := se.Pos
	if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
		offset++ // the opening quote
	}
	return line, col + offset
}
