package expr

import "testing"

// BenchmarkEval measures typical mappings. Run with
//
//	go test ./mapping/expr -run '^$' -bench Eval -benchmem
func BenchmarkEval(b *testing.B) {
	env := mapEnv{"givenName": "Jöhn", "surname": "Müller", "department": "IT"}
	for _, bm := range []struct{ name, src string }{
		{"alias", `Join("", Left(ToLower([givenName]),1), ToLower(NormalizeDiacritics([surname])))`},
		{"switch", `Switch([department], "Other", "Sales", "S1", "IT", "S2", "HR", "S3")`},
		{"attribute", `[givenName]`},
	} {
		e := MustParse(bm.src)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Eval(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse measures parsing a typical mapping.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`Join("", Left(ToLower([givenName]),1), ToLower(NormalizeDiacritics([surname])))`); err != nil {
			b.Fatal(err)
		}
	}
}
