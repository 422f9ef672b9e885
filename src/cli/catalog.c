/*
 * `mandate catalog load`, and the catalog a new database gets at its first start.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "access/access.h"
#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"

const char cli_usage_catalog[] =
    "usage: mandate catalog load [DIR] [--db PATH]\n"
    "\n"
    "Loads DIR/connectors/*.json (each connector replaces its definition; a deployment's\n"
    "overrides are kept) and DIR/packs/*.json (created when absent; packs that exist are left as\n"
    "admins may have changed them), all or nothing. DIR defaults to MANDATE_CATALOG, ./catalog,\n"
    "or the catalog installed with mandate. A running server on the same database sees the\n"
    "change within a second.\n";

/*
 * The catalog directory: --catalog, MANDATE_CATALOG, ./catalog, then the one beside the
 * binary (a build tree's build/mandate or build/asan/mandate -> catalog, an install's
 * bin/mandate -> share/mandate/catalog). NULL when there is none.
 */
static const char *catalog_dir(const struct cli_opts *o, char *buf, size_t n)
{
    const char *env = getenv("MANDATE_CATALOG");

    if (o->catalog)
        return o->catalog;
    if (env && *env)
        return env;
    if (cli_is_dir("catalog"))
        return "catalog";
    return cli_beside_binary("catalog", NULL, buf, n);
}

static int load_catalog(struct store *s, const char *dir)
{
    struct access_load_stats st;
    struct md_error e;

    md_error_clear(&e);
    if (access_catalog_load(s, dir, &st, &e)) {
        fprintf(stderr, "mandate: catalog load: %s\n", e.msg);
        return 1;
    }
    printf("loaded %d connectors from %s; %d packs created, %d kept as they were\n", st.connectors,
           dir, st.packs_created, st.packs_kept);
    fflush(stdout); /* before the server's log lines, when stdout is a file or a pipe */
    return 0;
}

int cli_catalog(const struct cli_opts *o)
{
    char buf[PATH_MAX + 32];
    const char *dir = o->npositional > 1 ? o->positional[1] : catalog_dir(o, buf, sizeof buf);
    struct store *s;
    int rc;

    if (!dir) {
        fprintf(stderr,
                "mandate: no catalog directory found; name one: mandate catalog load DIR\n");
        return 2;
    }
    s = cli_open_store(o, 1);
    if (!s)
        return 1;
    rc = load_catalog(s, dir);
    store_close(s);
    return rc;
}

/* A database without connectors gets the catalog, so that packs can be granted at once. */
int cli_catalog_first_start(const struct cli_opts *o, struct store *s)
{
    char buf[PATH_MAX + 32];
    const char *dir;
    struct md_error e;
    bool empty = false;

    md_error_clear(&e);
    if (access_catalog_empty(s, &empty, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        return 1;
    }
    if (!empty)
        return 0;
    dir = catalog_dir(o, buf, sizeof buf);
    if (!dir) {
        log_warn("event=no_catalog detail=\"no catalog directory; load one with mandate catalog "
                 "load DIR\"");
        return 0;
    }
    return load_catalog(s, dir);
}
