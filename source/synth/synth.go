// Package synth generates synthetic directories for tests, benchmarks and
// demos: users with realistic names from many cultures (José Núñez,
// Łukasz Żółw, Saoirse Ó Súilleabháin, Nguyễn Minh, 田中 太郎, Ольга
// Смирнова, ...), unique user names and emails derived from the names by
// folding them to ASCII, departments, job titles, employee ids and a
// manager hierarchy; and groups named after departments, offices, teams,
// projects and access roles, with memberships spread unevenly: a few big
// groups, many small ones.
//
// Output depends only on the Config: the same seed gives the same
// directory, on any platform and Go version.
package synth

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/provsync/provsync/source"
)

// Config describes the directory to generate. Negative counts count as
// zero and fractions are clamped to [0, 1].
type Config struct {
	// Users is the number of users.
	Users int
	// Groups is the number of groups.
	Groups int
	// MembershipsPerUser is the average number of groups a user is a
	// direct member of; zero leaves every group empty. The total is capped
	// at Users×Groups. When there are at least as many groups as
	// departments (12) and the average is at least 2, the first groups are
	// the departments, holding exactly the users whose department
	// attribute names them.
	MembershipsPerUser float64
	// SuspendedFraction is the share of users in StateSuspended.
	SuspendedFraction float64
	// DeletedFraction is the share of users in StateDeleted, with
	// DeletedAt set within the 20 days before 2025-06-01.
	DeletedFraction float64
	// Seed selects the directory.
	Seed uint64
	// Domain is the email domain; "example.com" if empty.
	Domain string
}

// Attribute names Generate sets on users. Every user has all of them
// except AttrManagerID, which the first user (the chief executive) lacks.
const (
	AttrDepartment        = "department"        // string
	AttrJobTitle          = "jobTitle"          // string
	AttrEmployeeID        = "employeeId"        // string, unique
	AttrEmployeeType      = "employeeType"      // "Employee" or "Contractor"
	AttrManagerID         = "managerId"         // the manager's user id
	AttrOfficeLocation    = "officeLocation"    // city
	AttrCountry           = "country"           // ISO 3166 code
	AttrPreferredLanguage = "preferredLanguage" // BCP 47 tag
	AttrCostCenter        = "costCenter"        // string
	AttrHireDate          = "hireDate"          // time.Time, UTC
	AttrMFAEnrolled       = "mfaEnrolled"       // bool
	AttrLicenses          = "licenses"          // []string
	AttrLevel             = "level"             // int64, 1 to 7
)

// AttrGroupType is the group attribute naming the kind of group:
// "department", "location", "team", "project" or "access".
const AttrGroupType = "type"

// epoch is the fixed "now" generated times are relative to.
func epoch() time.Time { return time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) }

// Generate returns the directory cfg describes. It always passes
// Directory.Validate.
func Generate(cfg Config) *source.Directory {
	cfg = cfg.normalized()
	g := &generator{cfg: cfg}
	g.users()
	g.groups()
	return &source.Directory{Users: g.out, Groups: g.grps}
}

func (c Config) normalized() Config {
	c.Users = max(c.Users, 0)
	c.Groups = max(c.Groups, 0)
	if c.MembershipsPerUser < 0 || math.IsNaN(c.MembershipsPerUser) {
		c.MembershipsPerUser = 0
	}
	c.SuspendedFraction = clamp01(c.SuspendedFraction)
	c.DeletedFraction = clamp01(c.DeletedFraction)
	if c.Domain == "" {
		c.Domain = "example.com"
	}
	return c
}

func clamp01(f float64) float64 {
	if f < 0 || math.IsNaN(f) {
		return 0
	}
	return min(f, 1)
}

type generator struct {
	cfg   Config
	out   []source.User
	attrs []map[string]any // each user's attributes, until hierarchy has set them all
	dept  []int            // department index of each user
	grps  []source.Group
	names map[string]bool // local parts and group emails taken
}

// foldedPool is a name pool with each entry's display and ASCII forms.
type foldedPool struct {
	display, ascii []string
}

func foldPool(entries []string) foldedPool {
	p := foldedPool{display: make([]string, len(entries)), ascii: make([]string, len(entries))}
	for i, e := range entries {
		d, roman := split(e)
		if roman == "" {
			roman = d
		}
		p.display[i], p.ascii[i] = d, fold(roman, 0)
	}
	return p
}

// unique returns base, or base followed by the smallest counter from 2 up
// that is not taken yet, and marks it taken.
func (g *generator) unique(base string) string {
	name := base
	for n := 2; g.names[name]; n++ {
		name = base + strconv.Itoa(n)
	}
	g.names[name] = true
	return name
}

func (g *generator) users() {
	n := g.cfg.Users
	r := newRNG(g.cfg.Seed, 1)
	g.names = make(map[string]bool, n+g.cfg.Groups)
	given := make([]foldedPool, len(cultures))
	family := make([]foldedPool, len(cultures))
	home := make([]int, len(cultures))
	for i := range cultures {
		given[i], family[i] = foldPool(cultures[i].given), foldPool(cultures[i].family)
		home[i] = slices.IndexFunc(cities[:], func(c struct{ name, country string }) bool { return c.name == cultures[i].city })
	}
	totalWeight := 0
	for _, d := range departments {
		totalWeight += d.weight
	}

	g.out = make([]source.User, n)
	g.attrs = make([]map[string]any, n)
	g.dept = make([]int, n)
	domain := "@" + g.cfg.Domain
	for i := range g.out {
		c := r.intn(len(cultures))
		gi, fi := r.intn(len(given[c].display)), r.intn(len(family[c].display))
		gd, fd := given[c].display[gi], family[c].display[fi]
		local := g.unique(given[c].ascii[gi] + "." + family[c].ascii[fi])
		upn := local + domain

		w := r.intn(totalWeight)
		d := 0
		for w >= departments[d].weight {
			w -= departments[d].weight
			d++
		}
		g.dept[i] = d
		city := home[c]
		if r.float() < 0.35 {
			city = r.intn(len(cities))
		}
		contractor := r.float() < 0.1
		empID := "E" + strconv.Itoa(100000+i)
		empType := "Employee"
		if contractor {
			empID, empType = "C"+strconv.Itoa(10000+i), "Contractor"
		}
		lic := []string{licenses[r.intn(2)], licenses[2]}
		if extra := r.intn(len(licenses)); extra > 2 {
			lic = append(lic, licenses[extra])
		}
		hired := epoch().AddDate(0, 0, -r.intn(10*365))
		g.out[i] = source.User{
			ID:          r.uuid(),
			UserName:    upn,
			Emails:      []source.Email{{Value: upn, Type: "work", Primary: true}},
			GivenName:   gd,
			FamilyName:  fd,
			DisplayName: gd + " " + fd,
		}
		g.attrs[i] = map[string]any{
			AttrDepartment:        departments[d].name,
			AttrJobTitle:          departments[d].titles[r.intn(len(departments[d].titles))],
			AttrEmployeeID:        empID,
			AttrEmployeeType:      empType,
			AttrOfficeLocation:    cities[city].name,
			AttrCountry:           cities[city].country,
			AttrPreferredLanguage: cultures[c].lang,
			AttrCostCenter:        "CC-" + strconv.Itoa(1000+100*d+r.intn(4)),
			AttrHireDate:          hired,
			AttrMFAEnrolled:       r.float() < 0.85,
			AttrLicenses:          lic,
			AttrLevel:             int64(1 + r.intn(5)),
		}
	}
	g.hierarchy(r)
	for i, a := range g.attrs {
		g.out[i].Attributes = source.NewAttrs(a)
	}
	g.attrs = nil
	g.states(newRNG(g.cfg.Seed, 3))
}

// hierarchy makes the first user the chief executive, the first user of
// each department its head, about one in eight of the rest managers, and
// sets everyone's manager.
func (g *generator) hierarchy(r *rng) {
	if len(g.out) == 0 {
		return
	}
	byDept := make([][]int, len(departments))
	for i := 1; i < len(g.out); i++ {
		byDept[g.dept[i]] = append(byDept[g.dept[i]], i)
	}
	ceo := &g.out[0]
	g.attrs[0][AttrJobTitle] = "Chief Executive Officer"
	g.attrs[0][AttrLevel] = int64(9)
	for d, members := range byDept {
		if len(members) == 0 {
			continue
		}
		head := members[0]
		g.attrs[head][AttrJobTitle] = "Head of " + departments[d].name
		g.attrs[head][AttrManagerID] = ceo.ID
		g.attrs[head][AttrLevel] = int64(8)
		managers := members[1 : 1+(len(members)-1)/8]
		for _, m := range managers {
			g.attrs[m][AttrJobTitle] = departments[d].name + " Manager"
			g.attrs[m][AttrManagerID] = g.out[head].ID
			g.attrs[m][AttrLevel] = int64(6)
		}
		for _, u := range members[1+len(managers):] {
			boss := head
			if len(managers) > 0 {
				boss = managers[r.intn(len(managers))]
			}
			g.attrs[u][AttrManagerID] = g.out[boss].ID
		}
	}
}

// states suspends and deletes exactly the configured shares of users,
// chosen at random.
func (g *generator) states(r *rng) {
	n := len(g.out)
	suspended := int(math.Round(float64(n) * g.cfg.SuspendedFraction))
	deleted := min(int(math.Round(float64(n)*g.cfg.DeletedFraction)), n-suspended)
	perm := identity(n)
	pick(r, perm, suspended+deleted)
	for _, i := range perm[:suspended] {
		g.out[i].State = source.StateSuspended
	}
	for _, i := range perm[suspended : suspended+deleted] {
		g.out[i].State = source.StateDeleted
		g.out[i].DeletedAt = epoch().Add(-time.Duration(r.intn(20*24*60)) * time.Minute)
	}
}

// identity returns 0, 1, ..., n-1.
func identity(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	return p
}

// pick moves k elements of p chosen uniformly at random to its front
// (a partial Fisher-Yates shuffle). p stays a permutation, so it can be
// picked from again without resetting.
func pick(r *rng, p []int32, k int) {
	for t := 0; t < k; t++ {
		j := t + r.intn(len(p)-t)
		p[t], p[j] = p[j], p[t]
	}
}

// FewChanges returns a small batch of changes to dir, as a change feed
// reports them: its 11th user renamed, a hire added to its second group,
// and its 21st user gone. dir needs at least 21 users and 2 groups; it is
// not changed.
func FewChanges(dir *source.Directory) *source.Changes {
	renamed := dir.Users[10].Clone()
	renamed.FamilyName += " changed"
	g := dir.Groups[1].Clone()
	g.Members = append(g.Members, "hire-1")
	return &source.Changes{
		Users:        []source.User{renamed, {ID: "hire-1", UserName: "hire-1@example.com"}},
		Groups:       []source.Group{g},
		RemovedUsers: []string{dir.Users[20].ID},
	}
}
