/*
 * Who could do what, when (src/admin/history.c): the pure parts of the replay (which object an
 * admin event names, a connector's definition from its admin view, a grant judged at a time, a
 * user's history from a sequence of events), and the replay itself over audit rows written by
 * hand, for what the log can only tell in part: members that turn out to be groups, events
 * without the state after them, objects whose first event comes after the time asked about.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "access/access_fixture.h"
#include "admin/admin.h"
#include "admin/admin_int.h"
#include "audit/audit.h"
#include "core/time.h"

/* ---- admin_hist_object ---- */

static void assert_object(const char *event, enum admin_hist_kind want, const char *want_id)
{
    json_t *ev = fx_json(event);
    char id[64];
    enum admin_hist_kind k = admin_hist_object(ev, id);

    cr_assert_eq(k, want, "%s: kind %d, expected %d", event, k, want);
    if (want_id)
        cr_assert_str_eq(id, want_id, "%s", event);
    json_decref(ev);
}

Test(test_history, admin_events_name_their_object)
{
    assert_object("{\"method\":\"POST\",\"path\":\"/grants\",\"after\":{\"id\":\"g1\"}}",
                  ADMIN_HIST_GRANT, "g1");
    assert_object("{\"method\":\"PUT\",\"path\":\"/grants/g2\",\"after\":{\"id\":\"g2\"}}",
                  ADMIN_HIST_GRANT, "g2");
    /* A DELETE has no after: the before names it, else the path. */
    assert_object("{\"method\":\"DELETE\",\"path\":\"/grants/g3\"}", ADMIN_HIST_GRANT, "g3");
    assert_object("{\"method\":\"DELETE\",\"path\":\"/packs/sales\",\"before\":{\"name\":"
                  "\"sales\"}}",
                  ADMIN_HIST_PACK, "sales");
    assert_object("{\"method\":\"POST\",\"path\":\"/packs\",\"after\":{\"name\":\"ops\"}}",
                  ADMIN_HIST_PACK, "ops");
    assert_object("{\"method\":\"PATCH\",\"path\":\"/connectors/github\",\"after\":{\"name\":"
                  "\"github\"}}",
                  ADMIN_HIST_CONNECTOR, "github");
}

Test(test_history, other_admin_events_name_nothing)
{
    /* A credential lives in the vault; tokens and decisions are not part of the access model. */
    assert_object("{\"method\":\"PUT\",\"path\":\"/connectors/github/credential\",\"after\":{}}",
                  ADMIN_HIST_NONE, NULL);
    assert_object("{\"method\":\"POST\",\"path\":\"/tokens\",\"after\":{\"id\":\"t\"}}",
                  ADMIN_HIST_NONE, NULL);
    assert_object("{\"method\":\"DELETE\",\"path\":\"/tokens/t\"}", ADMIN_HIST_NONE, NULL);
    assert_object("{\"method\":\"POST\",\"path\":\"/grants\"}", ADMIN_HIST_NONE, NULL);
    assert_object("{\"path\":\"/grants/g\"}", ADMIN_HIST_NONE, NULL);
    assert_object("{\"method\":\"PUT\",\"path\":\"/grants/"
                  "0123456789012345678901234567890123456789012345678901234567890123456789\"}",
                  ADMIN_HIST_NONE, NULL);
}

/* ---- admin_hist_connector_def ---- */

Test(test_history, a_connector_view_gives_back_the_stored_definition)
{
    struct md_error e = {0};
    struct store_conn *c;
    struct store_obj row;
    json_t *patch, *view = NULL, *def, *stored;

    fx_open();
    fx_connector("pay", "refund:destructive,charges:read,note:write");
    patch = fx_json("{\"base_url\":\"https://sandbox.example.com\","
                    "\"levels\":{\"pay__note\":\"destructive\",\"pay__charges\":\"write\"}}");
    cr_assert_eq(access_connector_override(fx.a, "pay", patch, NULL, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(access_connector_get(fx.a, "pay", &view, &e), MD_OK, "%s", e.msg);
    /* The view shows the overrides: the definition must come back without them. */
    cr_assert_str_eq(json_string_value(json_object_get(view, "base_url")),
                     "https://sandbox.example.com");
    def = admin_hist_connector_def(view);
    c = fx_conn();
    cr_assert_eq(store_obj_get(c, STORE_OBJ_CONNECTOR, "pay", &row, &e), MD_OK, "%s", e.msg);
    store_release(c);
    stored = fx_json(row.doc);
    cr_assert(fx_json_eq(def, stored));
    cr_assert_null(admin_hist_connector_def(json_object_get(view, "name")));
    store_obj_free(&row);
    json_decref(stored);
    json_decref(def);
    json_decref(view);
    json_decref(patch);
    fx_close();
}

/* ---- admin_hist_grant_at ---- */

Test(test_history, a_grant_is_judged_at_the_time_asked)
{
    json_t *view = fx_json("{\"id\":\"g\",\"version\":3,\"created\":\"2026-01-01T00:00:00Z\","
                           "\"modified\":\"2026-01-02T00:00:00Z\",\"subject\":{\"type\":"
                           "\"everyone\"},\"tool\":\"pay__charges\",\"expires\":"
                           "\"2026-02-01T00:00:00Z\",\"created_by\":\"t\"}");
    json_t *want = fx_json("{\"subject\":{\"type\":\"everyone\"},\"tool\":\"pay__charges\","
                           "\"created_by\":\"t\"}");
    json_t *g;
    int64_t before, at;
    bool expired = true;

    cr_assert(time_parse_rfc3339("2026-01-31T23:59:59.999Z", &before));
    cr_assert(time_parse_rfc3339("2026-02-01T00:00:00Z", &at));
    /* Before the expiry: stored without it, so that the engine's clock does not judge it. */
    g = admin_hist_grant_at(view, before, &expired);
    cr_assert_not(expired);
    cr_assert(fx_json_eq(g, want));
    json_decref(g);
    /* At the expiry it has expired, as the engine judges it (expires <= now). */
    g = admin_hist_grant_at(view, at, &expired);
    cr_assert_null(g);
    cr_assert(expired);
    /* An expiry that does not parse stays, so that the engine refuses the grant as it would. */
    json_object_set_new(view, "expires", json_string("soon"));
    json_object_set_new(want, "expires", json_string("soon"));
    g = admin_hist_grant_at(view, at, &expired);
    cr_assert_not(expired);
    cr_assert(fx_json_eq(g, want));
    json_decref(g);
    json_decref(view);
    json_decref(want);
}

/* ---- a user's history ---- */

static void step(struct admin_hist_user *h, int seq, const char *type, const char *changes)
{
    char text[2048];
    json_t *ev;

    snprintf(text, sizeof text,
             "{\"seq\":%d,\"time\":\"2026-03-01T00:00:%02d.000Z\",\"type\":\"%s\",\"changes\":%s}",
             seq, seq, type, changes);
    ev = fx_json(text);
    admin_hist_user_step(h, ev);
    json_decref(ev);
}

/* The entries' "change" (and group id) newest last, as "created joined:g1 ...". */
static void changes_of(const struct admin_hist_user *h, char *out, size_t n)
{
    size_t i, len = 0;
    json_t *it;

    out[0] = '\0';
    json_array_foreach(h->items, i, it)
    {
        const char *g = json_string_value(json_object_get(json_object_get(it, "group"), "id"));
        len += (size_t)snprintf(out + len, n - len, "%s%s%s%s", len ? " " : "",
                                json_string_value(json_object_get(it, "change")), g ? ":" : "",
                                g ? g : "");
        cr_assert_lt(len, n);
    }
}

Test(test_history, a_user_history_follows_the_log)
{
    struct admin_hist_user h;
    char got[512];

    cr_assert(admin_hist_user_init(&h, "u1"));
    step(&h, 1, "scim.change",
         "[{\"resource\":\"User\",\"id\":\"u1\",\"op\":\"create\",\"after\":{\"userName\":\"a\","
         "\"active\":true}}]");
    step(&h, 2, "scim.change",
         "[{\"resource\":\"Group\",\"id\":\"g1\",\"op\":\"create\",\"after\":{\"displayName\":"
         "\"Eng\"},\"members\":[{\"op\":\"add\",\"id\":\"u2\"},{\"op\":\"add\",\"id\":\"u1\"}]}]");
    /* A replace clears the members and adds them back: no change for u1. */
    step(&h, 3, "scim.change",
         "[{\"resource\":\"Group\",\"id\":\"g1\",\"op\":\"replace\",\"after\":{\"displayName\":"
         "\"Engineering\"},\"members\":[{\"op\":\"clear\"},{\"op\":\"add\",\"id\":\"u1\"}]}]");
    step(&h, 4, "scim.change",
         "[{\"resource\":\"User\",\"id\":\"u1\",\"op\":\"patch\",\"after\":{\"userName\":\"b\","
         "\"active\":false}}]");
    /* Another user's change, an admin change and a tool call are not u1's history. */
    step(&h, 5, "scim.change",
         "[{\"resource\":\"User\",\"id\":\"u2\",\"op\":\"patch\",\"after\":{\"userName\":\"c\","
         "\"active\":false}}]");
    step(&h, 6, "admin.change", "null");
    step(&h, 7, "tool.call", "null");
    step(&h, 8, "scim.change",
         "[{\"resource\":\"User\",\"id\":\"u1\",\"op\":\"patch\",\"after\":{\"userName\":\"b\","
         "\"active\":true}},{\"resource\":\"Group\",\"id\":\"g1\",\"op\":\"patch\","
         "\"members\":[{\"op\":\"remove\",\"id\":\"u1\"}]}]");
    step(&h, 9, "scim.change",
         "[{\"resource\":\"Group\",\"id\":\"g2\",\"op\":\"create\",\"after\":{\"displayName\":"
         "\"Ops\"},\"members\":[{\"op\":\"add\",\"id\":\"u1\"}]}]");
    step(&h, 10, "scim.change", "[{\"resource\":\"Group\",\"id\":\"g2\",\"op\":\"delete\"}]");
    step(&h, 11, "scim.change", "[{\"resource\":\"User\",\"id\":\"u1\",\"op\":\"delete\"}]");
    changes_of(&h, got, sizeof got);
    cr_assert_str_eq(got, "created joined:g1 renamed deactivated activated left:g1 joined:g2 "
                          "left:g2 deleted");
    cr_assert(h.created);
    /* The group's name as the log showed it when the user left. */
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(h.items, 5), "group"), "displayName")),
                     "Engineering");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(h.items, 2), "from")), "a");
    cr_assert(json_is_true(json_object_get(json_array_get(h.items, 6), "group_deleted")) ==
              false);
    cr_assert(json_is_true(json_object_get(json_array_get(h.items, 7), "group_deleted")));
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(h.items, 8), "seq")), 11);
    admin_hist_user_free(&h);
}

Test(test_history, a_user_older_than_the_log_is_first_seen)
{
    struct admin_hist_user h;
    char got[256];

    cr_assert(admin_hist_user_init(&h, "u1"));
    /* Its groups from before the log are unknown: a removal still shows, a clear cannot. */
    step(&h, 1, "scim.change",
         "[{\"resource\":\"Group\",\"id\":\"g1\",\"op\":\"patch\",\"members\":[{\"op\":"
         "\"remove\",\"id\":\"u1\"}]}]");
    step(&h, 2, "scim.change",
         "[{\"resource\":\"Group\",\"id\":\"g2\",\"op\":\"replace\",\"members\":[{\"op\":"
         "\"clear\"}]}]");
    step(&h, 3, "scim.change",
         "[{\"resource\":\"User\",\"id\":\"u1\",\"op\":\"patch\",\"after\":{\"userName\":\"a\","
         "\"active\":false}}]");
    changes_of(&h, got, sizeof got);
    cr_assert_str_eq(got, "left:g1 first_seen");
    cr_assert_not(h.created);
    cr_assert(json_is_false(json_object_get(json_array_get(h.items, 1), "active")));
    admin_hist_user_free(&h);
}

/* ---- the replay, over audit rows written by hand ---- */

static int64_t ev_base;
static int ev_seq;

/* Appends an event at ev_base + dt ms (the chain's hashes do not matter to the replay). */
static void ev_add(int dt, const char *type, const char *body)
{
    struct md_error e = {0};
    struct store_audit_row row;
    struct store_conn *c = fx_conn();
    char t[TIME_RFC3339_LEN], text[4096];
    json_t *doc;

    memset(&row, 0, sizeof row);
    row.seq = ++ev_seq;
    row.time_ms = ev_base + dt;
    time_format_ms(row.time_ms, t);
    snprintf(row.type, sizeof row.type, "%s", type);
    snprintf(row.event_id, sizeof row.event_id, "ev-%d", ev_seq);
    snprintf(row.hash, sizeof row.hash, "h%d", ev_seq);
    snprintf(text, sizeof text, "{\"seq\":%d,\"time\":\"%s\",\"type\":\"%s\",%s}", ev_seq, t,
             type, body);
    doc = fx_json(text);
    row.doc = json_dumps(doc, JSON_COMPACT);
    cr_assert_eq(store_audit_insert(c, &row, &e), MD_OK, "%s", e.msg);
    store_release(c);
    free(row.doc);
    json_decref(doc);
}

/* A catalog made before the log, then a log that starts 20 ms later. */
static void replay_setup(void)
{
    struct timespec ts = {0, 40 * 1000 * 1000};

    fx_open();
    fx_connector("pay", "refund:destructive,charges:read,note:write");
    ev_base = time_now_ms() + 20;
    ev_seq = 0;
    nanosleep(&ts, NULL);
}

static json_t *ask(int dt, const char *tool)
{
    struct md_error e = {0};
    char t[TIME_RFC3339_LEN];
    json_t *out = NULL;

    time_format_ms(ev_base + dt, t);
    cr_assert_eq(admin_access_at(fx.s, fx.a, t, tool, &out, &e), MD_OK, "%s", e.msg);
    return out;
}

static const char *user_at(const json_t *answer, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(answer, "users"), i),
                                             "userName"));
}

Test(test_history, a_member_taken_for_a_user_turns_out_to_be_a_group)
{
    json_t *a, *g, *unknown;

    replay_setup();
    /* P and C are older than the log; C is added to P before the log shows what C is. */
    ev_add(1, "scim.change",
           "\"changes\":[{\"resource\":\"User\",\"id\":\"U\",\"op\":\"create\",\"after\":"
           "{\"userName\":\"u@example.com\",\"active\":true}}]");
    ev_add(2, "scim.change",
           "\"changes\":[{\"resource\":\"Group\",\"id\":\"P\",\"op\":\"patch\",\"after\":"
           "{\"displayName\":\"Parent\"},\"members\":[{\"op\":\"add\",\"id\":\"C\"}]}]");
    ev_add(3, "scim.change",
           "\"changes\":[{\"resource\":\"Group\",\"id\":\"C\",\"op\":\"patch\",\"after\":"
           "{\"displayName\":\"Child\"},\"members\":[{\"op\":\"add\",\"id\":\"U\"}]}]");
    ev_add(4, "admin.change",
           "\"method\":\"POST\",\"path\":\"/grants\",\"status\":201,\"after\":{\"id\":\"g1\","
           "\"version\":1,\"created\":\"2026-01-01T00:00:00Z\",\"modified\":"
           "\"2026-01-01T00:00:00Z\",\"subject\":{\"type\":\"group\",\"id\":\"P\"},\"tool\":"
           "\"pay__charges\",\"created_by\":\"t\"}");
    a = ask(5, "pay__charges");
    cr_assert_eq(json_array_size(json_object_get(a, "users")), 1);
    cr_assert_str_eq(user_at(a, 0), "u@example.com");
    g = json_array_get(
        json_object_get(json_array_get(json_object_get(a, "users"), 0), "grants"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(g, "id")), "g1");
    cr_assert(json_is_true(json_object_get(json_object_get(g, "subject"), "nested")));
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(g, "via"), 0), "displayName")),
                     "Child");
    /* Groups older than the log: the answer cannot be complete, and says which. */
    cr_assert(json_is_false(json_object_get(a, "complete")));
    unknown = json_object_get(a, "unknown");
    cr_assert_eq(json_integer_value(json_object_get(unknown, "count")), 2, "%s",
                 json_dumps(unknown, JSON_COMPACT));
    cr_assert_eq(json_array_size(json_object_get(unknown, "groups")), 2);
    json_decref(a);
    /* Before the grant nobody; before the log nothing is known. */
    a = ask(3, "pay__charges");
    cr_assert_eq(json_array_size(json_object_get(a, "users")), 0);
    json_decref(a);
    a = ask(-5, "pay__charges");
    cr_assert_eq(json_integer_value(json_object_get(a, "events_replayed")), 0);
    cr_assert(json_is_false(json_object_get(a, "complete")));
    json_decref(a);
    fx_close();
}

Test(test_history, a_change_that_does_not_say_how_is_counted_and_noted)
{
    json_t *a;

    replay_setup();
    ev_add(1, "scim.change",
           "\"changes\":[{\"resource\":\"User\",\"id\":\"U\",\"op\":\"create\",\"after\":"
           "{\"userName\":\"u@example.com\",\"active\":true}}]");
    ev_add(2, "admin.change",
           "\"method\":\"POST\",\"path\":\"/grants\",\"status\":201,\"after\":{\"id\":\"g1\","
           "\"subject\":{\"type\":\"everyone\"},\"tool\":\"pay__charges\"}");
    /* A deactivation recorded without the state after it (events of older versions). */
    ev_add(3, "scim.change", "\"changes\":[{\"resource\":\"User\",\"id\":\"U\",\"op\":\"patch\"}]");
    a = ask(4, "pay__charges");
    cr_assert_eq(json_integer_value(json_object_get(a, "events_skipped")), 1);
    cr_assert(json_is_false(json_object_get(a, "complete")));
    cr_assert_eq(json_array_size(json_object_get(a, "notes")), 1);
    cr_assert_eq(json_integer_value(json_object_get(a, "events_replayed")), 3);
    json_decref(a);
    a = ask(2, "pay__charges");
    cr_assert(json_is_true(json_object_get(a, "complete")));
    cr_assert_str_eq(user_at(a, 0), "u@example.com");
    json_decref(a);
    fx_close();
}

Test(test_history, an_object_first_changed_after_the_time_is_what_its_before_shows)
{
    struct md_error e = {0};
    json_t *pack, *a;

    replay_setup();
    /* The live pack lost pay__charges after T; its event's before shows it as it was. */
    pack = fx_json("{\"name\":\"x\",\"title\":\"X\",\"tools\":[]}");
    fx_pack("{\"name\":\"x\",\"title\":\"X\",\"tools\":[{\"tool\":\"pay__charges\",\"level\":"
            "\"read\"}]}");
    cr_assert_eq(access_pack_put(fx.a, "x", pack, 0, NULL, &e), MD_OK, "%s", e.msg);
    ev_add(1, "scim.change",
           "\"changes\":[{\"resource\":\"User\",\"id\":\"U\",\"op\":\"create\",\"after\":"
           "{\"userName\":\"u@example.com\"}}]");
    ev_add(2, "admin.change",
           "\"method\":\"POST\",\"path\":\"/grants\",\"status\":201,\"after\":{\"id\":\"g1\","
           "\"subject\":{\"type\":\"user\",\"id\":\"U\"},\"pack\":\"x\"}");
    ev_add(10, "admin.change",
           "\"method\":\"PUT\",\"path\":\"/packs/x\",\"status\":200,\"before\":{\"name\":\"x\","
           "\"title\":\"X\",\"tools\":[{\"tool\":\"pay__charges\",\"level\":\"read\"}],"
           "\"version\":1},\"after\":{\"name\":\"x\",\"title\":\"X\",\"tools\":[],\"version\":2}");
    a = ask(5, "pay__charges");
    cr_assert_eq(json_array_size(json_object_get(a, "users")), 1, "%s",
                 json_dumps(a, JSON_COMPACT));
    cr_assert_str_eq(user_at(a, 0), "u@example.com");
    cr_assert(json_is_true(json_object_get(a, "complete")));
    json_decref(a);
    a = ask(11, "pay__charges");
    cr_assert_eq(json_array_size(json_object_get(a, "users")), 0);
    json_decref(a);
    json_decref(pack);
    fx_close();
}

Test(test_history, bad_questions_are_refused_with_a_sentence)
{
    struct md_error e = {0};
    char future[TIME_RFC3339_LEN];
    json_t *out = NULL;

    fx_open();
    fx_connector("pay", "refund:destructive,charges:read,note:write");
    time_format_ms(time_now_ms() + 60000, future);
    cr_assert_eq(admin_access_at(fx.s, fx.a, NULL, "pay__charges", &out, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "time is required"));
    cr_assert_eq(admin_access_at(fx.s, fx.a, "2026-02-30T25:00:00Z", "pay__charges", &out, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "not an RFC 3339 time"));
    cr_assert_eq(admin_access_at(fx.s, fx.a, future, "pay__charges", &out, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "future"));
    cr_assert_eq(admin_access_at(fx.s, fx.a, "2026-01-01T00:00:00Z", "", &out, &e), MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "tool is required"));
    cr_assert_eq(admin_access_at(fx.s, fx.a, "2026-01-01T00:00:00Z", "pay__nothing", &out, &e),
                 MD_ERR_VALUE);
    cr_assert(strstr(e.msg, "no connector defines the tool pay__nothing"), "%s", e.msg);
    cr_assert_null(out);
    fx_close();
}
