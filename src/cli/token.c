/*
 * `mandate token create|list|revoke`: tokens for the identity provider, admins and agents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/json.h"
#include "core/time.h"
#include "http/http.h"
#include "store/store.h"

const char cli_usage_token_create[] =
    "usage: mandate token create --kind scim|admin|agent [--name NAME] [--db PATH]\n"
    "                            [--user USERNAME] [--pack PACK]\n"
    "\n"
    "  --kind scim    for the identity provider, on /scim/v2\n"
    "  --kind admin   for the admin API, /api/v1\n"
    "  --kind agent   for an AI agent acting for one user (--user, a userName or SCIM id), on\n"
    "                 /mcp; --pack limits it to the tools of one pack\n"
    "\n"
    "Creates a token and prints only the token on stdout. It is shown this once: mandate keeps\n"
    "only its SHA-256 hash.\n";

const char cli_usage_token_list[] =
    "usage: mandate token list [--db PATH]\n"
    "\n"
    "Lists tokens: id, kind, name, created, last used, status. Token values are never shown.\n";

const char cli_usage_token_revoke[] =
    "usage: mandate token revoke ID [--db PATH]\n"
    "\n"
    "Revokes the token with this id; requests with it fail from then on.\n";

int cli_token_create(const struct cli_opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct md_error e;
    char *plain = NULL;
    char id[64], user_id[64] = "";
    bool agent;
    int rc = 1;

    if (!o->kind) {
        fprintf(stderr, "mandate: --kind is required\n%s", cli_usage_token_create);
        return 2;
    }
    if (strcmp(o->kind, HTTP_TOKEN_KIND_SCIM) != 0 && strcmp(o->kind, HTTP_TOKEN_KIND_ADMIN) != 0 &&
        strcmp(o->kind, HTTP_TOKEN_KIND_AGENT) != 0) {
        fprintf(stderr, "mandate: unknown token kind '%s' (known: scim, admin, agent)\n", o->kind);
        return 2;
    }
    agent = strcmp(o->kind, HTTP_TOKEN_KIND_AGENT) == 0;
    if (agent ? !o->user : (o->user || o->pack)) {
        fprintf(stderr, "mandate: %s\n%s",
                agent ? "an agent token needs --user" : "--user and --pack are for agent tokens",
                cli_usage_token_create);
        return 2;
    }
    s = cli_open_store(o, 2);
    if (!s)
        return 1;
    md_error_clear(&e);
    if (agent) {
        json_t *pk = NULL;
        if (access_open(s, &a, &e) || access_user_resolve(a, o->user, user_id, &e) ||
            (o->pack && access_pack_get(a, o->pack, &pk, &e))) {
            fprintf(stderr, "mandate: %s\n", e.msg);
            goto out;
        }
        json_decref(pk);
    }
    if (http_token_create(s, o->kind, o->name ? o->name : "", user_id, o->pack, &plain, id, &e) ==
        MD_OK) {
        printf("%s\n", plain);
        rc = 0;
    } else {
        fprintf(stderr, "mandate: cannot create the token: %s\n", e.msg);
    }
out:
    free(plain);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}

static int print_token(void *ctx, const struct store_token *t)
{
    char created[TIME_RFC3339_LEN], used[TIME_RFC3339_LEN];
    (void)ctx;
    time_format_ms(t->created_ms, created);
    if (t->last_used_ms)
        time_format_ms(t->last_used_ms, used);
    else
        snprintf(used, sizeof used, "never");
    printf("%-36s  %-6s  %-20s  %-24s  %-24s  %s\n", t->id, t->kind, t->name[0] ? t->name : "-",
           created, used, t->revoked ? "revoked" : "active");
    return 0;
}

int cli_token_list(struct store_conn *c, const struct cli_opts *o)
{
    struct md_error e;
    (void)o;
    md_error_clear(&e);
    printf("%-36s  %-6s  %-20s  %-24s  %-24s  %s\n", "ID", "KIND", "NAME", "CREATED", "LAST USED",
           "STATUS");
    if (store_token_list(c, print_token, NULL, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        return 1;
    }
    return 0;
}

int cli_token_revoke(struct store_conn *c, const struct cli_opts *o)
{
    struct md_error e;
    enum md_err rc;
    md_error_clear(&e);
    rc = store_begin(c, &e);
    if (rc == MD_OK)
        rc = store_token_revoke(c, o->positional[2], &e);
    if (rc == MD_OK)
        rc = store_commit(c, &e);
    if (rc) {
        store_rollback(c);
        fprintf(stderr, "mandate: %s\n", rc == MD_ERR_NOTFOUND ? "no token has this id" : e.msg);
        return 1;
    }
    printf("revoked %s\n", o->positional[2]);
    return 0;
}
