// Package graphtest is a fake Microsoft Graph v1.0 service for tests: an
// in-memory Entra tenant (users, groups with any kind of member, devices,
// contacts, enterprise apps with app roles and assignments) served over
// HTTP on 127.0.0.1 in Graph's own JSON, so the real msgraph-sdk-go
// client can be pointed at it.
//
// What it speaks:
//
//   - GET /v1.0/servicePrincipals/{id} and /servicePrincipals(appId='{appId}'),
//     and their /appRoleAssignedTo ($top up to 999, @odata.nextLink paging);
//   - GET /v1.0/users, /users/$count (with ConsistencyLevel: eventual),
//     /users/{id or userPrincipalName}, /users/{id}/memberOf,
//     /users/{id}/transitiveMemberOf; GET /v1.0/groups, /groups/{id},
//     /groups/{id}/members and /transitiveMembers, members carrying
//     @odata.type (#microsoft.graph.user, group, device, orgContact,
//     servicePrincipal);
//   - GET /v1.0/users/delta and /groups/delta: @odata.nextLink ($skiptoken)
//     pages, a final @odata.deltaLink ($deltatoken), @removed items,
//     members@delta with @removed members, $deltatoken=latest; tokens
//     encode the tenant's change sequence number and the first request's
//     $select; ExpireDeltaTokens makes them answer 410 Gone
//     (syncStateNotFound) or what WithExpiredTokenResponse says;
//   - $select is honoured and checked (an unknown property is a 400), the
//     default property set applies without it; $filter, $orderby, $search
//     and $skip are refused;
//   - Graph error bodies ({"error":{"code","message","innerError"}}), 401
//     without a valid bearer token, 404 Request_ResourceNotFound;
//   - faults: InjectFault and Throttle answer chosen routes and pages with
//     an error status, a Graph error code and Retry-After.
//
// A TLS listener plays the Entra authority (AuthorityHost): OpenID
// metadata, instance discovery and /{tenant}/oauth2/v2.0/token for the
// client credentials grant with ClientID and ClientSecret, so azidentity's
// ClientSecretCredential works offline. Credential skips that step.
//
// Every request is counted per route (RequestsTo) and logged (RequestLog).
package graphtest
