/*
 * Helpers the commands share: where the database, the state directory and the vault key are.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "connect/vault.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "store/store.h"

const char *cli_db_path(const struct cli_opts *o)
{
    const char *env = getenv("MANDATE_DB");
    if (o->db)
        return o->db;
    return env && *env ? env : CLI_DEFAULT_DB;
}

/* Creates the parent directories of a database file, as `mkdir -p` would. */
void cli_make_parent_dirs(const char *path)
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

struct store *cli_open_store(const struct cli_opts *o, int pool)
{
    struct store *s = NULL;
    struct md_error e;
    md_error_clear(&e);
    cli_make_parent_dirs(cli_db_path(o));
    if (store_open(cli_db_path(o), pool, &s, &e)) {
        fprintf(stderr, "mandate: cannot open the database: %s\n", e.msg);
        return NULL;
    }
    return s;
}

int cli_with_conn(const struct cli_opts *o, int (*fn)(struct store_conn *, const struct cli_opts *))
{
    struct store *s = cli_open_store(o, 1);
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

bool cli_is_dir(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The directory name (e.g. "catalog") beside the running binary: a build tree's build/mandate or
 * build/asan/mandate (the sanitizer build) -> ../NAME, an install's PREFIX/bin/mandate ->
 * ../share/mandate/NAME. With marker set, the directory must hold that file. Into buf; NULL
 * when there is none.
 */
const char *cli_beside_binary(const char *name, const char *marker, char *buf, size_t n)
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
        if (cli_is_dir(buf) && (!marker || access(probe, R_OK) == 0))
            return buf;
    }
    return NULL;
}

/*
 * The directory of the server's local files (vault key, audit journal and anchor): the SQLite
 * database's, else MANDATE_STATE_DIR, else the working directory. Returns whether the database
 * is SQLite.
 */
bool cli_state_dir(const struct cli_opts *o, char *out, size_t n)
{
    const char *db = cli_db_path(o);
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
void cli_state_file(const struct cli_opts *o, const char *given, const char *env, const char *name,
                    char *out, size_t n)
{
    char dir[3800];
    const char *v = given ? given : getenv(env);
    if (v && *v) {
        snprintf(out, n, "%s", v);
        return;
    }
    cli_state_dir(o, dir, sizeof dir);
    snprintf(out, n, "%s/%s", dir, name);
}

/*
 * The vault key: MANDATE_VAULT_KEY, else the key file (--vault-key-file, MANDATE_VAULT_KEY_FILE,
 * or on SQLite vault.key beside the database, created by the server's first start). Returns 1
 * with *have false when no key is configured (PostgreSQL without one, or, when create is false,
 * no default key file), -1 on an error.
 */
int cli_load_vault_key(const struct cli_opts *o, bool create, unsigned char key[32], bool *have)
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
        if (!cli_state_dir(o, dir, sizeof dir))
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

/* An option's value: the flag, else the environment variable, else NULL. */
const char *cli_opt_env(const char *flag, const char *env)
{
    const char *v = flag ? flag : getenv(env);
    return v && *v ? v : NULL;
}

/* An RFC 3339 time option into *ms; 0 when absent. Returns false (and says why) when bad. */
bool cli_time_opt(const char *flag, const char *v, int64_t *ms)
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
