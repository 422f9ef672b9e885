#include <criterion/criterion.h>
#include <string.h>

#include "core/crypto.h"

Test(test_crypto, sha256_known_vector)
{
    char hex[CRYPTO_SHA256_HEX_LEN];
    crypto_sha256_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(test_crypto, constant_time_equality)
{
    cr_assert(crypto_ct_equal("abc", 3, "abc", 3));
    cr_assert_not(crypto_ct_equal("abc", 3, "abd", 3));
    cr_assert_not(crypto_ct_equal("abc", 3, "abcd", 4));
}

Test(test_crypto, uuids_are_v4_and_distinct)
{
    char a[CRYPTO_UUID_LEN], b[CRYPTO_UUID_LEN];
    cr_assert_eq(crypto_uuid(a), MD_OK);
    cr_assert_eq(crypto_uuid(b), MD_OK);
    cr_assert_eq(strlen(a), 36);
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]) != NULL);
    cr_assert_str_neq(a, b);
}

Test(test_crypto, base64url_without_padding)
{
    char out[16];
    cr_assert_eq(crypto_b64url("f", 1, out), 2);
    cr_assert_str_eq(out, "Zg");
    cr_assert_eq(crypto_b64url("foo", 3, out), 4);
    cr_assert_str_eq(out, "Zm9v");
    cr_assert_eq(crypto_b64url("\xfb\xff", 2, out), 3);
    cr_assert_str_eq(out, "-_8");
}
