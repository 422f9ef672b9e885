/*
 * The console's files: "/" is web/index.html, and "/<dir>/<file>.<ext>" the file below the
 * web directory (http_config.web_dir; docs/console.md says where the binary finds it). Only
 * names of [A-Za-z0-9_.-] segments that do not start with '.', with a known extension, are
 * served, so that no path can leave the directory or reach a hidden file.
 *
 * Every answer carries a strict Content-Security-Policy: scripts, styles and fetches from this
 * origin only, no inline script or style, no framing; the console is built to need nothing
 * more (web/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "http/http_int.h"

#define WEB_MAX_FILE (4 * 1024 * 1024)
#define WEB_MAX_PATH 200

static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'";

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

/* The media type of a file name by its extension, or NULL for one the console does not use. */
static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* Whether rel ("js/app.js") is a name this route may serve. */
static bool name_ok(const char *rel)
{
    size_t n = strlen(rel);
    bool seg_start = true;

    if (n == 0 || n > WEB_MAX_PATH)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = rel[i];
        if (c == '/') {
            if (seg_start)
                return false; /* an empty segment */
            seg_start = true;
            continue;
        }
        if (seg_start && c == '.')
            return false; /* "..", ".hidden" */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
        seg_start = false;
    }
    return !seg_start && type_of(rel) != NULL;
}

static void security_headers(struct http_resp *resp)
{
    http_resp_add_header(resp, "Content-Security-Policy", csp);
    http_resp_add_header(resp, "X-Frame-Options", "DENY");
    http_resp_add_header(resp, "Referrer-Policy", "no-referrer");
    http_resp_add_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    http_resp_add_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

/* Reads dir/rel into *out (heap); MD_ERR_NOTFOUND when it is not a regular file. */
static enum md_err read_file(const char *dir, const char *rel, char **out, size_t *len)
{
    char path[4096];
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    enum md_err rc = MD_ERR_NOTFOUND;
    int fd;

    *out = NULL;
    *len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, rel) >= sizeof path)
        return MD_ERR_NOTFOUND;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? MD_ERR_NOTFOUND : MD_ERR_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_size > WEB_MAX_FILE) {
        rc = MD_ERR_TOOLARGE;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = MD_ERR_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = MD_ERR_IO;
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
    rc = MD_OK;
out:
    free(buf);
    close(fd);
    return rc;
}

void http_route_web(struct http_req *req, struct http_resp *resp)
{
    const char *rel = strcmp(req->url, "/") == 0 ? "index.html" : req->url + 1;
    char *body = NULL;
    size_t len = 0;
    enum md_err rc;

    if (!name_ok(rel)) {
        http_resp_problem(resp, 404, "Not Found", "no such endpoint");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        http_resp_add_header(resp, "Allow", "GET, HEAD");
        http_resp_problem(resp, 405, "Method Not Allowed", "the console's files are read with GET");
        return;
    }
    if (!req->web_dir) {
        http_resp_problem(resp, 404, "Not Found",
                          strcmp(rel, "index.html") == 0
                              ? "the console is not installed: no web directory was found "
                                "(--web DIR or MANDATE_WEB; docs/console.md)"
                              : "no such endpoint");
        return;
    }
    rc = read_file(req->web_dir, rel, &body, &len);
    if (rc == MD_ERR_NOTFOUND) {
        http_resp_problem(resp, 404, "Not Found", "no such endpoint");
        return;
    }
    if (rc) {
        char q[240];
        log_error("event=web_read_failed file=%s code=%s", log_quote(rel, q, sizeof q),
                  md_err_name(rc));
        http_resp_problem(resp, 500, "Internal Server Error", "the console's file cannot be read");
        return;
    }
    security_headers(resp);
    http_resp_set_body(resp, 200, type_of(rel), body, len);
}
