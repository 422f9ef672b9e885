/*
 * GET /openapi.json: the OpenAPI 3.1 document of this API, src/admin/openapi.json, embedded in
 * the binary as it is on disk, so that the document served is the one the tests check (the
 * build compiles from the repository root, and openapi.o depends on openapi.json).
 */
#include <stddef.h>

#include "admin/admin_int.h"

/*
 * .incbin copies the file's bytes into read-only data; the trailing zero byte makes it a C
 * string. No code generator, and no copy of the document in the source to drift from it.
 */
__asm__(".section .rodata\n"
        ".global admin_openapi_json\n"
        ".type admin_openapi_json, @object\n"
        "admin_openapi_json:\n"
        ".incbin \"src/admin/openapi.json\"\n"
        ".byte 0\n"
        ".size admin_openapi_json, . - admin_openapi_json\n"
        ".previous\n");

extern const char admin_openapi_json[];

const char *admin_openapi(void)
{
    return admin_openapi_json;
}

void admin_route_openapi(struct admin_ctx *x)
{
    if (x->nseg != 1) {
        admin_failf(x, MD_ERR_NOTFOUND, "no such endpoint");
        return;
    }
    if (!admin_method_ok(x, "GET"))
        return;
    admin_reply(x, 200, NULL);
    x->resp->raw = admin_openapi_json;
}
