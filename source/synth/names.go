package synth

import "strings"

// culture is a pool of names that go together. A name written in a
// non-Latin script carries its romanization after a "|".
type culture struct {
	lang   string
	city   string
	given  []string
	family []string
}

// cultures are the name pools users are drawn from, evenly.
var cultures = [...]culture{
	{"es-ES", "Madrid",
		[]string{"José", "María", "Lucía", "Álvaro", "Sofía", "Jesús", "Martín", "Inés", "Íñigo", "Begoña", "Raúl", "Ramón"},
		[]string{"Núñez", "García", "Pérez", "Martínez", "Ibáñez", "Muñoz", "Gómez", "de la Cruz", "Jiménez", "Peña"}},
	{"pt-BR", "São Paulo",
		[]string{"João", "Conceição", "Luís", "Gonçalo", "Ana", "Tomé", "Márcia", "Thiago"},
		[]string{"Gonçalves", "Araújo", "Simões", "Magalhães", "Brandão", "Falcão", "dos Santos"}},
	{"fr-FR", "Montréal",
		[]string{"Zoë", "Chloé", "Hélène", "François", "Jérôme", "Anaïs", "Noël", "Léa", "Maël"},
		[]string{"Lefèvre", "Dubois", "Bérubé", "Lemaître", "Moreau", "Faure", "Crépeau", "d'Arcy"}},
	{"de-DE", "Zürich",
		[]string{"Jürgen", "Jörg", "Käthe", "Günther", "Lena", "Maximilian", "Ursula"},
		[]string{"Müller", "Groß", "Schäfer", "Weiß", "Köhler", "Schröder", "Baumgärtner", "von Bülow"}},
	{"sv-SE", "Malmö",
		[]string{"Åsa", "Björn", "Søren", "Ingrid", "Håkon", "Sigríður", "Þór", "Eiríkur"},
		[]string{"Ørsted", "Åberg", "Lindqvist", "Sjöberg", "Håland", "Þórsdóttir", "Jónsson"}},
	{"pl-PL", "Kraków",
		[]string{"Łukasz", "Małgorzata", "Wojciech", "Zofia", "Grzegorz", "Agnieszka", "Jędrzej"},
		[]string{"Żółw", "Wójcik", "Kowalczyk", "Łęcki", "Brzęczyszczykiewicz", "Szczęsny", "Dąbrowski"}},
	{"cs-CZ", "Prague",
		[]string{"Jiří", "Šárka", "Tomáš", "Radka", "Přemysl"},
		[]string{"Dvořák", "Novák", "Černý", "Růžička", "Kříž"}},
	{"en-IE", "Dublin",
		[]string{"Saoirse", "Siobhán", "Niamh", "Oisín", "Pádraig", "Caoimhe", "Seán"},
		[]string{"O'Brien", "Ó Súilleabháin", "Ní Bhriain", "MacCarthy", "Nic Aodha", "Kavanagh"}},
	{"tr-TR", "Istanbul",
		[]string{"Ayşe", "Çağrı", "Gül", "Mehmet", "Şükrü", "Özlem", "İbrahim", "Ilgın"},
		[]string{"Yılmaz", "Öztürk", "Çelik", "Şahin", "Doğan", "Aydın", "Güneş"}},
	{"vi-VN", "Hanoi",
		[]string{"Minh", "Hương", "Thảo", "Đức", "Phương", "Quỳnh", "Tuấn", "Anh"},
		[]string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Đặng"}},
	{"ja-JP", "Tokyo",
		[]string{"太郎|Taro", "花子|Hanako", "翔太|Shota", "陽菜|Hina", "健|Ken", "美咲|Misaki"},
		[]string{"田中|Tanaka", "佐藤|Sato", "鈴木|Suzuki", "高橋|Takahashi", "渡辺|Watanabe", "山本|Yamamoto"}},
	{"zh-CN", "Shanghai",
		[]string{"伟|Wei", "芳|Fang", "静|Jing", "磊|Lei", "秀英|Xiuying", "浩然|Haoran"},
		[]string{"王|Wang", "李|Li", "张|Zhang", "刘|Liu", "陈|Chen", "欧阳|Ouyang"}},
	{"ko-KR", "Seoul",
		[]string{"민준|Minjun", "서연|Seoyeon", "지호|Jiho", "하은|Haeun"},
		[]string{"김|Kim", "이|Lee", "박|Park", "최|Choi"}},
	{"ru-RU", "Tallinn",
		[]string{"Ольга", "Дмитрий", "Наталья", "Сергей", "Юлия", "Алексей", "Ксения"},
		[]string{"Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Фёдоров"}},
	{"el-GR", "Athens",
		[]string{"Γιώργος|Giorgos", "Ελένη|Eleni", "Δημήτρης|Dimitris", "Μαρία|Maria"},
		[]string{"Παπαδόπουλος|Papadopoulos", "Οικονόμου|Oikonomou", "Νικολάου|Nikolaou"}},
	{"hu-HU", "Budapest",
		[]string{"Zsófia", "Gergő", "Ildikó", "Áron", "Dóra"},
		[]string{"Kovács", "Szőke", "Nagy", "Tóth", "Horváth", "Lőrinc"}},
	{"en-US", "New York",
		[]string{"James", "Olivia", "Mary-Kate", "D'Andre", "Jo", "Emily", "Michael", "Ashley"},
		[]string{"Smith", "O'Connor", "Johnson", "St. John", "Williams-Brown", "Nakamura", "Garcia"}},
	{"en-IN", "Bengaluru",
		[]string{"Priya", "Arjun", "Ananya", "Rohan", "Lakshmi", "Venkat"},
		[]string{"Sharma", "Iyer", "Reddy", "Venkataraman", "Chatterjee", "Nair"}},
	{"en-NG", "Lagos",
		[]string{"Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Fúnmiláyọ̀"},
		[]string{"Okafor", "Adébáyọ̀", "Nwosu", "Okonkwo", "Ọlábísí"}},
	{"ar-AE", "Dubai",
		[]string{"محمد|Mohammed", "فاطمة|Fatima", "Layla", "Youssef", "Omar"},
		[]string{"الحسن|Alhassan", "Al-Sayed", "El-Amin", "Haddad"}},
}

// split returns the display form of a pool entry and its romanization
// ("" when the name folds to ASCII by itself).
func split(entry string) (display, roman string) {
	display, roman, _ = strings.Cut(entry, "|")
	return display, roman
}

// department is a department with its job titles.
type department struct {
	name   string
	weight int
	titles []string
}

// departments are the departments users work in, weighted by headcount.
var departments = [...]department{
	{"Engineering", 28, []string{"Software Engineer", "Senior Software Engineer", "Staff Engineer", "Site Reliability Engineer", "QA Engineer"}},
	{"Sales", 14, []string{"Account Executive", "Sales Development Representative", "Sales Engineer", "Regional Sales Director"}},
	{"Marketing", 7, []string{"Marketing Manager", "Content Strategist", "Brand Designer", "Growth Marketer"}},
	{"Finance", 5, []string{"Accountant", "Financial Analyst", "Controller", "Payroll Specialist"}},
	{"Human Resources", 4, []string{"HR Business Partner", "Recruiter", "People Operations Specialist"}},
	{"Legal", 2, []string{"Counsel", "Paralegal", "Privacy Officer"}},
	{"Customer Success", 10, []string{"Customer Success Manager", "Support Engineer", "Technical Account Manager"}},
	{"Product", 6, []string{"Product Manager", "Product Designer", "UX Researcher"}},
	{"IT", 4, []string{"IT Administrator", "Service Desk Analyst", "Identity Engineer"}},
	{"Security", 3, []string{"Security Analyst", "Security Engineer", "Threat Researcher"}},
	{"Operations", 5, []string{"Operations Manager", "Facilities Coordinator", "Procurement Specialist"}},
	{"Research & Development", 6, []string{"Research Scientist", "Data Scientist", "Lab Technician"}},
}

// cities are office locations with their country codes.
var cities = [...]struct{ name, country string }{
	{"Madrid", "ES"}, {"São Paulo", "BR"}, {"Montréal", "CA"}, {"Zürich", "CH"}, {"Malmö", "SE"},
	{"Kraków", "PL"}, {"Prague", "CZ"}, {"Dublin", "IE"}, {"Istanbul", "TR"}, {"Hanoi", "VN"},
	{"Tokyo", "JP"}, {"Shanghai", "CN"}, {"Seoul", "KR"}, {"Berlin", "DE"}, {"Athens", "GR"},
	{"Budapest", "HU"}, {"New York", "US"}, {"Bengaluru", "IN"}, {"Lagos", "NG"}, {"Dubai", "AE"},
	{"Reykjavík", "IS"}, {"Lisbon", "PT"}, {"Tallinn", "EE"},
}

// Group name pools besides departments and cities.
var (
	teams = [...]string{"Platform", "Payments", "Identity", "Mobile", "Web", "Data", "Infrastructure",
		"Growth", "Billing", "Search", "Observability", "Onboarding", "Partnerships", "Compliance",
		"Analytics", "Design Systems", "Core API", "Edge", "Reliability", "Developer Tooling"}
	projects = [...]string{"Aurora", "Borealis", "Cassiopeia", "Draco", "Éclair", "Fjord", "Gaia",
		"Helios", "Ímpeto", "Juniper", "Kestrel", "Lyra", "Mistral", "Nimbus", "Orion", "Pegasus",
		"Quasar", "Rhea", "Sirocco", "Tundra", "Umbra", "Vega", "Wren", "Yggdrasil", "Zephyr"}
	accessGroups = [...]string{"Netskope Admins", "VPN Users", "GitHub Users",
		"Jira Users", "Contractors", "People Managers", "Executives", "On-Call",
		"Privileged Access", "Microsoft 365 E5", "Remote Workers", "Interns", "Mentors",
		"Wellbeing Champions", "Travel Approvers"}
	licenses = [...]string{"M365_E3", "M365_E5", "NETSKOPE_SSE", "ZOOM_PRO", "GITHUB_ENTERPRISE", "SALESFORCE"}
)

// foldTable maps non-ASCII lower-case letters to ASCII: each entry's
// letters fold to its ASCII text. Combining marks are dropped separately.
var foldTable = [...]struct{ to, from string }{
	{"a", "àáâãäåāăąǎạảấầẩẫậắằẳẵặ"}, {"c", "çćĉċč"}, {"d", "ďđð"},
	{"e", "èéêëēĕėęěẹẻẽếềểễệ"}, {"g", "ĝğġģ"}, {"h", "ĥħ"},
	{"i", "ìíîïĩīĭįıǐỉị"}, {"j", "ĵ"}, {"k", "ķ"}, {"l", "ĺļľŀł"}, {"n", "ñńņňŉ"},
	{"o", "òóôõöøōŏőǒọỏốồổỗộớờởỡợơ"}, {"r", "ŕŗř"}, {"s", "śŝşšș"}, {"t", "ţťŧț"},
	{"u", "ùúûüũūŭůűųǔụủứừửữựư"}, {"w", "ŵ"}, {"y", "ýÿŷỳỵỷỹ"}, {"z", "źżž"},
	{"ae", "æ"}, {"oe", "œ"}, {"ss", "ß"}, {"th", "þ"},
	// Cyrillic, transliterated.
	{"a", "а"}, {"b", "б"}, {"v", "в"}, {"g", "г"}, {"d", "д"}, {"e", "еёэ"}, {"zh", "ж"},
	{"z", "з"}, {"i", "ий"}, {"k", "к"}, {"l", "л"}, {"m", "м"}, {"n", "н"}, {"o", "о"},
	{"p", "п"}, {"r", "р"}, {"s", "с"}, {"t", "т"}, {"u", "у"}, {"f", "ф"}, {"kh", "х"},
	{"ts", "ц"}, {"ch", "ч"}, {"sh", "ш"}, {"shch", "щ"}, {"y", "ы"}, {"yu", "ю"},
	{"ya", "я"}, {"", "ъь"},
}

// fold returns s in lower-case ASCII: letters and digits, with runs of
// anything else turned into sep (or dropped if sep is 0).
func fold(s string, sep byte) string {
	var b strings.Builder
	pending := false
	emit := func(t string) {
		if pending && b.Len() > 0 && sep != 0 {
			b.WriteByte(sep)
		}
		pending = false
		b.WriteString(t)
	}
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			emit(string(r))
		case r >= 0x300 && r <= 0x36f: // combining marks
		default:
			t, ok := foldRune(r)
			if ok {
				if t != "" {
					emit(t)
				}
			} else {
				pending = true
			}
		}
	}
	return b.String()
}

func foldRune(r rune) (string, bool) {
	for _, f := range foldTable {
		if strings.ContainsRune(f.from, r) {
			return f.to, true
		}
	}
	return "", false
}
