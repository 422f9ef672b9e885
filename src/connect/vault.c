/*
 * The credential vault (vault.h): the key, sealing and opening with AES-256-GCM, the
 * credentials table through the store's JSON documents, and a cache of opened secrets that the
 * store's change feed keeps current.
 *
 * Plaintext handling: a secret exists as bytes only in buffers of this file, which are wiped
 * with OPENSSL_cleanse before they are freed, and as jansson objects (the cache's, and the
 * copies handed to callers). The cache's string values are wiped when an entry is dropped;
 * callers release their copy with connect_vault_secret_free, which does the same. Nothing here
 * logs, and no message quotes a secret or key material.
 */
#include "connect/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/hmap.h"
#include "core/json.h"
#include "core/str.h"
#include "core/time.h"

#define KID_CONTEXT "mandate-vault-key-id"
#define AAD_PREFIX "mandate-credential:"
#define ALG "A256GCM"
#define FEED_PREFIX "credentials/"
#define KEY_FILE_MAX 256     /* bytes of a key file: anything longer is not a key */
#define CONNECTOR_MAX 63     /* bytes of a connector name (the store's id limit) */
#define DOC_MAX (256 * 1024) /* bytes of a stored document */
#define DOC_DEPTH 8
#define VAULT_SLOTS 64 /* vaults open at once in one process */

struct connect_vault {
    struct store *store;
    unsigned char key[CONNECT_VAULT_KEY_LEN];
    char kid[CONNECT_VAULT_KID_LEN];

    /*
     * mu guards cache (connector -> json_t *, one reference each) and gen, which counts
     * invalidations: a reader that missed publishes what it read only when gen did not move
     * while it read, so that a secret replaced meanwhile never settles in the cache.
     */
    pthread_mutex_t mu;
    struct hmap cache;
    uint64_t gen;
    int slot; /* index in slots, or -1 */
};

/*
 * The change feed's view of the open vaults. store_watch has no unsubscribe, so a store keeps
 * calling its subscriber after the vault is gone: the subscription's context is therefore a
 * slot of this static table, which close empties under slots_mu, and not the vault itself.
 * A vault may then be closed before or after its store. A slot is reused by a later vault;
 * the old store's notices then merely drop the new vault's cache now and then, which is safe.
 * Lock order: a store's watcher lock, then slots_mu, then a vault's mu.
 */
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static struct connect_vault *slots[VAULT_SLOTS];

/* ---- encodings ---- */

/*
 * The value of a base64 character; *alphabet is 1 for the standard alphabet's own characters
 * ('+', '/'), 2 for base64url's ('-', '_'), 0 for the shared ones. -1 for anything else.
 */
static int b64_val(unsigned char c, int *alphabet)
{
    *alphabet = 0;
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    *alphabet = c == '+' || c == '/' ? 1 : 2;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/*
 * Decodes unpadded base64 (RFC 4648 section 4, or base64url, section 5, when url_only is
 * false; the two alphabets are never mixed) into out (cap bytes). Strict: the unused bits of
 * the last character must be zero, so that one text stands for one byte string.
 */
static bool b64_decode(const char *s, size_t n, bool url_only, unsigned char *out, size_t cap,
                       size_t *out_len)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    int seen = 0;

    *out_len = 0;
    if (n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        int alphabet;
        int v = b64_val((unsigned char)s[i], &alphabet);

        if (v < 0 || (url_only && alphabet == 1) || (alphabet && seen && alphabet != seen))
            return false;
        if (alphabet)
            seen = alphabet;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return false;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0)
        return false;
    *out_len = o;
    return true;
}

/* A heap base64url text of len bytes, or NULL. */
static char *b64url_dup(const unsigned char *p, size_t len)
{
    char *s = malloc(4 * ((len + 2) / 3) + 1);

    if (s)
        crypto_b64url(p, len, s);
    return s;
}

/* ---- the key ---- */

void connect_vault_key_id(const unsigned char key[CONNECT_VAULT_KEY_LEN],
                          char out[CONNECT_VAULT_KID_LEN])
{
    unsigned char buf[sizeof KID_CONTEXT - 1 + CONNECT_VAULT_KEY_LEN];
    char hex[CRYPTO_SHA256_HEX_LEN];

    memcpy(buf, KID_CONTEXT, sizeof KID_CONTEXT - 1);
    memcpy(buf + sizeof KID_CONTEXT - 1, key, CONNECT_VAULT_KEY_LEN);
    crypto_sha256_hex(buf, sizeof buf, hex);
    /* The first 8 bytes of the digest are its first 16 hex digits. */
    memcpy(out, hex, CONNECT_VAULT_KID_LEN - 1);
    out[CONNECT_VAULT_KID_LEN - 1] = '\0';
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(hex, sizeof hex);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Parses the text form of a key: 64 hex digits, or base64 / base64url of 32 bytes, 43
 * characters or 44 with one '='. what names the source for the message.
 */
static enum md_err key_parse(const char *s, size_t n, unsigned char key[CONNECT_VAULT_KEY_LEN],
                             const char *what, struct md_error *e)
{
    size_t got = 0;

    while (n && is_space(s[0])) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    if (n == 2 * CONNECT_VAULT_KEY_LEN) {
        for (size_t i = 0; i < CONNECT_VAULT_KEY_LEN; i++) {
            int hi = str_hex_digit((unsigned char)s[2 * i]),
                lo = str_hex_digit((unsigned char)s[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return md_error_set(e, MD_ERR_VALUE, "%s: 64 characters but not hex digits", what);
            key[i] = (unsigned char)(hi << 4 | lo);
        }
        return MD_OK;
    }
    if (n == 44 && s[43] == '=')
        n = 43;
    if (n == 43) {
        if (!b64_decode(s, n, false, key, CONNECT_VAULT_KEY_LEN, &got) ||
            got != CONNECT_VAULT_KEY_LEN) {
            OPENSSL_cleanse(key, CONNECT_VAULT_KEY_LEN);
            return md_error_set(e, MD_ERR_VALUE,
                                "%s: 43 or 44 characters but not base64 or base64url of 32 "
                                "bytes",
                                what);
        }
        return MD_OK;
    }
    return md_error_set(e, MD_ERR_VALUE,
                        "%s must be 32 bytes as 64 hex digits or 43/44 characters of base64 or "
                        "base64url (e.g. from openssl rand -hex 32); it has %zu characters",
                        what, n);
}

/*
 * Reads the key file. *missing says that it does not exist (then MD_OK and key untouched).
 * Exactly 32 bytes are a raw key; anything else is text.
 */
static enum md_err key_file_read(const char *path, unsigned char key[CONNECT_VAULT_KEY_LEN],
                                 bool *missing, struct md_error *e)
{
    unsigned char buf[KEY_FILE_MAX + 1];
    char what[200];
    size_t len = 0;
    struct stat st;
    enum md_err err = MD_OK;
    int fd;

    *missing = false;
    /* O_NONBLOCK: a FIFO in the key's place must be refused below, not wait for a writer. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) {
            *missing = true;
            return MD_OK;
        }
        return md_error_set(e, MD_ERR_IO, "cannot open the vault key file %.120s: %s", path,
                            strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        err = md_error_set(e, MD_ERR_IO, "cannot stat the vault key file %.120s: %s", path,
                           strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err =
            md_error_set(e, MD_ERR_VALUE, "the vault key file %.120s is not a regular file", path);
        goto out;
    }
    /* As ssh with a private key: a key that others could read is no longer a secret. */
    if (st.st_mode & 077) {
        err = md_error_set(e, MD_ERR_VALUE,
                           "the vault key file %.100s is accessible by group or others (mode "
                           "%04o): chmod 600 %.100s",
                           path, (unsigned)(st.st_mode & 07777), path);
        goto out;
    }
    while (len < sizeof buf) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = md_error_set(e, MD_ERR_IO, "cannot read the vault key file %.120s: %s", path,
                               strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > KEY_FILE_MAX) {
        err = md_error_set(e, MD_ERR_VALUE, "the vault key file %.120s is too long to be a key",
                           path);
        goto out;
    }
    if (len == CONNECT_VAULT_KEY_LEN) {
        memcpy(key, buf, CONNECT_VAULT_KEY_LEN);
        goto out;
    }
    snprintf(what, sizeof what, "the vault key file %.120s", path);
    err = key_parse((const char *)buf, len, key, what, e);
out:
    OPENSSL_cleanse(buf, sizeof buf);
    close(fd);
    return err;
}

/* fsyncs the directory holding path, so that a new file's name survives a crash. */
static int dir_sync(const char *path)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    int fd, rc;

    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/*
 * Creates the key file with a new random key as 64 hex digits and a newline. *exists says that
 * another process created it first (O_EXCL), which the caller then reads. A key that is lost
 * loses every secret, so the file and its name are synced before this returns.
 */
static enum md_err key_file_create(const char *path, unsigned char key[CONNECT_VAULT_KEY_LEN],
                                   bool *exists, struct md_error *e)
{
    static const char hex[] = "0123456789abcdef";
    char text[2 * CONNECT_VAULT_KEY_LEN + 1];
    size_t off = 0;
    enum md_err err = MD_OK;
    int fd;

    *exists = false;
    if (crypto_random(key, CONNECT_VAULT_KEY_LEN))
        return md_error_set(e, MD_ERR_INTERNAL, "the random generator failed");
    for (size_t i = 0; i < CONNECT_VAULT_KEY_LEN; i++) {
        text[2 * i] = hex[key[i] >> 4];
        text[2 * i + 1] = hex[key[i] & 15];
    }
    text[sizeof text - 1] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            *exists = true;
        else
            err = md_error_set(e, MD_ERR_IO,
                               "cannot create the vault key file %.120s (its directory must "
                               "exist): %s",
                               path, strerror(errno));
        goto out;
    }
    /* The umask may have taken bits away; 0600 exactly lets this process read it back. */
    if (fchmod(fd, 0600) != 0)
        goto fail;
    while (off < sizeof text) {
        ssize_t w = write(fd, text + off, sizeof text - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || dir_sync(path) != 0)
        goto fail;
    close(fd);
    goto out;
fail:
    err = md_error_set(e, MD_ERR_IO, "cannot write the vault key file %.120s: %s", path,
                       strerror(errno));
    close(fd);
    unlink(path);
out:
    OPENSSL_cleanse(text, sizeof text);
    return err;
}

enum md_err connect_vault_key_load(const char *env_value, const char *key_file, bool create,
                                   unsigned char key[CONNECT_VAULT_KEY_LEN],
                                   char key_id_out[CONNECT_VAULT_KID_LEN], bool *created,
                                   struct md_error *e)
{
    bool missing = false, exists = false;
    enum md_err err;

    memset(key, 0, CONNECT_VAULT_KEY_LEN);
    if (created)
        *created = false;
    if (key_id_out)
        key_id_out[0] = '\0';
    if (env_value && env_value[0]) {
        err = key_parse(env_value, strlen(env_value), key, "MANDATE_VAULT_KEY", e);
        goto out;
    }
    if (!key_file || !key_file[0]) {
        err =
            md_error_set(e, MD_ERR_VALUE, "no vault key: set MANDATE_VAULT_KEY or name a key file");
        goto out;
    }
    err = key_file_read(key_file, key, &missing, e);
    if (err || !missing)
        goto out;
    if (!create) {
        err = md_error_set(e, MD_ERR_VALUE,
                           "no vault key: MANDATE_VAULT_KEY is not set and the key file %.120s "
                           "does not exist",
                           key_file);
        goto out;
    }
    err = key_file_create(key_file, key, &exists, e);
    if (!err && exists) {
        /* Another node or process created it between our read and our create: use theirs. */
        err = key_file_read(key_file, key, &missing, e);
        if (!err && missing)
            err = md_error_set(e, MD_ERR_IO, "the vault key file %.120s vanished", key_file);
    } else if (!err && created) {
        *created = true;
    }
out:
    if (err) {
        OPENSSL_cleanse(key, CONNECT_VAULT_KEY_LEN);
        if (created)
            *created = false;
    } else if (key_id_out) {
        connect_vault_key_id(key, key_id_out);
    }
    return err;
}

/* ---- plaintext objects ---- */

/*
 * Overwrites the string values of a secret object that nobody else holds. jansson gives its
 * strings as const, but they are its own heap buffers, and wiping them in place before the
 * object is freed is the only way to keep a dropped secret out of freed memory.
 */
static void secret_wipe(json_t *secret)
{
    const char *k;
    json_t *v;

    if (!json_is_object(secret) || secret->refcount != 1)
        return;
    json_object_foreach(secret, k, v)
    {
        if (json_is_string(v) && v->refcount == 1)
            OPENSSL_cleanse((void *)(uintptr_t)json_string_value(v), json_string_length(v));
    }
}

void connect_vault_secret_free(json_t *secret)
{
    secret_wipe(secret);
    json_decref(secret);
}

/* ---- the vault ---- */

static bool connector_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > CONNECTOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static enum md_err bad_connector(struct md_error *e)
{
    return md_error_set(e, MD_ERR_VALUE, "a connector name is 1 to %d characters of [A-Za-z0-9_.-]",
                        CONNECTOR_MAX);
}

static void cache_drop_cb(void *ctx, const char *key, void *value)
{
    (void)ctx;
    (void)key;
    connect_vault_secret_free(value);
}

/* Drops one cached secret, or every one when connector is NULL. Called with v->mu held. */
static void cache_drop(struct connect_vault *v, const char *connector)
{
    if (connector) {
        connect_vault_secret_free(hmap_del(&v->cache, connector));
    } else {
        hmap_each(&v->cache, cache_drop_cb, NULL);
        hmap_free(&v->cache);
        hmap_init(&v->cache);
    }
    v->gen++;
}

/* The change feed: quick, and it never calls the store (store.h). */
static void on_change(void *ctx, const struct store_change *ch)
{
    struct connect_vault **slot = ctx;
    const char *connector = NULL;

    if (ch->kind == STORE_CHANGE_OBJECT &&
        strncmp(ch->id, FEED_PREFIX, sizeof FEED_PREFIX - 1) == 0)
        connector = ch->id + sizeof FEED_PREFIX - 1;
    else if (ch->kind != STORE_CHANGE_ALL)
        return;
    pthread_mutex_lock(&slots_mu);
    if (*slot) {
        pthread_mutex_lock(&(*slot)->mu);
        cache_drop(*slot, connector);
        pthread_mutex_unlock(&(*slot)->mu);
    }
    pthread_mutex_unlock(&slots_mu);
}

/* Puts v into a free slot; false when every slot is taken. */
static bool slot_take(struct connect_vault *v)
{
    pthread_mutex_lock(&slots_mu);
    for (int i = 0; i < VAULT_SLOTS && v->slot < 0; i++) {
        if (!slots[i]) {
            slots[i] = v;
            v->slot = i;
        }
    }
    pthread_mutex_unlock(&slots_mu);
    return v->slot >= 0;
}

enum md_err connect_vault_open(struct store *s, const unsigned char key[CONNECT_VAULT_KEY_LEN],
                               struct connect_vault **out, struct md_error *e)
{
    struct connect_vault *v = calloc(1, sizeof *v);
    enum md_err err;

    *out = NULL;
    if (!v)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    v->store = s;
    memcpy(v->key, key, CONNECT_VAULT_KEY_LEN);
    connect_vault_key_id(v->key, v->kid);
    pthread_mutex_init(&v->mu, NULL);
    hmap_init(&v->cache);
    v->slot = -1;
    if (!slot_take(v))
        err = md_error_set(e, MD_ERR_INTERNAL, "more than %d credential vaults are open",
                           VAULT_SLOTS);
    else
        err = store_watch(s, on_change, &slots[v->slot], e);
    if (err) {
        connect_vault_close(v);
        return err;
    }
    *out = v;
    return MD_OK;
}

void connect_vault_close(struct connect_vault *v)
{
    if (!v)
        return;
    /* After this, the feed no longer reaches v: its notices find an empty slot. */
    if (v->slot >= 0) {
        pthread_mutex_lock(&slots_mu);
        slots[v->slot] = NULL;
        pthread_mutex_unlock(&slots_mu);
    }
    cache_drop(v, NULL);
    hmap_free(&v->cache);
    pthread_mutex_destroy(&v->mu);
    OPENSSL_cleanse(v->key, sizeof v->key);
    free(v);
}

const char *connect_vault_kid(const struct connect_vault *v)
{
    return v->kid;
}

/* The additional authenticated data of connector's box. */
static size_t aad_make(const char *connector, char out[sizeof AAD_PREFIX + CONNECTOR_MAX])
{
    return (size_t)snprintf(out, sizeof AAD_PREFIX + CONNECTOR_MAX, "%s%s", AAD_PREFIX, connector);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The secret's field names, sorted, as a new array. The secret is an object of strings. */
static json_t *fields_sorted(const json_t *secret)
{
    size_t n = json_object_size(secret), i = 0;
    const char **names = calloc(n ? n : 1, sizeof *names);
    json_t *arr = json_array();
    const char *k;
    json_t *val;

    if (!names || !arr)
        goto fail;
    json_object_foreach(json_mut(secret), k, val)
    {
        names[i++] = k;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (i = 0; i < n; i++) {
        if (json_array_append_new(arr, json_string(names[i])))
            goto fail;
    }
    free(names);
    return arr;
fail:
    free(names);
    json_decref(arr);
    return NULL;
}

static enum md_err secret_shape(const json_t *secret, struct md_error *e)
{
    const char *k;
    json_t *val;

    if (!json_is_object(secret) || json_object_size(secret) == 0)
        return md_error_set(e, MD_ERR_VALUE, "a secret is a non-empty JSON object");
    json_object_foreach(json_mut(secret), k, val)
    {
        if (!json_is_string(val))
            return md_error_set(e, MD_ERR_VALUE, "every field of a secret is a string");
    }
    return MD_OK;
}

/*
 * Seals secret for connector into the stored document (a new object in *doc): compact JSON
 * with sorted keys, sealed under the AAD of the row it goes to.
 */
static enum md_err seal_doc(struct connect_vault *v, const char *connector, const json_t *secret,
                            const char *actor, json_t **doc, struct md_error *e)
{
    const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
    char aad[sizeof AAD_PREFIX + CONNECTOR_MAX];
    size_t aad_len = aad_make(connector, aad);
    size_t pt_len, box_len = 0;
    char *pt = NULL, *nonce = NULL, *ct = NULL;
    unsigned char *box = NULL;
    char now[TIME_RFC3339_LEN];
    json_t *fields = NULL;
    enum md_err err = MD_OK;

    *doc = NULL;
    pt_len = json_dumpb(secret, NULL, 0, flags);
    if (pt_len == 0)
        return md_error_set(e, MD_ERR_NOMEM, "cannot serialise the secret");
    if (pt_len > CONNECT_VAULT_SECRET_MAX)
        return md_error_set(e, MD_ERR_TOOLARGE, "a secret is at most %d bytes as JSON",
                            CONNECT_VAULT_SECRET_MAX);
    pt = malloc(pt_len);
    box = malloc(pt_len + CRYPTO_AEAD_OVERHEAD);
    if (!pt || !box || json_dumpb(secret, pt, pt_len, flags) != pt_len) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (crypto_aead_seal(v->key, aad, aad_len, pt, pt_len, box, &box_len)) {
        err = md_error_set(e, MD_ERR_INTERNAL, "sealing the secret failed");
        goto out;
    }
    nonce = b64url_dup(box, CRYPTO_AEAD_NONCE_LEN);
    ct = b64url_dup(box + CRYPTO_AEAD_NONCE_LEN, box_len - CRYPTO_AEAD_NONCE_LEN);
    fields = fields_sorted(secret);
    time_now_rfc3339(now);
    if (nonce && ct && fields)
        *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s?, s:s}", "connector", connector, "alg",
                         ALG, "kid", v->kid, "nonce", nonce, "ciphertext", ct, "fields", fields,
                         "set_by", actor, "set_at", now);
    if (!*doc)
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
out:
    if (pt)
        OPENSSL_cleanse(pt, pt_len);
    free(pt);
    free(box);
    free(nonce);
    free(ct);
    json_decref(fields);
    return err;
}

/* The metadata of a stored document (parsed) at a version, as connect_vault_info gives it. */
static enum md_err info_make(const char *connector, const json_t *doc, int64_t version,
                             json_t **out, struct md_error *e)
{
    const json_t *fields = json_object_get(doc, "fields");
    const json_t *set_by = json_object_get(doc, "set_by");
    const json_t *set_at = json_object_get(doc, "set_at");
    const json_t *kid = json_object_get(doc, "kid");

    const json_t *rotated_at = json_object_get(doc, "rotated_at");

    /* "o" takes the reference that each operand holds: a borrowed field's is taken anew. */
    *out = json_pack("{s:s, s:b, s:o, s:o, s:o, s:o, s:I}", "connector", connector, "configured", 1,
                     "fields", fields ? json_incref(json_mut(fields)) : json_array(), "kid",
                     kid ? json_incref(json_mut(kid)) : json_null(), "set_by",
                     set_by ? json_incref(json_mut(set_by)) : json_null(), "set_at",
                     set_at ? json_incref(json_mut(set_at)) : json_null(), "version",
                     (json_int_t)version);
    if (*out && json_is_string(rotated_at) &&
        json_object_set(*out, "rotated_at", json_mut(rotated_at))) {
        json_decref(*out);
        *out = NULL;
    }
    if (!*out)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    return MD_OK;
}

enum md_err connect_vault_set(struct connect_vault *v, const char *connector, const json_t *secret,
                              const char *actor, json_t **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    json_t *doc = NULL;
    char *text = NULL;
    int64_t version = 0;
    enum md_err err;

    if (out)
        *out = NULL;
    if (!connector_ok(connector))
        return bad_connector(e);
    err = secret_shape(secret, e);
    if (err)
        return err;
    err = seal_doc(v, connector, secret, actor, &doc, e);
    if (err)
        goto out;
    text = json_dump_compact(doc);
    if (!text) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = store_acquire(v->store, &c, e);
    if (err)
        goto out;
    err = store_obj_put(c, STORE_OBJ_CREDENTIAL, connector, text, -1, &version, e);
    store_release(c);
    if (err)
        goto out;
    /* The feed has told this node already; dropping here too costs nothing and needs no feed. */
    pthread_mutex_lock(&v->mu);
    cache_drop(v, connector);
    pthread_mutex_unlock(&v->mu);
    if (out)
        err = info_make(connector, doc, version, out, e);
out:
    free(text);
    json_decref(doc);
    return err;
}

/* Reads and parses connector's stored document; *version its row version. */
static enum md_err doc_load(struct connect_vault *v, const char *connector, json_t **doc,
                            int64_t *version, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct store_obj o = {0};
    struct md_error pe = {0};
    enum md_err err;

    *doc = NULL;
    if (!connector_ok(connector))
        return md_error_set(e, MD_ERR_NOTFOUND, "no credential is set for this connector");
    err = store_acquire(v->store, &c, e);
    if (err)
        return err;
    err = store_obj_get(c, STORE_OBJ_CREDENTIAL, connector, &o, e);
    store_release(c);
    if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "no credential is set for connector %s", connector);
    if (err)
        goto out;
    if (json_parse_limited(o.doc, strlen(o.doc), DOC_MAX, DOC_DEPTH, doc, &pe) ||
        !json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        err = md_error_set(e, MD_ERR_VALUE, "the stored credential of connector %s is malformed",
                           connector);
        goto out;
    }
    if (version)
        *version = o.version;
out:
    store_obj_free(&o);
    return err;
}

/* Compares two secret values in time that depends on their lengths only. */
static bool value_eq(const char *a, const char *b)
{
    return a && b && crypto_ct_equal(a, strlen(a), b, strlen(b));
}

static enum md_err open_doc(struct connect_vault *v, const char *connector, const json_t *doc,
                            json_t **out, struct md_error *e);

/*
 * One attempt of connect_vault_rotate: read, compare, seal, write at the version read.
 * *differs is set when the stored value is neither expect nor value (final); otherwise
 * MD_ERR_PRECONDITION comes from the store: the row changed after it was read.
 */
static enum md_err rotate_once(struct connect_vault *v, const char *connector, const char *field,
                               const char *expect, const char *value, bool *differs,
                               struct md_error *e)
{
    json_t *doc = NULL, *secret = NULL, *sealed = NULL, *nv = NULL;
    struct store_conn *c = NULL;
    int64_t version = 0;
    char *text = NULL, now[TIME_RFC3339_LEN];
    const char *cur;
    enum md_err err = doc_load(v, connector, &doc, &version, e);

    if (!err)
        err = open_doc(v, connector, doc, &secret, e);
    if (err)
        goto out;
    cur = json_string_value(json_object_get(secret, field));
    if (!cur) {
        err = md_error_set(e, MD_ERR_NOTFOUND, "the credential of connector %s has no field %s",
                           connector, field);
        goto out;
    }
    if (value_eq(cur, value))
        goto out; /* already there: another caller of this node, or of another, wrote it */
    if (!value_eq(cur, expect)) {
        *differs = true;
        err = md_error_set(e, MD_ERR_PRECONDITION,
                           "the credential of connector %s changed since the field %s was read",
                           connector, field);
        goto out;
    }
    /* The old value is overwritten in place before jansson lets it go. */
    OPENSSL_cleanse((void *)(uintptr_t)cur, strlen(cur));
    nv = json_string(value);
    if (!nv || json_object_set_new(secret, field, nv)) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = seal_doc(v, connector, secret, json_string_value(json_object_get(doc, "set_by")), &sealed,
                   e);
    if (err)
        goto out;
    time_now_rfc3339(now);
    if ((json_object_get(doc, "set_at") &&
         json_object_set(sealed, "set_at", json_object_get(doc, "set_at"))) ||
        json_object_set_new(sealed, "rotated_at", json_string(now)) ||
        !(text = json_dump_compact(sealed))) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = store_acquire(v->store, &c, e);
    if (err)
        goto out;
    err = store_obj_put(c, STORE_OBJ_CREDENTIAL, connector, text, version, NULL, e);
    store_release(c);
    if (err == MD_ERR_NOTFOUND)
        err = md_error_set(e, MD_ERR_NOTFOUND, "the credential of connector %s was deleted",
                           connector);
    if (!err) {
        pthread_mutex_lock(&v->mu);
        cache_drop(v, connector);
        pthread_mutex_unlock(&v->mu);
    }
out:
    free(text);
    json_decref(sealed);
    json_decref(doc);
    connect_vault_secret_free(secret);
    return err;
}

enum md_err connect_vault_rotate(struct connect_vault *v, const char *connector, const char *field,
                                 const char *expect, const char *value, struct md_error *e)
{
    enum md_err err = MD_ERR_PRECONDITION;

    if (!connector_ok(connector))
        return bad_connector(e);
    if (!field || !expect || !value || !value[0])
        return md_error_set(e, MD_ERR_VALUE, "a rotation needs a field, the old and the new value");
    /*
     * A precondition failure from the store is a write in between (another node): read again
     * and compare again. One that rotate_once found itself is final.
     */
    for (int i = 0; i < 3 && err == MD_ERR_PRECONDITION; i++) {
        bool differs = false;
        err = rotate_once(v, connector, field, expect, value, &differs, e);
        if (differs)
            break;
    }
    return err;
}

enum md_err connect_vault_info(struct connect_vault *v, const char *connector, json_t **out,
                               struct md_error *e)
{
    json_t *doc = NULL;
    int64_t version = 0;
    enum md_err err;

    *out = NULL;
    err = doc_load(v, connector, &doc, &version, e);
    if (!err)
        err = info_make(connector, doc, version, out, e);
    json_decref(doc);
    return err;
}

enum md_err connect_vault_delete(struct connect_vault *v, const char *connector, struct md_error *e)
{
    struct store_conn *c = NULL;
    enum md_err err;

    if (!connector_ok(connector))
        return md_error_set(e, MD_ERR_NOTFOUND, "no credential is set for this connector");
    err = store_acquire(v->store, &c, e);
    if (err)
        return err;
    err = store_obj_delete(c, STORE_OBJ_CREDENTIAL, connector, e);
    store_release(c);
    if (err == MD_ERR_NOTFOUND)
        return md_error_set(e, MD_ERR_NOTFOUND, "no credential is set for connector %s", connector);
    if (err)
        return err;
    pthread_mutex_lock(&v->mu);
    cache_drop(v, connector);
    pthread_mutex_unlock(&v->mu);
    return MD_OK;
}

static bool is_kid(const char *s)
{
    if (!s || strlen(s) != CONNECT_VAULT_KID_LEN - 1)
        return false;
    for (const char *p = s; *p; p++) {
        if (str_hex_digit((unsigned char)*p) < 0)
            return false;
    }
    return true;
}

/* Opens a stored document (parsed) of connector into a new secret object in *out. */
static enum md_err open_doc(struct connect_vault *v, const char *connector, const json_t *doc,
                            json_t **out, struct md_error *e)
{
    const char *alg = json_string_value(json_object_get(doc, "alg"));
    const char *kid = json_string_value(json_object_get(doc, "kid"));
    const json_t *jn = json_object_get(doc, "nonce"), *jc = json_object_get(doc, "ciphertext");
    char aad[sizeof AAD_PREFIX + CONNECTOR_MAX];
    size_t aad_len = aad_make(connector, aad);
    size_t ct_cap, n = 0, pt_len = 0;
    unsigned char *box = NULL, *pt = NULL;
    enum md_err err = MD_OK;

    *out = NULL;
    if (!alg || strcmp(alg, ALG) != 0 || !is_kid(kid) || !json_is_string(jn) ||
        !json_is_string(jc) || json_string_length(jc) > 2 * CONNECT_VAULT_SECRET_MAX)
        return md_error_set(e, MD_ERR_VALUE, "the stored credential of connector %s is malformed",
                            connector);
    if (strcmp(kid, v->kid) != 0)
        return md_error_set(e, MD_ERR_VALUE,
                            "the credential of connector %s was sealed with another key (kid "
                            "%s, this node has %s)",
                            connector, kid, v->kid);
    ct_cap = json_string_length(jc) * 3 / 4 + 3;
    box = malloc(CRYPTO_AEAD_NONCE_LEN + ct_cap);
    pt = malloc(ct_cap);
    if (!box || !pt) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!b64_decode(json_string_value(jn), json_string_length(jn), true, box, CRYPTO_AEAD_NONCE_LEN,
                    &n) ||
        n != CRYPTO_AEAD_NONCE_LEN ||
        !b64_decode(json_string_value(jc), json_string_length(jc), true,
                    box + CRYPTO_AEAD_NONCE_LEN, ct_cap, &n) ||
        n < CRYPTO_AEAD_TAG_LEN) {
        err = md_error_set(e, MD_ERR_VALUE, "the stored credential of connector %s is malformed",
                           connector);
        goto out;
    }
    if (crypto_aead_open(v->key, aad, aad_len, box, CRYPTO_AEAD_NONCE_LEN + n, pt, &pt_len)) {
        err = md_error_set(e, MD_ERR_VALUE,
                           "the credential of connector %s does not open: it was altered or "
                           "belongs to another connector",
                           connector);
        goto out;
    }
    /* jansson's error text would quote the plaintext: it is never used. */
    *out = json_loadb((const char *)pt, pt_len, JSON_REJECT_DUPLICATES, NULL);
    if (!*out || secret_shape(*out, NULL)) {
        json_decref(*out);
        *out = NULL;
        err = md_error_set(e, MD_ERR_VALUE,
                           "the credential of connector %s is not an object of strings", connector);
    }
out:
    if (pt)
        OPENSSL_cleanse(pt, ct_cap);
    free(pt);
    free(box);
    return err;
}

enum md_err connect_vault_get(struct connect_vault *v, const char *connector, json_t **secret,
                              struct md_error *e)
{
    json_t *doc = NULL, *opened = NULL;
    void *old = NULL;
    uint64_t gen;
    enum md_err err;

    *secret = NULL;
    if (!connector_ok(connector))
        return md_error_set(e, MD_ERR_NOTFOUND, "no credential is set for this connector");
    /*
     * Callers get a deep copy made under the lock: the cached object is never shared, so no
     * reference count or iteration of it is ever touched by two threads at once, and a caller
     * that changes its copy changes nothing here.
     */
    pthread_mutex_lock(&v->mu);
    opened = hmap_get(&v->cache, connector);
    if (opened)
        *secret = json_deep_copy(opened);
    gen = v->gen;
    pthread_mutex_unlock(&v->mu);
    if (opened)
        return *secret ? MD_OK : md_error_set(e, MD_ERR_NOMEM, "out of memory");

    err = doc_load(v, connector, &doc, NULL, e);
    if (!err)
        err = open_doc(v, connector, doc, &opened, e);
    json_decref(doc);
    if (err)
        return err;

    pthread_mutex_lock(&v->mu);
    if (v->gen == gen && hmap_put(&v->cache, connector, opened, &old) == MD_OK) {
        connect_vault_secret_free(old);
        *secret = json_deep_copy(opened);
        opened = NULL;
    }
    pthread_mutex_unlock(&v->mu);
    if (opened) {
        /* Not cached (it changed while we read, or no memory): the caller takes this one. */
        *secret = opened;
    } else if (!*secret) {
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    return MD_OK;
}
