/*
 * Inside the access module: the policy snapshot (policy.c), the per-user cache (cache.c) and
 * the validators that catalog.c and grants.c share.
 *
 * The policy is an immutable snapshot of the catalog, packs and grants, built from the store in
 * one read and replaced (never changed) when the change feed reports a write to an access
 * object. Readers hold a reference while they use it. A user's entitlement (which grants reach
 * which tools) depends only on the set of grants that name the user, one of its groups or
 * everyone, so the policy interns one entitlement per distinct set: users who share groups
 * share it: 100,000 cached users take about 60 MB (bench/README.md, "Decisions").
 */
#ifndef MANDATE_ACCESS_ACCESS_INT_H
#define MANDATE_ACCESS_ACCESS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "access/access.h"
#include "core/hmap.h"
#include "scim/filter.h"

/* ---- the policy snapshot ---- */

struct ap_tool {
    char name[ACCESS_TOOL_NAME_MAX + 1]; /* full name */
    const char *connector;               /* the connector's name (in its document) */
    enum access_level level;             /* effective: the override, else the definition's */
    enum access_level defined_level;
    const json_t *def; /* the tool's object in the connector document (borrowed) */
};

struct ap_entry {
    char *pattern; /* a full tool name, or "<connector>__*" */
    enum access_level ceiling;
};

struct ap_pack {
    char name[64];
    struct ap_entry *entries;
    size_t nentries;
};

struct ap_cond {
    char tool[ACCESS_TOOL_NAME_MAX + 1];
    const char *text;      /* borrowed from the grant's document */
    struct filter_node *f; /* NULL when it does not parse: it then fails closed */
    char error[300];
};

struct ap_grant {
    int idx; /* position in policy.grants: grants are in creation order */
    char id[64];
    enum access_subject subject_type;
    char subject_id[64];
    const struct ap_pack *pack; /* NULL: a single tool, or a pack that no longer exists */
    char pack_name[64];
    char tool[ACCESS_TOOL_NAME_MAX + 1]; /* single-tool grants */
    enum access_level ceiling;           /* ACCESS_DESTRUCTIVE when none is set */
    int64_t expires_ms;                  /* 0: never */
    struct ap_cond *conds;
    size_t nconds;
    bool broken; /* a stored field validation would refuse: the grant reaches nothing */
};

/*
 * One grant that reaches one tool for a user, with the lowest ceiling on its path. Indices, not
 * pointers, keep it at 12 bytes: 100,000 users share some ten thousand entitlements of tens of
 * tools each.
 */
struct ent_cand {
    uint32_t grant; /* index into policy.grants */
    int32_t cond;   /* index into that grant's conds; -1: no condition on this tool */
    uint8_t ceiling;
};

struct ent_tool {
    uint32_t tool;  /* index into policy.tools */
    uint32_t first; /* its candidates: entitlement.cands[first .. first + n), in grant order */
    uint32_t n;
};

/* The tools that a set of grants reaches; shared by every user with that set. */
struct entitlement {
    struct ent_tool *tools; /* by tool index, which is name order */
    uint32_t ntools;
    struct ent_cand *cands;
};

struct policy {
    atomic_int refs;
    uint64_t gen;       /* the invalidation generation it was read at */
    json_t *connectors; /* name -> connector document (owns the tool definitions) */
    json_t *overrides;  /* name -> overrides document */
    json_t *packs_doc;  /* name -> pack document */
    struct ap_tool *tools;
    size_t ntools;
    struct hmap tool_index; /* full name -> struct ap_tool * */
    struct ap_pack *packs;
    size_t npacks;
    struct hmap pack_index; /* name -> struct ap_pack * */
    json_t *grant_docs;     /* array, in grant order */
    struct ap_grant *grants;
    size_t ngrants;
    struct hmap by_subject; /* user or group id -> struct idx_list * */
    struct idx_list *everyone;

    pthread_mutex_t ent_mu; /* guards ents */
    struct hmap ents;       /* signature ("3,17,42") -> struct entitlement * */
};

struct idx_list {
    int *v;
    size_t n, cap;
};

/* Reads the whole policy from the store (policy.c). *out has one reference. */
enum md_err policy_build(struct store *s, uint64_t gen, struct policy **out, struct md_error *e);
void policy_ref(struct policy *p);
void policy_unref(struct policy *p);
const struct ap_tool *policy_tool(const struct policy *p, const char *name);
const struct ap_pack *policy_pack(const struct policy *p, const char *name);
/* The pack's ceiling for a tool: the highest among entries that name it, ACCESS_NONE if none. */
enum access_level policy_pack_ceiling(const struct ap_pack *pk, const struct ap_tool *t);
/*
 * The interned entitlement of the grants idx[0..n) (ascending), built on first use. Owned by p;
 * NULL only when out of memory.
 */
const struct entitlement *policy_entitlement(struct policy *p, const int *idx, size_t n);
/* The entry of tool t in ent, or NULL. */
const struct ent_tool *entitlement_tool(const struct policy *p, const struct entitlement *ent,
                                        const struct ap_tool *t);

static inline const struct ap_grant *cand_grant(const struct policy *p, const struct ent_cand *c)
{
    return &p->grants[c->grant];
}

static inline const struct ap_cond *cand_cond(const struct policy *p, const struct ent_cand *c)
{
    return c->cond < 0 ? NULL : &p->grants[c->grant].conds[c->cond];
}

/* ---- the user cache (cache.c) ---- */

struct ugroup {
    const char *id; /* interned by the service: one copy per group, whatever its users */
    bool direct;
};

/* What a decision needs to know of a user; immutable once published, reference-counted. */
struct uentry {
    atomic_int refs;
    char id[64];
    bool exists;
    bool active;
    char *user_name;
    char *email; /* the primary emails[] value, else NULL */
    struct ugroup *groups;
    size_t ngroups;
    uint64_t dir_gen; /* the directory generation it was read at */
    /*
     * The entitlement under the policy of generation policy_gen, owned by that policy. An entry
     * does not keep its policy alive (old policies would pile up behind users who do not come
     * back): ent may be used only by a caller holding the policy of that generation.
     */
    uint64_t policy_gen;
    const struct entitlement *ent;
};

/*
 * The user's entry, current for the directory and the policy (reading the store when it is
 * missing or stale), and that policy (*p, a reference; p may be NULL). Release the entry with
 * uentry_unref and the policy with policy_unref.
 */
enum md_err access__user(struct access *a, const char *user_id, struct uentry **out,
                         struct policy **p, struct md_error *e);
void uentry_unref(struct uentry *u);
/*
 * The current displayName of group id into out: from the service's name cache, which group
 * changes clear, else read from the store (and cached), else fallback.
 */
void access__group_name(struct access *a, const char *id, const char *fallback, char *out,
                        size_t n);
/* Counts a decision in the service's statistics. */
void access__count_decision(struct access *a);
/* The current policy (a reference), rebuilt from the store when stale. */
enum md_err access__policy(struct access *a, struct policy **out, struct md_error *e);

/* Whether overrides may name plain http:// token endpoints (access_set_upstream_http). */
bool access__upstream_http(struct access *a);

/* ---- validation shared by catalog.c and grants.c ---- */

/* Connector names: 1..30 of [a-z0-9_], a letter first, no "__", not ending in '_'. */
bool access__connector_name_ok(const char *s);
/* Pack names: 1..63 of [a-z0-9_-], a letter or digit first. */
bool access__pack_name_ok(const char *s);
/* Whether pattern (a tool name or "<connector>__*") names the tool. */
bool access__pattern_matches(const char *pattern, const char *tool);
/* A new JSON string "YYYY-MM-DDTHH:MM:SSZ" (or with milliseconds when they are not zero). */
json_t *access__time_json(int64_t ms);

#endif
