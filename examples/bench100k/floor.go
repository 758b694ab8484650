package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/target/netskope"
)

// floorCycle sends the creates of an initial sync, one POST per user and
// per group (without members), with nothing but Go's net/http client and
// the engine's concurrency: no engine, plan, state or journal. Its CPU is
// what the requests alone cost this process, the floor under the
// engine's initial sync.
func floorCycle(ctx context.Context, c config, dir *source.Directory, srv *child) (result, error) {
	r := result{source: "floor", phase: "creates, net/http only"}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(t.MaxIdleConns, netskope.DefaultIdleConns)
	t.MaxIdleConnsPerHost = netskope.DefaultIdleConns
	defer t.CloseIdleConnections()
	base := srv.hello.URL
	auth := "Bearer " + srv.hello.Token
	type job struct {
		path string
		body []byte
	}
	jobs := make(chan job, c.concurrency)
	errs := make(chan error, 1)
	var sent atomic.Int64
	var wg gosync.WaitGroup
	post := func(path string, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/scim+json")
		req.Header.Set("Accept", "application/scim+json")
		req.Header.Set("Authorization", auth)
		resp, err := t.RoundTrip(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusCreated {
			err = fmt.Errorf("POST %s: %s", path, resp.Status)
		}
		return err
	}
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := post(j.path, j.body); err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				sent.Add(1)
			}
		}()
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak()
	s0, err := srv.stats(ctx)
	if err != nil {
		return r, err
	}
	cpu0, _ := rusage()
	start := time.Now()
	for i := range dir.Users {
		u := &dir.Users[i]
		b := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":`)
		b = strconv.AppendQuote(b, u.UserName)
		b = append(b, `,"externalId":`...)
		b = strconv.AppendQuote(b, u.ID)
		b = append(b, `,"name":{"givenName":`...)
		b = strconv.AppendQuote(b, u.GivenName)
		b = append(b, `,"familyName":`...)
		b = strconv.AppendQuote(b, u.FamilyName)
		b = append(b, `},"displayName":`...)
		b = strconv.AppendQuote(b, u.DisplayName)
		b = append(b, `,"emails":[{"value":`...)
		b = strconv.AppendQuote(b, u.PrimaryEmail())
		b = append(b, `,"primary":true}],"active":true}`...)
		jobs <- job{"/Users", b}
	}
	for i := range dir.Groups {
		g := &dir.Groups[i]
		b := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":`)
		b = strconv.AppendQuote(b, g.DisplayName)
		b = append(b, `,"externalId":`...)
		b = strconv.AppendQuote(b, g.ID)
		b = append(b, '}')
		jobs <- job{"/Groups", b}
	}
	close(jobs)
	wg.Wait()
	r.wall = time.Since(start)
	cpu1, maxRSS := rusage()
	r.cpu = cpu1 - cpu0
	r.peakRSS = peakRSS(maxRSS)
	r.requests.Requests = sent.Load()
	r.requests.Post = sent.Load()
	r.objects = len(dir.Users) + len(dir.Groups)
	select {
	case err := <-errs:
		return r, fmt.Errorf("floor: %w", err)
	default:
	}
	return r, r.countServed(ctx, srv, s0)
}
