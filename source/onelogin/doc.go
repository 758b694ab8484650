// Package onelogin is the OneLogin source: it reads the users who have
// one app (the Netskope connector), as OneLogin's provisioning does, over
// API v2 with a small net/http client. OneLogin's Go SDK is not used: its
// hosts are hard-coded, it reads credentials from the environment, and it
// handles neither throttling nor cursors correctly.
//
// # Credentials and hosts
//
// An API credential pair with Read All (listing an app's users needs it)
// gets tokens from /auth/oauth2/v2/token with golang.org/x/oauth2's client
// credentials flow, the credentials in the form body as documented (or as
// HTTP Basic, Config.AuthStyle). BaseURL is the account's subdomain,
// https://<subdomain>.onelogin.com, a legacy regional host, or a local
// test server (package onelogintest).
//
// # Who is in scope
//
// Users get the app directly or through roles. The source lists the app's
// users (/api/2/apps/{id}/users, ids only, 1,000 a page) and the users of
// every role that holds the app (/api/2/roles?app_id, then
// /api/2/roles/{id}/users), since OneLogin does not document whether the
// first listing includes the second. Full profiles come from /api/2/users
// with user_ids, 50 ids a request, four requests at once: standard fields,
// custom attributes by short name, role ids and names, the group id and
// name, status and state. A custom attribute whose short name is taken
// (a user field such as email, or an attribute this source sets) is kept
// as "custom_attributes.<shortname>"; empty values are left out.
//
// Status decides the state: by default (DefaultState) only status 1,
// Active, is active, and every other status (unactivated, suspended,
// locked, password states) is suspended, as is an active user whose
// state is 2, Rejected; Config.State changes that.
// OneLogin keeps no deleted users: a deleted user leaves scope, and the
// engine's policy for leaving scope applies (delete, deactivate or
// nothing, as the connector's "deleted users" choice).
//
// The roles that hold the app ("role:<id>") and the OneLogin groups of
// users in scope ("group:<id>") are reported as groups, with the
// attribute kind set to "role" or "group", for the mapping layer's rules;
// users also carry roleIds (every role of the profile, as strings), roles
// (the names of those that hold the app), groupId and groupName.
//
// # Reading only some attributes
//
// Source implements source.AttributeSelector: ReadAttributes is Read with
// the users' and groups' attributes cut to the names given, matched
// ignoring case. The profile requests carry /api/2/users' fields
// parameter: the fields of the typed fields, the state and the groups,
// the field behind each fixed attribute named (or whose custom namesake,
// "custom_attributes.<name>", is named) and custom_attributes when any
// name is given, since a custom attribute's short name can be any name;
// the attributes not named are dropped as each user is converted.
// ReadChanges always reads whole profiles.
//
// # Paging, rate limits and failures
//
// v2 listings page with the After-Cursor header sent back as cursor,
// never together with limit (OneLogin refuses the pair). The client reads
// X-RateLimit-Remaining and X-RateLimit-Reset on every response and
// counts the requests it sends since against them: under a tenth of the
// window left, a golang.org/x/time/rate limiter spreads the remaining
// requests over the time to the reset; with none left, requests wait for
// the reset. Config.RateLimit adds a steady cap. 429s, 5xxs and broken
// connections are retried with Retry-After or jittered exponential
// backoff, Config.MaxRetries times. A request that still fails fails the whole read,
// cancels the requests still running, and the read returns nothing, so a
// partial read never deprovisions anyone; so does a listing that ends
// short of its Total-Count header without an After-Cursor.
//
// # Incremental reads
//
// Source implements source.Incremental. The cursor (gzipped JSON, base64:
// opaque, no credential) keeps the app id, the time the last read started
// by OneLogin's clock, and each user's group and app roles. The next read
// lists the app's users and roles again (a few requests, ids only),
// fetches the profiles of users new in scope, users whose app roles
// changed (whether OneLogin stamps updated_at for that is undocumented),
// and users /api/2/users?updated_since reports
// changed since the last read less Config.Overlap; users no longer in
// scope are reported removed. A second run over 1,000 unchanged app users
// takes six requests instead of 25.
//
// Why this is safe without a change feed: scope (who has the app, through
// which roles) is re-listed in full every run, so additions and removals
// are never missed; only profile changes rely on updated_at, with the
// overlap against clock skew, and the position is taken from OneLogin's
// Date header, not the local clock. What it can miss: a change to a role
// that does not hold the app, if OneLogin does not stamp updated_at for it
// (undocumented), leaves that user's roleIds stale until the profile
// changes or the next full read (an empty cursor, or Read). A
// cursor is for one app and one cursor version; any other fails with
// source.ErrCursorExpired.
package onelogin
