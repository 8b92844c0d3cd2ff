package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// TokenRecord is a XEP-0324 token the registry issued (§3.1.3.1): who
// asked for it, and the certificate whose key holder may use it. The
// token itself is not kept, only its SHA-256 (ID), so that a copy of the
// database does not hand out tokens.
type TokenRecord struct {
	// ID is TokenID of the token.
	ID string
	// JID is the bare JID that obtained the token.
	JID string
	// Fingerprint is the hex SHA-256 of Certificate.
	Fingerprint string
	// Certificate is the X.509 certificate (DER) the token stands for:
	// token challenges are encrypted to its public key.
	Certificate []byte
	// Created and Expires bound the token's life, to the second.
	Created, Expires time.Time
}

// TokenStore is a Store that also keeps tokens. The registry issues and
// honours tokens only on a store that implements it; on another, getToken
// is not implemented and rules about tokens never apply.
type TokenStore interface {
	// PutToken creates or replaces the token record r.ID.
	PutToken(ctx context.Context, r TokenRecord) error
	// Token returns the record with ID id, or an error wrapping
	// ErrNotFound. Expired records may be returned: the caller checks.
	Token(ctx context.Context, id string) (TokenRecord, error)
	// DeleteExpiredTokens removes the records that expired before t and
	// returns how many.
	DeleteExpiredTokens(ctx context.Context, t time.Time) (int, error)
}

// TokenID is the store key of a token: its hex SHA-256.
func TokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Fingerprint returns the hex SHA-256 of a certificate (DER).
func Fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// loggable returns a rule's requester fit for logs: a token is replaced
// by the start of its ID, so that logs never hold tokens.
func loggable(requester string) string {
	if tok, ok := strings.CutPrefix(requester, TokenPrefix); ok {
		return TokenPrefix + "sha256:" + TokenID(tok)[:12]
	}
	return requester
}
