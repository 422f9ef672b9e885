/*
 * How mandate authenticates to an upstream API: a connector's `auth` object (docs/connectors.md)
 * names a scheme, the credential vault (vault.h) holds the secret that the scheme needs, and
 * connect_auth_apply turns the two into headers on a built request (connect.h).
 *
 * The schemes and the secret each needs (every field required, no other field allowed):
 *
 * - {"type": "none"}, or no `auth` at all: no secret (NULL or {}), no header.
 * - {"type": "bearer"}: {"token"}; sends `Authorization: Bearer <token>` (RFC 6750 section 2.1).
 * - {"type": "basic"}: {"username", "password"}; sends `Authorization: Basic <b>` where b is the
 *   base64 (RFC 4648 section 4, padded) of "username:password" (RFC 7617 section 2). A username
 *   holding ':' is refused, since the server would split it there. (Jira: an email and an API
 *   token; Zendesk: "email/token" and an API token.)
 * - {"type": "api_key", "headers": [names]}: one value per named header, keyed by the header's
 *   name exactly as the connector spells it; each is sent as is. 1 to CONNECT_AUTH_HEADERS_MAX
 *   names, each an RFC 9110 token (section 5.6.2), distinct ignoring case, and none of Host,
 *   Content-Type, Content-Length, Transfer-Encoding, Connection, Cookie or Proxy-Authorization
 *   (which the runtime or the transport owns). Authorization is allowed: {"headers":
 *   ["Authorization"]} serves an API that wants "Token xyz", the whole value being the secret.
 *   "headers" is accepted as another spelling of the type "api_key" (the shipped Datadog
 *   connector uses it).
 * - {"type": "oauth2_client_credentials", "token_url", "scope"?, "audience"?, "client_auth"?}:
 *   {"client_id", "client_secret"}. token_url is "https://host..." or a path starting with a
 *   single '/' (resolved against the connector's effective base URL), without a fragment
 *   (RFC 6749 section 3.2); scope is space-separated RFC 6749 section 3.3 scope tokens;
 *   client_auth is "basic" (the default, RFC 6749 section 2.3.1) or "post". The token request
 *   itself is oauth.c's; here the access token it got is sent as a bearer token.
 * - {"type": "oauth2_refresh_token", "token_url", "client_auth"?, "scope"?}: {"client_id",
 *   "client_secret", "refresh_token"} (RFC 6749 section 6: QuickBooks Online, Google or Microsoft
 *   with a user's consent). token_url, client_auth and scope as for client credentials; the
 *   access token is sent as a bearer token. A refresh token that the endpoint rotates is
 *   written back to the vault (runtime.c, connect_vault_rotate).
 * - {"type": "oauth2_jwt_bearer", "token_url", "scope", "subject"?}: a service account key, the
 *   JSON file Google issues: {"client_email", "private_key" (PEM, RSA, at least 2048 bits,
 *   unencrypted; the only value that may hold line breaks), "private_key_id", ...}; other
 *   string members of the file are accepted and unused. The grant is RFC 7523 section 2.1
 *   (jwt.h); "subject": "caller" makes the calling employee's userName the JWT's sub (Google's
 *   domain-wide delegation). scope is required here: Google issues no token without one.
 * - {"type": "oauth1", "signature_method"?}: {"consumer_key", "consumer_secret", "token",
 *   "token_secret", "realm"?} (RFC 5849, NetSuite token-based authentication); every request is
 *   signed (oauth1.h). signature_method is "HMAC-SHA256" (the default; NetSuite's only one) or
 *   "HMAC-SHA1".
 *
 * Credential placeholders: auth.token_url may hold {credential.NAME} after its host (Microsoft's
 * https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/token), and a tool's body
 * template {{credential.NAME}} (connect.h). NAME (1 to 64 characters of [A-Za-z0-9_]) is then a
 * required field of the secret besides the scheme's, with the same value rules; a connector
 * without auth may use them too, its secret holding just those fields.
 * connect_auth_secret_validate_connector knows of them; connect_auth_secret_validate, which sees
 * only the auth object, refuses them as unknown fields.
 *
 * Every secret value is a non-empty string of at most CONNECT_AUTH_VALUE_MAX bytes without
 * control characters (no NUL, CR, LF, TAB or DEL), so that it can never split or end a header.
 * A value sent raw in a header (a bearer token, an api_key value) must also not start or end
 * with a space, which a server would strip. Messages name fields, never values.
 */
#ifndef MANDATE_CONNECT_AUTH_H
#define MANDATE_CONNECT_AUTH_H

#include <jansson.h>
#include <stdbool.h>

#include "connect/connect.h"
#include "core/err.h"

#define CONNECT_AUTH_VALUE_MAX 4096 /* bytes of one secret value */
#define CONNECT_AUTH_HEADERS_MAX 8  /* headers of one api_key scheme */
#define CONNECT_AUTH_HEADER_NAME_MAX 128
#define CONNECT_AUTH_URL_MAX 2048 /* bytes of an oauth2 token_url */

enum connect_auth_type {
    CONNECT_AUTH_NONE,
    CONNECT_AUTH_BEARER,
    CONNECT_AUTH_BASIC,
    CONNECT_AUTH_API_KEY,
    CONNECT_AUTH_OAUTH2_CC,
    CONNECT_AUTH_OAUTH2_REFRESH,
    CONNECT_AUTH_OAUTH2_JWT,
    CONNECT_AUTH_OAUTH1
};

/* Whether the scheme sends an access token got from a token endpoint (oauth.h). */
bool connect_auth_is_oauth2(enum connect_auth_type t);

/*
 * Validates a connector's auth object (NULL or JSON null: none). An unknown field or type is
 * refused: a setting this code would not apply must not be silently ignored. MD_ERR_VALUE naming
 * the field. *type (may be NULL) receives the scheme on MD_OK. auth is borrowed.
 */
enum md_err connect_auth_validate(const json_t *auth, enum connect_auth_type *type,
                                  struct md_error *e);

/*
 * Validates a secret against the auth object (validated too): exactly the fields the scheme
 * needs, each a valid value. MD_ERR_VALUE naming a missing or unknown field, never echoing a
 * value. Both borrowed.
 */
enum md_err connect_auth_secret_validate(const json_t *auth, const json_t *secret,
                                         struct md_error *e);

/*
 * Validates a secret for a connector document (its auth and its tools): the scheme's fields,
 * plus every field that auth.token_url or a tool's body names as a credential placeholder. This
 * is what setting a credential checks (the admin API and the CLI). Both borrowed.
 */
enum md_err connect_auth_secret_validate_connector(const json_t *connector, const json_t *secret,
                                                   struct md_error *e);

/*
 * Adds to names (an object used as a set) every NAME that auth.token_url uses as
 * {credential.NAME}. MD_ERR_VALUE for a bad auth, MD_ERR_NOMEM.
 */
enum md_err connect_auth_credential_fields(const json_t *auth, json_t *names, struct md_error *e);

/*
 * The token URL of an OAuth 2.0 scheme: auth.token_url with each {credential.NAME} replaced by
 * that field of secret (percent-encoded as a path argument is, and refused when empty, "." or
 * ".."), resolved against base_url when it is a path. On MD_OK *out is a heap string, a secret
 * when it holds credential fields: the caller frees it. MD_ERR_VALUE (no token_url, a missing
 * field, a bad value), MD_ERR_NOMEM.
 */
enum md_err connect_auth_token_url(const json_t *auth, const char *base_url, const json_t *secret,
                                   char **out, struct md_error *e);

/*
 * connect_auth_token_url with a deployment's override of the token URL (docs/connectors.md,
 * "Base URLs and upstreams"): override, when not NULL, stands for auth.token_url (it is
 * absolute, checked by connect_auth_token_url_check).
 */
enum md_err connect_auth_token_url_at(const json_t *auth, const char *override,
                                      const char *base_url, const json_t *secret, char **out,
                                      struct md_error *e);

/*
 * Checks a deployment's override of an OAuth 2.0 scheme's token URL (PATCH
 * /api/v1/connectors/{name} {"token_url"}, MANDATE_CONNECTOR_<NAME>_TOKEN_URL): auth must be an
 * OAuth 2.0 scheme, url an absolute https:// URL (http:// too with allow_http, the server's
 * MANDATE_UPSTREAM_HTTP=1) with the same rules as auth.token_url, whose {credential.NAME}
 * placeholders are among those that auth.token_url itself uses (so that a national cloud's
 * https://login.microsoftonline.us/{credential.tenant_id}/oauth2/v2.0/token works, and an
 * override never puts another secret field in a URL). MD_ERR_VALUE with a sentence that names
 * "token_url", MD_ERR_NOMEM. Both borrowed.
 */
enum md_err connect_auth_token_url_check(const json_t *auth, const char *url, bool allow_http,
                                         struct md_error *e);

/*
 * Whether the value of a secret field must be masked out of upstream answers: true for
 * everything secret (a token, a password, a client secret, a private key, ...); false for the
 * identifiers that an upstream rightly shows (a Basic username, a client_id, a service
 * account's client_email, an OAuth 1.0 realm) and for the extra members of a service account
 * key file (its project id, its URLs). Fields used as credential placeholders are secret
 * whatever this says (the runtime masks them too).
 */
bool connect_auth_field_is_secret(const json_t *auth, const char *field);

/*
 * Adds the credential headers of the connector's scheme to req (built by connect_request_build;
 * the added names and values are heap strings that connect_request_free releases). A header of
 * the same name already in req (a connector's static header), compared ignoring case, is
 * replaced, never duplicated. For the OAuth 2.0 schemes, bearer_token is the access token and
 * secret is not used (may be NULL); for the other schemes bearer_token must be NULL. oauth1
 * signs req as it is (method, URL, Content-Type, body) with a fresh timestamp and nonce, so
 * it is applied last, and again to a request sent again. auth and secret are validated again,
 * since they come from the database; fields beyond the scheme's are not refused here (a body
 * template may use them as credential placeholders).
 *
 * All or nothing: on error req is unchanged. MD_ERR_VALUE (a bad auth, secret or token),
 * MD_ERR_INTERNAL (a bearer token where the scheme takes none, or none for oauth2),
 * MD_ERR_NOMEM.
 */
enum md_err connect_auth_apply(const json_t *auth, const json_t *secret, const char *bearer_token,
                               struct connect_request *req, struct md_error *e);

/* The scheme's name as the auth object spells it ("none", "bearer", ...). Never NULL. */
const char *connect_auth_type_name(enum connect_auth_type t);

#endif
