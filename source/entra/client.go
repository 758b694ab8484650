package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"go.uber.org/zap"

	"github.com/provsync/provsync/source"
)

// newCredential makes the client secret credential of cfg.
func newCredential(cfg *Config) (azcore.TokenCredential, error) {
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}},
		// Instance discovery asks login.microsoftonline.com about the
		// authority; only the known clouds need it, and local or private
		// authorities cannot answer it.
		DisableInstanceDiscovery: !knownAuthority(cfg.AuthorityHost),
	}
	if cfg.HTTPClient != nil {
		opts.ClientOptions.Transport = cfg.HTTPClient
	}
	cred, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, string(cfg.ClientSecret), opts)
	if err != nil {
		// azidentity's errors name the tenant or the client id, never the secret.
		return nil, fmt.Errorf("%w: entra: client secret credential: %w", source.ErrInvalid, err)
	}
	return cred, nil
}

func knownAuthority(host string) bool {
	for _, c := range []Cloud{CloudPublic, CloudUSGovernment, CloudUSGovDoD, CloudChina} {
		if strings.EqualFold(c.AuthorityHost, host) {
			return true
		}
	}
	return false
}

// newAdapter builds the kiota request adapter the Graph request builders
// use: the credential behind an auth provider that only sends tokens to
// the Graph host, a JSON and text parse node registry, and the retry,
// redirect, parameter-decoding, user-agent and telemetry middleware
// around the base transport.
func newAdapter(cfg *Config, cred azcore.TokenCredential, requests *atomic.Int64) (abstractions.RequestAdapter, error) {
	gu, err := url.Parse(cfg.GraphURL)
	if err != nil {
		return nil, err
	}
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, cfg.TokenScopes, []string{gu.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("%w: entra: auth provider: %w", source.ErrInvalid, err)
	}
	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	parsers.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()

	log := cfg.Logger
	retry := &retryHandler{policy: retryPolicy(cfg), log: log}
	opts := core.GraphClientOptions{GraphServiceVersion: "v1.0"}
	middleware := []khttp.Middleware{
		core.NewGraphTelemetryHandler(&opts),
		retry,
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		&countHandler{log: log, n: requests},
	}
	var base http.RoundTripper = http.DefaultTransport
	client := &http.Client{Timeout: 100 * time.Second}
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			base = cfg.HTTPClient.Transport
		}
		if cfg.HTTPClient.Timeout > 0 {
			client.Timeout = cfg.HTTPClient.Timeout
		}
	}
	client.Transport = khttp.NewCustomTransportWithParentTransport(base, middleware...)
	// Redirects are the redirect middleware's to follow.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(
		auth, opts, parsers, writers, client)
	if err != nil {
		return nil, fmt.Errorf("%w: entra: request adapter: %w", source.ErrInvalid, err)
	}
	// The request builders take the base URL from the adapter: set it
	// before any builder is made.
	adapter.SetBaseUrl(cfg.GraphURL)
	return adapter, nil
}

// countHandler is the innermost middleware: it counts every request that
// reaches the wire (retries included) and logs it at debug level, path
// only (query strings carry paging tokens, never credentials).
type countHandler struct {
	log *zap.Logger
	n   *atomic.Int64
}

func (h *countHandler) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	h.n.Add(1)
	start := time.Now()
	resp, err := p.Next(req, i)
	if ce := h.log.Check(zap.DebugLevel, "graph request"); ce != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		ce.Write(zap.String("method", req.Method), zap.String("path", req.URL.Path),
			zap.Int("status", status), zap.Duration("took", time.Since(start)), zap.Error(err))
	}
	return resp, err
}

// GraphError describes a failed Graph request: the status and Graph's
// error code and message. The SDK's error (an *odataerrors.ODataError or
// an *abstractions.ApiError) is reachable with errors.As through Unwrap.
type GraphError struct {
	Status  int
	Code    string
	Message string
	err     error
}

func (e *GraphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "graph: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *GraphError) Unwrap() error { return e.err }

// asGraphError extracts the status and Graph error of err, if it is one.
func asGraphError(err error) (*GraphError, bool) {
	var ge *GraphError
	if errors.As(err, &ge) {
		return ge, true
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		g := &GraphError{Status: oe.GetStatusCode(), err: err}
		if m := oe.GetErrorEscaped(); m != nil {
			g.Code, g.Message = deref(m.GetCode()), deref(m.GetMessage())
		}
		return g, true
	}
	var ae *abstractions.ApiError
	if errors.As(err, &ae) {
		return &GraphError{Status: ae.GetStatusCode(), Message: ae.Message, err: err}, true
	}
	return nil, false
}

// wrap turns err from reading what into a source error: the context's
// error stays itself; 401/403/404 and bad requests are ErrInvalid (a
// configuration or permission problem), everything else ErrUnavailable;
// a failure after the first page is also ErrIncomplete.
func wrap(err error, what string, partway bool) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("entra: %s: %w", what, err)
	}
	sentinel := source.ErrUnavailable
	hint := ""
	ge, ok := asGraphError(err)
	if ok {
		err = ge
		switch {
		case ge.Status == http.StatusUnauthorized:
			sentinel, hint = source.ErrInvalid, " (check the credential: tenant, client id, secret or certificate)"
		case ge.Status == http.StatusForbidden:
			sentinel, hint = source.ErrInvalid, " (grant the app the Graph application permissions Application.Read.All, User.Read.All and GroupMember.Read.All, with admin consent)"
		case ge.Status == http.StatusNotFound:
			sentinel = source.ErrInvalid
		case ge.Status == http.StatusBadRequest:
			sentinel = source.ErrInvalid
		case ge.Status == http.StatusTooManyRequests:
			hint = " (still throttled after the retries; run again later)"
		}
	}
	if partway {
		return fmt.Errorf("entra: %s: %w%s: %w, %w", what, err, hint, source.ErrIncomplete, sentinel)
	}
	return fmt.Errorf("entra: %s: %w%s: %w", what, err, hint, sentinel)
}

// expired reports whether err says a delta token is no longer valid:
// 410 Gone, or a 400 about the sync state or the token.
func expired(err error) bool {
	ge, ok := asGraphError(err)
	if !ok {
		return false
	}
	if ge.Status == http.StatusGone {
		return true
	}
	if ge.Status != http.StatusBadRequest {
		return false
	}
	c := strings.ToLower(ge.Code)
	return strings.HasPrefix(c, "syncstate") || strings.Contains(c, "resync") ||
		strings.Contains(strings.ToLower(ge.Message), "token")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// odataAdapter gives requests sent without error mappings (the page
// iterator's next pages) the same Graph error parsing the request
// builders use, so a failing page reports Graph's code and message.
type odataAdapter struct {
	abstractions.RequestAdapter
}

func (a odataAdapter) Send(ctx context.Context, ri *abstractions.RequestInformation, f absser.ParsableFactory, em abstractions.ErrorMappings) (absser.Parsable, error) {
	if em == nil {
		em = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}
	}
	return a.RequestAdapter.Send(ctx, ri, f, em)
}
