package sync_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDependencies keeps the dependency rule of the design: the core
// packages import the standard library, zap and each other only; no SDK,
// no adapter. sync alone may also use the OpenTelemetry metric API (and
// the attribute package it is built on), never an OpenTelemetry SDK or
// exporter.
func TestCoreDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	core := []string{"scim", "source", "target", "mapping", "sync"}
	args := []string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}
	for _, p := range core {
		args = append(args, "github.com/provsync/provsync/"+p)
	}
	out, err := exec.Command(goBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	otelAPI := func(pkg string) bool {
		for _, p := range []string{"go.opentelemetry.io/otel/metric", "go.opentelemetry.io/otel/attribute"} {
			if pkg == p || strings.HasPrefix(pkg, p+"/") {
				return true
			}
		}
		return false
	}
	allowed := func(pkg string) bool {
		for _, p := range core {
			if pkg == "github.com/provsync/provsync/"+p {
				return true
			}
		}
		// mapping/expr is part of the core: the expression language,
		// standard library only.
		// source/parallel is the bounded fan-out, standard library only.
		return pkg == "github.com/provsync/provsync/mapping/expr" ||
			pkg == "github.com/provsync/provsync/source/parallel" ||
			strings.HasPrefix(pkg, "go.uber.org/zap") || strings.HasPrefix(pkg, "go.uber.org/multierr")
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !allowed(pkg) && !otelAPI(pkg) {
			t.Errorf("a core package depends on %s", pkg)
		}
	}
	// Only sync uses the metric API: the other core packages stay as
	// they were.
	args = append(args[:4:4], "github.com/provsync/provsync/scim", "github.com/provsync/provsync/source",
		"github.com/provsync/provsync/target", "github.com/provsync/provsync/mapping")
	out, err = exec.Command(goBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !allowed(pkg) {
			t.Errorf("a core package other than sync depends on %s", pkg)
		}
	}
}
