package expr_test

import (
	"fmt"

	"github.com/tenantsync/tenantsync/internal/expr"
)

// Parse compiles an expression once; Eval evaluates it for each source
// user's attributes.
func Example() {
	e, err := expr.Parse(`Join(" ", Append([givenName], ","), ToUpper([surname]), Switch([department], "Staff", "Sales", "Sales staff"))`)
	if err != nil {
		panic(err)
	}
	for _, user := range []map[string]any{
		{"givenName": "Ada", "surname": "Lovelace", "department": "Sales"},
		{"givenName": "Alan", "surname": "Turing", "department": "Research"},
	} {
		v, err := e.Eval(&expr.Env{Attrs: user})
		if err != nil {
			panic(err)
		}
		fmt.Println(v)
	}
	fmt.Println(e.Attributes())
	// Output:
	// Ada, LOVELACE Sales staff
	// Alan, TURING Staff
	// [department givenName surname]
}

// A mistake is reported with the column where it is, as validate prints it.
func ExampleParse_error() {
	_, err := expr.Parse(`Apend([displayName], " (Fabrikam)")`)
	fmt.Println(err)
	// Output:
	// unknown function "Apend" at column 1
}
