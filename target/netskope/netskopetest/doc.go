// Package netskopetest is an embedded, in-memory SCIM 2.0 server that
// behaves like Netskope's /api/v2/scim endpoint. Tests, benchmarks and the
// quickstart use it the way net/http/httptest is used:
//
//	srv := netskopetest.New(t) // started, closed by t.Cleanup
//	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
//
// (Example shows a whole run.) Schema validation, filter parsing and
// evaluation, PATCH validation and the dispatch of PATCHes other than of
// members are done by github.com/elimity-com/scim; this package supplies
// the storage (maps and ordered slices, safe for concurrent use), wraps
// elimity's handler in middleware where Netskope differs from it or from
// RFC 7644, and answers POST, PUT, reads, DELETE and PATCHes that only
// add, remove or replace members itself, with the answers elimity's
// handler gives but at a fraction of its CPU (it rebuilds a schema per
// write, marshals every resource as a map and validates every member as
// a map): a sync of 100,000 users makes them by the hundred thousand.
// Bodies of the usual shape are validated without elimity too, with the
// result its validation gives. BenchmarkServerRequest measures the cost
// per request, BenchmarkHandlerCreateUser the handler's own:
//
//	go test -run '^$' -bench 'ServerRequest|HandlerCreateUser' -benchmem ./target/netskope/netskopetest/
//
// # What Netskope documents
//
// The behaviour below follows Netskope's SCIM settings page
// (https://docs.netskope.com/en/netskope-scim-settings/), its REST API v2
// overview (https://docs.netskope.com/en/rest-api-v2-overview/), the
// gateway specification cited by the official Python SDK
// (https://github.com/netskopeoss/netskope-py-sdk) and the 404 body
// netskope-cli's changelog quotes (https://github.com/netskopeoss/netskope-cli).
//
//   - Base path /api/v2/scim with /Users, /Users/{id}, /Groups, /Groups/{id};
//     ids are random UUIDs.
//   - The token is accepted as "Authorization: Bearer <token>" or as
//     "Netskope-Api-Token: <token>"; anything else is 401.
//   - A path the gateway has no route for answers 404 with
//     {"message":"no Route matched with those values"}, before any
//     authentication, as a Kong gateway does.
//   - Users are the core User schema plus the enterprise extension;
//     "active" may also be sent as the string "true" or "false" (seen in
//     public client code, not documented).
//   - POST answers 201 with the resource (and a Location header), PUT 200,
//     DELETE 204, and PATCH 204 No Content on every success. An unknown id
//     is 404.
//   - Group reads (GET /Groups and /Groups/{id}) leave members out unless
//     the attributes query parameter names members, case-insensitively;
//     excludedAttributes=members also leaves them out. Members are
//     read back as {"value": id, "display": name}, in the order they were
//     added. Users carry no groups attribute.
//   - Group PATCH accepts the paths members, externalid and displayname in
//     any case, ops in any case (Entra's "Add"/"Replace"/"Remove"), add and
//     remove of members with an array of {"value": id}, remove with a
//     members[value eq "id"] filter, and replace of members.
//   - User PATCH accepts add/replace/remove on any User or enterprise
//     attribute by path (active, userName, externalId, displayName,
//     name.givenName, emails, emails[type eq "work"].value, title,
//     urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,
//     ...) and a path-less replace whose value is an object.
//   - Lists page by startIndex (1-based) and count in insertion order;
//     itemsPerPage is the number of resources actually returned.
//   - Over the configured rate limit the answer is 429 with Retry-After,
//     RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers and
//     the body {"message":"API rate limit exceeded"}.
//   - SCIM bodies are application/scim+json;charset=utf-8; error bodies are
//     application/json.
//
// # Where Netskope's documentation is silent
//
// These choices are guesses, each kept close to what clients expect:
//
//   - Error bodies: RFC 7644 bodies with scimType by default,
//     or Netskope-gateway style {"message": ...} with WithErrorStyle. Errors
//     the gateway itself produces (unknown route, rate limit) are always
//     {"message": ...}. A duplicate answers 409 with scimType uniqueness.
//   - Rate limit: off unless WithRateLimit is given; then a
//     token bucket per server. RateLimit-Limit is the bucket size (burst),
//     RateLimit-Remaining the whole tokens left, RateLimit-Reset the whole
//     seconds until the bucket is full again; Retry-After the whole seconds
//     until the next token, at least 1. WithoutRateHeaders leaves all four
//     headers out, for clients that must find the limit from 429s alone.
//   - Page size: count is capped at 1000 (WithMaxPageSize), the
//     cap the official SDK uses; a missing count means the cap; count=0
//     returns totalResults only.
//   - Filters: every expression elimity's parser and validator
//     accept is answered. "eq" on userName (case-insensitive), externalId
//     (case-exact), id and, for groups, displayName (case-insensitive) is
//     answered from indexes; anything else scans all resources. Values are
//     matched exactly after JSON unescaping, so no value can change the
//     expression. Unquoted values (userName eq x) are rejected with 400
//     invalidFilter, and so are expressions that mix core and enterprise
//     attributes (an elimity limitation).
//   - PATCH: filter paths, path-less bodies and mixed-case ops
//     and paths are accepted. Replacing a complex attribute such as name
//     merges its sub-attributes (RFC 7644 §3.5.2.3). A replace through a
//     value filter that matches nothing, such as emails[type eq "work"].value
//     on a user without a work email, adds a value with type "work", as
//     Entra expects.
//   - PUT replaces the whole resource: a group PUT without
//     members leaves the group empty.
//   - DELETE is a hard delete; the userName is free again at
//     once. Deleting a user removes it from every group.
//   - /ServiceProviderConfig, /Schemas, /ResourceTypes and /Bulk answer
//     the gateway 404, so clients do not come to rely on them. No ETags;
//     sortBy is ignored.
//   - Group members: no limit on group size or on members per
//     request; members must be existing users: an unknown member value is
//     refused with 400 invalidValue and nothing changes (Netskope's
//     provisioning guides say to push users before groups), rather than
//     dropped silently. Group displayName is
//     unique, case-insensitively, like userName.
//   - userName and email edits take effect.
//   - Enterprise attributes are stored and returned.
//   - attributes= on reads only decides whether group members are
//     returned; it does not narrow the rest of the resource, as the
//     official SDK reads displayName from a group fetched with
//     attributes=members. excludedAttributes drops the named top-level
//     attributes. The same rule applies to the group returned by POST and
//     PUT: members only when the query asks for them. A group without
//     members read with attributes=members has "members": [].
//   - Order of checks: unknown route (404, before authentication, as a
//     gateway routes first), then authentication (401), the rate limit
//     (429), injected faults, and only then SCIM processing.
//
// Lying and weaker servers, for tests of what a client concludes:
// WithListLie and SetListLie make list responses under-report (totalResults
// 0, "Resources": null, totalResults of the first page), or page
// inconsistently (totalResults drifting, a short page and then nothing,
// pages that overlap). WithFilterQuirks makes filters weaker than the
// uniqueness checks (case-exact eq, a quote refused with invalidFilter,
// escapes left in values). WithoutEmptyMembers leaves members out of a
// group that has none even when they are asked for.
// WithOneGroupPatchOperation refuses a group PATCH of several operations.
//
// Fault injection (WithFaults, SetFaults) adds latency and answers a
// fraction of requests with 429 or 500 before they are processed, so an
// injected fault never changes state; FailCreates answers the creates of
// the named users or groups 500 every time. Stats counts requests per endpoint and
// the faults injected.
package netskopetest
