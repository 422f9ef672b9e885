/*
 * The policy snapshot (access_int.h): the catalog, packs and grants read from the store in one
 * transaction, indexed for decisions, and never changed after it is built. Documents were
 * validated when they were written; what cannot be used now (a pack a grant names that has
 * since been deleted, a condition that no longer parses) makes that grant reach nothing or fail
 * closed, never open.
 */
#include "access/access_int.h"

#include "core/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time.h"

/* ---- reading the store ---- */

struct collect {
    json_t *into; /* object: id -> document */
    json_t *list; /* or array: documents in order */
    int bad;
};

static int collect_cb(void *ctx, const struct store_obj *o)
{
    struct collect *c = ctx;
    json_error_t jerr;
    json_t *doc = json_loads(o->doc, 0, &jerr);

    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        c->bad++;
        log_error("event=policy_bad_document id=%s", o->id);
        return 0;
    }
    if (c->list) {
        json_object_set_new(doc, "id", json_string(o->id));
        json_array_append_new(c->list, doc);
    } else {
        json_object_set_new(c->into, o->id, doc);
    }
    return 0;
}

static enum md_err read_all(struct store_conn *c, enum store_obj_kind k, json_t *into, json_t *list,
                            struct md_error *e)
{
    struct collect col = {into, list, 0};
    return store_obj_list(c, k, collect_cb, &col, e);
}

/* ---- indexing ---- */

static int tool_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ap_tool *)a)->name, ((const struct ap_tool *)b)->name);
}

static enum md_err index_tools(struct policy *p)
{
    const char *cname;
    json_t *conn;
    size_t cap = 0, n = 0;

    json_object_foreach(p->connectors, cname, conn)
    {
        cap += json_array_size(json_object_get(conn, "tools"));
    }
    p->tools = calloc(cap ? cap : 1, sizeof *p->tools);
    if (!p->tools)
        return MD_ERR_NOMEM;
    json_object_foreach(p->connectors, cname, conn)
    {
        json_t *ov_levels = json_object_get(json_object_get(p->overrides, cname), "levels");
        size_t i;
        json_t *tool;

        json_array_foreach(json_object_get(conn, "tools"), i, tool)
        {
            struct ap_tool *t = &p->tools[n];
            const char *tname = json_string_value(json_object_get(tool, "name"));
            enum access_level lv = ACCESS_NONE;

            if (!tname ||
                snprintf(t->name, sizeof t->name, "%s__%s", cname, tname) >= (int)sizeof t->name)
                continue;
            if (!access_level_parse(json_string_value(json_object_get(tool, "level")), &lv))
                continue;
            t->connector = json_string_value(json_object_get(conn, "name"));
            if (!t->connector)
                t->connector = cname;
            t->defined_level = lv;
            t->level = lv;
            access_level_parse(json_string_value(json_object_get(ov_levels, t->name)), &t->level);
            t->def = tool;
            n++;
        }
    }
    p->ntools = n;
    qsort(p->tools, n, sizeof *p->tools, tool_cmp);
    for (size_t i = 0; i < n; i++)
        if (hmap_put(&p->tool_index, p->tools[i].name, &p->tools[i], NULL))
            return MD_ERR_NOMEM;
    return MD_OK;
}

static enum md_err index_packs(struct policy *p)
{
    const char *name;
    json_t *doc;
    size_t n = 0;

    p->packs = calloc(json_object_size(p->packs_doc) + 1, sizeof *p->packs);
    if (!p->packs)
        return MD_ERR_NOMEM;
    json_object_foreach(p->packs_doc, name, doc)
    {
        struct ap_pack *pk = &p->packs[n++];
        json_t *items = json_object_get(doc, "tools");
        size_t i;
        json_t *it;

        snprintf(pk->name, sizeof pk->name, "%s", name);
        pk->entries = calloc(json_array_size(items) + 1, sizeof *pk->entries);
        if (!pk->entries)
            return MD_ERR_NOMEM;
        json_array_foreach(items, i, it)
        {
            struct ap_entry *en = &pk->entries[pk->nentries];
            const char *pat = json_string_value(json_object_get(it, "tool"));
            if (!pat ||
                !access_level_parse(json_string_value(json_object_get(it, "level")), &en->ceiling))
                continue;
            en->pattern = strdup(pat);
            if (!en->pattern)
                return MD_ERR_NOMEM;
            pk->nentries++;
        }
        if (hmap_put(&p->pack_index, pk->name, pk, NULL))
            return MD_ERR_NOMEM;
    }
    p->npacks = n;
    return MD_OK;
}

static enum md_err idx_push(struct idx_list *l, int v)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        int *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return MD_ERR_NOMEM;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return MD_OK;
}

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

static void read_grant(struct policy *p, struct ap_grant *g, const json_t *doc)
{
    const json_t *subj = json_object_get(doc, "subject");
    const char *type = json_string_value(json_object_get(subj, "type"));
    const char *exp = json_string_value(json_object_get(doc, "expires"));
    const json_t *conds = json_object_get(doc, "conditions");
    const char *tool;
    json_t *txt;

    snprintf(g->id, sizeof g->id, "%s", json_string_value(json_object_get(doc, "id")));
    /*
     * Every field that validation would refuse (a subject type from a newer version, a level or
     * an expiry that does not parse, conditions that are not an object) breaks the grant: it
     * reaches nothing, rather than everyone, at any level, forever, without its conditions.
     */
    g->broken = !type ||
                (json_object_get(doc, "level") && !json_is_string(json_object_get(doc, "level"))) ||
                (json_object_get(doc, "expires") && !exp) || (conds && !json_is_object(conds));
    if (type && strcmp(type, "user") == 0)
        g->subject_type = ACCESS_SUBJECT_USER;
    else if (type && strcmp(type, "group") == 0)
        g->subject_type = ACCESS_SUBJECT_GROUP;
    else if (type && strcmp(type, "everyone") == 0)
        g->subject_type = ACCESS_SUBJECT_EVERYONE;
    else
        g->broken = true;
    if (g->subject_type != ACCESS_SUBJECT_EVERYONE) {
        const char *sid = json_string_value(json_object_get(subj, "id"));
        snprintf(g->subject_id, sizeof g->subject_id, "%s", sid ? sid : "");
    }
    snprintf(g->pack_name, sizeof g->pack_name, "%s", str_or_empty(json_object_get(doc, "pack")));
    snprintf(g->tool, sizeof g->tool, "%s", str_or_empty(json_object_get(doc, "tool")));
    g->pack = g->pack_name[0] ? policy_pack(p, g->pack_name) : NULL;
    g->ceiling = ACCESS_DESTRUCTIVE;
    if (json_object_get(doc, "level") &&
        !access_level_parse(json_string_value(json_object_get(doc, "level")), &g->ceiling))
        g->broken = true;
    if (exp && !time_parse_rfc3339(exp, &g->expires_ms))
        g->broken = true;
    if (g->broken)
        log_error("event=grant_unusable grant=%s detail=\"a stored field does not validate; "
                  "the grant reaches nothing\"",
                  g->id);
    g->conds = calloc(json_object_size(conds) + 1, sizeof *g->conds);
    if (!g->conds)
        return;
    json_object_foreach(json_mut(conds), tool, txt)
    {
        struct ap_cond *c = &g->conds[g->nconds++];
        struct md_error fe;
        const char *t = json_string_value(txt);

        snprintf(c->tool, sizeof c->tool, "%s", tool);
        c->text = t ? t : "";
        md_error_clear(&fe);
        if (!t || scim_filter_parse(t, strlen(t), &c->f, &fe) != MD_OK) {
            c->f = NULL;
            snprintf(c->error, sizeof c->error, "the condition does not parse: %s",
                     t ? fe.msg : "not a string");
        }
    }
}

static enum md_err index_grants(struct policy *p)
{
    size_t i, n = json_array_size(p->grant_docs);
    json_t *doc;

    p->grants = calloc(n + 1, sizeof *p->grants);
    p->everyone = calloc(1, sizeof *p->everyone);
    if (!p->grants || !p->everyone)
        return MD_ERR_NOMEM;
    json_array_foreach(p->grant_docs, i, doc)
    {
        struct ap_grant *g = &p->grants[i];
        struct idx_list *l;

        g->idx = (int)i;
        read_grant(p, g, doc);
        if (!g->conds)
            return MD_ERR_NOMEM;
        if (g->subject_type == ACCESS_SUBJECT_EVERYONE) {
            l = p->everyone;
        } else {
            l = hmap_get(&p->by_subject, g->subject_id);
            if (!l) {
                l = calloc(1, sizeof *l);
                if (!l || hmap_put(&p->by_subject, g->subject_id, l, NULL)) {
                    free(l);
                    return MD_ERR_NOMEM;
                }
            }
        }
        if (idx_push(l, (int)i))
            return MD_ERR_NOMEM;
    }
    p->ngrants = n;
    return MD_OK;
}

enum md_err policy_build(struct store *s, uint64_t gen, struct policy **out, struct md_error *e)
{
    struct store_conn *c = NULL;
    struct policy *p;
    enum md_err err;

    *out = NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    atomic_init(&p->refs, 1);
    p->gen = gen;
    pthread_mutex_init(&p->ent_mu, NULL);
    p->connectors = json_object();
    p->overrides = json_object();
    p->packs_doc = json_object();
    p->grant_docs = json_array();
    if (!p->connectors || !p->overrides || !p->packs_doc || !p->grant_docs) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = store_acquire(s, &c, e);
    if (err)
        goto out;
    /*
     * No transaction: store_begin takes SQLite's write lock, which a grant being written on
     * another connection may hold while it asks for the policy. The four reads may then see
     * different moments, but every write that lands between them moves the generation on, so
     * this snapshot is replaced at the next decision; and meanwhile a grant whose pack is not
     * (yet or any more) in it reaches nothing: it fails closed.
     */
    err = read_all(c, STORE_OBJ_CONNECTOR, p->connectors, NULL, e);
    if (!err)
        err = read_all(c, STORE_OBJ_OVERRIDE, p->overrides, NULL, e);
    if (!err)
        err = read_all(c, STORE_OBJ_PACK, p->packs_doc, NULL, e);
    if (!err)
        err = read_all(c, STORE_OBJ_GRANT, NULL, p->grant_docs, e);
    store_release(c);
    if (err)
        goto out;
    if (index_tools(p) || index_packs(p) || index_grants(p)) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = p;
    p = NULL;
out:
    if (p)
        policy_unref(p);
    return err;
}

/* ---- lifetime ---- */

void policy_ref(struct policy *p)
{
    atomic_fetch_add(&p->refs, 1);
}

static void free_list(void *ctx, const char *key, void *value)
{
    struct idx_list *l = value;
    (void)ctx;
    (void)key;
    free(l->v);
    free(l);
}

static void free_ent(void *ctx, const char *key, void *value)
{
    struct entitlement *ent = value;
    (void)ctx;
    (void)key;
    free(ent->tools);
    free(ent->cands);
    free(ent);
}

void policy_unref(struct policy *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (size_t i = 0; i < p->ngrants; i++) {
        for (size_t j = 0; j < p->grants[i].nconds; j++)
            scim_filter_free(p->grants[i].conds[j].f);
        free(p->grants[i].conds);
    }
    free(p->grants);
    for (size_t i = 0; i < p->npacks; i++) {
        for (size_t j = 0; j < p->packs[i].nentries; j++)
            free(p->packs[i].entries[j].pattern);
        free(p->packs[i].entries);
    }
    free(p->packs);
    free(p->tools);
    hmap_free(&p->tool_index);
    hmap_free(&p->pack_index);
    hmap_each(&p->by_subject, free_list, NULL);
    hmap_free(&p->by_subject);
    if (p->everyone)
        free_list(NULL, NULL, p->everyone);
    hmap_each(&p->ents, free_ent, NULL);
    hmap_free(&p->ents);
    pthread_mutex_destroy(&p->ent_mu);
    json_decref(p->connectors);
    json_decref(p->overrides);
    json_decref(p->packs_doc);
    json_decref(p->grant_docs);
    free(p);
}

/* ---- lookups ---- */

const struct ap_tool *policy_tool(const struct policy *p, const char *name)
{
    return hmap_get(&p->tool_index, name);
}

const struct ap_pack *policy_pack(const struct policy *p, const char *name)
{
    return hmap_get(&p->pack_index, name);
}

bool access__pattern_matches(const char *pattern, const char *tool)
{
    size_t n = strlen(pattern);

    if (n > 3 && strcmp(pattern + n - 3, "__*") == 0)
        return strncmp(pattern, tool, n - 1) == 0 && tool[n - 1] != '\0';
    return strcmp(pattern, tool) == 0;
}

enum access_level policy_pack_ceiling(const struct ap_pack *pk, const struct ap_tool *t)
{
    enum access_level best = ACCESS_NONE;

    for (size_t i = 0; i < pk->nentries; i++)
        if (pk->entries[i].ceiling > best &&
            access__pattern_matches(pk->entries[i].pattern, t->name))
            best = pk->entries[i].ceiling;
    return best;
}

const struct ent_tool *entitlement_tool(const struct policy *p, const struct entitlement *ent,
                                        const struct ap_tool *t)
{
    uint32_t want = (uint32_t)(t - p->tools), lo = 0, hi = ent->ntools;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ent->tools[mid].tool < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ent->ntools && ent->tools[lo].tool == want ? &ent->tools[lo] : NULL;
}

/* ---- entitlements ---- */

/* The candidates of one tool while an entitlement is built. */
struct build_tool {
    struct ent_cand *v;
    uint32_t n, cap;
};

static enum md_err add_cand(const struct policy *p, struct build_tool *tmp, const struct ap_tool *t,
                            const struct ap_grant *g, enum access_level pack_ceiling)
{
    struct build_tool *bt = &tmp[t - p->tools];
    struct ent_cand *c;

    /* One grant reaches a tool once, whatever number of pack entries name it. */
    if (bt->n && bt->v[bt->n - 1].grant == (uint32_t)g->idx)
        return MD_OK;
    if (bt->n == bt->cap) {
        uint32_t cap = bt->cap ? bt->cap * 2 : 2;
        struct ent_cand *nv = realloc(bt->v, cap * sizeof *nv);
        if (!nv)
            return MD_ERR_NOMEM;
        bt->v = nv;
        bt->cap = cap;
    }
    c = &bt->v[bt->n++];
    c->grant = (uint32_t)g->idx;
    c->ceiling = (uint8_t)(g->ceiling < pack_ceiling ? g->ceiling : pack_ceiling);
    c->cond = -1;
    for (size_t i = 0; i < g->nconds; i++)
        if (strcmp(g->conds[i].tool, t->name) == 0)
            c->cond = (int32_t)i;
    return MD_OK;
}

/* The first tool whose name is >= key (tools are sorted by name). */
static size_t lower_bound(const struct policy *p, const char *key)
{
    size_t lo = 0, hi = p->ntools;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(p->tools[mid].name, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static enum md_err reach_grant(const struct policy *p, struct build_tool *tmp,
                               const struct ap_grant *g)
{
    if (g->broken)
        return MD_OK;
    if (!g->pack) {
        const struct ap_tool *t = g->tool[0] ? policy_tool(p, g->tool) : NULL;
        return t ? add_cand(p, tmp, t, g, ACCESS_DESTRUCTIVE) : MD_OK;
    }
    for (size_t i = 0; i < g->pack->nentries; i++) {
        const char *pat = g->pack->entries[i].pattern;
        size_t n = strlen(pat);

        if (n > 3 && strcmp(pat + n - 3, "__*") == 0) {
            /* A whole connector: its tools are adjacent in name order. */
            char prefix[ACCESS_TOOL_NAME_MAX + 1];
            snprintf(prefix, sizeof prefix, "%.*s", (int)(n - 1), pat);
            for (size_t k = lower_bound(p, prefix);
                 k < p->ntools && strncmp(p->tools[k].name, prefix, n - 1) == 0; k++) {
                const struct ap_tool *t = &p->tools[k];
                if (add_cand(p, tmp, t, g, policy_pack_ceiling(g->pack, t)))
                    return MD_ERR_NOMEM;
            }
        } else {
            const struct ap_tool *t = policy_tool(p, pat);
            if (t && add_cand(p, tmp, t, g, policy_pack_ceiling(g->pack, t)))
                return MD_ERR_NOMEM;
        }
    }
    return MD_OK;
}

static struct entitlement *build_entitlement(const struct policy *p, const int *idx, size_t n)
{
    struct build_tool *tmp = calloc(p->ntools + 1, sizeof *tmp);
    struct entitlement *ent = calloc(1, sizeof *ent);
    uint32_t ntools = 0, ncands = 0;
    bool ok = tmp && ent;

    for (size_t i = 0; ok && i < n; i++)
        ok = reach_grant(p, tmp, &p->grants[idx[i]]) == MD_OK;
    for (size_t k = 0; ok && k < p->ntools; k++) {
        ntools += tmp[k].n > 0;
        ncands += tmp[k].n;
    }
    if (ok) {
        ent->tools = malloc((ntools + 1) * sizeof *ent->tools);
        ent->cands = malloc((ncands + 1) * sizeof *ent->cands);
        ok = ent->tools && ent->cands;
    }
    /* Packed: one array of tools in tool order, one of candidates. */
    for (size_t k = 0, nc = 0; ok && k < p->ntools; k++) {
        if (!tmp[k].n)
            continue;
        ent->tools[ent->ntools++] = (struct ent_tool){(uint32_t)k, (uint32_t)nc, tmp[k].n};
        memcpy(ent->cands + nc, tmp[k].v, tmp[k].n * sizeof *tmp[k].v);
        nc += tmp[k].n;
    }
    for (size_t k = 0; tmp && k < p->ntools; k++)
        free(tmp[k].v);
    free(tmp);
    if (!ok && ent) {
        free_ent(NULL, NULL, ent);
        ent = NULL;
    }
    return ent;
}

const struct entitlement *policy_entitlement(struct policy *p, const int *idx, size_t n)
{
    char sig[4096];
    size_t len = 0;
    struct entitlement *ent;

    sig[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof sig - 16; i++)
        len += (size_t)snprintf(sig + len, sizeof sig - len, "%d,", idx[i]);
    /* A signature too long to intern is built for this user alone, kept under a key of its own
     * (freed with the policy). */
    pthread_mutex_lock(&p->ent_mu);
    ent = len < sizeof sig - 16 ? hmap_get(&p->ents, sig) : NULL;
    if (!ent) {
        ent = build_entitlement(p, idx, n);
        if (ent) {
            if (len >= sizeof sig - 16)
                snprintf(sig, sizeof sig, "#%p", (void *)ent);
            if (hmap_put(&p->ents, sig, ent, NULL)) {
                free_ent(NULL, NULL, ent);
                ent = NULL;
            }
        }
    }
    pthread_mutex_unlock(&p->ent_mu);
    return ent;
}
