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

/* AES-256-GCM: what is sealed opens, and nothing else does. */
Test(test_crypto, aead_round_trip_and_tamper_detection)
{
    unsigned char key[CRYPTO_AEAD_KEY_LEN], other[CRYPTO_AEAD_KEY_LEN];
    unsigned char box[64 + CRYPTO_AEAD_OVERHEAD], box2[64 + CRYPTO_AEAD_OVERHEAD], pt[64];
    const char secret[] = "sk_live_51H...not-a-real-key";
    size_t blen = 0, blen2 = 0, plen = 0;

    for (size_t i = 0; i < sizeof key; i++) {
        key[i] = (unsigned char)i;
        other[i] = (unsigned char)(i + 1);
    }
    cr_assert_eq(crypto_aead_seal(key, "stripe", 6, secret, sizeof secret - 1, box, &blen), MD_OK);
    cr_assert_eq(blen, sizeof secret - 1 + CRYPTO_AEAD_OVERHEAD);
    cr_assert(memmem(box, blen, "sk_live", 7) == NULL, "the secret shows in the box");
    /* Two seals of one secret differ (a fresh nonce each time). */
    cr_assert_eq(crypto_aead_seal(key, "stripe", 6, secret, sizeof secret - 1, box2, &blen2),
                 MD_OK);
    cr_assert_neq(memcmp(box, box2, blen), 0);

    cr_assert_eq(crypto_aead_open(key, "stripe", 6, box, blen, pt, &plen), MD_OK);
    cr_assert_eq(plen, sizeof secret - 1);
    cr_assert_eq(memcmp(pt, secret, plen), 0);

    /* A wrong key, another record's aad, a flipped bit anywhere, a short box: refused. */
    cr_assert_eq(crypto_aead_open(other, "stripe", 6, box, blen, pt, &plen), MD_ERR_FORBIDDEN);
    cr_assert_eq(plen, 0);
    cr_assert_eq(crypto_aead_open(key, "github", 6, box, blen, pt, &plen), MD_ERR_FORBIDDEN);
    for (size_t i = 0; i < blen; i++) {
        box[i] ^= 0x01;
        cr_assert_eq(crypto_aead_open(key, "stripe", 6, box, blen, pt, &plen), MD_ERR_FORBIDDEN,
                     "a flipped bit at %zu went unnoticed", i);
        box[i] ^= 0x01;
    }
    cr_assert_eq(crypto_aead_open(key, "stripe", 6, box, CRYPTO_AEAD_OVERHEAD - 1, pt, &plen),
                 MD_ERR_FORBIDDEN);
    /* An empty secret seals and opens too. */
    cr_assert_eq(crypto_aead_seal(key, NULL, 0, "", 0, box, &blen), MD_OK);
    cr_assert_eq(blen, (size_t)CRYPTO_AEAD_OVERHEAD);
    cr_assert_eq(crypto_aead_open(key, NULL, 0, box, blen, pt, &plen), MD_OK);
    cr_assert_eq(plen, 0);
}

/* The NIST SP 800-38D / McGrew-Viega test case 13: AES-256, zero key, zero IV, empty input. */
Test(test_crypto, aead_matches_the_gcm_test_vector)
{
    static const unsigned char tag13[16] = {0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
                                            0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b};
    unsigned char key[CRYPTO_AEAD_KEY_LEN] = {0}, box[CRYPTO_AEAD_OVERHEAD], pt[1];
    size_t plen = 1;

    /* Open a box built from the vector: zero nonce, no ciphertext, the vector's tag. */
    memset(box, 0, CRYPTO_AEAD_NONCE_LEN);
    memcpy(box + CRYPTO_AEAD_NONCE_LEN, tag13, sizeof tag13);
    cr_assert_eq(crypto_aead_open(key, NULL, 0, box, sizeof box, pt, &plen), MD_OK);
    cr_assert_eq(plen, 0);
    box[sizeof box - 1] ^= 1;
    cr_assert_eq(crypto_aead_open(key, NULL, 0, box, sizeof box, pt, &plen), MD_ERR_FORBIDDEN);
}
