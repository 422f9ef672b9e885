/*
 * The decision (ARCHITECTURE.md): allow(user, tool, args) holds when the user exists and is
 * active, and some grant that reaches the tool for the user (to the user, to one of its groups,
 * directly or nested, or to everyone) is unexpired, its ceilings admit the tool's level, and
 * its condition on the tool, if any, holds for args. Grants add up: the first one that allows
 * wins, in grant order, so the same call always names the same grant. Anything else is a
 * denial, and every denial says why.
 *
 * Conditions are SCIM filters over the arguments, evaluated strictly (condition.c): names and
 * strings match exactly, an absent argument makes a comparison false, and a condition that
 * cannot be evaluated (arguments that are not an object, an array where a value is compared, a
 * condition that no longer parses) fails closed.
 */
#include "access/access_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/time.h"

static const char *const level_names[] = {"none", "read", "write", "destructive"};

const char *access_level_name(enum access_level l)
{
    return (unsigned)l < 4 ? level_names[l] : "none";
}

bool access_level_parse(const char *s, enum access_level *out)
{
    for (int i = 1; s && i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum access_level)i;
            return true;
        }
    }
    return false;
}

bool access_tool_name_ok(const char *name)
{
    const char *sep;
    size_t n;

    if (!name)
        return false;
    n = strnlen(name, ACCESS_TOOL_NAME_MAX + 1);
    if (n == 0 || n > ACCESS_TOOL_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    sep = strstr(name, "__");
    return sep && sep > name && sep[2] != '\0';
}

const char *access_reason_name(enum access_reason r)
{
    switch (r) {
    case ACCESS_ALLOWED:
        return "allowed";
    case ACCESS_NO_USER:
        return "user_not_found";
    case ACCESS_INACTIVE:
        return "user_inactive";
    case ACCESS_UNKNOWN_TOOL:
        return "unknown_tool";
    case ACCESS_NO_GRANT:
        return "no_grant";
    case ACCESS_GRANTS_FAILED:
        return "grants_failed";
    }
    return "unknown";
}

const char *access_outcome_name(enum access_outcome o)
{
    switch (o) {
    case ACCESS_OUTCOME_ALLOWS:
        return "allows";
    case ACCESS_OUTCOME_EXPIRED:
        return "expired";
    case ACCESS_OUTCOME_ABOVE_CEILING:
        return "level_above_ceiling";
    case ACCESS_OUTCOME_CONDITION_FALSE:
        return "condition_false";
    case ACCESS_OUTCOME_CONDITION_ERROR:
        return "condition_error";
    }
    return "unknown";
}

/* ---- evaluating one candidate ---- */

static enum access_outcome judge(const struct policy *p, const struct ent_cand *c,
                                 const struct ap_tool *t, const json_t *args, int64_t now)
{
    const struct ap_grant *g = cand_grant(p, c);
    const struct ap_cond *cond = cand_cond(p, c);

    if (g->expires_ms && g->expires_ms <= now)
        return ACCESS_OUTCOME_EXPIRED;
    if (t->level > c->ceiling)
        return ACCESS_OUTCOME_ABOVE_CEILING;
    if (!cond)
        return ACCESS_OUTCOME_ALLOWS;
    if (!cond->f || (args && !json_is_object(args)))
        return ACCESS_OUTCOME_CONDITION_ERROR;
    if (!args) {
        /* No arguments: every attribute is absent. */
        json_t *empty = json_object();
        enum access_cond_result r =
            empty ? access_condition_eval(cond->f, empty) : ACCESS_COND_ERROR;
        json_decref(empty);
        return r == ACCESS_COND_TRUE    ? ACCESS_OUTCOME_ALLOWS
               : r == ACCESS_COND_FALSE ? ACCESS_OUTCOME_CONDITION_FALSE
                                        : ACCESS_OUTCOME_CONDITION_ERROR;
    }
    switch (access_condition_eval(cond->f, args)) {
    case ACCESS_COND_TRUE:
        return ACCESS_OUTCOME_ALLOWS;
    case ACCESS_COND_FALSE:
        return ACCESS_OUTCOME_CONDITION_FALSE;
    default:
        return ACCESS_OUTCOME_CONDITION_ERROR;
    }
}

static void describe(struct access *a, const struct policy *p, struct access_candidate *ac,
                     const struct ent_cand *c, const struct ap_tool *t, const struct uentry *u,
                     const json_t *args, enum access_outcome o)
{
    const struct ap_grant *g = cand_grant(p, c);
    const struct ap_cond *cond = cand_cond(p, c);

    snprintf(ac->grant_id, sizeof ac->grant_id, "%s", g->id);
    ac->subject_type = g->subject_type;
    snprintf(ac->subject_id, sizeof ac->subject_id, "%s", g->subject_id);
    ac->subject_name[0] = '\0';
    ac->nested = false;
    if (g->subject_type == ACCESS_SUBJECT_USER) {
        snprintf(ac->subject_name, sizeof ac->subject_name, "%s", u->user_name ? u->user_name : "");
    } else if (g->subject_type == ACCESS_SUBJECT_GROUP) {
        for (size_t i = 0; i < u->ngroups; i++) {
            if (strcmp(u->groups[i].id, g->subject_id) == 0) {
                access__group_name(a, g->subject_id, "", ac->subject_name, sizeof ac->subject_name);
                ac->nested = !u->groups[i].direct;
                break;
            }
        }
    }
    snprintf(ac->pack, sizeof ac->pack, "%s", g->pack ? g->pack_name : "");
    ac->outcome = o;
    ac->ceiling = c->ceiling;
    switch (o) {
    case ACCESS_OUTCOME_ALLOWS:
        if (cond)
            snprintf(ac->detail, sizeof ac->detail, "the condition `%s` holds", cond->text);
        else
            snprintf(ac->detail, sizeof ac->detail, "the grant covers %s at level %s", t->name,
                     access_level_name(c->ceiling));
        break;
    case ACCESS_OUTCOME_EXPIRED: {
        char when[TIME_RFC3339_LEN];
        time_format_ms(g->expires_ms, when);
        snprintf(ac->detail, sizeof ac->detail, "the grant expired at %s", when);
        break;
    }
    case ACCESS_OUTCOME_ABOVE_CEILING: {
        /* Name the ceiling that refused: the pack entry's, or the grant's own level. */
        bool by_pack = g->pack && policy_pack_ceiling(g->pack, t) < g->ceiling;
        snprintf(ac->detail, sizeof ac->detail, "%s is a %s tool, above the ceiling %s%s%s",
                 t->name, access_level_name(t->level), access_level_name(c->ceiling),
                 by_pack ? " of pack " : " of the grant", by_pack ? g->pack_name : "");
        break;
    }
    case ACCESS_OUTCOME_CONDITION_FALSE:
        snprintf(ac->detail, sizeof ac->detail,
                 "the condition `%s` does not hold for the arguments", cond->text);
        break;
    case ACCESS_OUTCOME_CONDITION_ERROR:
        if (!cond->f)
            snprintf(ac->detail, sizeof ac->detail, "%s", cond->error);
        else if (args && !json_is_object(args))
            snprintf(ac->detail, sizeof ac->detail,
                     "the condition `%s` cannot be evaluated: the arguments are not an object",
                     cond->text);
        else
            snprintf(ac->detail, sizeof ac->detail,
                     "the condition `%s` cannot be evaluated: an argument it compares is an "
                     "array or an object, or a path does not lead into an object",
                     cond->text);
        break;
    }
}

static void begin(struct access_decision *d, const char *user_id, const char *tool,
                  const char *pack)
{
    d->allowed = false;
    d->reason = ACCESS_NO_USER;
    snprintf(d->user_id, sizeof d->user_id, "%s", user_id ? user_id : "");
    d->user_name[0] = '\0';
    d->user_email[0] = '\0';
    snprintf(d->tool, sizeof d->tool, "%s", tool ? tool : "");
    snprintf(d->pack, sizeof d->pack, "%s", pack ? pack : "");
    d->level = ACCESS_NONE;
    d->ncands = 0;
    d->ncands_total = 0;
}

/* Whether candidate c counts under the decision's pack scope. */
static bool in_scope(const struct policy *p, const struct ent_cand *c, const char *pack)
{
    const struct ap_grant *g = cand_grant(p, c);
    return !pack[0] || (g->pack && strcmp(g->pack_name, pack) == 0);
}

enum md_err access_decide(struct access *a, const char *user_id, const char *tool, const char *pack,
                          const json_t *args, struct access_decision *out, struct md_error *e)
{
    struct uentry *u = NULL;
    struct policy *p = NULL;
    const struct ap_tool *t;
    const struct ent_tool *et;
    const struct ent_cand *cands;
    enum md_err err;
    int64_t now;

    begin(out, user_id, tool, pack);
    access__count_decision(a);
    if (!user_id || !user_id[0] || strnlen(user_id, 64) >= 64)
        return MD_OK; /* no such user */
    err = access__user(a, user_id, &u, &p, e);
    if (err)
        return err;
    if (!u->exists)
        goto out;
    snprintf(out->user_name, sizeof out->user_name, "%s", u->user_name ? u->user_name : "");
    snprintf(out->user_email, sizeof out->user_email, "%s", u->email ? u->email : out->user_name);
    t = tool ? policy_tool(p, tool) : NULL;
    if (t)
        out->level = t->level;
    if (!u->active) {
        out->reason = ACCESS_INACTIVE;
        goto out;
    }
    if (!t) {
        out->reason = ACCESS_UNKNOWN_TOOL;
        goto out;
    }
    et = u->ent ? entitlement_tool(p, u->ent, t) : NULL;
    cands = et ? u->ent->cands + et->first : NULL;
    for (size_t i = 0; et && i < et->n; i++)
        out->ncands_total += in_scope(p, &cands[i], out->pack);
    if (out->ncands_total == 0) {
        out->reason = ACCESS_NO_GRANT;
        goto out;
    }
    now = time_now_ms();
    /* Pass one, the fast path: the first candidate that allows, described alone. */
    for (size_t i = 0; i < et->n; i++) {
        if (!in_scope(p, &cands[i], out->pack))
            continue;
        if (judge(p, &cands[i], t, args, now) == ACCESS_OUTCOME_ALLOWS) {
            out->allowed = true;
            out->reason = ACCESS_ALLOWED;
            describe(a, p, &out->cands[0], &cands[i], t, u, args, ACCESS_OUTCOME_ALLOWS);
            out->ncands = 1;
            out->ncands_total = 1;
            goto out;
        }
    }
    /* Pass two: every candidate failed; say how each one did. */
    out->reason = ACCESS_GRANTS_FAILED;
    for (size_t i = 0; i < et->n && out->ncands < ACCESS_CANDIDATES_MAX; i++)
        if (in_scope(p, &cands[i], out->pack))
            describe(a, p, &out->cands[out->ncands++], &cands[i], t, u, args,
                     judge(p, &cands[i], t, args, now));
out:
    uentry_unref(u);
    policy_unref(p);
    return MD_OK;
}

/* ---- JSON ---- */

static const char *subject_type_name(enum access_subject s)
{
    return s == ACCESS_SUBJECT_USER ? "user" : s == ACCESS_SUBJECT_GROUP ? "group" : "everyone";
}

static json_t *subject_json(enum access_subject type, const char *id, const char *name, bool nested)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string(subject_type_name(type)));
    if (type != ACCESS_SUBJECT_EVERYONE) {
        json_object_set_new(o, "id", json_string(id));
        if (name && name[0])
            json_object_set_new(o, "display", json_string(name));
    }
    if (type == ACCESS_SUBJECT_GROUP)
        json_object_set_new(o, "nested", json_boolean(nested));
    return o;
}

static json_t *candidate_json(const struct access_candidate *c)
{
    json_t *o = json_object();

    json_object_set_new(o, "grant", json_string(c->grant_id));
    json_object_set_new(o, "subject",
                        subject_json(c->subject_type, c->subject_id, c->subject_name, c->nested));
    if (c->pack[0])
        json_object_set_new(o, "pack", json_string(c->pack));
    json_object_set_new(o, "ceiling", json_string(access_level_name(c->ceiling)));
    json_object_set_new(o, "result", json_string(access_outcome_name(c->outcome)));
    json_object_set_new(o, "detail", json_string(c->detail));
    return o;
}

static void message(const struct access_decision *d, char *buf, size_t n)
{
    const struct access_candidate *c = &d->cands[0];

    switch (d->reason) {
    case ACCESS_ALLOWED:
        if (c->subject_type == ACCESS_SUBJECT_EVERYONE)
            snprintf(buf, n, "allowed by grant %s to everyone%s%s", c->grant_id,
                     c->pack[0] ? " through pack " : "", c->pack);
        else
            snprintf(buf, n, "allowed by grant %s to %s %s%s%s%s", c->grant_id,
                     subject_type_name(c->subject_type),
                     c->subject_name[0] ? c->subject_name : c->subject_id,
                     c->nested ? " (a nested group)" : "", c->pack[0] ? " through pack " : "",
                     c->pack);
        break;
    case ACCESS_NO_USER:
        snprintf(buf, n, "denied: no user %s exists", d->user_id);
        break;
    case ACCESS_INACTIVE:
        snprintf(buf, n, "denied: user %s is inactive", d->user_name);
        break;
    case ACCESS_UNKNOWN_TOOL:
        snprintf(buf, n, "denied: no connector defines the tool %s", d->tool);
        break;
    case ACCESS_NO_GRANT:
        if (d->pack[0])
            snprintf(buf, n, "denied: no grant of pack %s covers %s for %s", d->pack, d->tool,
                     d->user_name);
        else
            snprintf(buf, n, "denied: no grant covers %s for %s", d->tool, d->user_name);
        break;
    case ACCESS_GRANTS_FAILED:
        snprintf(buf, n, "denied: %zu grant%s cover%s %s and none allows this call",
                 d->ncands_total, d->ncands_total == 1 ? "" : "s", d->ncands_total == 1 ? "s" : "",
                 d->tool);
        break;
    }
}

json_t *access_decision_json(const struct access_decision *d)
{
    json_t *o = json_object(), *user = json_object();
    char msg[512];

    if (!o || !user) {
        json_decref(o);
        json_decref(user);
        return NULL;
    }
    json_object_set_new(o, "allowed", json_boolean(d->allowed));
    json_object_set_new(o, "reason", json_string(access_reason_name(d->reason)));
    message(d, msg, sizeof msg);
    json_object_set_new(o, "message", json_string(msg));
    json_object_set_new(user, "id", json_string(d->user_id));
    if (d->user_name[0])
        json_object_set_new(user, "userName", json_string(d->user_name));
    json_object_set_new(o, "user", user);
    json_object_set_new(o, "tool", json_string(d->tool));
    if (d->pack[0])
        json_object_set_new(o, "pack", json_string(d->pack));
    if (d->level != ACCESS_NONE)
        json_object_set_new(o, "level", json_string(access_level_name(d->level)));
    if (d->allowed && d->ncands) {
        json_object_set_new(o, "grant", candidate_json(&d->cands[0]));
    } else if (d->reason == ACCESS_GRANTS_FAILED) {
        json_t *arr = json_array();
        for (size_t i = 0; i < d->ncands; i++)
            json_array_append_new(arr, candidate_json(&d->cands[i]));
        json_object_set_new(o, "candidates", arr);
        if (d->ncands_total > d->ncands)
            json_object_set_new(o, "candidates_omitted",
                                json_integer((json_int_t)(d->ncands_total - d->ncands)));
    }
    return o;
}

/* ---- entitlements ---- */

static json_t *grant_brief(struct access *a, const struct policy *p, const struct ent_cand *c,
                           const struct uentry *u)
{
    const struct ap_grant *g = cand_grant(p, c);
    const struct ap_cond *cond = cand_cond(p, c);
    struct access_candidate ac;
    json_t *o;

    memset(&ac, 0, sizeof ac);
    describe(a, p, &ac, c, NULL, u, NULL, ACCESS_OUTCOME_EXPIRED); /* the subject fields */
    o = json_object();
    json_object_set_new(o, "id", json_string(g->id));
    json_object_set_new(o, "subject",
                        subject_json(ac.subject_type, ac.subject_id, ac.subject_name, ac.nested));
    if (g->pack)
        json_object_set_new(o, "pack", json_string(g->pack_name));
    json_object_set_new(o, "ceiling", json_string(access_level_name(c->ceiling)));
    if (cond)
        json_object_set_new(o, "condition", json_string(cond->text));
    if (g->expires_ms)
        json_object_set_new(o, "expires", access__time_json(g->expires_ms));
    return o;
}

static json_t *user_json(const struct uentry *u)
{
    json_t *user = json_object();
    json_object_set_new(user, "id", json_string(u->id));
    json_object_set_new(user, "userName", json_string(u->user_name ? u->user_name : ""));
    json_object_set_new(user, "active", json_boolean(u->active));
    return user;
}

static json_t *groups_json(struct access *a, const struct uentry *u)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < u->ngroups; i++) {
        json_t *g = json_object();
        char name[256];
        access__group_name(a, u->groups[i].id, "", name, sizeof name);
        json_object_set_new(g, "id", json_string(u->groups[i].id));
        json_object_set_new(g, "displayName", json_string(name));
        json_object_set_new(g, "direct", json_boolean(u->groups[i].direct));
        json_array_append_new(arr, g);
    }
    return arr;
}

/* Whether tool t, reached through pack (NULL: any), may be called under candidate c now. */
static bool usable(const struct policy *p, const struct ent_cand *c, const struct ap_tool *t,
                   const char *pack, int64_t now)
{
    const struct ap_grant *g = cand_grant(p, c);
    const struct ap_cond *cond = cand_cond(p, c);

    if (g->expires_ms && g->expires_ms <= now)
        return false;
    if (t->level > c->ceiling)
        return false;
    if (cond && !cond->f)
        return false;
    return !pack || !pack[0] || (g->pack && strcmp(g->pack_name, pack) == 0);
}

enum md_err access_entitlements(struct access *a, const char *user_id, const char *pack,
                                bool with_definitions, json_t **out, struct md_error *e)
{
    struct uentry *u = NULL;
    struct policy *p = NULL;
    json_t *o = NULL, *tools;
    int64_t now = time_now_ms();
    enum md_err err;

    *out = NULL;
    if (!user_id || !user_id[0] || strnlen(user_id, 64) >= 64)
        return md_error_set(e, MD_ERR_NOTFOUND, "User not found");
    err = access__user(a, user_id, &u, &p, e);
    if (err)
        return err;
    if (!u->exists) {
        policy_unref(p);
        uentry_unref(u);
        return md_error_set(e, MD_ERR_NOTFOUND, "User %s not found", user_id);
    }
    o = json_object();
    tools = json_array();
    json_object_set_new(o, "user", user_json(u));
    json_object_set_new(o, "groups", groups_json(a, u));
    json_object_set_new(o, "tools", tools);
    /* An inactive user may call nothing, so it is entitled to nothing. */
    for (size_t i = 0; u->active && u->ent && i < u->ent->ntools; i++) {
        const struct ent_tool *et = &u->ent->tools[i];
        const struct ent_cand *cands = u->ent->cands + et->first;
        const struct ap_tool *t = &p->tools[et->tool];
        json_t *grants = json_array(), *item;

        for (size_t k = 0; k < et->n; k++)
            if (usable(p, &cands[k], t, pack, now))
                json_array_append_new(grants, grant_brief(a, p, &cands[k], u));
        if (json_array_size(grants) == 0) {
            json_decref(grants);
            continue;
        }
        item = json_object();
        json_object_set_new(item, "name", json_string(t->name));
        json_object_set(item, "title", json_object_get(t->def, "title"));
        json_object_set_new(item, "level", json_string(access_level_name(t->level)));
        if (with_definitions) {
            json_object_set(item, "description", json_object_get(t->def, "description"));
            json_object_set(item, "input_schema", json_object_get(t->def, "input_schema"));
        }
        json_object_set_new(item, "grants", grants);
        json_array_append_new(tools, item);
    }
    uentry_unref(u);
    policy_unref(p);
    *out = o;
    return MD_OK;
}

/* ---- what the MCP endpoint and the connector runtime ask ---- */

enum md_err access_user_status(struct access *a, const char *user_id, bool *exists, bool *active,
                               struct md_error *e)
{
    struct uentry *u = NULL;
    enum md_err err;

    *exists = *active = false;
    if (!user_id || !user_id[0] || strnlen(user_id, 64) >= 64)
        return MD_OK;
    err = access__user(a, user_id, &u, NULL, e);
    if (err)
        return err;
    *exists = u->exists;
    *active = u->exists && u->active;
    uentry_unref(u);
    return MD_OK;
}

enum md_err access_user_snapshot(struct access *a, const char *user_id, json_t **out,
                                 struct md_error *e)
{
    struct uentry *u = NULL;
    json_t *groups, *o;
    enum md_err err;

    *out = NULL;
    if (!user_id || !user_id[0] || strnlen(user_id, 64) >= 64)
        return md_error_set(e, MD_ERR_NOTFOUND, "no such user");
    err = access__user(a, user_id, &u, NULL, e);
    if (err)
        return err;
    groups = json_array();
    o = groups ? json_pack("{s:s, s:s?, s:b, s:b, s:o}", "id", u->id, "userName", u->user_name,
                           "active", u->exists && u->active, "exists", u->exists, "groups",
                           groups)
               : NULL;
    for (size_t i = 0; o && i < u->ngroups; i++) {
        char name[256];
        access__group_name(a, u->groups[i].id, "", name, sizeof name);
        json_array_append_new(groups, json_pack("{s:s, s:s, s:b}", "id", u->groups[i].id,
                                                "display", name, "direct", u->groups[i].direct));
    }
    uentry_unref(u);
    if (!o)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    *out = o;
    return MD_OK;
}

enum md_err access_pack_exists(struct access *a, const char *name, bool *exists,
                               struct md_error *e)
{
    struct policy *p = NULL;
    enum md_err err = access__policy(a, &p, e);

    *exists = false;
    if (err)
        return err;
    *exists = policy_pack(p, name) != NULL;
    policy_unref(p);
    return MD_OK;
}

enum md_err access_tool_get(struct access *a, const char *tool, struct access_tool *out,
                            struct md_error *e)
{
    struct policy *p = NULL;
    const struct ap_tool *t;
    const json_t *ov;
    const char *base;
    enum md_err err;

    memset(out, 0, sizeof *out);
    err = access__policy(a, &p, e);
    if (err)
        return err;
    t = policy_tool(p, tool);
    if (!t) {
        err = md_error_set(e, MD_ERR_NOTFOUND, "Unknown tool: %.64s", tool);
        goto out;
    }
    out->connector = json_incref(json_object_get(p->connectors, t->connector));
    out->tool = json_incref(json_mut(t->def));
    ov = json_object_get(p->overrides, t->connector);
    base = json_string_value(json_object_get(ov, "base_url"));
    if (!base)
        base = json_string_value(json_object_get(out->connector, "base_url"));
    out->base_url = strdup(base ? base : "");
    if (json_is_string(json_object_get(ov, "token_url")))
        out->token_url = strdup(json_string_value(json_object_get(ov, "token_url")));
    out->level = t->level;
    if (!out->connector || !out->tool || !out->base_url ||
        (json_object_get(ov, "token_url") && !out->token_url)) {
        access_tool_release(out);
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
out:
    policy_unref(p);
    return err;
}

void access_tool_release(struct access_tool *t)
{
    if (!t)
        return;
    json_decref(t->connector);
    json_decref(t->tool);
    free(t->base_url);
    free(t->token_url);
    memset(t, 0, sizeof *t);
}

/* ---- finding users ---- */

enum md_err access_user_resolve(struct access *a, const char *id_or_name, char id_out[64],
                                struct md_error *e)
{
    struct store_conn *c = NULL;
    struct store_pred where;
    struct store_query q;
    struct store_rows rows;
    bool exists = false;
    enum md_err err;

    id_out[0] = '\0';
    if (!id_or_name || !id_or_name[0])
        return md_error_set(e, MD_ERR_NOTFOUND, "no user given");
    err = store_acquire(access_store(a), &c, e);
    if (err)
        return err;
    err = store_res_exists(c, STORE_USERS, id_or_name, &exists, e);
    if (!err && exists) {
        snprintf(id_out, 64, "%s", id_or_name);
        goto out;
    }
    if (err)
        goto out;
    memset(&where, 0, sizeof where);
    where.kind = SP_CMP;
    where.col = SCOL_USER_NAME;
    where.cmp = SC_EQ;
    where.vtype = SV_STRING;
    where.str = id_or_name;
    where.case_exact = false;
    memset(&q, 0, sizeof q);
    q.where = &where;
    q.start_index = 1;
    q.count = 1;
    err = store_res_query(c, STORE_USERS, &q, &rows, e);
    if (err)
        goto out;
    if (rows.n == 1)
        snprintf(id_out, 64, "%s", rows.rows[0].id);
    else
        err = md_error_set(e, MD_ERR_NOTFOUND, "no user has the id or userName \"%.100s\"",
                           id_or_name);
    store_rows_free(&rows);
out:
    store_release(c);
    return err;
}
