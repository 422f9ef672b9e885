/*
 * The commands of the command line (main.c parses the arguments and dispatches here): one file
 * per command, and the helpers they share (common.c) to find the database, the state directory
 * and the vault key. Each command returns the process' exit status; each usage text is what
 * `mandate <command> --help` prints.
 */
#ifndef MANDATE_CLI_CLI_H
#define MANDATE_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_conn;

#ifndef MANDATE_VERSION
#define MANDATE_VERSION "0.1.0"
#endif

#define CLI_DEFAULT_LISTEN "127.0.0.1:8080"
#define CLI_DEFAULT_DB "./var/mandate.db"

/* The options every command may take; a command reads the ones it documents. */
struct cli_opts {
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

/* ---- the commands ---- */

int cli_serve(const struct cli_opts *o);        /* serve.c */
int cli_token_create(const struct cli_opts *o); /* token.c */
/* With cli_with_conn; revoke's id is positional[2]. */
int cli_token_list(struct store_conn *c, const struct cli_opts *o);
int cli_token_revoke(struct store_conn *c, const struct cli_opts *o);
int cli_check(const struct cli_opts *o);      /* check.c */
int cli_access_at(const struct cli_opts *o);  /* audit.c */
int cli_audit(const struct cli_opts *o);      /* audit.c */
int cli_catalog(const struct cli_opts *o);    /* catalog.c */
int cli_credential(const struct cli_opts *o); /* credential.c */
int cli_migrate(const struct cli_opts *o);    /* migrate.c */

extern const char cli_usage_serve[];
extern const char cli_usage_token_create[];
extern const char cli_usage_token_list[];
extern const char cli_usage_token_revoke[];
extern const char cli_usage_check[];
extern const char cli_usage_access_at[];
extern const char cli_usage_audit[];
extern const char cli_usage_catalog[];
extern const char cli_usage_credential[];
extern const char cli_usage_migrate[];

/* A database without connectors gets the catalog, so that packs can be granted at once. */
int cli_catalog_first_start(const struct cli_opts *o, struct store *s);

/* ---- shared by the commands (common.c) ---- */

/* The database: --db, MANDATE_DB, else CLI_DEFAULT_DB. */
const char *cli_db_path(const struct cli_opts *o);
/* Creates the parent directories of a database file, as `mkdir -p` would. */
void cli_make_parent_dirs(const char *path);
/* Opens the database with a pool of connections, its directories created; NULL (said) on error. */
struct store *cli_open_store(const struct cli_opts *o, int pool);
/* Runs fn on one connection of the database: its status, or 1 when the database fails. */
int cli_with_conn(const struct cli_opts *o,
                  int (*fn)(struct store_conn *, const struct cli_opts *));
bool cli_is_dir(const char *p);
/*
 * The directory name (e.g. "catalog") beside the running binary: a build tree's build/mandate or
 * build/asan/mandate (the sanitizer build) -> ../NAME, an install's PREFIX/bin/mandate ->
 * ../share/mandate/NAME. With marker set, the directory must hold that file. Into buf; NULL
 * when there is none.
 */
const char *cli_beside_binary(const char *name, const char *marker, char *buf, size_t n);
/*
 * The directory of the server's local files (vault key, audit journal and anchor): the SQLite
 * database's, else MANDATE_STATE_DIR, else the working directory. Returns whether the database
 * is SQLite.
 */
bool cli_state_dir(const struct cli_opts *o, char *out, size_t n);
/* A file in the state directory, unless given (flag, else env). */
void cli_state_file(const struct cli_opts *o, const char *given, const char *env, const char *name,
                    char *out, size_t n);
/*
 * The vault key: MANDATE_VAULT_KEY, else the key file (--vault-key-file, MANDATE_VAULT_KEY_FILE,
 * or on SQLite vault.key beside the database, created by the server's first start). Returns 1
 * with *have false when no key is configured (PostgreSQL without one, or, when create is false,
 * no default key file), -1 on an error.
 */
int cli_load_vault_key(const struct cli_opts *o, bool create, unsigned char key[32], bool *have);
/* An option's value: the flag, else the environment variable, else NULL. */
const char *cli_opt_env(const char *flag, const char *env);
/* An RFC 3339 time option into *ms; 0 when absent. Returns false (and says why) when bad. */
bool cli_time_opt(const char *flag, const char *v, int64_t *ms);

#endif
