#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crypto.h"
#include "http/http.h"
#include "store/store.h"

static char dir[64];
static struct store *st;

static void setup(void)
{
    char path[128];
    struct md_error e;
    snprintf(dir, sizeof dir, "/tmp/mandate-token-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.db", dir);
    cr_assert_eq(store_open(path, 2, &st, &e), MD_OK, "%s", e.msg);
}

static void teardown(void)
{
    char cmd[160];
    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(test_token, .init = setup, .fini = teardown);

static int count_tokens(void *ctx, const struct store_token *t)
{
    (void)t;
    (*(int *)ctx)++;
    return 0;
}

Test(test_token, create_stores_only_the_hash_and_verifies)
{
    struct md_error e;
    struct store_conn *c;
    struct store_token t;
    char *plain = NULL, id[64], hash[CRYPTO_SHA256_HEX_LEN];
    int n = 0;

    cr_assert_eq(http_token_create(st, "scim", "okta", NULL, NULL, &plain, id, &e), MD_OK, "%s",
                 e.msg);
    cr_assert(strncmp(plain, "mdt_scim_", 9) == 0);
    cr_assert_geq(strlen(plain) - 9, 43, "at least 256 bits of base64url");
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, plain, "scim", &t, &e), MD_OK);
    cr_assert_str_eq(t.id, id);
    cr_assert_str_eq(t.name, "okta");
    crypto_sha256_hex(plain, strlen(plain), hash);
    cr_assert_str_eq(t.hash, hash);
    cr_assert(strstr(t.hash, plain + 9) == NULL);
    cr_assert_eq(store_token_list(c, count_tokens, &n, &e), MD_OK);
    cr_assert_eq(n, 1);
    store_release(c);
    free(plain);
}

Test(test_token, refuses_wrong_revoked_and_other_kind)
{
    struct md_error e;
    struct store_conn *c;
    char *plain = NULL, id[64];

    cr_assert_eq(http_token_create(st, "scim", NULL, NULL, NULL, &plain, id, &e), MD_OK);
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, "mdt_scim_nope", "scim", NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_token_verify(c, "", "scim", NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_token_verify(c, plain, "admin", NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(store_begin(c, &e), MD_OK);
    cr_assert_eq(store_token_revoke(c, id, &e), MD_OK);
    cr_assert_eq(store_commit(c, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, plain, "scim", NULL, &e), MD_ERR_UNAUTHORIZED);
    store_release(c);
    free(plain);
}

Test(test_token, tokens_are_distinct)
{
    struct md_error e;
    char *a = NULL, *b = NULL, ida[64], idb[64];
    cr_assert_eq(http_token_create(st, "scim", "a", NULL, NULL, &a, ida, &e), MD_OK);
    cr_assert_eq(http_token_create(st, "scim", "b", NULL, NULL, &b, idb, &e), MD_OK);
    cr_assert_str_neq(a, b);
    cr_assert_str_neq(ida, idb);
    free(a);
    free(b);
}

/* Finds the stored token with this id into *out. */
static int find_id(void *ctx, const struct store_token *t)
{
    struct store_token *out = ctx;
    if (strcmp(t->id, out->id) != 0)
        return 0;
    *out = *t;
    return 1;
}

Test(test_token, agent_tokens_bind_a_user_and_a_pack)
{
    struct md_error e;
    struct store_conn *c;
    struct store_token t;
    char *plain = NULL, id[64];

    cr_assert_eq(
        http_token_create(st, HTTP_TOKEN_KIND_AGENT, "claude", "user-1", "support", &plain, id, &e),
        MD_OK, "%s", e.msg);
    cr_assert(strncmp(plain, "mdt_agent_", 10) == 0);
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    memset(&t, 0, sizeof t);
    memcpy(t.id, id, sizeof t.id);
    cr_assert_eq(store_token_list(c, find_id, &t, &e), MD_OK);
    cr_assert_str_eq(t.kind, "agent");
    cr_assert_str_eq(t.user_id, "user-1");
    cr_assert_str_eq(t.pack, "support");
    cr_assert_eq(http_token_verify(c, plain, HTTP_TOKEN_KIND_AGENT, NULL, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, plain, HTTP_TOKEN_KIND_ADMIN, NULL, &e), MD_ERR_UNAUTHORIZED);
    store_release(c);
    free(plain);
}

Test(test_token, admin_tokens_verify_as_admin_only)
{
    struct md_error e;
    struct store_conn *c;
    char *plain = NULL, id[64];

    cr_assert_eq(http_token_create(st, HTTP_TOKEN_KIND_ADMIN, "ops", "", "", &plain, id, &e), MD_OK,
                 "%s", e.msg);
    cr_assert(strncmp(plain, "mdt_admin_", 10) == 0);
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, plain, HTTP_TOKEN_KIND_ADMIN, NULL, &e), MD_OK);
    cr_assert_eq(http_token_verify(c, plain, HTTP_TOKEN_KIND_SCIM, NULL, &e), MD_ERR_UNAUTHORIZED);
    store_release(c);
    free(plain);
}

Test(test_token, refuses_unknown_kinds_and_misplaced_bindings)
{
    struct md_error e;
    struct store_conn *c;
    static char sentinel[1];
    char *plain = sentinel, id[64], longname[200];
    int n = 0;

    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(http_token_create(st, "root", NULL, NULL, NULL, &plain, id, &e), MD_ERR_VALUE);
    cr_assert_null(plain);
    cr_assert_eq(http_token_create(st, "agent", NULL, NULL, NULL, &plain, id, &e), MD_ERR_VALUE);
    cr_assert_eq(http_token_create(st, "agent", NULL, "", "p", &plain, id, &e), MD_ERR_VALUE);
    cr_assert_eq(http_token_create(st, "scim", NULL, "user-1", NULL, &plain, id, &e), MD_ERR_VALUE);
    cr_assert_eq(http_token_create(st, "admin", NULL, NULL, "support", &plain, id, &e),
                 MD_ERR_VALUE);
    cr_assert_eq(http_token_create(st, "scim", longname, NULL, NULL, &plain, id, &e), MD_ERR_VALUE);
    cr_assert_null(plain);
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    cr_assert_eq(store_token_list(c, count_tokens, &n, &e), MD_OK);
    cr_assert_eq(n, 0, "nothing is stored for a refused token");
    store_release(c);
}

Test(test_token, verify_by_hash_follows_revocation_and_kind)
{
    struct md_error e;
    struct store_conn *c;
    struct store_token t;
    char *plain = NULL, id[64], hash[CRYPTO_SHA256_HEX_LEN];

    cr_assert_eq(http_token_create(st, "admin", "ops", NULL, NULL, &plain, id, &e), MD_OK, "%s",
                 e.msg);
    crypto_sha256_hex(plain, strlen(plain), hash);
    cr_assert_eq(store_acquire(st, &c, &e), MD_OK);
    cr_assert_eq(http_token_verify_hash(c, hash, "admin", &t, &e), MD_OK, "%s", e.msg);
    cr_assert_str_eq(t.id, id);
    cr_assert_eq(http_token_verify_hash(c, hash, "scim", NULL, &e), MD_ERR_UNAUTHORIZED,
                 "an admin token is no SCIM token");
    cr_assert_eq(http_token_verify_hash(c, "abc", "admin", NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(http_token_verify_hash(c, NULL, "admin", NULL, &e), MD_ERR_UNAUTHORIZED);
    cr_assert_eq(store_token_revoke(c, id, &e), MD_OK);
    cr_assert_eq(http_token_verify_hash(c, hash, "admin", NULL, &e), MD_ERR_UNAUTHORIZED,
                 "a revoked token no longer stands");
    store_release(c);
    free(plain);
}
