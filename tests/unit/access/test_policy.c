/*
 * The policy snapshot and the user cache (policy.c, cache.c), seen from inside (access_int.h):
 * entitlements are interned per set of grants, so users who reach the same grants share one;
 * the statistics count what the caches did: a repeated decision is a hit, a change to a user
 * drops that user's entry alone, a change to nesting makes every entry stale, and a change to
 * the policy is re-evaluated without reading the directory again.
 */
#include "access_fixture.h"

TestSuite(test_policy, .init = fx_world, .fini = fx_close);

/* The user's cache entry (a reference, released by the caller). */
static struct uentry *entry(const char *id)
{
    struct md_error e = {0};
    struct uentry *u = NULL;

    cr_assert_eq(access__user(fx.a, id, &u, NULL, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(u);
    return u;
}

/* Pairs of users and whether they must share one entitlement. */
struct scase {
    const char *a, *b;
    bool shared;
    const char *why;
};

static const struct scase scases[] = {
    {"u-alice", "u-alice2", true, "members of the same group"},
    {"u-bob", "u-carol", true, "same group; activity is not part of the entitlement"},
    {"u-gina", "u-ivan", true, "only the grant to everyone reaches either"},
    {"u-alice", "u-bob", false, "different groups"},
    {"u-gina", "u-erin", false, "erin has grants of her own"},
    {"u-hank", "u-gina", false, "hank has a group grant and a user grant"},
};

static void check_sharing(void)
{
    for (size_t i = 0; i < sizeof scases / sizeof scases[0]; i++) {
        struct uentry *a = entry(scases[i].a), *b = entry(scases[i].b);

        cr_expect_not_null(a->ent, "%s", scases[i].a);
        cr_expect_not_null(b->ent, "%s", scases[i].b);
        cr_expect_eq(a->policy_gen, b->policy_gen, "%s", scases[i].why);
        if (scases[i].shared)
            cr_expect_eq(a->ent, b->ent, "%s and %s: %s", scases[i].a, scases[i].b, scases[i].why);
        else
            cr_expect_neq(a->ent, b->ent, "%s and %s: %s", scases[i].a, scases[i].b, scases[i].why);
        uentry_unref(a);
        uentry_unref(b);
    }
}

Test(test_policy, entitlements_are_shared_by_users_with_the_same_grants)
{
    check_sharing();
}

Test(test_policy, sharing_survives_a_policy_change)
{
    struct uentry *before = entry("u-alice"), *after;

    fx_grant("GP", "{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"},"
                   " \"tool\": \"code__write_file\"}");
    after = entry("u-alice");
    cr_expect_neq(before->policy_gen, after->policy_gen, "a new grant makes a new policy");
    uentry_unref(before);
    uentry_unref(after);
    check_sharing();
}

Test(test_policy, a_new_group_grant_splits_the_sharing)
{
    struct uentry *a, *b;

    fx_member("g-cur", "u-alice2", STORE_MEMBER_USER);
    a = entry("u-alice");
    b = entry("u-alice2");
    cr_expect_neq(a->ent, b->ent, "alice2 is now also reached by G9");
    uentry_unref(a);
    uentry_unref(b);
}

Test(test_policy, an_entitlement_lists_a_grant_once_per_tool)
{
    struct md_error e = {0};
    struct policy *p = NULL;
    struct uentry *u = NULL;
    const struct ent_tool *t;

    cr_assert_eq(access__user(fx.a, "u-erin", &u, &p, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(policy_tool(p, "pay__note"));
    t = entitlement_tool(p, u->ent, policy_tool(p, "pay__note"));
    /* notes names pay__note twice; G6 is one candidate at the higher ceiling. */
    cr_assert_not_null(t);
    cr_expect_eq(t->n, 1);
    cr_expect_eq(u->ent->cands[t->first].ceiling, ACCESS_WRITE);
    cr_expect_null(policy_tool(p, "pay__nope"));
    for (size_t i = 1; i < u->ent->ntools; i++)
        cr_expect_lt(
            strcmp(p->tools[u->ent->tools[i - 1].tool].name, p->tools[u->ent->tools[i].tool].name),
            0);
    uentry_unref(u);
    policy_unref(p);
}

Test(test_policy, pack_ceilings_and_patterns)
{
    struct md_error e = {0};
    struct policy *p = NULL;
    const struct ap_pack *pk;
    static const struct {
        const char *pack, *tool;
        enum access_level want;
    } pc[] = {
        {"payread", "pay__charges", ACCESS_READ},    {"payread", "pay__refund", ACCESS_READ},
        {"payread", "code__read_file", ACCESS_NONE}, {"notes", "pay__note", ACCESS_WRITE},
        {"notes", "pay__refund", ACCESS_NONE},       {"code", "code__delete_repo", ACCESS_WRITE},
    };
    static const struct {
        const char *pattern, *tool;
        bool want;
    } pm[] = {
        {"pay__*", "pay__refund", true},      {"pay__*", "pay__", false},
        {"pay__*", "payx__refund", false},    {"pay__*", "pa__refund", false},
        {"pay__refund", "pay__refund", true}, {"pay__refund", "pay__refunds", false},
        {"pay__*", "pay_x__refund", false},
    };

    cr_assert_eq(access__policy(fx.a, &p, &e), MD_OK, "%s", e.msg);
    for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
        const struct ap_tool *t = policy_tool(p, pc[i].tool);
        pk = policy_pack(p, pc[i].pack);
        cr_assert_not_null(pk, "%s", pc[i].pack);
        cr_assert_not_null(t, "%s", pc[i].tool);
        cr_expect_eq(policy_pack_ceiling(pk, t), pc[i].want, "%s in %s", pc[i].tool, pc[i].pack);
    }
    for (size_t i = 0; i < sizeof pm / sizeof pm[0]; i++)
        cr_expect_eq(access__pattern_matches(pm[i].pattern, pm[i].tool), pm[i].want, "%s ~ %s",
                     pm[i].pattern, pm[i].tool);
    cr_expect_null(policy_pack(p, "nope"));
    cr_expect_null(policy_tool(p, "pay__*"));
    policy_unref(p);
}

/* ---- statistics ---- */

static struct access_stats stats(void)
{
    struct access_stats st;
    access_stats_get(fx.a, &st);
    return st;
}

static void decide(const char *user)
{
    struct access_decision d;
    fx_decide(user, "pay__charges", NULL, &d);
}

Test(test_policy, statistics_count_what_the_caches_did)
{
    struct access_stats s0 = stats(), s;

    decide("u-alice");
    s = stats();
    cr_expect_eq(s.decisions, s0.decisions + 1);
    cr_expect_eq(s.user_misses, s0.user_misses + 1, "the first decision reads the user");
    cr_expect_eq(s.user_hits, s0.user_hits);
    cr_expect_eq(s.users_cached, 1);

    decide("u-alice");
    s = stats();
    cr_expect_eq(s.user_hits, s0.user_hits + 1, "the second decision is a hit");
    cr_expect_eq(s.user_misses, s0.user_misses + 1);

    decide("u-bob");
    decide("u-gina");
    s = stats();
    cr_expect_eq(s.users_cached, 3);
    cr_expect_eq(s.user_misses, s0.user_misses + 3);

    /* A USER change drops that one entry. */
    fx_set_active("u-alice", true);
    s = stats();
    cr_expect_eq(s.invalidations, s0.invalidations + 1, "one entry invalidated");
    cr_expect_eq(s.users_cached, 2);
    cr_expect_eq(s.flushes, s0.flushes);
    decide("u-bob");
    s = stats();
    cr_expect_eq(s.user_hits, s0.user_hits + 2, "bob's entry was kept");
    decide("u-alice");
    s = stats();
    cr_expect_eq(s.user_misses, s0.user_misses + 4, "alice is read again");

    /* A change to a user that is not cached drops nothing. */
    fx_set_active("u-hank", true);
    s = stats();
    cr_expect_eq(s.invalidations, s0.invalidations + 1);

    /* A NESTING change makes every entry stale: each is read again. */
    fx_member("g-fin", "g-sub", STORE_MEMBER_GROUP);
    s = stats();
    cr_expect_eq(s.flushes, s0.flushes + 1);
    decide("u-alice");
    decide("u-bob");
    decide("u-gina");
    s = stats();
    cr_expect_eq(s.user_misses, s0.user_misses + 7, "three stale entries read again");
    cr_expect_eq(s.user_hits, s0.user_hits + 2);
    decide("u-gina");
    s = stats();
    cr_expect_eq(s.user_hits, s0.user_hits + 3, "and cached again");

    /* A policy change rebuilds the policy once, and reads no user. */
    s0.policy_builds = s.policy_builds;
    fx_grant("GS", "{\"subject\": {\"type\": \"user\", \"id\": \"u-gina\"},"
                   " \"tool\": \"pay__note\"}");
    decide("u-alice");
    decide("u-bob");
    decide("u-gina");
    s = stats();
    cr_expect_eq(s.policy_builds, s0.policy_builds + 1);
    cr_expect_eq(s.user_misses, s0.user_misses + 7, "a policy change reads no user");
    cr_expect_eq(s.decisions, s0.decisions + 13);
}

Test(test_policy, a_membership_change_invalidates_the_member_only)
{
    struct access_stats s0, s;

    decide("u-alice");
    decide("u-alice2");
    decide("u-bob");
    s0 = stats();
    fx_unmember("g-finapp", "u-alice");
    s = stats();
    cr_expect_eq(s.invalidations, s0.invalidations + 1);
    cr_expect_eq(s.flushes, s0.flushes);
    cr_expect_eq(s.users_cached, s0.users_cached - 1);
}

Test(test_policy, a_policy_built_twice_is_the_same_policy)
{
    struct md_error e = {0};
    struct policy *p1 = NULL, *p2 = NULL;

    cr_assert_eq(access__policy(fx.a, &p1, &e), MD_OK, "%s", e.msg);
    cr_assert_eq(access__policy(fx.a, &p2, &e), MD_OK, "%s", e.msg);
    cr_expect_eq(p1, p2, "no change, no rebuild");
    cr_expect_eq(p1->ngrants, (size_t)fx.ngrants);
    cr_expect_eq(p1->ntools, 6);
    cr_expect_eq(p1->npacks, 4);
    for (size_t i = 0; i < p1->ngrants; i++)
        cr_expect_str_eq(p1->grants[i].id, fx.grants[i].id, "grants in creation order");
    policy_unref(p1);
    policy_unref(p2);
}
