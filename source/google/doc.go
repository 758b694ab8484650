// Package google is the Google Workspace source: it reads users and groups
// through the Admin SDK Directory API (google.golang.org/api/admin/directory/v1),
// as Google's automated user provisioning for Netskope does.
//
// # Credentials
//
// A service account key with domain-wide delegation, impersonating an
// administrator (Config.ServiceAccountKey and Config.AdminEmail; grant the
// service account's client id the read-only scopes in Scopes), or any
// oauth2.TokenSource, or the caller's own client options. The endpoint is
// configurable, so tests run the real client against a local fake
// (package directorytest).
//
// # Scope
//
// As an administrator scopes the app in the Admin console: every user of
// the customer (the default), the users of chosen organizational units
// (with or without their sub-units), or the members of chosen groups
// (nested members included). Like Google's provisioning, the source acts on
// active, suspended and deleted users and never on archived ones:
// suspended users have state suspended; users deleted recently enough that
// Google still lists them (users.list with showDeleted) have state deleted
// and their deletion time in DeletedAt, so that policy can defer a hard
// delete. Groups are every group of the account, the scope groups, a named
// list, or none; their USER members in scope become members, GROUP
// members nested groups (or, with FlattenNested, their users), and a
// CUSTOMER member (everyone in the account) everyone in scope: such a group
// carries the attribute customerMember (true) and the MembersNote
// CustomerMembersNote, which the plan quotes in the reasons for its
// membership changes, and the read logs it at Info.
// Config.SkipCustomerMembers leaves CUSTOMER members out instead; it is off
// by default because turning it on for an existing sync removes those
// memberships.
//
// # Attributes
//
// Besides the built-in fields, users carry orgUnitPath, isAdmin, aliases,
// jobTitle, department, costCenter and employeeType (from the primary
// organization), employeeId (the "organization" external id),
// externalIds, managerEmail and managerId (the manager relation, resolved
// to a source id when the manager is read too), workPhone, mobilePhone,
// creationTime and lastLoginTime, and each custom schema field asked for
// in Config.CustomSchemas as "Schema.field". The generated client leaves
// emails, externalIds, organizations, relations and phones untyped; they
// are decoded into typed forms here, and a value of the wrong shape is an
// error naming the user and the field.
//
// The source is a source.AttributeSelector: ReadAttributes reads only the
// attributes named (ignoring case), as the engine asks when its mapping
// says which it reads. users.list then asks for only the fields behind
// them (organizations for jobTitle, department, costCenter and
// employeeType; relations for managerEmail and managerId; phones;
// externalIds; aliases; isAdmin; creationTime; lastLoginTime) besides the
// built-in ones and orgUnitPath, which scoping needs; projection basic
// unless a name is a custom schema attribute, and then projection custom
// with only those of Config.CustomSchemas in customFieldMask (projection
// full when CustomSchemas is "*", whose schemas' spelling is known only
// from a response). groups.list leaves aliases out unless it is named or
// groups are found by alias (ScopeGroups, Named). Every other attribute
// is dropped as each user is converted.
//
// # Paging, throttling and failures
//
// Users are listed 500 a page, groups and members 200 a page. Every
// request asks for only the fields used, and every field mask keeps
// nextPageToken, without which Google's partial responses stop a listing
// after its first page. The generated client retries nothing, so the
// source retries 403 rateLimitExceeded, userRateLimitExceeded and
// quotaExceeded, 429 and 5xx itself, honouring Retry-After and otherwise
// backing off exponentially with full jitter, and keeps under Google's
// quota of 2,400 queries a minute with a rate limiter. Member listings run
// concurrently (Config.Concurrency). Each users page is converted as it
// arrives, so a read holds the users in scope as converted and a page of
// Google's, not every user as Google sent it; with ScopeGroups, the scope
// groups' members are listed first for that. A request that still fails fails the
// whole read, which returns no directory, so the engine never mistakes a
// partial read for users who left.
//
// # Why there are no incremental reads
//
// The Directory API has no delta or change token. users.watch pushes
// changes to a public HTTPS webhook (and covers users only, not groups or
// memberships); the Reports API's admin activity log has an undocumented
// lag and needs another scope. Neither can be relied upon to catch every
// change, so the source does not implement source.Incremental: each run is
// a full read, made cheap instead. A domain of 1,000 users and 50 groups
// takes 54 requests (two user pages, the deleted-users page, one groups
// page and a member listing per group).
//
// # The admin log
//
// Event names the event of Google's provisioning log that one change of a
// run stands for: Create User By Auto Provisioning, Update Auto
// Provisioned User, Hard Delete Auto Provisioned User or Failures. It takes
// the engine's action name, not its types: adapters do not import the
// engine, and the program that runs the engine reads its Result with it.
package google
