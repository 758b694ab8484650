package netskopetest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// ListLie makes list responses misreport what the server holds, the ways
// faulty SCIM servers do. Tests use it to check that a client never takes
// an under-reported listing for the truth. A lie applies to every list
// response, filtered or not, of both collections; single reads stay true.
type ListLie int

const (
	// ListTruthful answers lists as they are (the default).
	ListTruthful ListLie = iota
	// ListEmpty claims the collection is empty: totalResults 0 and no
	// resources, on every page.
	ListEmpty
	// ListNullResources gives the true totalResults with "Resources": null
	// on every page.
	ListNullResources
	// ListTotalFirstPage gives as totalResults, on every page, the number
	// of resources the first page holds, so a client that trusts it stops
	// after the first page.
	ListTotalFirstPage
	// ListTotalDrifts gives the true totalResults on the first page and
	// one fewer on every later page, as a server does whose count moves
	// while it is paged through.
	ListTotalDrifts
	// ListShortPage answers the second page with half of its resources,
	// and every page after it empty, while totalResults stays true.
	ListShortPage
	// ListRepeats starts every page after the first one resource early,
	// so that it repeats the last resource of the page before.
	ListRepeats
)

// String names the lie.
func (l ListLie) String() string {
	switch l {
	case ListTruthful:
		return "truthful"
	case ListEmpty:
		return "empty"
	case ListNullResources:
		return "null Resources"
	case ListTotalFirstPage:
		return "totalResults of the first page"
	case ListTotalDrifts:
		return "totalResults drifts"
	case ListShortPage:
		return "short page"
	case ListRepeats:
		return "repeated ids"
	}
	return "unknown"
}

// WithListLie makes list responses lie as l says; SetListLie changes it
// while the server runs.
func WithListLie(l ListLie) Option {
	return func(c *config) { c.lie = l }
}

// SetListLie changes how list responses lie; ListTruthful ends the lie.
func (s *Server) SetListLie(l ListLie) { s.lie.Store(int32(l)) }

// listLie returns the current lie.
func (s *Server) listLie() ListLie { return ListLie(s.lie.Load()) }

// page cuts the page of a list from the resources matched, as the current
// lie has it: the records to return (nil for "Resources": null) and the
// totalResults to report. start is 0-based, count already capped.
func (s *Server) page(matches []*record, start, count int) ([]*record, int) {
	total := len(matches)
	window := func(from int) []*record {
		from = min(max(from, 0), total)
		return matches[from:min(from+max(count, 0), total)]
	}
	switch s.listLie() {
	case ListEmpty:
		return []*record{}, 0
	case ListNullResources:
		return nil, total
	case ListTotalFirstPage:
		return window(start), len(window(0))
	case ListTotalDrifts:
		if start > 0 {
			return window(start), max(total-1, 0)
		}
	case ListShortPage:
		switch {
		case start > 0 && start == count:
			w := window(start)
			return w[:len(w)/2], total
		case start > count:
			return []*record{}, total
		}
	case ListRepeats:
		if start > 0 {
			return window(start - 1), total
		}
	}
	return window(start), total
}

// FilterQuirks makes the server's filters weaker than its uniqueness
// checks, as some SCIM servers' are: userName and displayName stay unique
// ignoring case, but a filter may not find the object a 409 was about.
type FilterQuirks struct {
	// CaseExactEq compares "eq" on userName and displayName case-exactly.
	CaseExactEq bool
	// RejectQuotes answers a filter whose value holds a double quote
	// (escaped as \") with 400 invalidFilter.
	RejectQuotes bool
	// RawEscapes compares filter values without undoing their escapes,
	// so "a\\b" looks for the four characters a, \, \ and b.
	RawEscapes bool
}

// WithFilterQuirks makes filters behave as q says.
func WithFilterQuirks(q FilterQuirks) Option {
	return func(c *config) { c.quirks = q }
}

// WithoutEmptyMembers makes group reads that ask for members leave the
// members attribute out, rather than send "members": [], for a group that
// has none, as servers that omit empty attributes do.
func WithoutEmptyMembers() Option {
	return func(c *config) { c.noEmptyMembers = true }
}

// WithOneGroupPatchOperation makes the server answer a group PATCH that
// carries more than one operation with 400 invalidSyntax, as a tenant
// might whose clients (Netskope's own Cloud Exchange plugin among them)
// only ever send one add or one remove of members per request.
func WithOneGroupPatchOperation() Option {
	return func(c *config) { c.oneGroupOp = true }
}

// groupOpsRefused reports whether WithOneGroupPatchOperation refuses
// this request body: a group PATCH of several operations.
func (s *Server) groupOpsRefused(method string, k kind, body []byte) bool {
	if !s.oneGroupOp || method != http.MethodPatch || k != kindGroup {
		return false
	}
	var p struct{ Operations []json.RawMessage }
	return json.Unmarshal(body, &p) == nil && len(p.Operations) > 1
}

// refuseQuotes reports the invalidFilter error RejectQuotes answers for
// the request's filter, nil if it passes.
func (s *Server) refuseQuotes(r *http.Request) error {
	if s.quirks.RejectQuotes && strings.Contains(r.URL.Query().Get("filter"), `\"`) {
		return invalidFilter("a filter value may not hold a double quote")
	}
	return nil
}

// caseExact keeps the records whose attr is value exactly, when
// CaseExactEq asks for it and attr is the table's key attribute.
func (s *Server) caseExact(t *table, attr, value string, recs []*record) []*record {
	if !s.quirks.CaseExactEq || attr != t.keyAttr {
		return recs
	}
	var out []*record
	for _, rec := range recs {
		if rec.keyValue == value {
			out = append(out, rec)
		}
	}
	return out
}
