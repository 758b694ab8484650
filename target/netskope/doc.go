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
// Netskope publishes no SCIM rate limit; the one published REST API v2
// figure is 4 requests per second per endpoint, which is the default of the
// client-side limiter (WithRateLimit) that all callers of a Client share.
// The client also watches the gateway's RateLimit-Limit,
// RateLimit-Remaining and RateLimit-Reset headers and holds further requests
// until the reset when the budget is nearly spent.
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
