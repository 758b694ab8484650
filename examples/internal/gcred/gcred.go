// Package gcred gives the example programs' Google Workspace source its
// credentials. It is apart from package cli so that programs without the
// Google source do not link Google's OAuth libraries.
package gcred

import (
	"context"
	"fmt"
	"os"

	googleoauth "golang.org/x/oauth2/google"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/google"
)

// Apply sets cfg's credentials: the service account key read from
// keyFile, or, when keyFile is "", Application Default Credentials.
func Apply(ctx context.Context, cfg *google.Config, keyFile string) error {
	if keyFile != "" {
		key, err := os.ReadFile(keyFile)
		if err != nil {
			return err
		}
		cfg.ServiceAccountKey = source.Secret(key)
		return nil
	}
	ts, err := googleoauth.DefaultTokenSource(ctx, google.Scopes...)
	if err != nil {
		return fmt.Errorf("no service account key file and no Application Default Credentials: %w", err)
	}
	cfg.TokenSource = ts
	return nil
}
