/*
 * The decision engine (decide.c over policy.c and cache.c): a table of decisions over the
 * standard world of access_fixture.h, then the changes that must be seen by the very next
 * decision on the same service (membership, nesting, activity, deletion, grants, packs, level
 * overrides), the decision as JSON, the user's entitlements and finding a user.
 *
 * Each row of the table names the user, the tool and the arguments, and what the decision must
 * say: allowed or not, the reason, every candidate's outcome and grant in order, whether the
 * deciding group was reached through another group, a phrase of the explanation, the tool's
 * effective level, and who the deciding grant was given to.
 */
#include "access_fixture.h"

#include "scim/filter.h"

TestSuite(test_decide, .init = fx_world, .fini = fx_close);

/* ---- helpers ---- */

/* The label the fixture gave the grant with this id, or "?". */
static const char *label_of(const char *id)
{
    for (int i = 0; i < fx.ngrants; i++)
        if (strcmp(fx.grants[i].id, id) == 0)
            return fx.grants[i].label;
    return "?";
}

/* The labels of the decision's candidates, "G1,G2", in their order. */
static void cand_labels(const struct access_decision *d, char *buf, size_t n)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < d->ncands && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "",
                                label_of(d->cands[i].grant_id));
}

/* "group:g-fin:Finance", "user:u-erin:erin" or "everyone". */
static void subject_of(const struct access_candidate *c, char *buf, size_t n)
{
    if (c->subject_type == ACCESS_SUBJECT_EVERYONE)
        snprintf(buf, n, "everyone%s", c->subject_id);
    else
        snprintf(buf, n, "%s:%s:%s", c->subject_type == ACCESS_SUBJECT_USER ? "user" : "group",
                 c->subject_id, c->subject_name);
}

static bool any_detail(const struct access_decision *d, const char *needle)
{
    for (size_t i = 0; i < d->ncands; i++)
        if (strstr(d->cands[i].detail, needle))
            return true;
    return false;
}

/* ---- the table ---- */

struct dcase {
    const char *desc;
    const char *user; /* SCIM id */
    const char *tool;
    const char *args; /* JSON text, or NULL for no arguments */
    bool allowed;
    const char *reason;   /* access_reason_name */
    const char *outcomes; /* every candidate's outcome, in order */
    const char *grants;   /* every candidate's grant label, in order */
    int nested;           /* cands[0].nested: 0, 1, or -1 for no candidate */
    const char *detail;   /* a phrase of some candidate's detail, or NULL */
    const char *level;    /* the tool's effective level ("none" when unknown) */
    const char *subject;  /* cands[0]'s subject when allowed (subject_of), or NULL */
};

static const struct dcase cases[] = {
    /* nested groups and cycles */
    {"a grant to a parent group reaches a member of a child group", "u-alice", "pay__charges", "{}",
     true, "allowed", "allows", "G1", 1, "the grant covers pay__charges at level read", "read",
     "group:g-fin:Finance"},
    {"the same for another member of the child group", "u-alice2", "pay__charges", NULL, true,
     "allowed", "allows", "G1", 1, NULL, "read", "group:g-fin:Finance"},
    {"groups in a cycle (A in B, B in A) terminate and still grant", "u-frank", "code__write_file",
     NULL, true, "allowed", "allows", "G4", 1, NULL, "write", "group:g-cyb:Cycle B"},
    {"a cycle grants nothing else", "u-frank", "pay__charges", NULL, false, "no_grant", "", "", -1,
     NULL, "read", NULL},

    /* ceilings */
    {"grants add up: the pack entry ceiling refuses, a second grant allows", "u-alice",
     "pay__refund", "{\"amount\": 100}", true, "allowed", "allows", "G2", 0,
     "the condition `amount le 50000` holds", "destructive", "group:g-finapp:Finance Approved"},
    {"a whole-connector entry (pay__*) at read refuses a write tool", "u-alice", "pay__note", NULL,
     false, "grants_failed", "level_above_ceiling", "G1", 1,
     "pay__note is a write tool, above the ceiling read of pack payread", "write", NULL},
    {"the grant's ceiling applies below the pack's", "u-bob", "code__write_file", NULL, false,
     "grants_failed", "level_above_ceiling", "G3", 0, "above the ceiling read", "write", NULL},
    {"a destructive tool above both ceilings", "u-bob", "code__delete_repo", NULL, false,
     "grants_failed", "level_above_ceiling", "G3", 0, "is a destructive tool", "destructive", NULL},
    {"a read tool under the grant's ceiling", "u-bob", "code__read_file", NULL, true, "allowed",
     "allows", "G3", 0, "the grant covers code__read_file at level read", "read",
     "group:g-eng:Engineering"},
    {"the highest entry wins when two entries of a pack name a tool", "u-erin", "pay__note", NULL,
     true, "allowed", "allows", "G6", -1, "at level write", "write", "user:u-erin:erin"},

    /* conditions */
    {"a number condition holds at its bound", "u-alice", "pay__refund", "{\"amount\": 50000}", true,
     "allowed", "allows", "G2", 0, NULL, "destructive", "group:g-finapp:Finance Approved"},
    {"a number condition fails above its bound", "u-alice", "pay__refund", "{\"amount\": 50001}",
     false, "grants_failed", "level_above_ceiling,condition_false", "G1,G2", 1,
     "the condition `amount le 50000` does not hold", "destructive", NULL},
    {"an absent argument makes a comparison false", "u-alice", "pay__refund", "{}", false,
     "grants_failed", "level_above_ceiling,condition_false", "G1,G2", 1, "does not hold",
     "destructive", NULL},
    {"no arguments at all: every argument is absent", "u-alice", "pay__refund", NULL, false,
     "grants_failed", "level_above_ceiling,condition_false", "G1,G2", 1, "does not hold",
     "destructive", NULL},
    {"arguments that are not an object fail closed", "u-alice", "pay__refund", "[1]", false,
     "grants_failed", "level_above_ceiling,condition_error", "G1,G2", 1,
     "the arguments are not an object", "destructive", NULL},
    {"a string for a number is not below the bound", "u-alice", "pay__refund",
     "{\"amount\": \"100\"}", false, "grants_failed", NULL, "G1,G2", 1, NULL, "destructive", NULL},
    {"a stored condition that no longer parses fails closed", "u-erin", "pay__charges",
     "{\"amount\": 1}", false, "grants_failed", "condition_error", "G8", -1,
     "the condition does not parse", "read", NULL},
    {"string comparisons are case-exact (and grants add up: the second one fails too)", "u-hank",
     "pay__refund", "{\"currency\": \"USD\", \"amount\": 500}", false, "grants_failed",
     "condition_false,condition_false", "G9,G10", 0, "currency eq \"usd\"", "destructive", NULL},
    {"an exact string matches", "u-hank", "pay__refund", "{\"currency\": \"usd\", \"amount\": 500}",
     true, "allowed", "allows", "G9", 0, "the condition `currency eq \"usd\"` holds", "destructive",
     "group:g-cur:Currency"},
    {"grants add up: the first one's condition fails, the second one allows", "u-hank",
     "pay__refund", "{\"currency\": \"eur\", \"amount\": 50}", true, "allowed", "allows", "G10", -1,
     "the condition `amount le 100` holds", "destructive", "user:u-hank:hank"},

    /* expiry */
    {"an expired grant does not allow", "u-erin", "pay__refund", "{\"amount\": 1}", false,
     "grants_failed", "expired", "G7", -1, "the grant expired at 2020-01-01T00:00:00",
     "destructive", NULL},

    /* subjects */
    {"a grant to everyone", "u-gina", "code__read_file", NULL, true, "allowed", "allows", "G5", 0,
     NULL, "read", "everyone"},
    {"a grant to everyone reaches users with groups too", "u-ivan", "code__read_file", NULL, true,
     "allowed", "allows", "G5", 0, NULL, "read", "everyone"},
    {"a user grant", "u-erin", "pay__note", "{}", true, "allowed", "allows", "G6", -1, NULL,
     "write", "user:u-erin:erin"},
    {"no grant covers the tool", "u-gina", "pay__charges", NULL, false, "no_grant", "", "", -1,
     NULL, "read", NULL},
    {"a pack that does not name the tool", "u-erin", "code__write_file", NULL, false, "no_grant",
     "", "", -1, NULL, "write", NULL},

    /* users */
    {"an inactive user", "u-carol", "code__read_file", NULL, false, "user_inactive", "", "", -1,
     NULL, "read", NULL},
    {"a user that never existed", "u-nobody", "code__read_file", NULL, false, "user_not_found", "",
     "", -1, NULL, "none", NULL},
    {"an empty user id", "", "code__read_file", NULL, false, "user_not_found", "", "", -1, NULL,
     "none", NULL},
    {"a userName is not an id", "alice", "pay__charges", NULL, false, "user_not_found", "", "", -1,
     NULL, "none", NULL},

    /* tools */
    {"an unknown tool of a known connector", "u-bob", "code__nope", NULL, false, "unknown_tool", "",
     "", -1, NULL, "none", NULL},
    {"an unknown connector", "u-bob", "nope__read", NULL, false, "unknown_tool", "", "", -1, NULL,
     "none", NULL},
    {"a pattern is not a tool", "u-alice", "pay__*", NULL, false, "unknown_tool", "", "", -1, NULL,
     "none", NULL},
    {"an empty tool name", "u-alice", "", NULL, false, "unknown_tool", "", "", -1, NULL, "none",
     NULL},
};

static void check_case(const struct dcase *c)
{
    struct access_decision d;
    char buf[512];

    fx_decide(c->user, c->tool, c->args, &d);
    cr_expect_eq(d.allowed, c->allowed, "%s: allowed %d", c->desc, d.allowed);
    cr_expect_str_eq(access_reason_name(d.reason), c->reason, "%s", c->desc);
    if (c->outcomes) {
        fx_outcomes(&d, buf, sizeof buf);
        cr_expect_str_eq(buf, c->outcomes, "%s: outcomes", c->desc);
    }
    cand_labels(&d, buf, sizeof buf);
    cr_expect_str_eq(buf, c->grants, "%s: grants", c->desc);
    cr_expect_str_eq(access_level_name(d.level), c->level, "%s: level", c->desc);
    cr_expect_str_eq(d.user_id, c->user, "%s", c->desc);
    cr_expect_str_eq(d.tool, c->tool, "%s", c->desc);
    cr_expect_leq(d.ncands, d.ncands_total, "%s", c->desc);
    if (c->nested >= 0 && d.ncands > 0)
        cr_expect_eq(d.cands[0].nested, c->nested == 1, "%s: nested", c->desc);
    if (c->detail)
        cr_expect(any_detail(&d, c->detail), "%s: no detail has \"%s\" (first: \"%s\")", c->desc,
                  c->detail, d.ncands ? d.cands[0].detail : "");
    if (c->allowed) {
        cr_expect_eq(d.ncands, 1, "%s", c->desc);
        cr_expect_eq(d.cands[0].outcome, ACCESS_OUTCOME_ALLOWS, "%s", c->desc);
    }
    if (c->subject && d.ncands > 0) {
        subject_of(&d.cands[0], buf, sizeof buf);
        cr_expect_str_eq(buf, c->subject, "%s: subject", c->desc);
    }
    for (size_t i = 0; i < d.ncands; i++)
        cr_expect_neq(d.cands[i].detail[0], '\0', "%s: candidate %zu has no detail", c->desc, i);
}

Test(test_decide, table)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

/* The table once more: every answer now comes from the caches, and must not change. */
Test(test_decide, table_twice_from_the_caches)
{
    struct access_stats st0, st;

    access_stats_get(fx.a, &st0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    access_stats_get(fx.a, &st);
    cr_expect_gt(st.user_hits, 0);
    /* Once, because the last grant of the world made the policy stale. */
    cr_expect_eq(st.policy_builds, st0.policy_builds + 1,
                 "the policy did not change, but was read %llu times",
                 (unsigned long long)(st.policy_builds - st0.policy_builds));
}

/*
 * The explanation names the ceiling that refused: G3 gives pack code (code__* at write) with a
 * grant ceiling of read, so code__write_file is refused by the grant's ceiling, not the pack's.
 * Today decide.c describe() says "of pack <name>" whenever the grant has a pack, which sends an
 * admin to edit a pack that already allows the call. When the pack is the lower one, it is named.
 */
Test(test_decide, the_ceiling_that_refused_is_named)
{
    struct access_decision d;

    fx_decide("u-bob", "code__write_file", NULL, &d);
    cr_assert_eq(d.ncands, 1);
    cr_expect_str_eq(d.cands[0].detail,
                     "code__write_file is a write tool, above the ceiling read of the grant");
    fx_decide("u-alice", "pay__note", NULL, &d);
    cr_assert_eq(d.ncands, 1);
    cr_expect_str_eq(d.cands[0].detail,
                     "pay__note is a write tool, above the ceiling read of pack payread");
    fx_grant("GL", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"},"
                   " \"tool\": \"pay__note\", \"level\": \"read\"}");
    fx_decide("u-gina", "pay__note", NULL, &d);
    cr_assert_eq(d.ncands, 1);
    cr_expect_str_eq(d.cands[0].detail,
                     "pay__note is a write tool, above the ceiling read of the grant");
}

Test(test_decide, the_user_name_is_reported)
{
    struct access_decision d;

    fx_decide("u-alice", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_name, "alice");
    fx_decide("u-carol", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_name, "carol");
    fx_decide("u-nobody", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_name, "");
}

Test(test_decide, a_candidate_carries_the_lowest_ceiling_on_its_path)
{
    struct access_decision d;

    fx_decide("u-bob", "code__write_file", NULL, &d); /* pack code at write, grant at read */
    cr_assert_eq(d.ncands, 1);
    cr_expect_eq(d.cands[0].ceiling, ACCESS_READ);
    cr_expect_str_eq(d.cands[0].pack, "code");
    fx_decide("u-alice", "pay__refund", "{\"amount\": 1}", &d);
    cr_assert_eq(d.ncands, 1);
    cr_expect_eq(d.cands[0].ceiling, ACCESS_DESTRUCTIVE);
    cr_expect_str_eq(d.cands[0].pack, "finance");
    fx_decide("u-frank", "code__write_file", NULL, &d); /* a single tool, no level */
    cr_assert_eq(d.ncands, 1);
    cr_expect_eq(d.cands[0].ceiling, ACCESS_DESTRUCTIVE);
    cr_expect_str_eq(d.cands[0].pack, "");
}

/* ---- changes seen by the very next decision ---- */

static void expect_decision(const char *user, const char *tool, const char *args, bool allowed,
                            const char *reason, const char *why)
{
    struct access_decision d;

    fx_decide(user, tool, args, &d);
    cr_expect_eq(d.allowed, allowed, "%s: %s %s", why, user, tool);
    cr_expect_str_eq(access_reason_name(d.reason), reason, "%s: %s %s", why, user, tool);
}

Test(test_decide, removal_from_a_group_is_seen_at_once)
{
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "before");
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "cached");
    fx_unmember("g-finapp", "u-alice");
    expect_decision("u-alice", "pay__charges", NULL, false, "no_grant", "after removal");
    expect_decision("u-alice", "pay__refund", "{\"amount\": 1}", false, "no_grant",
                    "after removal");
    /* Her fellow member keeps the grant: only her entry was dropped. */
    expect_decision("u-alice2", "pay__charges", NULL, true, "allowed", "the other member");
    fx_member("g-finapp", "u-alice", STORE_MEMBER_USER);
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "added back");
}

Test(test_decide, deactivation_is_seen_at_once)
{
    expect_decision("u-bob", "code__read_file", NULL, true, "allowed", "before");
    fx_set_active("u-bob", false);
    expect_decision("u-bob", "code__read_file", NULL, false, "user_inactive", "deactivated");
    fx_set_active("u-bob", true);
    expect_decision("u-bob", "code__read_file", NULL, true, "allowed", "reactivated");
}

Test(test_decide, deletion_is_seen_at_once)
{
    expect_decision("u-bob", "code__read_file", NULL, true, "allowed", "before");
    fx_delete(STORE_USERS, "u-bob");
    expect_decision("u-bob", "code__read_file", NULL, false, "user_not_found", "deleted");
}

Test(test_decide, a_user_created_after_a_denial_is_seen)
{
    expect_decision("u-new", "code__read_file", NULL, false, "user_not_found", "before");
    fx_user("u-new", "newcomer", true);
    expect_decision("u-new", "code__read_file", NULL, true, "allowed", "created");
}

Test(test_decide, a_deleted_group_no_longer_grants)
{
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "before");
    expect_decision("u-alice", "pay__refund", "{\"amount\": 1}", true, "allowed", "before");
    fx_delete(STORE_GROUPS, "g-finapp");
    expect_decision("u-alice", "pay__charges", NULL, false, "no_grant", "group deleted");
    expect_decision("u-alice", "pay__refund", "{\"amount\": 1}", false, "no_grant",
                    "group deleted");
}

Test(test_decide, nesting_changes_are_seen_at_once)
{
    struct access_decision d;

    expect_decision("u-ivan", "pay__charges", NULL, false, "no_grant", "before");
    fx_member("g-fin", "g-sub", STORE_MEMBER_GROUP);
    fx_decide("u-ivan", "pay__charges", NULL, &d);
    cr_expect(d.allowed, "g-sub put into g-fin");
    cr_expect_eq(d.ncands, 1);
    cr_expect_str_eq(label_of(d.cands[0].grant_id), "G1");
    cr_expect(d.cands[0].nested);
    fx_unmember("g-fin", "g-sub");
    expect_decision("u-ivan", "pay__charges", NULL, false, "no_grant", "g-sub taken out");

    /* Two levels down: g-sub into g-finapp, which is in g-fin. */
    fx_member("g-finapp", "g-sub", STORE_MEMBER_GROUP);
    expect_decision("u-ivan", "pay__charges", NULL, true, "allowed", "two levels");
    expect_decision("u-ivan", "pay__refund", "{\"amount\": 1}", true, "allowed", "two levels");

    /* And cutting the middle link takes the top group's grant away from everyone below. */
    fx_unmember("g-fin", "g-finapp");
    expect_decision("u-ivan", "pay__charges", NULL, false, "no_grant", "middle link cut");
    expect_decision("u-alice", "pay__charges", NULL, false, "no_grant", "middle link cut");
    expect_decision("u-alice", "pay__refund", "{\"amount\": 1}", true, "allowed",
                    "the direct group's grant stays");
}

Test(test_decide, a_longer_cycle_terminates)
{
    struct access_decision d;

    fx_group("g-c1", "C1");
    fx_group("g-c2", "C2");
    fx_group("g-c3", "C3");
    fx_member("g-c1", "g-c2", STORE_MEMBER_GROUP);
    fx_member("g-c2", "g-c3", STORE_MEMBER_GROUP);
    fx_member("g-c3", "g-c1", STORE_MEMBER_GROUP);
    fx_member("g-c3", "u-gina", STORE_MEMBER_USER);
    fx_grant("GC",
             "{\"subject\": {\"type\": \"group\", \"id\": \"g-c1\"}, \"tool\": \"pay__note\"}");
    fx_decide("u-gina", "pay__note", NULL, &d);
    cr_expect(d.allowed);
    cr_expect(d.cands[0].nested);
    cr_expect_str_eq(d.cands[0].subject_name, "C1");
}

/*
 * The explanation names the group as it is called now. A group's own changes
 * (STORE_CHANGE_GROUP) are ignored by cache.c, but the cached user entry holds the names of
 * its groups, so today a renamed group keeps its old name in explanations (and in the audit
 * trail that records them) until something else drops the entry.
 */
Test(test_decide, a_renamed_group_is_named_anew)
{
    struct md_error e = {0};
    struct access_decision d;
    struct store_conn *c;
    struct store_row r;

    fx_decide("u-alice", "pay__charges", NULL, &d);
    cr_assert(d.allowed);
    cr_expect_str_eq(d.cands[0].subject_name, "Finance");
    c = fx_conn();
    cr_assert_eq(store_res_get(c, STORE_GROUPS, "g-fin", &r, &e), MD_OK, "%s", e.msg);
    free(r.display_name);
    r.display_name = strdup("Money");
    free(r.doc);
    r.doc = strdup("{\"displayName\":\"Money\"}");
    cr_assert(r.display_name && r.doc);
    cr_assert_eq(store_res_update(c, STORE_GROUPS, &r, -1, NULL, &e), MD_OK, "%s", e.msg);
    store_row_free(&r);
    store_release(c);
    fx_decide("u-alice", "pay__charges", NULL, &d);
    cr_assert(d.allowed);
    cr_expect_str_eq(d.cands[0].subject_name, "Money");
}

Test(test_decide, a_level_override_is_seen_at_once)
{
    struct md_error e = {0};
    struct access_decision d;
    json_t *up = fx_json("{\"levels\": {\"pay__charges\": \"write\"}}");
    json_t *down = fx_json("{\"levels\": {\"pay__refund\": \"read\"}}");
    json_t *reset = fx_json("{\"levels\": {\"pay__charges\": null, \"pay__refund\": null}}");

    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "before");
    cr_assert_eq(access_connector_override(fx.a, "pay", up, NULL, &e), MD_OK, "%s", e.msg);
    fx_decide("u-alice", "pay__charges", NULL, &d);
    cr_expect_not(d.allowed, "raised above the pack's ceiling");
    cr_expect_eq(d.level, ACCESS_WRITE);
    cr_expect_eq(d.ncands, 1);
    cr_expect_eq(d.cands[0].outcome, ACCESS_OUTCOME_ABOVE_CEILING);

    /* Lowered: the read pack now reaches the refund, without a condition. */
    cr_assert_eq(access_connector_override(fx.a, "pay", down, NULL, &e), MD_OK, "%s", e.msg);
    fx_decide("u-alice", "pay__refund", NULL, &d);
    cr_expect(d.allowed, "lowered to read");
    cr_expect_eq(d.level, ACCESS_READ);
    cr_expect_str_eq(label_of(d.cands[0].grant_id), "G1");

    cr_assert_eq(access_connector_override(fx.a, "pay", reset, NULL, &e), MD_OK, "%s", e.msg);
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "reset");
    expect_decision("u-alice", "pay__refund", NULL, false, "grants_failed", "reset");
    json_decref(up);
    json_decref(down);
    json_decref(reset);
}

Test(test_decide, grant_changes_are_seen_at_once)
{
    struct md_error e = {0};
    json_t *doc;

    /* Deletion. */
    expect_decision("u-frank", "code__write_file", NULL, true, "allowed", "before");
    cr_assert_eq(access_grant_delete(fx.a, fx_gid("G4"), &e), MD_OK, "%s", e.msg);
    expect_decision("u-frank", "code__write_file", NULL, false, "no_grant", "grant deleted");

    /* Creation. */
    expect_decision("u-gina", "pay__charges", NULL, false, "no_grant", "before");
    fx_grant("GN", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"},"
                   " \"tool\": \"pay__charges\"}");
    expect_decision("u-gina", "pay__charges", NULL, true, "allowed", "grant created");

    /* Replacement: a ceiling added to G6. */
    expect_decision("u-erin", "pay__note", NULL, true, "allowed", "before");
    doc = fx_json("{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"}, \"pack\": \"notes\","
                  " \"level\": \"read\"}");
    cr_assert_eq(access_grant_put(fx.a, fx_gid("G6"), doc, 0, "tester", NULL, &e), MD_OK, "%s",
                 e.msg);
    expect_decision("u-erin", "pay__note", NULL, false, "grants_failed", "grant replaced");
    json_decref(doc);
}

Test(test_decide, a_replaced_pack_is_seen_at_once)
{
    struct md_error e = {0};
    json_t *doc = fx_json("{\"name\": \"notes\", \"title\": \"Notes\","
                          " \"tools\": [{\"tool\": \"pay__note\", \"level\": \"read\"},"
                          "             {\"tool\": \"pay__charges\", \"level\": \"read\"}]}");

    expect_decision("u-erin", "pay__note", NULL, true, "allowed", "before");
    cr_assert_eq(access_pack_put(fx.a, "notes", doc, 0, NULL, &e), MD_OK, "%s", e.msg);
    expect_decision("u-erin", "pay__note", NULL, false, "grants_failed", "pack replaced");
    /* The new entry reaches pay__charges: G8's broken condition fails, the pack allows. */
    expect_decision("u-erin", "pay__charges", NULL, true, "allowed", "pack replaced");
    json_decref(doc);
}

Test(test_decide, a_replaced_connector_is_seen_at_once)
{
    expect_decision("u-alice", "pay__charges", NULL, true, "allowed", "before");
    fx_connector("pay", "refund:destructive,note:write,export:read");
    expect_decision("u-alice", "pay__charges", NULL, false, "unknown_tool", "tool removed");
    expect_decision("u-alice", "pay__export", NULL, true, "allowed", "tool added under pay__*");
}

/* ---- the decision as JSON ---- */

static json_t *decision_json(const char *user, const char *tool, const char *args)
{
    struct access_decision d;
    json_t *j;

    fx_decide(user, tool, args, &d);
    j = access_decision_json(&d);
    cr_assert_not_null(j);
    return j;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "(absent)";
}

Test(test_decide, json_of_an_allowed_decision)
{
    json_t *j = decision_json("u-alice", "pay__charges", NULL);
    const json_t *g = json_object_get(j, "grant"), *subj = json_object_get(g, "subject");
    char want[256];

    cr_expect(json_is_true(json_object_get(j, "allowed")));
    cr_expect_str_eq(jstr(j, "reason"), "allowed");
    snprintf(want, sizeof want,
             "allowed by grant %s to group Finance (a nested group) through pack payread",
             fx_gid("G1"));
    cr_expect_str_eq(jstr(j, "message"), want);
    cr_expect_str_eq(jstr(json_object_get(j, "user"), "id"), "u-alice");
    cr_expect_str_eq(jstr(json_object_get(j, "user"), "userName"), "alice");
    cr_expect_str_eq(jstr(j, "tool"), "pay__charges");
    cr_expect_str_eq(jstr(j, "level"), "read");
    cr_assert(json_is_object(g));
    cr_expect_str_eq(jstr(g, "grant"), fx_gid("G1"));
    cr_expect_str_eq(jstr(g, "pack"), "payread");
    cr_expect_str_eq(jstr(g, "ceiling"), "read");
    cr_expect_str_eq(jstr(g, "result"), "allows");
    cr_expect(strlen(jstr(g, "detail")) > 0);
    cr_expect_str_eq(jstr(subj, "type"), "group");
    cr_expect_str_eq(jstr(subj, "id"), "g-fin");
    cr_expect_str_eq(jstr(subj, "display"), "Finance");
    cr_expect(json_is_true(json_object_get(subj, "nested")));
    cr_expect_null(json_object_get(j, "candidates"));
    json_decref(j);

    j = decision_json("u-gina", "code__read_file", NULL);
    snprintf(want, sizeof want, "allowed by grant %s to everyone", fx_gid("G5"));
    cr_expect_str_eq(jstr(j, "message"), want);
    subj = json_object_get(json_object_get(j, "grant"), "subject");
    cr_expect_str_eq(jstr(subj, "type"), "everyone");
    cr_expect_null(json_object_get(subj, "id"));
    cr_expect_null(json_object_get(json_object_get(j, "grant"), "pack"));
    json_decref(j);
}

Test(test_decide, json_of_a_denial_by_grants)
{
    json_t *j = decision_json("u-alice", "pay__refund", "{\"amount\": 60000}");
    const json_t *cands = json_object_get(j, "candidates");

    cr_expect(json_is_false(json_object_get(j, "allowed")));
    cr_expect_str_eq(jstr(j, "reason"), "grants_failed");
    cr_expect(strstr(jstr(j, "message"), "2 grants cover pay__refund"), "%s", jstr(j, "message"));
    cr_expect_null(json_object_get(j, "grant"));
    cr_expect_null(json_object_get(j, "candidates_omitted"));
    cr_assert_eq(json_array_size(cands), 2);
    cr_expect_str_eq(jstr(json_array_get(cands, 0), "grant"), fx_gid("G1"));
    cr_expect_str_eq(jstr(json_array_get(cands, 0), "result"), "level_above_ceiling");
    cr_expect_str_eq(jstr(json_array_get(cands, 1), "grant"), fx_gid("G2"));
    cr_expect_str_eq(jstr(json_array_get(cands, 1), "result"), "condition_false");
    cr_expect_str_eq(jstr(json_array_get(cands, 1), "ceiling"), "destructive");
    cr_expect(json_is_false(
        json_object_get(json_object_get(json_array_get(cands, 1), "subject"), "nested")));
    json_decref(j);
}

Test(test_decide, json_of_other_denials)
{
    json_t *j = decision_json("u-nobody", "pay__refund", NULL);

    cr_expect_str_eq(jstr(j, "reason"), "user_not_found");
    cr_expect(strstr(jstr(j, "message"), "u-nobody"), "%s", jstr(j, "message"));
    cr_expect_str_eq(jstr(json_object_get(j, "user"), "id"), "u-nobody");
    cr_expect_null(json_object_get(json_object_get(j, "user"), "userName"));
    cr_expect_null(json_object_get(j, "level"));
    cr_expect_null(json_object_get(j, "grant"));
    cr_expect_null(json_object_get(j, "candidates"));
    json_decref(j);

    j = decision_json("u-carol", "code__read_file", NULL);
    cr_expect_str_eq(jstr(j, "reason"), "user_inactive");
    cr_expect(strstr(jstr(j, "message"), "carol"), "%s", jstr(j, "message"));
    cr_expect_null(json_object_get(j, "candidates"));
    json_decref(j);

    j = decision_json("u-bob", "code__nope", NULL);
    cr_expect_str_eq(jstr(j, "reason"), "unknown_tool");
    cr_expect(strstr(jstr(j, "message"), "code__nope"), "%s", jstr(j, "message"));
    json_decref(j);

    j = decision_json("u-gina", "pay__charges", NULL);
    cr_expect_str_eq(jstr(j, "reason"), "no_grant");
    cr_expect(strstr(jstr(j, "message"), "pay__charges"), "%s", jstr(j, "message"));
    cr_expect_null(json_object_get(j, "candidates"));
    json_decref(j);
}

Test(test_decide, more_candidates_than_the_decision_holds)
{
    struct access_decision d;
    const size_t n = ACCESS_CANDIDATES_MAX + 2;
    json_t *j;

    for (size_t i = 0; i < n; i++) {
        char label[16];
        snprintf(label, sizeof label, "M%zu", i);
        fx_grant(label, "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"},"
                        " \"tool\": \"pay__note\", \"level\": \"read\"}");
    }
    fx_decide("u-gina", "pay__note", NULL, &d);
    cr_expect_not(d.allowed);
    cr_expect_eq(d.ncands, ACCESS_CANDIDATES_MAX);
    cr_expect_eq(d.ncands_total, n);
    cr_expect_str_eq(label_of(d.cands[0].grant_id), "M0");
    cr_expect_str_eq(label_of(d.cands[ACCESS_CANDIDATES_MAX - 1].grant_id), "M15");
    j = access_decision_json(&d);
    cr_assert_not_null(j);
    cr_expect_eq(json_array_size(json_object_get(j, "candidates")), ACCESS_CANDIDATES_MAX);
    cr_expect_eq(json_integer_value(json_object_get(j, "candidates_omitted")), 2);
    json_decref(j);
}

Test(test_decide, reason_and_outcome_names)
{
    static const char *const reasons[] = {"allowed",      "user_not_found", "user_inactive",
                                          "unknown_tool", "no_grant",       "grants_failed"};
    static const char *const outcomes[] = {"allows", "expired", "level_above_ceiling",
                                           "condition_false", "condition_error"};

    for (int i = 0; i < 6; i++)
        cr_expect_str_eq(access_reason_name((enum access_reason)i), reasons[i]);
    for (int i = 0; i < 5; i++)
        cr_expect_str_eq(access_outcome_name((enum access_outcome)i), outcomes[i]);
}

/* ---- entitlements ---- */

static json_t *entitlements(const char *user, const char *pack, bool defs)
{
    struct md_error e = {0};
    json_t *out = NULL;

    cr_assert_eq(access_entitlements(fx.a, user, pack, defs, &out, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(out);
    return out;
}

/* The tool names of an entitlements document, "a,b,c", checking that they are sorted. */
static void tool_names(const json_t *ent, char *buf, size_t n)
{
    const json_t *tools = json_object_get(ent, "tools");
    size_t i, len = 0;
    json_t *t;
    const char *prev = "";

    buf[0] = '\0';
    json_array_foreach(tools, i, t)
    {
        const char *name = jstr(t, "name");
        cr_expect_lt(strcmp(prev, name), 0, "tools not sorted: %s before %s", prev, name);
        prev = name;
        if (len < n)
            len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "", name);
    }
}

static const json_t *tool_item(const json_t *ent, const char *name)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(ent, "tools"), i, t)
    {
        if (strcmp(jstr(t, "name"), name) == 0)
            return t;
    }
    cr_assert_fail("no tool %s in the entitlements", name);
    return NULL;
}

struct ecase {
    const char *desc;
    const char *user;
    const char *pack;
    const char *tools;
};

static const struct ecase ecases[] = {
    {"nested, direct and everyone grants; tools above every ceiling left out", "u-alice", NULL,
     "code__read_file,pay__charges,pay__refund"},
    {"one pack's tools", "u-alice", "finance", "pay__refund"},
    {"another pack's tools", "u-alice", "payread", "pay__charges"},
    {"a pack the user has no grant for", "u-alice", "code", ""},
    {"an unknown pack", "u-alice", "nope", ""},
    {"expired grants and broken conditions give nothing", "u-erin", NULL,
     "code__read_file,pay__note"},
    {"a grant ceiling below the pack's", "u-bob", NULL, "code__read_file"},
    {"a cycle", "u-frank", NULL, "code__read_file,code__write_file"},
    {"an inactive user may call nothing", "u-carol", NULL, ""},
    {"everyone only", "u-gina", NULL, "code__read_file"},
};

Test(test_decide, entitlements_table)
{
    char buf[512];

    for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
        json_t *ent = entitlements(ecases[i].user, ecases[i].pack, false);
        tool_names(ent, buf, sizeof buf);
        cr_expect_str_eq(buf, ecases[i].tools, "%s", ecases[i].desc);
        cr_expect_str_eq(jstr(json_object_get(ent, "user"), "id"), ecases[i].user);
        json_decref(ent);
    }
}

Test(test_decide, entitlements_document)
{
    json_t *ent = entitlements("u-alice", NULL, false);
    const json_t *user = json_object_get(ent, "user"), *groups = json_object_get(ent, "groups");
    const json_t *t, *g;
    size_t i;
    json_t *it;
    int seen = 0;

    cr_expect_str_eq(jstr(user, "userName"), "alice");
    cr_expect(json_is_true(json_object_get(user, "active")));
    cr_assert_eq(json_array_size(groups), 2);
    json_array_foreach(groups, i, it)
    {
        if (strcmp(jstr(it, "id"), "g-finapp") == 0) {
            cr_expect_str_eq(jstr(it, "displayName"), "Finance Approved");
            cr_expect(json_is_true(json_object_get(it, "direct")));
            seen |= 1;
        } else if (strcmp(jstr(it, "id"), "g-fin") == 0) {
            cr_expect_str_eq(jstr(it, "displayName"), "Finance");
            cr_expect(json_is_false(json_object_get(it, "direct")));
            seen |= 2;
        }
    }
    cr_expect_eq(seen, 3);

    t = tool_item(ent, "pay__refund");
    cr_expect_str_eq(jstr(t, "level"), "destructive");
    cr_expect_str_eq(jstr(t, "title"), "refund");
    cr_expect_null(json_object_get(t, "input_schema"));
    cr_expect_null(json_object_get(t, "description"));
    cr_assert_eq(json_array_size(json_object_get(t, "grants")), 1, "G1 is above its ceiling");
    g = json_array_get(json_object_get(t, "grants"), 0);
    cr_expect_str_eq(jstr(g, "id"), fx_gid("G2"));
    cr_expect_str_eq(jstr(g, "pack"), "finance");
    cr_expect_str_eq(jstr(g, "ceiling"), "destructive");
    cr_expect_str_eq(jstr(g, "condition"), "amount le 50000");
    cr_expect_null(json_object_get(g, "expires"));
    cr_expect_str_eq(jstr(json_object_get(g, "subject"), "id"), "g-finapp");
    cr_expect(json_is_false(json_object_get(json_object_get(g, "subject"), "nested")));

    t = tool_item(ent, "pay__charges");
    g = json_array_get(json_object_get(t, "grants"), 0);
    cr_expect_str_eq(jstr(g, "id"), fx_gid("G1"));
    cr_expect(json_is_true(json_object_get(json_object_get(g, "subject"), "nested")));
    cr_expect_null(json_object_get(g, "condition"));
    json_decref(ent);

    ent = entitlements("u-alice", "finance", true);
    t = tool_item(ent, "pay__refund");
    cr_expect_str_eq(jstr(t, "description"), "A tool of the tests.");
    cr_expect_str_eq(jstr(json_object_get(t, "input_schema"), "type"), "object");
    json_decref(ent);
}

Test(test_decide, entitlements_show_expiry_and_follow_changes)
{
    json_t *ent;
    const json_t *g;

    fx_grant("GX", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"},"
                   " \"tool\": \"pay__note\", \"expires\": \"2099-01-31T00:00:00Z\"}");
    ent = entitlements("u-gina", NULL, false);
    g = json_array_get(json_object_get(tool_item(ent, "pay__note"), "grants"), 0);
    cr_expect_str_eq(jstr(g, "expires"), "2099-01-31T00:00:00Z");
    cr_expect_str_eq(jstr(json_object_get(g, "subject"), "type"), "user");
    json_decref(ent);

    fx_set_active("u-gina", false);
    ent = entitlements("u-gina", NULL, false);
    cr_expect_eq(json_array_size(json_object_get(ent, "tools")), 0);
    cr_expect(json_is_false(json_object_get(json_object_get(ent, "user"), "active")));
    json_decref(ent);
}

Test(test_decide, entitlements_of_an_unknown_user)
{
    struct md_error e = {0};
    json_t *out = NULL;

    cr_expect_eq(access_entitlements(fx.a, "u-nobody", NULL, false, &out, &e), MD_ERR_NOTFOUND);
    cr_expect_null(out);
    cr_expect_eq(access_entitlements(fx.a, "", NULL, false, &out, &e), MD_ERR_NOTFOUND);
    cr_expect_null(out);
}

/* ---- finding a user ---- */

Test(test_decide, user_resolve)
{
    static const struct {
        const char *given;
        enum md_err err;
        const char *id;
    } rc[] = {
        {"u-alice", MD_OK, "u-alice"},    {"alice", MD_OK, "u-alice"},
        {"ALICE", MD_OK, "u-alice"},      {"Alice2", MD_OK, "u-alice2"},
        {"carol", MD_OK, "u-carol"},      {"nobody", MD_ERR_NOTFOUND, ""},
        {"alic", MD_ERR_NOTFOUND, ""},    {"", MD_ERR_NOTFOUND, ""},
        {"u-ALICE", MD_ERR_NOTFOUND, ""},
    };

    for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
        struct md_error e = {0};
        char id[64];

        memset(id, 'x', sizeof id);
        cr_expect_eq(access_user_resolve(fx.a, rc[i].given, id, &e), rc[i].err, "%s: %s",
                     rc[i].given, e.msg);
        cr_expect_str_eq(id, rc[i].id, "%s", rc[i].given);
    }
}

/*
 * A stored grant that validation would refuse (a subject type from a newer version, a level, an
 * expiry or conditions that do not parse) reaches nothing: not everyone, not every level, not
 * forever, not without its conditions.
 */
Test(test_decide, a_stored_grant_that_does_not_validate_reaches_nothing)
{
    static const char *const broken[] = {
        "{\"subject\": {\"type\": \"robots\"}, \"tool\": \"code__delete_repo\"}",
        "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\", \"level\": 3}",
        "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\", \"level\": "
        "\"all\"}",
        "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\", \"expires\": 0}",
        "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\","
        " \"expires\": \"soon\"}",
        "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\","
        " \"conditions\": [\"repo eq \\\"x\\\"\"]}",
    };
    struct access_decision d;
    char id[64], label[8];

    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-0000000001%02zu", i);
        snprintf(label, sizeof label, "B%zu", i);
        fx_raw_grant(label, id, broken[i]);
        fx_decide("u-gina", "code__delete_repo", "{\"repo\": \"x\"}", &d);
        cr_expect_not(d.allowed, "broken grant %zu allowed: %s", i, broken[i]);
        cr_expect_eq(d.reason, ACCESS_NO_GRANT, "broken grant %zu: %s", i,
                     access_reason_name(d.reason));
    }
    /* The same grant, valid, does allow: the table above tests what it thinks it tests. */
    fx_raw_grant("B99", "00000000-0000-4000-8000-000000000199",
                 "{\"subject\": {\"type\": \"everyone\"}, \"tool\": \"code__delete_repo\"}");
    fx_decide("u-gina", "code__delete_repo", "{\"repo\": \"x\"}", &d);
    cr_expect(d.allowed, "%s", access_reason_name(d.reason));
}

/* A decision scoped to a pack (an agent on /mcp/packs/{pack}) counts only that pack's grants. */
Test(test_decide, a_pack_scope_counts_only_grants_of_that_pack)
{
    static const struct {
        const char *tool, *pack, *args;
        bool allowed;
        enum access_reason reason;
        size_t ncands;
    } scoped[] = {
        {"pay__refund", "finance", "{\"amount\": 10}", true, ACCESS_ALLOWED, 1},
        {"pay__charges", "finance", NULL, false, ACCESS_NO_GRANT, 0},
        {"pay__charges", "payread", NULL, true, ACCESS_ALLOWED, 1},
        /* Under payread alone, the refund meets only G1's read ceiling. */
        {"pay__refund", "payread", "{\"amount\": 10}", false, ACCESS_GRANTS_FAILED, 1},
        {"pay__refund", "code", "{\"amount\": 10}", false, ACCESS_NO_GRANT, 0},
        {"pay__refund", NULL, "{\"amount\": 10}", true, ACCESS_ALLOWED, 1},
        {"pay__refund", "", "{\"amount\": 10}", true, ACCESS_ALLOWED, 1},
    };
    struct access_decision d;
    struct md_error e = {0};

    for (size_t i = 0; i < sizeof scoped / sizeof scoped[0]; i++) {
        json_t *a = scoped[i].args ? fx_json(scoped[i].args) : NULL;
        json_t *j;

        cr_assert_eq(access_decide(fx.a, "u-alice", scoped[i].tool, scoped[i].pack, a, &d, &e),
                     MD_OK, "%s", e.msg);
        json_decref(a);
        cr_expect_eq(d.allowed, scoped[i].allowed, "case %zu", i);
        cr_expect_eq(d.reason, scoped[i].reason, "case %zu: %s", i, access_reason_name(d.reason));
        cr_expect_eq(d.ncands, scoped[i].ncands, "case %zu", i);
        if (scoped[i].pack && scoped[i].pack[0] && d.allowed)
            cr_expect_str_eq(d.cands[0].pack, scoped[i].pack, "case %zu", i);
        j = access_decision_json(&d);
        cr_assert_not_null(j);
        if (scoped[i].pack && scoped[i].pack[0]) {
            cr_expect_str_eq(json_string_value(json_object_get(j, "pack")), scoped[i].pack);
            if (d.reason == ACCESS_NO_GRANT)
                cr_expect(strstr(json_string_value(json_object_get(j, "message")),
                                 scoped[i].pack) != NULL,
                          "case %zu", i);
        } else {
            cr_expect_null(json_object_get(j, "pack"));
        }
        json_decref(j);
    }
}

/* A user whose resource holds emails (JSON text), as SCIM stores it. */
static void user_with_emails(const char *id, const char *user_name, const char *emails)
{
    struct md_error e = {0};
    struct store_conn *c = fx_conn();
    struct store_row r;
    char doc[512];

    memset(&r, 0, sizeof r);
    snprintf(doc, sizeof doc,
             "{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"], \"id\": \"%s\", "
             "\"userName\": \"%s\", \"emails\": %s}",
             id, user_name, emails);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.doc = doc;
    r.user_name = (char *)(uintptr_t)user_name;
    r.active = true;
    cr_assert_eq(store_res_insert(c, STORE_USERS, &r, &e), MD_OK, "%s", e.msg);
    store_release(c);
}

/* The connector runtime's {caller.email}: the primary emails[] value, else the userName. */
Test(test_decide, the_user_email_is_the_primary_one)
{
    struct access_decision d;

    user_with_emails(
        "u-pri", "pri@corp.example",
        "[{\"value\": \"home@example.net\", \"type\": \"home\"}, "
        "{\"value\": \"Pri.Mary@corp.example\", \"type\": \"work\", \"primary\": true}]");
    user_with_emails("u-nopri", "nopri@corp.example",
                     "[{\"value\": \"other@corp.example\", \"type\": \"work\"}]");
    fx_decide("u-pri", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_email, "Pri.Mary@corp.example");
    cr_expect_str_eq(d.user_name, "pri@corp.example");
    fx_decide("u-nopri", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_email, "nopri@corp.example");
    fx_decide("u-alice", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_email, "alice");
    fx_decide("u-nobody", "pay__charges", NULL, &d);
    cr_expect_str_eq(d.user_email, "");
}
