/* Inside the audit module: what its files share. */
#ifndef MANDATE_AUDIT_AUDIT_INT_H
#define MANDATE_AUDIT_AUDIT_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "audit/audit.h"

struct store *audit__store(struct audit *a);
/* Copies the checkpoint key into out; false when the log has none. */
bool audit__key(struct audit *a, unsigned char out[AUDIT_KEY_LEN]);

/* A JSON string's value, or "" for anything else. */
static inline const char *jstr(const json_t *v)
{
    const char *s = json_string_value(v);
    return s ? s : "";
}

#endif
