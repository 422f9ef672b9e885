/*
 * The decision benchmark of issue 4: "decision latency from the cache with 100,000 users,
 * 10,000 groups, 1,000 grants: p50 under 5 microseconds and p99 under 50; the cost of
 * invalidation after a membership change."
 *
 * It builds a directory and a policy of that size in a fresh SQLite database through the store
 * and access interfaces (the calls the SCIM and admin layers make), then times every
 * access_decide with clock_gettime(CLOCK_MONOTONIC):
 *   1. the first decision of every user, which misses and reads the store, and so warms the
 *      cache;
 *   2. random (user, tool, arguments) decisions from the cache, on one thread, on one thread
 *      per CPU and on two per CPU (aggregate decisions/s), and probes that repeat alone what
 *      decisions share between threads: the policy mutex, the name cache's mutex and the
 *      global counters;
 *   3. invalidation: one user's membership change, a nesting change (every entry goes stale)
 *      and a grant change (the policy is rebuilt), the last also with a second thread deciding.
 * Everything random comes from one seeded generator, so two runs build the same directory and
 * ask the same questions. Grant ids are random UUIDs; they only break ties in grant order
 * between grants created in the same millisecond.
 *
 * The probes call access__policy and access__group_name, and the report counts the policy's
 * interned entitlements (access_int.h): the module's inside, read and never changed.
 *
 *   build/decision_bench [--users N] [--groups N] [--grants N] [--decisions N]
 *                        [--threads N] [--seed N] [--keep-db]
 * --threads is the "one per CPU" count (default: the online CPUs). The report goes to stdout.
 */
#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "access/access.h"
#include "access/access_int.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

#define BENCH_NAME "decision_bench"
#include "../bench_util.h"

#define ID_LEN 37
#define N_CONNECTORS 8
#define TOOLS_PER_CONNECTOR 10
#define N_TOOLS (N_CONNECTORS * TOOLS_PER_CONNECTOR)
#define N_PACKS 20
#define PACK_ENTRIES_MAX 4
#define N_ARGS 4
#define N_REASONS 6
#define BATCH 5000       /* rows per write transaction while populating */
#define INVAL_ROUNDS 100 /* membership add/remove pairs in phase 3 */
#define OTHERS_PER_ROUND 100

static const char *const connector_names[N_CONNECTORS] = {"crm",   "billing", "tickets", "wiki",
                                                          "repos", "chat",    "monitor", "hr"};

/* Five reads, three writes, two destructive tools per connector, as real APIs tend to be. */
static const struct {
    const char *name;
    const char *level;
} tool_defs[TOOLS_PER_CONNECTOR] = {
    {"list_records", "read"},       {"get_record", "read"},     {"search_records", "read"},
    {"get_report", "read"},         {"export_records", "read"}, {"create_record", "write"},
    {"update_record", "write"},     {"add_comment", "write"},   {"delete_record", "destructive"},
    {"issue_refund", "destructive"}};

static const char *const level_names[] = {"read", "write", "destructive"};

static const char *const conditions[] = {
    "amount le 50000", "amount le 50000 and currency eq \"usd\"", "amount lt 1000"};

struct cfg {
    long users, groups, grants, decisions;
    int threads;
    uint64_t seed;
    bool keep_db;
};

/* A pack entry: a whole connector (tool < 0) or one tool, with its ceiling (0 read .. 2). */
struct pspec {
    int nent;
    int conn[PACK_ENTRIES_MAX];
    int tool[PACK_ENTRIES_MAX];
    int level[PACK_ENTRIES_MAX];
};

/* What the benchmark made each grant, to find one for the correctness check of phase 3. */
struct gspec {
    enum access_subject type;
    long subject; /* user or group index */
    int pack;     /* -1: a single tool */
    int tool;
    bool ceiling, cond, expires;
};

struct world {
    struct cfg cfg;
    char (*user_ids)[ID_LEN];
    char (*group_ids)[ID_LEN];
    long ndept; /* groups 0..ndept-1 are departments: every user is in one */
    long memberships, nested, inactive;
    char tools[N_TOOLS][ACCESS_TOOL_NAME_MAX + 1];
    struct pspec packs[N_PACKS];
    struct gspec *grants;
    json_t *args[N_ARGS]; /* args[0] is NULL: a call without arguments */
    char dir[64];
    char url[128];
    struct store *store;
    struct access *access;
    uint64_t rng;
};

/* ---- small tools ---- */

static uint64_t rnd(uint64_t *s)
{
    /* splitmix64: fast, and good enough to pick users and tools. */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static long rnd_below(uint64_t *s, long n)
{
    return (long)(rnd(s) % (uint64_t)n);
}

static void check(enum md_err err, const struct md_error *e, const char *what)
{
    if (err)
        die(what, e);
}

/* A SCIM id as the service makes them (a v4 UUID), but from the seeded generator. */
static void make_id(uint64_t *s, char out[ID_LEN])
{
    uint64_t a = rnd(s), b = rnd(s);
    snprintf(out, ID_LEN, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
             (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
             (unsigned long long)(b & 0xffffffffffffULL));
}

/* ---- the machine: memory, and whether something else is using the CPUs ---- */

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    long v = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

struct cpu_snap {
    uint64_t wall_ns;
    double busy_s; /* every CPU's non-idle time, from /proc/stat */
    double self_s; /* this process's user and system time */
};

static void cpu_snap(struct cpu_snap *s)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[512];
    struct rusage ru;
    long hz = sysconf(_SC_CLK_TCK);

    memset(s, 0, sizeof *s);
    s->wall_ns = now_ns();
    if (f && fgets(line, sizeof line, f) && strncmp(line, "cpu ", 4) == 0) {
        /* user nice system idle iowait irq softirq steal: all but idle and iowait are busy. */
        char *p = line + 4, *end;
        unsigned long long v[8] = {0};
        for (int i = 0; i < 8; i++, p = end)
            v[i] = strtoull(p, &end, 10);
        s->busy_s = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)(hz > 0 ? hz : 100);
    }
    if (f)
        fclose(f);
    getrusage(RUSAGE_SELF, &ru);
    s->self_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* What the machine did between two snapshots: CPUs used by this process and by all others. */
struct machine {
    double wall_s, self, other, load;
};

static void machine_between(const struct cpu_snap *a, const struct cpu_snap *b, struct machine *m)
{
    double load[1] = {0};

    m->wall_s = (double)(b->wall_ns - a->wall_ns) / 1e9;
    if (m->wall_s <= 0)
        m->wall_s = 1e-9;
    m->self = (b->self_s - a->self_s) / m->wall_s;
    m->other = ((b->busy_s - a->busy_s) - (b->self_s - a->self_s)) / m->wall_s;
    if (m->other < 0)
        m->other = 0;
    getloadavg(load, 1);
    m->load = load[0];
}

/* Prints how many CPUs other processes kept busy between a and b (0 on a quiet machine). */
static void print_machine(const struct cpu_snap *a, const struct cpu_snap *b)
{
    struct machine m;

    machine_between(a, b, &m);
    printf("   [%.1f s; this process %.2f CPUs, other processes %.2f CPUs; load %.2f]\n", m.wall_s,
           m.self, m.other, m.load);
}

/* ---- latency summaries ---- */

struct summary {
    size_t n;
    double p50, p90, p99, p999, max, mean; /* microseconds */
};

/* Nearest rank on the sorted values. */
static double rank_us(const uint32_t *v, size_t n, double pct)
{
    size_t k = (size_t)((pct / 100.0) * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1] / 1000.0;
}

/* Sorts ns in place. */
static void summarize(uint32_t *ns, size_t n, struct summary *s)
{
    double sum = 0;

    memset(s, 0, sizeof *s);
    s->n = n;
    if (n == 0)
        return;
    qsort(ns, n, sizeof *ns, u32_cmp);
    for (size_t i = 0; i < n; i++)
        sum += ns[i];
    s->p50 = rank_us(ns, n, 50);
    s->p90 = rank_us(ns, n, 90);
    s->p99 = rank_us(ns, n, 99);
    s->p999 = rank_us(ns, n, 99.9);
    s->max = ns[n - 1] / 1000.0;
    s->mean = sum / (double)n / 1000.0;
}

static void print_head(void)
{
    printf("   %-40s %9s %8s %8s %8s %8s %9s %8s\n", "(microseconds)", "n", "p50", "p90", "p99",
           "p99.9", "max", "mean");
}

static void print_summary(const char *label, const struct summary *s)
{
    if (s->n == 0) {
        printf("   %-40s %9s\n", label, "0");
        return;
    }
    printf("   %-40s %9zu %8.2f %8.2f %8.2f %8.2f %9.1f %8.2f\n", label, s->n, s->p50, s->p90,
           s->p99, s->p999, s->max, s->mean);
}

static void summarize_print(const char *label, uint32_t *ns, size_t n, struct summary *out)
{
    struct summary s;
    summarize(ns, n, &s);
    print_summary(label, &s);
    if (out)
        *out = s;
}

static void print_stats(const char *label, const struct access_stats *s)
{
    printf("   access_stats %s: decisions %llu, hits %llu, misses %llu, policy builds %llu, "
           "invalidations %llu, flushes %llu, users cached %zu\n",
           label, (unsigned long long)s->decisions, (unsigned long long)s->user_hits,
           (unsigned long long)s->user_misses, (unsigned long long)s->policy_builds,
           (unsigned long long)s->invalidations, (unsigned long long)s->flushes, s->users_cached);
}

static void print_stats_delta(const char *label, const struct access_stats *a,
                              const struct access_stats *b)
{
    printf("   %s: decisions +%llu, hits +%llu, misses +%llu, policy builds +%llu, "
           "invalidations +%llu, flushes +%llu\n",
           label, (unsigned long long)(b->decisions - a->decisions),
           (unsigned long long)(b->user_hits - a->user_hits),
           (unsigned long long)(b->user_misses - a->user_misses),
           (unsigned long long)(b->policy_builds - a->policy_builds),
           (unsigned long long)(b->invalidations - a->invalidations),
           (unsigned long long)(b->flushes - a->flushes));
}

static double heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)(mi.uordblks + mi.hblkhd);
}

/* The resident set, and the part of it that malloc has handed out and not taken back. */
static void print_rss(const char *when)
{
    long rss = status_kb("VmRSS"), hwm = status_kb("VmHWM");
    struct mallinfo2 mi = mallinfo2();

    printf("   RSS %s: VmRSS %.1f MiB, VmHWM %.1f MiB; malloc in use %.1f MiB\n", when,
           rss / 1024.0, hwm / 1024.0, (double)(mi.uordblks + mi.hblkhd) / 1048576.0);
}

/* ---- one decision ---- */

struct call {
    uint32_t user;
    uint8_t tool;
    uint8_t args;
};

static void gen_calls(struct call *c, size_t n, long users, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        c[i].user = (uint32_t)rnd_below(s, users);
        c[i].tool = (uint8_t)rnd_below(s, N_TOOLS);
        c[i].args = (uint8_t)rnd_below(s, N_ARGS);
    }
}

/* Times one decision; *allowed and *reason (may be NULL) receive its outcome. */
static uint32_t timed_decide(struct world *w, const struct call *c, struct access_decision *d,
                             bool *allowed, uint8_t *reason)
{
    struct md_error e;
    uint64_t t0, t1;
    enum md_err err;

    md_error_clear(&e);
    t0 = now_ns();
    err = access_decide(w->access, w->user_ids[c->user], w->tools[c->tool], NULL, w->args[c->args],
                        d, &e);
    t1 = now_ns();
    check(err, &e, "access_decide");
    if (allowed)
        *allowed = d->allowed;
    if (reason)
        *reason = (uint8_t)d->reason;
    return clamp32(t1 - t0);
}

/* ---- building the world ---- */

static void insert_row(struct store_conn *c, enum store_kind k, const char *id, json_t *doc,
                       const char *user_name, const char *display, bool active)
{
    struct store_row r;
    struct md_error e;
    char *text = json_dumps(doc, JSON_COMPACT);
    char un[128], dn[128];

    if (!text)
        die("json_dumps", NULL);
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(un, sizeof un, "%s", user_name ? user_name : "");
    snprintf(dn, sizeof dn, "%s", display);
    r.doc = text;
    r.user_name = user_name ? un : NULL;
    r.display_name = dn;
    r.active = active;
    check(store_res_insert(c, k, &r, &e), &e, "store_res_insert");
    free(text);
    json_decref(doc);
}

static void add_member(struct store_conn *c, const char *group, const char *member,
                       enum store_member_type t, bool *added)
{
    struct md_error e;
    bool a = false;
    check(store_member_add(c, group, member, t, NULL, &a, &e), &e, "store_member_add");
    if (added)
        *added = a;
}

/* Commits the batch and starts the next one. */
static void next_batch(struct store_conn *c)
{
    struct md_error e;
    check(store_commit(c, &e), &e, "store_commit");
    check(store_begin(c, &e), &e, "store_begin");
}

static void populate_groups(struct world *w, struct store_conn *c)
{
    for (long g = 0; g < w->cfg.groups; g++) {
        char name[64];
        make_id(&w->rng, w->group_ids[g]);
        if (g < w->ndept)
            snprintf(name, sizeof name, "Department %03ld", g);
        else
            snprintf(name, sizeof name, "Team %05ld", g);
        insert_row(c, STORE_GROUPS, w->group_ids[g],
                   json_pack("{s:[s],s:s}", "schemas",
                             "urn:ietf:params:scim:schemas:core:2.0:Group", "displayName", name),
                   NULL, name, true);
        if ((g + 1) % BATCH == 0)
            next_batch(c);
    }
}

/* Each user: one department, then 0 to 4 teams picked uniformly; 1% are inactive. */
static void populate_users(struct world *w, struct store_conn *c)
{
    for (long u = 0; u < w->cfg.users; u++) {
        char un[64], given[32], family[32], disp[80];
        bool active = rnd_below(&w->rng, 100) != 0, added;
        long extra;

        make_id(&w->rng, w->user_ids[u]);
        snprintf(un, sizeof un, "user%06ld@example.com", u);
        snprintf(given, sizeof given, "Given%ld", u % 997);
        snprintf(family, sizeof family, "Family%ld", u);
        snprintf(disp, sizeof disp, "%s %s", given, family);
        w->inactive += !active;
        insert_row(c, STORE_USERS, w->user_ids[u],
                   json_pack("{s:[s],s:s,s:{s:s,s:s},s:s,s:[{s:s,s:s,s:b}],s:b}", "schemas",
                             "urn:ietf:params:scim:schemas:core:2.0:User", "userName", un, "name",
                             "givenName", given, "familyName", family, "displayName", disp,
                             "emails", "value", un, "type", "work", "primary", 1, "active", active),
                   un, disp, active);
        add_member(c, w->group_ids[rnd_below(&w->rng, w->ndept)], w->user_ids[u], STORE_MEMBER_USER,
                   &added);
        w->memberships += added;
        extra = rnd_below(&w->rng, 5);
        for (long k = 0; k < extra; k++) {
            long g = w->ndept + rnd_below(&w->rng, w->cfg.groups - w->ndept);
            add_member(c, w->group_ids[g], w->user_ids[u], STORE_MEMBER_USER, &added);
            w->memberships += added;
        }
        if ((u + 1) % BATCH == 0)
            next_batch(c);
    }
}

/* About 5% of the teams are nested into a department or into another team. */
static void populate_nesting(struct world *w, struct store_conn *c)
{
    long want = w->cfg.groups * 5 / 100;

    for (long i = 0; i < want; i++) {
        long child = w->ndept + rnd_below(&w->rng, w->cfg.groups - w->ndept);
        long parent = rnd_below(&w->rng, 2) ? rnd_below(&w->rng, w->ndept)
                                            : rnd_below(&w->rng, w->cfg.groups);
        bool added = false;
        if (parent != child)
            add_member(c, w->group_ids[parent], w->group_ids[child], STORE_MEMBER_GROUP, &added);
        w->nested += added;
    }
}

static void populate_directory(struct world *w)
{
    struct store_conn *c = NULL;
    struct md_error e;

    check(store_acquire(w->store, &c, &e), &e, "store_acquire");
    check(store_begin(c, &e), &e, "store_begin");
    populate_groups(w, c);
    next_batch(c);
    populate_users(w, c);
    populate_nesting(w, c);
    check(store_commit(c, &e), &e, "store_commit");
    store_release(c);
}

static json_t *connector_doc(int ci)
{
    const char *cn = connector_names[ci];
    json_t *tools = json_array();
    char title[64], url[96];

    for (int t = 0; t < TOOLS_PER_CONNECTOR; t++) {
        char ttitle[96], desc[160];
        snprintf(ttitle, sizeof ttitle, "%s: %s", cn, tool_defs[t].name);
        snprintf(desc, sizeof desc, "The %s operation of %s, for the benchmark.", tool_defs[t].name,
                 cn);
        json_array_append_new(
            tools,
            json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s}}},"
                      "s:{s:s,s:s}}",
                      "name", tool_defs[t].name, "title", ttitle, "description", desc, "level",
                      tool_defs[t].level, "input_schema", "type", "object", "properties", "id",
                      "type", "string", "description", "The record's id.", "amount", "type",
                      "integer", "description", "An amount in cents.", "currency", "type", "string",
                      "description", "An ISO 4217 code in lowercase.", "request", "method",
                      t < 5 ? "GET" : "POST", "path", "/records"));
    }
    snprintf(title, sizeof title, "Service %s", cn);
    snprintf(url, sizeof url, "https://%s.example.com", cn);
    return json_pack("{s:s,s:s,s:s,s:{s:s},s:o}", "name", cn, "title", title, "base_url", url,
                     "auth", "type", "bearer", "tools", tools);
}

/* A pack of 1 to 4 entries: half whole connectors, half single tools, with mixed ceilings. */
static json_t *pack_doc(struct world *w, int pi)
{
    struct pspec *ps = &w->packs[pi];
    json_t *tools = json_array();
    char name[32], title[64];

    ps->nent = 1 + (int)rnd_below(&w->rng, PACK_ENTRIES_MAX);
    for (int i = 0; i < ps->nent; i++) {
        char pat[ACCESS_TOOL_NAME_MAX + 1];
        long r = rnd_below(&w->rng, 100);
        ps->conn[i] = (int)rnd_below(&w->rng, N_CONNECTORS);
        ps->tool[i] = rnd_below(&w->rng, 2) ? -1 : (int)rnd_below(&w->rng, TOOLS_PER_CONNECTOR);
        ps->level[i] = r < 50 ? 0 : r < 85 ? 1 : 2;
        if (ps->tool[i] < 0)
            snprintf(pat, sizeof pat, "%s__*", connector_names[ps->conn[i]]);
        else
            snprintf(pat, sizeof pat, "%s__%s", connector_names[ps->conn[i]],
                     tool_defs[ps->tool[i]].name);
        json_array_append_new(
            tools, json_pack("{s:s,s:s}", "tool", pat, "level", level_names[ps->level[i]]));
    }
    snprintf(name, sizeof name, "team-%02d", pi);
    snprintf(title, sizeof title, "Team pack %02d", pi);
    return json_pack("{s:s,s:s,s:o}", "name", name, "title", title, "tools", tools);
}

static void make_catalog(struct world *w)
{
    struct md_error e;
    bool created;

    for (int ci = 0; ci < N_CONNECTORS; ci++) {
        json_t *doc = connector_doc(ci);
        if (!doc)
            die("connector_doc", NULL);
        check(access_connector_put(w->access, doc, NULL, &created, &e), &e, "access_connector_put");
        json_decref(doc);
        for (int t = 0; t < TOOLS_PER_CONNECTOR; t++)
            snprintf(w->tools[ci * TOOLS_PER_CONNECTOR + t], sizeof w->tools[0], "%s__%s",
                     connector_names[ci], tool_defs[t].name);
    }
    for (int pi = 0; pi < N_PACKS; pi++) {
        json_t *doc = pack_doc(w, pi);
        if (!doc)
            die("pack_doc", NULL);
        check(access_pack_create(w->access, doc, NULL, &e), &e, "access_pack_create");
        json_decref(doc);
    }
}

/* A tool that grant g covers, for its condition: a pack's first entry, or its single tool. */
static int cond_tool(const struct world *w, const struct gspec *g)
{
    const struct pspec *ps;

    if (g->pack < 0)
        return g->tool;
    ps = &w->packs[g->pack];
    /* Of a whole connector, the refund: the tool such a condition is written for. */
    return ps->conn[0] * TOOLS_PER_CONNECTOR + (ps->tool[0] < 0 ? 9 : ps->tool[0]);
}

/*
 * Grant i: the first three to everyone (at read), then 12% to users, 40% to departments and
 * the rest to teams; 65% give a pack, 35% one tool; ~20% carry a condition, ~15% a ceiling,
 * ~2% an expiry a month ahead.
 */
static json_t *grant_doc(struct world *w, long i, struct gspec *g)
{
    json_t *doc = json_object(), *subj = json_object();
    long r = rnd_below(&w->rng, 100);
    char name[32];

    memset(g, 0, sizeof *g);
    if (i < 3) {
        g->type = ACCESS_SUBJECT_EVERYONE;
        json_object_set_new(subj, "type", json_string("everyone"));
    } else if (r < 12) {
        g->type = ACCESS_SUBJECT_USER;
        g->subject = rnd_below(&w->rng, w->cfg.users);
        json_object_set_new(subj, "type", json_string("user"));
        json_object_set_new(subj, "id", json_string(w->user_ids[g->subject]));
    } else {
        g->type = ACCESS_SUBJECT_GROUP;
        g->subject = r < 52 ? rnd_below(&w->rng, w->ndept)
                            : w->ndept + rnd_below(&w->rng, w->cfg.groups - w->ndept);
        json_object_set_new(subj, "type", json_string("group"));
        json_object_set_new(subj, "id", json_string(w->group_ids[g->subject]));
    }
    json_object_set_new(doc, "subject", subj);
    g->pack = rnd_below(&w->rng, 100) < 65 ? (int)rnd_below(&w->rng, N_PACKS) : -1;
    g->tool = (int)rnd_below(&w->rng, N_TOOLS);
    if (g->pack >= 0) {
        snprintf(name, sizeof name, "team-%02d", g->pack);
        json_object_set_new(doc, "pack", json_string(name));
    } else {
        json_object_set_new(doc, "tool", json_string(w->tools[g->tool]));
    }
    g->ceiling = i < 3 || rnd_below(&w->rng, 100) < 15;
    if (g->ceiling)
        json_object_set_new(doc, "level",
                            json_string(i < 3 ? "read" : level_names[rnd_below(&w->rng, 3)]));
    g->cond = i >= 3 && rnd_below(&w->rng, 100) < 20;
    if (g->cond) {
        json_t *c = json_object();
        json_object_set_new(c, w->tools[cond_tool(w, g)],
                            json_string(conditions[rnd_below(&w->rng, 3)]));
        json_object_set_new(doc, "conditions", c);
    }
    g->expires = i >= 3 && rnd_below(&w->rng, 100) < 2;
    if (g->expires) {
        char when[TIME_RFC3339_LEN];
        time_format_ms(time_now_ms() + 30LL * 24 * 3600 * 1000, when);
        json_object_set_new(doc, "expires", json_string(when));
    }
    json_object_set_new(doc, "reason", json_string("decision benchmark"));
    return doc;
}

static void make_grants(struct world *w)
{
    struct md_error e;

    w->grants = xcalloc((size_t)w->cfg.grants, sizeof *w->grants);
    for (long i = 0; i < w->cfg.grants; i++) {
        json_t *doc = grant_doc(w, i, &w->grants[i]);
        check(access_grant_create(w->access, doc, "bench", NULL, &e), &e, "access_grant_create");
        json_decref(doc);
    }
}

static void make_args(struct world *w)
{
    w->args[0] = NULL;
    w->args[1] = json_pack("{s:i}", "amount", 1200);
    w->args[2] = json_pack("{s:i}", "amount", 75000);
    w->args[3] = json_pack("{s:i,s:s,s:s}", "amount", 20000, "currency", "usd", "id", "rec_123");
    if (!w->args[1] || !w->args[2] || !w->args[3])
        die("json_pack", NULL);
}

/* The number of distinct entitlements the current policy has interned. */
static size_t entitlements_interned(struct world *w)
{
    struct policy *p = NULL;
    struct md_error e;
    size_t n;

    check(access__policy(w->access, &p, &e), &e, "access__policy");
    pthread_mutex_lock(&p->ent_mu);
    n = p->ents.n;
    pthread_mutex_unlock(&p->ent_mu);
    policy_unref(p);
    return n;
}

static void setup(struct world *w)
{
    struct md_error e;
    struct cpu_snap a, b;
    long ngrant[3] = {0}, npack = 0, ncond = 0, nceil = 0, nexp = 0;

    printf("== setup ==\n");
    cpu_snap(&a);
    if (!mkdtemp(w->dir))
        die("mkdtemp", NULL);
    snprintf(w->url, sizeof w->url, "sqlite:%s/bench.db", w->dir);
    check(store_open(w->url, 0, &w->store, &e), &e, "store_open");
    populate_directory(w);
    cpu_snap(&b);
    printf("   directory: %ld users (%ld inactive), %ld groups (%ld departments), %ld direct user "
           "memberships (%.2f per user), %ld nested groups; written in %.1f s\n",
           w->cfg.users, w->inactive, w->cfg.groups, w->ndept, w->memberships,
           (double)w->memberships / (double)w->cfg.users, w->nested,
           (double)(b.wall_ns - a.wall_ns) / 1e9);
    print_rss("after populating (before access_open)");

    check(access_open(w->store, &w->access, &e), &e, "access_open");
    cpu_snap(&a);
    make_catalog(w);
    make_grants(w);
    cpu_snap(&b);
    for (long i = 0; i < w->cfg.grants; i++) {
        const struct gspec *g = &w->grants[i];
        ngrant[g->type]++;
        npack += g->pack >= 0;
        ncond += g->cond;
        nceil += g->ceiling;
        nexp += g->expires;
    }
    printf(
        "   catalog: %d connectors x %d tools (5 read, 3 write, 2 destructive), %d packs; "
        "%ld grants: %ld to groups, %ld to users, %ld to everyone; %ld of a pack, %ld of one "
        "tool; %ld with a condition, %ld with a ceiling, %ld with an expiry; written in %.1f s\n",
        N_CONNECTORS, TOOLS_PER_CONNECTOR, N_PACKS, w->cfg.grants, ngrant[ACCESS_SUBJECT_GROUP],
        ngrant[ACCESS_SUBJECT_USER], ngrant[ACCESS_SUBJECT_EVERYONE], npack, w->cfg.grants - npack,
        ncond, nceil, nexp, (double)(b.wall_ns - a.wall_ns) / 1e9);
    printf("   arguments of the calls, one of: none; {amount: 1200}; {amount: 75000}; "
           "{amount: 20000, currency: usd, id}\n");
}

/* perm becomes a random order of 0..n-1, so that users are not visited in the order of their
 * rows (which would favour the store's page cache). */
static void shuffle(struct world *w, long *perm, long n)
{
    for (long i = 0; i < n; i++)
        perm[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = rnd_below(&w->rng, i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---- phase 1: the first decision of every user ---- */

static void phase_cold(struct world *w)
{
    long n = w->cfg.users;
    long *perm = xcalloc((size_t)n, sizeof *perm);
    uint32_t *ns = xcalloc((size_t)n, sizeof *ns);
    struct access_decision *d = xcalloc(1, sizeof *d);
    struct access_stats st;
    struct cpu_snap a, b;
    struct call c;
    uint32_t first;
    double heap0;

    printf("\n== 1. cold: the first decision of every user (a miss: the user and its groups are "
           "read from the store) ==\n");
    shuffle(w, perm, n);
    heap0 = heap_in_use();
    cpu_snap(&a);
    for (long i = 0; i < n; i++) {
        c.user = (uint32_t)perm[i];
        c.tool = (uint8_t)rnd_below(&w->rng, N_TOOLS);
        c.args = (uint8_t)rnd_below(&w->rng, N_ARGS);
        ns[i] = timed_decide(w, &c, d, NULL, NULL);
    }
    cpu_snap(&b);
    first = ns[0];
    printf("   the very first decision (also builds the policy from the store): %.1f us\n",
           first / 1000.0);
    printf("   malloc in use before the warm-up %.1f MiB, after it %.1f MiB: %.0f bytes per cached "
           "user, entitlements included\n",
           heap0 / 1048576.0, heap_in_use() / 1048576.0, (heap_in_use() - heap0) / (double)n);
    print_head();
    summarize_print("first decision per user (after the 1st)", ns + 1, (size_t)n - 1, NULL);
    print_machine(&a, &b);
    print_rss("after warm-up");
    access_stats_get(w->access, &st);
    print_stats("after warm-up", &st);
    printf("   distinct entitlements interned by the policy: %zu\n", entitlements_interned(w));
    free(perm);
    free(ns);
    free(d);
}

/* ---- phase 2: from the cache, on 1..N threads ---- */

struct worker {
    struct world *w;
    struct call *calls;
    size_t n;
    uint32_t *ns;
    uint8_t *why;
    uint8_t *allowed;
    pthread_barrier_t *start;
    uint64_t cpu_ns; /* the thread's CPU time over its decisions */
};

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
    struct worker *k = arg;
    struct access_decision *d = xcalloc(1, sizeof *d);
    uint64_t c0;

    pthread_barrier_wait(k->start);
    c0 = thread_cpu_ns();
    for (size_t i = 0; i < k->n; i++) {
        bool ok;
        k->ns[i] = timed_decide(k->w, &k->calls[i], d, &ok, &k->why[i]);
        k->allowed[i] = ok;
    }
    k->cpu_ns = thread_cpu_ns() - c0;
    free(d);
    return NULL;
}

struct run_result {
    int threads;
    double wall_s;
    double rate;   /* decisions per second, all threads */
    double cpu_ns; /* CPU time of the deciding threads per decision */
    struct summary all;
    struct machine m;
};

/* Each of t threads decides w->cfg.decisions random calls; returns the merged latencies. */
static void run_threads(struct world *w, int t, bool detail, struct run_result *res)
{
    size_t per = (size_t)w->cfg.decisions, total = per * (size_t)t;
    struct worker *ks = xcalloc((size_t)t, sizeof *ks);
    pthread_t *tids = xcalloc((size_t)t, sizeof *tids);
    uint32_t *ns = xcalloc(total, sizeof *ns);
    uint8_t *why = xcalloc(total, 1), *allowed = xcalloc(total, 1);
    pthread_barrier_t start;
    struct cpu_snap a, b;
    uint64_t t0;

    pthread_barrier_init(&start, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++) {
        uint64_t s = w->cfg.seed * 1000003ULL + (uint64_t)t * 101 + (uint64_t)i;
        ks[i].w = w;
        ks[i].n = per;
        ks[i].calls = xcalloc(per, sizeof *ks[i].calls);
        gen_calls(ks[i].calls, per, w->cfg.users, &s);
        ks[i].ns = ns + (size_t)i * per;
        ks[i].why = why + (size_t)i * per;
        ks[i].allowed = allowed + (size_t)i * per;
        ks[i].start = &start;
        if (pthread_create(&tids[i], NULL, worker_main, &ks[i]))
            die("pthread_create", NULL);
    }
    cpu_snap(&a);
    pthread_barrier_wait(&start);
    t0 = now_ns();
    for (int i = 0; i < t; i++)
        pthread_join(tids[i], NULL);
    res->wall_s = (double)(now_ns() - t0) / 1e9;
    cpu_snap(&b);
    res->threads = t;
    res->rate = (double)total / res->wall_s;
    res->cpu_ns = 0;
    for (int i = 0; i < t; i++)
        res->cpu_ns += (double)ks[i].cpu_ns;
    res->cpu_ns /= (double)total;
    if (detail) {
        /* The mix, and the latency of each kind of answer (they do different work). */
        size_t cnt[N_REASONS] = {0}, nallowed = 0;
        uint32_t *sub = xcalloc(total, sizeof *sub);
        for (size_t i = 0; i < total; i++) {
            cnt[why[i] < N_REASONS ? why[i] : 0]++;
            nallowed += allowed[i];
        }
        printf("   mix: allowed %.1f%%, denied %.1f%% (", 100.0 * nallowed / total,
               100.0 * (total - nallowed) / total);
        for (int r = 1; r < N_REASONS; r++)
            printf("%s%s %.1f%%", r > 1 ? ", " : "", access_reason_name((enum access_reason)r),
                   100.0 * cnt[r] / total);
        printf(")\n");
        print_head();
        for (int r = 0; r < N_REASONS; r++) {
            size_t m = 0;
            char label[64];
            for (size_t i = 0; i < total; i++)
                if (why[i] == r)
                    sub[m++] = ns[i];
            snprintf(label, sizeof label, "  only %s", access_reason_name((enum access_reason)r));
            if (m)
                summarize_print(label, sub, m, NULL);
        }
        free(sub);
    }
    summarize(ns, total, &res->all);
    machine_between(&a, &b, &res->m);
    if (detail) {
        print_summary("all decisions", &res->all);
        print_machine(&a, &b);
    }
    pthread_barrier_destroy(&start);
    for (int i = 0; i < t; i++)
        free(ks[i].calls);
    free(ks);
    free(tids);
    free(ns);
    free(why);
    free(allowed);
}

/* ---- probes: what every decision shares between threads ---- */

enum probe_kind { PROBE_POLICY, PROBE_NAMES, PROBE_COUNTERS };

/* Two counters on one cache line, as struct access keeps n_decisions and n_hits. */
static struct {
    atomic_uint_fast64_t a, b;
} shared_counters;

struct probe {
    struct world *w;
    enum probe_kind kind;
    long iters;
    pthread_barrier_t *start;
};

static void *probe_main(void *arg)
{
    struct probe *p = arg;
    struct md_error e;

    pthread_barrier_wait(p->start);
    for (long i = 0; i < p->iters; i++) {
        if (p->kind == PROBE_POLICY) {
            /* What cache.c does first on every decision: lock, compare, ref, unlock; unref. */
            struct policy *pol = NULL;
            check(access__policy(p->w->access, &pol, &e), &e, "access__policy");
            policy_unref(pol);
        } else if (p->kind == PROBE_NAMES) {
            /* What an explanation does for each group grant it names: a cached name. */
            char name[128];
            access__group_name(p->w->access, p->w->group_ids[i & 63], "", name, sizeof name);
        } else {
            atomic_fetch_add(&shared_counters.a, 1);
            atomic_fetch_add(&shared_counters.b, 1);
        }
    }
    return NULL;
}

/* Returns the nanoseconds per operation seen by each thread (wall / iterations). */
static double run_probe(struct world *w, enum probe_kind kind, int t, long iters)
{
    struct probe *ps = xcalloc((size_t)t, sizeof *ps);
    pthread_t *tids = xcalloc((size_t)t, sizeof *tids);
    pthread_barrier_t start;
    uint64_t t0, t1;

    pthread_barrier_init(&start, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++) {
        ps[i].w = w;
        ps[i].kind = kind;
        ps[i].iters = iters;
        ps[i].start = &start;
        if (pthread_create(&tids[i], NULL, probe_main, &ps[i]))
            die("pthread_create", NULL);
    }
    pthread_barrier_wait(&start);
    t0 = now_ns();
    for (int i = 0; i < t; i++)
        pthread_join(tids[i], NULL);
    t1 = now_ns();
    pthread_barrier_destroy(&start);
    free(ps);
    free(tids);
    return (double)(t1 - t0) / (double)iters;
}

/* The cost of two back-to-back clock_gettime calls: included in every figure above. */
static double timer_overhead_ns(void)
{
    enum { N = 200000 };
    uint32_t *ns = xcalloc(N, sizeof *ns);
    double p50;

    for (int i = 0; i < N; i++) {
        uint64_t t0 = now_ns();
        ns[i] = clamp32(now_ns() - t0);
    }
    qsort(ns, N, sizeof *ns, u32_cmp);
    p50 = ns[N / 2];
    free(ns);
    return p50;
}

static void print_run(const struct run_result *r, double base_rate)
{
    printf("   %-8d %12.0f %10.2f %8.2f %8.2f %8.2f %8.2f %9.1f %9.0f %9.0f %8.2f\n", r->threads,
           r->rate, r->rate / base_rate, r->all.p50, r->all.p90, r->all.p99, r->all.p999,
           r->all.max, 1e9 * r->threads / r->rate, r->cpu_ns, r->m.other);
}

static void phase_cache(struct world *w, struct run_result *one, struct run_result *multi)
{
    int counts[3] = {1, w->cfg.threads, 2 * w->cfg.threads};
    struct access_stats s0, s1;
    struct run_result runs[3];
    double pol[3] = {0}, names[3] = {0}, cnt[3] = {0}, per[3] = {0};
    int nruns = 1;

    printf("\n== 2. from the cache: random (user, tool, arguments), every decision timed ==\n");
    printf("   timer overhead (two clock_gettime calls, p50, included below): %.0f ns\n",
           timer_overhead_ns());
    printf("   -- one thread, %ld decisions --\n", w->cfg.decisions);
    access_stats_get(w->access, &s0);
    run_threads(w, 1, true, &runs[0]);
    access_stats_get(w->access, &s1);
    print_stats_delta("access_stats", &s0, &s1);
    for (int i = 1; i < 3; i++) {
        if (counts[i] != counts[i - 1])
            run_threads(w, counts[i], false, &runs[nruns++]);
    }
    printf("   -- threads: each thread %ld decisions (%d = the number of CPUs); latencies in us; "
           "wall ns/dec = wall x threads / decisions; CPU ns/dec = the deciding threads' CPU "
           "time / decisions; other CPUs = CPUs used by other processes meanwhile --\n",
           w->cfg.decisions, w->cfg.threads);
    printf("   %-8s %12s %10s %8s %8s %8s %8s %9s %9s %9s %8s\n", "threads", "decisions/s",
           "x 1 thread", "p50", "p90", "p99", "p99.9", "max", "wall ns", "CPU ns", "other");
    for (int i = 0; i < nruns; i++)
        print_run(&runs[i], runs[0].rate);
    *one = runs[0];
    *multi = nruns > 1 ? runs[1] : runs[0];

    /*
     * The probes repeat, alone, what every decision does on state that all threads share: the
     * policy mutex with the policy's reference count, and the global counters. Their growth from
     * one thread to many, set beside the growth of a whole decision, says how much of the
     * slowdown is contention on them.
     */
    printf("   -- what decisions share between threads, alone (ns per operation in each thread; "
           "1,000,000 / 1,000,000 / 5,000,000 operations per thread) --\n");
    printf("   %-60s", "threads");
    for (int i = 0; i < nruns; i++)
        printf(" %9d", runs[i].threads);
    printf("\n");
    for (int i = 0; i < nruns; i++) {
        pol[i] = run_probe(w, PROBE_POLICY, runs[i].threads, 1000000);
        names[i] = run_probe(w, PROBE_NAMES, runs[i].threads, 1000000);
        cnt[i] = run_probe(w, PROBE_COUNTERS, runs[i].threads, 5000000);
        per[i] = 1e9 * runs[i].threads / runs[i].rate;
    }
    printf("   %-60s", "whole decision, wall (from the table above)");
    for (int i = 0; i < nruns; i++)
        printf(" %9.0f", per[i]);
    printf("\n   %-60s", "whole decision, CPU of its thread (from the table above)");
    for (int i = 0; i < nruns; i++)
        printf(" %9.0f", runs[i].cpu_ns);
    printf("\n   %-60s", "access__policy + policy_unref (policy_mu, policy refs)");
    for (int i = 0; i < nruns; i++)
        printf(" %9.1f", pol[i]);
    printf("\n   %-60s", "access__group_name, cached (names_mu), once per group named");
    for (int i = 0; i < nruns; i++)
        printf(" %9.1f", names[i]);
    printf("\n   %-60s", "two atomic adds on one shared line (like n_decisions, n_hits)");
    for (int i = 0; i < nruns; i++)
        printf(" %9.1f", cnt[i]);
    printf("\n");
    if (nruns > 1)
        printf("   from 1 to %d threads, a decision's share of its thread's wall time changes by "
               "%+.0f ns (its CPU time by %+.0f ns); alone, back to back: the policy mutex %+.1f "
               "ns, the "
               "name cache's mutex %+.1f ns, the shared counters %+.1f ns\n",
               runs[1].threads, per[1] - per[0], runs[1].cpu_ns - runs[0].cpu_ns, pol[1] - pol[0],
               names[1] - names[0], cnt[1] - cnt[0]);
}

/* ---- phase 3: invalidation ---- */

/* One membership write in its own transaction: the whole of it, and its commit (+ publish). */
static uint32_t member_write(struct world *w, const char *group, const char *member,
                             enum store_member_type t, bool add, bool *changed, uint32_t *commit)
{
    struct store_conn *c = NULL;
    struct md_error e;
    uint64_t t0, t1, t2;

    check(store_acquire(w->store, &c, &e), &e, "store_acquire");
    t0 = now_ns();
    check(store_begin(c, &e), &e, "store_begin");
    if (add)
        check(store_member_add(c, group, member, t, NULL, changed, &e), &e, "store_member_add");
    else
        check(store_member_remove(c, group, member, changed, &e), &e, "store_member_remove");
    t1 = now_ns();
    check(store_commit(c, &e), &e, "store_commit");
    t2 = now_ns();
    store_release(c);
    if (commit)
        *commit = clamp32(t2 - t1);
    return clamp32(t2 - t0);
}

/*
 * Whether the very next decision sees a membership change: a user denied a tool (no grant) is
 * added to a group that has an unconditional single-tool grant of it, and removed again.
 */
static void check_sees_change(struct world *w)
{
    struct access_decision *d = xcalloc(1, sizeof *d);
    const struct gspec *g = NULL;
    struct call c;
    bool added = false, removed = false, before = true, during = false, after = true;

    /* The first grant that fits, and a user it would change something for (a tool that an
     * everyone grant covers has none). */
    c.args = 0;
    for (long i = 0; i < w->cfg.grants && !g; i++) {
        const struct gspec *x = &w->grants[i];
        if (x->type != ACCESS_SUBJECT_GROUP || x->pack >= 0 || x->cond || x->expires ||
            x->ceiling || x->subject < w->ndept)
            continue;
        c.tool = (uint8_t)x->tool;
        for (int tries = 0; tries < 200 && !g; tries++) {
            c.user = (uint32_t)rnd_below(&w->rng, w->cfg.users);
            timed_decide(w, &c, d, &before, NULL);
            if (!before && d->reason == ACCESS_NO_GRANT)
                g = x;
        }
    }
    if (!g) {
        printf("   (no single-tool group grant and user without it to check with)\n");
        free(d);
        return;
    }
    member_write(w, w->group_ids[g->subject], w->user_ids[c.user], STORE_MEMBER_USER, true, &added,
                 NULL);
    timed_decide(w, &c, d, &during, NULL);
    member_write(w, w->group_ids[g->subject], w->user_ids[c.user], STORE_MEMBER_USER, false,
                 &removed, NULL);
    timed_decide(w, &c, d, &after, NULL);
    printf("   check: user %s denied %s (no grant), added to group %s granted it: next decision "
           "%s; removed: next decision %s -> %s\n",
           w->user_ids[c.user], w->tools[g->tool], w->group_ids[g->subject],
           during ? "allowed" : "DENIED", after ? "ALLOWED" : "denied",
           during && !after && added && removed ? "sees the change" : "DOES NOT SEE THE CHANGE");
    if (after) {
        /* Which grant still allows it, and through which subject. */
        json_t *j = access_decision_json(d);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        printf("   the decision after the removal: %s\n", text ? text : "?");
        free(text);
        json_decref(j);
    }
    free(d);
}

static void phase_membership(struct world *w)
{
    uint32_t write_add[INVAL_ROUNDS], write_rm[INVAL_ROUNDS], commit_add[INVAL_ROUNDS],
        commit_rm[INVAL_ROUNDS], next_add[INVAL_ROUNDS], next_rm[INVAL_ROUNDS];
    uint32_t *others = xcalloc(2 * INVAL_ROUNDS * OTHERS_PER_ROUND, sizeof *others);
    struct access_decision *d = xcalloc(1, sizeof *d);
    struct access_stats s0, s1;
    struct cpu_snap a, b;
    size_t no = 0;

    printf("\n== 3. invalidation ==\n");
    printf("   -- (a)-(c) membership: %d rounds; each adds one cached user to a team, then "
           "removes it; after each write, the user's next decision and %d other users' --\n",
           INVAL_ROUNDS, OTHERS_PER_ROUND);
    access_stats_get(w->access, &s0);
    cpu_snap(&a);
    for (int r = 0; r < INVAL_ROUNDS; r++) {
        struct call c;
        long g;
        bool changed = false;

        c.user = (uint32_t)rnd_below(&w->rng, w->cfg.users);
        c.tool = (uint8_t)rnd_below(&w->rng, N_TOOLS);
        c.args = (uint8_t)rnd_below(&w->rng, N_ARGS);
        do {
            g = w->ndept + rnd_below(&w->rng, w->cfg.groups - w->ndept);
            write_add[r] = member_write(w, w->group_ids[g], w->user_ids[c.user], STORE_MEMBER_USER,
                                        true, &changed, &commit_add[r]);
        } while (!changed);
        next_add[r] = timed_decide(w, &c, d, NULL, NULL);
        for (int k = 0; k < OTHERS_PER_ROUND; k++) {
            struct call o;
            gen_calls(&o, 1, w->cfg.users, &w->rng);
            if (o.user == c.user)
                continue;
            others[no++] = timed_decide(w, &o, d, NULL, NULL);
        }
        write_rm[r] = member_write(w, w->group_ids[g], w->user_ids[c.user], STORE_MEMBER_USER,
                                   false, &changed, &commit_rm[r]);
        next_rm[r] = timed_decide(w, &c, d, NULL, NULL);
        for (int k = 0; k < OTHERS_PER_ROUND; k++) {
            struct call o;
            gen_calls(&o, 1, w->cfg.users, &w->rng);
            if (o.user == c.user)
                continue;
            others[no++] = timed_decide(w, &o, d, NULL, NULL);
        }
    }
    cpu_snap(&b);
    access_stats_get(w->access, &s1);
    print_head();
    summarize_print("(a) store_member_add: begin..commit", write_add, INVAL_ROUNDS, NULL);
    summarize_print("(a)   of which store_commit (+ publish)", commit_add, INVAL_ROUNDS, NULL);
    summarize_print("(a) store_member_remove: begin..commit", write_rm, INVAL_ROUNDS, NULL);
    summarize_print("(a)   of which store_commit (+ publish)", commit_rm, INVAL_ROUNDS, NULL);
    summarize_print("(b) that user's next decision, after add", next_add, INVAL_ROUNDS, NULL);
    summarize_print("(b) that user's next decision, after rm", next_rm, INVAL_ROUNDS, NULL);
    summarize_print("(c) other users' decisions right after", others, no, NULL);
    print_stats_delta("access_stats", &s0, &s1);
    printf("   (expected: misses +%d, one per write; invalidations +%d; hits = the rest)\n",
           2 * INVAL_ROUNDS, 2 * INVAL_ROUNDS);
    print_machine(&a, &b);
    check_sees_change(w);
    free(others);
    free(d);
}

/* Every user decides once, in a random order: the pass after a flush or a policy change. */
static void pass_all(struct world *w, const char *label, struct summary *out)
{
    long n = w->cfg.users;
    uint32_t *ns = xcalloc((size_t)n, sizeof *ns);
    struct access_decision *d = xcalloc(1, sizeof *d);
    struct access_stats s0, s1;
    struct cpu_snap a, b;
    long *perm = xcalloc((size_t)n, sizeof *perm), worst = 0;
    uint64_t t0, t1;

    shuffle(w, perm, n);
    access_stats_get(w->access, &s0);
    cpu_snap(&a);
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
        struct call c;
        c.user = (uint32_t)perm[i];
        c.tool = (uint8_t)rnd_below(&w->rng, N_TOOLS);
        c.args = (uint8_t)rnd_below(&w->rng, N_ARGS);
        ns[i] = timed_decide(w, &c, d, NULL, NULL);
    }
    t1 = now_ns();
    cpu_snap(&b);
    access_stats_get(w->access, &s1);
    for (long i = 1; i < n; i++)
        worst = ns[i] > ns[worst] ? i : worst;
    printf("   (the slowest of these was decision %ld of %ld)\n", worst + 1, n);
    summarize_print(label, ns, (size_t)n, out);
    printf("   the %ld decisions took %.2f s in all\n", n, (double)(t1 - t0) / 1e9);
    print_stats_delta("access_stats", &s0, &s1);
    print_machine(&a, &b);
    free(perm);
    free(ns);
    free(d);
}

static void sample(struct world *w, long n, const char *label)
{
    uint32_t *ns = xcalloc((size_t)n, sizeof *ns);
    struct access_decision *d = xcalloc(1, sizeof *d);

    for (long i = 0; i < n; i++) {
        struct call c;
        gen_calls(&c, 1, w->cfg.users, &w->rng);
        ns[i] = timed_decide(w, &c, d, NULL, NULL);
    }
    summarize_print(label, ns, (size_t)n, NULL);
    free(ns);
    free(d);
}

static void phase_nesting(struct world *w)
{
    long child, parent;
    bool changed = false;
    uint32_t total, commit;
    struct access_stats s0, s1;

    printf("   -- (d) nesting: a team added into a department (every cached entry goes stale), "
           "then removed --\n");
    do {
        child = w->ndept + rnd_below(&w->rng, w->cfg.groups - w->ndept);
        parent = rnd_below(&w->rng, w->ndept);
        access_stats_get(w->access, &s0);
        total = member_write(w, w->group_ids[parent], w->group_ids[child], STORE_MEMBER_GROUP, true,
                             &changed, &commit);
    } while (!changed);
    access_stats_get(w->access, &s1);
    printf("   group add: begin..commit %.1f us, of which store_commit (+ publish) %.1f us; "
           "flushes +%llu\n",
           total / 1000.0, commit / 1000.0, (unsigned long long)(s1.flushes - s0.flushes));
    print_head();
    pass_all(w, "(d) next decision of every user", NULL);
    sample(w, 200000, "(d) then 200,000 random decisions");

    access_stats_get(w->access, &s0);
    total = member_write(w, w->group_ids[parent], w->group_ids[child], STORE_MEMBER_GROUP, false,
                         &changed, &commit);
    access_stats_get(w->access, &s1);
    printf("   group remove: begin..commit %.1f us, of which store_commit (+ publish) %.1f us; "
           "flushes +%llu\n",
           total / 1000.0, commit / 1000.0, (unsigned long long)(s1.flushes - s0.flushes));
    print_head();
    pass_all(w, "(d) next decision of every user", NULL);
}

/* A grant to a department of pack team-00: a policy change that reads nothing else. */
static void change_grant(struct world *w, uint32_t *create_ns)
{
    struct md_error e;
    json_t *doc = json_pack("{s:{s:s,s:s},s:s,s:s}", "subject", "type", "group", "id",
                            w->group_ids[rnd_below(&w->rng, w->ndept)], "pack", "team-00", "reason",
                            "decision benchmark: the grant change");
    uint64_t t0;

    if (!doc)
        die("json_pack", NULL);
    t0 = now_ns();
    check(access_grant_create(w->access, doc, "bench", NULL, &e), &e, "access_grant_create");
    *create_ns = clamp32(now_ns() - t0);
    json_decref(doc);
}

/* Another thread deciding random calls until told to stop, timing each. */
struct bg {
    struct world *w;
    atomic_bool stop;
    uint64_t rng;
    uint32_t *ns;
    size_t n, cap;
};

static void *bg_main(void *arg)
{
    struct bg *b = arg;
    struct access_decision *d = xcalloc(1, sizeof *d);

    while (!atomic_load(&b->stop) && b->n < b->cap) {
        struct call c;
        gen_calls(&c, 1, b->w->cfg.users, &b->rng);
        b->ns[b->n++] = timed_decide(b->w, &c, d, NULL, NULL);
    }
    free(d);
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * The same change while another thread decides: whatever the first decision after the change
 * does under the policy mutex, every other decision of the node waits for.
 */
static void grant_change_concurrent(struct world *w)
{
    struct bg b;
    pthread_t tid;
    struct access_decision *d = xcalloc(1, sizeof *d);
    struct call c;
    uint32_t create, first;

    memset(&b, 0, sizeof b);
    b.w = w;
    b.rng = w->cfg.seed ^ 0x5eed;
    b.cap = 4000000;
    b.ns = xcalloc(b.cap, sizeof *b.ns);
    atomic_init(&b.stop, false);
    if (pthread_create(&tid, NULL, bg_main, &b))
        die("pthread_create", NULL);
    sleep_ms(100);
    change_grant(w, &create);
    gen_calls(&c, 1, w->cfg.users, &w->rng);
    first = timed_decide(w, &c, d, NULL, NULL);
    sleep_ms(400);
    atomic_store(&b.stop, true);
    pthread_join(tid, NULL);
    printf("   the same again with a second thread deciding meanwhile (from 100 ms before the "
           "change to 400 ms after): access_grant_create %.1f us, this thread's first decision "
           "after it %.1f us\n",
           create / 1000.0, first / 1000.0);
    print_head();
    summarize_print("(e) the other thread's decisions", b.ns, b.n, NULL);
    free(b.ns);
    free(d);
}

static void phase_grant(struct world *w)
{
    struct access_decision *d = xcalloc(1, sizeof *d);
    struct access_stats s0, s1;
    struct call c;
    uint32_t create, first;

    printf("   -- (e) a grant change: access_grant_create (a pack to a department); the policy "
           "is rebuilt by the next decision, and each entry is re-evaluated (no store read) --\n");
    access_stats_get(w->access, &s0);
    change_grant(w, &create);
    gen_calls(&c, 1, w->cfg.users, &w->rng);
    first = timed_decide(w, &c, d, NULL, NULL);
    access_stats_get(w->access, &s1);
    printf("   access_grant_create: %.1f us; the first decision after it: %.1f us (policy builds "
           "+%llu)\n",
           create / 1000.0, first / 1000.0,
           (unsigned long long)(s1.policy_builds - s0.policy_builds));
    print_head();
    pass_all(w, "(e) next decision of every user", NULL);
    sample(w, 1000000, "(e) steady state: 1,000,000 random");
    grant_change_concurrent(w);
    free(d);
}

/* ---- main ---- */

static long opt_long(const char *s, const char *name)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > 100000000)
        die(name, NULL);
    return (long)v;
}

static void parse_args(int argc, char **argv, struct cfg *c)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    c->users = 100000;
    c->groups = 10000;
    c->grants = 1000;
    c->decisions = 1000000;
    c->threads = n > 0 ? (int)n : 1;
    c->seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--keep-db") == 0) {
            c->keep_db = true;
            continue;
        }
        if (strcmp(argv[i], "--users") == 0)
            c->users = opt_long(v, "--users");
        else if (strcmp(argv[i], "--groups") == 0)
            c->groups = opt_long(v, "--groups");
        else if (strcmp(argv[i], "--grants") == 0)
            c->grants = opt_long(v, "--grants");
        else if (strcmp(argv[i], "--decisions") == 0)
            c->decisions = opt_long(v, "--decisions");
        else if (strcmp(argv[i], "--threads") == 0)
            c->threads = (int)opt_long(v, "--threads");
        else if (strcmp(argv[i], "--seed") == 0)
            c->seed = (uint64_t)opt_long(v, "--seed");
        else
            die("arguments (see the comment at the top of decision_bench.c)", NULL);
        i++;
    }
    if (c->groups < 200 || c->grants < 10)
        die("--groups >= 200 and --grants >= 10", NULL);
}

static void cleanup(struct world *w)
{
    char path[160];

    access_close(w->access);
    store_close(w->store);
    for (int i = 1; i < N_ARGS; i++)
        json_decref(w->args[i]);
    if (!w->cfg.keep_db) {
        static const char *const suffix[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/bench.db%s", w->dir, suffix[i]);
            unlink(path);
        }
        rmdir(w->dir);
    } else {
        printf("\n   database kept: %s/bench.db\n", w->dir);
    }
    free(w->user_ids);
    free(w->group_ids);
    free(w->grants);
}

int main(int argc, char **argv)
{
    static struct world w;
    struct run_result one, multi;
    struct cpu_snap a, b;

    log_set_level(LOG_WARN);
    parse_args(argc, argv, &w.cfg);
    w.rng = w.cfg.seed;
    w.ndept = w.cfg.groups / 100;
    w.user_ids = xcalloc((size_t)w.cfg.users, sizeof *w.user_ids);
    w.group_ids = xcalloc((size_t)w.cfg.groups, sizeof *w.group_ids);
    snprintf(w.dir, sizeof w.dir, "/tmp/decision_bench.XXXXXX");
    make_args(&w);
    printf("decision_bench: %ld users, %ld groups, %ld grants, %ld decisions per run, %d CPUs "
           "(threads), seed %llu; SQLite (WAL, synchronous=NORMAL) in a new directory under /tmp\n",
           w.cfg.users, w.cfg.groups, w.cfg.grants, w.cfg.decisions, w.cfg.threads,
           (unsigned long long)w.cfg.seed);
    cpu_snap(&a);
    setup(&w);
    phase_cold(&w);
    phase_cache(&w, &one, &multi);
    phase_membership(&w);
    phase_nesting(&w);
    phase_grant(&w);
    cpu_snap(&b);
    print_rss("at the end");

    printf("\n== against the targets of issue 4 (decisions from the cache) ==\n");
    printf("   p50 < 5 us:  1 thread %.2f us, %d threads %.2f us -> %s\n", one.all.p50,
           multi.threads, multi.all.p50, one.all.p50 < 5 && multi.all.p50 < 5 ? "met" : "NOT MET");
    printf("   p99 < 50 us: 1 thread %.2f us, %d threads %.2f us -> %s\n", one.all.p99,
           multi.threads, multi.all.p99,
           one.all.p99 < 50 && multi.all.p99 < 50 ? "met" : "NOT MET");
    printf("   whole run: ");
    print_machine(&a, &b);
    cleanup(&w);
    return 0;
}
