/*
 * mandate: the command line. Parses arguments and dispatches to a command (src/cli); nothing
 * else.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct opt_def {
    const char *flag;
    size_t offset;
};

static const struct opt_def opt_defs[] = {
    {"--listen", offsetof(struct cli_opts, listen)},
    {"--db", offsetof(struct cli_opts, db)},
    {"--kind", offsetof(struct cli_opts, kind)},
    {"--name", offsetof(struct cli_opts, name)},
    {"--public-url", offsetof(struct cli_opts, public_url)},
    {"--threads", offsetof(struct cli_opts, threads)},
    {"--from", offsetof(struct cli_opts, from)},
    {"--to", offsetof(struct cli_opts, to)},
    {"--user", offsetof(struct cli_opts, user)},
    {"--pack", offsetof(struct cli_opts, pack)},
    {"--tool", offsetof(struct cli_opts, tool)},
    {"--args", offsetof(struct cli_opts, args)},
    {"--catalog", offsetof(struct cli_opts, catalog)},
    {"--vault-key-file", offsetof(struct cli_opts, vault_key_file)},
    {"--mcp-origin", offsetof(struct cli_opts, mcp_origin)},
    {"--audit-journal", offsetof(struct cli_opts, audit_journal)},
    {"--audit-anchor", offsetof(struct cli_opts, audit_anchor)},
    {"--audit-webhook", offsetof(struct cli_opts, audit_webhook)},
    {"--audit-webhook-secret-file", offsetof(struct cli_opts, audit_webhook_secret_file)},
    {"--audit-syslog", offsetof(struct cli_opts, audit_syslog)},
    {"--audit-syslog-facility", offsetof(struct cli_opts, audit_syslog_facility)},
    {"--since", offsetof(struct cli_opts, since)},
    {"--until", offsetof(struct cli_opts, until)},
    {"--filter", offsetof(struct cli_opts, filter)},
    {"--before", offsetof(struct cli_opts, before)},
    {"--expect", offsetof(struct cli_opts, expect)},
    {"--time", offsetof(struct cli_opts, time)},
    {"--web", offsetof(struct cli_opts, web)},
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

static const char usage_version[] = "usage: mandate version\n\nPrints the version.\n";

static int parse_opts(int argc, char **argv, struct cli_opts *o)
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

int main(int argc, char **argv)
{
    struct cli_opts o;
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
            fputs(cli_usage_serve, stdout);
            return 0;
        }
        if (o.npositional) {
            fputs(cli_usage_serve, stderr);
            return 2;
        }
        return cli_serve(&o);
    }
    if (strcmp(cmd, "token") == 0) {
        const char *sub = o.npositional ? o.positional[0] : NULL;
        if (!sub) {
            fputs(o.help ? cli_usage_token_create : usage_main, o.help ? stdout : stderr);
            if (o.help) {
                fputs(cli_usage_token_list, stdout);
                fputs(cli_usage_token_revoke, stdout);
            }
            return o.help ? 0 : 2;
        }
        /* positional[0] is the subcommand; shift so that positional[2] is revoke's ID. */
        o.positional[2] = o.npositional > 1 ? o.positional[1] : NULL;
        if (strcmp(sub, "create") == 0) {
            if (o.help) {
                fputs(cli_usage_token_create, stdout);
                return 0;
            }
            return cli_token_create(&o);
        }
        if (strcmp(sub, "list") == 0) {
            if (o.help) {
                fputs(cli_usage_token_list, stdout);
                return 0;
            }
            return cli_with_conn(&o, cli_token_list);
        }
        if (strcmp(sub, "revoke") == 0) {
            if (o.help) {
                fputs(cli_usage_token_revoke, stdout);
                return 0;
            }
            if (!o.positional[2] || o.npositional != 2) {
                fputs(cli_usage_token_revoke, stderr);
                return 2;
            }
            return cli_with_conn(&o, cli_token_revoke);
        }
        fprintf(stderr, "mandate: unknown token command '%s'\n", sub);
        fputs(usage_main, stderr);
        return 2;
    }
    if (strcmp(cmd, "check") == 0) {
        if (o.help) {
            fputs(cli_usage_check, stdout);
            return 0;
        }
        return o.npositional ? (fputs(cli_usage_check, stderr), 2) : cli_check(&o);
    }
    if (strcmp(cmd, "access-at") == 0) {
        if (o.help) {
            fputs(cli_usage_access_at, stdout);
            return 0;
        }
        return o.npositional ? (fputs(cli_usage_access_at, stderr), 2) : cli_access_at(&o);
    }
    if (strcmp(cmd, "catalog") == 0) {
        if (o.help) {
            fputs(cli_usage_catalog, stdout);
            return 0;
        }
        if (o.npositional < 1 || o.npositional > 2 || strcmp(o.positional[0], "load") != 0) {
            fputs(cli_usage_catalog, stderr);
            return 2;
        }
        return cli_catalog(&o);
    }
    if (strcmp(cmd, "credential") == 0) {
        if (o.help) {
            fputs(cli_usage_credential, stdout);
            return 0;
        }
        if (o.npositional != 2 || strcmp(o.positional[0], "set") != 0) {
            fputs(cli_usage_credential, stderr);
            return 2;
        }
        return cli_credential(&o);
    }
    if (strcmp(cmd, "audit") == 0) {
        if (o.help) {
            fputs(cli_usage_audit, stdout);
            return 0;
        }
        return cli_audit(&o);
    }
    if (strcmp(cmd, "migrate") == 0) {
        if (o.help) {
            fputs(cli_usage_migrate, stdout);
            return 0;
        }
        if (!o.from || !*o.from || !o.to || !*o.to || o.npositional) {
            fputs(cli_usage_migrate, stderr);
            return 2;
        }
        return cli_migrate(&o);
    }
    fprintf(stderr, "mandate: unknown command '%s'\n", cmd);
    fputs(usage_main, stderr);
    return 2;
}
