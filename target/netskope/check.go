package netskope

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/provsync/provsync/target"
)

// Errors of Check. Each is wrapped together with the *target.Error of the
// failed request, so errors.Is tells the cause and errors.As the detail.
var (
	// ErrBadURL: the base URL does not lead to Netskope's SCIM API: the
	// host cannot be reached, nothing is routed there (404, Kong's "no
	// Route matched"), or the answer is HTML or otherwise not SCIM.
	ErrBadURL = errors.New("netskope: the base URL does not lead to Netskope's SCIM API")
	// ErrBadToken: the token was refused (401): wrong, truncated or expired.
	ErrBadToken = errors.New("netskope: the token was refused")
	// ErrMissingScope: the token was accepted but lacks the endpoint or the
	// privilege needed (403), such as Read only where Read+Write is needed.
	ErrMissingScope = errors.New("netskope: the token lacks a needed scope")
	// ErrIPNotAllowed: the tenant's IP allowlist refused the caller's
	// address (403 naming the IP address or the allowlist).
	ErrIPNotAllowed = errors.New("netskope: this machine's IP address is not on the tenant's allowlist")
)

// checkRetries bounds retries during Check, which should answer quickly.
const checkRetries = 1

// Check tests the configuration the way an identity provider's "Test
// Connection" does, changing nothing: it lists one user (GET
// /Users?count=1) and one group (GET /Groups?count=1), then probes write
// access by deleting a random id that cannot exist on /Users and /Groups,
// expecting 404 (403 means the token is read-only). Its error wraps
// ErrBadURL, ErrBadToken, ErrMissingScope or ErrIPNotAllowed when the
// responses tell which, and says what to do.
func (c *Client) Check(ctx context.Context) error {
	for _, coll := range []string{pathUsers, pathGroups} {
		if err := c.checkRead(ctx, coll); err != nil {
			return err
		}
	}
	for _, coll := range []string{pathUsers, pathGroups} {
		if err := c.checkWrite(ctx, coll); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) checkRead(ctx context.Context, coll string) error {
	q := url.Values{"startIndex": {"1"}, "count": {"1"}}
	if coll == pathGroups {
		q.Set("excludedAttributes", "members")
	}
	r := &request{
		op: "check read " + strings.TrimPrefix(coll, "/"), method: http.MethodGet, path: coll, query: q,
		retryCap: checkRetries,
	}
	res, err := c.do(ctx, r)
	if err == nil {
		var page pageHead
		page, err = decodePage(c, r, res, 1, func(int, *json.RawMessage) error { return nil })
		if err == nil && page.total == nil && !page.resources {
			err = c.protocolError(r, res, "the response is not a SCIM ListResponse")
		}
	}
	return c.diagnose(ctx, err, coll, false)
}

func (c *Client) checkWrite(ctx context.Context, coll string) error {
	id := randomUUID()
	r := &request{
		op: "check write " + strings.TrimPrefix(coll, "/"), objectAttr: "id", objectValue: id,
		method: http.MethodDelete, path: coll + "/" + id, retryCap: checkRetries,
	}
	_, err := c.do(ctx, r)
	var te *target.Error
	if errors.As(err, &te) && te.Status == http.StatusNotFound && !noRoute(te) {
		return nil // the write reached the application: the token may write
	}
	return c.diagnose(ctx, err, coll, true)
}

// diagnose wraps a Check failure with the sentinel it shows and advice.
func (c *Client) diagnose(ctx context.Context, err error, coll string, write bool) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	var te *target.Error
	if !errors.As(err, &te) {
		return err
	}
	endpoint := "api/v2/scim" + coll
	var kind error
	var advice string
	switch {
	case te.Status == 0 && errors.Is(err, target.ErrUnavailable):
		kind = ErrBadURL
		advice = fmt.Sprintf("check the tenant name and region in the base URL (%s) and that this machine can reach %s "+
			"(DNS, proxy, firewall)", TenantURL("<tenant>", "[<region>]"), c.host)
	case te.Status == http.StatusUnauthorized:
		kind = ErrBadToken
		advice = "check that the token was copied whole (Netskope shows it only once) and has not expired, " +
			"and that REST API v2 is enabled; create a new token under Settings > Tools > REST API v2"
	case te.Status == http.StatusForbidden && ipRefusal(te):
		kind = ErrIPNotAllowed
		advice = "add this machine's egress IP address to the tenant's IP allowlist, or run from an allowed address"
	case te.Status == http.StatusForbidden && write:
		kind = ErrMissingScope
		advice = fmt.Sprintf("the token may read but not write %s: edit the token under Settings > Tools > "+
			"REST API v2 and give that endpoint the Read+Write privilege", endpoint)
	case te.Status == http.StatusForbidden:
		kind = ErrMissingScope
		advice = fmt.Sprintf("add the endpoint %s to the token with the Read+Write privilege "+
			"(Settings > Tools > REST API v2)", endpoint)
	case noRoute(te) || (te.Status == http.StatusNotFound && !write):
		kind = ErrBadURL
		advice = fmt.Sprintf("nothing answers at %s on %s: the base URL should be %s", coll, c.host,
			TenantURL("<tenant>", "[<region>]"))
	case errors.Is(err, target.ErrProtocol) || (te.Status >= 300 && te.Status < 400):
		kind = ErrBadURL
		advice = fmt.Sprintf("%s answers, but not as Netskope's SCIM API (HTML, a redirect or other content): "+
			"check that the base URL is %s", c.host, TenantURL("<tenant>", "[<region>]"))
	default:
		return err
	}
	return fmt.Errorf("%w: %w; to fix: %s", kind, err, advice)
}

// ipRefusal reports whether a 403 names the IP address or the allowlist,
// as Kong's ip-restriction plugin does ("IP address not allowed", "Your IP
// address is not allowed").
func ipRefusal(te *target.Error) bool {
	msg := strings.ToLower(errorText(te))
	for _, s := range []string{"allowlist", "allow list", "whitelist", "not allowed", "ip address"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	for _, w := range strings.FieldsFunc(msg, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if w == "ip" {
			return true
		}
	}
	return false
}

// noRoute reports whether an error body is Kong's "no Route matched with
// those values": the path leads nowhere.
func noRoute(te *target.Error) bool {
	return strings.Contains(strings.ToLower(errorText(te)), "no route matched")
}

func errorText(te *target.Error) string {
	if te.SCIM == nil {
		return ""
	}
	return te.SCIM.Detail + " " + te.SCIM.Message
}

// randomUUID returns a random (version 4) UUID, an id no resource has.
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
