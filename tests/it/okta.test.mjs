// The requests Okta sends, in the shapes of Okta's SCIM 2.0 protocol reference: user lookup,
// create, GET then PUT, deactivation two ways, and group push.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, getOk, URN } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const OKTA_HEADERS = {
    Accept: 'application/scim+json',
    'Accept-Charset': 'utf-8',
    'Content-Type': 'application/scim+json; charset=utf-8',
    'User-Agent': 'Okta SCIM Client 1.0.0',
};

describe('Okta', () => {
    let srv;
    const okta = (method, path, body) => srv.scim(method, path, body, { headers: OKTA_HEADERS });
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    let user;
    const userName = 'test.user@okta.local';

    test('lookup of an absent user: an empty ListResponse', async () => {
        const r = await okta('GET', '/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100');
        const b = assertListResponse(r);
        assert.equal(b.totalResults, 0);
        assert.deepEqual(b.Resources, []);
        assert.equal(b.startIndex, 1);
        assert.equal(b.itemsPerPage, 0);
    });

    test('create with a password, groups: [] and locale', async () => {
        const r = await okta('POST', '/Users', {
            schemas: [URN.USER],
            userName,
            name: { givenName: 'Test', familyName: 'User' },
            emails: [{ primary: true, value: userName, type: 'work' }],
            displayName: 'Test User',
            locale: 'en-US',
            externalId: '00ujl29u0le5T6Aj10h7',
            groups: [],
            password: '1mz050nq',
            active: true,
        });
        assert.equal(r.status, 201, r.text);
        user = r.body;
        assert.equal(user.userName, userName);
        assert.equal(user.locale, 'en-US');
        assert.equal(user.externalId, '00ujl29u0le5T6Aj10h7');
        assert.equal(user.active, true);
        assert.equal('password' in user, false);
        assert.ok(!user.groups || user.groups.length === 0);
    });

    test('lookup of the present user finds exactly it', async () => {
        const r = await okta('GET', '/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100');
        const b = assertListResponse(r);
        assert.equal(b.totalResults, 1);
        assert.equal(b.Resources[0].id, user.id);
        assert.equal(b.itemsPerPage, 1);
        // Okta matches userName case-insensitively.
        const up = assertListResponse(await okta('GET', '/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100'));
        assert.equal(up.totalResults, 1);
    });

    test('a second create of the same userName: 409', async () => {
        const r = await okta('POST', '/Users', { schemas: [URN.USER], userName, name: { givenName: 'T', familyName: 'U' }, active: true });
        assert.equal(r.status, 409, r.text);
    });

    test('update by GET then PUT of the whole resource', async () => {
        const got = await okta('GET', `/Users/${user.id}`);
        assert.equal(got.status, 200);
        const whole = got.body;
        whole.name = { givenName: 'Another', middleName: 'Ann', familyName: 'User' };
        whole.displayName = 'Another User';
        whole.emails = [{ primary: true, value: userName, type: 'work' }];
        whole.groups = [];
        whole.password = 'n3wPassw0rd';
        const r = await okta('PUT', `/Users/${user.id}`, whole);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.id, user.id);
        assert.deepEqual(r.body.name, { givenName: 'Another', middleName: 'Ann', familyName: 'User' });
        assert.equal(r.body.displayName, 'Another User');
        assert.equal(r.body.locale, 'en-US');
        assert.equal(r.body.meta.created, user.meta.created);
        assert.equal('password' in r.body, false);
        const again = await getOk(srv, `/Users/${user.id}`);
        assert.equal(again.displayName, 'Another User');
    });

    test('deactivation by PUT with active false, and reactivation', async () => {
        const whole = await getOk(srv, `/Users/${user.id}`);
        whole.active = false;
        const r = await okta('PUT', `/Users/${user.id}`, whole);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.active, false);
        assert.equal((await getOk(srv, `/Users/${user.id}`)).active, false);
        whole.active = true;
        const back = await okta('PUT', `/Users/${user.id}`, whole);
        assert.equal(back.body.active, true);
    });

    test('deactivation by a pathless replace {"active": false}', async () => {
        const r = await okta('PATCH', `/Users/${user.id}`, {
            schemas: [URN.PATCH],
            Operations: [{ op: 'replace', value: { active: false } }],
        });
        assert.ok(r.status === 204 || r.status === 200, `${r.status} ${r.text}`);
        const g = await getOk(srv, `/Users/${user.id}`);
        assert.equal(g.active, false);
        assert.equal(g.userName, userName, 'the rest is untouched');
        assert.equal(g.displayName, 'Another User');
        const list = assertListResponse(await okta('GET', '/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100'));
        assert.equal(list.Resources[0].active, false, 'a deactivated user is still found');
    });

    test('Okta profile updates by PATCH replace of a path', async () => {
        const r = await okta('PATCH', `/Users/${user.id}`, {
            schemas: [URN.PATCH],
            Operations: [{ op: 'replace', value: { active: true, 'name.givenName': 'Patched' } }],
        });
        assert.ok(r.status === 204 || r.status === 200, `${r.status} ${r.text}`);
        const g = await getOk(srv, `/Users/${user.id}`);
        assert.equal(g.active, true);
        assert.equal(g.name.givenName, 'Patched');
    });

    describe('group push', () => {
        let group;
        let u2;
        let u3;
        before(async () => {
            const mk = async (n) => {
                const r = await okta('POST', '/Users', {
                    schemas: [URN.USER], userName: `${n}@okta.local`, name: { givenName: n, familyName: 'X' },
                    emails: [{ primary: true, value: `${n}@okta.local`, type: 'work' }], groups: [], active: true,
                });
                assert.equal(r.status, 201, r.text);
                return r.body;
            };
            u2 = await mk('second.user');
            u3 = await mk('third.user');
        });

        test('lookup by displayName of an absent group: empty', async () => {
            const r = await okta('GET', '/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100');
            const b = assertListResponse(r);
            assert.equal(b.totalResults, 0);
        });

        test('POST with members: []', async () => {
            const r = await okta('POST', '/Groups', { schemas: [URN.GROUP], displayName: 'Test SCIMv2', members: [] });
            assert.equal(r.status, 201, r.text);
            group = r.body;
            assert.equal(group.displayName, 'Test SCIMv2');
            const b = assertListResponse(await okta('GET', '/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100'));
            assert.equal(b.totalResults, 1);
            assert.equal(b.Resources[0].id, group.id);
        });

        test('GET the group by id', async () => {
            const r = await okta('GET', `/Groups/${group.id}`);
            assert.equal(r.status, 200);
            assert.equal(r.body.displayName, 'Test SCIMv2');
        });

        test('PATCH rename (with the id in the value) and membership in one request', async () => {
            // Okta pushes a rename as a pathless replace carrying the group's own id.
            const first = await okta('PATCH', `/Groups/${group.id}`, {
                schemas: [URN.PATCH],
                Operations: [{ op: 'add', path: 'members', value: [{ value: user.id, display: userName }] }],
            });
            assert.ok(first.status === 204 || first.status === 200, first.text);
            const r = await okta('PATCH', `/Groups/${group.id}`, {
                schemas: [URN.PATCH],
                Operations: [
                    { op: 'replace', value: { id: group.id, displayName: 'Test SCIMv2 Renamed' } },
                    { op: 'remove', path: `members[value eq "${user.id}"]` },
                    { op: 'add', path: 'members', value: [
                        { value: u2.id, display: 'second.user@okta.local' },
                        { value: u3.id, display: 'third.user@okta.local' },
                    ] },
                ],
            });
            assert.equal(r.status, 204, r.text);
            const g = await getOk(srv, `/Groups/${group.id}`);
            assert.equal(g.displayName, 'Test SCIMv2 Renamed');
            assert.deepEqual(g.members.map((m) => m.value).sort(), [u2.id, u3.id].sort());
            assert.equal(g.members.find((m) => m.value === u2.id).display, 'second.user@okta.local');
            const ug = await getOk(srv, `/Users/${u2.id}`);
            assert.deepEqual(ug.groups.map((x) => x.value), [group.id]);
        });

        test('replace of the full member list', async () => {
            const r = await okta('PATCH', `/Groups/${group.id}`, {
                schemas: [URN.PATCH],
                Operations: [{ op: 'replace', path: 'members', value: [
                    { value: user.id, display: userName },
                    { value: u3.id, display: 'third.user@okta.local' },
                ] }],
            });
            assert.equal(r.status, 204, r.text);
            const g = await getOk(srv, `/Groups/${group.id}`);
            assert.deepEqual(g.members.map((m) => m.value).sort(), [user.id, u3.id].sort());
        });

        test('PUT of the whole group', async () => {
            const r = await okta('PUT', `/Groups/${group.id}`, {
                schemas: [URN.GROUP], id: group.id, displayName: 'Test SCIMv2',
                members: [{ value: u2.id, display: 'second.user@okta.local' }],
            });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.body.displayName, 'Test SCIMv2');
            assert.deepEqual(r.body.members.map((m) => m.value), [u2.id]);
        });

        test('DELETE group: 204 and memberships gone', async () => {
            const r = await okta('DELETE', `/Groups/${group.id}`);
            assert.equal(r.status, 204);
            assert.equal((await okta('GET', `/Groups/${group.id}`)).status, 404);
            const ug = await getOk(srv, `/Users/${u2.id}`);
            assert.ok(!ug.groups || ug.groups.length === 0);
        });
    });
});
