// Command bench100k measures the engine at scale: it starts the embedded
// Netskope-compatible SCIM server as a separate process on a loopback port,
// generates a synthetic directory (source/synth: by default 100,000 users,
// 5,000 groups, about 10 memberships per user) and, for a full-read source
// (as Google is read) and for an incremental one (a change feed, as
// Entra's delta queries), runs these cycles against an empty tenant:
//
//	initial                     the first sync: everything is created
//	no-op                       nothing changed at the source
//	issue mix                   issue 13's 100-change cycle: 40 renames,
//	                            30 suspensions, 15 membership moves
//	broad mix                   the same and 5 hires, 5 leavers, 5 group
//	                            renames
//	no-op, drift check          as no-op, planned with sync.Reapply
//	issue mix, drift check      another issue mix, with sync.Reapply
//	broad mix, drift check      another broad mix, with sync.Reapply
//
// A third case (-sources adopt) is a first run against a tenant that
// already holds every user and group, as a hosted connector left them:
// stored in the server child before it serves (see seedDir), the same
// names, a third with the externalId the mapping sets and the others
// with none or the connector's own. The full-read source's engine, with
// the default policy, adopts them all:
//
//	adopt                       the first sync: every object is adopted
//	no-op                       nothing changed at the source
//
// For each it prints the wall time, the engine's CPU time (user and
// system), the engine's peak resident memory during the cycle, the
// requests the client sent (by method) and the server received, the
// server's CPU time, and requests per object:
//
//	go run -tags grpcnotrace ./examples/bench100k
//	go run -tags grpcnotrace ./examples/bench100k -users 10000 -groups 500
//
// The source keeps its directory encoded in a temporary file, not in this
// process (whose memory is the engine's figure), and streams and decodes
// it on each read, inside the cycle's measured times (see dirSource); the
// full-read source decodes only the attributes the engine's mapping
// reads (source.AttributeSelector), none for the default mapping.
// -mapping rules runs every cycle with a mapping.RuleMapper instead
// (benchRules: attribute mappings, a scope of three clauses and five
// group rules) for the full and incremental sources.
// The engine runs with concurrency 16, page size 1000, a file state in a
// temporary directory, and no rate limit (-rps sets the server's limit,
// and the client then paces itself with its defaults). The server child
// ends when this program does; it runs with GOGC=400 (-server-gogc): its
// memory is not a figure here, and at the default GOGC its garbage
// collection took a fifth of its CPU, from the same cores as the engine. -cpuprofile and -memprofile write CPU and
// heap profiles of the engine for the initial and no-op cycles;
// -serverprofile writes a CPU profile of the server child. -memlimit sets
// the engine's soft memory limit, as GOMEMLIMIT does for a service: the
// garbage collector then runs more often to keep the heap under it.
//
// The peak live heap column is the most a garbage collection found
// reachable during the cycle: with the default GOGC the peak RSS is about
// twice it. -peakprofile writes, for every cycle, a heap profile taken
// near that peak, which shows what the cycle holds at once (the heap
// profile -memprofile writes at a cycle's end does not).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/provsync/provsync/examples/internal/cli"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
)

func main() {
	if os.Getenv(serverRoleEnv) == "server" {
		if err := serve(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench100k server:", err)
			os.Exit(1)
		}
		return
	}
	cli.Main("bench100k", run)
}

// config is one benchmark run.
type config struct {
	users, groups        int
	memberships          float64
	seed                 uint64
	concurrency          int
	pageSize             int
	rps                  float64
	idleConns            int
	sources              []string // "full", "incremental"
	mapping              string   // "default" or "rules" (benchRules)
	memoryState          bool
	issueMix, broadMix   changeMix // the batches of the issue and broad mix cycles
	cpuProfile, heapProf string
	peakProf             string
	serverProf           string
	serverGOGC           int   // GOGC of the server child
	memLimitMiB          int64 // the engine's soft memory limit, 0 for none
	timeout              time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench100k", flag.ContinueOnError)
	c := config{issueMix: issueMix(), broadMix: broadMix()}
	fs.IntVar(&c.users, "users", 100000, "users in the synthetic directory")
	fs.IntVar(&c.groups, "groups", 5000, "groups in the synthetic directory")
	fs.Float64Var(&c.memberships, "memberships", 10, "average groups per user")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the directory and of the changes")
	fs.IntVar(&c.concurrency, "concurrency", 16, "changes the engine applies at once")
	fs.IntVar(&c.pageSize, "page-size", 1000, "page size of the client and largest page of the server")
	fs.Float64Var(&c.rps, "rps", 0, "the server's rate limit in requests per second; 0: none, and the client does not pace itself")
	fs.IntVar(&c.idleConns, "idle-conns", 0, "idle connections the client keeps to the server; 0: the client's default http.Client (netskope.DefaultIdleConns per host)")
	sources := fs.String("sources", "full,incremental,adopt", "sources to run, comma-separated: full, incremental, adopt (a full-read source whose first run adopts a pre-filled tenant), floor (not run by default: the initial sync's creates sent by a bare net/http client, no engine, for the CPU the requests alone cost)")
	fs.StringVar(&c.mapping, "mapping", "default", "the engine's mapping: default (mapping.Default, which reads no source attribute) or rules (attribute mappings, a 3-clause scope and 5 group rules, as issue 13's mapping figure; see benchRules); the adopt case runs with default only")
	state := fs.String("state", "file", "engine state: file (in a temporary directory) or memory")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write CPU profiles of the initial and no-op cycles to this path, with the source and cycle before its extension (cpu.pprof: cpu.full-initial.pprof, ...)")
	fs.StringVar(&c.heapProf, "memprofile", "", "write heap profiles at the end of the initial and no-op cycles, named as -cpuprofile's; allocations count from the program's start, so compare a cycle's with -diff_base of the one before")
	fs.StringVar(&c.peakProf, "peakprofile", "", "write a heap profile of each cycle near its peak live heap, named as -cpuprofile's (without a forced collection: it shows what was live at the peak)")
	fs.StringVar(&c.serverProf, "serverprofile", "", "write a CPU profile of the server child, over all of a source's cycles, to this path with the source before its extension (server.pprof: server.full.pprof, ...)")
	fs.IntVar(&c.serverGOGC, "server-gogc", 400, "GOGC of the server child: its garbage collector's target heap growth in percent (its memory is not measured; at 100,000 users and 400 its RSS peaked at 1.0 to 1.5 GB)")
	fs.Int64Var(&c.memLimitMiB, "memlimit", 0, "the engine's soft memory limit in MiB, as GOMEMLIMIT sets it for a service (runtime/debug.SetMemoryLimit); 0: none. The server child runs without it")
	fs.DurationVar(&c.timeout, "timeout", time.Hour, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.serverGOGC < 1 {
		return fmt.Errorf("-server-gogc must be at least 1, not %d", c.serverGOGC)
	}
	c.sources = strings.Split(*sources, ",")
	for _, s := range c.sources {
		if s != "full" && s != "incremental" && s != "adopt" && s != "floor" {
			return fmt.Errorf("-sources: %q is not full, incremental, adopt or floor", s)
		}
	}
	if _, err := newMapper(c.mapping); err != nil {
		return err
	}
	if c.mapping != "default" && slices.Contains(c.sources, "adopt") {
		return fmt.Errorf("-mapping %s: the adopt case's tenant is filled as the default mapping makes it; leave adopt out of -sources", c.mapping)
	}
	switch *state {
	case "file":
	case "memory":
		c.memoryState = true
	default:
		return fmt.Errorf("-state must be file or memory, not %q", *state)
	}
	if c.memLimitMiB < 0 {
		return fmt.Errorf("-memlimit must be 0 or more MiB, not %d", c.memLimitMiB)
	}
	if c.memLimitMiB > 0 {
		debug.SetMemoryLimit(c.memLimitMiB << 20)
	}
	if c.peakProf != "" {
		runtime.MemProfileRate = 64 << 10 // finer than the default 512 KiB: the profiles are read for their shares
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := bench(ctx, c, out)
	return err
}

// phase is one cycle of the benchmark.
type phase struct {
	name    string
	mix     mixKind // the batch of changes made at the source first, if any
	drift   bool    // plan with sync.Reapply
	profile bool    // covered by -cpuprofile and -memprofile
}

// mixKind names a config's change mix.
type mixKind int

const (
	noChanges mixKind = iota
	issueChanges
	broadChanges
)

// mix is the batch a phase of kind k makes.
func (c config) mix(k mixKind) changeMix {
	switch k {
	case issueChanges:
		return c.issueMix
	case broadChanges:
		return c.broadMix
	}
	return changeMix{}
}

var phases = []phase{
	{name: "initial", profile: true},
	{name: "no-op", profile: true},
	{name: "issue mix", mix: issueChanges},
	{name: "broad mix", mix: broadChanges},
	{name: "no-op, drift check", drift: true},
	{name: "issue mix, drift check", mix: issueChanges, drift: true},
	{name: "broad mix, drift check", mix: broadChanges, drift: true},
}

// adoptPhases are the cycles of the adopt case.
var adoptPhases = []phase{
	{name: "adopt", profile: true},
	{name: "no-op", profile: true},
}

// result is what one cycle measured.
type result struct {
	source, phase string
	mapping       string    // config.mapping
	mix           changeMix // the batch made at the source before the cycle
	objects       int       // users and groups at the source
	planned       int       // changes in the plan
	changed       int       // objects the cycle's batch changed at the source
	expected      int       // changes a plan needs for the batch (see dirSource.planned)
	writes        int       // write requests those changes take (see dirSource.writes)
	wall, cpu     time.Duration
	peakRSS       int64 // bytes
	peakLive      int64 // bytes: the most the garbage collector found live
	requests      netskope.Stats
	served        int // requests the server received
	serverCPU     time.Duration
	stateBytes    int64
	reads         int        // plain reads of the source (Read) in the cycle
	selected      [][]string // the names each selecting read (ReadAttributes) of the cycle asked for
}

func (r result) perObject() float64 { return float64(r.requests.Requests) / float64(max(r.objects, 1)) }

// bench runs every phase for every source of c, prints a table to out
// and returns the figures.
func bench(ctx context.Context, c config, out io.Writer) ([]result, error) {
	if c.mapping == "" {
		c.mapping = "default"
	}
	for _, m := range []changeMix{c.issueMix, c.broadMix} {
		if m.usersNeeded() > c.users/2 || c.groups < 4*m.GroupRenames {
			return nil, fmt.Errorf("-users %d and -groups %d are too few for batches of %d changes: at least %d users and %d groups", c.users, c.groups, m.total(), 2*m.usersNeeded(), 4*m.GroupRenames)
		}
	}
	fmt.Fprintf(out, "bench100k: %d users, %d groups, %.3g memberships per user; %s mapping; concurrency %d, page size %d, %s, %s, %s, server child GOGC %d; %s/%s, %d CPUs\n",
		c.users, c.groups, c.memberships, c.mapping, c.concurrency, c.pageSize, rateNote(c.rps), idleNote(c.idleConns), limitNote(c.memLimitMiB), c.serverGOGC, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	perPhase := peakResettable()
	if !perPhase {
		fmt.Fprintln(out, "note: this system cannot reset the peak RSS, so each figure is the peak since the program started")
	}
	var all []result
	for _, kind := range c.sources {
		res, err := benchSource(ctx, c, kind, out)
		all = append(all, res...)
		if err != nil {
			printTable(out, c, all)
			return all, fmt.Errorf("%s source: %w", kind, err)
		}
	}
	printTable(out, c, all)
	return all, nil
}

func rateNote(rps float64) string {
	if rps == 0 {
		return "no rate limit"
	}
	return fmt.Sprintf("server limit %g req/s, client pacing by default", rps)
}

func limitNote(mib int64) string {
	if mib == 0 {
		return "no memory limit"
	}
	return fmt.Sprintf("engine memory limit %d MiB", mib)
}

func idleNote(n int) string {
	if n == 0 {
		return "default HTTP client"
	}
	return fmt.Sprintf("%d idle connections kept", n)
}

// benchSource runs the phases for one kind of source against a new
// server child.
func benchSource(ctx context.Context, c config, kind string, out io.Writer) (_ []result, err error) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	dir := synth.Generate(synth.Config{Users: c.users, Groups: c.groups, MembershipsPerUser: c.memberships, Seed: c.seed})
	gen := time.Since(t0)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	members := 0
	for i := range dir.Groups {
		members += len(dir.Groups[i].Members)
	}
	ds, err := newDirSource(dir, "")
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := ds.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	fmt.Fprintf(out, "%s source: generated %d users, %d groups, %d memberships in %s (%.0f MB of heap decoded); the benchmark keeps it encoded in a file (%.0f MB), which each source read streams and decodes inside the cycle's measured CPU and wall time\n",
		kind, len(dir.Users), len(dir.Groups), members, gen.Round(time.Millisecond), mb(int64(after.HeapAlloc)-int64(before.HeapAlloc)), mb(ds.size))

	mapper, err := newMapper(c.mapping)
	if err != nil {
		return nil, err
	}
	ds.mapper = mapper
	var src source.Source = fullSource{ds}
	if kind == "incremental" {
		src = incSource{ds}
	}
	var seed *seedDir
	phs := phases
	if kind == "adopt" {
		seed = &seedDir{users: c.users, groups: c.groups, memberships: c.memberships, seed: c.seed}
		phs = adoptPhases
	}
	serverProf := ""
	if c.serverProf != "" {
		serverProf = profilePath(c.serverProf, kind)
	}
	srv, err := startServer(ctx, c.rps, c.pageSize, c.serverGOGC, seed, serverProf)
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := srv.stop(); serr != nil && err == nil {
			err = fmt.Errorf("server: %w", serr)
		}
	}()
	if kind == "floor" {
		r, err := floorCycle(ctx, c, dir, srv)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "  %-24s %8s wall, %8s CPU, %4.0f MB peak RSS, %6d requests\n",
			r.phase, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), mb(r.peakRSS), r.requests.Requests)
		return []result{r}, nil
	}
	copts := []netskope.Option{netskope.WithPageSize(c.pageSize)}
	if c.rps == 0 {
		copts = append(copts, netskope.WithRateLimit(0, 0))
	}
	if c.idleConns > 0 {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = c.idleConns
		copts = append(copts, netskope.WithHTTPClient(&http.Client{Transport: t}))
	}
	client, err := netskope.New(srv.hello.URL, srv.hello.Token, copts...)
	if err != nil {
		return nil, err
	}

	var st sync.State = sync.NewMemoryState()
	statePath := ""
	if !c.memoryState {
		tmp, err := os.MkdirTemp("", "bench100k-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		statePath = filepath.Join(tmp, "state.json")
		fst := sync.NewFileState(statePath)
		defer fst.Close()
		st = fst
	}
	eopts := []sync.Option{sync.WithConcurrency(c.concurrency), sync.WithState(st)}
	if mapper != nil {
		eopts = append(eopts, sync.WithMapper(mapper))
	}
	eng, err := sync.New(src, client, eopts...)
	if err != nil {
		return nil, err
	}

	rng := rand.New(rand.NewPCG(c.seed, 100))
	var results []result
	round := 0
	for _, ph := range phs {
		if ph.mix != noChanges {
			round++
			if err := ds.change(ctx, rng, round, c.mix(ph.mix)); err != nil {
				return results, err
			}
		}
		r, err := cycle(ctx, c, eng, client, srv, kind, ph)
		r.mix, r.mapping = c.mix(ph.mix), c.mapping
		r.reads, r.selected = ds.takeReads()
		if ph.mix != noChanges {
			b := ds.batches[len(ds.batches)-1]
			r.changed = len(b.Users) + len(b.Groups) + len(b.RemovedUsers) + len(b.RemovedGroups)
			r.expected = ds.planned[len(ds.planned)-1]
			r.writes = ds.writes[len(ds.writes)-1]
		}
		r.objects = ds.users + ds.groups
		r.stateBytes = stateSize(statePath)
		if err != nil {
			return results, fmt.Errorf("%s: %w", ph.name, err)
		}
		results = append(results, r)
		fmt.Fprintf(out, "  %-24s %8s wall, %8s CPU, %4.0f MB peak RSS, %4.0f MB peak live heap, %6d requests, %6d changes planned\n",
			ph.name, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), mb(r.peakRSS), mb(r.peakLive), r.requests.Requests, r.planned)
	}
	return results, nil
}

// cycle runs one sync and measures it.
func cycle(ctx context.Context, c config, eng *sync.Engine, client *netskope.Client, srv *child, kind string, ph phase) (result, error) {
	r := result{source: kind, phase: ph.name}
	var opts []sync.RunOption
	if ph.drift {
		opts = append(opts, sync.Reapply())
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak()
	client.ResetStats()
	s0, err := srv.stats(ctx)
	if err != nil {
		return r, err
	}
	name := kind + "-" + strings.NewReplacer(", ", "-", " ", "-").Replace(ph.name)
	stopCPU := func() {}
	if ph.profile && c.cpuProfile != "" {
		if stopCPU, err = startCPUProfile(profilePath(c.cpuProfile, name)); err != nil {
			return r, err
		}
	}
	peakProf := ""
	if c.peakProf != "" {
		peakProf = profilePath(c.peakProf, name)
	}
	live := watchLive(peakProf)
	cpu0, _ := rusage()
	start := time.Now()
	p, res, err := eng.Sync(ctx, opts...)
	r.wall = time.Since(start)
	r.peakLive = live.end()
	cpu1, maxRSS := rusage()
	stopCPU()
	r.cpu = cpu1 - cpu0
	r.peakRSS = peakRSS(maxRSS)
	r.requests = client.Stats()
	if err != nil {
		return r, err
	}
	if ph.profile && c.heapProf != "" {
		if err := writeHeapProfile(profilePath(c.heapProf, name)); err != nil {
			return r, err
		}
	}
	if res.Failed > 0 {
		return r, fmt.Errorf("%d changes failed: %w", res.Failed, res.Err())
	}
	r.planned = len(p.Changes)
	wantChanges := ph.mix != noChanges || ph.name == "initial" || ph.name == "adopt"
	if p.Empty() == wantChanges {
		return r, fmt.Errorf("the plan has %d changes; expected %s", len(p.Changes), map[bool]string{true: "some", false: "none"}[wantChanges])
	}
	return r, r.countServed(ctx, srv, s0)
}

// printTable prints the figures of every cycle, then what the mixes were.
func printTable(out io.Writer, c config, rs []result) {

	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "source\tmapping\tcycle\tchanged objects\tplanned\twall s\tCPU s\tpeak RSS MB\tpeak live MB\trequests\tGET\tPOST\tPATCH\tPUT\tDELETE\tserved\tserver CPU s\treq/object\tstate MB\t")
	for _, r := range rs {
		q := r.requests
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.4f\t%.1f\t\n",
			r.source, r.mapping, r.phase, r.changed, r.planned, r.wall.Seconds(), r.cpu.Seconds(), mb(r.peakRSS), mb(r.peakLive), q.Requests,
			q.Get, q.Post, q.Patch, q.Put, q.Delete, r.served, r.serverCPU.Seconds(), r.perObject(), mb(r.stateBytes))
	}
	_ = w.Flush()
	fmt.Fprintf(out, "issue mix: issue 13's 100-change cycle, %s (its goal: at most 110 requests)\nbroad mix: %s\n",
		c.issueMix, c.broadMix)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func stateSize(path string) int64 {
	if path == "" {
		return 0
	}
	var n int64
	dirs, _ := filepath.Glob(path + ".dir-*") // cached directories
	for _, p := range append([]string{path, path + ".journal"}, dirs...) {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// profilePath inserts name before base's extension.
func profilePath(base, name string) string {
	ext := filepath.Ext(base)
	return strings.TrimSuffix(base, ext) + "." + name + ext
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // in-use figures as of now
	err = pprof.WriteHeapProfile(f)
	return errors.Join(err, f.Close())
}

// writeHeapProfileNoGC writes a heap profile as of the last collections.
func writeHeapProfileNoGC(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = pprof.WriteHeapProfile(f)
	return errors.Join(err, f.Close())
}

// The peak resident memory of one cycle: on Linux, writing 5 to
// /proc/self/clear_refs sets the peak (VmHWM) back to the current
// resident size, and /proc/self/status reports it. Elsewhere the figure is
// getrusage's peak since the program started.

func peakResettable() bool { return resetPeak() }

func resetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns VmHWM in bytes, or fallback.
func peakRSS(fallback int64) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fallback
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return fallback
}

// countServed sets the requests the server child answered since s0, and
// the CPU it took for them.
func (r *result) countServed(ctx context.Context, srv *child, s0 serverStats) error {
	s1, err := srv.stats(ctx)
	if err != nil {
		return err
	}
	r.served = s1.Requests - s0.Requests
	r.serverCPU = s1.CPU - s0.CPU
	return nil
}
