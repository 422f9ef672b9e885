/*
 * mandate: the command line. Parses arguments and dispatches to a command; nothing else.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/access.h"
#include "admin/admin.h"
#include "audit/audit.h"
#include "audit/sink.h"
#include "connect/auth.h"
#include "connect/runtime.h"
#include "connect/vault.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "core/time.h"
#include "http/http.h"
#include "mcp/mcp.h"
#include "store/migrate.h"
#include "store/store.h"

#ifndef MANDATE_VERSION
#define MANDATE_VERSION "0.1.0"
#endif

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_DB "./var/mandate.db"

/* The options every command may take; a command reads the ones it documents. */
struct opts {
    const char *listen;
    const char *db;
    const char *kind;
    const char *name;
    const char *public_url;
    const char *threads;
    const char *from;
    const char *to;
    const char *user;
    const char *pack;
    const char *tool;
    const char *args;
    const char *catalog;
    const char *vault_key_file;
    const char *mcp_origin;
    const char *audit_journal;
    const char *audit_anchor;
    const char *audit_webhook;
    const char *audit_webhook_secret_file;
    const char *audit_syslog;
    const char *audit_syslog_facility;
    const char *since;
    const char *until;
    const char *filter;
    const char *before;
    const char *expect;
    const char *time;
    const char *web;
    const char *positional[4];
    int npositional;
    bool help;
    bool json;
};

struct opt_def {
    const char *flag;
    size_t offset;
};

static const struct opt_def opt_defs[] = {
    {"--listen", offsetof(struct opts, listen)},
    {"--db", offsetof(struct opts, db)},
    {"--kind", offsetof(struct opts, kind)},
    {"--name", offsetof(struct opts, name)},
    {"--public-url", offsetof(struct opts, public_url)},
    {"--threads", offsetof(struct opts, threads)},
    {"--from", offsetof(struct opts, from)},
    {"--to", offsetof(struct opts, to)},
    {"--user", offsetof(struct opts, user)},
    {"--pack", offsetof(struct opts, pack)},
    {"--tool", offsetof(struct opts, tool)},
    {"--args", offsetof(struct opts, args)},
    {"--catalog", offsetof(struct opts, catalog)},
    {"--vault-key-file", offsetof(struct opts, vault_key_file)},
    {"--mcp-origin", offsetof(struct opts, mcp_origin)},
    {"--audit-journal", offsetof(struct opts, audit_journal)},
    {"--audit-anchor", offsetof(struct opts, audit_anchor)},
    {"--audit-webhook", offsetof(struct opts, audit_webhook)},
    {"--audit-webhook-secret-file", offsetof(struct opts, audit_webhook_secret_file)},
    {"--audit-syslog", offsetof(struct opts, audit_syslog)},
    {"--audit-syslog-facility", offsetof(struct opts, audit_syslog_facility)},
    {"--since", offsetof(struct opts, since)},
    {"--until", offsetof(struct opts, until)},
    {"--filter", offsetof(struct opts, filter)},
    {"--before", offsetof(struct opts, before)},
    {"--expect", offsetof(struct opts, expect)},
    {"--time", offsetof(struct opts, time)},
    {"--web", offsetof(struct opts, web)},
};

static const char usage_main[] = "usage: mandate <command> [options]\n"
                                 "\n"
                                 "commands:\n"
                                 "  serve          run the server (SCIM 2.0 at /scim/v2)\n"
                                 "  token create   create a token and print it once\n"
                                 "  token list     list tokens (never their values)\n"
                                 "  token revoke   revoke a token by id\n"
                                 "  check          decide whether a user may call a tool, and "
                                 "why\n"
                                 "  access-at      who was entitled to a tool at a past time, "
                                 "from the audit log\n"
                                 "  catalog load   load connectors and tool packs into the "
                                 "database\n"
                                 "  credential set store a connector's credential (read from "
                                 "stdin)\n"
                                 "  audit verify   check the audit log's hash chain and "
                                 "checkpoints\n"
                                 "  audit export   print audit events as JSON Lines\n"
                                 "  audit prune    delete audit events older than a time\n"
                                 "  migrate        copy a database into a new one (SQLite to "
                                 "PostgreSQL)\n"
                                 "  version        print the version\n"
                                 "\n"
                                 "Run `mandate <command> --help` for a command's options.\n";

static const char usage_serve[] =
    "usage: mandate serve [--listen HOST:PORT] [--db PATH] [--public-url URL] [--threads N]\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (env MANDATE_LISTEN; default " DEFAULT_LISTEN ")\n"
    "  --db PATH|URL       SQLite database file, or postgres://USER@HOST:PORT/DB for several\n"
    "                      nodes on one PostgreSQL (env MANDATE_DB; default " DEFAULT_DB ")\n"
    "  --public-url URL    base of the URLs mandate returns, e.g. https://mandate.example.com\n"
    "                      (env MANDATE_PUBLIC_URL; default: from the request's Host header)\n"
    "  --threads N         worker threads (default: one per CPU on SQLite, two per CPU on\n"
    "                      PostgreSQL, whose requests wait on the network)\n"
    "  --catalog DIR       the catalog loaded when the database has no connector yet (env\n"
    "                      MANDATE_CATALOG; default: ./catalog, else the one installed with\n"
    "                      mandate)\n"
    "  --vault-key-file F  the key that seals connector credentials (env\n"
    "                      MANDATE_VAULT_KEY_FILE; MANDATE_VAULT_KEY holds the key itself and\n"
    "                      wins). Default on SQLite: vault.key beside the database, created at\n"
    "                      first start; on PostgreSQL there is no default\n"
    "  --mcp-origin URL    a browser origin allowed to call /mcp besides this server's own\n"
    "                      (env MANDATE_MCP_ORIGINS, comma-separated)\n"
    "  --audit-journal F   the audit log's journal, which holds events until they are in the\n"
    "                      database (env MANDATE_AUDIT_JOURNAL; default: audit.journal in the\n"
    "                      state directory: beside the SQLite database, else MANDATE_STATE_DIR,\n"
    "                      else the working directory). One per server process.\n"
    "  --audit-anchor F    where the last audit checkpoint is kept outside the database (env\n"
    "                      MANDATE_AUDIT_ANCHOR; default: audit.anchor in the state directory)\n"
    "  --audit-webhook URL POST every audit event, in order, to this https URL, signed with\n"
    "                      HMAC-SHA-256 (env MANDATE_AUDIT_WEBHOOK_URL; docs/audit-sinks.md)\n"
    "  --audit-webhook-secret-file F\n"
    "                      the webhook's signing secret, at least 16 bytes (env\n"
    "                      MANDATE_AUDIT_WEBHOOK_SECRET_FILE; MANDATE_AUDIT_WEBHOOK_SECRET holds\n"
    "                      the secret itself and wins)\n"
    "  --audit-syslog URL  send every audit event as an RFC 5424 message to udp://HOST[:514]\n"
    "                      or tcp://HOST[:601] (octet-counted, RFC 6587) (env\n"
    "                      MANDATE_AUDIT_SYSLOG)\n"
    "  --audit-syslog-facility F\n"
    "                      the messages' facility, local0..local7 or 0..23 (env\n"
    "                      MANDATE_AUDIT_SYSLOG_FACILITY; default local0)\n"
    "  With several nodes on one database, give the sink options to the nodes that should\n"
    "  deliver: one of them delivers at a time (a lease in the database), the others take over.\n"
    "  --web DIR           the admin console's files, served at / (env MANDATE_WEB; default:\n"
    "                      the web/ of the build tree, else the one installed with mandate)\n"
    "\n"
    "MANDATE_UPSTREAM_HTTP=1 lets connectors call plain http:// upstreams (sandboxes, fakes).\n"
    "MANDATE_CONNECTOR_<NAME>_BASE_URL=URL sets a connector's base URL at start (as PATCH\n"
    "/api/v1/connectors/{name} does), e.g. "
    "MANDATE_CONNECTOR_JIRA_BASE_URL=https://acme.atlassian.net\n"
    "\n"
    "On first start, when no SCIM token exists, one is created and printed with the SCIM base\n"
    "URL, and the catalog is loaded. SIGTERM and SIGINT finish in-flight requests and exit 0.\n";

static const char usage_token_create[] =
    "usage: mandate token create --kind scim|admin|agent [--name NAME] [--db PATH]\n"
    "                            [--user USERNAME] [--pack PACK]\n"
    "\n"
    "  --kind scim    for the identity provider, on /scim/v2\n"
    "  --kind admin   for the admin API, /api/v1\n"
    "  --kind agent   for an AI agent acting for one user (--user, a userName or SCIM id), on\n"
    "                 /mcp; --pack limits it to the tools of one pack\n"
    "\n"
    "Creates a token and prints only the token on stdout. It is shown this once: mandate keeps\n"
    "only its SHA-256 hash.\n";

static const char usage_check[] =
    "usage: mandate check --user USERNAME --tool TOOL [--args JSON] [--pack PACK] [--json]\n"
    "                     [--db PATH]\n"
    "\n"
    "Decides whether the user (a userName or SCIM id) may call the tool with these arguments\n"
    "(a JSON object), as an agent acting for them would be answered, and prints why: the grant\n"
    "that allows it, or why each candidate grant failed. --pack decides as an agent limited to\n"
    "that pack would be answered: only grants of the pack count. --json prints the decision as\n"
    "the admin API returns it. Exit status: 0 allowed, 1 denied, 2 error.\n";

static const char usage_access_at[] =
    "usage: mandate access-at --time T --tool TOOL [--db PATH]\n"
    "\n"
    "Prints, as JSON, which users were entitled to the tool at T (RFC 3339, e.g.\n"
    "2026-01-31T09:00:00Z), through which grants and groups and under which conditions,\n"
    "reconstructed from the SCIM and admin changes in the audit log: the answer of GET\n"
    "/api/v1/access-at (docs/audit-history.md). \"history_starts\" is the first event of the log;\n"
    "nothing before it is known, and \"complete\" is false when the log cannot tell everything\n"
    "(pruned, or users and groups older than the log). Exit status: 0 answered, 2 error.\n";

static const char usage_catalog[] =
    "usage: mandate catalog load [DIR] [--db PATH]\n"
    "\n"
    "Loads DIR/connectors/*.json (each connector replaces its definition; a deployment's\n"
    "overrides are kept) and DIR/packs/*.json (created when absent; packs that exist are left as\n"
    "admins may have changed them), all or nothing. DIR defaults to MANDATE_CATALOG, ./catalog,\n"
    "or the catalog installed with mandate. A running server on the same database sees the\n"
    "change within a second.\n";

static const char usage_token_list[] =
    "usage: mandate token list [--db PATH]\n"
    "\n"
    "Lists tokens: id, kind, name, created, last used, status. Token values are never shown.\n";

static const char usage_token_revoke[] =
    "usage: mandate token revoke ID [--db PATH]\n"
    "\n"
    "Revokes the token with this id; requests with it fail from then on.\n";

static const char usage_migrate[] =
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

static const char usage_credential[] =
    "usage: mandate credential set CONNECTOR [--db PATH] [--vault-key-file F] < SECRET\n"
    "\n"
    "Seals the connector's credential with the vault key and stores it, replacing the one\n"
    "before (rotation). SECRET on stdin is a JSON object with the fields the connector's auth\n"
    "scheme needs, or for a bearer token the token alone:\n"
    "  bearer                     {\"token\": \"...\"}   (or the bare token)\n"
    "  basic                      {\"username\": \"...\", \"password\": \"...\"}\n"
    "  api_key                    {\"<header name>\": \"...\", ...} for each header it names\n"
    "  oauth2_client_credentials  {\"client_id\": \"...\", \"client_secret\": \"...\"}\n"
    "The secret is never printed, logged or readable back; a running server uses the new one\n"
    "for its next call.\n";

static const char usage_audit[] =
    "usage: mandate audit verify [--db PATH] [--vault-key-file F] [--audit-anchor F]\n"
    "                            [--expect SEQ:HASH]\n"
    "       mandate audit export [--db PATH] [--since T] [--until T] [--filter F]\n"
    "       mandate audit prune --before T [--db PATH] [--vault-key-file F]\n"
    "\n"
    "verify walks the whole hash chain and names the first event that was altered, removed or\n"
    "inserted; checkpoints are checked with the key derived from the vault key, and the anchor\n"
    "file (default: audit.anchor beside the SQLite database, or in MANDATE_STATE_DIR) catches a\n"
    "tail cut off. --expect checks a checkpoint kept elsewhere (e.g. by the SIEM). Exit 0 when\n"
    "intact, 1 when not, 2 on a usage error. Progress goes to stderr.\n"
    "export prints matching events, oldest first, one JSON object a line. T is RFC 3339\n"
    "(2026-01-31T00:00:00Z); F is a SCIM filter over event fields, e.g.\n"
    "  'user.userName eq \"ann@example.com\" and tool sw \"stripe__\"'.\n"
    "prune deletes events older than T, after recording an audit.pruned event that vouches for\n"
    "what was removed, so that the rest still verifies.\n";

static const char usage_version[] = "usage: mandate version\n\nPrints the version.\n";

static int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool matched = false;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            o->help = true;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        for (size_t d = 0; d < sizeof opt_defs / sizeof opt_defs[0]; d++) {
            size_t fl = strlen(opt_defs[d].flag);
            const char **slot = (const char **)(void *)((char *)o + opt_defs[d].offset);
            if (strcmp(a, opt_defs[d].flag) == 0) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "mandate: %s needs a value\n", a);
                    return -1;
                }
                *slot = argv[++i];
                matched = true;
            } else if (strncmp(a, opt_defs[d].flag, fl) == 0 && a[fl] == '=') {
                *slot = a + fl + 1;
                matched = true;
            }
            if (matched)
                break;
        }
        if (matched)
            continue;
        if (a[0] == '-') {
            fprintf(stderr, "mandate: unknown option %s\n", a);
            return -1;
        }
        if (o->npositional >= 4) {
            fprintf(stderr, "mandate: too many arguments\n");
            return -1;
        }
        o->positional[o->npositional++] = a;
    }
    return 0;
}

static const char *db_path(const struct opts *o)
{
    const char *env = getenv("MANDATE_DB");
    if (o->db)
        return o->db;
    return env && *env ? env : DEFAULT_DB;
}

/* Creates the parent directories of a database file, as `mkdir -p` would. */
static void make_parent_dirs(const char *path)
{
    char tmp[4096];
    if (strncmp(path, "sqlite:", 7) == 0)
        path += 7;
    if (strstr(path, "://") || strlen(path) >= sizeof tmp)
        return;
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return;
            *p = '/';
        }
    }
}

static struct store *open_store(const struct opts *o, int pool)
{
    struct store *s = NULL;
    struct md_error e;
    md_error_clear(&e);
    make_parent_dirs(db_path(o));
    if (store_open(db_path(o), pool, &s, &e)) {
        fprintf(stderr, "mandate: cannot open the database: %s\n", e.msg);
        return NULL;
    }
    return s;
}

static int cmd_token_create(const struct opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct md_error e;
    char *plain = NULL;
    char id[64], user_id[64] = "";
    bool agent;
    int rc = 1;

    if (!o->kind) {
        fprintf(stderr, "mandate: --kind is required\n%s", usage_token_create);
        return 2;
    }
    if (strcmp(o->kind, HTTP_TOKEN_KIND_SCIM) != 0 && strcmp(o->kind, HTTP_TOKEN_KIND_ADMIN) != 0 &&
        strcmp(o->kind, HTTP_TOKEN_KIND_AGENT) != 0) {
        fprintf(stderr, "mandate: unknown token kind '%s' (known: scim, admin, agent)\n", o->kind);
        return 2;
    }
    agent = strcmp(o->kind, HTTP_TOKEN_KIND_AGENT) == 0;
    if (agent ? !o->user : (o->user || o->pack)) {
        fprintf(stderr, "mandate: %s\n%s",
                agent ? "an agent token needs --user" : "--user and --pack are for agent tokens",
                usage_token_create);
        return 2;
    }
    s = open_store(o, 2);
    if (!s)
        return 1;
    md_error_clear(&e);
    if (agent) {
        json_t *pk = NULL;
        if (access_open(s, &a, &e) || access_user_resolve(a, o->user, user_id, &e) ||
            (o->pack && access_pack_get(a, o->pack, &pk, &e))) {
            fprintf(stderr, "mandate: %s\n", e.msg);
            goto out;
        }
        json_decref(pk);
    }
    if (http_token_create(s, o->kind, o->name ? o->name : "", user_id, o->pack, &plain, id, &e) ==
        MD_OK) {
        printf("%s\n", plain);
        rc = 0;
    } else {
        fprintf(stderr, "mandate: cannot create the token: %s\n", e.msg);
    }
out:
    free(plain);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}

static int print_token(void *ctx, const struct store_token *t)
{
    char created[TIME_RFC3339_LEN], used[TIME_RFC3339_LEN];
    (void)ctx;
    time_format_ms(t->created_ms, created);
    if (t->last_used_ms)
        time_format_ms(t->last_used_ms, used);
    else
        snprintf(used, sizeof used, "never");
    printf("%-36s  %-6s  %-20s  %-24s  %-24s  %s\n", t->id, t->kind, t->name[0] ? t->name : "-",
           created, used, t->revoked ? "revoked" : "active");
    return 0;
}

static int with_conn(const struct opts *o, int (*fn)(struct store_conn *, const struct opts *))
{
    struct store *s = open_store(o, 1);
    struct store_conn *c = NULL;
    struct md_error e;
    int rc;
    if (!s)
        return 1;
    md_error_clear(&e);
    if (store_acquire(s, &c, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        store_close(s);
        return 1;
    }
    rc = fn(c, o);
    store_release(c);
    store_close(s);
    return rc;
}

static int token_list(struct store_conn *c, const struct opts *o)
{
    struct md_error e;
    (void)o;
    md_error_clear(&e);
    printf("%-36s  %-6s  %-20s  %-24s  %-24s  %s\n", "ID", "KIND", "NAME", "CREATED", "LAST USED",
           "STATUS");
    if (store_token_list(c, print_token, NULL, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int token_revoke(struct store_conn *c, const struct opts *o)
{
    struct md_error e;
    enum md_err rc;
    md_error_clear(&e);
    rc = store_begin(c, &e);
    if (rc == MD_OK)
        rc = store_token_revoke(c, o->positional[2], &e);
    if (rc == MD_OK)
        rc = store_commit(c, &e);
    if (rc) {
        store_rollback(c);
        fprintf(stderr, "mandate: %s\n", rc == MD_ERR_NOTFOUND ? "no token has this id" : e.msg);
        return 1;
    }
    printf("revoked %s\n", o->positional[2]);
    return 0;
}

static int first_start(struct store *s, const char *host, uint16_t port, const char *public_url)
{
    struct store_conn *c = NULL;
    struct md_error e;
    int64_t n = 0;
    char *plain = NULL;
    char id[64];
    enum md_err rc;

    md_error_clear(&e);
    rc = store_acquire(s, &c, &e);
    if (rc == MD_OK)
        rc = store_token_count(c, HTTP_TOKEN_KIND_SCIM, &n, &e);
    if (c)
        store_release(c);
    if (rc) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        return 1;
    }
    if (n > 0)
        return 0;
    if (http_token_create(s, HTTP_TOKEN_KIND_SCIM, "initial", NULL, NULL, &plain, id, &e)) {
        fprintf(stderr, "mandate: cannot create the first SCIM token: %s\n", e.msg);
        return 1;
    }
    printf("mandate: first start. Connect your identity provider (Okta, Entra ID) with:\n");
    if (public_url)
        printf("  SCIM base URL: %s/scim/v2\n", public_url);
    else if (strchr(host, ':'))
        printf("  SCIM base URL: http://[%s]:%u/scim/v2\n", host, (unsigned)port);
    else
        printf("  SCIM base URL: http://%s:%u/scim/v2\n", host, (unsigned)port);
    printf("  SCIM token:    %s\n", plain);
    printf("The token is shown only this once. More: mandate token create --kind scim\n");
    printf("AI agents connect to /mcp with a token of their own: mandate token create --kind agent "
           "--user USERNAME (docs/mcp.md)\n");
    fflush(stdout);
    free(plain);
    return 0;
}

/* ---- the catalog ---- */

static bool is_dir(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The catalog directory: --catalog, MANDATE_CATALOG, ./catalog, then the one beside the
 * binary (a build tree's build/mandate or build/asan/mandate -> catalog, an install's
 * bin/mandate -> share/mandate/catalog). NULL when there is none.
 */
/*
 * The directory name (e.g. "catalog") beside the running binary: a build tree's build/mandate or
 * build/asan/mandate (the sanitizer build) -> ../NAME, an install's PREFIX/bin/mandate ->
 * ../share/mandate/NAME. With marker set, the directory must hold that file. Into buf; NULL
 * when there is none.
 */
static const char *beside_binary(const char *name, const char *marker, char *buf, size_t n)
{
    static const char *const rel[] = {"/../", "/../../", "/../share/mandate/"};
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);

    if (len <= 0)
        return NULL;
    exe[len] = '\0';
    if (strrchr(exe, '/'))
        *strrchr(exe, '/') = '\0';
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(buf, n, "%s%s%s", exe, rel[i], name);
        snprintf(probe, sizeof probe, "%s/%s", buf, marker ? marker : "");
        if (is_dir(buf) && (!marker || access(probe, R_OK) == 0))
            return buf;
    }
    return NULL;
}

static const char *catalog_dir(const struct opts *o, char *buf, size_t n)
{
    const char *env = getenv("MANDATE_CATALOG");

    if (o->catalog)
        return o->catalog;
    if (env && *env)
        return env;
    if (is_dir("catalog"))
        return "catalog";
    return beside_binary("catalog", NULL, buf, n);
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

static int cmd_catalog(const struct opts *o)
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
    s = open_store(o, 1);
    if (!s)
        return 1;
    rc = load_catalog(s, dir);
    store_close(s);
    return rc;
}

/* A database without connectors gets the catalog, so that packs can be granted at once. */
static int catalog_first_start(const struct opts *o, struct store *s)
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

/* ---- check ---- */

static void print_decision(const struct access_decision *d, json_t *j)
{
    printf("%s\n", json_string_value(json_object_get(j, "message")));
    for (size_t i = 0; !d->allowed && i < d->ncands; i++) {
        const struct access_candidate *c = &d->cands[i];
        printf("  grant %s (%s%s%s%s%s): %s: %s\n", c->grant_id,
               c->subject_type == ACCESS_SUBJECT_EVERYONE ? "everyone"
               : c->subject_type == ACCESS_SUBJECT_USER   ? "user "
                                                          : "group ",
               c->subject_name[0] ? c->subject_name : c->subject_id, c->pack[0] ? ", pack " : "",
               c->pack, c->nested ? ", nested group" : "", access_outcome_name(c->outcome),
               c->detail);
    }
}

static int cmd_check(const struct opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct access_decision *d = NULL;
    struct md_error e;
    json_t *args = NULL, *j = NULL;
    char user_id[64];
    int rc = 2;

    if (!o->user || !o->tool) {
        fputs(usage_check, stderr);
        return 2;
    }
    md_error_clear(&e);
    if (o->args && (json_parse_limited(o->args, strlen(o->args), 1 << 20, 32, &args, &e) ||
                    !json_is_object(args))) {
        fprintf(stderr, "mandate: --args must be a JSON object%s%s\n", e.msg[0] ? ": " : "", e.msg);
        json_decref(args);
        return 2;
    }
    s = open_store(o, 2);
    if (!s) {
        json_decref(args);
        return 2;
    }
    d = malloc(sizeof *d);
    if (!d || access_open(s, &a, &e))
        goto out;
    /* A userName that matches no one is decided as such: a denial, not an error. */
    if (access_user_resolve(a, o->user, user_id, &e) == MD_ERR_NOTFOUND)
        snprintf(user_id, sizeof user_id, "%.63s", o->user);
    else if (e.code)
        goto out;
    md_error_clear(&e);
    if (access_decide(a, user_id, o->tool, o->pack, args, d, &e))
        goto out;
    j = access_decision_json(d);
    if (!j)
        goto out;
    if (o->json) {
        char *text = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        print_decision(d, j);
    }
    rc = d->allowed ? 0 : 1;
out:
    if (rc == 2)
        fprintf(stderr, "mandate: check: %s\n", e.msg[0] ? e.msg : "out of memory");
    json_decref(j);
    json_decref(args);
    free(d);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}

/* ---- access-at ---- */

static int cmd_access_at(const struct opts *o)
{
    struct store *s;
    struct access *a = NULL;
    struct md_error e;
    json_t *out = NULL;
    char *text = NULL;
    int rc = 2;

    if (!o->time || !o->tool) {
        fputs(usage_access_at, stderr);
        return 2;
    }
    md_error_clear(&e);
    s = open_store(o, 2);
    if (!s)
        return 2;
    if (access_open(s, &a, &e) || admin_access_at(s, a, o->time, o->tool, &out, &e))
        goto out;
    text = json_dumps(out, JSON_INDENT(2));
    if (!text) {
        md_error_set(&e, MD_ERR_NOMEM, "out of memory");
        goto out;
    }
    printf("%s\n", text);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "mandate: access-at: %s\n", e.msg[0] ? e.msg : "out of memory");
    free(text);
    json_decref(out);
    store_close(s); /* first: its listener may still publish to the caches */
    access_close(a);
    return rc;
}

static int split_listen(const char *listen, char *host, size_t hostsz, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    long long p;
    size_t hl;
    if (!colon)
        return -1;
    hl = (size_t)(colon - listen);
    if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
        listen++;
        hl -= 2;
    }
    if (hl == 0 || hl >= hostsz || !str_to_ll(colon + 1, strlen(colon + 1), 0, 65535, &p))
        return -1;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/*
 * The directory of the server's local files (vault key, audit journal and anchor): the SQLite
 * database's, else MANDATE_STATE_DIR, else the working directory. Returns whether the database
 * is SQLite.
 */
static bool state_dir(const struct opts *o, char *out, size_t n)
{
    const char *db = db_path(o);
    const char *f = strncmp(db, "sqlite:", 7) == 0 ? db + 7 : db;
    const char *env = getenv("MANDATE_STATE_DIR");
    const char *slash;

    if (strstr(f, "://")) {
        snprintf(out, n, "%s", env && *env ? env : ".");
        return false;
    }
    slash = strrchr(f, '/');
    if (slash)
        snprintf(out, n, "%.*s", (int)(slash - f), f);
    else
        snprintf(out, n, ".");
    return true;
}

/* A file in the state directory, unless given (flag, else env). */
static void state_file(const struct opts *o, const char *given, const char *env, const char *name,
                       char *out, size_t n)
{
    char dir[3800];
    const char *v = given ? given : getenv(env);
    if (v && *v) {
        snprintf(out, n, "%s", v);
        return;
    }
    state_dir(o, dir, sizeof dir);
    snprintf(out, n, "%s/%s", dir, name);
}

/*
 * The vault key: MANDATE_VAULT_KEY, else the key file (--vault-key-file, MANDATE_VAULT_KEY_FILE,
 * or on SQLite vault.key beside the database, created by the server's first start). Returns 1
 * with *have false when no key is configured (PostgreSQL without one, or, when create is false,
 * no default key file), -1 on an error.
 */
static int load_vault_key(const struct opts *o, bool create, unsigned char key[32], bool *have)
{
    const char *env = getenv("MANDATE_VAULT_KEY");
    const char *file = o->vault_key_file ? o->vault_key_file : getenv("MANDATE_VAULT_KEY_FILE");
    char def[4096], dir[3800], kid[17];
    bool created = false;
    struct md_error e;

    *have = false;
    if (env && !*env)
        env = NULL;
    if (!env && (!file || !*file)) {
        struct stat st;
        if (!state_dir(o, dir, sizeof dir))
            return 1;
        snprintf(def, sizeof def, "%s/vault.key", dir);
        file = def;
        /* The default file, not there, and not to be created: no key configured. */
        if (!create && stat(file, &st) != 0)
            return 1;
    }
    md_error_clear(&e);
    if (connect_vault_key_load(env, file, create, key, kid, &created, &e) != MD_OK) {
        fprintf(stderr, "mandate: the vault key: %s\n", e.msg);
        return -1;
    }
    /* The key leaves the environment, which /proc/PID/environ would show for the process' life. */
    if (env)
        unsetenv("MANDATE_VAULT_KEY");
    if (created)
        log_warn("event=vault_key_created file=%s key_id=%s note=\"back this file up; without it "
                 "the stored connector credentials cannot be read\"",
                 file, kid);
    else
        log_info("event=vault_key key_id=%s source=%s", kid, env ? "MANDATE_VAULT_KEY" : "file");
    *have = true;
    return 0;
}

/* Splits a comma-separated list into a NULL-terminated array (into buf); at most 15 items. */
static void split_list(const char *s, char *buf, size_t n, const char *items[16])
{
    int k = 0;
    items[0] = NULL;
    if (!s || !*s)
        return;
    snprintf(buf, n, "%s", s);
    for (char *p = buf; p && *p && k < 15;) {
        char *c = strchr(p, ',');
        if (c)
            *c++ = '\0';
        while (*p == ' ')
            p++;
        if (*p)
            items[k++] = p;
        p = c;
    }
    items[k] = NULL;
}

/*
 * Every MCP connection, and every upstream call it waits on, holds a descriptor: 1,000 calls
 * in flight need over 2,000. Raise the soft limit to the hard one.
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            log_warn("event=fd_limit_unchanged");
    }
}

/*
 * A deployment's base URLs and token URLs from its environment:
 * MANDATE_CONNECTOR_<NAME>_BASE_URL=https://... (e.g. MANDATE_CONNECTOR_JIRA_BASE_URL) and
 * MANDATE_CONNECTOR_<NAME>_TOKEN_URL=https://... (e.g. MANDATE_CONNECTOR_OUTLOOK_TOKEN_URL for a
 * national cloud's login host) are written as that connector's overrides at start, as PATCH
 * /api/v1/connectors/{name} would, so that the admin API shows where calls go.
 */
static int env_base_urls(struct access *a)
{
    extern char **environ;
    static const char pre[] = "MANDATE_CONNECTOR_";
    static const struct {
        const char *suffix; /* with the '=' */
        const char *member;
    } kinds[] = {{"_BASE_URL=", "base_url"}, {"_TOKEN_URL=", "token_url"}};

    for (char **v = environ; *v; v++) {
        const char *s = *v, *eq = strchr(s, '=');
        char name[64];
        size_t n, k;
        json_t *patch;
        struct md_error e;

        if (strncmp(s, pre, sizeof pre - 1) != 0 || !eq)
            continue;
        for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            size_t sl = strlen(kinds[k].suffix) - 1; /* without the '=' */
            if ((size_t)(eq - s) > sizeof pre - 1 + sl &&
                strncmp(eq - sl, kinds[k].suffix, sl + 1) == 0)
                break;
        }
        if (k == sizeof kinds / sizeof kinds[0])
            continue;
        n = (size_t)(eq - (strlen(kinds[k].suffix) - 1) - (s + sizeof pre - 1));
        if (n == 0 || n >= sizeof name)
            continue;
        for (size_t i = 0; i < n; i++) {
            char c = s[sizeof pre - 1 + i];
            name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        name[n] = '\0';
        md_error_clear(&e);
        patch = json_pack("{s:s}", kinds[k].member, eq + 1);
        if (!patch || access_connector_override(a, name, patch, NULL, &e) != MD_OK) {
            fprintf(stderr, "mandate: %.*s: %s\n", (int)(eq - s), s,
                    patch ? e.msg : "out of memory");
            json_decref(patch);
            return -1;
        }
        json_decref(patch);
        log_info("event=%s_override connector=%s source=environment", kinds[k].member, name);
    }
    return 0;
}

/* An option's value: the flag, else the environment variable, else NULL. */
static const char *opt_env(const char *flag, const char *env)
{
    const char *v = flag ? flag : getenv(env);
    return v && *v ? v : NULL;
}

/*
 * Starts the audit log's push sinks named by the options (none: *out stays NULL). The node's
 * name for the sinks' lease is its host and journal, which only one process holds at a time.
 */
static int start_sinks(const struct opts *o, struct store *s, const char *journal,
                       struct audit_sinks **out)
{
    static const struct {
        const char *env;
        size_t offset;
    } tune[] = {
        {"MANDATE_AUDIT_SINK_RETRY_MIN_MS", offsetof(struct audit_sinks_config, retry_min_ms)},
        {"MANDATE_AUDIT_SINK_RETRY_MAX_MS", offsetof(struct audit_sinks_config, retry_max_ms)},
        {"MANDATE_AUDIT_SINK_POLL_MS", offsetof(struct audit_sinks_config, poll_ms)},
        {"MANDATE_AUDIT_SINK_LEASE_MS", offsetof(struct audit_sinks_config, lease_ms)},
    };
    struct audit_sinks_config sc = {.store = s, .syslog_facility = -1};
    const char *facility = opt_env(o->audit_syslog_facility, "MANDATE_AUDIT_SYSLOG_FACILITY");
    const char *max = getenv("MANDATE_AUDIT_SYSLOG_MAX");
    const char *up_http = getenv("MANDATE_UPSTREAM_HTTP");
    unsigned char secret[AUDIT_SINK_SECRET_MAX];
    char host[256] = "", node[4400], real[PATH_MAX];
    struct md_error e;
    long long v;
    int rc = -1;

    md_error_clear(&e);
    sc.webhook_url = opt_env(o->audit_webhook, "MANDATE_AUDIT_WEBHOOK_URL");
    sc.syslog_url = opt_env(o->audit_syslog, "MANDATE_AUDIT_SYSLOG");
    if (audit_sinks_count(&sc) == 0)
        return 0;
    sc.webhook_ca_file = opt_env(NULL, "MANDATE_AUDIT_WEBHOOK_CA_FILE");
    sc.allow_http = up_http && strcmp(up_http, "1") == 0;
    if (sc.webhook_url && audit_sink_secret_load(getenv("MANDATE_AUDIT_WEBHOOK_SECRET"),
                                                 opt_env(o->audit_webhook_secret_file,
                                                         "MANDATE_AUDIT_WEBHOOK_SECRET_FILE"),
                                                 secret, &sc.webhook_secret_len, &e) != MD_OK) {
        fprintf(stderr, "mandate: the audit webhook: %s\n", e.msg);
        goto out;
    }
    /* The secret leaves the environment, which /proc/PID/environ would show. */
    unsetenv("MANDATE_AUDIT_WEBHOOK_SECRET");
    sc.webhook_secret = secret;
    if (facility && (sc.syslog_facility = audit_syslog_facility_parse(facility)) < 0) {
        fprintf(stderr, "mandate: --audit-syslog-facility wants local0..local7 or 0..23\n");
        goto out;
    }
    if (max && *max && !str_to_ll(max, strlen(max), 480, 64 << 20, &v)) {
        fprintf(stderr, "mandate: MANDATE_AUDIT_SYSLOG_MAX wants a number of bytes\n");
        goto out;
    }
    sc.syslog_max = max && *max ? (size_t)v : 0;
    for (size_t i = 0; i < sizeof tune / sizeof tune[0]; i++) {
        const char *t = getenv(tune[i].env);
        if (!t || !*t)
            continue;
        if (!str_to_ll(t, strlen(t), 1, 3600000, &v)) {
            fprintf(stderr, "mandate: %s wants milliseconds from 1 to 3600000\n", tune[i].env);
            goto out;
        }
        *(int *)(void *)((char *)&sc + tune[i].offset) = (int)v;
    }
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    snprintf(node, sizeof node, "%s:%s", host, realpath(journal, real) ? real : journal);
    sc.node = node;
    if (audit_sinks_start(&sc, out, &e) != MD_OK) {
        fprintf(stderr, "mandate: the audit sinks: %s\n", e.msg);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    return rc;
}

/*
 * The console's directory: --web, MANDATE_WEB, then the one beside the binary (a build tree's
 * build/mandate or build/asan/mandate -> web, an install's bin/mandate -> share/mandate/web).
 * Unlike the catalog, the working directory is not searched: the server would otherwise serve
 * whatever "web" directory it happened to be started in. NULL when there is none.
 */
static const char *web_dir(const struct opts *o, char *buf, size_t n)
{
    const char *env = getenv("MANDATE_WEB");
    char probe[PATH_MAX + 32];

    if (o->web || (env && *env)) {
        const char *dir = o->web ? o->web : env;
        snprintf(probe, sizeof probe, "%s/index.html", dir);
        if (is_dir(dir) && access(probe, R_OK) == 0)
            return dir;
        fprintf(stderr, "mandate: %s has no index.html; the console is not served\n", dir);
        return NULL;
    }
    return beside_binary("web", "index.html", buf, n);
}

static void cancel_pending(void *cls)
{
    connect_runtime_stop(cls);
}

static int cmd_serve(const struct opts *o)
{
    const char *listen = o->listen ? o->listen : getenv("MANDATE_LISTEN");
    const char *public_url = o->public_url ? o->public_url : getenv("MANDATE_PUBLIC_URL");
    char host[256];
    uint16_t port;
    long long threads = 0;
    struct http_config cfg;
    struct http_server *srv = NULL;
    struct access *a = NULL;
    struct connect_runtime *rt = NULL;
    struct mcp_server *mcp = NULL;
    struct audit *audit = NULL;
    struct audit_sinks *sinks = NULL;
    struct audit_config ac = {0};
    unsigned char akey[AUDIT_KEY_LEN];
    char journal[4096], anchor[4096];
    struct connect_runtime_config rc = {0};
    struct mcp_config mc = {0};
    const char *origins[16];
    char origin_buf[2048], web_buf[PATH_MAX];
    unsigned char vkey[32];
    bool have_key = false;
    const char *up_http = getenv("MANDATE_UPSTREAM_HTTP");
    struct store *s;
    struct md_error e;
    sigset_t set;
    int sig = 0, status = 1;

    if (!listen || !*listen)
        listen = DEFAULT_LISTEN;
    if (split_listen(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "mandate: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }
    if (o->threads && !str_to_ll(o->threads, strlen(o->threads), 1, 1024, &threads)) {
        fprintf(stderr, "mandate: --threads wants a number from 1 to 1024\n");
        return 2;
    }
    if (public_url && !*public_url)
        public_url = NULL;
    /*
     * Keep freed memory in the process up to a bound instead of handing it back to the kernel
     * after every request: glibc's default trimming costs a madvise() and page faults per
     * request (measured: bench/README.md).
     */
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    /* Signals go to sigwait below, never to a worker thread. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&cfg, 0, sizeof cfg);
    /*
     * A request holds its worker thread while the database answers. SQLite answers from memory
     * in microseconds, so one thread per CPU keeps the tail short (more only queue behind each
     * other); PostgreSQL answers over the network, so two per CPU keep the CPUs busy (measured
     * on 2 CPUs: 4 threads 7.4-7.6k lookups/s, 8 threads 4.7-6.6k; bench/README.md).
     */
    if (threads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        bool remote = strstr(db_path(o), "://") != NULL;
        threads = (ncpu > 0 ? ncpu : 2) * (remote ? 2 : 1);
        if (threads < 2)
            threads = 2;
    }
    cfg.threads = (int)threads;
    raise_fd_limit();
    /* A connection more for each audit sink, so that none waits for a request's. */
    s = open_store(o, cfg.threads + 2 +
                          (opt_env(o->audit_webhook, "MANDATE_AUDIT_WEBHOOK_URL") != NULL) +
                          (opt_env(o->audit_syslog, "MANDATE_AUDIT_SYSLOG") != NULL));
    if (!s)
        return 1;
    if (first_start(s, host, port, public_url) != 0 || catalog_first_start(o, s) != 0 ||
        load_vault_key(o, true, vkey, &have_key) < 0) {
        store_close(s);
        return 1;
    }
    if (!have_key)
        log_warn("event=no_vault_key note=\"connectors that need a credential answer an error; "
                 "set MANDATE_VAULT_KEY or --vault-key-file\"");
    md_error_clear(&e);
    if (access_open(s, &a, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        OPENSSL_cleanse(vkey, sizeof vkey);
        store_close(s);
        return 1;
    }
    access_set_upstream_http(a, up_http && strcmp(up_http, "1") == 0);
    if (env_base_urls(a) != 0)
        goto out;
    /* The audit log: its checkpoint key comes from the vault key, so it is never in the db. */
    state_file(o, o->audit_journal, "MANDATE_AUDIT_JOURNAL", "audit.journal", journal,
               sizeof journal);
    state_file(o, o->audit_anchor, "MANDATE_AUDIT_ANCHOR", "audit.anchor", anchor, sizeof anchor);
    if (have_key)
        audit_key_derive(vkey, akey);
    else
        log_warn(
            "event=audit_unkeyed note=\"without a vault key, audit checkpoints carry no MAC\"");
    ac.store = s;
    ac.key = have_key ? akey : NULL;
    ac.journal_path = journal;
    ac.anchor_path = anchor;
    if (audit_open(&ac, &audit, &e)) {
        OPENSSL_cleanse(akey, sizeof akey);
        fprintf(stderr, "mandate: the audit log: %s\n", e.msg);
        goto out;
    }
    OPENSSL_cleanse(akey, sizeof akey);
    if (start_sinks(o, s, journal, &sinks) != 0)
        goto out;
    rc.store = s;
    rc.vault_key = have_key ? vkey : NULL;
    rc.allow_http = up_http && strcmp(up_http, "1") == 0;
    if (connect_runtime_open(&rc, &rt, &e)) {
        fprintf(stderr, "mandate: the connector runtime: %s\n", e.msg);
        goto out;
    }
    OPENSSL_cleanse(vkey, sizeof vkey);
    mc.access = a;
    mc.rt = rt;
    mc.server_version = MANDATE_VERSION;
#ifdef MANDATE_BENCH_NO_TOOL_AUDIT
    /* A build for bench/audit/latency.sh only: the same server without tool-call events. */
    mc.audit = NULL;
#else
    mc.audit = audit;
#endif
    if (mcp_server_new(&mc, &mcp, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        goto out;
    }
    split_list(o->mcp_origin ? o->mcp_origin : getenv("MANDATE_MCP_ORIGINS"), origin_buf,
               sizeof origin_buf, origins);
    cfg.access = a;
    cfg.host = host;
    cfg.port = port;
    cfg.public_url = public_url;
    cfg.store = s;
    cfg.mcp = mcp;
    cfg.vault = connect_runtime_vault(rt);
    cfg.audit = audit;
    cfg.mcp_origins = origins;
    cfg.cancel_pending = cancel_pending;
    cfg.cancel_cls = rt;
    cfg.runtime = rt;
    cfg.web_dir = web_dir(o, web_buf, sizeof web_buf);
    if (!cfg.web_dir)
        log_warn("event=no_console note=\"no web directory found; the console is not served "
                 "(--web DIR or MANDATE_WEB)\"");
    md_error_clear(&e);
    if (http_server_start(&cfg, &srv, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        goto out;
    }
    {
        char db[512];
        store_url_redact(db_path(o), db, sizeof db);
        log_info("event=listening addr=%s:%u db=%s version=%s", host,
                 (unsigned)http_server_port(srv), db, MANDATE_VERSION);
    }
    while (sigwait(&set, &sig) != 0)
        ;
    log_info("event=stopping signal=%d", sig);
    http_server_stop(srv, 10000);
    status = 0;
out:
    OPENSSL_cleanse(vkey, sizeof vkey);
    /* No call may be in flight once the server is gone; then nothing uses the store. */
    connect_runtime_stop(rt);
    mcp_server_free(mcp);
    /* Every answered request's event is queued: store them, with a final checkpoint. */
    audit_close(audit);
    /* Then the sinks deliver what is stored, that checkpoint included, within a short grace. */
    audit_sinks_stop(sinks, AUDIT_SINK_GRACE_MS);
    /* The store's listener may still publish to the caches: close the store first. */
    store_close(s);
    connect_runtime_close(rt);
    access_close(a);
    if (status == 0)
        log_info("event=stopped");
    return status;
}

/* ---- audit ---- */

static void verify_progress(void *ctx, int64_t checked, int64_t last_seq)
{
    (void)ctx;
    fprintf(stderr, "mandate: audit verify: %lld events checked (at event %lld)\n",
            (long long)checked, (long long)last_seq);
}

static int print_event(void *ctx, json_t *ev)
{
    (void)ctx;
    if (json_dumpf(ev, stdout, JSON_COMPACT | JSON_SORT_KEYS) != 0 || fputc('\n', stdout) == EOF)
        return 1;
    return 0;
}

/* An RFC 3339 time option into *ms; 0 when absent. Returns false (and says why) when bad. */
static bool time_opt(const char *flag, const char *v, int64_t *ms)
{
    *ms = 0;
    if (!v)
        return true;
    if (!time_parse_rfc3339(v, ms)) {
        fprintf(stderr,
                "mandate: %s wants an RFC 3339 time such as 2026-01-31T00:00:00Z, got "
                "'%s'\n",
                flag, v);
        return false;
    }
    return true;
}

static int cmd_audit_verify(const struct opts *o, struct store *s)
{
    struct audit_verify_opts vo = {0};
    struct audit_verify_report r;
    unsigned char vkey[32], akey[AUDIT_KEY_LEN];
    char anchor[4096], expect_hash[72] = "";
    bool have = false;
    struct md_error e;

    if (load_vault_key(o, false, vkey, &have) < 0)
        return 1;
    if (have) {
        audit_key_derive(vkey, akey);
        vo.key = akey;
    }
    OPENSSL_cleanse(vkey, sizeof vkey);
    state_file(o, o->audit_anchor, "MANDATE_AUDIT_ANCHOR", "audit.anchor", anchor, sizeof anchor);
    vo.anchor_path = anchor;
    if (o->expect) {
        const char *colon = strchr(o->expect, ':');
        long long seq = 0;
        if (!colon || !str_to_ll(o->expect, (size_t)(colon - o->expect), 1, LLONG_MAX, &seq) ||
            strlen(colon + 1) != 64) {
            fprintf(stderr, "mandate: --expect wants SEQ:HASH (a checkpoint's seq and the 64 "
                            "hex digits of its hash)\n");
            return 2;
        }
        vo.expect_seq = seq;
        snprintf(expect_hash, sizeof expect_hash, "%s", colon + 1);
        vo.expect_hash = expect_hash;
    }
    vo.progress = verify_progress;
    vo.progress_every = 100000;
    md_error_clear(&e);
    if (audit_verify(s, &vo, &r, &e)) {
        OPENSSL_cleanse(akey, sizeof akey);
        fprintf(stderr, "mandate: audit verify: %s\n", e.msg);
        return 1;
    }
    OPENSSL_cleanse(akey, sizeof akey);
    if (!r.ok) {
        printf("audit log BROKEN at event %lld: %s\n", (long long)r.bad_seq, r.problem);
        printf("checked %lld events (%lld to %lld) before stopping\n", (long long)r.events,
               (long long)r.first_seq, (long long)r.last_seq);
        return 1;
    }
    printf("audit log intact: %lld events (%lld to %lld), %lld checkpoints verified, last "
           "checkpoint at event %lld%s\n",
           (long long)r.events, (long long)r.first_seq, (long long)r.last_seq,
           (long long)r.checkpoints, (long long)r.last_checkpoint_seq,
           ", anchor files (if any) agree");
    if (r.warning[0])
        printf("warning: %s\n", r.warning);
    return 0;
}

static int cmd_audit_export(const struct opts *o, struct store *s)
{
    struct audit_query q = {.oldest_first = true};
    struct md_error e;

    if (!time_opt("--since", o->since, &q.since_ms) || !time_opt("--until", o->until, &q.until_ms))
        return 2;
    q.filter = o->filter;
    md_error_clear(&e);
    if (audit_query_run(s, &q, print_event, NULL, NULL, &e)) {
        fprintf(stderr, "mandate: audit export: %s\n", e.msg);
        return e.code == MD_ERR_FILTER ? 2 : 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static int cmd_audit_prune(const struct opts *o, struct store *s)
{
    struct audit_config ac = {.store = s, .no_writer_thread = true};
    struct audit *a = NULL;
    unsigned char vkey[32], akey[AUDIT_KEY_LEN];
    bool have = false;
    int64_t before = 0, removed = 0;
    struct md_error e;
    int rc = 0;

    if (!o->before || !time_opt("--before", o->before, &before)) {
        fputs(usage_audit, stderr);
        return 2;
    }
    if (load_vault_key(o, false, vkey, &have) < 0)
        return 1;
    if (have) {
        audit_key_derive(vkey, akey);
        ac.key = akey;
    }
    OPENSSL_cleanse(vkey, sizeof vkey);
    md_error_clear(&e);
    if (audit_open(&ac, &a, &e) || audit_prune(a, before, &removed, &e)) {
        fprintf(stderr, "mandate: audit prune: %s\n", e.msg);
        rc = 1;
    } else {
        printf("removed %lld audit events older than %s\n", (long long)removed, o->before);
    }
    audit_close(a);
    OPENSSL_cleanse(akey, sizeof akey);
    return rc;
}

static int cmd_audit(const struct opts *o)
{
    const char *sub = o->positional[0];
    struct store *s;
    int rc;

    if (o->npositional != 1 ||
        (strcmp(sub, "verify") != 0 && strcmp(sub, "export") != 0 && strcmp(sub, "prune") != 0)) {
        fputs(usage_audit, stderr);
        return 2;
    }
    s = open_store(o, 2);
    if (!s)
        return 1;
    if (strcmp(sub, "verify") == 0)
        rc = cmd_audit_verify(o, s);
    else if (strcmp(sub, "export") == 0)
        rc = cmd_audit_export(o, s);
    else
        rc = cmd_audit_prune(o, s);
    store_close(s);
    return rc;
}

/* ---- credential ---- */

/* Reads all of stdin, up to 64 KiB; the caller wipes and frees it. */
static char *read_stdin(size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    size_t r;
    if (!b)
        return NULL;
    while ((r = fread(b + n, 1, cap - n, stdin)) > 0)
        n += r;
    b[n] = '\0';
    *len = n;
    return b;
}

static int cmd_credential(const struct opts *o)
{
    const char *name = o->positional[1];
    struct store *s = NULL;
    struct access *a = NULL;
    struct connect_vault *v = NULL;
    json_t *conn = NULL, *secret = NULL, *info = NULL;
    unsigned char key[32];
    bool have = false;
    struct md_error e;
    size_t len = 0;
    char *text = NULL;
    int rc = 1;

    md_error_clear(&e);
    s = open_store(o, 2);
    if (!s)
        return 1;
    if (access_open(s, &a, &e) || access_connector_get(a, name, &conn, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        goto out;
    }
    if (load_vault_key(o, false, key, &have) != 0 || !have) {
        if (!have)
            fprintf(stderr, "mandate: no vault key: set MANDATE_VAULT_KEY or --vault-key-file\n");
        goto out;
    }
    text = read_stdin(&len);
    if (!text) {
        fprintf(stderr, "mandate: out of memory\n");
        goto out;
    }
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (len && text[0] == '{') {
        if (json_parse_limited(text, len, 65536, 8, &secret, &e) != MD_OK ||
            !json_is_object(secret)) {
            fprintf(stderr, "mandate: the secret on stdin is not a JSON object\n");
            goto out;
        }
    } else {
        secret = json_pack("{s:s%}", "token", text, len);
    }
    if (connect_auth_secret_validate_connector(conn, secret, &e) ||
        connect_vault_open(s, key, &v, &e) ||
        connect_vault_set(v, name, secret, "cli", &info, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        goto out;
    }
    {
        char *dump = json_dumps(info, JSON_COMPACT);
        printf("%s\n", dump ? dump : "{}");
        free(dump);
    }
    rc = 0;
out:
    if (text) {
        OPENSSL_cleanse(text, len);
        free(text);
    }
    OPENSSL_cleanse(key, sizeof key);
    json_decref(secret);
    json_decref(info);
    json_decref(conn);
    connect_vault_close(v);
    store_close(s);
    access_close(a);
    return rc;
}

/* ---- migrate ---- */

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

static int cmd_migrate(const struct opts *o)
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
    make_parent_dirs(o->to);
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

int main(int argc, char **argv)
{
    struct opts o;
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (!cmd || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, cmd ? stdout : stderr);
        return cmd ? 0 : 2;
    }
    if (parse_opts(argc - 2, argv + 2, &o) != 0) {
        fputs(usage_main, stderr);
        return 2;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (o.help) {
            fputs(usage_version, stdout);
            return 0;
        }
        printf("mandate %s\n", MANDATE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) {
        if (o.help) {
            fputs(usage_serve, stdout);
            return 0;
        }
        if (o.npositional) {
            fputs(usage_serve, stderr);
            return 2;
        }
        return cmd_serve(&o);
    }
    if (strcmp(cmd, "token") == 0) {
        const char *sub = o.npositional ? o.positional[0] : NULL;
        if (!sub) {
            fputs(o.help ? usage_token_create : usage_main, o.help ? stdout : stderr);
            if (o.help) {
                fputs(usage_token_list, stdout);
                fputs(usage_token_revoke, stdout);
            }
            return o.help ? 0 : 2;
        }
        /* positional[0] is the subcommand; shift so that positional[2] is revoke's ID. */
        o.positional[2] = o.npositional > 1 ? o.positional[1] : NULL;
        if (strcmp(sub, "create") == 0) {
            if (o.help) {
                fputs(usage_token_create, stdout);
                return 0;
            }
            return cmd_token_create(&o);
        }
        if (strcmp(sub, "list") == 0) {
            if (o.help) {
                fputs(usage_token_list, stdout);
                return 0;
            }
            return with_conn(&o, token_list);
        }
        if (strcmp(sub, "revoke") == 0) {
            if (o.help) {
                fputs(usage_token_revoke, stdout);
                return 0;
            }
            if (!o.positional[2] || o.npositional != 2) {
                fputs(usage_token_revoke, stderr);
                return 2;
            }
            return with_conn(&o, token_revoke);
        }
        fprintf(stderr, "mandate: unknown token command '%s'\n", sub);
        fputs(usage_main, stderr);
        return 2;
    }
    if (strcmp(cmd, "check") == 0) {
        if (o.help) {
            fputs(usage_check, stdout);
            return 0;
        }
        return o.npositional ? (fputs(usage_check, stderr), 2) : cmd_check(&o);
    }
    if (strcmp(cmd, "access-at") == 0) {
        if (o.help) {
            fputs(usage_access_at, stdout);
            return 0;
        }
        return o.npositional ? (fputs(usage_access_at, stderr), 2) : cmd_access_at(&o);
    }
    if (strcmp(cmd, "catalog") == 0) {
        if (o.help) {
            fputs(usage_catalog, stdout);
            return 0;
        }
        if (o.npositional < 1 || o.npositional > 2 || strcmp(o.positional[0], "load") != 0) {
            fputs(usage_catalog, stderr);
            return 2;
        }
        return cmd_catalog(&o);
    }
    if (strcmp(cmd, "credential") == 0) {
        if (o.help) {
            fputs(usage_credential, stdout);
            return 0;
        }
        if (o.npositional != 2 || strcmp(o.positional[0], "set") != 0) {
            fputs(usage_credential, stderr);
            return 2;
        }
        return cmd_credential(&o);
    }
    if (strcmp(cmd, "audit") == 0) {
        if (o.help) {
            fputs(usage_audit, stdout);
            return 0;
        }
        return cmd_audit(&o);
    }
    if (strcmp(cmd, "migrate") == 0) {
        if (o.help) {
            fputs(usage_migrate, stdout);
            return 0;
        }
        if (!o.from || !*o.from || !o.to || !*o.to || o.npositional) {
            fputs(usage_migrate, stderr);
            return 2;
        }
        return cmd_migrate(&o);
    }
    fprintf(stderr, "mandate: unknown command '%s'\n", cmd);
    fputs(usage_main, stderr);
    return 2;
}
