// Package entra is the Microsoft Entra ID source: it reads the users and
// groups of an Entra tenant through Microsoft Graph v1.0 and hands them to
// the engine, doing the job of the Netskope gallery apps' provisioning.
//
// It is built on msgraph-sdk-go's sub-packages (users, groups,
// serviceprincipals, models) and msgraph-sdk-go-core's page iterator,
// never on the SDK's root package, which links every Graph API; the
// request adapter is built here (kiota's net/http adapter with an Azure
// identity auth provider).
//
// # Scope
//
// ScopeAssigned (the default) reads the enterprise app's
// appRoleAssignedTo to the last page: users assigned directly are in
// scope, and so are the direct members of assigned groups (all nested
// members with Transitive); members that are devices, contacts or
// service principals are skipped, and nested groups are not synced
// themselves. Assignments with the Default Access role (the all-zero role
// id, or the app's own default role such as msiam_access, whose value is
// null) are left out unless IncludeDefaultAccess is set. If the app does
// not require assignment, every read logs a warning and
// AssignmentRequired reports it. ScopeAll reads every user and group.
//
// # Users
//
// Users carry id, userPrincipalName, mail, otherMails, givenName,
// surname, displayName, accountEnabled, employeeId, department, jobTitle
// and userType, plus the properties in Config.UserAttributes. A disabled
// account is suspended. A guest's UPN (alias_theirdomain#EXT#@yourdomain)
// becomes alias@theirdomain, as Entra's provisioning does; the original
// is kept as "originalUserPrincipalName". Without mail, the first of
// otherMails is the primary email; with neither, the mapping falls back
// to the user name.
//
// # Reading only some attributes
//
// Source implements source.AttributeSelector: ReadAttributes is Read with
// the users' attributes cut to the names given, matched ignoring case.
// Graph is asked for less: the users' $select keeps the properties of the
// typed fields, and of employeeId, department, jobTitle, userType and
// Config.UserAttributes only those a name asks for (an object-valued
// property such as onPremisesExtensionAttributes when a name asks for one
// of its "property.field" attributes). Graph returns department,
// employeeId, userType and the like only when selected, so what is not
// asked for is neither sent nor held. Assignments, the Default Access
// rule, account state and groups are read as by Read. Incremental reads
// are not narrowed: Graph's delta reports changes only to the properties
// its first request selected.
//
// # Incremental reads
//
// ReadChanges uses users/delta and groups/delta. The engine's cursor
// holds both delta links and the ids in scope; the assignments are read
// again every time (Graph has no delta for them), and assigned groups
// whose membership changed are updated from members@delta. Users and
// groups deleted in Entra, unassigned or out of every assigned group
// become removals. A delta token Graph no longer honours (410 Gone,
// syncStateNotFound) gives a full read with Changes.Full set.
//
// # Failures
//
// Throttling (429) and server errors (500, 502, 503, 504) are retried up
// to MaxRetries times (default 5; negative for none), waiting what
// Retry-After says, else backing off exponentially from Backoff with full
// jitter, until the waits of one request reach 180 s: the retry policy
// every provsync client shares, in the Graph pipeline's place of kiota's
// retry handler, which retries neither 500 nor 502. Any
// request that still fails fails the whole read, so the engine
// deprovisions nothing from it; errors match source.ErrUnavailable,
// source.ErrIncomplete (a page after the first failed) or
// source.ErrInvalid (configuration, permissions), and keep Graph's
// error reachable as a *GraphError.
//
// # National clouds
//
// Config.GraphURL, Config.AuthorityHost and Config.TokenScopes default to
// Microsoft's global service. For a national cloud, set all three (the
// Cloud variables hold them); the app registration must be made in that
// cloud's Entra admin center:
//
//	global (CloudPublic)
//	    authority  https://login.microsoftonline.com/
//	    Graph URL  https://graph.microsoft.com/v1.0
//	    scope      https://graph.microsoft.com/.default
//	US Government L4 (GCC High) (CloudUSGovernment)
//	    authority  https://login.microsoftonline.us/
//	    Graph URL  https://graph.microsoft.us/v1.0
//	    scope      https://graph.microsoft.us/.default
//	US Government L5 (DoD) (CloudUSGovDoD)
//	    authority  https://login.microsoftonline.us/
//	    Graph URL  https://dod-graph.microsoft.us/v1.0
//	    scope      https://dod-graph.microsoft.us/.default
//	China (21Vianet) (CloudChina)
//	    authority  https://login.chinacloudapi.cn/
//	    Graph URL  https://microsoftgraph.chinacloudapi.cn/v1.0
//	    scope      https://microsoftgraph.chinacloudapi.cn/.default
//
// Source: Microsoft Graph national cloud deployments,
// https://learn.microsoft.com/graph/deployments, and for the scope,
// https://learn.microsoft.com/graph/sdks/national-clouds (a .default scope
// uses the domain of the cloud's Graph service root). When GraphURL is
// not Graph's own host (a proxy), the default scope derived from it is
// wrong: set TokenScopes to the cloud's scope.
//
// # Provision on demand
//
// ReadUser reads one user, by id or UPN, with the groups in scope they
// belong to. OnDemand is a source of that one user for the engine, to be
// planned with a policy that leaves absent users and groups alone
// (LeftScope Ignore, DeleteGroups false); memberships follow on the next
// full sync.
package entra
