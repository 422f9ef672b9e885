/*
 * `mandate serve`: the server, from its options to its clean stop on SIGTERM.
 */
#include <limits.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "access/access.h"
#include "audit/audit.h"
#include "audit/sink.h"
#include "cli/cli.h"
#include "connect/runtime.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/str.h"
#include "http/http.h"
#include "mcp/mcp.h"
#include "store/migrate.h"
#include "store/store.h"

const char cli_usage_serve[] =
    "usage: mandate serve [--listen HOST:PORT] [--db PATH] [--public-url URL] [--threads N]\n"
    "\n"
    "  --listen HOST:PORT  address to listen on (env MANDATE_LISTEN; default " CLI_DEFAULT_LISTEN
    ")\n"
    "  --db PATH|URL       SQLite database file, or postgres://USER@HOST:PORT/DB for several\n"
    "                      nodes on one PostgreSQL (env MANDATE_DB; default " CLI_DEFAULT_DB ")\n"
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

/*
 * Starts the audit log's push sinks named by the options (none: *out stays NULL). The node's
 * name for the sinks' lease is its host and journal, which only one process holds at a time.
 */
static int start_sinks(const struct cli_opts *o, struct store *s, const char *journal,
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
    const char *facility = cli_opt_env(o->audit_syslog_facility, "MANDATE_AUDIT_SYSLOG_FACILITY");
    const char *max = getenv("MANDATE_AUDIT_SYSLOG_MAX");
    const char *up_http = getenv("MANDATE_UPSTREAM_HTTP");
    unsigned char secret[AUDIT_SINK_SECRET_MAX];
    char host[256] = "", node[4400], real[PATH_MAX];
    struct md_error e;
    long long v;
    int rc = -1;

    md_error_clear(&e);
    sc.webhook_url = cli_opt_env(o->audit_webhook, "MANDATE_AUDIT_WEBHOOK_URL");
    sc.syslog_url = cli_opt_env(o->audit_syslog, "MANDATE_AUDIT_SYSLOG");
    if (audit_sinks_count(&sc) == 0)
        return 0;
    sc.webhook_ca_file = cli_opt_env(NULL, "MANDATE_AUDIT_WEBHOOK_CA_FILE");
    sc.allow_http = up_http && strcmp(up_http, "1") == 0;
    if (sc.webhook_url && audit_sink_secret_load(getenv("MANDATE_AUDIT_WEBHOOK_SECRET"),
                                                 cli_opt_env(o->audit_webhook_secret_file,
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
static const char *web_dir(const struct cli_opts *o, char *buf, size_t n)
{
    const char *env = getenv("MANDATE_WEB");
    char probe[PATH_MAX + 32];

    if (o->web || (env && *env)) {
        const char *dir = o->web ? o->web : env;
        snprintf(probe, sizeof probe, "%s/index.html", dir);
        if (cli_is_dir(dir) && access(probe, R_OK) == 0)
            return dir;
        fprintf(stderr, "mandate: %s has no index.html; the console is not served\n", dir);
        return NULL;
    }
    return cli_beside_binary("web", "index.html", buf, n);
}

static void cancel_pending(void *cls)
{
    connect_runtime_stop(cls);
}

int cli_serve(const struct cli_opts *o)
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
        listen = CLI_DEFAULT_LISTEN;
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
        bool remote = strstr(cli_db_path(o), "://") != NULL;
        threads = (ncpu > 0 ? ncpu : 2) * (remote ? 2 : 1);
        if (threads < 2)
            threads = 2;
    }
    cfg.threads = (int)threads;
    raise_fd_limit();
    /* A connection more for each audit sink, so that none waits for a request's. */
    s = cli_open_store(o, cfg.threads + 2 +
                              (cli_opt_env(o->audit_webhook, "MANDATE_AUDIT_WEBHOOK_URL") != NULL) +
                              (cli_opt_env(o->audit_syslog, "MANDATE_AUDIT_SYSLOG") != NULL));
    if (!s)
        return 1;
    if (first_start(s, host, port, public_url) != 0 || cli_catalog_first_start(o, s) != 0 ||
        cli_load_vault_key(o, true, vkey, &have_key) < 0) {
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
    cli_state_file(o, o->audit_journal, "MANDATE_AUDIT_JOURNAL", "audit.journal", journal,
                   sizeof journal);
    cli_state_file(o, o->audit_anchor, "MANDATE_AUDIT_ANCHOR", "audit.anchor", anchor,
                   sizeof anchor);
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
        store_url_redact(cli_db_path(o), db, sizeof db);
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
