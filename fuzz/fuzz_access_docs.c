/*
 * libFuzzer driver for the admin API's documents: a body goes through the limited JSON parser,
 * then through the access module's validators as a connector, a pack, a grant and a connector
 * override, on a real SQLite store (one per process, in a temporary directory). What is
 * accepted is deleted again, so that the store stays small; a refusal must carry a message,
 * and a refused write must leave nothing behind. A decision on a fixed user then exercises the
 * policy that the accepted documents built.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "access/access.h"
#include "core/json.h"
#include "store/store.h"

static struct store *st;
static struct access *acc;
static char user_id[64] = "fuzz-user";
static char group_id[64] = "fuzz-group";

static void setup(void)
{
    char dir[] = "/tmp/mandate-fuzz-access-XXXXXX", url[128];
    struct store_conn *c = NULL;
    struct store_row r;
    struct md_error e;
    bool added;

    if (!mkdtemp(dir))
        abort();
    snprintf(url, sizeof url, "sqlite:%s/f.db", dir);
    if (store_open(url, 4, &st, &e) || access_open(st, &acc, &e) || store_acquire(st, &c, &e))
        abort();
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", user_id);
    r.doc = (char *)(uintptr_t) "{\"userName\":\"fuzz\"}";
    r.user_name = (char *)(uintptr_t) "fuzz";
    r.active = true;
    if (store_res_insert(c, STORE_USERS, &r, &e))
        abort();
    snprintf(r.id, sizeof r.id, "%s", group_id);
    r.doc = (char *)(uintptr_t) "{\"displayName\":\"Fuzzers\"}";
    r.user_name = NULL;
    r.display_name = (char *)(uintptr_t) "Fuzzers";
    if (store_res_insert(c, STORE_GROUPS, &r, &e) ||
        store_member_add(c, group_id, user_id, STORE_MEMBER_USER, NULL, &added, &e))
        abort();
    store_release(c);
}

static void refused(enum md_err rc, const struct md_error *e)
{
    if (rc != MD_OK && !e->msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL, *out = NULL;
    struct access_decision *d;
    struct md_error e;
    enum md_err rc;
    bool created;

    if (!st)
        setup();
    md_error_clear(&e);
    if (json_parse_limited((const char *)data, size, 1 << 20, 32, &body, &e) != MD_OK)
        return 0;

    md_error_clear(&e);
    rc = access_connector_put(acc, body, &out, &created, &e);
    refused(rc, &e);
    if (rc == MD_OK) {
        const char *name = json_string_value(json_object_get(out, "name"));
        json_t *patch = json_object_get(body, "overrides");
        if (!name)
            abort();
        if (patch) {
            json_t *o2 = NULL;
            md_error_clear(&e);
            refused(access_connector_override(acc, name, patch, &o2, &e), &e);
            json_decref(o2);
        }
    }
    json_decref(out);
    out = NULL;

    md_error_clear(&e);
    rc = access_pack_create(acc, body, &out, &e);
    refused(rc, &e);
    json_decref(out);
    out = NULL;

    md_error_clear(&e);
    rc = access_grant_create(acc, body, "fuzz", &out, &e);
    refused(rc, &e);
    d = malloc(sizeof *d);
    if (d) {
        const char *tool = json_string_value(json_object_get(body, "tool"));
        md_error_clear(&e);
        access_decide(acc, user_id, tool ? tool : "x__y",
                      json_string_value(json_object_get(body, "pack")),
                      json_object_get(body, "arguments"), d, &e);
        json_decref(access_decision_json(d));
        free(d);
    }
    if (rc == MD_OK) {
        const char *id = json_string_value(json_object_get(out, "id"));
        if (!id || access_grant_delete(acc, id, &e) != MD_OK)
            abort();
    }
    json_decref(out);
    out = NULL;
    /* A pack the input created goes again (grants that name it were deleted above). */
    if (json_is_string(json_object_get(body, "name")))
        access_pack_delete(acc, json_string_value(json_object_get(body, "name")), &e);
    json_decref(body);
    return 0;
}
