package netskopetest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// Start the server, point the real client at it, and read back what the
// client wrote. In a test, New(t) starts it and closes it at the end.
func Example() {
	srv := netskopetest.NewServer()
	defer srv.Close()
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ada, err := client.CreateUser(ctx, &scim.User{UserName: "ada@example.com", Active: scim.Bool(true)})
	if err != nil {
		log.Fatal(err)
	}
	eng, err := client.CreateGroup(ctx, &scim.Group{DisplayName: "Engineering"})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.AddMembers(ctx, eng.ID, []string{ada.ID}); err != nil {
		log.Fatal(err)
	}
	// Like Netskope, the server checks uniqueness of userName ignoring case.
	_, err = client.CreateUser(ctx, &scim.User{UserName: "ADA@example.com"})
	fmt.Println("duplicate is a conflict:", errors.Is(err, target.ErrConflict))

	g, _ := srv.Group(eng.ID) // the server's own view, members included
	fmt.Println(srv.UserCount(), "user;", g.DisplayName, "has", len(g.Members), "member:", g.Members[0].Display)
	fmt.Println("write requests:", srv.Stats().Writes()) // the refused create counts too
	// Output:
	// duplicate is a conflict: true
	// 1 user; Engineering has 1 member: ada@example.com
	// write requests: 4
}

// Faults answer a share of requests with 429 or 500 before they reach the
// store, so a client's retries can be tested; Seed makes the sequence
// repeatable.
func ExampleWithFaults() {
	srv := netskopetest.NewServer(netskopetest.WithFaults(netskopetest.Faults{Rate500: 0.5, Seed: 1}))
	defer srv.Close()
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithMaxRetries(20),
		netskope.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"ada", "alan", "grace"} {
		if _, err := client.CreateUser(context.Background(), &scim.User{UserName: name + "@example.com"}); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("users:", srv.UserCount(), "- some requests failed first:", srv.Stats().Faults() > 0)
	// Output:
	// users: 3 - some requests failed first: true
}
