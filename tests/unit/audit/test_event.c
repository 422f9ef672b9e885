/*
 * audit/event.c: the canonical document, the chain hash, the checkpoint MAC and the key
 * derivation (each against a value computed here from audit.h's formula with OpenSSL, or by
 * the openssl and sha256sum tools, never by the function under test), crypto_hmac_sha256
 * against the RFC 4231 test vectors, the redaction of tool arguments and the scrubbing of
 * secrets out of SCIM and admin documents.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit_fixture.h"
#include "core/crypto.h"

TestSuite(test_event);

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);

    cr_assert_not_null(v, "bad JSON in the test: %s: %s", je.text, text);
    return v;
}

/* Whether two JSON values are equal; prints both when not, so that a failure reads. */
static bool same(const json_t *a, const json_t *b)
{
    char *ta, *tb;

    if (json_equal(a, b))
        return true;
    ta = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    tb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    cr_log_error("JSON differs:\n  got  %s\n  want %s", ta ? ta : "(null)", tb ? tb : "(null)");
    free(ta);
    free(tb);
    return false;
}

/* ---- the canonical document ---- */

Test(test_event, canonical_sorts_keys_at_every_depth_without_spaces)
{
    json_t *ev =
        parse("{\"type\": \"tool.call\", \"b\": {\"z\": 1, \"a\": [ {\"y\": true, \"x\": null} ]},"
              " \"a\": \"s p a c e\", \"seq\": 3}");
    char *doc = audit_canonical(ev);

    cr_assert_not_null(doc);
    cr_assert_str_eq(doc, "{\"a\":\"s p a c e\",\"b\":{\"a\":[{\"x\":null,\"y\":true}],\"z\":1},"
                          "\"seq\":3,\"type\":\"tool.call\"}");
    free(doc);
    json_decref(ev);
}

Test(test_event, canonical_is_one_text_per_event_whatever_the_insertion_order)
{
    json_t *a = json_object(), *b = json_object();
    char *da, *db;

    /* The same members, added in opposite orders, as two code paths might build them. */
    json_object_set_new(a, "type", json_string("scim.change"));
    json_object_set_new(a, "id", json_string("e-1"));
    json_object_set_new(a, "user", json_pack("{s:s, s:b}", "userName", "ann", "active", 1));
    json_object_set_new(a, "n", json_integer(42));
    json_object_set_new(b, "n", json_integer(42));
    json_object_set_new(b, "user", json_pack("{s:b, s:s}", "active", 1, "userName", "ann"));
    json_object_set_new(b, "id", json_string("e-1"));
    json_object_set_new(b, "type", json_string("scim.change"));
    da = audit_canonical(a);
    db = audit_canonical(b);
    cr_assert_str_eq(da, db);
    cr_assert_str_eq(da, "{\"id\":\"e-1\",\"n\":42,\"type\":\"scim.change\","
                         "\"user\":{\"active\":true,\"userName\":\"ann\"}}");
    /* A re-parse of the canonical text gives the same text again: it is a fixed point. */
    {
        json_t *again = parse(da);
        char *dc = audit_canonical(again);
        cr_assert_str_eq(dc, da);
        free(dc);
        json_decref(again);
    }
    free(da);
    free(db);
    json_decref(a);
    json_decref(b);
}

Test(test_event, canonical_escapes_non_ascii_so_the_hashed_bytes_do_not_depend_on_encoding)
{
    json_t *ev = json_pack("{s:s, s:s}", "name", "J\xc3\xb6rg \xe2\x82\xac", "q", "a\"b\\c\n");
    char *doc = audit_canonical(ev);

    /* jansson escapes non-ASCII characters with uppercase hex digits: part of the hashed text. */
    cr_assert_str_eq(doc, "{\"name\":\"J\\u00F6rg \\u20AC\",\"q\":\"a\\\"b\\\\c\\n\"}");
    free(doc);
    json_decref(ev);
}

/* ---- the chain hash ---- */

Test(test_event, chain_hash_is_the_documented_sha256_for_event_one)
{
    const char *doc = "{\"id\":\"e1\",\"seq\":1,\"type\":\"tool.call\"}";
    char got[65], want[65];

    audit_chain_hash("", doc, got);
    fx_chain_hash("", doc, want);
    cr_assert_str_eq(got, want);
    /*
     * Pinned too, as computed by
     *   printf 'mandate-audit-v1\n\n{"id":"e1","seq":1,"type":"tool.call"}' | sha256sum
     * so that a change of the formula in both places still shows.
     */
    cr_assert_str_eq(got, "5dfd80534782f32e44806aecc7e38703ead5e99a3e7fe9bd38790a3a84afdbaa");
}

Test(test_event, chain_hash_covers_the_previous_hash_and_every_byte_of_the_document)
{
    char h1[65], h2[65], h3[65], want[65];

    audit_chain_hash("abc", "{\"a\":1}", h1);
    cr_assert_str_eq(h1, "fde94fe7915bd552912957ed33cb023f9cc51f4ade1f34ffdb5ea23355899531");
    fx_chain_hash("abc", "{\"a\":1}", want);
    cr_assert_str_eq(h1, want);
    /* Another predecessor, or one byte more in the document: another hash. */
    audit_chain_hash("abd", "{\"a\":1}", h2);
    audit_chain_hash("abc", "{\"a\":1} ", h3);
    cr_assert_str_neq(h1, h2);
    cr_assert_str_neq(h1, h3);
    /* The separator is part of the formula: moving a byte across it changes the hash. */
    audit_chain_hash("ab", "c\n{\"a\":1}", h2);
    cr_assert_str_neq(h1, h2);
    cr_assert_eq(strlen(h1), 64);
}

Test(test_event, chain_hash_of_a_long_document)
{
    size_t n = 1 << 20;
    char *doc = malloc(n + 1), got[65], want[65];

    cr_assert_not_null(doc);
    for (size_t i = 0; i < n; i++)
        doc[i] = (char)('a' + i % 26);
    doc[n] = '\0';
    audit_chain_hash("5dfd80534782f32e44806aecc7e38703ead5e99a3e7fe9bd38790a3a84afdbaa", doc, got);
    fx_chain_hash("5dfd80534782f32e44806aecc7e38703ead5e99a3e7fe9bd38790a3a84afdbaa", doc, want);
    cr_assert_str_eq(got, want);
    free(doc);
}

/* ---- the checkpoint MAC and the key ---- */

Test(test_event, checkpoint_mac_is_hmac_sha256_of_seq_and_hash)
{
    /* sha256("x"), as a hash a checkpoint would vouch for. */
    const char *hash = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    unsigned char other[AUDIT_KEY_LEN];
    char got[65], want[65], h2[65];

    audit_checkpoint_mac(fx_key, 7, hash, got);
    fx_mac(fx_key, 7, hash, want);
    cr_assert_str_eq(got, want);
    /*
     * Pinned, as computed by
     *   printf 'mandate-audit-checkpoint-v1\n7\n<hash>' |
     *       openssl dgst -sha256 -mac HMAC -macopt hexkey:0102...1f20
     */
    cr_assert_str_eq(got, "a90e1cac7752882d9bd24151f8b173642ebde3804e9ceb3076a9e5e7d012eaf1");
    /* Another seq, another hash, another key: another MAC. */
    audit_checkpoint_mac(fx_key, 8, hash, h2);
    cr_assert_str_neq(got, h2);
    audit_checkpoint_mac(fx_key, 7,
                         "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4880", h2);
    cr_assert_str_neq(got, h2);
    memcpy(other, fx_key, sizeof other);
    other[31] ^= 1;
    audit_checkpoint_mac(other, 7, hash, h2);
    cr_assert_str_neq(got, h2);
}

Test(test_event, checkpoint_key_is_derived_from_the_vault_key_by_hmac_with_a_label)
{
    unsigned char out[AUDIT_KEY_LEN], want[32];
    unsigned int len = 0;
    char hex[65];
    static const char label[] = "mandate audit checkpoint key v1";

    audit_key_derive(fx_key, out);
    cr_assert_not_null(
        HMAC(EVP_sha256(), fx_key, 32, (const unsigned char *)label, sizeof label - 1, want, &len));
    cr_assert_eq(memcmp(out, want, 32), 0);
    fx_hex(out, sizeof out, hex);
    /* printf 'mandate audit checkpoint key v1' | openssl dgst -sha256 -mac HMAC -macopt ... */
    cr_assert_str_eq(hex, "98f3644490137ee31c1f157665c797f2cd4fa3dfb8246780c41576be40f57100");
    /* Not the vault key itself: a leaked checkpoint key must not open credentials. */
    cr_assert_neq(memcmp(out, fx_key, 32), 0);
}

/* ---- crypto_hmac_sha256: RFC 4231, section 4 ---- */

static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = strlen(hex) / 2;

    cr_assert_leq(n, cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (unsigned char)v;
    }
    return n;
}

static void hmac_case(const char *key_hex, size_t key_rep, const char *data, const char *want,
                      size_t want_bytes)
{
    unsigned char key[200], mac[CRYPTO_HMAC_SHA256_LEN];
    char hex[65];
    size_t klen;

    if (key_rep) {
        unhex(key_hex, key, 1);
        memset(key, key[0], key_rep);
        klen = key_rep;
    } else {
        klen = unhex(key_hex, key, sizeof key);
    }
    crypto_hmac_sha256(key, klen, data, strlen(data), mac);
    fx_hex(mac, want_bytes, hex);
    cr_assert_str_eq(hex, want, "key %s", key_hex);
}

Test(test_event, hmac_sha256_rfc4231_vectors)
{
    char dd[51], cd[51];

    memset(dd, 0xdd, 50);
    dd[50] = '\0';
    memset(cd, 0xcd, 50);
    cd[50] = '\0';
    /* 4.2 Test Case 1 */
    hmac_case("0b", 20, "Hi There",
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32);
    /* 4.3 Test Case 2: a key shorter than the length of the HMAC output */
    hmac_case("4a656665", 0, "what do ya want for nothing?",
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32);
    /* 4.4 Test Case 3: 50 bytes of 0xdd */
    hmac_case("aa", 20, dd, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32);
    /* 4.5 Test Case 4 */
    hmac_case("0102030405060708090a0b0c0d0e0f10111213141516171819", 0, cd,
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32);
    /* 4.6 Test Case 5: the RFC gives the output truncated to 128 bits */
    hmac_case("0c", 20, "Test With Truncation", "a3b6167473100ee06e0c796c2955552b", 16);
    /* 4.7 Test Case 6: a key larger than the block size */
    hmac_case("aa", 131, "Test Using Larger Than Block-Size Key - Hash Key First",
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32);
    /* 4.8 Test Case 7: key and data larger than the block size */
    hmac_case("aa", 131,
              "This is a test using a larger than block-size key and a larger than block-size "
              "data. The key needs to be hashed before being used by the HMAC algorithm.",
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32);
}

/* ---- redaction of tool arguments ---- */

Test(test_event, redact_args_replaces_named_top_level_members_and_hashes_the_full_arguments)
{
    json_t *args = parse("{\"card\": \"4242\", \"amount\": 100, \"note\": \"x\"}");
    json_t *redact = parse("[\"card\", \"missing\"]");
    json_t *want = parse("{\"card\": \"[redacted]\", \"amount\": 100, \"note\": \"x\"}");
    json_t *orig = json_deep_copy(args);
    char sha[65], expect[65];
    json_t *out = audit_redact_args(args, redact, sha);

    cr_assert_not_null(out);
    cr_assert(same(out, want));
    /* A name that is absent is not added. */
    cr_assert_null(json_object_get(out, "missing"));
    /* The caller's arguments are left alone: the upstream call still needs the card. */
    cr_assert(same(args, orig));
    /* The SHA-256 is of the full arguments' canonical form (sorted keys, no spaces). */
    fx_sha256_hex("{\"amount\":100,\"card\":\"4242\",\"note\":\"x\"}", 39, expect);
    cr_assert_str_eq(sha, expect);
    /* printf '{"amount":100,"card":"4242","note":"x"}' | sha256sum */
    cr_assert_str_eq(sha, "793d958262ddb38a31aa3967e5e642c8c29c6d6e4b0e4025307cf6a49b667099");
    json_decref(out);
    json_decref(args);
    json_decref(redact);
    json_decref(want);
    json_decref(orig);
}

Test(test_event, redact_args_leaves_nested_members_of_the_same_name)
{
    json_t *args = parse("{\"card\": {\"number\": \"4242\"}, \"meta\": {\"card\": \"kept\"}}");
    json_t *redact = parse("[\"card\"]");
    json_t *want = parse("{\"card\": \"[redacted]\", \"meta\": {\"card\": \"kept\"}}");
    char sha[65];
    json_t *out = audit_redact_args(args, redact, sha);

    cr_assert(same(out, want));
    cr_assert_eq(strlen(sha), 64);
    json_decref(out);
    json_decref(args);
    json_decref(redact);
    json_decref(want);
}

Test(test_event, redact_args_of_nothing_or_not_an_object_is_an_empty_object)
{
    char sha[65], empty[65];
    json_t *arr = parse("[1, 2]");
    json_t *out;

    fx_sha256_hex("{}", 2, empty);
    cr_assert_str_eq(empty, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    out = audit_redact_args(NULL, NULL, sha);
    cr_assert(json_is_object(out) && json_object_size(out) == 0);
    cr_assert_str_eq(sha, empty);
    json_decref(out);
    out = audit_redact_args(arr, NULL, sha);
    cr_assert(json_is_object(out) && json_object_size(out) == 0);
    cr_assert_str_eq(sha, empty);
    json_decref(out);
    json_decref(arr);
}

Test(test_event, redact_args_ignores_non_string_names)
{
    json_t *args = parse("{\"a\": 1, \"1\": 2}");
    json_t *redact = parse("[1, null, {\"a\": true}, \"a\"]");
    json_t *want = parse("{\"a\": \"[redacted]\", \"1\": 2}");
    char sha[65];
    json_t *out = audit_redact_args(args, redact, sha);

    cr_assert(same(out, want));
    json_decref(out);
    json_decref(args);
    json_decref(redact);
    json_decref(want);
}

/* ---- audit_scrub ---- */

Test(test_event, scrub_replaces_secrets_at_any_depth_whatever_their_case)
{
    json_t *doc = parse(
        "{\"userName\": \"ann\", \"password\": \"hunter2\","
        " \"emails\": [{\"value\": \"ann@example.com\", \"primary\": true}],"
        " \"x\": {\"deep\": [{\"Password\": \"p\", \"TOKEN\": \"t\"},"
        "                  {\"client_secret\": {\"a\": 1}}]},"
        " \"conn\": {\"private_key\": \"-----BEGIN\", \"api_key\": \"k\", \"apiKey\": \"k2\","
        "            \"Authorization\": \"Bearer x\", \"refresh_token\": \"r\","
        "            \"access_token\": \"a\", \"consumer_secret\": \"c\", \"token_secret\": \"s\","
        "            \"credential\": \"c1\", \"credentials\": [\"c2\"], \"secret\": 5},"
        " \"tokenish\": \"kept\", \"passwords_policy\": \"kept\"}");
    json_t *want =
        parse("{\"userName\": \"ann\", \"password\": \"[redacted]\","
              " \"emails\": [{\"value\": \"ann@example.com\", \"primary\": true}],"
              " \"x\": {\"deep\": [{\"Password\": \"[redacted]\", \"TOKEN\": \"[redacted]\"},"
              "                   {\"client_secret\": \"[redacted]\"}]},"
              " \"conn\": {\"private_key\": \"[redacted]\", \"api_key\": \"[redacted]\","
              "            \"apiKey\": \"[redacted]\", \"Authorization\": \"[redacted]\","
              "            \"refresh_token\": \"[redacted]\", \"access_token\": \"[redacted]\","
              "            \"consumer_secret\": \"[redacted]\", \"token_secret\": \"[redacted]\","
              "            \"credential\": \"[redacted]\", \"credentials\": \"[redacted]\","
              "            \"secret\": \"[redacted]\"},"
              " \"tokenish\": \"kept\", \"passwords_policy\": \"kept\"}");
    json_t *orig = json_deep_copy(doc);
    json_t *out = audit_scrub(doc);
    char *text = json_dumps(out, JSON_COMPACT);

    cr_assert(same(out, want));
    /* Not one secret value is left anywhere in the text. */
    cr_assert_null(strstr(text, "hunter2"));
    cr_assert_null(strstr(text, "BEGIN"));
    cr_assert_null(strstr(text, "Bearer"));
    /* The document itself is unchanged: it is what gets stored. */
    cr_assert(same(doc, orig));
    free(text);
    json_decref(out);
    json_decref(doc);
    json_decref(orig);
    json_decref(want);
}

Test(test_event, scrub_redacts_patch_operations_whose_path_is_a_secret)
{
    json_t *doc = parse(
        "{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"], \"Operations\": ["
        " {\"op\": \"replace\", \"path\": \"password\", \"value\": \"hunter2\"},"
        " {\"op\": \"Replace\", \"path\": \"PASSWORD\", \"Value\": \"hunter3\"},"
        " {\"op\": \"add\", \"path\": \"urn:ietf:params:scim:schemas:core:2.0:User:password\","
        "  \"value\": \"hunter4\"},"
        " {\"op\": \"replace\", \"path\": \"displayName\", \"value\": \"Ann\"},"
        " {\"op\": \"replace\", \"value\": {\"password\": \"hunter5\", \"active\": false}},"
        " {\"op\": \"remove\", \"path\": \"password\"}]}");
    json_t *want = parse(
        "{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"], \"Operations\": ["
        " {\"op\": \"replace\", \"path\": \"password\", \"value\": \"[redacted]\"},"
        " {\"op\": \"Replace\", \"path\": \"PASSWORD\", \"Value\": \"[redacted]\"},"
        " {\"op\": \"add\", \"path\": \"urn:ietf:params:scim:schemas:core:2.0:User:password\","
        "  \"value\": \"[redacted]\"},"
        " {\"op\": \"replace\", \"path\": \"displayName\", \"value\": \"Ann\"},"
        " {\"op\": \"replace\", \"value\": {\"password\": \"[redacted]\", \"active\": false}},"
        " {\"op\": \"remove\", \"path\": \"password\"}]}");
    json_t *out = audit_scrub(doc);
    char *text = json_dumps(out, JSON_COMPACT);

    cr_assert(same(out, want));
    cr_assert_null(strstr(text, "hunter"));
    free(text);
    json_decref(out);
    json_decref(doc);
    json_decref(want);
}

Test(test_event, scrub_of_scalars_and_null)
{
    json_t *s = json_string("password"), *out;

    cr_assert_null(audit_scrub(NULL));
    /* A bare string is a value, not a member name: nothing to redact. */
    out = audit_scrub(s);
    cr_assert_str_eq(json_string_value(out), "password");
    json_decref(out);
    json_decref(s);
}

/* {"a": {"a": ... {"password": "deep-secret", "note": "deep-note"}}} with levels "a" levels. */
static json_t *nested(int levels)
{
    json_t *doc = json_pack("{s:s, s:s}", "password", "deep-secret", "note", "deep-note");

    for (int i = 0; i < levels; i++)
        doc = json_pack("{s:o}", "a", doc);
    cr_assert_not_null(doc);
    return doc;
}

Test(test_event, scrub_at_the_depth_of_a_scim_body)
{
    /* 32 levels, the most a SCIM or admin body may have: the password goes, the note stays. */
    json_t *doc = nested(31), *out = audit_scrub(doc), *v = out;

    for (int i = 0; i < 31; i++)
        v = json_object_get(v, "a");
    cr_assert_str_eq(json_string_value(json_object_get(v, "password")), "[redacted]");
    cr_assert_str_eq(json_string_value(json_object_get(v, "note")), "deep-note");
    json_decref(out);
    json_decref(doc);
}

Test(test_event, scrub_below_its_depth_replaces_the_whole_subtree)
{
    /* 200 levels (jansson itself would parse 2,048): nothing below the limit is kept. */
    json_t *doc = nested(200), *out = audit_scrub(doc), *v;
    char *text = json_dumps(out, JSON_COMPACT);
    int objects = 0;

    cr_assert_not_null(text);
    cr_assert_null(strstr(text, "deep-secret"));
    cr_assert_null(strstr(text, "deep-note"));
    for (v = out; json_is_object(v); v = json_object_get(v, "a"))
        objects++;
    cr_assert_str_eq(json_string_value(v), "[redacted]");
    cr_assert_geq(objects, 32, "only %d levels were kept", objects);
    free(text);
    json_decref(out);
    json_decref(doc);

    /* The same in arrays. */
    doc = json_pack("{s:s}", "password", "deep-secret");
    for (int i = 0; i < 200; i++)
        doc = json_pack("[o]", doc);
    out = audit_scrub(doc);
    text = json_dumps(out, JSON_COMPACT);
    cr_assert_null(strstr(text, "deep-secret"));
    cr_assert_not_null(strstr(text, "[redacted]"));
    free(text);
    json_decref(out);
    json_decref(doc);
}
