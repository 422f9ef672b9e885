/*
 * What an event looks like on disk: the canonical document, the chain hash, checkpoint MACs,
 * and the redaction of arguments and secrets before anything is recorded.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "core/crypto.h"
#include "core/json.h"

static const char redacted[] = "[redacted]";

char *audit_canonical(const json_t *ev)
{
    /* Sorted keys and no spaces make one text per event; reals keep jansson's 17 digits. */
    return json_text(ev, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII, NULL);
}

void audit_chain_hash(const char *prev_hash, const char *doc, char out[65])
{
    static const char label[] = "mandate-audit-v1\n";
    size_t lp = strlen(prev_hash), ld = strlen(doc), n = sizeof label - 1 + lp + 1 + ld;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *cx = EVP_MD_CTX_new();

    (void)n;
    if (!cx || !EVP_DigestInit_ex(cx, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(cx, label, sizeof label - 1) || !EVP_DigestUpdate(cx, prev_hash, lp) ||
        !EVP_DigestUpdate(cx, "\n", 1) || !EVP_DigestUpdate(cx, doc, ld) ||
        !EVP_DigestFinal_ex(cx, md, &mdlen))
        memset(md, 0, sizeof md);
    EVP_MD_CTX_free(cx);
    crypto_hex(md, sizeof md, out);
}

void audit_checkpoint_mac(const unsigned char key[AUDIT_KEY_LEN], int64_t seq, const char *hash,
                          char out[65])
{
    char msg[160];
    unsigned char mac[CRYPTO_HMAC_SHA256_LEN];
    int n = snprintf(msg, sizeof msg, "mandate-audit-checkpoint-v1\n%" PRId64 "\n%s", seq, hash);

    crypto_hmac_sha256(key, AUDIT_KEY_LEN, msg, (size_t)n < sizeof msg ? (size_t)n : 0, mac);
    crypto_hex(mac, sizeof mac, out);
}

void audit_key_derive(const unsigned char vault_key[32], unsigned char out[AUDIT_KEY_LEN])
{
    static const char label[] = "mandate audit checkpoint key v1";
    crypto_hmac_sha256(vault_key, 32, label, sizeof label - 1, out);
}

/* Whether args has a member that redact names. */
static bool needs_redaction(const json_t *args, const json_t *redact)
{
    size_t i;
    json_t *name;

    json_array_foreach(redact, i, name)
    {
        const char *k = json_string_value(name);
        if (k && json_object_get(args, k))
            return true;
    }
    return false;
}

json_t *audit_redact_args(const json_t *args, const json_t *redact, char sha[65])
{
    json_t *out;
    char *canon;
    size_t i;
    json_t *name;

    sha[0] = '\0';
    if (!args || !json_is_object(args))
        args = NULL;
    canon = args ? audit_canonical(args) : strdup("{}");
    if (!canon)
        return NULL;
    crypto_sha256_hex(canon, strlen(canon), sha);
    free(canon);
    if (!args)
        return json_object();
    /* Nothing to hide: the event shares the arguments (nobody changes them) instead of a copy. */
    if (!needs_redaction(args, redact))
        return json_incref(json_mut(args));
    out = json_deep_copy(args);
    json_array_foreach(redact, i, name)
    {
        const char *k = json_string_value(name);
        if (out && k && json_object_get(out, k))
            json_object_set_new(out, k, json_string(redacted));
    }
    return out;
}

/* Member names whose values are secrets wherever they appear (compared case-insensitively). */
static bool secret_name(const char *k)
{
    static const char *const names[] = {
        "password",        "token",        "secret",     "client_secret", "private_key",
        "refresh_token",   "access_token", "api_key",    "apikey",        "authorization",
        "consumer_secret", "token_secret", "credential", "credentials",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(k, names[i]) == 0)
            return true;
    }
    return false;
}

/* Whether a PATCH operation's path names a secret attribute ("password", "x:password"). */
static bool secret_path(const char *path)
{
    const char *last = path ? strrchr(path, ':') : NULL;
    const char *name = last ? last + 1 : path;
    return name && secret_name(name);
}

/*
 * How deep the scrubber looks. A container below it is replaced whole, so that a secret can
 * never pass by being deep (request bodies are limited to 32 levels before they get here).
 */
#define SCRUB_DEPTH 64

static bool too_deep(const json_t *x, int depth)
{
    return depth >= SCRUB_DEPTH && (json_is_object(x) || json_is_array(x));
}

static void scrub_in_place(json_t *v, int depth)
{
    const char *k;
    json_t *x;
    size_t i;

    if (depth > SCRUB_DEPTH)
        return;
    if (json_is_object(v)) {
        const char *op_path = json_string_value(json_object_iget(v, "path"));
        bool is_op = json_object_iget(v, "op") && secret_path(op_path);
        json_object_foreach(v, k, x)
        {
            if (secret_name(k) || (is_op && strcasecmp(k, "value") == 0) || too_deep(x, depth))
                json_object_set_new(v, k, json_string(redacted));
            else
                scrub_in_place(x, depth + 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (too_deep(x, depth))
                json_array_set_new(v, i, json_string(redacted));
            else
                scrub_in_place(x, depth + 1);
        }
    }
}

json_t *audit_scrub(const json_t *doc)
{
    json_t *copy = doc ? json_deep_copy(doc) : NULL;
    if (copy)
        scrub_in_place(copy, 0);
    return copy;
}
