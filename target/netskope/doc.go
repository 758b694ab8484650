// Package netskope is provsync's client for Netskope's SCIM 2.0 API, the
// endpoint identity providers use to provision users and groups into a
// Netskope tenant. *Client implements target.Target and target.Checker.
//
// # Base URL
//
// The current endpoint is https://<tenant>[.<region>].goskope.com/api/v2/scim
// (see TenantURL). Any base URL is accepted, including the retired add-on
// form https://addon-<tenant>.goskope.com/SCIM/V2/<path>: resources are the
// base URL followed by /Users, /Groups, /Users/{id} and /Groups/{id}.
// Because the add-on form embeds a per-client secret in its path, errors
// and logs name request paths relative to the base URL ("/Users/{id}").
// HTTPS is required except for loopback hosts (tests, local fakes).
//
// # Authentication
//
// A REST API v2 token is sent as "Authorization: Bearer <token>", as the
// identity providers do; WithAPITokenHeader sends the documented
// "Netskope-Api-Token: <token>" header instead. The token needs the
// endpoints api/v2/scim/Users and api/v2/scim/Groups with Read+Write
// privilege; Check tells a bad URL, a refused token, a missing scope and an
// IP allowlist refusal apart. The token never appears in logs, errors or
// formatted output. Redirects are not followed, so the token is never
// replayed to another host.
//
// # Netskope specifics
//
//   - PATCH answers 204 No Content; a 200 with a body is accepted too and
//     the body ignored.
//   - Group reads leave members out unless asked for. Without
//     target.WithMembers the client sends excludedAttributes=members; with
//     it, attributes=id,externalId,displayName,members,meta.
//   - Group PATCH paths are lower case (members, externalid, displayname),
//     as Netskope's gateway specification lists them; user PATCH paths are
//     sent as given.
//   - Membership changes are PATCH add/remove operations on "members",
//     split into chunks (WithMemberChunkSize, 1000 by default).
//   - Lists page with startIndex and count (WithPageSize, 100 by default)
//     and advance by the number of resources actually returned, as the
//     server may cap a page below the count asked for. A server that
//     ignores startIndex is detected rather than looped on.
//
// # Rate limits and retries
//
// Netskope publishes no SCIM rate limit. REST API v2 tenants have a global
// rate limit, in requests per second, that varies by tenant
// (https://docs.netskope.com/en/rest-api-v2-overview/); the one
// published figure is 4 requests per second per endpoint for the
// dataexport iterator endpoints, whose gateway answers with
// RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds) and,
// on 429, Retry-After
// (https://docs.netskope.com/en/using-the-rest-api-v2-dataexport-iterator-endpoints/).
//
// So the client paces itself, one pace shared by all callers of a Client.
// By default it starts at DefaultRateLimit (4 requests a second) and learns
// the tenant's budget (WithAdaptiveRate):
//
//   - When responses carry RateLimit-Limit and RateLimit-Reset, the client
//     reads them as Limit requests per window, the window being the longest
//     Reset seen (at least a second), and moves to 97% of that rate after
//     the first answer.
//   - When they do not, the rate grows while requests succeed and callers
//     send as fast as it allows: by 25% a second until the first 429,
//     by 0.5% a second after it.
//   - A 429 cuts the rate by a fifth, once for all the requests already
//     sent, and keeps the client off an advertised rate for a minute.
//
// The rate stays between 0.1 requests a second and DefaultMaxRate (or the
// max given to WithAdaptiveRate); it does not grow while callers send less
// than it allows. Against a server allowing 20 or 7 requests a second with
// those headers, the client uses about 97% of the rate from the first
// minute with no 429; without any rate headers it settles to one or two
// 429s a minute. WithRateLimit fixes the rate instead, and the client then
// never changes it. Stats reports the rate in force. Whatever the pace, a
// response whose RateLimit-Remaining says the budget is nearly spent (at
// most 1, or under a tenth of RateLimit-Limit) holds further requests until
// RateLimit-Reset.
//
// Responses 429, 500, 502, 503 and 504, timeouts and connection errors are
// retried (WithMaxRetries, WithBackoff), waiting as Retry-After says, else
// as RateLimit-Reset says (on 429), else with exponential backoff and full
// jitter. Every wait ends early when the caller's context is done. POST is
// retried too, though it is not idempotent: a POST that timed out or failed
// with 500 may have created its object, and its retry then answers 409. Such
// a conflict is returned as target.ErrConflict with a note that an earlier
// attempt may have created the object; the sync engine resolves it by
// looking the object up and adopting it, so creates converge.
package netskope
