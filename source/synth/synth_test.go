package synth

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/provsync/provsync/source"
)

func TestGenerateDeterministic(t *testing.T) {
	cfg := Config{Users: 500, Groups: 40, MembershipsPerUser: 4, SuspendedFraction: 0.1, DeletedFraction: 0.05, Seed: 42}
	a, b := Generate(cfg), Generate(cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two directories generated from the same config differ")
	}
	cfg.Seed = 43
	if c := Generate(cfg); reflect.DeepEqual(a.Users[0].ID, c.Users[0].ID) || reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same directory")
	}
	// Users do not depend on the number of groups.
	cfg.Seed = 42
	cfg.Groups = 7
	if d := Generate(cfg); !reflect.DeepEqual(a.Users, d.Users) {
		t.Fatal("changing the number of groups changed the users")
	}
}

// TestGenerateGolden pins the first user of seed 1, so that a change of the
// generator that alters existing fixtures is noticed.
func TestGenerateGolden(t *testing.T) {
	d := Generate(Config{Users: 3, Seed: 1})
	u := d.Users[0]
	if u.ID != "7496ad38-1f1c-41c1-8fb5-3ae6177faf8b" || u.UserName != "hanako.sato@example.com" || u.DisplayName != "花子 佐藤" {
		t.Fatalf("first user of seed 1 = %s %s %s", u.ID, u.UserName, u.DisplayName)
	}
}

func TestGenerateShape(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"large", Config{Users: 3000, Groups: 150, MembershipsPerUser: 10, SuspendedFraction: 0.07, DeletedFraction: 0.02, Seed: 1, Domain: "acme.test"}},
		{"few groups", Config{Users: 200, Groups: 5, MembershipsPerUser: 2, Seed: 2}},
		{"no departments", Config{Users: 300, Groups: 30, MembershipsPerUser: 1.5, SuspendedFraction: 0.5, Seed: 3}},
		{"many groups", Config{Users: 100, Groups: 1300, MembershipsPerUser: 20, Seed: 4}},
		{"saturated", Config{Users: 20, Groups: 3, MembershipsPerUser: 10, Seed: 5}},
		{"no users", Config{Groups: 10, MembershipsPerUser: 3}},
		{"nothing", Config{}},
		{"negative", Config{Users: -1, Groups: -1, MembershipsPerUser: -3, SuspendedFraction: -1, DeletedFraction: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Generate(tt.cfg)
			cfg := tt.cfg.normalized()
			if len(d.Users) != cfg.Users || len(d.Groups) != cfg.Groups {
				t.Fatalf("%d users, %d groups; want %d, %d", len(d.Users), len(d.Groups), cfg.Users, cfg.Groups)
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			checkUnique(t, d)

			var suspended, deleted int
			for _, u := range d.Users {
				switch u.State {
				case source.StateSuspended:
					suspended++
				case source.StateDeleted:
					deleted++
					if u.DeletedAt.IsZero() {
						t.Errorf("deleted user %s has no DeletedAt", u.ID)
					}
				}
				if u.State != source.StateDeleted && !u.DeletedAt.IsZero() {
					t.Errorf("user %s in state %s has DeletedAt", u.ID, u.State)
				}
				if !strings.HasSuffix(u.UserName, "@"+cfg.Domain) || u.PrimaryEmail() != u.UserName {
					t.Errorf("user %s: userName %q, email %q", u.ID, u.UserName, u.PrimaryEmail())
				}
			}
			wantS := int(math.Round(float64(cfg.Users) * cfg.SuspendedFraction))
			wantD := min(int(math.Round(float64(cfg.Users)*cfg.DeletedFraction)), cfg.Users-wantS)
			if suspended != wantS || deleted != wantD {
				t.Errorf("%d suspended, %d deleted; want %d, %d", suspended, deleted, wantS, wantD)
			}

			total := 0
			for _, g := range d.Groups {
				total += len(g.Members)
			}
			want := math.Min(float64(cfg.Users)*cfg.MembershipsPerUser, float64(cfg.Users*cfg.Groups))
			if math.Abs(float64(total)-want) > 0.01*want+1 {
				t.Errorf("%d memberships, want about %.0f", total, want)
			}
		})
	}
}

func checkUnique(t *testing.T, d *source.Directory) {
	t.Helper()
	seen := map[string]string{}
	once := func(kind, v string) {
		if v == "" {
			t.Errorf("empty %s", kind)
			return
		}
		key := kind + ":" + strings.ToLower(v)
		if seen[key] != "" {
			t.Errorf("%s %q repeats", kind, v)
		}
		seen[key] = v
	}
	for _, u := range d.Users {
		once("id", u.ID)
		once("userName", u.UserName)
		for _, e := range u.Emails {
			once("email", e.Value)
		}
		once("employeeId", u.Attributes.Value(AttrEmployeeID).(string))
		for _, r := range u.UserName {
			if r > unicode.MaxASCII || unicode.IsUpper(r) || unicode.IsSpace(r) {
				t.Errorf("user name %q is not lower-case ASCII", u.UserName)
				break
			}
		}
	}
	for _, g := range d.Groups {
		once("id", g.ID)
		once("group name", g.DisplayName)
		once("email", g.Email)
	}
}

func TestGenerateRealism(t *testing.T) {
	d := Generate(Config{Users: 2000, Groups: 100, MembershipsPerUser: 8, Seed: 9})
	x := d.Index()

	// Names from several scripts and with diacritics.
	scripts := map[string]*unicode.RangeTable{"Latin": unicode.Latin, "Han": unicode.Han, "Cyrillic": unicode.Cyrillic,
		"Greek": unicode.Greek, "Hangul": unicode.Hangul, "Arabic": unicode.Arabic}
	found := map[string]int{}
	nonASCII := 0
	for _, u := range d.Users {
		name := u.DisplayName
		if strings.ContainsFunc(name, func(r rune) bool { return r > unicode.MaxASCII }) {
			nonASCII++
		}
		for s, tab := range scripts {
			if strings.ContainsFunc(name, func(r rune) bool { return unicode.Is(tab, r) && r > unicode.MaxASCII }) {
				found[s]++
			}
		}
	}
	for s := range scripts {
		if found[s] == 0 {
			t.Errorf("no display name uses %s letters", s)
		}
	}
	if nonASCII < len(d.Users)/3 {
		t.Errorf("only %d of %d names have non-ASCII letters", nonASCII, len(d.Users))
	}
	// Every user has the documented attributes; managers exist.
	for i, u := range d.Users {
		for _, a := range []string{AttrDepartment, AttrJobTitle, AttrEmployeeID, AttrEmployeeType, AttrOfficeLocation,
			AttrCountry, AttrPreferredLanguage, AttrCostCenter, AttrHireDate, AttrMFAEnrolled, AttrLicenses, AttrLevel} {
			if _, ok := u.Attr(a); !ok {
				t.Fatalf("user %s lacks %s", u.ID, a)
			}
		}
		m, ok := u.Attributes.Get(AttrManagerID)
		if i == 0 {
			if ok {
				t.Errorf("the chief executive has a manager")
			}
			continue
		}
		if _, exists := x.UserByID(m.(string)); !ok || !exists || m == u.ID {
			t.Fatalf("user %s has manager %v", u.ID, m)
		}
	}
	// Department groups hold exactly their department.
	for _, g := range d.Groups[:len(departments)] {
		if g.Attributes.Value(AttrGroupType) != "department" {
			t.Fatalf("group %q is not a department group", g.DisplayName)
		}
		for _, m := range g.Members {
			u, _ := x.UserByID(m)
			if u.Attributes.Value(AttrDepartment) != g.DisplayName {
				t.Fatalf("user of %v in group %q", u.Attributes.Value(AttrDepartment), g.DisplayName)
			}
		}
	}
	// Memberships are uneven: the biggest group dwarfs the median one.
	sizes := make([]int, 0, len(d.Groups))
	for _, g := range d.Groups[len(departments):] {
		sizes = append(sizes, len(g.Members))
	}
	slices.Sort(sizes)
	if median, biggest := sizes[len(sizes)/2], sizes[len(sizes)-1]; biggest < 5*median || median == 0 {
		t.Errorf("group sizes: median %d, biggest %d; want a skewed spread", median, biggest)
	}
}

func TestFold(t *testing.T) {
	tests := []struct {
		in   string
		sep  byte
		want string
	}{
		{"José", 0, "jose"},
		{"Núñez", 0, "nunez"},
		{"Łukasz", 0, "lukasz"},
		{"Żółw", 0, "zolw"},
		{"Groß", 0, "gross"},
		{"Ørsted", 0, "orsted"},
		{"Þórsdóttir", 0, "thorsdottir"},
		{"Nguyễn", 0, "nguyen"},
		{"Đặng", 0, "dang"},
		{"İbrahim", 0, "ibrahim"},
		{"Yılmaz", 0, "yilmaz"},
		{"Adébáyọ̀", 0, "adebayo"},
		{"Ольга", 0, "olga"},
		{"Фёдоров", 0, "fedorov"},
		{"Щукин", 0, "shchukin"},
		{"O'Brien", 0, "obrien"},
		{"de la Cruz", 0, "delacruz"},
		{"Research & Development", '-', "research-development"},
		{"Team Core API – Zürich", '-', "team-core-api-zurich"},
		{"田中", 0, ""},
	}
	for _, tt := range tests {
		if got := fold(tt.in, tt.sep); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Every pool entry folds to something.
	for _, c := range cultures {
		for _, e := range append(slices.Clone(c.given), c.family...) {
			d, roman := split(e)
			if roman == "" {
				roman = d
			}
			if fold(roman, 0) == "" {
				t.Errorf("name %q folds to nothing", e)
			}
		}
	}
}

func TestUniqueCounters(t *testing.T) {
	// Few names, many users: counters keep user names unique.
	d := Generate(Config{Users: 5000, Seed: 11})
	checkUnique(t, d)
	n := 0
	for _, u := range d.Users {
		if strings.ContainsAny(strings.Split(u.UserName, "@")[0], "0123456789") {
			n++
		}
	}
	if n == 0 {
		t.Error("no user name needed a counter; the test does not exercise de-duplication")
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := Config{Users: 10000, Groups: 500, MembershipsPerUser: 10, SuspendedFraction: 0.05, DeletedFraction: 0.01, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		Generate(cfg)
	}
}
