package scim

import (
	"encoding/json"
	"strings"
)

// Patch operation names, lower case as RFC 7644 writes them.
const (
	OpAdd     = "add"
	OpRemove  = "remove"
	OpReplace = "replace"
)

// PatchOperation is one operation of a PATCH request. Value is any value
// that marshals to the JSON the operation needs; a decoded operation holds
// the raw JSON as a json.RawMessage.
type PatchOperation struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

// PatchOp is the body of a PATCH request (RFC 7644 section 3.5.2).
type PatchOp struct {
	Schemas    []string         `json:"schemas"`
	Operations []PatchOperation `json:"Operations"`
}

// NewPatch returns a PatchOp body holding ops.
func NewPatch(ops ...PatchOperation) PatchOp {
	return PatchOp{Schemas: []string{SchemaPatchOp}, Operations: ops}
}

// Replace returns a replace operation of path with value.
func Replace(path string, value any) PatchOperation {
	return PatchOperation{Op: OpReplace, Path: path, Value: value}
}

// Add returns an add operation of value at path.
func Add(path string, value any) PatchOperation {
	return PatchOperation{Op: OpAdd, Path: path, Value: value}
}

// Remove returns a remove operation at path; value may be nil.
func Remove(path string, value any) PatchOperation {
	return PatchOperation{Op: OpRemove, Path: path, Value: value}
}

// MemberValues returns member references for ids, the value of a members
// add or remove operation: [{"value": id}, ...].
func MemberValues(ids []string) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i] = Member{Value: id}
	}
	return out
}

// UnmarshalJSON decodes an operation, keeping the value as raw JSON and
// folding the op name to lower case (Entra sends "Add", "Replace").
func (o *PatchOperation) UnmarshalJSON(b []byte) error {
	var aux struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	o.Op = strings.ToLower(aux.Op)
	o.Path = aux.Path
	o.Value = nil
	if len(aux.Value) > 0 {
		o.Value = aux.Value
	}
	return nil
}
