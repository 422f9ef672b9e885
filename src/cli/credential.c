/*
 * `mandate credential set`: a connector's credential, sealed with the vault key.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "access/access.h"
#include "cli/cli.h"
#include "connect/auth.h"
#include "connect/vault.h"
#include "core/err.h"
#include "core/json.h"
#include "store/store.h"

const char cli_usage_credential[] =
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

int cli_credential(const struct cli_opts *o)
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
    s = cli_open_store(o, 2);
    if (!s)
        return 1;
    if (access_open(s, &a, &e) || access_connector_get(a, name, &conn, &e)) {
        fprintf(stderr, "mandate: %s\n", e.msg);
        goto out;
    }
    if (cli_load_vault_key(o, false, key, &have) != 0 || !have) {
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
