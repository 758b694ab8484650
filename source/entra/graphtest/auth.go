package graphtest

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// serveAuth is a minimal Entra authority: OpenID metadata, instance
// discovery and the v2.0 token endpoint for the client credentials grant.
func (s *Server) serveAuth(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	host := s.auth.URL
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/common/discovery/instance":
		writeJSON(w, http.StatusOK, map[string]any{
			"tenant_discovery_endpoint": host + "/" + s.tenantID + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata": []map[string]any{{
				"preferred_network": strings.TrimPrefix(host, "https://"),
				"preferred_cache":   strings.TrimPrefix(host, "https://"),
				"aliases":           []string{strings.TrimPrefix(host, "https://")},
			}},
		})
	case len(segs) == 4 && segs[1] == "v2.0" && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		tenant := segs[0]
		writeJSON(w, http.StatusOK, map[string]any{
			"token_endpoint":                        host + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint":                host + "/" + tenant + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         host + "/" + tenant + "/oauth2/v2.0/devicecode",
			"end_session_endpoint":                  host + "/" + tenant + "/oauth2/v2.0/logout",
			"jwks_uri":                              host + "/" + tenant + "/discovery/v2.0/keys",
			"issuer":                                host + "/" + tenant + "/v2.0",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"tenant_region_scope":                   "EU",
		})
	case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token" && r.Method == http.MethodPost:
		s.stats[RouteToken]++
		s.token(w, r, segs[0])
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "not_found", "error_description": "AADSTS90002: no such endpoint"})
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		authError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed request body")
		return
	}
	f := r.PostForm
	switch {
	case tenant != s.tenantID:
		authError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
	case f.Get("grant_type") != "client_credentials":
		authError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: only client_credentials is supported here")
	case f.Get("client_id") != s.clientID:
		authError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory.")
	case subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.clientSecret)) != 1:
		authError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
	case !slices.ContainsFunc(strings.Fields(f.Get("scope")), func(sc string) bool { return strings.HasSuffix(sc, "/.default") }):
		authError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
	default:
		tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + randomHex(24)
		s.tokens[tok] = true
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok,
		})
	}
}

func authError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}})
}

// TokenRequests returns how many requests the token endpoint received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats[RouteToken]
}
