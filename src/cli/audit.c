/*
 * `mandate audit verify|export|prune` and `mandate access-at`: the audit log from the
 * command line.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "admin/admin.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/json.h"
#include "core/str.h"
#include "store/store.h"

const char cli_usage_audit[] =
    "usage: mandate audit verify [--db PATH] [--vault-key-file F] [--audit-anchor F]\n"
    "                            [--expect SEQ:HASH]\n"
    "       mandate audit export [--db PATH] [--since T] [--until T] [--filter F]\n"
    "       mandate audit prune --before T [--db PATH] [--vault-key-file F]\n"
    "\n"
    "verify walks the whole hash chain and names the first event that was altered, removed or\n"
    "inserted; checkpoints are checked with the key derived from the vault key, and the anchor\n"
    "file (default: audit.anchor beside the SQLite database, or in MANDATE_STATE_DIR) catches a\n"
    "tail cut off. --expect checks a checkpoint kept elsewhere (e.g. by the SIEM). Exit 0 when\n"
    "intact, 1 when not, 2 on a usage error. Progress goes to stderr.\n"
    "export prints matching events, oldest first, one JSON object a line. T is RFC 3339\n"
    "(2026-01-31T00:00:00Z); F is a SCIM filter over event fields, e.g.\n"
    "  'user.userName eq \"ann@example.com\" and tool sw \"stripe__\"'.\n"
    "prune deletes events older than T, after recording an audit.pruned event that vouches for\n"
    "what was removed, so that the rest still verifies.\n";

const char cli_usage_access_at[] =
    "usage: mandate access-at --time T --tool TOOL [--db PATH]\n"
    "\n"
    "Prints, as JSON, which users were entitled to the tool at T (RFC 3339, e.g.\n"
    "2026-01-31T09:00:00Z), through which grants and groups and under which conditions,\n"
    "reconstructed from the SCIM and admin changes in the audit log: the answer of GET\n"
    "/api/v1/access-at (docs/audit-history.md). \"history_starts\" is the first event of the log;\n"
    "nothing before it is known, and \"complete\" is false when the log cannot tell everything\n"
    "(pruned, or users and groups older than the log). Exit status: 0 answered, 2 error.\n";

int cli_access_at(const struct cli_opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct md_error e;
    json_t *out = NULL;
    char *text = NULL;
    int rc = 2;

    if (!o->time || !o->tool) {
        fputs(cli_usage_access_at, stderr);
        return 2;
    }
    md_error_clear(&e);
    s = cli_open_store(o, 2);
    if (!s)
        return 2;
    if (access_open(s, &a, &e) || admin_access_at(s, a, o->time, o->tool, &out, &e))
        goto out;
    text = json_dumps(out, JSON_INDENT(2));
    if (!text) {
        md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    printf("%s\n", text);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "mandate: access-at: %s\n", e.msg[0] ? e.msg : "out of memory");
    free(text);
    json_decref(out);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}

static void verify_progress(void *ctx, int64_t checked, int64_t last_seq)
{
    (void)ctx;
    fprintf(stderr, "mandate: audit verify: %lld events checked (at event %lld)\n",
            (long long)checked, (long long)last_seq);
}

static int print_event(void *ctx, json_t *ev)
{
    (void)ctx;
    if (json_dumpf(ev, stdout, JSON_COMPACT | JSON_SORT_KEYS) != 0 || fputc('\n', stdout) == EOF)
        return 1;
    return 0;
}

static int cmd_audit_verify(const struct cli_opts *o, struct store *s)
{
    struct audit_verify_opts vo = {0};
    struct audit_verify_report r;
    unsigned char vkey[32], akey[AUDIT_KEY_LEN];
    char anchor[4096], expect_hash[72] = "";
    bool have = false;
    struct md_error e;

    if (cli_load_vault_key(o, false, vkey, &have) < 0)
        return 1;
    if (have) {
        audit_key_derive(vkey, akey);
        vo.key = akey;
    }
    OPENSSL_cleanse(vkey, sizeof vkey);
    cli_state_file(o, o->audit_anchor, "MANDATE_AUDIT_ANCHOR", "audit.anchor", anchor,
                   sizeof anchor);
    vo.anchor_path = anchor;
    if (o->expect) {
        const char *colon = strchr(o->expect, ':');
        long long seq = 0;
        if (!colon || !str_to_ll(o->expect, (size_t)(colon - o->expect), 1, LLONG_MAX, &seq) ||
            strlen(colon + 1) != 64) {
            fprintf(stderr, "mandate: --expect wants SEQ:HASH (a checkpoint's seq and the 64 "
                            "hex digits of its hash)\n");
            return 2;
        }
        vo.expect_seq = seq;
        snprintf(expect_hash, sizeof expect_hash, "%s", colon + 1);
        vo.expect_hash = expect_hash;
    }
    vo.progress = verify_progress;
    vo.progress_every = 100000;
    md_error_clear(&e);
    if (audit_verify(s, &vo, &r, &e)) {
        OPENSSL_cleanse(akey, sizeof akey);
        fprintf(stderr, "mandate: audit verify: %s\n", e.msg);
        return 1;
    }
    OPENSSL_cleanse(akey, sizeof akey);
    if (!r.ok) {
        printf("audit log BROKEN at event %lld: %s\n", (long long)r.bad_seq, r.problem);
        printf("checked %lld events (%lld to %lld) before stopping\n", (long long)r.events,
               (long long)r.first_seq, (long long)r.last_seq);
        return 1;
    }
    printf("audit log intact: %lld events (%lld to %lld), %lld checkpoints verified, last "
           "checkpoint at event %lld%s\n",
           (long long)r.events, (long long)r.first_seq, (long long)r.last_seq,
           (long long)r.checkpoints, (long long)r.last_checkpoint_seq,
           ", anchor files (if any) agree");
    if (r.warning[0])
        printf("warning: %s\n", r.warning);
    return 0;
}

static int cmd_audit_export(const struct cli_opts *o, struct store *s)
{
    struct audit_query q = {.oldest_first = true};
    struct md_error e;

    if (!cli_time_opt("--since", o->since, &q.since_ms) ||
        !cli_time_opt("--until", o->until, &q.until_ms))
        return 2;
    q.filter = o->filter;
    md_error_clear(&e);
    if (audit_query_run(s, &q, print_event, NULL, NULL, &e)) {
        fprintf(stderr, "mandate: audit export: %s\n", e.msg);
        return e.code == MD_ERR_FILTER ? 2 : 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_audit_prune(const struct cli_opts *o, struct store *s)
{
    struct audit_config ac = {.store = s, .no_writer_thread = true};
    struct audit *a = NULL;
    unsigned char vkey[32], akey[AUDIT_KEY_LEN];
    bool have = false;
    int64_t before = 0, removed = 0;
    struct md_error e;
    int rc = 0;

    if (!o->before || !cli_time_opt("--before", o->before, &before)) {
        fputs(cli_usage_audit, stderr);
        return 2;
    }
    if (cli_load_vault_key(o, false, vkey, &have) < 0)
        return 1;
    if (have) {
        audit_key_derive(vkey, akey);
        ac.key = akey;
    }
    OPENSSL_cleanse(vkey, sizeof vkey);
    md_error_clear(&e);
    if (audit_open(&ac, &a, &e) || audit_prune(a, before, &removed, &e)) {
        fprintf(stderr, "mandate: audit prune: %s\n", e.msg);
        rc = 1;
    } else {
        printf("removed %lld audit events older than %s\n", (long long)removed, o->before);
    }
    audit_close(a);
    OPENSSL_cleanse(akey, sizeof akey);
    return rc;
}

int cli_audit(const struct cli_opts *o)
{
    const char *sub = o->positional[0];
    struct store *s;
    int rc;

    if (o->npositional != 1 ||
        (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0 && strcmp(sub, "prune") != 0)) {
        fputs(cli_usage_audit, stderr);
        return 2;
    }
    s = cli_open_store(o, 2);
    if (!s)
        return 1;
    if (strcmp(sub, "verify") == 0)
        rc = cmd_audit_verify(o, s);
    else if (strcmp(sub, "export") == 0)
        rc = cmd_audit_export(o, s);
    else
        rc = cmd_audit_prune(o, s);
    store_close(s);
    return rc;
}
