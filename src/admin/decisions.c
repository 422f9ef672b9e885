/*
 * POST /decisions: what the decision engine would answer for a user, a tool and arguments,
 * with its explanation, without calling anything. Allowed and denied are both answers (200);
 * a user that does not exist is a denial (user_not_found), as it is for an agent.
 */
#include <stdio.h>
#include <string.h>

#include "access/access.h"
#include "admin/admin_int.h"

static const char *const decision_members[] = {"user", "tool", "arguments", NULL};

/* A required, non-empty string member; false (400 answered) otherwise. */
static bool required_string(struct admin_ctx *x, json_t *body, const char *name, const char *what,
                            const char **out)
{
    json_t *v = json_object_get(body, name);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        admin_failf(x, MD_ERR_VALUE, "\"%s\" is required: %s", name, what);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

void admin_route_decisions(struct admin_ctx *x)
{
    const char *user = NULL, *tool = NULL;
    json_t *body = NULL, *args, *out;
    struct access_decision d;
    struct md_error e;
    char id[64];
    enum md_err rc;

    md_error_clear(&e);
    if (x->nseg != 1) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!admin_method_ok(x, "POST"))
        return;
    if (admin_body_object(x, false, &body) || admin_only_members(x, body, decision_members) ||
        !required_string(x, body, "user", "a user's SCIM id or userName", &user) ||
        !required_string(x, body, "tool", "a full tool name such as github__get_issue", &tool))
        goto out;
    args = json_object_get(body, "arguments");
    if (args && !json_is_object(args)) {
        admin_failf(x, MD_ERR_VALUE, "\"arguments\" must be an object of the tool's arguments");
        goto out;
    }
    /*
     * An unknown user is decided as such, with the name as given, so that the engine reports
     * user_not_found exactly as it would for an agent acting for a deleted employee.
     */
    rc = access_user_resolve(x->req->access, user, id, &e);
    if (rc == MD_ERR_NOTFOUND) {
        snprintf(id, sizeof id, "%s", user);
        md_error_clear(&e);
    } else if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    memset(&d, 0, sizeof d);
    rc = access_decide(x->req->access, id, tool, NULL, args, &d, &e);
    if (rc) {
        admin_fail(x, rc, &e);
        goto out;
    }
    out = access_decision_json(&d);
    if (!out) {
        admin_failf(x, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    admin_reply(x, 200, out);
out:
    json_decref(body);
}
