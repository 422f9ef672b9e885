#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/crypto.h"
#include "http/session.h"

static struct http_sessions *ss;

static void setup(void)
{
    struct md_error e;
    cr_assert_eq(http_sessions_new(&ss, &e), MD_OK);
}

static void teardown(void)
{
    http_sessions_free(ss);
    ss = NULL;
}

TestSuite(test_session, .init = setup, .fini = teardown);

/* An admin token as the store would return it; only id, name and hash matter here. */
static struct store_token admin(const char *id)
{
    struct store_token t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "%s", id);
    snprintf(t.kind, sizeof t.kind, "admin");
    snprintf(t.name, sizeof t.name, "name of %s", id);
    crypto_sha256_hex(id, strlen(id), t.hash);
    return t;
}

#define T0 1700000000000LL

Test(test_session, create_then_find_returns_the_token_behind_it)
{
    struct store_token t = admin("tok-1");
    struct http_session_info created, found;
    char secret[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, secret, &created, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(strlen(secret), HTTP_SESSION_SECRET_LEN - 1, "256 bits of base64url");
    cr_assert_eq(http_session_find(ss, secret, T0 + 1000, &found, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(found.token_id, "tok-1");
    cr_assert_str_eq(found.token_name, "name of tok-1");
    cr_assert_str_eq(found.token_hash, t.hash);
    cr_assert_eq(found.created_ms, T0);
    cr_assert_eq(found.last_ms, T0 + 1000);
    cr_assert_eq(found.expires_ms, T0 + 1000 + HTTP_SESSION_IDLE_MS);
    cr_assert_eq(http_session_count(ss), 1);
}

Test(test_session, two_sessions_have_different_secrets)
{
    struct store_token t = admin("tok-1");
    char a[HTTP_SESSION_SECRET_LEN], b[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, a, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t, T0, b, NULL, &e), MD_OK);
    cr_assert_str_neq(a, b);
    cr_assert_eq(http_session_count(ss), 2);
}

Test(test_session, unknown_or_malformed_secrets_are_unauthorized)
{
    struct store_token t = admin("tok-1");
    char secret[HTTP_SESSION_SECRET_LEN], other[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, secret, NULL, &e), MD_OK);
    memcpy(other, secret, sizeof other);
    other[0] = other[0] == 'A' ? 'B' : 'A';
    cr_assert_eq(http_session_find(ss, other, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, "", T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, NULL, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, "a;b=c", T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    /* The table's key is the hash: presenting the hash itself is no way in. */
    {
        char hash[CRYPTO_SHA256_HEX_LEN];
        crypto_sha256_hex(secret, strlen(secret), hash);
        cr_assert_eq(http_session_find(ss, hash, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    }
    cr_assert_eq(http_session_find(ss, secret, T0, NULL, &e), MD_OK);
}

Test(test_session, an_idle_session_expires_and_is_removed)
{
    struct store_token t = admin("tok-1");
    char secret[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, secret, NULL, &e), MD_OK);
    /* A request just before the idle limit keeps it alive for another idle period. */
    cr_assert_eq(http_session_find(ss, secret, T0 + HTTP_SESSION_IDLE_MS - 1, NULL, &e), MD_OK);
    cr_assert_eq(http_session_find(ss, secret, T0 + 2 * HTTP_SESSION_IDLE_MS - 2, NULL, &e), MD_OK);
    cr_assert_eq(http_session_find(ss, secret, T0 + 3 * HTTP_SESSION_IDLE_MS, NULL, &e),
                 MD_ERR_UNAUTHORIZED);
    cr_assert(strstr(e.msg, "expired") != NULL, "%s", e.msg);
    cr_assert_eq(http_session_count(ss), 0, "an expired session is removed when found");
    cr_assert_eq(http_session_find(ss, secret, T0, NULL, &e), MD_ERR_UNAUTHORIZED,
                 "and stays gone, whatever the clock says later");
}

Test(test_session, a_busy_session_still_ends_at_the_absolute_limit)
{
    struct store_token t = admin("tok-1");
    char secret[HTTP_SESSION_SECRET_LEN];
    struct http_session_info si;
    struct md_error e;
    int64_t now = T0;

    cr_assert_eq(http_session_create(ss, &t, T0, secret, NULL, &e), MD_OK);
    while (now + HTTP_SESSION_IDLE_MS / 2 < T0 + HTTP_SESSION_MAX_MS) {
        now += HTTP_SESSION_IDLE_MS / 2;
        cr_assert_eq(http_session_find(ss, secret, now, &si, &e), MD_OK);
        cr_assert_leq(si.expires_ms, T0 + HTTP_SESSION_MAX_MS);
    }
    cr_assert_eq(http_session_find(ss, secret, T0 + HTTP_SESSION_MAX_MS, NULL, &e),
                 MD_ERR_UNAUTHORIZED);
}

Test(test_session, sign_out_ends_one_session_only)
{
    struct store_token t = admin("tok-1");
    char a[HTTP_SESSION_SECRET_LEN], b[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, a, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t, T0, b, NULL, &e), MD_OK);
    cr_assert(http_session_end(ss, a));
    cr_assert_not(http_session_end(ss, a), "ending twice finds nothing the second time");
    cr_assert_eq(http_session_find(ss, a, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, b, T0, NULL, &e), MD_OK);
}

Test(test_session, revoking_a_token_ends_all_its_sessions)
{
    struct store_token t1 = admin("tok-1"), t2 = admin("tok-2");
    char a[HTTP_SESSION_SECRET_LEN], b[HTTP_SESSION_SECRET_LEN], c[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t1, T0, a, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t1, T0, b, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t2, T0, c, NULL, &e), MD_OK);
    cr_assert_eq(http_session_end_token(ss, "tok-1"), 2);
    cr_assert_eq(http_session_find(ss, a, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, b, T0, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, c, T0, NULL, &e), MD_OK);
    cr_assert_eq(http_session_end_token(ss, "tok-1"), 0);
}

Test(test_session, a_full_table_drops_the_least_recently_used)
{
    struct store_token t = admin("tok-1");
    char first[HTTP_SESSION_SECRET_LEN], second[HTTP_SESSION_SECRET_LEN];
    char s[HTTP_SESSION_SECRET_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, first, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t, T0 + 1, second, NULL, &e), MD_OK);
    for (int i = 2; i < HTTP_SESSION_MAX_COUNT; i++)
        cr_assert_eq(http_session_create(ss, &t, T0 + 10 + i, s, NULL, &e), MD_OK);
    /* first is used again, so second is now the one used least recently. */
    cr_assert_eq(http_session_find(ss, first, T0 + 100000, NULL, &e), MD_OK);
    cr_assert_eq(http_session_count(ss), HTTP_SESSION_MAX_COUNT);
    cr_assert_eq(http_session_create(ss, &t, T0 + 100001, s, NULL, &e), MD_OK);
    cr_assert_eq(http_session_count(ss), HTTP_SESSION_MAX_COUNT);
    cr_assert_eq(http_session_find(ss, second, T0 + 100002, NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_session_find(ss, first, T0 + 100002, NULL, &e), MD_OK);
    cr_assert_eq(http_session_find(ss, s, T0 + 100002, NULL, &e), MD_OK);
}

Test(test_session, csrf_token_is_bound_to_its_session)
{
    struct store_token t = admin("tok-1");
    char a[HTTP_SESSION_SECRET_LEN], b[HTTP_SESSION_SECRET_LEN];
    char ca[HTTP_SESSION_SECRET_LEN], ca2[HTTP_SESSION_SECRET_LEN], cb[HTTP_SESSION_SECRET_LEN];
    char hash[CRYPTO_SHA256_HEX_LEN];
    struct md_error e;

    cr_assert_eq(http_session_create(ss, &t, T0, a, NULL, &e), MD_OK);
    cr_assert_eq(http_session_create(ss, &t, T0, b, NULL, &e), MD_OK);
    http_session_csrf(a, ca);
    http_session_csrf(a, ca2);
    http_session_csrf(b, cb);
    cr_assert_str_eq(ca, ca2, "stable for a session");
    cr_assert_str_neq(ca, cb, "different for another session");
    cr_assert_str_neq(ca, a, "not the cookie itself");
    crypto_sha256_hex(a, strlen(a), hash);
    cr_assert(strstr(hash, ca) == NULL);
    cr_assert(http_session_csrf_ok(a, ca));
    cr_assert_not(http_session_csrf_ok(a, cb), "another session's token");
    cr_assert_not(http_session_csrf_ok(a, NULL), "no header");
    cr_assert_not(http_session_csrf_ok(a, ""), "an empty header");
    cr_assert_not(http_session_csrf_ok(a, a), "the cookie's value");
    {
        char shorter[HTTP_SESSION_SECRET_LEN];
        memcpy(shorter, ca, sizeof shorter);
        shorter[strlen(shorter) - 1] = '\0';
        cr_assert_not(http_session_csrf_ok(a, shorter), "a prefix");
    }
    cr_assert_not(http_session_csrf_ok("not a session", ca), "a malformed cookie");
}

Test(test_session, signin_attempts_are_limited_per_client_and_refill)
{
    int64_t retry = 0;

    for (int i = 0; i < HTTP_SIGNIN_BURST; i++)
        cr_assert(http_signin_attempt(ss, "192.0.2.1", T0, &retry), "attempt %d", i + 1);
    cr_assert_not(http_signin_attempt(ss, "192.0.2.1", T0, &retry));
    cr_assert_eq(retry, HTTP_SIGNIN_REFILL_MS);
    cr_assert_not(http_signin_attempt(ss, "192.0.2.1", T0 + HTTP_SIGNIN_REFILL_MS - 1, &retry));
    cr_assert_eq(retry, 1);
    /* Another address has its own bucket. */
    cr_assert(http_signin_attempt(ss, "192.0.2.2", T0, &retry));
    /* One refill period gives exactly one more attempt. */
    cr_assert(http_signin_attempt(ss, "192.0.2.1", T0 + HTTP_SIGNIN_REFILL_MS, &retry));
    cr_assert_not(http_signin_attempt(ss, "192.0.2.1", T0 + HTTP_SIGNIN_REFILL_MS, &retry));
    /* A long pause refills the whole burst, and no more. */
    for (int i = 0; i < HTTP_SIGNIN_BURST; i++)
        cr_assert(http_signin_attempt(ss, "192.0.2.1", T0 + 3600000, &retry));
    cr_assert_not(http_signin_attempt(ss, "192.0.2.1", T0 + 3600000, &retry));
}

Test(test_session, a_full_client_table_forgets_clients_that_have_refilled)
{
    char addr[64];
    int64_t retry;

    for (int i = 0; i < HTTP_SIGNIN_CLIENTS_MAX; i++) {
        snprintf(addr, sizeof addr, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
        cr_assert(http_signin_attempt(ss, addr, T0, &retry));
    }
    /* Nobody has refilled yet: a new client is refused rather than letting the table grow. */
    cr_assert_not(http_signin_attempt(ss, "198.51.100.1", T0, &retry));
    /* Once the others have refilled they are forgotten, and the new client gets a bucket. */
    cr_assert(http_signin_attempt(ss, "198.51.100.1", T0 + HTTP_SIGNIN_REFILL_MS, &retry));
}
