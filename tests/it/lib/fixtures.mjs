// Resources with every attribute of RFC 7643 section 4.1 (core User) and 4.3 (Enterprise User).

import assert from 'node:assert/strict';

import { URN, uniq } from './scim.mjs';

export function fullUser(managerId) {
    const n = uniq('full');
    return {
        schemas: [URN.USER, URN.ENT],
        userName: `${n}@example.com`,
        externalId: `ext-${n}`,
        name: {
            formatted: 'Ms. Barbara J Jensen, III',
            familyName: 'Jensen',
            givenName: 'Barbara',
            middleName: 'Jane',
            honorificPrefix: 'Ms.',
            honorificSuffix: 'III',
        },
        displayName: 'Babs Jensen',
        nickName: 'Babs',
        profileUrl: 'https://login.example.com/bjensen',
        title: 'Tour Guide',
        userType: 'Employee',
        preferredLanguage: 'en-US',
        locale: 'en-US',
        timezone: 'America/Los_Angeles',
        active: true,
        password: 't1meMa$heen',
        emails: [
            { value: `${n}@example.com`, type: 'work', primary: true, display: 'work mail' },
            { value: `${n}@jensen.org`, type: 'home' },
        ],
        phoneNumbers: [
            { value: '555-555-5555', type: 'work' },
            { value: '555-555-4444', type: 'mobile' },
        ],
        ims: [{ value: 'someaimhandle', type: 'aim' }],
        photos: [{ value: 'https://photos.example.com/profilephoto/72930000000Ccne/F', type: 'photo' }],
        addresses: [
            {
                type: 'work',
                streetAddress: '100 Universal City Plaza',
                locality: 'Hollywood',
                region: 'CA',
                postalCode: '91608',
                country: 'USA',
                formatted: '100 Universal City Plaza\nHollywood, CA 91608 USA',
                primary: true,
            },
            {
                type: 'home',
                streetAddress: '456 Hollywood Blvd',
                locality: 'Hollywood',
                region: 'CA',
                postalCode: '91608',
                country: 'USA',
            },
        ],
        entitlements: [{ value: 'ent-a', type: 'license', primary: true }],
        roles: [{ value: 'role-b', type: 'app', display: 'Role B' }],
        x509Certificates: [{ value: 'MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx' }],
        [URN.ENT]: {
            employeeNumber: '701984',
            costCenter: '4130',
            organization: 'Universal Studios',
            division: 'Theme Park',
            department: 'Tour Operations',
            ...(managerId ? { manager: { value: managerId } } : {}),
        },
    };
}

/*
 * Asserts that every attribute of expected appears in actual with the same value: objects
 * compared key by key (actual may hold more keys, e.g. server-added $ref), arrays element by
 * element in order. Keys are compared exactly (the server answers in schema spelling).
 */
export function assertContains(actual, expected, where = '') {
    if (expected === null || typeof expected !== 'object') {
        assert.deepEqual(actual, expected, `at ${where || '.'}`);
        return;
    }
    if (Array.isArray(expected)) {
        assert.ok(Array.isArray(actual), `at ${where}: expected an array, got ${JSON.stringify(actual)}`);
        assert.equal(actual.length, expected.length, `at ${where}: ${JSON.stringify(actual)}`);
        expected.forEach((e, i) => assertContains(actual[i], e, `${where}[${i}]`));
        return;
    }
    assert.ok(actual && typeof actual === 'object', `at ${where}: expected an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) {
        assert.ok(k in actual, `at ${where}: missing ${k} in ${JSON.stringify(actual)}`);
        assertContains(actual[k], v, `${where}.${k}`);
    }
}

/* The client-visible form of a sent user: password, schemas order and id/meta aside. */
export function expectedUser(sent) {
    const e = { ...sent };
    delete e.password;
    delete e.schemas;
    return e;
}
