package graphtest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// delta serves users/delta and groups/delta. Tokens carry the change
// sequence numbers a round covers, the $select of the first request and
// the epoch they were issued in (ExpireDeltaTokens bumps it).
func (s *Server) delta(rt route, q url.Values) (any, *graphError) {
	kind := rt.parent
	base := s.URL() + "/" + kind + "/delta"
	var tok pageToken
	switch {
	case q.Get("$deltatoken") == "latest":
		return map[string]any{
			"@odata.context":   s.URL() + "/$metadata#" + kind,
			"value":            []any{},
			"@odata.deltaLink": base + "?$deltatoken=" + pageToken{Kind: kind, To: s.t.seq, Select: q.Get("$select"), Epoch: s.epoch}.encode(),
		}, nil
	case q.Has("$deltatoken") || q.Has("$skiptoken"):
		raw, isSkip := q.Get("$deltatoken"), false
		if raw == "" {
			raw, isSkip = q.Get("$skiptoken"), true
		}
		p, ok := decodeToken(raw)
		if !ok || p.Kind != kind {
			return nil, errorf(http.StatusBadRequest, "badRequest", "Badly formed token.")
		}
		if p.Epoch != s.epoch {
			e := errorf(s.expiredStatus, s.expiredCode, "The delta token has expired or is no longer valid; a full synchronization is required.")
			if s.expiredStatus == http.StatusGone {
				e.location = base + "?$deltatoken=latest"
			}
			return nil, e
		}
		tok = p
		if !isSkip { // a new round: the changes since the token
			tok = pageToken{Kind: kind, From: p.To, To: s.t.seq, Select: p.Select, Epoch: s.epoch}
		}
	default:
		tok = pageToken{Kind: kind, To: s.t.seq, Select: q.Get("$select"), Epoch: s.epoch, Initial: true}
	}
	known := knownUserProp
	typ := "user"
	if kind == "groups" {
		known, typ = knownGroupProp, "group"
	}
	sel, gerr := parseSelect(url.Values{"$select": {tok.Select}}, typ, known)
	if gerr != nil {
		return nil, gerr
	}
	items := s.deltaItems(kind, tok, sel)
	size := s.deltaPage
	end := min(tok.Off+size, len(items))
	off := min(tok.Off, len(items))
	body := map[string]any{"@odata.context": s.URL() + "/$metadata#" + kind, "value": nonNil(items[off:end])}
	if end < len(items) {
		next := tok
		next.Off, next.Size = end, size
		body["@odata.nextLink"] = base + "?$skiptoken=" + next.encode()
	} else {
		body["@odata.deltaLink"] = base + "?$deltatoken=" + pageToken{Kind: kind, To: tok.To, Select: tok.Select, Epoch: s.epoch}.encode()
	}
	return body, nil
}

// deltaItems lists the objects of one delta round, in a stable order.
func (s *Server) deltaItems(kind string, tok pageToken, sel []string) []map[string]any {
	objKind := TypeUser
	if kind == "groups" {
		objKind = TypeGroup
	}
	var ids []string
	memberLog := map[string][]change{}
	if tok.Initial {
		if objKind == TypeUser {
			ids = sortedKeys(s.t.users)
		} else {
			ids = sortedKeys(s.t.groups)
		}
	} else {
		last := map[string]int64{}
		for _, c := range s.t.log {
			if c.seq <= tok.From || c.seq > tok.To || c.kind != objKind {
				continue
			}
			last[c.id] = c.seq
			if c.isMember {
				memberLog[c.id] = append(memberLog[c.id], c)
			}
		}
		for id := range last {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b string) int { return int(last[a] - last[b]) })
	}
	var items []map[string]any
	for _, id := range ids {
		if objKind == TypeUser {
			u := s.t.users[id]
			if u == nil {
				items = append(items, map[string]any{"id": id, "@removed": map[string]any{"reason": "changed"}})
				continue
			}
			items = append(items, project(s.userProps(u), sel, nil))
			continue
		}
		g := s.t.groups[id]
		if g == nil {
			items = append(items, map[string]any{"@odata.type": "#microsoft.graph.group", "id": id,
				"@removed": map[string]any{"reason": "deleted"}})
			continue
		}
		withMembers := sel == nil || slices.Contains(sel, "members")
		props := project(s.groupProps(g), without(sel, "members"), nil)
		props["@odata.type"] = "#microsoft.graph.group"
		if !withMembers {
			items = append(items, props)
			continue
		}
		var md []map[string]any
		if tok.Initial {
			for _, m := range s.t.members[id] {
				md = append(md, map[string]any{"@odata.type": "#microsoft.graph." + s.t.typeOf(m), "id": m})
			}
		} else {
			md = memberChanges(memberLog[id])
		}
		chunk := s.deltaMembers
		if chunk <= 0 || len(md) <= chunk {
			props["members@delta"] = nonNil(md)
			items = append(items, props)
			continue
		}
		for i := 0; i < len(md); i += chunk {
			part := md[i:min(i+chunk, len(md))]
			obj := map[string]any{"@odata.type": "#microsoft.graph.group", "id": id}
			if i == 0 {
				obj = props
			}
			obj["members@delta"] = part
			items = append(items, obj)
		}
	}
	return items
}

// memberChanges folds a group's membership log to the last change per
// member: an add is a plain reference, a removal carries @removed.
func memberChanges(log []change) []map[string]any {
	lastAdd := map[string]bool{}
	types := map[string]string{}
	var order []string
	for _, c := range log {
		if _, seen := lastAdd[c.member]; !seen {
			order = append(order, c.member)
		}
		lastAdd[c.member] = c.added
		if c.mtype != "" {
			types[c.member] = c.mtype
		}
	}
	out := make([]map[string]any, 0, len(order))
	for _, m := range order {
		e := map[string]any{"@odata.type": "#microsoft.graph." + types[m], "id": m}
		if !lastAdd[m] {
			e["@removed"] = map[string]any{"reason": "deleted"}
		}
		out = append(out, e)
	}
	return out
}

func without(sel []string, p string) []string {
	if sel == nil {
		return nil
	}
	out := make([]string, 0, len(sel))
	for _, x := range sel {
		if !strings.EqualFold(x, p) {
			out = append(out, x)
		}
	}
	return out
}
