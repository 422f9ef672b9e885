/*
 * The PostgreSQL backend's queries (pg_int.h): store_res_query compiles its predicate tree and
 * sort into SQL, runs the page and the total in one statement, and explain shows PostgreSQL's
 * plan for a query or for one of the fixed statements. The compiled SQL goes through the
 * per-connection statement cache of pg.c.
 */
#include "store/pg_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

/* ---- predicate compilation ----
 *
 * A predicate tree becomes a WHERE clause over the resource table aliased r, with numbered
 * parameters ($N) for every value and every key of a JSON path: nothing from the tree is
 * pasted into the SQL text except the fixed operators, column names and aliases chosen here.
 * Every parameter is sent as text and cast in the SQL, so that the same text always means the
 * same statement.
 *
 * The semantics are store_int.h's, and the SQLite backend's. A leaf may evaluate to NULL (an
 * absent attribute). In a positive context NULL acts as false, as AND and OR keep it; only
 * negation would turn "unknown" into a wrong answer, so NOT is compiled as (a) IS NOT TRUE.
 * Leaves on indexed columns stay in the bare form (r.user_name_lc = lower($N ...),
 * r.external_id = $N) that PostgreSQL answers from the index.
 *
 * A JSON value is reached with the -> operator, one key parameter at a time, which yields NULL
 * (never an error) where a key is missing or the value is no object. Nothing compiled here
 * can raise an error on any document, because an error would abort the caller's transaction:
 * values are compared as jsonb or as the text of a JSON string (#>> '{}'), never cast, and a
 * dateTime string is read by mandate_time_ms (pg.c), which answers NULL for a non-date.
 * Text compares under COLLATE "C" (code point order; lower() folds ASCII only).
 */

struct qparam {
    const char *s; /* borrowed, or own */
    char *own;
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

/* What a comparison leaf compares: a column, or a jsonb value v with its string's text txt. */
enum subj_kind { SJ_JSON, SJ_ID, SJ_TEXT_NULL, SJ_USER_NAME, SJ_BOOL, SJ_TIME };

struct subj {
    enum subj_kind kind;
    char v[160];
    char txt[200];
};

/* How a string comparison folds case: not at all, both sides, or the value only (the column
 * holds a folded copy). */
enum fold { F_EXACT, F_LOWER, F_PRE };

/* The value side of a case-insensitive comparison: folded the way user_name_lc was. */
#define LOWER_PARAM "lower($%d::text COLLATE \"C\")"

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
    return qc_param(q, (struct qparam){.s = s});
}

static int qc_own(struct qc *q, char *own)
{
    if (!own) {
        qc_fail(q, MD_ERR_NOMEM, "out of memory");
        return 0;
    }
    return qc_param(q, (struct qparam){.s = own, .own = own});
}

static int qc_int(struct qc *q, int64_t i)
{
    char t[24];

    snprintf(t, sizeof t, "%lld", (long long)i);
    return qc_own(q, strdup(t));
}

/*
 * A JSON number parameter: the shortest decimal that reads back as the same double, so that
 * 0.1 in a filter equals 0.1 in a document (jsonb compares numbers as exact decimals).
 */
static int qc_number(struct qc *q, double d)
{
    char t[40];
    int prec;

    if (!isfinite(d)) {
        qc_fail(q, MD_ERR_FILTER, "a number in a filter must be finite");
        return 0;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof t, "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    return qc_own(q, strdup(t));
}

/*
 * The jsonb value at path below base ("r.doc" or an array element), as
 * (base -> $a::text -> $b::text), into out. Each key is one text parameter, so that dots,
 * colons and quotes in keys (schema URNs) are taken literally.
 */
static bool qc_json(struct qc *q, const char *base, const char *const *path, int n, char *out,
                    size_t size)
{
    size_t len;
    int i;

    if (n < 1 || n > STORE_PATH_MAX) {
        qc_fail(q, MD_ERR_FILTER, "an attribute path has no or too many parts");
        return false;
    }
    len = (size_t)snprintf(out, size, "(%s", base);
    for (i = 0; i < n && len < size; i++) {
        if (!path[i] || !path[i][0]) {
            qc_fail(q, MD_ERR_FILTER, "an attribute path has an empty part");
            return false;
        }
        len += (size_t)snprintf(out + len, size - len, " -> $%d::text", qc_text(q, path[i]));
    }
    if (len < size)
        len += (size_t)snprintf(out + len, size - len, ")");
    if (len >= size)
        qc_fail(q, MD_ERR_FILTER, "an attribute path is too long");
    return !q->err;
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
    char base[24];

    memset(s, 0, sizeof *s);
    if (p->col != SCOL_DOC) {
        if (!qc_col_ok(q, p->col, MD_ERR_FILTER))
            return false;
        s->kind = qc_cols[p->col].kind;
        snprintf(s->v, sizeof s->v, "%s", qc_cols[p->col].expr);
        return true;
    }
    s->kind = SJ_JSON;
    if (any)
        snprintf(base, sizeof base, "e%d.value", any);
    else
        snprintf(base, sizeof base, "r.doc");
    if (any && p->npath == 0)
        snprintf(s->v, sizeof s->v, "%s", base);
    else if (!qc_json(q, base, p->path, p->npath, s->v, sizeof s->v))
        return false;
    snprintf(s->txt, sizeof s->txt, "((%s #>> '{}') COLLATE \"C\")", s->v);
    return true;
}

/* The SQL operator of eq and the orderings; NULL for the others. */
static const char *cmp_op(enum store_cmp c)
{
    static const char *const ops[] = {
        [SC_EQ] = "=", [SC_GT] = ">", [SC_GE] = ">=", [SC_LT] = "<", [SC_LE] = "<="};
    return (size_t)c < sizeof ops / sizeof ops[0] ? ops[c] : NULL;
}

/*
 * A string comparison of text expression v with parameter pi. co, sw and ew use strpos(),
 * starts_with() and right(), never LIKE, so '%' and '_' in a value are plain characters.
 */
static void qc_str_op(struct qc *q, const char *v, enum fold f, enum store_cmp cmp, int pi)
{
    char l[256], r[48];

    if (f == F_LOWER)
        snprintf(l, sizeof l, "lower(%s)", v);
    else
        snprintf(l, sizeof l, "%s", v);
    snprintf(r, sizeof r, f == F_EXACT ? "$%d::text" : LOWER_PARAM, pi);
    if (q->err)
        return;
    switch (cmp) {
    case SC_CO:
        buf_appendf(q->out, "strpos(%s, %s) > 0", l, r);
        break;
    case SC_SW:
        buf_appendf(q->out, "starts_with(%s, %s)", l, r);
        break;
    case SC_EW:
        buf_appendf(q->out, "right(%s, length(%s)) = %s", l, r, r);
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
        if (!q->err)
            buf_appendf(q->out, "(jsonb_typeof(%s) = 'string' AND ", s->v);
        qc_str_op(q, s->txt, f, cmp, pi);
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
            buf_appendf(q->out, "(r.user_name_lc = " LOWER_PARAM " AND r.user_name = $%d::text)",
                        pi, pi);
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
        buf_appendf(q->out, "(jsonb_typeof(%s) = 'number' AND %s %s $%d::jsonb)", s->v, s->v,
                    cmp_op(cmp), qc_number(q, p->num));
        return;
    case SV_BOOL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "%s = '%s'::jsonb", s->v, p->b_val ? "true" : "false");
        else if (s->kind == SJ_BOOL)
            buf_appendf(q->out, "%s = %s", s->v, p->b_val ? "true" : "false");
        else
            break;
        return;
    case SV_NULL:
        if (cmp != SC_EQ)
            break;
        if (json)
            buf_appendf(q->out, "coalesce(jsonb_typeof(%s), 'null') = 'null'", s->v);
        else if (s->kind == SJ_TEXT_NULL)
            buf_appendf(q->out, "%s IS NULL", s->v);
        else
            qc_put(q, "false");
        return;
    case SV_TIME:
        if (!cmp_op(cmp))
            break;
        if (json)
            buf_appendf(q->out,
                        "(jsonb_typeof(%s) = 'string' AND mandate_time_ms(%s #>> '{}') %s "
                        "$%d::bigint)",
                        s->v, s->v, cmp_op(cmp), qc_int(q, p->ms));
        else if (s->kind == SJ_TIME)
            buf_appendf(q->out, "%s %s $%d::bigint", s->v, cmp_op(cmp), qc_int(q, p->ms));
        else
            break;
        return;
    default:
        break;
    }
    qc_fail(q, MD_ERR_FILTER, "this comparison is not supported for this attribute and value");
}

/* pr: present and not null, "", [] or {}. jsonb equality across types is false, not an error. */
static void qc_present(struct qc *q, const struct subj *s)
{
    if (q->err)
        return;
    switch (s->kind) {
    case SJ_JSON:
        buf_appendf(q->out,
                    "(%s IS NOT NULL AND %s NOT IN ('null'::jsonb, '\"\"'::jsonb, '[]'::jsonb, "
                    "'{}'::jsonb))",
                    s->v, s->v);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> '')", s->v, s->v);
        break;
    case SJ_ID:
    case SJ_USER_NAME:
        buf_appendf(q->out, "%s <> ''", s->v);
        break;
    default:
        qc_put(q, "true");
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
        buf_appendf(q->out, "(%s IS NOT NULL AND %s <> 'null'::jsonb)", s->v, s->v);
        break;
    case SJ_TEXT_NULL:
        buf_appendf(q->out, "%s IS NOT NULL", s->v);
        break;
    default:
        qc_put(q, "true");
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
        qc_put(q, ") IS NOT TRUE)");
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
        buf_appendf(
            q->out, "r.id IN (SELECT m%d.%s FROM group_members AS m%d WHERE m%d.%s = $%d::text)", a,
            of ? "member_id" : "group_id", a, a, of ? "group_id" : "member_id", qc_text(q, p->str));
        return;
    }
    if (!q->err)
        buf_appendf(q->out, "EXISTS (SELECT 1 FROM group_members AS m%d WHERE m%d.%s = r.id", a, a,
                    of ? "member_id" : "group_id");
    if (p->cmp != SC_PR) {
        snprintf(col, sizeof col, "m%d.%s", a, of ? "group_id" : "member_id");
        pi = qc_text(q, p->str);
        qc_put(q, " AND ");
        if (p->cmp == SC_NE) {
            qc_put(q, "(");
            qc_str_op(q, col, F_EXACT, SC_EQ, pi);
            qc_put(q, ") IS NOT TRUE");
        } else {
            qc_str_op(q, col, p->cmp == SC_EQ ? F_EXACT : f, p->cmp, pi);
        }
    }
    qc_put(q, ")");
}

static void qc_pred(struct qc *q, const struct store_pred *p, int depth, int any);

/*
 * Some element of the array at path satisfies p->a. Only an array is walked:
 * jsonb_array_elements would fail on anything else, so the CASE hands it NULL (no rows).
 */
static void qc_any(struct qc *q, const struct store_pred *p, int depth, int any)
{
    char x[160];
    int a;

    if (any) {
        qc_fail(q, MD_ERR_FILTER, "a filter on values inside values is not supported");
        return;
    }
    if (!qc_json(q, "r.doc", p->path, p->npath, x, sizeof x))
        return;
    a = ++q->alias;
    buf_appendf(q->out,
                "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(%s) = "
                "'array' THEN %s END) AS e%d (value) WHERE (",
                x, x, a);
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
 * any: the alias number of the enclosing SP_ANY's element, 0 outside one. depth counts the
 * nesting of the SQL written (a flat chain of one operator adds none), exactly as the SQLite
 * backend counts it, so that both refuse the same trees; the node count bounds the recursion.
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
        qc_put(q, "true");
        break;
    case SP_FALSE:
        qc_put(q, "false");
        break;
    case SP_AND:
    case SP_OR: {
        bool swap = qc_parens(p, p->b) && !qc_parens(p, p->a);
        qc_operand(q, p, swap ? p->b : p->a, depth, any);
        qc_put(q, p->kind == SP_AND ? " AND " : " OR ");
        qc_operand(q, p, swap ? p->a : p->b, depth, any);
        break;
    }
    case SP_NOT:
        qc_put(q, "(");
        qc_pred(q, p->a, depth + 1, any);
        qc_put(q, ") IS NOT TRUE");
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
 * ORDER BY a JSON value, in SQLite's order of types: numbers (and booleans, as 0 and 1), then
 * text (strings, and arrays and objects as their JSON text), then absent values and nulls.
 * jsonb's own order (strings before numbers) would differ, so the type's rank is the first key.
 */
static void qc_order_json(struct qc *q, const struct store_sort *s, const char *dir)
{
    char x[160];

    if (!qc_json(q, "r.doc", s->path, s->npath, x, sizeof x))
        return;
    buf_appendf(q->out,
                " ORDER BY CASE jsonb_typeof(%s) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 "
                "WHEN 'string' THEN 2 WHEN 'array' THEN 2 WHEN 'object' THEN 2 END %s NULLS LAST, "
                "CASE jsonb_typeof(%s) WHEN 'number' THEN (%s)::numeric "
                "WHEN 'boolean' THEN CASE WHEN %s = 'true'::jsonb THEN 1 ELSE 0 END END "
                "%s NULLS LAST, ",
                x, dir, x, x, x, dir);
    buf_appendf(q->out,
                "%s(CASE WHEN jsonb_typeof(%s) = 'string' THEN %s #>> '{}' "
                "WHEN jsonb_typeof(%s) IN ('array', 'object') THEN %s::text END) "
                "COLLATE \"C\"%s %s NULLS LAST, r.created_ms, r.id",
                s->case_exact ? "" : "lower(", x, x, x, x, s->case_exact ? "" : ")", dir);
}

/*
 * ORDER BY: the sort key with NULLs last, then creation and id so that pages are stable. A
 * case-insensitive key is folded the way the filters fold it, so the lower(display_name)
 * index serves both.
 */
static void qc_order(struct qc *q, const struct store_sort *s)
{
    const char *dir;
    char x[96];

    if (!s) {
        qc_put(q, " ORDER BY r.created_ms, r.id");
        return;
    }
    dir = s->descending ? "DESC" : "ASC";
    if (s->col == SCOL_DOC) {
        if (!q->err)
            qc_order_json(q, s, dir);
        return;
    }
    if (!qc_col_ok(q, s->col, MD_ERR_VALUE))
        return;
    if (s->col == SCOL_USER_NAME)
        snprintf(x, sizeof x, "%s", s->case_exact ? "r.user_name" : "r.user_name_lc");
    else if (!s->case_exact && qc_cols[s->col].kind == SJ_TEXT_NULL)
        snprintf(x, sizeof x, "lower(%s)", qc_cols[s->col].expr);
    else
        snprintf(x, sizeof x, "%s", qc_cols[s->col].expr);
    if (!q->err)
        buf_appendf(q->out, " ORDER BY %s %s NULLS LAST, r.created_ms, r.id", x, dir);
}

/*
 * The SQL of a query: count_sql counts the matches with the first nwhere parameters; page_sql
 * fetches one page with every parameter, the total in its first column (one snapshot, one
 * round trip).
 */
struct qsql {
    struct qc q;
    struct buf where, count_sql, page_sql;
    int nwhere;
    int64_t offset, limit;
    const char **args;
};

static void qsql_free(struct qsql *x)
{
    int i;

    for (i = 0; i < x->q.np; i++)
        free(x->q.p[i].own);
    free(x->q.p);
    free(x->args);
    buf_free(&x->where);
    buf_free(&x->count_sql);
    buf_free(&x->page_sql);
}

static enum md_err qsql_build(struct qsql *x, enum store_kind k, const struct store_query *qq,
                              struct md_error *e)
{
    const char *table = k == STORE_USERS ? "users" : "groups";
    const char *w;
    int i;

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
        qc_put(&x->q, "true");
    x->nwhere = x->q.np;
    w = x->where.p ? x->where.p : "true";
    buf_appendf(&x->count_sql, "SELECT count(*) FROM %s AS r WHERE %s", table, w);
    buf_appendf(&x->page_sql,
                "SELECT (SELECT count(*) FROM %s AS r WHERE %s), %s FROM %s AS r "
                "WHERE %s",
                table, w, k == STORE_USERS ? PG_U_COLS : PG_G_COLS, table, w);
    x->q.out = &x->page_sql;
    qc_order(&x->q, qq ? qq->sort : NULL);
    if (!x->q.err)
        buf_appendf(&x->page_sql, " LIMIT $%d::bigint OFFSET $%d::bigint", qc_int(&x->q, x->limit),
                    qc_int(&x->q, x->offset));
    if (x->q.err)
        return x->q.err;
    if (x->where.err || x->count_sql.err || x->page_sql.err)
        return md_error_set(e, MD_ERR_FILTER, "the filter is too large");
    x->args = calloc((size_t)x->q.np + 1, sizeof *x->args);
    if (!x->args)
        return md_error_set(e, MD_ERR_NOMEM, "out of memory");
    for (i = 0; i < x->q.np; i++)
        x->args[i] = x->q.p[i].s;
    return MD_OK;
}

static enum md_err query_count(struct pg_conn *c, const struct qsql *x, int64_t *total,
                               struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec_dyn(c, x->count_sql.p, x->args, x->nwhere, &res, e);

    if (err)
        return err;
    pg__get_i64(res, 0, 0, total);
    PQclear(res);
    return MD_OK;
}

static enum md_err query_page(struct pg_conn *c, const struct qsql *x, struct store_rows *out,
                              struct md_error *e)
{
    PGresult *res;
    enum md_err err = pg__exec_dyn(c, x->page_sql.p, x->args, x->q.np, &res, e);
    int i, n;

    if (err)
        return err;
    n = PQntuples(res);
    if (n > 0) {
        pg__get_i64(res, 0, 0, &out->total);
        out->rows = calloc((size_t)n, sizeof *out->rows);
        if (!out->rows)
            err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    }
    for (i = 0; !err && i < n; i++) {
        err = pg__row_read(res, i, 1, &out->rows[i], e);
        if (!err)
            out->n++;
    }
    PQclear(res);
    /* An empty page says nothing of the total past the first page: count on their own. */
    if (!err && n == 0 && x->offset > 0)
        err = query_count(c, x, &out->total, e);
    return err;
}

enum md_err pg__res_query(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                          struct store_rows *out, struct md_error *e)
{
    struct pg_conn *c = pg__conn(bc);
    struct qsql x;
    enum md_err err;

    err = qsql_build(&x, k, qq, e);
    if (!err)
        err = x.limit > 0 ? query_page(c, &x, out, e) : query_count(c, &x, &out->total, e);
    if (err)
        store_rows_free(out);
    qsql_free(&x);
    return err;
}

/* How many parameters ($1..$N) a fixed statement uses: its highest number. */
static int max_param(const char *sql)
{
    const char *p;
    long n, max = 0;

    for (p = strchr(sql, '$'); p; p = strchr(p + 1, '$')) {
        for (n = 0; p[1] >= '0' && p[1] <= '9' && n < 1000; p++)
            n = n * 10 + (p[1] - '0');
        if (n > max)
            max = n;
    }
    return (int)max;
}

/*
 * EXPLAIN (COSTS OFF) of the page statement (or the count, when the query asks for no rows),
 * with its parameters; or of a fixed statement, each parameter bound to '0' (a valid text,
 * number, boolean and JSON document alike). Nothing runs: EXPLAIN without ANALYZE only plans.
 */
enum md_err pg__explain(struct store_conn *bc, enum store_kind k, const struct store_query *qq,
                        const char *name, char **plan, struct md_error *e)
{
    static const char *const zeros[] = {"0", "0", "0", "0", "0", "0", "0", "0", "0", "0"};
    struct pg_conn *c = pg__conn(bc);
    struct qsql x;
    struct buf sql, out;
    PGresult *res = NULL;
    const char *const *args = zeros;
    enum md_err err = MD_OK;
    int n = 0, i;

    memset(&x, 0, sizeof x);
    buf_init(&sql, 0);
    buf_init(&out, 0);
    buf_append_cstr(&sql, "EXPLAIN (COSTS OFF) ");
    if (name) {
        const char *fixed = pg__fixed_sql(name);

        if (!fixed) {
            err = md_error_set(e, MD_ERR_NOTFOUND, "no statement is named %s", name);
            goto out;
        }
        buf_append_cstr(&sql, fixed);
        n = max_param(fixed);
        if (n > (int)(sizeof zeros / sizeof zeros[0])) {
            err = md_error_set(e, MD_ERR_INTERNAL, "too many parameters to explain");
            goto out;
        }
    } else {
        err = qsql_build(&x, k, qq, e);
        if (err)
            goto out;
        buf_append_cstr(&sql, x.limit > 0 ? x.page_sql.p : x.count_sql.p);
        args = x.args;
        n = x.limit > 0 ? x.q.np : x.nwhere;
    }
    if (sql.err) {
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = pg__exec_once(c, sql.p, args, n, &res, e);
    if (err)
        goto out;
    for (i = 0; i < PQntuples(res); i++)
        buf_appendf(&out, "%s\n", PQgetvalue(res, i, 0));
    if (out.err)
        err = md_error_set(e, MD_ERR_NOMEM, "out of memory");
    else
        *plan = buf_steal(&out);
out:
    PQclear(res);
    qsql_free(&x);
    buf_free(&sql);
    buf_free(&out);
    return err;
}
