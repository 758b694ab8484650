package pgstate

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew: the database's schema was migrated by a newer provsync
// than this one; this one does not know how to read it.
var ErrSchemaTooNew = errors.New("pgstate: database schema is newer than this provsync")

// migrateLockKey is the transaction-level advisory lock that serialises
// migrations of one database by several processes.
const migrateLockKey = 0x70726f7673796e63 // "provsync"

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name does not start with a version", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the schema version this package migrates to.
func SchemaVersion() int {
	m, err := migrations()
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].version
}

// Migrate brings the database's provsync tables to this package's schema
// version, in one transaction: each migration not yet applied runs and is
// recorded in provsync_schema_version. Concurrent callers wait for each
// other (an advisory lock). A database at a newer version than this
// package knows is ErrSchemaTooNew. Open calls Migrate.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstate: migrate: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockKey)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS provsync_schema_version (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM provsync_schema_version").Scan(&have); err != nil {
			return err
		}
		if want := ms[len(ms)-1].version; have > want {
			return fmt.Errorf("%w: the database is at version %d, this provsync knows up to %d", ErrSchemaTooNew, have, want)
		}
		for _, m := range ms {
			if m.version <= have {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO provsync_schema_version (version) VALUES ($1)", m.version); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgstate: migrate: %w", err)
	}
	return nil
}
