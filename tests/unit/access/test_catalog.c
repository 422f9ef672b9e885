/*
 * The catalog (catalog.c): connector documents, a deployment's overrides, tool packs and the
 * loading of a catalog directory. Every invalid write is a row of a table and must be refused
 * with MD_ERR_VALUE, a message that names what is wrong, and no change to what is stored (the
 * listing before and after are equal, also when the write would have replaced a valid
 * document of the same name).
 */
#include "access_fixture.h"

#include <sys/stat.h>

static void world(void)
{
    fx_open();
    fx_world_catalog();
}

/* A store with nothing in it, for the loads. */
static void bare(void)
{
    fx_open();
}

/* Each test names its own setup: criterion would run a suite's .init and a test's both. */
#define WORLD .init = world, .fini = fx_close
#define BARE .init = bare, .fini = fx_close

TestSuite(test_catalog);

static json_t *connector_list(void)
{
    struct md_error e = {0};
    json_t *l = NULL;

    cr_assert_eq(access_connector_list(fx.a, &l, &e), MD_OK, "%s", e.msg);
    return l;
}

static json_t *pack_list(void)
{
    struct md_error e = {0};
    json_t *l = NULL;

    cr_assert_eq(access_pack_list(fx.a, &l, &e), MD_OK, "%s", e.msg);
    return l;
}

static json_t *connector_get(const char *name)
{
    struct md_error e = {0};
    json_t *c = NULL;

    cr_assert_eq(access_connector_get(fx.a, name, &c, &e), MD_OK, "%s", e.msg);
    return c;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "(absent)";
}

/* A string of n copies of ch (n < 128). */
static const char *repeat(char ch, size_t n, char buf[128])
{
    memset(buf, ch, n);
    buf[n] = '\0';
    return buf;
}

/* ---- connectors ---- */

/*
 * A connector case: the valid document of connector "pay" (which exists) with one change:
 * at "doc" (the document), "tool0" or "tool1" (a tool), "whole" (the whole document), key set
 * to the JSON value (or removed when value is NULL).
 */
struct ccase {
    const char *desc;
    const char *at;
    const char *key;
    const char *value;
    const char *msg; /* a phrase the error message must contain */
};

#define NAME_RULE "\"name\" must be 1 to 30 characters"
#define FULL_RULE "must be at most 64 characters of [a-z0-9_]"

static const struct ccase ccases[] = {
    {"not an object", "whole", NULL, "[1]", "a connector is a JSON object"},
    {"no name", "doc", "name", NULL, NAME_RULE},
    {"a name that is not a string", "doc", "name", "42", NAME_RULE},
    {"an empty name", "doc", "name", "\"\"", NAME_RULE},
    {"an uppercase name", "doc", "name", "\"Pay\"", NAME_RULE},
    {"a name starting with a digit", "doc", "name", "\"9pay\"", NAME_RULE},
    {"a name with __", "doc", "name", "\"pa__y\"", NAME_RULE},
    {"a name ending in _", "doc", "name", "\"pay_\"", NAME_RULE},
    {"a name with a hyphen", "doc", "name", "\"pay-x\"", NAME_RULE},
    {"a name of 31 characters", "doc", "name", "\"paaaaaaaaaaaaaaaaaaaaaaaaaaaaay\"", NAME_RULE},
    {"no title", "doc", "title", NULL, "\"title\" is a required string"},
    {"an empty title", "doc", "title", "\"\"", "\"title\" is a required string"},
    {"no base_url", "doc", "base_url", NULL, "\"base_url\""},
    {"an ftp base_url", "doc", "base_url", "\"ftp://api.example.com\"", "\"base_url\""},
    {"a base_url with a trailing /", "doc", "base_url", "\"https://api.example.com/\"",
     "\"base_url\""},
    {"a base_url with a space", "doc", "base_url", "\"https://api.example.com/a b\"",
     "\"base_url\""},
    {"auth not an object", "doc", "auth", "\"bearer\"", "\"auth\""},
    {"auth without a type", "doc", "auth", "{}", "\"auth\""},
    {"headers not an object", "doc", "headers", "[]", "\"headers\""},
    {"a header that is not a string", "doc", "headers", "{\"X-A\": 1}", "header X-A"},
    {"no tools", "doc", "tools", NULL, "\"tools\" must be a non-empty array"},
    {"an empty tool list", "doc", "tools", "[]", "\"tools\" must be a non-empty array"},
    {"tools not an array", "doc", "tools", "{}", "\"tools\" must be a non-empty array"},
    {"a tool that is not an object", "doc", "tools", "[1]", "a tool is an object"},
    {"a tool without a name", "tool0", "name", NULL, "tools[0]: \"name\" must start"},
    {"a tool name in uppercase", "tool0", "name", "\"Refund\"", "\"name\" must start"},
    {"a tool name starting with a digit", "tool0", "name", "\"1refund\"", "\"name\" must start"},
    {"a tool name with a hyphen", "tool0", "name", "\"re-fund\"", FULL_RULE},
    {"a full tool name of 65 characters", "tool0", "name",
     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"", FULL_RULE},
    {"a tool without a title", "tool0", "title", NULL, "\"title\" and \"description\""},
    {"a tool without a description", "tool0", "description", NULL, "\"title\" and \"description\""},
    {"a tool without a level", "tool0", "level", NULL, "\"level\" must be"},
    {"a tool level that does not exist", "tool0", "level", "\"admin\"", "\"level\" must be"},
    {"a tool level in uppercase", "tool0", "level", "\"READ\"", "\"level\" must be"},
    {"a tool without input_schema", "tool0", "input_schema", NULL, "\"input_schema\""},
    {"an input_schema that is not of an object", "tool0", "input_schema", "{\"type\": \"array\"}",
     "\"input_schema\""},
    {"an input_schema that is a string", "tool0", "input_schema", "\"object\"", "\"input_schema\""},
    {"a tool without request", "tool0", "request", NULL, "\"request\" is required"},
    {"a request method that does not exist", "tool0", "request",
     "{\"method\": \"FETCH\", \"path\": \"/x\"}", "\"request.method\""},
    {"a request without a path", "tool0", "request", "{\"method\": \"POST\"}", "\"request.path\""},
    {"a relative request path", "tool0", "request", "{\"method\": \"GET\", \"path\": \"x\"}",
     "\"request.path\""},
    {"redact not an array", "tool0", "redact", "\"amount\"", "\"redact\""},
    /* The runtime's request template is read when the connector is written, not at a call. */
    {"a query entry with an unknown member", "tool0", "request",
     "{\"method\": \"GET\", \"path\": \"/x\", \"query\": [{\"name\": \"a[]\", \"argument\": "
     "\"a\"}]}",
     "tools[0] refund: request.query[0] must be {\"name\": PARAMETER, \"arg\": ARGUMENT}"},
    {"a query argument listed twice", "tool0", "request",
     "{\"method\": \"GET\", \"path\": \"/x\", \"query\": [\"a\", {\"name\": \"a[]\", \"arg\": "
     "\"a\"}]}",
     "the argument a is listed twice"},
    {"a body template that its content type cannot carry", "tool0", "request",
     "{\"method\": \"POST\", \"path\": \"/x\", \"body\": {\"type\": \"template\", "
     "\"content_type\": \"text/csv\", \"escape\": \"none\", \"template\": \"{{a}}\"}}",
     "tools[0] refund: request.body"},
    {"a request field the runtime does not know", "tool0", "request",
     "{\"method\": \"GET\", \"path\": \"/x\", \"timeout\": 5}",
     "request.timeout is not a known field"},
    /* So are the response rules. */
    {"a response rule with an unknown test", "doc", "response",
     "{\"error_when\": {\"pointer\": \"/ok\", \"is\": false}}",
     "response.error_when.is is not a known field"},
    {"a response message that is not a pointer", "doc", "response",
     "{\"error\": {\"message\": \"error\"}}", "response.error.message must be a JSON Pointer"},
    {"a response that is not an object", "doc", "response", "[]", "response must be an object"},
    {"a duplicate tool name", "tool1", "name", "\"refund\"",
     "tools[1]: the name refund is used twice"},
    {"an error in a later tool is found", "tool1", "level", "\"none\"", "tools[1] charges"},
};

static json_t *mutated_connector(const struct ccase *c)
{
    json_t *doc = fx_connector_doc("pay", "refund:destructive,charges:read,note:write");
    json_t *target = doc;

    if (strcmp(c->at, "whole") == 0) {
        json_decref(doc);
        return fx_json(c->value);
    }
    if (strcmp(c->at, "tool0") == 0)
        target = json_array_get(json_object_get(doc, "tools"), 0);
    else if (strcmp(c->at, "tool1") == 0)
        target = json_array_get(json_object_get(doc, "tools"), 1);
    if (c->value)
        json_object_set_new(target, c->key, fx_json(c->value));
    else
        json_object_del(target, c->key);
    return doc;
}

Test(test_catalog, invalid_connectors_are_refused_and_change_nothing, WORLD)
{
    json_t *before = connector_list();

    for (size_t i = 0; i < sizeof ccases / sizeof ccases[0]; i++) {
        const struct ccase *c = &ccases[i];
        struct md_error e = {0};
        json_t *doc = mutated_connector(c), *out = (json_t *)1, *after;
        bool created = true;

        cr_expect_eq(access_connector_put(fx.a, doc, &out, &created, &e), MD_ERR_VALUE, "%s: %s",
                     c->desc, e.msg);
        cr_expect(strstr(e.msg, c->msg), "%s: \"%s\" lacks \"%s\"", c->desc, e.msg, c->msg);
        cr_expect_null(out, "%s", c->desc);
        cr_expect_not(created, "%s", c->desc);
        after = connector_list();
        cr_expect(fx_json_eq(before, after), "%s changed the connectors", c->desc);
        json_decref(after);
        json_decref(doc);
    }
    json_decref(before);
}

Test(test_catalog, connector_boundaries_that_are_valid, WORLD)
{
    struct md_error e = {0};
    char buf[128], tools[160];
    json_t *doc, *out = NULL;
    bool created = false;

    /* A 30-character connector name, and a full tool name of exactly 64 characters. */
    snprintf(tools, sizeof tools, "%s:read", repeat('t', 64 - 32, buf));
    doc = fx_connector_doc(repeat('c', 30, buf), tools);
    json_object_set_new(doc, "runtime_extra", json_string("kept")); /* the runtime's field */
    cr_expect_eq(access_connector_put(fx.a, doc, &out, &created, &e), MD_OK, "%s", e.msg);
    cr_expect(created);
    cr_assert_not_null(out);
    cr_expect_eq(strlen(jstr(json_array_get(json_object_get(out, "tools"), 0), "full_name")), 64);
    cr_expect_str_eq(jstr(out, "runtime_extra"), "kept");
    json_decref(out);
    json_decref(doc);

    /* Replacing an existing one says so. */
    doc = fx_connector_doc("pay", "refund:destructive");
    cr_expect_eq(access_connector_put(fx.a, doc, NULL, &created, &e), MD_OK, "%s", e.msg);
    cr_expect_not(created);
    json_decref(doc);
}

Test(test_catalog, connector_view_and_list, WORLD)
{
    struct md_error e = {0};
    json_t *c = connector_get("pay"), *l, *t, *none = (json_t *)1;

    cr_expect_str_eq(jstr(c, "name"), "pay");
    cr_expect_str_eq(jstr(c, "base_url"), "https://api.example.com");
    cr_expect(json_is_object(json_object_get(c, "overrides")));
    cr_expect(json_is_integer(json_object_get(c, "version")));
    t = json_array_get(json_object_get(c, "tools"), 0);
    cr_expect_str_eq(jstr(t, "full_name"), "pay__refund");
    cr_expect_str_eq(jstr(t, "level"), "destructive");
    cr_expect_str_eq(jstr(t, "defined_level"), "destructive");
    cr_expect(json_is_object(json_object_get(t, "input_schema")));
    json_decref(c);

    l = connector_list();
    cr_assert_eq(json_array_size(l), 2);
    cr_expect_str_eq(jstr(json_array_get(l, 0), "name"), "code");
    cr_expect_str_eq(jstr(json_array_get(l, 1), "name"), "pay");
    t = json_array_get(json_object_get(json_array_get(l, 1), "tools"), 0);
    cr_expect_null(json_object_get(t, "input_schema"), "a listing has no input schemas");
    cr_expect_str_eq(jstr(t, "full_name"), "pay__refund");
    json_decref(l);

    cr_expect_eq(access_connector_get(fx.a, "nope", &none, &e), MD_ERR_NOTFOUND);
    cr_expect_null(none);
}

/* ---- overrides ---- */

struct ocase {
    const char *desc;
    const char *patch;
    const char *msg;
};

static const struct ocase ocases[] = {
    {"not an object", "[1]", "a JSON object"},
    {"a tool the connector does not define", "{\"levels\": {\"pay__nope\": \"read\"}}",
     "defines no tool pay__nope"},
    {"another connector's tool", "{\"levels\": {\"code__read_file\": \"read\"}}",
     "defines no tool code__read_file"},
    {"a short tool name", "{\"levels\": {\"refund\": \"read\"}}", "defines no tool refund"},
    {"a level that does not exist", "{\"levels\": {\"pay__refund\": \"admin\"}}",
     "the level of pay__refund"},
    {"a level that is not a string", "{\"levels\": {\"pay__refund\": 3}}",
     "the level of pay__refund"},
    {"levels not an object", "{\"levels\": [\"read\"]}", "\"levels\" maps"},
    {"a base_url that is not a URL", "{\"base_url\": \"ftp://sandbox\"}", "\"base_url\""},
    {"a base_url that is not a string", "{\"base_url\": 5}", "\"base_url\""},
    {"an unknown override", "{\"colour\": \"red\"}", "unknown override \"colour\""},
    {"a token_url for a connector without a token endpoint",
     "{\"token_url\": \"https://login.example.com/token\"}",
     "this connector's auth (bearer) has no OAuth 2.0 token endpoint"},
    {"a token_url that is not a string", "{\"token_url\": 5}", "\"token_url\" must be"},
    {"a valid change with an invalid one",
     "{\"base_url\": \"https://sandbox.example.com\","
     " \"levels\": {\"pay__charges\": \"write\", \"pay__nope\": \"read\"}}",
     "defines no tool pay__nope"},
};

Test(test_catalog, invalid_overrides_are_refused_and_change_nothing, WORLD)
{
    struct md_error e = {0};
    json_t *first = fx_json("{\"levels\": {\"pay__note\": \"destructive\"}}");
    json_t *before;

    /* An override that exists must survive the refused ones. */
    cr_assert_eq(access_connector_override(fx.a, "pay", first, NULL, &e), MD_OK, "%s", e.msg);
    before = connector_get("pay");
    for (size_t i = 0; i < sizeof ocases / sizeof ocases[0]; i++) {
        json_t *patch = fx_json(ocases[i].patch), *out = (json_t *)1, *after;

        cr_expect_eq(access_connector_override(fx.a, "pay", patch, &out, &e), MD_ERR_VALUE,
                     "%s: %s", ocases[i].desc, e.msg);
        cr_expect(strstr(e.msg, ocases[i].msg), "%s: \"%s\" lacks \"%s\"", ocases[i].desc, e.msg,
                  ocases[i].msg);
        cr_expect_null(out, "%s", ocases[i].desc);
        after = connector_get("pay");
        cr_expect(fx_json_eq(before, after), "%s changed the connector", ocases[i].desc);
        json_decref(after);
        json_decref(patch);
    }
    cr_expect_eq(access_connector_override(fx.a, "nope", first, NULL, &e), MD_ERR_NOTFOUND);
    json_decref(before);
    json_decref(first);
}

static const json_t *tool_of(const json_t *conn, const char *full)
{
    size_t i;
    json_t *t;

    json_array_foreach(json_object_get(conn, "tools"), i, t)
    {
        if (strcmp(jstr(t, "full_name"), full) == 0)
            return t;
    }
    cr_assert_fail("no tool %s", full);
    return NULL;
}

Test(test_catalog, overrides_are_shown_kept_and_reset, WORLD)
{
    struct md_error e = {0};
    json_t *patch = fx_json("{\"base_url\": \"https://sandbox.example.com\","
                            " \"levels\": {\"pay__charges\": \"write\"}}");
    json_t *reset = fx_json("{\"base_url\": null, \"levels\": {\"pay__charges\": null}}");
    json_t *out = NULL, *doc;

    cr_assert_eq(access_connector_override(fx.a, "pay", patch, &out, &e), MD_OK, "%s", e.msg);
    cr_assert_not_null(out);
    cr_expect_str_eq(jstr(out, "base_url"), "https://sandbox.example.com");
    cr_expect_str_eq(jstr(out, "defined_base_url"), "https://api.example.com");
    cr_expect_str_eq(jstr(tool_of(out, "pay__charges"), "level"), "write");
    cr_expect_str_eq(jstr(tool_of(out, "pay__charges"), "defined_level"), "read");
    cr_expect_str_eq(
        jstr(json_object_get(json_object_get(out, "overrides"), "levels"), "pay__charges"),
        "write");
    json_decref(out);

    /* A new definition of the connector keeps the deployment's overrides. */
    doc = fx_connector_doc("pay", "refund:destructive,charges:read,note:write,extra:read");
    {
        bool created = true;
        cr_assert_eq(access_connector_put(fx.a, doc, &out, &created, &e), MD_OK, "%s", e.msg);
    }
    cr_expect_str_eq(jstr(out, "base_url"), "https://sandbox.example.com");
    cr_expect_str_eq(jstr(tool_of(out, "pay__charges"), "level"), "write");
    json_decref(out);
    json_decref(doc);

    cr_assert_eq(access_connector_override(fx.a, "pay", reset, &out, &e), MD_OK, "%s", e.msg);
    cr_expect_str_eq(jstr(out, "base_url"), "https://api.example.com");
    cr_expect_null(json_object_get(out, "defined_base_url"));
    cr_expect_str_eq(jstr(tool_of(out, "pay__charges"), "level"), "read");
    json_decref(out);
    json_decref(patch);
    json_decref(reset);
}

/* ---- packs ---- */

struct pcase {
    const char *desc;
    const char *doc;
    const char *msg;
};

/* A pack "notes" with these entries. */
#define PACK(entries) "{\"name\": \"notes\", \"title\": \"N\", \"tools\": [" entries "]}"
#define PNAME_RULE "\"name\" must be 1 to 63 characters"
#define PTOOL_RULE "\"tool\" must be a full tool name"

static const struct pcase pcases[] = {
    {"not an object", "[]", "a pack is a JSON object"},
    {"an unknown field", "{\"name\": \"notes\", \"title\": \"N\", \"tools\": [], \"owner\": 1}",
     "unknown field \"owner\""},
    {"a misspelt field", "{\"name\": \"notes\", \"title\": \"N\", \"tool\": []}",
     "unknown field \"tool\""},
    {"no name", "{\"title\": \"N\", \"tools\": []}", PNAME_RULE},
    {"a name starting with a hyphen", "{\"name\": \"-n\", \"title\": \"N\", \"tools\": []}",
     PNAME_RULE},
    {"an uppercase name", "{\"name\": \"Notes\", \"title\": \"N\", \"tools\": []}", PNAME_RULE},
    {"a name with a space", "{\"name\": \"no tes\", \"title\": \"N\", \"tools\": []}", PNAME_RULE},
    {"a name of 64 characters",
     "{\"name\": \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\","
     " \"title\": \"N\", \"tools\": []}",
     PNAME_RULE},
    {"no title", "{\"name\": \"notes\", \"tools\": []}", "\"title\""},
    {"a description that is not a string",
     "{\"name\": \"notes\", \"title\": \"N\", \"description\": 5, \"tools\": []}",
     "\"description\""},
    {"no tools", "{\"name\": \"notes\", \"title\": \"N\"}", "\"tools\" must be an array"},
    {"tools not an array", "{\"name\": \"notes\", \"title\": \"N\", \"tools\": {}}",
     "\"tools\" must be an array"},
    {"an entry that is a string", PACK("\"pay__note\""), PTOOL_RULE},
    {"an entry without a tool", PACK("{\"level\": \"read\"}"), PTOOL_RULE},
    {"a pattern with a bare star", PACK("{\"tool\": \"pay*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a lone star", PACK("{\"tool\": \"*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a connector prefix without a star", PACK("{\"tool\": \"pay__\", \"level\": \"read\"}"),
     PTOOL_RULE},
    {"a star after a tool name", PACK("{\"tool\": \"pay__no*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a star without a connector", PACK("{\"tool\": \"__*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"an uppercase connector", PACK("{\"tool\": \"Pay__*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a connector with __", PACK("{\"tool\": \"pa__y__*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a connector ending in _", PACK("{\"tool\": \"pay___*\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a name without a connector", PACK("{\"tool\": \"note\", \"level\": \"read\"}"), PTOOL_RULE},
    {"a tool name with a space", PACK("{\"tool\": \"pay__no te\", \"level\": \"read\"}"),
     PTOOL_RULE},
    {"an entry without a level", PACK("{\"tool\": \"pay__note\"}"),
     "tools[0]: \"level\" (the ceiling)"},
    {"an entry level that does not exist", PACK("{\"tool\": \"pay__note\", \"level\": \"all\"}"),
     "\"level\" (the ceiling)"},
    {"an entry with another field",
     PACK("{\"tool\": \"pay__note\","
          " \"level\": \"read\", \"condition\": \"amount le 1\"}"),
     "only \"tool\" and \"level\""},
    {"a second entry that is wrong",
     PACK("{\"tool\": \"pay__note\","
          " \"level\": \"read\"}, {\"tool\": \"pay__*\"}"),
     "tools[1]"},
};

static json_t *pack_get(const char *name)
{
    struct md_error e = {0};
    json_t *p = NULL;

    cr_assert_eq(access_pack_get(fx.a, name, &p, &e), MD_OK, "%s", e.msg);
    return p;
}

Test(test_catalog, invalid_packs_are_refused_and_change_nothing, WORLD)
{
    json_t *before = pack_list();

    for (size_t i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
        const struct pcase *c = &pcases[i];
        struct md_error e = {0};
        json_t *doc = fx_json(c->doc), *out = (json_t *)1, *after;

        /* As a new pack ("notes" exists, so this also must not reach the store)... */
        cr_expect_eq(access_pack_create(fx.a, doc, &out, &e), MD_ERR_VALUE, "%s: %s", c->desc,
                     e.msg);
        cr_expect(strstr(e.msg, c->msg), "%s: \"%s\" lacks \"%s\"", c->desc, e.msg, c->msg);
        cr_expect_null(out, "%s", c->desc);
        /* ...and as the replacement of an existing one. */
        out = (json_t *)1;
        cr_expect_eq(access_pack_put(fx.a, "notes", doc, 0, &out, &e), MD_ERR_VALUE, "%s: %s",
                     c->desc, e.msg);
        cr_expect_null(out, "%s", c->desc);
        after = pack_list();
        cr_expect(fx_json_eq(before, after), "%s changed the packs", c->desc);
        json_decref(after);
        json_decref(doc);
    }
    json_decref(before);
}

Test(test_catalog, pack_boundaries_that_are_valid, WORLD)
{
    struct md_error e = {0};
    json_t *doc, *out = NULL;

    /* 63 characters, a digit first, and tools that no connector defines (yet). */
    doc = fx_json("{\"name\": \"9nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn_-\","
                  " \"title\": \"N\", \"description\": \"d\","
                  " \"tools\": [{\"tool\": \"later__*\", \"level\": \"read\"},"
                  "           {\"tool\": \"later__thing\", \"level\": \"write\"}]}");
    cr_assert_eq(strlen(jstr(doc, "name")), 63);
    cr_expect_eq(access_pack_create(fx.a, doc, &out, &e), MD_OK, "%s", e.msg);
    cr_expect_eq(json_integer_value(json_object_get(out, "version")), 1);
    cr_expect(json_is_string(json_object_get(out, "created")));
    cr_expect(json_is_string(json_object_get(out, "modified")));
    cr_expect_eq(json_array_size(json_object_get(out, "tools")), 2);
    json_decref(out);
    json_decref(doc);

    /* An empty pack is a pack. */
    doc = fx_json("{\"name\": \"empty\", \"title\": \"E\", \"tools\": []}");
    cr_expect_eq(access_pack_create(fx.a, doc, NULL, &e), MD_OK, "%s", e.msg);
    json_decref(doc);
}

Test(test_catalog, pack_create_put_and_versions, WORLD)
{
    struct md_error e = {0};
    json_t *dup = fx_json("{\"name\": \"notes\", \"title\": \"Another\", \"tools\": []}");
    json_t *absent = fx_json("{\"name\": \"ghost\", \"title\": \"G\", \"tools\": []}");
    json_t *v1 = pack_get("notes"), *out = NULL, *v2, *before, *after;

    before = pack_list();
    cr_expect_eq(access_pack_create(fx.a, dup, NULL, &e), MD_ERR_UNIQUENESS, "%s", e.msg);
    cr_expect_eq(access_pack_put(fx.a, "ghost", absent, 0, NULL, &e), MD_ERR_NOTFOUND, "%s", e.msg);
    cr_expect_eq(access_pack_put(fx.a, "notes", absent, 0, NULL, &e), MD_ERR_VALUE,
                 "the name differs from the URL's: %s", e.msg);
    cr_expect_eq(access_pack_put(fx.a, "notes", dup, 7, NULL, &e), MD_ERR_PRECONDITION, "%s",
                 e.msg);
    after = pack_list();
    cr_expect(fx_json_eq(before, after), "refused writes changed the packs");
    json_decref(before);
    json_decref(after);

    /* A replace at the current version; a GET document may be put back as it is. */
    cr_expect_eq(access_pack_put(fx.a, "notes", dup,
                                 json_integer_value(json_object_get(v1, "version")), &out, &e),
                 MD_OK, "%s", e.msg);
    cr_expect_str_eq(jstr(out, "title"), "Another");
    cr_expect_eq(json_integer_value(json_object_get(out, "version")),
                 json_integer_value(json_object_get(v1, "version")) + 1);
    cr_expect_str_eq(jstr(out, "created"), jstr(v1, "created"));
    json_decref(out);
    v2 = pack_get("notes");
    cr_expect_eq(access_pack_put(fx.a, "notes", v2, 0, &out, &e), MD_OK, "%s", e.msg);
    cr_expect_null(json_object_get(json_object_get(out, "tools"), "version"));
    json_decref(out);
    json_decref(v2);
    json_decref(v1);
    json_decref(dup);
    json_decref(absent);
}

Test(test_catalog, a_pack_in_use_cannot_be_deleted, WORLD)
{
    struct md_error e = {0};
    json_t *out = NULL;

    fx_world_directory();
    fx_grant("GN", "{\"subject\": {\"type\": \"user\", \"id\": \"u-erin\"}, \"pack\": \"notes\"}");
    cr_expect_eq(access_pack_delete(fx.a, "notes", &e), MD_ERR_VALUE);
    cr_expect(strstr(e.msg, fx_gid("GN")), "the message names the grant: %s", e.msg);
    json_decref(pack_get("notes"));

    cr_assert_eq(access_grant_delete(fx.a, fx_gid("GN"), &e), MD_OK, "%s", e.msg);
    cr_expect_eq(access_pack_delete(fx.a, "notes", &e), MD_OK, "%s", e.msg);
    cr_expect_eq(access_pack_get(fx.a, "notes", &out, &e), MD_ERR_NOTFOUND);
    cr_expect_null(out);
    cr_expect_eq(access_pack_delete(fx.a, "notes", &e), MD_ERR_NOTFOUND);
    /* A pack no grant uses goes at once. */
    cr_expect_eq(access_pack_delete(fx.a, "payread", &e), MD_OK, "%s", e.msg);
}

/* ---- names ---- */

Test(test_catalog, name_rules, WORLD)
{
    static const struct {
        const char *s;
        bool tool, conn, pack;
    } nc[] = {
        {"pay__refund", true, false, true}, {"pay", false, true, true},
        {"pay__", false, false, true},      {"__refund", false, false, false},
        {"pay_x__a_b", true, false, true},  {"Pay__refund", false, false, false},
        {"pay-x", false, false, true},      {"", false, false, false},
        {"9pay", false, false, true},       {"pay_", false, false, true},
    };
    char buf[128], name[136];

    for (size_t i = 0; i < sizeof nc / sizeof nc[0]; i++) {
        cr_expect_eq(access_tool_name_ok(nc[i].s), nc[i].tool, "tool %s", nc[i].s);
        cr_expect_eq(access__connector_name_ok(nc[i].s), nc[i].conn, "connector %s", nc[i].s);
        cr_expect_eq(access__pack_name_ok(nc[i].s), nc[i].pack, "pack %s", nc[i].s);
    }
    snprintf(name, sizeof name, "p__%s", repeat('t', 61, buf));
    cr_expect(access_tool_name_ok(name), "64 characters");
    snprintf(name, sizeof name, "p__%s", repeat('t', 62, buf));
    cr_expect_not(access_tool_name_ok(name), "65 characters");
    cr_expect(access__connector_name_ok(repeat('c', 30, buf)));
    cr_expect_not(access__connector_name_ok(repeat('c', 31, buf)));
    cr_expect(access__pack_name_ok(repeat('p', 63, buf)));
    cr_expect_not(access__pack_name_ok(repeat('p', 64, buf)));
}

Test(test_catalog, level_names, WORLD)
{
    enum access_level l = ACCESS_NONE;

    cr_expect_str_eq(access_level_name(ACCESS_READ), "read");
    cr_expect_str_eq(access_level_name(ACCESS_WRITE), "write");
    cr_expect_str_eq(access_level_name(ACCESS_DESTRUCTIVE), "destructive");
    cr_expect_str_eq(access_level_name(ACCESS_NONE), "none");
    cr_expect(access_level_parse("write", &l));
    cr_expect_eq(l, ACCESS_WRITE);
    cr_expect_not(access_level_parse("none", &l));
    cr_expect_not(access_level_parse("Read", &l));
    cr_expect_not(access_level_parse(NULL, &l));
    cr_expect_eq(l, ACCESS_WRITE, "a failed parse leaves the output alone");
}

/* ---- loading a catalog directory ---- */

/* The number of *.json files in dir. */
static int count_json(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    cr_assert_not_null(d, "%s (tests run from the repository's root)", dir);
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        n += len > 5 && strcmp(de->d_name + len - 5, ".json") == 0;
    }
    closedir(d);
    return n;
}

Test(test_catalog, the_real_catalog_loads, BARE)
{
    struct md_error e = {0};
    struct access_load_stats st;
    bool empty = false;
    json_t *l, *doc;

    cr_assert_eq(access_catalog_empty(fx.s, &empty, &e), MD_OK, "%s", e.msg);
    cr_expect(empty);
    cr_assert_eq(access_catalog_load(fx.s, "catalog", &st, &e), MD_OK, "%s", e.msg);
    cr_expect_geq(st.connectors, 8);
    cr_expect_eq(st.connectors, count_json("catalog/connectors"));
    cr_expect_eq(st.packs_created, 4);
    cr_expect_eq(st.packs_created, count_json("catalog/packs"));
    cr_expect_eq(st.packs_kept, 0);
    cr_assert_eq(access_catalog_empty(fx.s, &empty, &e), MD_OK, "%s", e.msg);
    cr_expect_not(empty);
    l = connector_list();
    cr_expect_eq((int)json_array_size(l), count_json("catalog/connectors"));
    json_decref(l);
    l = pack_list();
    cr_expect_eq(json_array_size(l), 4);
    json_decref(l);

    /* An admin edits a pack; a second load updates the connectors and keeps the packs. */
    doc = pack_get("finance");
    json_object_set_new(doc, "title", json_string("Edited by an admin"));
    cr_assert_eq(access_pack_put(fx.a, "finance", doc, 0, NULL, &e), MD_OK, "%s", e.msg);
    json_decref(doc);
    cr_assert_eq(access_catalog_load(fx.s, "catalog", &st, &e), MD_OK, "%s", e.msg);
    cr_expect_eq(st.connectors, count_json("catalog/connectors"));
    cr_expect_eq(st.packs_created, 0);
    cr_expect_eq(st.packs_kept, 4);
    doc = pack_get("finance");
    cr_expect_str_eq(jstr(doc, "title"), "Edited by an admin");
    json_decref(doc);
}

Test(test_catalog, the_loaded_catalog_decides, BARE)
{
    struct md_error e = {0};
    struct access_load_stats st;
    struct access_decision d;

    fx_user("u-dev", "dev", true);
    fx_decide("u-dev", "github__get_issue", NULL, &d);
    cr_expect_eq(d.reason, ACCESS_UNKNOWN_TOOL, "nothing is loaded yet");
    cr_assert_eq(access_catalog_load(fx.s, "catalog", &st, &e), MD_OK, "%s", e.msg);
    fx_grant("GE", "{\"subject\": {\"type\": \"everyone\"}, \"pack\": \"engineering\"}");
    fx_decide("u-dev", "github__get_issue", NULL, &d);
    cr_expect(d.allowed, "%s", access_reason_name(d.reason));
    fx_decide("u-dev", "github__merge_pull_request", NULL, &d);
    cr_expect_not(d.allowed, "merging is destructive, the pack stops at write");
    cr_expect_eq(d.level, ACCESS_DESTRUCTIVE);
    fx_decide("u-dev", "datadog__mute_monitor", NULL, &d);
    cr_expect_not(d.allowed, "datadog is read-only in the pack");
}

/* Writes doc (stolen) as dir/sub/file. */
static void write_json(const char *dir, const char *sub, const char *file, json_t *doc)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    cr_assert_eq(json_dump_file(doc, path, 0), 0, "%s", path);
    json_decref(doc);
}

static void write_text(const char *dir, const char *sub, const char *file, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, sub);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, file);
    f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void rm_catalog(const char *dir)
{
    char path[512];

    snprintf(path, sizeof path, "%s/connectors", dir);
    fx_rmdir(path);
    snprintf(path, sizeof path, "%s/packs", dir);
    fx_rmdir(path);
    rmdir(dir);
}

struct lcase {
    const char *desc;
    const char *bad_sub;  /* where the broken file goes */
    const char *bad_text; /* its content */
    enum md_err err;
};

static const struct lcase lcases[] = {
    {"a connector that is not JSON", "connectors", "{\"name\": ", MD_ERR_SYNTAX},
    {"a connector that fails validation", "connectors",
     "{\"name\": \"Bad\", \"title\": \"B\", \"base_url\": \"https://b.example.com\", \"tools\": "
     "[]}",
     MD_ERR_VALUE},
    {"a JSON file with a duplicate key", "connectors", "{\"name\": \"a\", \"name\": \"b\"}",
     MD_ERR_SYNTAX},
    {"a pack that fails validation", "packs",
     "{\"name\": \"p\", \"title\": \"P\", \"tools\": [{\"tool\": \"x*\", \"level\": \"read\"}]}",
     MD_ERR_VALUE},
};

Test(test_catalog, a_broken_file_loads_nothing, BARE)
{
    for (size_t i = 0; i < sizeof lcases / sizeof lcases[0]; i++) {
        struct md_error e = {0};
        struct access_load_stats st;
        char dir[64];
        bool empty = false;
        json_t *l;

        snprintf(dir, sizeof dir, "/tmp/mandate-catalog-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        /* Valid files that sort before the broken one, so that they are written first. */
        write_json(dir, "connectors", "a.json", fx_connector_doc("alpha", "one:read"));
        write_text(dir, "packs", "a.json",
                   "{\"name\": \"alpha\", \"title\": \"A\","
                   " \"tools\": [{\"tool\": \"alpha__*\", \"level\": \"read\"}]}");
        write_text(dir, lcases[i].bad_sub, "z.json", lcases[i].bad_text);

        cr_expect_eq(access_catalog_load(fx.s, dir, &st, &e), lcases[i].err, "%s: %s",
                     lcases[i].desc, e.msg);
        cr_expect(strstr(e.msg, "z.json"), "%s: the message names the file: %s", lcases[i].desc,
                  e.msg);
        cr_assert_eq(access_catalog_empty(fx.s, &empty, &e), MD_OK, "%s", e.msg);
        cr_expect(empty, "%s: a connector was written", lcases[i].desc);
        l = pack_list();
        cr_expect_eq(json_array_size(l), 0, "%s: a pack was written", lcases[i].desc);
        json_decref(l);
        rm_catalog(dir);
    }
}

Test(test_catalog, an_empty_catalog_directory, BARE)
{
    struct md_error e = {0};
    struct access_load_stats st;
    char dir[64];

    snprintf(dir, sizeof dir, "/tmp/mandate-catalog-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cr_expect_eq(access_catalog_load(fx.s, dir, &st, &e), MD_ERR_NOTFOUND, "%s", e.msg);
    cr_expect_eq(access_catalog_load(fx.s, "/nonexistent/catalog", &st, &e), MD_ERR_NOTFOUND);
    rmdir(dir);
}

/*
 * An admin's GET of a connector, PUT back as it came, keeps the definition: an override of a
 * level or of the base URL does not become the defined one, so dropping it later restores the
 * stricter level.
 */
Test(test_catalog, a_connector_read_and_written_back_keeps_its_definition, WORLD)
{
    struct md_error e = {0};
    json_t *view = NULL, *after = NULL, *patch;
    bool created = true;
    size_t i;
    json_t *t;

    patch = fx_json("{\"levels\": {\"pay__refund\": \"read\"},"
                    " \"base_url\": \"http://127.0.0.1:9\"}");
    cr_assert_eq(access_connector_override(fx.a, "pay", patch, &view, &e), MD_OK, "%s", e.msg);
    json_decref(patch);
    cr_assert_eq(access_connector_put(fx.a, view, NULL, &created, &e), MD_OK, "%s", e.msg);
    cr_expect_not(created);
    json_decref(view);
    patch = fx_json("{\"levels\": {\"pay__refund\": null}, \"base_url\": null}");
    cr_assert_eq(access_connector_override(fx.a, "pay", patch, &after, &e), MD_OK, "%s", e.msg);
    json_decref(patch);
    cr_expect_str_neq(json_string_value(json_object_get(after, "base_url")), "http://127.0.0.1:9");
    json_array_foreach(json_object_get(after, "tools"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), "refund") == 0)
            cr_expect_str_eq(json_string_value(json_object_get(t, "level")), "destructive",
                             "the override became the definition");
    }
    json_decref(after);
}

/* ---- token URL overrides ---- */

static void oauth_connector(void)
{
    struct md_error e = {0};
    json_t *doc = fx_connector_doc("graphy", "list:read");
    bool created = false;

    json_object_set_new(
        doc, "auth",
        fx_json("{\"type\": \"oauth2_client_credentials\", \"token_url\": "
                "\"https://login.microsoftonline.com/{credential.tenant_id}/oauth2/"
                "v2.0/token\", \"scope\": \"https://graph.microsoft.com/.default\"}"));
    cr_assert_eq(access_connector_put(fx.a, doc, NULL, &created, &e), MD_OK, "%s", e.msg);
    json_decref(doc);
}

Test(test_catalog, token_url_overrides, WORLD)
{
    struct md_error e = {0};
    struct access_tool t;
    json_t *out = NULL, *before, *after, *patch;
    static const char *const refused[] = {
        /* https only: http:// needs the server's MANDATE_UPSTREAM_HTTP=1. */
        "{\"token_url\": \"http://127.0.0.1:9/{credential.tenant_id}/token\"}",
        "{\"token_url\": \"/relative/token\"}",
        /* A credential field that the connector's own token URL does not use. */
        "{\"token_url\": \"https://login.microsoftonline.us/{credential.client_secret}/token\"}",
        /* All or nothing: a valid base_url beside it is not written either. */
        "{\"base_url\": \"https://graph.microsoft.us/v1.0\", \"token_url\": \"ftp://x/token\"}",
    };

    oauth_connector();
    patch = fx_json("{\"token_url\": \"https://login.microsoftonline.us/{credential.tenant_id}/"
                    "oauth2/v2.0/token\"}");
    cr_assert_eq(access_connector_override(fx.a, "graphy", patch, &out, &e), MD_OK, "%s", e.msg);
    json_decref(patch);
    cr_expect_str_eq(jstr(json_object_get(out, "overrides"), "token_url"),
                     "https://login.microsoftonline.us/{credential.tenant_id}/oauth2/v2.0/token");
    /* The definition's auth is shown as it is. */
    cr_expect_str_eq(jstr(json_object_get(out, "auth"), "token_url"),
                     "https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/token");
    json_decref(out);

    /* The runtime gets it with the tool. */
    cr_assert_eq(access_tool_get(fx.a, "graphy__list", &t, &e), MD_OK, "%s", e.msg);
    cr_expect_str_eq(t.token_url,
                     "https://login.microsoftonline.us/{credential.tenant_id}/oauth2/v2.0/token");
    access_tool_release(&t);

    before = connector_get("graphy");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        patch = fx_json(refused[i]);
        out = (json_t *)1;
        cr_expect_eq(access_connector_override(fx.a, "graphy", patch, &out, &e), MD_ERR_VALUE, "%s",
                     refused[i]);
        cr_expect(strstr(e.msg, "token_url") != NULL, "%s: %s", refused[i], e.msg);
        cr_expect_null(out);
        after = connector_get("graphy");
        cr_expect(fx_json_eq(before, after), "%s changed the connector", refused[i]);
        json_decref(after);
        json_decref(patch);
    }
    json_decref(before);

    /* A server that allows plain-http upstreams (test fakes) takes an http:// one. */
    access_set_upstream_http(fx.a, true);
    patch = fx_json("{\"token_url\": \"http://127.0.0.1:9/{credential.tenant_id}/token\"}");
    cr_expect_eq(access_connector_override(fx.a, "graphy", patch, NULL, &e), MD_OK, "%s", e.msg);
    json_decref(patch);
    access_set_upstream_http(fx.a, false);

    /* null goes back to the definition's: the tool has no override then. */
    patch = fx_json("{\"token_url\": null}");
    cr_assert_eq(access_connector_override(fx.a, "graphy", patch, &out, &e), MD_OK, "%s", e.msg);
    cr_expect_null(json_object_get(json_object_get(out, "overrides"), "token_url"));
    json_decref(out);
    json_decref(patch);
    cr_assert_eq(access_tool_get(fx.a, "graphy__list", &t, &e), MD_OK, "%s", e.msg);
    cr_expect_null(t.token_url);
    access_tool_release(&t);
}
