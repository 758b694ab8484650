// Package scim is the SCIM 2.0 wire model that provsync speaks to its
// targets: users with the enterprise extension, groups and their member
// references, list responses, PATCH requests, error bodies and a filter
// builder whose values are always escaped (RFC 7643, RFC 7644).
//
// The package imports the standard library only. It knows nothing of any
// particular service provider; Netskope's quirks live in target/netskope.
package scim

// Schema URNs used by the core resources and messages.
const (
	// SchemaUser is the core User resource schema.
	SchemaUser = "urn:ietf:params:scim:schemas:core:2.0:User"
	// SchemaEnterpriseUser is the enterprise User extension schema.
	SchemaEnterpriseUser = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// SchemaGroup is the core Group resource schema.
	SchemaGroup = "urn:ietf:params:scim:schemas:core:2.0:Group"
	// SchemaListResponse is the schema of a list (query) response.
	SchemaListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	// SchemaPatchOp is the schema of a PATCH request body.
	SchemaPatchOp = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	// SchemaError is the schema of an error response body.
	SchemaError = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// MediaType is the SCIM media type sent and accepted by clients.
const MediaType = "application/scim+json"
