package source_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAdaptersDoNotImportTheEngine keeps the adapters (every package
// under source/ and target/) free of the engine: nothing they link,
// tests aside, is the sync package or one of its sub-packages. The engine
// imports adapters' contracts, never the other way round.
func TestAdaptersDoNotImportTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	const mod = "github.com/provsync/provsync/"
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}",
		mod+"source/...", mod+"target/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	engine := func(pkg string) bool { return pkg == mod+"sync" || strings.HasPrefix(pkg, mod+"sync/") }
	adapters := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		if !strings.HasPrefix(pkg, mod+"source") && !strings.HasPrefix(pkg, mod+"target") {
			continue
		}
		adapters++
		for _, imp := range strings.Fields(imports) {
			if engine(imp) {
				t.Errorf("%s imports the engine (%s)", pkg, imp)
			}
		}
	}
	if adapters < 10 {
		t.Fatalf("only %d packages under source/ and target/ listed", adapters)
	}
}

// TestRetryIsALeaf keeps source/retry, the retry policy every client
// shares, on the standard library alone, so that any client can import it
// whatever it is built on.
func TestRetryIsALeaf(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/provsync/provsync/source/retry").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "github.com/provsync/provsync/source/retry" {
		t.Errorf("source/retry depends on %v; the standard library only, please", got)
	}
}
