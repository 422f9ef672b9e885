/*
 * The credential vault: the secret of each connector (auth.h says its shape), sealed with
 * AES-256-GCM under a key that never enters the database, and kept as a JSON document of the
 * store's credentials table (STORE_OBJ_CREDENTIAL, keyed by connector name).
 *
 * Who sees what: the admin API sets, rotates and deletes a secret and reads its metadata
 * (connect_vault_info), never the secret itself; the connector runtime reads the secret
 * (connect_vault_get) to apply it to one request and drops it at once. Neither an agent nor a
 * log line ever sees a secret value.
 *
 * The stored document of a connector:
 *   {"connector": name, "alg": "A256GCM", "kid": the key id (below), "nonce": base64url of the
 *    12-byte nonce, "ciphertext": base64url of the ciphertext with its 16-byte tag, "fields":
 *    [the secret's field names, sorted], "set_by": actor, "set_at": RFC 3339 time}
 * The plaintext is the secret as compact JSON with sorted keys. The additional authenticated
 * data is "mandate-credential:" + connector name (the row's key, not the document's field), so
 * that a document copied to another connector's row does not open. A fresh random 96-bit nonce
 * is drawn for every seal.
 */
#ifndef MANDATE_CONNECT_VAULT_H
#define MANDATE_CONNECT_VAULT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"
#include "store/store.h"

#define CONNECT_VAULT_KEY_LEN 32
#define CONNECT_VAULT_KID_LEN 17             /* 16 hex digits and a NUL */
#define CONNECT_VAULT_SECRET_MAX (64 * 1024) /* bytes of one secret as JSON */

/*
 * Loads the vault key. env_value (the value of MANDATE_VAULT_KEY; NULL or "" when unset) wins:
 * 64 hex digits, or 43 (unpadded) or 44 (padded) characters of base64 or base64url encoding 32
 * bytes; surrounding whitespace is ignored. Else key_file (may be NULL): a file holding the same
 * text (a trailing newline is fine), or exactly 32 raw bytes. When key_file does not exist and
 * create is true, a new random key is written there as 64 hex digits and a newline (mode 0600,
 * O_EXCL, synced with its directory, which must exist) and *created (may be NULL) is set. A key
 * file with any permission for group or others is refused, as ssh refuses such a private key,
 * with a message saying to chmod 600 it.
 *
 * key_id_out (may be NULL; CONNECT_VAULT_KID_LEN bytes) receives the key's id: the first 8 bytes
 * of SHA-256("mandate-vault-key-id" || key) in lowercase hex, so that operators can tell keys
 * apart without revealing them. Messages never quote key material.
 *
 * Errors: MD_ERR_VALUE (no key configured, a malformed key, a file with a loose mode) or MD_ERR_IO
 * (the file cannot be read or created), with a sentence; key is then zeroed.
 */
enum md_err connect_vault_key_load(const char *env_value, const char *key_file, bool create,
                                   unsigned char key[CONNECT_VAULT_KEY_LEN],
                                   char key_id_out[CONNECT_VAULT_KID_LEN], bool *created,
                                   struct md_error *e);

/* The key id of key, as connect_vault_key_load computes it. */
void connect_vault_key_id(const unsigned char key[CONNECT_VAULT_KEY_LEN],
                          char out[CONNECT_VAULT_KID_LEN]);

struct connect_vault;

/*
 * Opens the vault over s (borrowed: it must outlive every call on the vault) with key (copied;
 * the copy is wiped on close). Subscribes to the store's change feed, which drops a cached
 * secret when its "credentials/<name>" object changes (on any node) and every cached secret on
 * STORE_CHANGE_ALL. The vault and its store may be closed in either order: the subscription
 * outlives the vault harmlessly (store_watch has no unsubscribe).
 * *out is freed with connect_vault_close. MD_ERR_NOMEM; MD_ERR_INTERNAL when the store has no
 * room for another subscriber or 64 vaults are open in this process.
 */
enum md_err connect_vault_open(struct store *s, const unsigned char key[CONNECT_VAULT_KEY_LEN],
                               struct connect_vault **out, struct md_error *e);
/* Wipes the key and the cached secrets and frees v (NULL is fine). */
void connect_vault_close(struct connect_vault *v);

/* This vault's key id (CONNECT_VAULT_KID_LEN bytes, owned by v), e.g. for a startup log line. */
const char *connect_vault_kid(const struct connect_vault *v);

/*
 * Seals secret (a non-empty JSON object of strings, already validated by the caller against the
 * connector's auth with connect_auth_secret_validate) for connector and stores it, replacing any
 * previous one (rotation). actor (may be NULL: recorded as null) says who set it. *out (out may
 * be NULL) receives a new reference to the metadata, as connect_vault_info gives it.
 * MD_ERR_VALUE (a bad connector name or secret, naming no value), MD_ERR_TOOLARGE (over
 * CONNECT_VAULT_SECRET_MAX), the store's errors.
 */
enum md_err connect_vault_set(struct connect_vault *v, const char *connector, const json_t *secret,
                              const char *actor, json_t **out, struct md_error *e);

/*
 * Replaces the value of one field of connector's secret, as a compare-and-set: only while the
 * stored value is still expect (a refresh token that the token endpoint rotated: the new one
 * replaces the one that was used, never a newer one). The secret is opened, changed, sealed
 * anew (a fresh nonce) and written with the row's version as a precondition, so that a write
 * of another node in between is seen, re-read and compared again (at most 3 times). set_by and
 * set_at stay; "rotated_at" records when. MD_OK when replaced (or when the stored value is
 * already value); MD_ERR_PRECONDITION when the stored value is neither expect nor value (an
 * administrator set another secret, or another node rotated further): nothing is written.
 * MD_ERR_NOTFOUND (no secret, or no such field), MD_ERR_VALUE (a bad name; a secret that does
 * not open), the store's errors. No message quotes a value.
 */
enum md_err connect_vault_rotate(struct connect_vault *v, const char *connector, const char *field,
                                 const char *expect, const char *value, struct md_error *e);

/*
 * The metadata of connector's secret, never the secret: a new reference to
 * {"connector", "configured": true, "fields", "kid", "set_by", "set_at", "rotated_at"?,
 * "version"} in *out. MD_ERR_NOTFOUND when none is set.
 */
enum md_err connect_vault_info(struct connect_vault *v, const char *connector, json_t **out,
                               struct md_error *e);

/* Deletes connector's secret. MD_ERR_NOTFOUND when none is set. */
enum md_err connect_vault_delete(struct connect_vault *v, const char *connector,
                                 struct md_error *e);

/*
 * The decrypted secret in *secret: a new object of the caller's own (a copy, never shared with
 * the cache or another thread), which it releases with connect_vault_secret_free (or
 * json_decref) as soon as the request is built, and never logs. Served from an in-memory cache
 * that the change feed keeps current, else read from the store and opened. Thread-safe.
 * MD_ERR_NOTFOUND when none is set; MD_ERR_VALUE when it was sealed with another key ("sealed
 * with another key (kid X, this node has Y)"), does not open (altered, or moved from another
 * connector's row) or is malformed; the store's errors.
 */
enum md_err connect_vault_get(struct connect_vault *v, const char *connector, json_t **secret,
                              struct md_error *e);

/*
 * Releases a secret that connect_vault_get gave: when the caller holds the only reference, its
 * string values are overwritten first, so that the secret does not linger in freed memory.
 * NULL is fine.
 */
void connect_vault_secret_free(json_t *secret);

#endif
