/*
 * The SQLite backend's queries (sqlite_int.h): store_res_query compiles its predicate tree and
 * sort into SQL, runs the count and the page, and explain shows SQLite's plan for a query or
 * for one of the fixed statements. The compiled SQL goes through the per-connection statement
 * cache of sqlite.c.
 */
#include "store/sqlite_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

/* julianday('1970-01-01') in milliseconds: turns a Julian day into epoch milliseconds. */
#define SQ_EPOCH_JD_MS "210866760000000"

/* ---- predicate compilation ----
 *
 * A predicate tree becomes a WHERE clause over the resource table aliased r, with numbered
 * parameters (?N) for every value and every JSON path: nothing from the tree is pasted into
 * the SQL text except the fixed operators, column names and aliases chosen here.
 *
 * The semantics are store_int.h's. A leaf may evaluate to NULL (an absent attribute). In a
 * positive context NULL acts as false, as AND and OR keep it; only negation would turn
 * "unknown" into a wrong answer, so NOT is compiled as (a) IS NOT 1, true for 0 and NULL.
 * Leaves on indexed columns stay in the bare form (r.user_name_lc = lower(?N),
 * r.external_id = ?N) that SQLite answers from the index.
 *
 * SQLite's parser has a small stack (about 100 entries), which nested parentheses and function
 * calls fill from the left. So a chain of one operator (a or b or c ...) is written flat,
 * a parenthesized operand is written first where the operator allows, and negation costs one
 * parenthesis; a tree that still overflows the parser is refused as too complex.
 *
 * JSON values are typed by json_type(), as json_extract() alone gives 1 and 0 for true and
 * false; a dateTime in the document is read by julianday(), which knows the RFC 3339 forms.
 */

enum qp_type { QP_TEXT, QP_REAL, QP_INT };

struct qparam {
    enum qp_type type;
    const char *s; /* borrowed, or own */
    char *own;
    double d;
    int64_t i;
};

struct qc {
    struct buf *out; /* the SQL being written */
    struct qparam *p;
    int np, cap;
    int nodes;
    int alias;
    enum store_kind k;
    struct md_error *e;
    enum md_err err; /* the first failure; later output is ignored */
};

/* What a comparison leaf compares: an expression v, and for a JSON value its type t. */
enum subj_kind { SJ_JSON, SJ_ID, SJ_TEXT_NULL, SJ_USER_NAME, SJ_BOOL, SJ_TIME };

struct subj {
    enum subj_kind kind;
    char v[96];
    char t[96];
};

/* How a string comparison folds case: not at all, both sides, or the value only (the column
 * holds a folded copy). */
enum fold { F_EXACT, F_LOWER, F_PRE };

static void qc_fail(struct qc *q, enum md_err code, const char *msg)
{
    if (!q->err)
        q->err = md_error_set(q->e, code, "%s", msg);
}

static void qc_put(struct qc *q, const char *s)
{
    if (!q->err)
        buf_append_cstr(q->out, s);
}

/* Adds a parameter; its number, 0 after a failure. Takes ownership of v.own. */
static int qc_param(struct qc *q, struct qparam v)
{
    if (!q->err && q->np == q->cap) {
        int cap = q->cap ? q->cap * 2 : 16;
        struct qparam *p = realloc(q->p, (size_t)cap * sizeof *p);
        if (!p)
            qc_fail(q, MD_ERR_NOMEM, "out of memory");
        else {
            q->p = p;
            q->cap = cap;
        }
    }
    if (q->err) {
        free(v.own);
        return 0;
    }
    q->p[q->np++] = v;
    return q->np;
}

static int qc_text(struct qc *q, const char *s)
{
    return qc_param(q, (struct qparam){.type = QP_TEXT, .s = s});
}

static int qc_int(struct qc *q, int64_t i)
{
    return qc_param(q, (struct qparam){.type = QP_INT, .i = i});
}

/*
 * A JSON path parameter: $."k1"."k2" (or ."k1" relative to an array element's path), each key
 * quoted so that dots, colons and brackets in schema URNs are taken literally, with '"' and '\'
 * escaped. (SQLite before 3.45 ends a quoted key at the first '"', so such a key matches
 * nothing there; SCIM attribute names never contain one.)
 */
static int qc_path(struct qc *q, const char *const *path, int n, bool relative)
{
    struct buf b;
    const char *k;
    int i;

    if (n < 1 || n > STORE_PATH_MAX) {
        qc_fail(q, MD_ERR_FILTER, "an attribute path has no or too many parts");
        return 0;
    }
    buf_init(&b, 4096);
    if (!relative)
        buf_append_char(&b, '$');
    for (i = 0; i < n; i++) {
        if (!path[i] || !path[i][0]) {
            buf_free(&b);
            qc_fail(q, MD_ERR_FILTER, "an attribute path has an empty part");
            return 0;
        }
        buf_append_cstr(&b, ".\"");
        for (k = path[i]; *k; k++) {
            if (*k == '"' || *k == '\\')
                buf_append_char(&b, '\\');
            buf_append_char(&b, *k);
        }
        buf_append_char(&b, '"');
    }
    if (b.err) {
        buf_free(&b);
        qc_fail(q, MD_ERR_FILTER, "an attribute path is too long");
        return 0;
    }
    return qc_param(q, (struct qparam){.type = QP_TEXT, .s = b.p, .own = b.p});
}

/*
 * The indexed columns: how a leaf or a sort names them, what kind of value they hold, and
 * whether only users have them. Indexed by enum store_col (SCOL_DOC has no entry).
 */
static const struct {
    const char *expr;
    enum subj_kind kind;
    bool users_only;
} qc_cols[] = {
    [SCOL_ID] = {"r.id", SJ_ID, false},
    [SCOL_USER_NAME] = {"r.user_name", SJ_USER_NAME, true},
    [SCOL_DISPLAY_NAME] = {"r.display_name", SJ_TEXT_NULL, false},
    [SCOL_EXTERNAL_ID] = {"r.external_id", SJ_TEXT_NULL, false},
    [SCOL_ACTIVE] = {"r.active", SJ_BOOL, true},
    [SCOL_CREATED] = {"r.created_ms", SJ_TIME, false},
    [SCOL_MODIFIED] = {"r.modified_ms", SJ_TIME, false},
};

static bool qc_col_ok(struct qc *q, enum store_col col, enum md_err code)
{
    if (col > SCOL_DOC && col <= SCOL_MODIFIED && (q->k == STORE_USERS || !qc_cols[col].users_only))
        return true;
    qc_fail(q, code, "this resource type has no such attribute");
    return false;
}

static bool qc_subject(struct qc *q, const struct store_pred *p, int any, struct subj *s)
{
    int pi;

    memset(s, 0, sizeof *s);
    if (p->col != SCOL_DOC) {
        if (!qc_col_ok(q, p->col, MD_ERR_FILTER))
            return false;
        s->kind = qc_cols[p->col].kind;
        snprintf(s->v, sizeof s->v, "%s", qc_cols[p->col].expr);
        return true;
    }
    s->kind = SJ_JSON;
    if (any && p->npath == 0) {
        snprintf(s->v, sizeof s->v, "e%d.value", any);
        snprintf(s->t, sizeof s->t, "e%d.type", any);
        return true;
    }
    /* Inside SP_ANY the path is appended to the element's full path in r.doc, which never
     * fails on an element that is not an object (json_extract on e.value would). */
    pi = qc_path(q, p->path, p->npath, any != 0);
    if (any) {
        snprintf(s->v, sizeof s->v, "json_extract(r.doc, e%d.fullkey || ?%d)", any, pi);
        snprintf(s->t, sizeof s->t, "json_type(r.doc, e%d.fullkey || ?%d)", any, pi);
    } else {
        snprintf(s->v, sizeof s->v, "json_extract(r.doc, ?%d)", pi);
        snprintf(s->t, sizeof s->t, "json_type(r.doc, ?%d)", pi);
    }
    return !q->err;
}

/* The SQL operator of eq and the orderings; NULL for the others. */
static const char *cmp_op(enum store_cmp c)
{
    static const char *const ops[] = {
        [SC_EQ] = "=", [SC_GT] = ">", [SC_GE] = ">=", [SC_LT] = "<", [SC_LE] = "<="};
    return (size_t)c < sizeof ops / sizeof ops[0] ? ops[c] : NULL;
}

/*
 * A string comparison of expression v with parameter pi. co, sw and ew use instr() and
 * substr(), never LIKE, so '%' and '_' in a value are plain characters. Ordering is by code
 * point (UTF-8 bytes), after folding when the comparison is case-insensitive.
 */
static void qc_str_op(struct qc *q, const char *v, enum fold f, enum store_cmp cmp, int pi)
{
    char l[128], r[32];

    if (f == F_LOWER)
        snprintf(l, sizeof l, "lower(%s)", v);
    else
        snprintf(l, sizeof l, "%s", v);
    snprintf(r, sizeof r, f == F_EXACT ? "?%d" : "lower(?%d)", pi);
    if (q->err)
        return;
    switch (cmp) {
    case SC_CO:
        buf_appendf(q->out, "instr(%s, %s) > 0", l, r);
        break;
    case SC_SW:
        buf_appendf(q->out, "instr(%s, %s) = 1", l, r);
        break;
    case SC_EW:
        buf_appendf(q->out, "(length(%s) = 0 OR substr(%s, -length(%s)) = %s)", r, l, r, r);
        break;
    default:
        if (cmp_op(cmp))
            buf_appendf(q->out, "%s %s %s", l, cmp_op(cmp), r);
        else
            qc_fail(q, MD_ERR_FILTER, "an unknown comparison");
        break;
    }
}

static void qc_test_str(struct qc *q, const struct store_pred *p, const struct subj *s,
                        enum store_cmp cmp)
{
    enum fold f = p->case_exact ? F_EXACT : F_LOWER;
    int pi;

    if (!p->str) {
        qc_fail(q, MD_ERR_FILTER, "a string comparison has no value");
        return;
    }
    pi = qc_text(q, p->str);
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out, "(%s = 'text' AND ", s->t);
        qc_str_op(q, s->v, f, cmp, pi);
        qc_put(q, ")");
        break;
    case SJ_ID:
        /* Ids are caseExact (RFC 7643 section 3.1), and exact equality uses the key. */
        qc_str_op(q, s->v, cmp == SC_EQ ? F_EXACT : f, cmp, pi);
        break;
    case SJ_TEXT_NULL:
        qc_str_op(q, s->v, f, cmp, pi);
        break;
    case SJ_USER_NAME:
        /* The folded column carries the unique index; an exact match narrows it further. */
        if (!p->case_exact)
            qc_str_op(q, "r.user_name_lc", F_PRE, cmp, pi);
        else if (cmp == SC_EQ && !q->err)
            buf_appendf(q->out, "(r.user_name_lc = lower(?%d) AND r.user_name = ?%d)", pi, pi);
        else
            qc_str_op(q, s->v, F_EXACT, cmp, pi);
        break;
    default:
        qc_fail(q, MD_ERR_FILTER, "a string cannot be compared with this attribute");
        break;
    }
}

/* The comparison of leaf p with operator cmp (never ne or pr, which the caller handles). */
static void qc_test(struct qc *q, const struct store_pred *p, const struct subj *s,
                    enum store_cmp cmp)
{
    bool json = s->kind == SJ_JSON;

    if (q->err)
        return;
    switch (p->vtype) {
    case SV_STRING:
        qc_test_str(q, p, s, cmp);
        return;
    case SV_NUMBER:
        if (!json || !cmp_op(cmp))
            break;
        buf_appendf(q->out, "(%s IN ('integer', 'real') AND %s %s ?%d)", s->t, s->v, cmp_op(cmp),
                    qc_param(q, (struct qparam){.type = QP_REAL, .d = p->num}));
        return;
    case SV_BOOL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "%s = '%s'", s->t, p->b_val ? "true" : "false");
        else if (s->kind == SJ_BOOL)
            buf_appendf(q->out, "%s = %d", s->v, p->b_val ? 1 : 0);
        else
            break;
        return;
    case SV_NULL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "coalesce(%s, 'null') = 'null'", s->t);
        else if (s->kind == SJ_TEXT_NULL)
            buf_appendf(q->out, "%s IS NULL", s->v);
        else
            qc_put(q, "0");
        return;
    case SV_TIME:
        if (!cmp_op(cmp))
            break;
        if (json)
            buf_appendf(q->out,
                        "(%s = 'text' AND round(julianday(%s) * 86400000.0) - " SQ_EPOCH_JD_MS
                        " %s ?%d)",
                        s->t, s->v, cmp_op(cmp), qc_int(q, p->ms));
        else if (s->kind == SJ_TIME)
            buf_appendf(q->out, "%s %s ?%d", s->v, cmp_op(cmp), qc_int(q, p->ms));
        else
            break;
        return;
    default:
        break;
    }
    qc_fail(q, MD_ERR_FILTER, "this comparison is not supported for this attribute and value");
}

/* pr: present and not null, "", [] or {}. */
static void qc_present(struct qc *q, const struct subj *s)
{
    if (q->err)
        return;
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out,
                    "(%s IS NOT NULL AND %s <> 'null' AND NOT ((%s = 'text' AND %s = '') OR "
                    "(%s = 'array' AND %s = '[]') OR (%s = 'object' AND %s = '{}')))",
                    s->t, s->t, s->t, s->v, s->t, s->v, s->t, s->v);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> '')", s->v, s->v);
        break;
    case SJ_ID:
    case SJ_USER_NAME:
        buf_appendf(q->out, "%s <> ''", s->v);
        break;
    default:
        qc_put(q, "1");
        break;
    }
}

/* The subject holds a value other than JSON null. */
static void qc_has_value(struct qc *q, const struct subj *s)
{
    if (q->err)
        return;
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> 'null')", s->t, s->t);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "%s IS NOT NULL", s->v);
        break;
    default:
        qc_put(q, "1");
        break;
    }
}

static void qc_cmp(struct qc *q, const struct store_pred *p, int any)
{
    struct subj s;

    if (!qc_subject(q, p, any, &s))
        return;
    if (p->cmp == SC_PR) {
        qc_present(q, &s);
    } else if (p->cmp == SC_NE) {
        /* ne needs a value: an absent or null attribute satisfies neither eq nor ne, as in
         * scim_filter_match (so that a condition on an argument never sent does not hold). */
        qc_put(q, "(");
        qc_has_value(q, &s);
        qc_put(q, " AND (");
        qc_test(q, p, &s, SC_EQ);
        qc_put(q, ") IS NOT 1)");
    } else {
        qc_test(q, p, &s, p->cmp);
    }
}

/*
 * members (SP_MEMBER, groups) and direct membership in a group (SP_MEMBER_OF) through the
 * membership table's keys: group_id for a group's members, member_id for a member's groups.
 * Member and group ids are compared exactly for eq and ne, as ids are caseExact.
 */
static void qc_member(struct qc *q, const struct store_pred *p)
{
    bool of = p->kind == SP_MEMBER_OF;
    enum fold f = p->case_exact ? F_EXACT : F_LOWER;
    char col[32];
    int a, pi;

    if (!of && q->k != STORE_GROUPS) {
        qc_fail(q, MD_ERR_FILTER, "members is an attribute of Groups");
        return;
    }
    if (p->cmp != SC_PR && (p->vtype != SV_STRING || !p->str)) {
        qc_fail(q, MD_ERR_FILTER, "a membership filter compares with a string id");
        return;
    }
    a = ++q->alias;
    /* eq walks the index from the value to the rows, instead of probing every row. */
    if (p->cmp == SC_EQ && !q->err) {
        buf_appendf(q->out, "r.id IN (SELECT m%d.%s FROM group_members AS m%d WHERE m%d.%s = ?%d)",
                    a, of ? "member_id" : "group_id", a, a, of ? "group_id" : "member_id",
                    qc_text(q, p->str));
        return;
    }
    buf_appendf(q->out, "EXISTS (SELECT 1 FROM group_members AS m%d WHERE m%d.%s = r.id", a, a,
                of ? "member_id" : "group_id");
    if (p->cmp != SC_PR) {
        snprintf(col, sizeof col, "m%d.%s", a, of ? "group_id" : "member_id");
        pi = qc_text(q, p->str);
        qc_put(q, " AND ");
        if (p->cmp == SC_NE) {
            qc_put(q, "(");
            qc_str_op(q, col, F_EXACT, SC_EQ, pi);
            qc_put(q, ") IS NOT 1");
        } else {
            qc_str_op(q, col, p->cmp == SC_EQ ? F_EXACT : f, p->cmp, pi);
        }
    }
    qc_put(q, ")");
}

static void qc_pred(struct qc *q, const struct store_pred *p, int depth, int any);

/* Some element of the array at path satisfies p->a; only arrays count (json_each would walk an
 * object's members, and a scalar as itself). */
static void qc_any(struct qc *q, const struct store_pred *p, int depth, int any)
{
    int a, pi;

    if (any) {
        qc_fail(q, MD_ERR_FILTER, "a filter on values inside values is not supported");
        return;
    }
    pi = qc_path(q, p->path, p->npath, false);
    a = ++q->alias;
    if (!q->err)
        buf_appendf(q->out,
                    "EXISTS (SELECT 1 FROM json_each(r.doc, ?%d) AS e%d "
                    "WHERE typeof(e%d.key) = 'integer' AND (",
                    pi, a, a);
    qc_pred(q, p->a, depth + 1, a);
    qc_put(q, "))");
}

/* Whether child, an operand of parent, needs parentheses: only an and/or under the other. */
static bool qc_parens(const struct store_pred *parent, const struct store_pred *child)
{
    return child && (child->kind == SP_AND || child->kind == SP_OR) && child->kind != parent->kind;
}

static void qc_operand(struct qc *q, const struct store_pred *parent,
                       const struct store_pred *child, int depth, int any)
{
    bool parens = qc_parens(parent, child);

    if (parens)
        qc_put(q, "(");
    qc_pred(q, child, depth + (parens ? 1 : 0), any);
    if (parens)
        qc_put(q, ")");
}

/*
 * any: the alias number of the enclosing SP_ANY's json_each, 0 outside one. depth counts the
 * nesting of the SQL written (a flat chain of one operator adds none); the node count bounds
 * the recursion.
 */
static void qc_pred(struct qc *q, const struct store_pred *p, int depth, int any)
{
    if (q->err)
        return;
    if (!p) {
        qc_fail(q, MD_ERR_FILTER, "an incomplete filter");
        return;
    }
    if (depth > STORE_PRED_MAX_DEPTH || ++q->nodes > STORE_PRED_MAX_NODES) {
        qc_fail(q, MD_ERR_FILTER, "the filter is too complex");
        return;
    }
    switch (p->kind) {
    case SP_TRUE:
        qc_put(q, "1");
        break;
    case SP_FALSE:
        qc_put(q, "0");
        break;
    case SP_AND:
    case SP_OR: {
        /* AND and OR commute (also over NULL), so the operand in parentheses goes first. */
        bool swap = qc_parens(p, p->b) && !qc_parens(p, p->a);
        qc_operand(q, p, swap ? p->b : p->a, depth, any);
        qc_put(q, p->kind == SP_AND ? " AND " : " OR ");
        qc_operand(q, p, swap ? p->a : p->b, depth, any);
        break;
    }
    case SP_NOT:
        qc_put(q, "(");
        qc_pred(q, p->a, depth + 1, any);
        qc_put(q, ") IS NOT 1");
        break;
    case SP_CMP:
        qc_cmp(q, p, any);
        break;
    case SP_ANY:
        qc_any(q, p, depth, any);
        break;
    case SP_MEMBER:
    case SP_MEMBER_OF:
        qc_member(q, p);
        break;
    default:
        qc_fail(q, MD_ERR_FILTER, "an unknown filter node");
        break;
    }
}

/*
 * ORDER BY: the sort key with NULLs last, then creation and id so that pages are stable. A
 * case-insensitive key is folded the way the filters fold it, so the lower(display_name)
 * index serves both; a JSON value uses NOCASE instead, as lower() would turn numbers into text.
 */
static void qc_order(struct qc *q, const struct store_sort *s)
{
    char x[96];
    bool ci;

    if (!s) {
        qc_put(q, " ORDER BY r.created_ms, r.id");
        return;
    }
    ci = !s->case_exact;
    if (s->col == SCOL_DOC) {
        snprintf(x, sizeof x, "json_extract(r.doc, ?%d)%s", qc_path(q, s->path, s->npath, false),
                 ci ? " COLLATE NOCASE" : "");
    } else {
        if (!qc_col_ok(q, s->col, MD_ERR_VALUE))
            return;
        if (s->col == SCOL_USER_NAME)
            snprintf(x, sizeof x, "%s", ci ? "r.user_name_lc" : "r.user_name");
        else if (ci && qc_cols[s->col].kind == SJ_TEXT_NULL)
            snprintf(x, sizeof x, "lower(%s)", qc_cols[s->col].expr);
        else
            snprintf(x, sizeof x, "%s", qc_cols[s->col].expr);
    }
    if (!q->err)
        buf_appendf(q->out, " ORDER BY %s %s NULLS LAST, r.created_ms, r.id", x,
                    s->descending ? "DESC" : "ASC");
}

/* The SQL of a query: count_sql counts the matches, page_sql fetches one page of them. */
struct qsql {
    struct qc q;
    struct buf where, count_sql, page_sql;
    int64_t offset, limit;
};

static void qsql_free(struct qsql *x)
{
    int i;

    for (i = 0; i < x->q.np; i++)
        free(x->q.p[i].own);
    free(x->q.p);
    buf_free(&x->where);
    buf_free(&x->count_sql);
    buf_free(&x->page_sql);
}

static enum md_err qsql_build(struct qsql *x, enum store_kind k, const struct store_query *qq,
                              struct md_error *e)
{
    const char *table = k == STORE_USERS ? "users" : "groups";

    memset(x, 0, sizeof *x);
    buf_init(&x->where, 1 << 20);
    buf_init(&x->count_sql, 1 << 20);
    buf_init(&x->page_sql, 1 << 20);
    x->q.k = k;
    x->q.e = e;
    x->q.out = &x->where;
    x->offset = qq && qq->start_index > 1 ? qq->start_index - 1 : 0;
    x->limit = qq && qq->count > 0 ? qq->count : 0;
    if (qq && qq->where)
        qc_pred(&x->q, qq->where, 1, 0);
    else
        qc_put(&x->q, "1");
    buf_appendf(&x->count_sql, "SELECT count(*) FROM %s AS r WHERE %s", table,
                x->where.p ? x->where.p : "1");
    buf_appendf(&x->page_sql, "SELECT %s FROM %s AS r WHERE %s", k == STORE_USERS ? U_COLS : G_COLS,
                table, x->where.p ? x->where.p : "1");
    x->q.out = &x->page_sql;
    qc_order(&x->q, qq ? qq->sort : NULL);
    if (!x->q.err)
        buf_appendf(&x->page_sql, " LIMIT ?%d OFFSET ?%d", qc_int(&x->q, x->limit),
                    qc_int(&x->q, x->offset));
    if (x->q.err)
        return x->q.err;
    if (x->where.err || x->count_sql.err || x->page_sql.err)
        return md_error_set(e, MD_ERR_FILTER, "the filter is too large");
    return MD_OK;
}

/* Binds the parameters that st uses; the count statement uses a prefix of them. */
static int qsql_bind(const struct qsql *x, sqlite3_stmt *st)
{
    int n = sqlite3_bind_parameter_count(st), i, rc = 0;

    for (i = 0; i < n && i < x->q.np; i++) {
        const struct qparam *p = &x->q.p[i];
        if (p->type == QP_TEXT)
            rc |= sqlite3_bind_text(st, i + 1, p->s, -1, SQLITE_STATIC);
        else if (p->type == QP_REAL)
            rc |= sqlite3_bind_double(st, i + 1, p->d);
        else
            rc |= sqlite3_bind_int64(st, i + 1, p->i);
    }
    return rc;
}

static enum md_err query_count(struct sq_conn *c, const struct qsql *x, int64_t *total,
                               struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    int rc;

    err = sqlite__lease_dyn(c, x->count_sql.p, &l, e);
    if (err)
        return err;
    if (qsql_bind(x, l.st)) {
        err = sqlite__bind_fail(c, e);
        goto out;
    }
    rc = sqlite3_step(l.st);
    if (rc == SQLITE_ROW)
        *total = sqlite3_column_int64(l.st, 0);
    else
        err = sqlite__fail(c->db, rc, "query", e);
out:
    sqlite__lease_end(&l);
    return err;
}

static enum md_err query_page(struct sq_conn *c, const struct qsql *x, struct store_rows *out,
                              struct md_error *e)
{
    struct sq_lease l;
    enum md_err err;
    size_t cap = 0;
    int rc = SQLITE_DONE;

    err = sqlite__lease_dyn(c, x->page_sql.p, &l, e);
    if (err)
        return err;
    if (qsql_bind(x, l.st)) {
        err = sqlite__bind_fail(c, e);
        goto out;
    }
    while ((int64_t)out->n < x->limit && (rc = sqlite3_step(l.st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct store_row *rows = realloc(out->rows, ncap * sizeof *rows);
            if (!rows) {
                err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
                goto out;
            }
            memset(rows + cap, 0, (ncap - cap) * sizeof *rows);
            out->rows = rows;
            cap = ncap;
        }
        err = sqlite__row_read(l.st, &out->rows[out->n], e);
        if (err)
            goto out;
        out->n++;
    }
    if ((int64_t)out->n < x->limit && rc != SQLITE_DONE)
        err = sqlite__fail(c->db, rc, "query", e);
out:
    sqlite__lease_end(&l);
    return err;
}

/*
 * The count and the page run in one read transaction (unless the caller has one), so that the
 * total agrees with the page even while writers commit.
 */
enum md_err sqlite__res_query(struct store_conn *bc, enum store_kind k,
                              const struct store_query *qq, struct store_rows *out,
                              struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    struct qsql x;
    enum md_err err;
    bool own = false;

    err = qsql_build(&x, k, qq, e);
    if (err)
        goto out;
    if (x.limit > 0 && !sqlite__in_tx(bc)) {
        err = sqlite__run2(c, Q_BEGIN_READ, NULL, NULL, NULL, NULL, e);
        if (err)
            goto out;
        own = true;
    }
    /*
     * The page first: a first page with room to spare holds every match, so its size is the
     * total and the count query is not needed (a lookup by userName is that case).
     */
    if (x.limit > 0)
        err = query_page(c, &x, out, e);
    if (!err && x.limit > 0 && x.offset == 0 && (int64_t)out->n < x.limit)
        out->total = (int64_t)out->n;
    else if (!err)
        err = query_count(c, &x, &out->total, e);
    if (own) {
        if (!err)
            err = sqlite__run2(c, Q_COMMIT, NULL, NULL, NULL, NULL, e);
        if (err)
            sqlite__rollback(bc);
    }
out:
    if (err)
        store_rows_free(out);
    qsql_free(&x);
    return err;
}

enum md_err sqlite__explain(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                            const char *name, char **plan, struct md_error *e)
{
    struct sq_conn *c = sqlite__conn(bc);
    struct sqlite3_stmt *st = NULL;
    struct qsql x;
    struct buf sql, res;
    enum md_err err = MD_OK;
    int rc;

    memset(&x, 0, sizeof x);
    buf_init(&sql, 0);
    buf_init(&res, 0);
    buf_append_cstr(&sql, "EXPLAIN QUERY PLAN ");
    if (name) {
        const char *fixed = sqlite__fixed_sql(name);

        if (!fixed) {
            err = md_error_set(e, MD_ERR_NOTFOUND, "no statement is named %s", name);
            goto out;
        }
        buf_append_cstr(&sql, fixed);
    } else {
        err = qsql_build(&x, k, qq, e);
        if (err)
            goto out;
        buf_append_cstr(&sql, x.limit > 0 ? x.page_sql.p : x.count_sql.p);
    }
    if (sql.err) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    rc = sqlite3_prepare_v2(c->db, sql.p, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        err = sqlite__fail(c->db, rc, "explain", e);
        goto out;
    }
    if (!name)
        qsql_bind(&x, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        buf_appendf(&res, "%s\n", sqlite__col_str(st, 3));
    if (rc != SQLITE_DONE)
        err = sqlite__fail(c->db, rc, "explain", e);
    else if (res.err)
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    else
        *plan = buf_steal(&res);
out:
    sqlite3_finalize(st);
    qsql_free(&x);
    buf_free(&sql);
    buf_free(&res);
    return err;
}
