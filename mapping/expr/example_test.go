package expr_test

import (
	"fmt"

	"github.com/provsync/provsync/mapping/expr"
)

type user map[string]any

func (u user) Attr(name string) (any, bool) {
	v, ok := u[name]
	return v, ok
}

func Example() {
	e, err := expr.Parse(`Join("", Left(ToLower([givenName]), 1), ToLower(NormalizeDiacritics([surname])))`)
	if err != nil {
		panic(err)
	}
	v, err := e.Eval(user{"givenName": "Zoë", "surname": "Ångström"})
	fmt.Println(v, err, e.Attributes())

	_, err = expr.Parse(`Join(" ", [givenName] [surname])`)
	fmt.Println(err)
	// Output:
	// zangstrom <nil> [givenName surname]
	// expr: 1:23: expected ")" after arguments of Join, found '['
}
