package synth

import (
	"math"
	"slices"
	"strconv"

	"github.com/provsync/provsync/source"
)

// groupSpec is a group's name and kind before it gets members.
type groupSpec struct {
	name, kind, description string
	// tier orders groups by expected size: access groups are the biggest,
	// then offices, teams, projects, and per-office groups the smallest.
	tier int
}

// groupSpecs returns m distinct group names: the departments first if
// withDepts, then offices, teams, projects and access groups in random
// order, then team and project groups per office, then numbered groups.
func groupSpecs(r *rng, m int, withDepts bool) []groupSpec {
	specs := make([]groupSpec, 0, m)
	seen := make(map[string]bool, m)
	add := func(s groupSpec) bool {
		if len(specs) == m {
			return false
		}
		if !seen[s.name] {
			seen[s.name] = true
			specs = append(specs, s)
		}
		return true
	}
	if withDepts {
		for _, d := range departments {
			add(groupSpec{d.name, "department", "Everyone in the " + d.name + " department", 0})
		}
	}
	var pool []groupSpec
	for _, c := range cities {
		pool = append(pool, groupSpec{c.name + " Office", "location", "People based in " + c.name, 1})
	}
	for _, t := range teams {
		pool = append(pool, groupSpec{"Team " + t, "team", "Members of the " + t + " team", 2})
	}
	for _, p := range projects {
		pool = append(pool, groupSpec{"Project " + p, "project", "Working group of project " + p, 3})
	}
	for _, a := range accessGroups {
		pool = append(pool, groupSpec{a, "access", "Access group: " + a, 0})
	}
	shuffle(r, pool)
	for _, s := range pool {
		if !add(s) {
			return specs
		}
	}
	var combos []groupSpec
	for _, c := range cities {
		for _, t := range teams {
			combos = append(combos, groupSpec{"Team " + t + " – " + c.name, "team", "Members of the " + t + " team in " + c.name, 4})
		}
		for _, p := range projects {
			combos = append(combos, groupSpec{"Project " + p + " – " + c.name, "project", "Project " + p + " contributors in " + c.name, 4})
		}
	}
	shuffle(r, combos)
	for _, s := range combos {
		if !add(s) {
			return specs
		}
	}
	for i := 1; len(specs) < m; i++ {
		add(groupSpec{"Group " + strconv.Itoa(i), "access", "Generated group " + strconv.Itoa(i), 5})
	}
	return specs
}

func shuffle[T any](r *rng, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

func (g *generator) groups() {
	n, m := len(g.out), g.cfg.Groups
	r := newRNG(g.cfg.Seed, 2)
	withDepts := m >= len(departments) && g.cfg.MembershipsPerUser >= 2 && n > 0
	specs := groupSpecs(r, m, withDepts)
	g.grps = make([]source.Group, m)
	domain := "@" + g.cfg.Domain
	for i, s := range specs {
		g.grps[i] = source.Group{
			ID:          r.uuid(),
			DisplayName: s.name,
			Email:       g.unique(fold(s.name, '-')) + domain,
			Description: s.description,
			Attributes:  source.NewAttrs(map[string]any{AttrGroupType: s.kind}),
		}
	}
	if m == 0 || n == 0 {
		return
	}

	total := int(math.Min(math.Round(float64(n)*g.cfg.MembershipsPerUser), float64(n)*float64(m)))
	rest := g.grps
	if withDepts {
		for i := range g.out {
			d := &g.grps[g.dept[i]]
			d.Members = append(d.Members, g.out[i].ID)
		}
		total -= n
		rest = g.grps[len(departments):]
	}
	tiers := make([]int, len(rest))
	for i := range rest {
		tiers[i] = specs[len(specs)-len(rest)+i].tier
	}
	sizes := zipfSizes(r, total, tiers, n)
	perm := identity(n)
	chosen := make([]int32, 0, n)
	for i := range rest {
		k := sizes[i]
		pick(r, perm, k)
		chosen = append(chosen[:0], perm[:k]...)
		slices.Sort(chosen)
		members := make([]string, k)
		for j, u := range chosen {
			members[j] = g.out[u].ID
		}
		rest[i].Members = members
	}
}

// zipfSizes splits total memberships among groups of at most n members
// each, in proportion to a Zipf law over a ranking of the groups by tier,
// randomly within a tier: a few big groups, a long tail of small ones.
// Sizes add up to total unless the caps make that impossible.
func zipfSizes(r *rng, total int, tiers []int, n int) []int {
	m := len(tiers)
	sizes := make([]int, m)
	if m == 0 || total <= 0 {
		return sizes
	}
	rank := make([]int, m) // rank[k] is the group at rank k
	for i := range rank {
		rank[i] = i
	}
	shuffle(r, rank)
	slices.SortStableFunc(rank, func(a, b int) int { return tiers[a] - tiers[b] })
	const exponent = 0.9
	weight := func(k int) float64 { return 1 / math.Pow(float64(k+1), exponent) }
	sum := 0.0
	for k := range m {
		sum += weight(k)
	}
	left := total
	for k := range m {
		w := weight(k)
		size := int(math.Round(float64(left) * w / sum))
		size = min(size, n, left)
		sizes[rank[k]] = size
		left -= size
		sum -= w
	}
	return sizes
}
