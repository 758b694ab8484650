package file_test

import (
	"context"
	"fmt"
	"os"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
)

func ExampleFromBytes() {
	src := file.FromBytes([]byte(`
users:
  - id: u-1
    userName: ada@example.com
    email: ada@example.com
    displayName: Ada Lovelace
    attributes: {department: R&D}
  - id: u-2
    userName: bob@example.com
    state: suspended
groups:
  - id: g-1
    displayName: Engineering
    members: [u-1, u-2]
`), file.FormatYAML)
	dir, err := src.Read(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range dir.Users {
		dept, _ := u.Attr("department")
		fmt.Println(u.ID, u.UserName, u.State, dept)
	}
	fmt.Println(dir.Groups[0].DisplayName, dir.Groups[0].Members)
	// Output:
	// u-1 ada@example.com active R&D
	// u-2 bob@example.com suspended <nil>
	// Engineering [u-1 u-2]
}

func ExampleFromBytes_errors() {
	src := file.FromBytes([]byte(`
users:
  - id: u-1
    state: actve
groups:
  - id: g-1
    members: [u-1, u-9]
`), file.FormatYAML, file.WithName("users.yaml"))
	_, err := src.Read(context.Background())
	fmt.Println(err)
	// Output:
	// users.yaml:4: user "u-1" (users[0]): state: unknown state "actve" (want active, suspended or deleted)
	// users.yaml:7: group "g-1" (groups[0]): members[1]: unknown user "u-9"
}

func ExampleWrite() {
	dir := &source.Directory{
		Users: []source.User{{ID: "u-1", UserName: "zoe@example.com", GivenName: "Zoë",
			Emails: []source.Email{{Value: "zoe@example.com", Type: "work", Primary: true}}}},
		Groups: []source.Group{{ID: "g-1", DisplayName: "R&D", Members: []string{"u-1"}}},
	}
	if err := file.Write(os.Stdout, dir, file.FormatYAML); err != nil {
		fmt.Println(err)
	}
	// Output:
	// users:
	//   - id: u-1
	//     userName: zoe@example.com
	//     email: zoe@example.com
	//     givenName: Zoë
	// groups:
	//   - id: g-1
	//     displayName: R&D
	//     members:
	//       - u-1
}
