package netskope_test

import (
	"context"
	"errors"
	"log"
	"os"

	"go.uber.org/zap"

	"github.com/provsync/provsync/target"
	"github.com/provsync/provsync/target/netskope"
)

// A client for the tenant acme in region eu, checked the way an identity
// provider's "Test Connection" does, then used to read groups with members.
func ExampleNew() {
	logger, _ := zap.NewProduction()
	c, err := netskope.New(netskope.TenantURL("acme", "eu"), os.Getenv("NETSKOPE_TOKEN"),
		netskope.WithLogger(logger),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Check(ctx); err != nil {
		switch {
		case errors.Is(err, netskope.ErrBadToken):
			log.Fatal("create a new token: ", err)
		case errors.Is(err, netskope.ErrIPNotAllowed):
			log.Fatal("ask for the allowlist to be extended: ", err)
		default:
			log.Fatal(err)
		}
	}
	groups, err := c.ListGroups(ctx, target.WithMembers())
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d groups in %d requests", len(groups), c.Stats().Requests)
}
