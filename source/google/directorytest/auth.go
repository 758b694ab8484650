package directorytest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"time"
)

// jwtBearer is the grant type of a service account's token request.
const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// directoryScopePrefix starts every Directory API scope.
const directoryScopePrefix = "https://www.googleapis.com/auth/admin.directory."

// serveToken answers a service account's JWT bearer grant: it checks the
// assertion's signature against the key ServiceAccountKey handed out, its
// issuer, audience, expiry, scopes and subject (the admin impersonated
// through domain-wide delegation), and answers with an access token or
// with Google's OAuth error body.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != jwtBearer {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type.")
		return
	}
	claims, ok := s.verify(r.PostForm.Get("assertion"))
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if claims.Iss != s.saEmail || claims.Aud != s.srv.URL+"/token" {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: issuer or audience.")
		return
	}
	if time.Unix(claims.Exp, 0).Before(time.Now()) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.")
		return
	}
	scoped := false
	for _, sc := range strings.Fields(claims.Scope) {
		scoped = scoped || strings.HasPrefix(sc, directoryScopePrefix)
	}
	s.mu.Lock()
	subject := s.subject
	s.mu.Unlock()
	if !scoped || !strings.EqualFold(claims.Sub, subject) {
		oauthError(w, http.StatusUnauthorized, "unauthorized_client",
			"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
		return
	}
	tok := "ya29.fake-" + randHex(16)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Scope string `json:"scope"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
}

// verify checks an RS256 JWT against the server's key.
func (s *Server) verify(assertion string) (*jwtClaims, bool) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c jwtClaims
	if json.Unmarshal(payload, &c) != nil {
		return nil, false
	}
	return &c, true
}

// SetSubject changes the admin the token endpoint lets a service account
// impersonate.
func (s *Server) SetSubject(email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subject = email
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// x509MarshalPKCS8 encodes key as a PEM "PRIVATE KEY" block, as Google's
// key files carry it.
func x509MarshalPKCS8(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
