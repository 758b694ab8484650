// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// server binaries installed on the machine (Debian's postgresql package
// puts them under /usr/lib/postgresql/VERSION/bin). One server runs per
// test binary; each test gets a database of its own on it.
//
// Without the binaries, tests skip with a message that says how to enable
// them; with CI=true in the environment they fail instead, so that a CI
// machine that lost the package does not pass silently.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	gosync "sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL server in a temporary directory.
type Server struct {
	dir, bin, data string
	port           int
	asPostgres     bool // commands run through runuser as the postgres user

	mu gosync.Mutex
	n  int // databases created
}

var (
	shared    *Server
	sharedErr error
	once      gosync.Once
)

// Main runs the package's tests and stops the shared server, if a test
// started one. Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// DB returns the connection string of a new, empty database on the shared
// server, starting the server on first use. It skips the test (or fails
// it when CI=true) if the PostgreSQL binaries are not installed.
func DB(t testing.TB) string {
	t.Helper()
	once.Do(func() { shared, sharedErr = Start() })
	if errors.Is(sharedErr, ErrNoBinaries) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v; CI must run the PostgreSQL tests: install the postgresql package (.ci/run does)", sharedErr)
		}
		t.Skipf("pgtest: %v; to run these tests install PostgreSQL's server binaries (Debian: apt-get install postgresql)", sharedErr)
	}
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	dsn, err := shared.NewDatabase(context.Background())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// ErrNoBinaries: initdb and pg_ctl were not found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")

// binDir finds the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin, else the PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoBinaries
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Start initialises a cluster in a new temporary directory and starts a
// server on a free loopback port, its unix socket in that directory. As
// root, the server runs as the postgres user (PostgreSQL refuses root).
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{dir: dir, bin: bin, data: filepath.Join(dir, "data"), asPostgres: os.Geteuid() == 0}
	if s.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start postgres as root: no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
	if s.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := s.run("initdb", "-D", s.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -h 127.0.0.1 -F -c max_connections=200", s.port, dir)
	if err := s.run("pg_ctl", "-D", s.data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, log)
	}
	return s, nil
}

func (s *Server) run(name string, args ...string) error {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DSN returns the connection string of database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database and returns its connection string.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("test%d", s.n)
	s.mu.Unlock()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// Stop stops the server at once and removes its directory.
func (s *Server) Stop() {
	_ = s.run("pg_ctl", "-D", s.data, "-m", "immediate", "-w", "stop")
	os.RemoveAll(s.dir)
}

// Interleaved reports whether a write by replica i, coming after the
// writes of order (the replica of each write so far), breaks the rule of
// one leader at a time: i wrote before, and another replica has written
// since. It returns that other replica, the last one to write.
func Interleaved(order []int, i int) (other int, ok bool) {
	k := len(order)
	if k == 0 || order[k-1] == i {
		return 0, false
	}
	for _, j := range order {
		if j == i {
			return order[k-1], true
		}
	}
	return 0, false
}
