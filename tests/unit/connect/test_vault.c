/*
 * The credential vault (connect/vault.c) on a real SQLite store in a fresh temporary
 * directory: key loading (hex, base64, base64url, raw and text files, a created file's mode,
 * loose modes and wrong lengths refused, the environment before the file, key ids), sealing
 * and opening, rotation, a key mismatch, tampering, a document moved to another connector,
 * metadata that never holds a secret, the change feed dropping cached secrets (two vaults on
 * one store, and two stores on one database file), and concurrent readers during rotation.
 *
 * Expected values are computed here independently of the code under test (OpenSSL's digest
 * and base64 directly), so that a wrong key id or encoding fails.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "connect/vault.h"
#include "core/time.h"
#include "store/store.h"

TestSuite(test_vault);

static char dir[64];
static char db_path[128];
static struct store *S, *S2;
static struct connect_vault *V;
static struct connect_vault *EXTRA[2]; /* more vaults of a test, closed by teardown */

/* The fixture's key: bytes chosen so that base64 and base64url differ ('+', '/', '-', '_'). */
static const unsigned char KEY[CONNECT_VAULT_KEY_LEN] = {
    0xfb, 0xff, 0xbf, 0xfe, 0xef, 0xfa, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0xfb, 0xf0};

static void setup(void)
{
    struct md_error e = {0};

    snprintf(dir, sizeof dir, "/tmp/mandate-vault-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(db_path, sizeof db_path, "%s/vault.db", dir);
    cr_assert_eq(store_open(db_path, 4, &S, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(connect_vault_open(S, KEY, &V, &e), MD_OK, "%s", e.msg);
}

/* The vaults go first, as a server closes them; the store keeps its (dead) subscriptions. */
static void teardown(void)
{
    DIR *d;
    struct dirent *de;
    char f[512];

    connect_vault_close(V);
    V = NULL;
    for (size_t i = 0; i < sizeof EXTRA / sizeof EXTRA[0]; i++) {
        connect_vault_close(EXTRA[i]);
        EXTRA[i] = NULL;
    }
    store_close(S2);
    store_close(S);
    S = S2 = NULL;
    d = opendir(dir);
    while (d && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
            unlink(f);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* ---- helpers ---- */

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

static void hex_of(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* The key id as vault.h defines it, computed with OpenSSL directly. */
static void expected_kid(const unsigned char key[32], char out[17])
{
    unsigned char buf[20 + 32], md[32];
    unsigned int mdlen = 0;

    memcpy(buf, "mandate-vault-key-id", 20);
    memcpy(buf + 20, key, 32);
    cr_assert_eq(EVP_Digest(buf, sizeof buf, md, &mdlen, EVP_sha256(), NULL), 1);
    hex_of(md, 8, out);
}

/* Standard padded base64 of the key (44 characters). */
static void b64_of(const unsigned char key[32], char out[45])
{
    cr_assert_eq(EVP_EncodeBlock((unsigned char *)out, key, 32), 44);
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
}

static void key_ok(const char *env, const char *file, bool create, const unsigned char *want)
{
    unsigned char key[CONNECT_VAULT_KEY_LEN];
    char kid[CONNECT_VAULT_KID_LEN], want_kid[17];
    bool created = true;
    struct md_error e = {0};

    cr_assert_eq(connect_vault_key_load(env, file, create, key, kid, &created, &e), MD_OK, "%s",
                 e.msg);
    cr_assert_eq(memcmp(key, want, sizeof key), 0);
    expected_kid(want, want_kid);
    cr_assert_str_eq(kid, want_kid);
    cr_assert_not(created);
}

/* Refused with code, a message holding want, and a zeroed key. */
static void key_bad(const char *env, const char *file, bool create, enum md_err code,
                    const char *want)
{
    static const unsigned char zero[CONNECT_VAULT_KEY_LEN];
    unsigned char key[CONNECT_VAULT_KEY_LEN];
    char kid[CONNECT_VAULT_KID_LEN];
    struct md_error e = {0};

    memset(key, 0x55, sizeof key);
    cr_assert_eq(connect_vault_key_load(env, file, create, key, kid, NULL, &e), code, "got %s: %s",
                 md_err_name(e.code), e.msg);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
    cr_assert_eq(memcmp(key, zero, sizeof key), 0);
    if (env && strlen(env) > 8)
        cr_assert_null(strstr(e.msg, env), "the message quotes the key: %s", e.msg);
}

static void set_ok(struct connect_vault *v, const char *connector, const char *secret_text,
                   const char *actor)
{
    struct md_error e = {0};
    json_t *secret = js(secret_text);

    cr_assert_eq(connect_vault_set(v, connector, secret, actor, NULL, &e), MD_OK, "%s", e.msg);
    json_decref(secret);
}

/* The secret's "token" field, as v gives it now (heap), or NULL with *err set. */
static char *get_token(struct connect_vault *v, const char *connector, enum md_err *err,
                       struct md_error *e)
{
    json_t *secret = NULL;
    char *tok = NULL;

    *err = connect_vault_get(v, connector, &secret, e);
    if (*err == MD_OK) {
        tok = strdup(json_string_value(json_object_get(secret, "token")));
        connect_vault_secret_free(secret);
    } else {
        cr_assert_null(secret);
    }
    return tok;
}

static void token_eq(struct connect_vault *v, const char *connector, const char *want)
{
    struct md_error e = {0};
    enum md_err err;
    char *tok = get_token(v, connector, &err, &e);

    cr_assert_eq(err, MD_OK, "%s", e.msg);
    cr_assert_str_eq(tok, want);
    free(tok);
}

static void get_fails(struct connect_vault *v, const char *connector, enum md_err code,
                      const char *want)
{
    struct md_error e = {0};
    enum md_err err;
    char *tok = get_token(v, connector, &err, &e);

    free(tok);
    cr_assert_eq(err, code, "got %s: %s", md_err_name(err), e.msg);
    cr_assert_not_null(strstr(e.msg, want), "message \"%s\" lacks \"%s\"", e.msg, want);
}

static struct store_obj raw_get(const char *connector)
{
    struct store_conn *c;
    struct store_obj o;
    struct md_error e = {0};

    cr_assert_eq(store_acquire(S, &c, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_obj_get(c, STORE_OBJ_CREDENTIAL, connector, &o, &e), MD_OK, "%s", e.msg);
    store_release(c);
    return o;
}

static void raw_put(const char *connector, const char *doc)
{
    struct store_conn *c;
    struct md_error e = {0};

    cr_assert_eq(store_acquire(S, &c, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(store_obj_put(c, STORE_OBJ_CREDENTIAL, connector, doc, -1, NULL, &e), MD_OK, "%s",
                 e.msg);
    store_release(c);
}

/* Runs SQL on the database file behind the store's back (no change feed hears of it). */
static void raw_sql(const char *sql)
{
    sqlite3 *db = NULL;

    cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* ---- key loading ---- */

Test(test_vault, key_from_hex_base64_and_base64url, .init = setup, .fini = teardown)
{
    char hex[65], upper[65], std[45], url[45], padded_env[80];

    hex_of(KEY, 32, hex);
    key_ok(hex, NULL, false, KEY);
    for (size_t i = 0; i < 64; i++)
        upper[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
    upper[64] = '\0';
    key_ok(upper, NULL, false, KEY);

    b64_of(KEY, std);
    cr_assert(strchr(std, '+') || strchr(std, '/'), "the fixture key should exercise '+' or '/'");
    key_ok(std, NULL, false, KEY); /* 44 characters, padded */
    std[43] = '\0';
    key_ok(std, NULL, false, KEY); /* 43, unpadded */
    snprintf(url, sizeof url, "%s", std);
    for (char *p = url; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    key_ok(url, NULL, false, KEY);
    snprintf(padded_env, sizeof padded_env, "  %s=\n", url);
    key_ok(padded_env, NULL, false, KEY); /* surrounding whitespace of an env value */
}

Test(test_vault, key_wrong_forms_refused, .init = setup, .fini = teardown)
{
    char hex[65], std[45], mixed[45], bad[80];
    unsigned char k31[31];

    hex_of(KEY, 32, hex);
    hex[62] = '\0';
    key_bad(hex, NULL, false, MD_ERR_VALUE, "it has 62 characters");
    hex_of(KEY, 32, hex);
    hex[10] = 'g';
    key_bad(hex, NULL, false, MD_ERR_VALUE, "not hex digits");
    memset(k31, 7, sizeof k31);
    cr_assert_eq(EVP_EncodeBlock((unsigned char *)std, k31, 31), 44);
    std[42] = '\0'; /* base64 of 31 bytes: 42 characters */
    key_bad(std, NULL, false, MD_ERR_VALUE, "it has 42 characters");

    b64_of(KEY, std);
    std[43] = '\0';
    snprintf(mixed, sizeof mixed, "%s", std);
    /* Both alphabets in one text: neither base64 nor base64url. */
    cr_assert_not_null(strpbrk(mixed, "+/"));
    mixed[0] = '-';
    key_bad(mixed, NULL, false, MD_ERR_VALUE, "not base64");
    /* The last character's unused bits must be zero: one text per key. */
    snprintf(bad, sizeof bad, "%s", std);
    bad[42] = bad[42] == 'A' ? 'B' : (char)(bad[42] + 1);
    key_bad(bad, NULL, false, MD_ERR_VALUE, "not base64");
    snprintf(bad, sizeof bad, "%.42s*", std);
    key_bad(bad, NULL, false, MD_ERR_VALUE, "not base64");

    key_bad(NULL, NULL, false, MD_ERR_VALUE, "no vault key");
    key_bad("", "", false, MD_ERR_VALUE, "no vault key");
}

Test(test_vault, key_files, .init = setup, .fini = teardown)
{
    char path[128], text[80];
    unsigned char other[32], k33[33];

    /* Exactly 32 raw bytes. */
    snprintf(path, sizeof path, "%s/raw.key", dir);
    write_file(path, KEY, 32, 0600);
    key_ok(NULL, path, false, KEY);
    key_ok("", path, true, KEY); /* an empty MANDATE_VAULT_KEY counts as unset */

    /* Text with a trailing newline, hex and base64url. */
    snprintf(path, sizeof path, "%s/hex.key", dir);
    hex_of(KEY, 32, text);
    text[64] = '\n';
    text[65] = '\0';
    write_file(path, text, strlen(text), 0400);
    key_ok(NULL, path, false, KEY);

    /* 33 bytes are neither raw nor text. */
    snprintf(path, sizeof path, "%s/k33.key", dir);
    memset(k33, 1, sizeof k33);
    write_file(path, k33, sizeof k33, 0600);
    key_bad(NULL, path, false, MD_ERR_VALUE, "it has 33 characters");

    /* The environment wins over a good file, and a bad environment value is not saved by it. */
    snprintf(path, sizeof path, "%s/raw.key", dir);
    memset(other, 0x42, sizeof other);
    hex_of(other, 32, text);
    key_ok(text, path, false, other);
    key_bad("nonsense", path, false, MD_ERR_VALUE, "MANDATE_VAULT_KEY");

    /* Missing, not to be created. */
    snprintf(path, sizeof path, "%s/none.key", dir);
    key_bad(NULL, path, false, MD_ERR_VALUE, "does not exist");
    cr_assert_neq(access(path, F_OK), 0);
}

Test(test_vault, key_file_modes, .init = setup, .fini = teardown)
{
    static const mode_t loose[] = {0640, 0604, 0644, 0660, 0602, 0610};
    char path[128];

    snprintf(path, sizeof path, "%s/loose.key", dir);
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        write_file(path, KEY, 32, loose[i]);
        key_bad(NULL, path, false, MD_ERR_VALUE, "chmod 600");
    }
    write_file(path, KEY, 32, 0600);
    key_ok(NULL, path, false, KEY);

    /* A directory or a FIFO is not a key file (and reading the FIFO must not block). */
    key_bad(NULL, dir, false, MD_ERR_VALUE, "not a regular file");
    snprintf(path, sizeof path, "%s/fifo.key", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    key_bad(NULL, path, false, MD_ERR_VALUE, "not a regular file");
}

Test(test_vault, key_file_created, .init = setup, .fini = teardown)
{
    unsigned char key[32], again[32];
    char kid[CONNECT_VAULT_KID_LEN], kid2[CONNECT_VAULT_KID_LEN], want_kid[17], path[128];
    char text[100], hex[65];
    bool created = false;
    struct md_error e = {0};
    struct stat st;
    int fd;
    ssize_t n;

    snprintf(path, sizeof path, "%s/new.key", dir);
    cr_assert_eq(connect_vault_key_load(NULL, path, true, key, kid, &created, &e), MD_OK, "%s",
                 e.msg);
    cr_assert(created);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0600, "mode %04o", (unsigned)(st.st_mode & 07777));
    expected_kid(key, want_kid);
    cr_assert_str_eq(kid, want_kid);

    /* The file holds the key as hex and a newline. */
    fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    n = read(fd, text, sizeof text - 1);
    close(fd);
    cr_assert_eq(n, 65);
    text[n] = '\0';
    hex_of(key, 32, hex);
    cr_assert_eq(strncmp(text, hex, 64), 0);
    cr_assert_eq(text[64], '\n');

    /* Loading again reads the same key and creates nothing. */
    created = true;
    cr_assert_eq(connect_vault_key_load(NULL, path, true, again, kid2, &created, &e), MD_OK, "%s",
                 e.msg);
    cr_assert_not(created);
    cr_assert_eq(memcmp(key, again, 32), 0);
    cr_assert_str_eq(kid, kid2);

    /* Two fresh keys differ. */
    snprintf(path, sizeof path, "%s/new2.key", dir);
    cr_assert_eq(connect_vault_key_load(NULL, path, true, again, kid2, &created, &e), MD_OK, "%s",
                 e.msg);
    cr_assert(created);
    cr_assert_neq(memcmp(key, again, 32), 0);
    cr_assert_str_neq(kid, kid2);

    /* The directory must exist. */
    snprintf(path, sizeof path, "%s/missing/new.key", dir);
    key_bad(NULL, path, true, MD_ERR_IO, "directory must exist");
}

Test(test_vault, key_id, .init = setup, .fini = teardown)
{
    char want[17], got[CONNECT_VAULT_KID_LEN];

    expected_kid(KEY, want);
    connect_vault_key_id(KEY, got);
    cr_assert_str_eq(got, want);
    cr_assert_str_eq(connect_vault_kid(V), want);
}

/* ---- sealing and opening ---- */

Test(test_vault, round_trip_and_stored_document, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *secret = js("{\"username\": \"jane@example.com\", \"password\": \"pw-TOPSECRET-1\"}");
    json_t *got = NULL, *doc, *meta = NULL, *want_fields = js("[\"password\", \"username\"]");
    const char *plain = "{\"password\":\"pw-TOPSECRET-1\",\"username\":\"jane@example.com\"}";
    struct store_obj o;
    int64_t at = 0;

    cr_assert_eq(connect_vault_set(V, "jira", secret, "admin:alice", &meta, &e), MD_OK, "%s",
                 e.msg);
    cr_assert_eq(connect_vault_get(V, "jira", &got, &e), MD_OK, "%s", e.msg);
    cr_assert(json_equal(got, secret));
    /* The copy is the caller's own: changing it changes nothing in the vault. */
    json_object_set_new(got, "password", json_string("changed"));
    json_decref(got);
    cr_assert_eq(connect_vault_get(V, "jira", &got, &e), MD_OK, "%s", e.msg);
    cr_assert(json_equal(got, secret));
    connect_vault_secret_free(got);

    o = raw_get("jira");
    cr_assert_null(strstr(o.doc, "TOPSECRET"), "the stored document holds the secret: %s", o.doc);
    cr_assert_null(strstr(o.doc, "jane@example.com"), "%s", o.doc);
    doc = js(o.doc);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "connector")), "jira");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "alg")), "A256GCM");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "kid")), connect_vault_kid(V));
    cr_assert_str_eq(json_string_value(json_object_get(doc, "set_by")), "admin:alice");
    cr_assert(time_parse_rfc3339(json_string_value(json_object_get(doc, "set_at")), &at));
    cr_assert_lt(llabs(at - time_now_ms()), 60000);
    /* 12 bytes of nonce are 16 base64url characters; the ciphertext carries a 16-byte tag. */
    cr_assert_eq(strlen(json_string_value(json_object_get(doc, "nonce"))), 16);
    /* The plaintext is the compact JSON with sorted keys; the ciphertext is as long, plus a tag. */
    cr_assert_eq(strlen(json_string_value(json_object_get(doc, "ciphertext"))),
                 ((strlen(plain) + 16) * 4 + 2) / 3);
    cr_assert(json_equal(json_object_get(doc, "fields"), want_fields));
    cr_assert_eq(json_object_size(doc), 8);

    /* set's metadata is info's. */
    cr_assert_not_null(meta);
    cr_assert_eq(json_integer_value(json_object_get(meta, "version")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(meta, "set_at")),
                     json_string_value(json_object_get(doc, "set_at")));
    json_decref(meta);
    json_decref(doc);
    json_decref(secret);
    json_decref(want_fields);
    store_obj_free(&o);
}

Test(test_vault, info_never_holds_the_secret, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *info = NULL, *want_fields = js("[\"DD-API-KEY\", \"DD-APPLICATION-KEY\"]");
    char *dump;
    const char *key;
    json_t *val;
    static const char *const keys[] = {"connector", "configured", "fields", "kid",
                                       "set_by",    "set_at",     "version"};

    set_ok(V, "datadog",
           "{\"DD-API-KEY\": \"api-TOPSECRET\", \"DD-APPLICATION-KEY\": \"app-TOPSECRET\"}", NULL);
    cr_assert_eq(connect_vault_info(V, "datadog", &info, &e), MD_OK, "%s", e.msg);
    dump = json_dumps(info, JSON_COMPACT);
    cr_assert_null(strstr(dump, "TOPSECRET"), "%s", dump);
    cr_assert_null(strstr(dump, "ciphertext"), "%s", dump);
    cr_assert_null(strstr(dump, "nonce"), "%s", dump);
    cr_assert_eq(json_object_size(info), 7, "%s", dump);
    json_object_foreach(info, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            known = known || strcmp(keys[i], key) == 0;
        cr_assert(known, "unexpected key %s", key);
    }
    cr_assert_str_eq(json_string_value(json_object_get(info, "connector")), "datadog");
    cr_assert(json_is_true(json_object_get(info, "configured")));
    cr_assert(json_equal(json_object_get(info, "fields"), want_fields));
    cr_assert_str_eq(json_string_value(json_object_get(info, "kid")), connect_vault_kid(V));
    cr_assert(json_is_null(json_object_get(info, "set_by")));
    cr_assert_eq(json_integer_value(json_object_get(info, "version")), 1);
    free(dump);
    json_decref(info);
    json_decref(want_fields);

    cr_assert_eq(connect_vault_info(V, "github", &info, &e), MD_ERR_NOTFOUND);
    cr_assert_null(info);
}

Test(test_vault, rotation_replaces, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *info = NULL;
    struct store_obj a, b;
    json_t *da, *db;

    set_ok(V, "github", "{\"token\": \"ghp_one\"}", "alice");
    token_eq(V, "github", "ghp_one");
    a = raw_get("github");
    set_ok(V, "github", "{\"token\": \"ghp_two\"}", "bob");
    token_eq(V, "github", "ghp_two");
    b = raw_get("github");
    cr_assert_eq(b.version, 2);
    cr_assert_eq(connect_vault_info(V, "github", &info, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(json_integer_value(json_object_get(info, "version")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(info, "set_by")), "bob");
    json_decref(info);

    /* The same secret sealed again gets a fresh nonce, hence another ciphertext. */
    set_ok(V, "github", "{\"token\": \"ghp_one\"}", "alice");
    store_obj_free(&b);
    b = raw_get("github");
    da = js(a.doc);
    db = js(b.doc);
    cr_assert_str_neq(json_string_value(json_object_get(da, "nonce")),
                      json_string_value(json_object_get(db, "nonce")));
    cr_assert_str_neq(json_string_value(json_object_get(da, "ciphertext")),
                      json_string_value(json_object_get(db, "ciphertext")));
    token_eq(V, "github", "ghp_one");
    json_decref(da);
    json_decref(db);
    store_obj_free(&a);
    store_obj_free(&b);
}

Test(test_vault, delete_and_not_found, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *info = NULL;

    get_fails(V, "github", MD_ERR_NOTFOUND, "no credential");
    cr_assert_eq(connect_vault_delete(V, "github", &e), MD_ERR_NOTFOUND);
    set_ok(V, "github", "{\"token\": \"ghp_x\"}", "alice");
    token_eq(V, "github", "ghp_x"); /* now cached */
    cr_assert_eq(connect_vault_delete(V, "github", &e), MD_OK, "%s", e.msg);
    get_fails(V, "github", MD_ERR_NOTFOUND, "no credential");
    cr_assert_eq(connect_vault_info(V, "github", &info, &e), MD_ERR_NOTFOUND);
    get_fails(V, "../etc", MD_ERR_NOTFOUND, "no credential");
}

Test(test_vault, set_refusals, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *arr = js("[\"TOPSECRET\"]"), *num = js("{\"token\": 12345}"), *empty = js("{}");
    json_t *ok = js("{\"token\": \"TOPSECRET\"}");
    char long_name[80];

    cr_assert_eq(connect_vault_set(V, "github", arr, "a", NULL, &e), MD_ERR_VALUE);
    cr_assert_eq(connect_vault_set(V, "github", num, "a", NULL, &e), MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "12345"), "%s", e.msg);
    cr_assert_eq(connect_vault_set(V, "github", empty, "a", NULL, &e), MD_ERR_VALUE);
    cr_assert_eq(connect_vault_set(V, "", ok, "a", NULL, &e), MD_ERR_VALUE);
    cr_assert_eq(connect_vault_set(V, "a/b", ok, "a", NULL, &e), MD_ERR_VALUE);
    cr_assert_null(strstr(e.msg, "TOPSECRET"), "%s", e.msg);
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    cr_assert_eq(connect_vault_set(V, long_name, ok, "a", NULL, &e), MD_ERR_VALUE);
    long_name[63] = '\0';
    cr_assert_eq(connect_vault_set(V, long_name, ok, "a", NULL, &e), MD_OK, "%s", e.msg);
    token_eq(V, long_name, "TOPSECRET");
    json_decref(arr);
    json_decref(num);
    json_decref(empty);
    json_decref(ok);
}

Test(test_vault, another_key_is_named, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    unsigned char key2[32];
    struct store_obj o;
    json_t *doc;
    char msg[200], *forged;

    memcpy(key2, KEY, 32);
    key2[31] ^= 1;
    set_ok(V, "stripe", "{\"token\": \"sk_live_x\"}", "alice");
    cr_assert_eq(connect_vault_open(S, key2, &EXTRA[0], &e), MD_OK, "%s", e.msg);
    cr_assert_str_neq(connect_vault_kid(V), connect_vault_kid(EXTRA[0]));
    snprintf(msg, sizeof msg, "sealed with another key (kid %s, this node has %s)",
             connect_vault_kid(V), connect_vault_kid(EXTRA[0]));
    get_fails(EXTRA[0], "stripe", MD_ERR_VALUE, msg);
    token_eq(V, "stripe", "sk_live_x");

    /* A document whose kid was rewritten to the other key's still does not open under it. */
    o = raw_get("stripe");
    doc = js(o.doc);
    json_object_set_new(doc, "kid", json_string(connect_vault_kid(EXTRA[0])));
    forged = json_dumps(doc, JSON_COMPACT);
    raw_put("stripe", forged);
    get_fails(EXTRA[0], "stripe", MD_ERR_VALUE, "does not open");
    get_fails(V, "stripe", MD_ERR_VALUE, "sealed with another key");
    free(forged);
    json_decref(doc);
    store_obj_free(&o);
}

/*
 * doc with one character of field (a base64url string) replaced by another letter: the one at
 * index at, counted from the end when negative.
 */
static char *doc_with_changed(const char *doc_text, const char *field, long at)
{
    json_t *doc = js(doc_text);
    char *s = strdup(json_string_value(json_object_get(doc, field))), *out;

    if (at < 0)
        at += (long)strlen(s);
    cr_assert(at >= 0 && (size_t)at < strlen(s));
    s[at] = s[at] == 'A' ? 'B' : 'A';
    json_object_set_new(doc, field, json_string(s));
    out = json_dumps(doc, JSON_COMPACT);
    free(s);
    json_decref(doc);
    return out;
}

Test(test_vault, tampering_is_refused, .init = setup, .fini = teardown)
{
    struct store_obj o;
    char *bad;

    set_ok(V, "slack", "{\"token\": \"xoxb-1\"}", "alice");
    token_eq(V, "slack", "xoxb-1"); /* cached; the writes below reach it through the feed */
    o = raw_get("slack");

    bad = doc_with_changed(o.doc, "ciphertext", 5);
    raw_put("slack", bad);
    get_fails(V, "slack", MD_ERR_VALUE, "does not open");
    free(bad);

    bad = doc_with_changed(o.doc, "nonce", 3);
    raw_put("slack", bad);
    get_fails(V, "slack", MD_ERR_VALUE, "does not open");
    free(bad);

    /* The tag is the ciphertext's last 16 bytes (its last 22 characters). */
    bad = doc_with_changed(o.doc, "ciphertext", -2);
    raw_put("slack", bad);
    get_fails(V, "slack", MD_ERR_VALUE, "does not open");
    free(bad);

    raw_put("slack", "{\"alg\": \"A256GCM\", \"kid\": \"0123\", \"nonce\": \"x\"}");
    get_fails(V, "slack", MD_ERR_VALUE, "malformed");
    raw_put("slack", "[1]");
    get_fails(V, "slack", MD_ERR_VALUE, "malformed");

    /* The original opens again. */
    raw_put("slack", o.doc);
    token_eq(V, "slack", "xoxb-1");
    store_obj_free(&o);
}

Test(test_vault, moved_to_another_connector_fails, .init = setup, .fini = teardown)
{
    struct store_obj o;

    set_ok(V, "github", "{\"token\": \"ghp_moved\"}", "alice");
    o = raw_get("github");
    raw_put("gitlab", o.doc);
    get_fails(V, "gitlab", MD_ERR_VALUE, "does not open");
    token_eq(V, "github", "ghp_moved");
    store_obj_free(&o);
}

/* ---- the cache and the change feed ---- */

Test(test_vault, feed_drops_the_cache_on_one_store, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    struct connect_vault *b;

    cr_assert_eq(connect_vault_open(S, KEY, &EXTRA[0], &e), MD_OK, "%s", e.msg);
    b = EXTRA[0];
    set_ok(V, "github", "{\"token\": \"ghp_old\"}", "alice");
    token_eq(b, "github", "ghp_old");

    /* Behind the store's back, so that no feed tells: b answers from its cache. */
    raw_sql("DELETE FROM credentials");
    token_eq(b, "github", "ghp_old");

    /* A set through vault V reaches vault b's cache at once, through the store's feed. */
    set_ok(V, "github", "{\"token\": \"ghp_new\"}", "alice");
    token_eq(b, "github", "ghp_new");
    cr_assert_eq(connect_vault_delete(V, "github", &e), MD_OK, "%s", e.msg);
    get_fails(b, "github", MD_ERR_NOTFOUND, "no credential");
}

Test(test_vault, feed_drops_the_cache_across_stores, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    struct connect_vault *b;
    char *tok = NULL;
    enum md_err err;
    int64_t start;

    /*
     * A second store on the same file: another node, heard through the polled counter. It
     * opens after the first set, so that its poller has nothing to tell until the second.
     */
    set_ok(V, "github", "{\"token\": \"ghp_old\"}", "alice");
    cr_assert_eq(store_open(db_path, 2, &S2, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(connect_vault_open(S2, KEY, &EXTRA[0], &e), MD_OK, "%s", e.msg);
    b = EXTRA[0];
    token_eq(b, "github", "ghp_old");
    /* b answers from its cache (a write behind the stores' backs bumps no feed counter)... */
    raw_sql("DELETE FROM credentials");
    usleep(600 * 1000);
    token_eq(b, "github", "ghp_old");
    /* ...until the other store's set reaches it through the polled feed. */
    set_ok(V, "github", "{\"token\": \"ghp_new\"}", "alice");
    start = time_mono_ms();
    for (;;) {
        tok = get_token(b, "github", &err, &e);
        cr_assert_eq(err, MD_OK, "%s", e.msg);
        if (strcmp(tok, "ghp_new") == 0 || time_mono_ms() - start > 5000)
            break;
        cr_assert_str_eq(tok, "ghp_old");
        free(tok);
        usleep(20 * 1000);
    }
    cr_assert_str_eq(tok, "ghp_new", "the other store's vault kept its cache for 5 s");
    free(tok);
}

struct reader {
    struct connect_vault *v;
    int rounds;
    int bad;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;

    for (int i = 0; i < r->rounds; i++) {
        json_t *secret = NULL;
        struct md_error e = {0};
        const char *tok;

        if (connect_vault_get(r->v, "github", &secret, &e) != MD_OK) {
            r->bad++;
            continue;
        }
        tok = json_string_value(json_object_get(secret, "token"));
        if (!tok || (strcmp(tok, "ghp_a") && strcmp(tok, "ghp_b")))
            r->bad++;
        connect_vault_secret_free(secret);
    }
    return NULL;
}

Test(test_vault, concurrent_readers_during_rotation, .init = setup, .fini = teardown)
{
    pthread_t th[4];
    struct reader rd[4];

    set_ok(V, "github", "{\"token\": \"ghp_a\"}", "alice");
    for (int i = 0; i < 4; i++) {
        rd[i] = (struct reader){V, 300, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, read_loop, &rd[i]), 0);
    }
    for (int i = 0; i < 20; i++)
        set_ok(V, "github", i % 2 ? "{\"token\": \"ghp_b\"}" : "{\"token\": \"ghp_a\"}", "alice");
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(rd[i].bad, 0);
    }
    /* After the last rotation every reader sees it. */
    token_eq(V, "github", "ghp_b");
}

Test(test_vault, closed_before_its_store, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    struct connect_vault *b = NULL;

    /* b subscribes, caches and goes; the store's notices must then not reach freed memory. */
    cr_assert_eq(connect_vault_open(S, KEY, &b, &e), MD_OK, "%s", e.msg);
    set_ok(V, "github", "{\"token\": \"ghp_1\"}", "alice");
    token_eq(b, "github", "ghp_1");
    connect_vault_close(b);
    set_ok(V, "github", "{\"token\": \"ghp_2\"}", "alice");
    cr_assert_eq(connect_vault_delete(V, "github", &e), MD_OK, "%s", e.msg);

    /* A vault opened later (perhaps in b's slot) hears only what concerns it, correctly. */
    cr_assert_eq(connect_vault_open(S, KEY, &EXTRA[0], &e), MD_OK, "%s", e.msg);
    set_ok(V, "github", "{\"token\": \"ghp_3\"}", "alice");
    token_eq(EXTRA[0], "github", "ghp_3");
    set_ok(V, "github", "{\"token\": \"ghp_4\"}", "alice");
    token_eq(EXTRA[0], "github", "ghp_4");
}

/* ---- a rotated field, compare-and-set ---- */

static char *field_of(struct connect_vault *v, const char *connector, const char *field)
{
    struct md_error e = {0};
    json_t *secret = NULL;
    char *out;

    cr_assert_eq(connect_vault_get(v, connector, &secret, &e), MD_OK, "%s", e.msg);
    out = strdup(json_string_value(json_object_get(secret, field)));
    connect_vault_secret_free(secret);
    return out;
}

Test(test_vault, rotate_is_compare_and_set, .init = setup, .fini = teardown)
{
    struct md_error e = {0};
    json_t *info = NULL;
    struct store_obj raw;
    char *v;

    set_ok(V, "quickbooks",
           "{\"client_id\": \"c\", \"client_secret\": \"s\", \"refresh_token\": \"rt-0\"}",
           "alice");
    v = field_of(V, "quickbooks", "refresh_token"); /* cached now */
    free(v);

    /* The one that was used is stored: replaced, sealed anew, the cache dropped. */
    cr_assert_eq(connect_vault_rotate(V, "quickbooks", "refresh_token", "rt-0", "rt-1", &e), MD_OK,
                 "%s", e.msg);
    v = field_of(V, "quickbooks", "refresh_token");
    cr_assert_str_eq(v, "rt-1");
    free(v);
    v = field_of(V, "quickbooks", "client_secret");
    cr_assert_str_eq(v, "s");
    free(v);
    raw = raw_get("quickbooks");
    cr_assert_null(strstr(raw.doc, "rt-1"), "the stored document holds the token in the clear");
    store_obj_free(&raw);
    /* Who set it and when stay; when it rotated is recorded. */
    cr_assert_eq(connect_vault_info(V, "quickbooks", &info, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(json_string_value(json_object_get(info, "set_by")), "alice");
    cr_assert(json_is_string(json_object_get(info, "rotated_at")));
    cr_assert_eq(json_integer_value(json_object_get(info, "version")), 2);
    json_decref(info);

    /* The same rotation again (another caller, another node): nothing to do, no error. */
    cr_assert_eq(connect_vault_rotate(V, "quickbooks", "refresh_token", "rt-0", "rt-1", &e), MD_OK,
                 "%s", e.msg);
    /* A stale rotation never overwrites a newer one. */
    cr_assert_eq(connect_vault_rotate(V, "quickbooks", "refresh_token", "rt-0", "rt-old", &e),
                 MD_ERR_PRECONDITION);
    v = field_of(V, "quickbooks", "refresh_token");
    cr_assert_str_eq(v, "rt-1");
    free(v);
    /* Nor one that an administrator's new secret replaced. */
    set_ok(V, "quickbooks",
           "{\"client_id\": \"c\", \"client_secret\": \"s\", \"refresh_token\": \"admin\"}", "bob");
    cr_assert_eq(connect_vault_rotate(V, "quickbooks", "refresh_token", "rt-1", "rt-2", &e),
                 MD_ERR_PRECONDITION);
    v = field_of(V, "quickbooks", "refresh_token");
    cr_assert_str_eq(v, "admin");
    free(v);
    cr_assert_null(strstr(e.msg, "admin"), "%s", e.msg);
    cr_assert_null(strstr(e.msg, "rt-"), "%s", e.msg);

    cr_assert_eq(connect_vault_rotate(V, "quickbooks", "nope", "a", "b", &e), MD_ERR_NOTFOUND);
    cr_assert_eq(connect_vault_rotate(V, "other", "refresh_token", "a", "b", &e), MD_ERR_NOTFOUND);
}
