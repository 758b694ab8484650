package sync

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/provsync/provsync/scim"
)

// A user's mirror is kept in memory in a compact form, about a quarter
// of its JSON: packedUser (a zero byte, which no JSON starts with), then
// each attribute set, in the order below, as its tag and its value. A
// string value is a uvarint h and what its low three bits say:
//
//   - strText: h>>3 bytes of text follow;
//   - strUUID: 16 bytes follow, a lowercase UUID's (an externalId or a
//     manager's id, as a rule);
//   - strCommon: the value is commonValues[h>>3] ("work", ...);
//   - strUserName: the value is the userName's (an email, as a rule);
//   - strFullName: the value is name.givenName, a space and
//     name.familyName (a displayName, as a rule).
//
// A name, enterprise extension, manager and each email, phone number and
// address is its tag, followed by the tags of its parts; a part's tag
// applies to the object begun last. Strings are kept as JSON would carry
// them (invalid UTF-8 as U+FFFD), so two users have the same compact form
// exactly when they have the same JSON: the form is canonical and is
// compared byte for byte. It is never stored: in JSON (state files,
// journals, PostgreSQL) a mirror holds the user's SCIM JSON.
const packedUser = 0x00

// Tags of the compact user form, in the order they are written.
const (
	tagExternalID byte = iota + 1
	tagUserName
	tagName
	tagNameFormatted
	tagFamilyName
	tagGivenName
	tagMiddleName
	tagHonorificPrefix
	tagHonorificSuffix
	tagDisplayName
	tagNickName
	tagProfileURL
	tagTitle
	tagUserType
	tagPreferredLanguage
	tagLocale
	tagTimezone
	tagActiveFalse
	tagActiveTrue
	tagEmail
	tagPhone
	tagAddress
	tagValue         // an email's or phone number's value
	tagDisplay       // an email's or phone number's display
	tagType          // an email's, phone number's or address's type
	tagPrimary       // an email, phone number or address is primary
	tagAddrFormatted // an address's parts
	tagStreetAddress
	tagLocality
	tagRegion
	tagPostalCode
	tagCountry
	tagEnterprise
	tagEmployeeNumber
	tagCostCenter
	tagOrganization
	tagDivision
	tagDepartment
	tagManager
	tagManagerValue
	tagManagerRef
	tagManagerDisplayName
)

// Kinds of string value (the low bits of its header).
const (
	strText = iota
	strUUID
	strCommon
	strUserName
	strFullName
	strKinds = 8
)

// commonValues are values common enough to take one byte.
var commonValues = [...]string{"work", "home", "other", "mobile", "fax", "pager", "true", "false"}

// textAttr is a text attribute of a SCIM type T: its tag in the compact
// form, its name in JSON, and where it is held.
type textAttr[T any] struct {
	tag  byte
	name string
	at   func(*T) *string
}

// userKeys and userTexts are a user's own text attributes, in the order
// the compact form writes them (the name goes between the two).
var (
	userKeys = [...]textAttr[scim.User]{
		{tagExternalID, "externalId", func(u *scim.User) *string { return &u.ExternalID }},
		{tagUserName, "userName", func(u *scim.User) *string { return &u.UserName }},
	}
	userTexts = [...]textAttr[scim.User]{
		{tagDisplayName, "displayName", func(u *scim.User) *string { return &u.DisplayName }},
		{tagNickName, "nickName", func(u *scim.User) *string { return &u.NickName }},
		{tagProfileURL, "profileUrl", func(u *scim.User) *string { return &u.ProfileURL }},
		{tagTitle, "title", func(u *scim.User) *string { return &u.Title }},
		{tagUserType, "userType", func(u *scim.User) *string { return &u.UserType }},
		{tagPreferredLanguage, "preferredLanguage", func(u *scim.User) *string { return &u.PreferredLanguage }},
		{tagLocale, "locale", func(u *scim.User) *string { return &u.Locale }},
		{tagTimezone, "timezone", func(u *scim.User) *string { return &u.Timezone }},
	}
	// nameParts, addressParts and enterpriseParts are the text parts of a
	// name, an address (its type aside) and the enterprise extension.
	nameParts = [...]textAttr[scim.Name]{
		{tagNameFormatted, "formatted", func(n *scim.Name) *string { return &n.Formatted }},
		{tagFamilyName, "familyName", func(n *scim.Name) *string { return &n.FamilyName }},
		{tagGivenName, "givenName", func(n *scim.Name) *string { return &n.GivenName }},
		{tagMiddleName, "middleName", func(n *scim.Name) *string { return &n.MiddleName }},
		{tagHonorificPrefix, "honorificPrefix", func(n *scim.Name) *string { return &n.HonorificPrefix }},
		{tagHonorificSuffix, "honorificSuffix", func(n *scim.Name) *string { return &n.HonorificSuffix }},
	}
	addressParts = [...]textAttr[scim.Address]{
		{tagAddrFormatted, "formatted", func(a *scim.Address) *string { return &a.Formatted }},
		{tagStreetAddress, "streetAddress", func(a *scim.Address) *string { return &a.StreetAddress }},
		{tagLocality, "locality", func(a *scim.Address) *string { return &a.Locality }},
		{tagRegion, "region", func(a *scim.Address) *string { return &a.Region }},
		{tagPostalCode, "postalCode", func(a *scim.Address) *string { return &a.PostalCode }},
		{tagCountry, "country", func(a *scim.Address) *string { return &a.Country }},
	}
	enterpriseParts = [...]textAttr[scim.EnterpriseUser]{
		{tagEmployeeNumber, "employeeNumber", func(x *scim.EnterpriseUser) *string { return &x.EmployeeNumber }},
		{tagCostCenter, "costCenter", func(x *scim.EnterpriseUser) *string { return &x.CostCenter }},
		{tagOrganization, "organization", func(x *scim.EnterpriseUser) *string { return &x.Organization }},
		{tagDivision, "division", func(x *scim.EnterpriseUser) *string { return &x.Division }},
		{tagDepartment, "department", func(x *scim.EnterpriseUser) *string { return &x.Department }},
	}
)

// textNamed returns where v's text attribute name is held, nil if attrs
// has none of that name.
func textNamed[T any](attrs []textAttr[T], v *T, name string) *string {
	for _, a := range attrs {
		if a.name == name {
			return a.at(v)
		}
	}
	return nil
}

// textTagged returns where v's text attribute of tag t is held, nil if
// attrs has none of that tag.
func textTagged[T any](attrs []textAttr[T], v *T, t byte) *string {
	for _, a := range attrs {
		if a.tag == t {
			return a.at(v)
		}
	}
	return nil
}

// appendTexts writes v's text attributes of attrs.
func (p *userPacker) appendTexts(b []byte, attrs []textAttr[scim.User], u *scim.User) []byte {
	for _, a := range attrs {
		b = p.str(b, a.tag, *a.at(u))
	}
	return b
}

// isPacked reports whether b is a user in the compact form.
func isPacked(b []byte) bool { return len(b) > 0 && b[0] == packedUser }

// packedCopy returns u's compact form in a slice of its own, of its
// exact length.
func packedCopy(u *scim.User) []byte {
	var buf [512]byte
	b := appendPackedUser(buf[:0], u)
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// userPacker holds what the values of a user's compact form may refer
// to; the form itself is passed along (a slice in a struct the methods
// write would go to the heap).
type userPacker struct {
	userName      string
	given, family string // set once the name is written
}

// appendPackedUser appends u's compact form to b: all of u but its id,
// schemas, meta and groups, as a mirror keeps it.
func appendPackedUser(b []byte, u *scim.User) []byte {
	p := userPacker{userName: jsonText(u.UserName)}
	b = append(b, packedUser)
	b = p.appendTexts(b, userKeys[:], u)
	if n := u.Name; n != nil {
		b = append(b, tagName)
		for _, a := range nameParts {
			b = p.str(b, a.tag, *a.at(n))
		}
		p.given, p.family = jsonText(n.GivenName), jsonText(n.FamilyName)
	}
	b = p.appendTexts(b, userTexts[:], u)
	if u.Active != nil {
		if *u.Active {
			b = append(b, tagActiveTrue)
		} else {
			b = append(b, tagActiveFalse)
		}
	}
	for i := range u.Emails {
		e := &u.Emails[i]
		b = p.item(b, tagEmail, e.Value, e.Display, e.Type, e.Primary)
	}
	for i := range u.PhoneNumbers {
		n := &u.PhoneNumbers[i]
		b = p.item(b, tagPhone, n.Value, n.Display, n.Type, n.Primary)
	}
	for i := range u.Addresses {
		a := &u.Addresses[i]
		b = append(b, tagAddress)
		for _, part := range addressParts {
			b = p.str(b, part.tag, *part.at(a))
		}
		b = p.str(b, tagType, a.Type)
		if a.Primary {
			b = append(b, tagPrimary)
		}
	}
	if x := u.Enterprise; x != nil {
		b = append(b, tagEnterprise)
		for _, a := range enterpriseParts {
			b = p.str(b, a.tag, *a.at(x))
		}
		if m := x.Manager; m != nil {
			b = append(b, tagManager)
			b = p.str(b, tagManagerValue, m.Value)
			b = p.str(b, tagManagerRef, m.Ref)
			b = p.str(b, tagManagerDisplayName, m.DisplayName)
		}
	}
	return b
}

// item writes an email or phone number.
func (p *userPacker) item(b []byte, t byte, value, display, typ string, primary bool) []byte {
	b = append(b, t)
	b = p.str(b, tagValue, value)
	b = p.str(b, tagDisplay, display)
	b = p.str(b, tagType, typ)
	if primary {
		b = append(b, tagPrimary)
	}
	return b
}

// str writes attribute t with value s, unless s is empty (which JSON
// leaves out too).
func (p *userPacker) str(b []byte, t byte, s string) []byte {
	if s == "" {
		return b
	}
	s = jsonText(s)
	b = append(b, t)
	switch {
	case t > tagUserName && s == p.userName:
		return binary.AppendUvarint(b, strUserName)
	case p.isFullName(s):
		return binary.AppendUvarint(b, strFullName)
	case len(s) == uuidLen:
		if id, ok := appendUUID(binary.AppendUvarint(b, strUUID), s); ok {
			return id
		}
	case len(s) <= 6:
		for i, c := range commonValues {
			if s == c {
				return binary.AppendUvarint(b, uint64(i)*strKinds+strCommon)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s))*strKinds+strText)
	return append(b, s...)
}

// isFullName reports whether s is the given name, a space and the family
// name of a name written already, both set.
func (p *userPacker) isFullName(s string) bool {
	g, f := p.given, p.family
	return g != "" && f != "" && len(s) == len(g)+1+len(f) && s[len(g)] == ' ' &&
		s[:len(g)] == g && s[len(g)+1:] == f
}

// jsonText returns s as JSON carries it: each byte that is not part of
// valid UTF-8 replaced by U+FFFD, as encoding/json (and scim.AppendJSON)
// writes it.
func jsonText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unpackUser returns the user of compact form b; false if b is not one.
func unpackUser(b []byte) (scim.User, bool) {
	var u scim.User
	if !unpackInto(b, &u, nil) {
		return scim.User{}, false
	}
	return u, true
}

// unpackSent is unpackUser for a user to send: the user and the parts
// most users have (name, active flag, one email, one UUID's text) take
// one allocation, where unpackUser makes one each, in about as many
// bytes. The user's texts are read from b in place, not copied: b must
// never change (a Mirror's form never does), and the user keeps it.
func unpackSent(b []byte) (*scim.User, bool) {
	r := new(userRoom)
	if !unpackInto(b, &r.user, r) {
		return nil, false
	}
	return &r.user, true
}

// userRoom holds an unpacked user and room for its parts (see
// unpackSent).
type userRoom struct {
	user     scim.User
	name     scim.Name
	active   bool
	emails   [1]scim.Email
	uuid     [uuidLen]byte // the text of the first UUID value
	uuidUsed bool
	full     [48]byte // the text of the first full name value, if it fits
	fullUsed bool
}

// unpackInto reads compact form b into u, its parts into room if not
// nil; false if b is not one. With a room, u's texts are read from b in
// place (see unpackSent); without, from a copy of it.
func unpackInto(b []byte, u *scim.User, room *userRoom) bool {
	if !isPacked(b) {
		return false
	}
	var s string
	if room != nil {
		s = unsafe.String(unsafe.SliceData(b[1:]), len(b)-1)
	} else {
		s = string(b[1:])
	}
	d := userUnpacker{s: s, u: u, room: room}
	for d.i < len(d.s) {
		if !d.field() {
			return false
		}
	}
	return true
}

// packedExternalID returns the externalId of compact form b, which
// begins with it, copying only its bytes where unpackUser copies the
// whole form; false if b begins with no externalId or it is broken.
func packedExternalID(b []byte) (string, bool) {
	if len(b) < 3 || !isPacked(b) || b[1] != tagExternalID {
		return "", false
	}
	h, n := binary.Uvarint(b[2:])
	size := n
	switch h % strKinds {
	case strText:
		size += int(min(h/strKinds, uint64(len(b))))
	case strUUID:
		size += 16
	case strUserName, strFullName:
		return "", false // the values an externalId, written first, never refers to
	}
	if n <= 0 || 2+size > len(b) {
		return "", false
	}
	if h%strKinds == strUUID {
		return unpackUUID(string(b[2+n : 2+size])), true // only the text is made
	}
	d := userUnpacker{s: string(b[2 : 2+size])}
	return d.value()
}

// userUnpacker reads one user's compact form into u.
type userUnpacker struct {
	s string // the form after its marker; values are substrings of it
	i int
	u *scim.User
	// item is the attribute the part tags of an email, phone number or
	// address apply to (0: none begun yet).
	item byte
	room *userRoom // where the user's parts go, if not nil
}

// field reads one attribute; false if the form is broken.
func (d *userUnpacker) field() bool {
	u := d.u
	t := d.s[d.i]
	d.i++
	var dst *string
	switch t {
	case tagExternalID, tagUserName:
		dst = textTagged(userKeys[:], u, t)
	case tagName:
		if d.room != nil {
			d.room.name = scim.Name{}
			u.Name = &d.room.name
		} else {
			u.Name = &scim.Name{}
		}
		return true
	case tagDisplayName, tagNickName, tagProfileURL, tagTitle, tagUserType, tagPreferredLanguage, tagLocale, tagTimezone:
		dst = textTagged(userTexts[:], u, t)
	case tagActiveFalse, tagActiveTrue:
		if d.room != nil {
			d.room.active = t == tagActiveTrue
			u.Active = &d.room.active
		} else {
			u.Active = scim.Bool(t == tagActiveTrue)
		}
		return true
	case tagEmail:
		if d.room != nil && u.Emails == nil {
			u.Emails = d.room.emails[:0]
		}
		u.Emails, d.item = append(u.Emails, scim.Email{}), t
		return true
	case tagPhone:
		u.PhoneNumbers, d.item = append(u.PhoneNumbers, scim.PhoneNumber{}), t
		return true
	case tagAddress:
		u.Addresses, d.item = append(u.Addresses, scim.Address{}), t
		return true
	case tagEnterprise:
		u.Enterprise = &scim.EnterpriseUser{}
		return true
	case tagPrimary:
		return d.primary()
	case tagManager:
		if u.Enterprise == nil {
			return false
		}
		u.Enterprise.Manager = &scim.Manager{}
		return true
	default:
		dst = d.part(t)
	}
	if dst == nil {
		return false
	}
	v, ok := d.value()
	*dst = v
	return ok
}

// part returns where the part tag t of the object begun last goes; nil
// if t is no such tag, or nothing it belongs to was begun.
func (d *userUnpacker) part(t byte) *string {
	u := d.u
	switch {
	case t >= tagNameFormatted && t <= tagHonorificSuffix:
		if n := u.Name; n != nil {
			return textTagged(nameParts[:], n, t)
		}
	case t >= tagEmployeeNumber && t <= tagDepartment:
		if x := u.Enterprise; x != nil {
			return textTagged(enterpriseParts[:], x, t)
		}
	case t >= tagManagerValue && t <= tagManagerDisplayName:
		if u.Enterprise != nil && u.Enterprise.Manager != nil {
			m := u.Enterprise.Manager
			return [...]*string{&m.Value, &m.Ref, &m.DisplayName}[t-tagManagerValue]
		}
	case t >= tagValue && t <= tagType && d.item == tagEmail:
		e := &u.Emails[len(u.Emails)-1]
		return [...]*string{&e.Value, &e.Display, &e.Type}[t-tagValue]
	case t >= tagValue && t <= tagType && d.item == tagPhone:
		n := &u.PhoneNumbers[len(u.PhoneNumbers)-1]
		return [...]*string{&n.Value, &n.Display, &n.Type}[t-tagValue]
	case t == tagType && d.item == tagAddress:
		return &u.Addresses[len(u.Addresses)-1].Type
	case t >= tagAddrFormatted && t <= tagCountry && d.item == tagAddress:
		return textTagged(addressParts[:], &u.Addresses[len(u.Addresses)-1], t)
	}
	return nil
}

// primary marks the object begun last primary; false if no email,
// phone number or address was begun.
func (d *userUnpacker) primary() bool {
	u := d.u
	switch d.item {
	case tagEmail:
		u.Emails[len(u.Emails)-1].Primary = true
	case tagPhone:
		u.PhoneNumbers[len(u.PhoneNumbers)-1].Primary = true
	case tagAddress:
		u.Addresses[len(u.Addresses)-1].Primary = true
	default:
		return false
	}
	return true
}

// value reads a string value.
func (d *userUnpacker) value() (string, bool) {
	v, ok := d.rawValue()
	if !ok {
		return "", false
	}
	switch v.kind {
	case strUUID:
		if r := d.room; r != nil && !r.uuidUsed {
			// The room is written only while the user is unpacked.
			r.uuidUsed = true
			t := appendUnpackedUUID(r.uuid[:0], v.s)
			return unsafe.String(unsafe.SliceData(t), len(t)), true
		}
		return unpackUUID(v.s), true
	case strUserName:
		return d.u.UserName, true
	case strFullName:
		n := d.u.Name
		if n == nil {
			return "", false
		}
		if r := d.room; r != nil && !r.fullUsed && len(n.GivenName)+1+len(n.FamilyName) <= len(r.full) {
			r.fullUsed = true
			t := append(append(append(r.full[:0], n.GivenName...), ' '), n.FamilyName...)
			return unsafe.String(unsafe.SliceData(t), len(t)), true
		}
		return n.GivenName + " " + n.FamilyName, true
	}
	return v.s, true
}

// packedValue is a string value of the compact form as it is written:
// its kind and, for strText its text (a common value's too), for strUUID
// its 16 bytes.
type packedValue struct {
	kind uint64
	s    string
}

// rawValue reads a string value without making its text.
func (d *userUnpacker) rawValue() (packedValue, bool) {
	var h uint64
	for shift := 0; ; shift += 7 {
		if d.i >= len(d.s) || shift > 63 {
			return packedValue{}, false
		}
		c := d.s[d.i]
		d.i++
		h |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	switch kind := h % strKinds; kind {
	case strText:
		l := h / strKinds
		if l > uint64(len(d.s)-d.i) {
			return packedValue{}, false
		}
		v := d.s[d.i : d.i+int(l)]
		d.i += int(l)
		return packedValue{strText, v}, true
	case strUUID:
		if len(d.s)-d.i < 16 {
			return packedValue{}, false
		}
		v := d.s[d.i : d.i+16]
		d.i += 16
		return packedValue{strUUID, v}, true
	case strCommon:
		if h/strKinds >= uint64(len(commonValues)) {
			return packedValue{}, false
		}
		return packedValue{strText, commonValues[h/strKinds]}, true
	case strUserName, strFullName:
		return packedValue{kind: kind}, true
	}
	return packedValue{}, false
}

// packJSONUser returns user JSON b in the compact form if it is a JSON
// object that decodes as a user; b itself otherwise, so that what cannot
// be read stays as it was (a plan then reads the object by id).
func packJSONUser(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || b[0] != '{' {
		return b
	}
	u, ok := readUserJSON(b)
	if !ok {
		u = scim.User{}
		if err := json.Unmarshal(b, &u); err != nil {
			return b
		}
	}
	return packedCopy(&u)
}

// UserJSON returns the user's SCIM JSON the mirror holds (nil if none),
// whether the mirror keeps it as JSON or in the engine's compact form
// (see User).
func (m *Mirror) UserJSON() json.RawMessage {
	if m == nil || !isPacked(m.User) {
		if m == nil {
			return nil
		}
		return m.User
	}
	u, ok := unpackUser(m.User)
	if !ok {
		return nil
	}
	return u.AppendJSON(nil)
}
