/*
 * `mandate migrate`: a database copied into a new one, with progress and a check of the
 * counts.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/cli.h"
#include "core/err.h"
#include "store/migrate.h"
#include "store/store.h"

const char cli_usage_migrate[] =
    "usage: mandate migrate --from URL --to URL\n"
    "\n"
    "  --from URL  the database to copy: sqlite:PATH (or a plain PATH), or postgres://...\n"
    "  --to URL    the database to copy into; it is created and its schema set up when needed,\n"
    "              and it must hold no users, groups or tokens yet\n"
    "\n"
    "Copies every user, group, membership, token, connector, pack and grant, keeping ids, "
    "meta.created,\n"
    "meta.lastModified, meta.version (ETags) and the tokens themselves, so that the identity\n"
    "provider goes on with the same SCIM token. Then checks that both databases hold as many\n"
    "rows of each kind. Stop every mandate server on the source first. Progress goes to stderr,\n"
    "the summary to stdout; exit 0 when the copy is complete and verified, 1 otherwise.\n"
    "\n"
    "  mandate migrate --from sqlite:./var/mandate.db --to postgres://mandate@db/mandate\n";

/* The file that a SQLite URL names (as store.c reads it), NULL for another scheme. */
static const char *sqlite_file(const char *url)
{
    if (strncasecmp(url, "sqlite:", 7) == 0) {
        url += 7;
        return strncmp(url, "//", 2) == 0 ? url + 2 : url;
    }
    return strstr(url, "://") ? NULL : url;
}

/* What the progress display has shown of the current phase. */
struct migrate_view {
    bool tty;
    int phase; /* -1 before the first */
    int tenth; /* plain lines: the last tenth printed */
    bool ended;
};

/*
 * On a terminal, one bar per phase redrawn in place; otherwise (a log, a pipe) a line at
 * every tenth, so that a log shows progress without a line per batch.
 */
static void migrate_progress(void *ctx, enum store_migrate_phase p, int64_t done, int64_t total)
{
    struct migrate_view *v = ctx;
    const char *name = store_migrate_phase_name(p);
    int pct = total > 0 ? (int)(done * 100 / total) : 100;
    char bar[31];
    int fill;

    if ((int)p != v->phase) {
        v->phase = (int)p;
        v->tenth = -1;
        v->ended = false;
    }
    if (v->ended)
        return;
    if (pct > 100)
        pct = 100;
    v->ended = done >= total;
    if (v->tty) {
        fill = pct * 30 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, ' ', (size_t)(30 - fill));
        bar[30] = '\0';
        fprintf(stderr, "\r%-12s %lld/%lld [%s] %3d%%%s", name, (long long)done, (long long)total,
                bar, pct, v->ended ? "\n" : "");
        fflush(stderr);
        return;
    }
    if (pct / 10 > v->tenth) {
        v->tenth = pct / 10;
        fprintf(stderr, "mandate: %s %lld/%lld (%d%%)\n", name, (long long)done, (long long)total,
                pct);
    }
}

static struct store *open_migrate_store(const char *url, const char *role)
{
    struct store *s = NULL;
    struct md_error e;
    char shown[512];

    md_error_clear(&e);
    store_url_redact(url, shown, sizeof shown);
    if (store_open(url, 1, &s, &e)) {
        fprintf(stderr, "mandate: cannot open the %s database %s: %s\n", role, shown, e.msg);
        return NULL;
    }
    return s;
}

/*
 * Refuses what store_migrate cannot tell from two open stores: a source file that does not
 * exist (store_open would create an empty one and copy nothing), and one file named twice.
 */
static int migrate_check_files(const char *from, const char *to)
{
    const char *ff = sqlite_file(from), *tf = sqlite_file(to);
    char fr[PATH_MAX], tr[PATH_MAX];
    struct stat st;

    if (ff && stat(ff, &st) != 0) {
        fprintf(stderr, "mandate: the source database %s does not exist\n", ff);
        return -1;
    }
    if (ff && tf && realpath(ff, fr) && realpath(tf, tr) && strcmp(fr, tr) == 0) {
        fprintf(stderr, "mandate: --from and --to name the same database\n");
        return -1;
    }
    return 0;
}

int cli_migrate(const struct cli_opts *o)
{
    struct store *from = NULL, *to = NULL;
    struct store_migrate_counts n;
    struct migrate_view view = {isatty(STDERR_FILENO) == 1, -1, -1, false};
    struct md_error e;
    char fshown[512], tshown[512];
    int rc = 1;

    if (migrate_check_files(o->from, o->to) != 0)
        return 1;
    store_url_redact(o->from, fshown, sizeof fshown);
    store_url_redact(o->to, tshown, sizeof tshown);
    from = open_migrate_store(o->from, "source");
    if (!from)
        goto out;
    cli_make_parent_dirs(o->to);
    to = open_migrate_store(o->to, "target");
    if (!to)
        goto out;
    fprintf(stderr, "mandate: copying %s into %s\n", fshown, tshown);
    md_error_clear(&e);
    if (store_migrate(from, to, migrate_progress, &view, &n, &e)) {
        if (view.tty && !view.ended)
            fputc('\n', stderr);
        fprintf(stderr, "mandate: migrate: %s\n", e.msg);
        goto out;
    }
    printf("copied %lld users, %lld groups, %lld memberships, %lld tokens, %lld connectors, %lld "
           "connector overrides, %lld packs, %lld grants, %lld audit events; counts verified\n",
           (long long)n.users, (long long)n.groups, (long long)n.members, (long long)n.tokens,
           (long long)n.objects[STORE_OBJ_CONNECTOR], (long long)n.objects[STORE_OBJ_OVERRIDE],
           (long long)n.objects[STORE_OBJ_PACK], (long long)n.objects[STORE_OBJ_GRANT],
           (long long)n.audit_events);
    rc = 0;
out:
    store_close(to);
    store_close(from);
    return rc;
}
