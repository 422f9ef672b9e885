/*
 * `mandate check`: whether a user may call a tool with these arguments, and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/access.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/json.h"
#include "store/store.h"

const char cli_usage_check[] =
    "usage: mandate check --user USERNAME --tool TOOL [--args JSON] [--pack PACK] [--json]\n"
    "                     [--db PATH]\n"
    "\n"
    "Decides whether the user (a userName or SCIM id) may call the tool with these arguments\n"
    "(a JSON object), as an agent acting for them would be answered, and prints why: the grant\n"
    "that allows it, or why each candidate grant failed. --pack decides as an agent limited to\n"
    "that pack would be answered: only grants of the pack count. --json prints the decision as\n"
    "the admin API returns it. Exit status: 0 allowed, 1 denied, 2 error.\n";

static void print_decision(const struct access_decision *d, json_t *j)
{
    printf("%s\n", json_string_value(json_object_get(j, "message")));
    for (size_t i = 0; !d->allowed && i < d->ncands; i++) {
        const struct access_candidate *c = &d->cands[i];
        printf("  grant %s (%s%s%s%s%s): %s: %s\n", c->grant_id,
               c->subject_type == ACCESS_SUBJECT_EVERYONE ? "everyone"
               : c->subject_type == ACCESS_SUBJECT_USER   ? "user "
                                                          : "group ",
               c->subject_name[0] ? c->subject_name : c->subject_id, c->pack[0] ? ", pack " : "",
               c->pack, c->nested ? ", nested group" : "", access_outcome_name(c->outcome),
               c->detail);
    }
}

int cli_check(const struct cli_opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct access_decision *d = NULL;
    struct md_error e;
    json_t *args = NULL, *j = NULL;
    char user_id[64];
    int rc = 2;

    if (!o->user || !o->tool) {
        fputs(cli_usage_check, stderr);
        return 2;
    }
    md_error_clear(&e);
    if (o->args && (json_parse_limited(o->args, strlen(o->args), 1 << 20, 32, &args, &e) ||
                    !json_is_object(args))) {
        fprintf(stderr, "mandate: --args must be a JSON object%s%s\n", e.msg[0] ? ": " : "", e.msg);
        json_decref(args);
        return 2;
    }
    s = cli_open_store(o, 2);
    if (!s) {
        json_decref(args);
        return 2;
    }
    d = malloc(sizeof *d);
    if (!d || access_open(s, &a, &e))
        goto out;
    /* A userName that matches no one is decided as such: a denial, not an error. */
    if (access_user_resolve(a, o->user, user_id, &e) == MD_ERR_NOTFOUND)
        snprintf(user_id, sizeof user_id, "%.63s", o->user);
    else if (e.code)
        goto out;
    md_error_clear(&e);
    if (access_decide(a, user_id, o->tool, o->pack, args, d, &e))
        goto out;
    j = access_decision_json(d);
    if (!j)
        goto out;
    if (o->json) {
        char *text = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        print_decision(d, j);
    }
    rc = d->allowed ? 0 : 1;
out:
    if (rc == 2)
        fprintf(stderr, "mandate: check: %s\n", e.msg[0] ? e.msg : "out of memory");
    json_decref(j);
    json_decref(args);
    free(d);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}
