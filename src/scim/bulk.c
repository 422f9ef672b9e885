/*
 * /Bulk (RFC 7644 section 3.7): operations run in order through the same handlers as single
 * requests, each in its own transaction. "bulkId:<ref>" values refer to resources created
 * earlier in the request; an operation whose reference is not yet resolved waits until one that
 * creates it has run, and fails with 409 when none does (a cycle or a missing bulkId).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/str.h"
#include "scim/scim_int.h"

struct scim_bulk_ids {
    json_t *map; /* bulkId -> id */
};

const char *scim_bulk_lookup(const struct scim_bulk_ids *ids, const char *ref)
{
    return json_string_value(json_object_get(ids->map, ref));
}

/*
 * Replaces "bulkId:<ref>" strings in v with the ids created so far. Returns false when some
 * reference is not resolved yet.
 */
static bool substitute(const struct scim_bulk_ids *ids, json_t *v, int depth)
{
    bool ok = true;
    if (depth > 64)
        return true;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            if (json_is_string(c) && strncmp(json_string_value(c), "bulkId:", 7) == 0) {
                const char *id = scim_bulk_lookup(ids, json_string_value(c) + 7);
                if (id)
                    json_object_set_new(v, k, json_string(id));
                else
                    ok = false;
            } else if (!substitute(ids, c, depth + 1)) {
                ok = false;
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            if (json_is_string(c) && strncmp(json_string_value(c), "bulkId:", 7) == 0) {
                const char *id = scim_bulk_lookup(ids, json_string_value(c) + 7);
                if (id)
                    json_array_set_new(v, i, json_string(id));
                else
                    ok = false;
            } else if (!substitute(ids, c, depth + 1)) {
                ok = false;
            }
        }
    }
    return ok;
}

static json_t *op_error(enum md_err code, const char *detail)
{
    struct scim_response r;
    char status[16];
    memset(&r, 0, sizeof r);
    scim_error(&r, code, detail);
    snprintf(status, sizeof status, "%d", r.status);
    return json_pack("{s:s, s:o}", "status", status, "response", r.body);
}

static bool entry_failed(const json_t *entry)
{
    const char *s = json_string_value(json_object_get(entry, "status"));
    long long status = 0;
    return s && str_to_ll(s, strlen(s), 0, 999, &status) && status >= 400;
}

/* Splits "/Users/<id>" into its resource type and id (NULL for the collection). */
static bool parse_op_path(const char *path, const struct scim_rtype **rt, char *id, size_t idsz)
{
    const char *p = path, *slash;
    size_t n;
    if (*p == '/')
        p++;
    slash = strchr(p, '/');
    n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 5 && strncasecmp(p, "Users", 5) == 0)
        *rt = &scim_rtype_user;
    else if (n == 6 && strncasecmp(p, "Groups", 6) == 0)
        *rt = &scim_rtype_group;
    else
        return false;
    id[0] = '\0';
    if (slash && slash[1]) {
        if (strlen(slash + 1) >= idsz || strchr(slash + 1, '/'))
            return false;
        memcpy(id, slash + 1, strlen(slash + 1) + 1);
    }
    return true;
}

/*
 * Runs one operation. Returns false when it must wait for a bulkId not yet created; otherwise
 * fills *result with its response entry and counts a failure in *errors.
 */
static bool run_op(struct scim_ctx *x, struct scim_bulk_ids *ids, const json_t *op, bool last_pass,
                   json_t **result, int *errors)
{
    const char *method = json_istr(op, "method");
    const char *path = json_istr(op, "path");
    const char *bulk_id = json_istr(op, "bulkId");
    const char *version = json_istr(op, "version");
    json_t *data = json_object_iget(op, "data");
    json_t *data_copy = NULL, *path_holder = NULL, *entry = NULL;
    const struct scim_rtype *rt = NULL;
    char id[128];
    char *body = NULL;
    struct scim_request sub;
    struct scim_response sr;
    struct scim_ctx y;
    bool ready = true;

    memset(&sr, 0, sizeof sr);
    if (!method || (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
                    strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0)) {
        entry = op_error(MD_ERR_SYNTAX, "method must be POST, PUT, PATCH or DELETE");
        goto done;
    }
    if (!path) {
        entry = op_error(MD_ERR_SYNTAX, "path is required");
        goto done;
    }
    if (strcmp(method, "POST") == 0 && (!bulk_id || !*bulk_id)) {
        entry = op_error(MD_ERR_SYNTAX, "bulkId is required for POST");
        goto done;
    }
    /* The path may refer to a resource created earlier in this request. */
    path_holder = json_pack("[s]", path);
    if (!substitute(ids, path_holder, 0))
        ready = false;
    if (data) {
        data_copy = json_deep_copy(data);
        if (!substitute(ids, data_copy, 0))
            ready = false;
    }
    if (!ready && !last_pass)
        goto wait;
    if (!ready) {
        entry = op_error(MD_ERR_UNIQUENESS, "a bulkId reference cannot be resolved");
        json_object_del(json_object_get(entry, "response"), "scimType");
        goto done;
    }
    if (!parse_op_path(json_string_value(json_array_get(path_holder, 0)), &rt, id, sizeof id) ||
        (strcmp(method, "POST") == 0) != (id[0] == '\0')) {
        entry = op_error(MD_ERR_SYNTAX, "path must be /Users or /Groups, with an id unless POST");
        goto done;
    }
    if (strcmp(method, "DELETE") != 0) {
        if (!json_is_object(data_copy)) {
            entry = op_error(MD_ERR_SYNTAX, "data must be an object");
            goto done;
        }
        body = json_dump_compact(data_copy);
    }
    sub = *x->req;
    sub.method = method;
    sub.path = "";
    sub.body = body;
    sub.body_len = body ? strlen(body) : 0;
    sub.content_type = NULL;
    sub.if_match = version;
    sub.if_none_match = NULL;
    sub.query = NULL;
    memset(&y, 0, sizeof y);
    y.req = &sub;
    y.resp = &sr;
    y.conn = x->conn;
    y.limits = x->limits;
    scim_resource_handle(&y, rt, id[0] ? id : NULL);
    {
        char status[16];
        snprintf(status, sizeof status, "%d", sr.status);
        entry = json_pack("{s:s}", "status", status);
    }
    if (sr.status >= 400) {
        json_object_set(entry, "response", sr.body);
    } else {
        char loc[700];
        const char *new_id = id[0] ? id : json_string_value(json_object_get(sr.body, "id"));
        if (new_id) {
            snprintf(loc, sizeof loc, "%s%s/%s", x->req->base_url, rt->endpoint, new_id);
            json_object_set_new(entry, "location", json_string(loc));
        }
        if (sr.etag[0])
            json_object_set_new(entry, "version", json_string(sr.etag));
        if (bulk_id && new_id && strcmp(method, "POST") == 0)
            json_object_set_new(ids->map, bulk_id, json_string(new_id));
        /* The operation's changes join the Bulk request's, for one audit event. */
        if (sr.changes) {
            if (!x->resp->changes)
                x->resp->changes = json_array();
            json_array_extend(x->resp->changes, sr.changes);
        }
    }
done:
    if (entry_failed(entry))
        (*errors)++;
    json_object_set_new(entry, "method", json_string(method ? method : ""));
    if (bulk_id)
        json_object_set_new(entry, "bulkId", json_string(bulk_id));
    *result = entry;
    ready = true;
wait:
    scim_response_clear(&sr);
    free(body);
    json_decref(data_copy);
    json_decref(path_holder);
    return ready;
}

void scim_bulk_handle(struct scim_ctx *x)
{
    json_t *body = NULL, *ops, *results = NULL, *out;
    struct scim_bulk_ids ids = {NULL};
    const json_t *foe;
    int fail_on = 0, errors = 0;
    size_t n, done = 0;
    bool *finished = NULL;

    if (x->req->body_len > x->limits->max_bulk_payload) {
        md_error_set(&x->err, MD_ERR_TOOLARGE, "the bulk request exceeds maxPayloadSize %zu",
                     x->limits->max_bulk_payload);
        scim_fail(x, MD_ERR_TOOLARGE);
        return;
    }
    body = scim_parse_body(x);
    if (!body)
        return;
    if (!scim_require_schema(x, body, SCIM_URN_BULKREQ))
        goto out;
    ops = json_object_iget(body, "Operations");
    if (!json_is_array(ops)) {
        md_error_set(&x->err, MD_ERR_SYNTAX, "a BulkRequest needs an Operations array");
        scim_fail(x, MD_ERR_SYNTAX);
        goto out;
    }
    n = json_array_size(ops);
    if (n > (size_t)x->limits->max_bulk_ops) {
        md_error_set(&x->err, MD_ERR_TOOLARGE, "%zu operations exceed maxOperations %d", n,
                     x->limits->max_bulk_ops);
        scim_fail(x, MD_ERR_TOOLARGE);
        goto out;
    }
    foe = json_object_iget(body, "failOnErrors");
    if (foe && !json_is_null(foe)) {
        if (!json_is_integer(foe) || json_integer_value(foe) < 1) {
            md_error_set(&x->err, MD_ERR_SYNTAX, "failOnErrors must be a positive integer");
            scim_fail(x, MD_ERR_SYNTAX);
            goto out;
        }
        fail_on = json_integer_value(foe) > 1000000 ? 1000000 : (int)json_integer_value(foe);
    }
    ids.map = json_object();
    results = json_array();
    finished = calloc(n ? n : 1, sizeof *finished);
    if (!ids.map || !results || !finished) {
        scim_fail(x, MD_ERR_NOMEM);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(results, json_null());
    /* Passes until every operation ran; a pass that runs none makes the next one the last. */
    for (bool last = false; done < n;) {
        size_t before = done;
        for (size_t i = 0; i < n && done < n; i++) {
            json_t *entry = NULL;
            const json_t *op = json_array_get(ops, i);
            if (finished[i])
                continue;
            if (fail_on && errors >= fail_on)
                break;
            if (!json_is_object(op)) {
                entry = op_error(MD_ERR_SYNTAX, "an operation must be an object");
                errors++;
            } else if (!run_op(x, &ids, op, last, &entry, &errors)) {
                continue;
            }
            json_array_set_new(results, i, entry);
            finished[i] = true;
            done++;
        }
        if (fail_on && errors >= fail_on)
            break;
        if (done == before) {
            if (last)
                break;
            last = true;
        }
    }
    /* Operations not run (failOnErrors reached) are left out of the response. */
    for (size_t i = n; i-- > 0;) {
        if (!finished[i])
            json_array_remove(results, i);
    }
    out = json_pack("{s:[s], s:o}", "schemas", SCIM_URN_BULKRESP, "Operations", results);
    results = NULL;
    scim_reply(x, 200, out);
out:
    free(finished);
    json_decref(results);
    json_decref(ids.map);
    json_decref(body);
}
