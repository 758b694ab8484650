// Package source is the source side of provsync: the users and groups an
// identity provider holds for the app, and the interfaces a provider
// adapter implements to hand them to the engine.
//
// # Model
//
// A [Directory] is a snapshot of everything in scope: [User] values and
// [Group] values. Every object has a stable source id (Entra object id,
// Google user or group id, OneLogin id, a file's id) that never changes when
// the object is renamed; the engine keys everything on it. Fields every
// provider has (user name, emails, given and family name, display name,
// state) are typed fields; everything else a provider knows about an object
// (department, job title, employee id, manager, org unit, custom schema
// attributes, role ids, ...) goes in Attributes by name. [User.Attr] and
// [Group.Attr] resolve both kinds by name, case-insensitively, so mapping
// rules can refer to "userPrincipalName", "mail", "surname" or "department"
// the same way whatever the provider.
//
// A user's [State] is active, suspended (Entra accountEnabled=false, Google
// suspended or archived, OneLogin suspended or locked — the adapter decides
// and documents it) or deleted (Google's deleted users, which stay listed
// until they are hard-deleted; see [User.DeletedAt]). A user that leaves
// scope (unassigned from the app, removed from the scoping group) is not a
// state: it is simply absent from the next snapshot, or listed in
// [Changes.RemovedUsers].
//
// Groups list their direct user members by id in [Group.Members]; nested
// groups, when a source reports them, are listed in [Group.MemberGroups]
// and are never expanded implicitly ([Index.TransitiveMembers] does it on
// request).
//
// # Reading
//
// A [Source] returns the complete snapshot or an error, never a partial
// directory: the engine deprovisions whatever a snapshot lacks, so a read
// that failed on page 7 of 12 must fail as a whole. An [Incremental] source
// can also return only what changed since a cursor; [Apply] folds such
// [Changes] into the previous snapshot.
//
// # Validation and limits
//
// [Directory.Validate] reports every problem of a directory, not just the
// first: ids missing or repeated, user names repeated ignoring case,
// memberships naming objects the directory lacks, and text no target
// should receive: invalid UTF-8 (which encoders would silently turn into
// U+FFFD), control characters or white space alone in ids, user names,
// email addresses and group names, and strings beyond the size limits:
//
//	MaxIDBytes         1024 bytes   a source id
//	MaxUserNameBytes    512 bytes   a user name (Entra UPNs are at most 113
//	                                characters, e-mail addresses 254 bytes)
//	MaxGroupNameBytes  1024 bytes   a group name (Entra allows 256 characters)
//	MaxValueBytes        64 KiB     any other string, and each attribute value
//	                                or list item
//	MaxListItems      10000 items   a list attribute
//
// The limits are far above what providers allow, so only a corrupt or
// hostile source meets them. The engine validates every read, full or
// incremental, and plans nothing from a directory that fails.
//
// Errors match the sentinels [ErrInvalid], [ErrIncomplete],
// [ErrUnavailable] and [ErrCursorExpired] with errors.Is; problems with one
// object are [*ObjectError] values naming the object and the field.
package source
