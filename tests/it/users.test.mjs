// /Users: POST, GET, PUT, DELETE, the resource representation and its meta (RFC 7643 section 4.1,
// RFC 7644 section 3).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertContains, expectedUser, fullUser } from './lib/fixtures.mjs';
import {
    assertScimError, createUser, getOk, isScimJson, patchBody, q, URN, uniq, userBody,
} from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function assertMeta(srv, res, resourceType, endpoint) {
    const m = res.meta;
    assert.ok(m, 'meta');
    assert.equal(m.resourceType, resourceType);
    assert.match(m.created, ISO);
    assert.match(m.lastModified, ISO);
    assert.ok(Date.parse(m.lastModified) >= Date.parse(m.created));
    assert.equal(m.location, `${srv.scim}/${endpoint}/${res.id}`);
    assert.match(m.version, /^W\/".+"$/, `weak ETag version: ${m.version}`);
}

describe('/Users', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('POST creates: 201, Location, ETag, meta, SCIM content type, no password', async () => {
        const body = userBody({ password: 'Secret#123', id: 'client-chosen-id' });
        const r = await srv.scim('POST', '/Users', body);
        assert.equal(r.status, 201, r.text);
        assert.ok(isScimJson(r), r.headers.get('content-type'));
        const u = r.body;
        assert.ok(u.schemas.includes(URN.USER));
        assert.equal(typeof u.id, 'string');
        assert.notEqual(u.id, 'client-chosen-id', 'the id is server-assigned');
        assert.equal(u.userName, body.userName);
        assert.deepEqual(u.name, body.name);
        assert.equal(u.active, true);
        assertMeta(srv, u, 'User', 'Users');
        assert.equal(r.headers.get('location'), u.meta.location);
        assert.equal(r.headers.get('etag'), u.meta.version);
        assert.equal(u.meta.created, u.meta.lastModified);
        assert.equal('password' in u, false, 'password returned');
        assert.equal(r.text.includes('Secret#123'), false);
    });

    test('every attribute of the core User and the Enterprise extension round-trips', async () => {
        const mgr = await createUser(srv);
        const sent = fullUser(mgr.id);
        const r = await srv.scim('POST', '/Users', sent);
        assert.equal(r.status, 201, r.text);
        assertContains(r.body, expectedUser(sent));
        assert.ok(r.body.schemas.includes(URN.ENT), 'the extension URN is in schemas');
        const g = await getOk(srv, `/Users/${r.body.id}`);
        assertContains(g, expectedUser(sent));
        assert.equal('password' in g, false);
        assert.equal(g[URN.ENT].manager.value, mgr.id);
    });

    test('password is never returned: GET, list, attributes=password, PUT, PATCH', async () => {
        const pw = uniq('Pw!');
        const u = await createUser(srv, { password: pw });
        const reads = [
            await srv.scim('GET', `/Users/${u.id}`),
            await srv.scim('GET', `/Users/${u.id}?attributes=password`),
            await srv.scim('GET', `/Users?filter=${encodeURIComponent(`id eq "${u.id}"`)}`),
            await srv.scim('GET', `/Users?attributes=password,userName`),
            await srv.scim('PUT', `/Users/${u.id}`, { ...userBody({ userName: u.userName }), password: pw }),
            await srv.scim('PATCH', `/Users/${u.id}?attributes=password,userName`,
                patchBody({ op: 'replace', path: 'password', value: `${pw}2` })),
        ];
        for (const r of reads) {
            assert.ok(r.status === 200, `${r.status} ${r.text}`);
            assert.equal(/"password"/i.test(r.text), false, r.text);
            assert.equal(r.text.includes(pw), false);
        }
    });

    test('userName is unique case-insensitively: 409 uniqueness', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('POST', '/Users', userBody({ userName: u.userName.toUpperCase() }));
        assertScimError(r, 409, 'uniqueness');
        const same = await srv.scim('POST', '/Users', userBody({ userName: u.userName }));
        assertScimError(same, 409, 'uniqueness');
        const other = await createUser(srv);
        const put = await srv.scim('PUT', `/Users/${other.id}`, userBody({ userName: u.userName.toUpperCase() }));
        assertScimError(put, 409, 'uniqueness');
        const patch = await srv.scim('PATCH', `/Users/${other.id}`,
            patchBody({ op: 'replace', path: 'userName', value: u.userName.toLowerCase() }));
        assertScimError(patch, 409, 'uniqueness');
        assert.equal((await getOk(srv, `/Users/${other.id}`)).userName, other.userName);
    });

    test('concurrent creates of one userName: exactly one 201, the rest 409', async () => {
        const n = uniq('race');
        const rs = await Promise.all(Array.from({ length: 12 }, (_, i) =>
            srv.scim('POST', '/Users', userBody({ userName: i % 2 ? n.toUpperCase() : n }))));
        assert.deepEqual(rs.map((r) => r.status).sort(), [201, ...Array(11).fill(409)], rs.map((r) => r.text).join('\n'));
        const l = await srv.scim('GET', `/Users${q({ filter: `userName eq "${n}"` })}`);
        assert.equal(l.body.totalResults, 1);
    });

    test('a user may change the case of its own userName', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('PUT', `/Users/${u.id}`, userBody({ userName: u.userName.toUpperCase() }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.userName, u.userName.toUpperCase());
    });

    test('GET by id: 200 with ETag; unknown id: 404 SCIM error', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('GET', `/Users/${u.id}`);
        assert.equal(r.status, 200);
        assert.ok(isScimJson(r));
        assert.equal(r.body.id, u.id);
        assert.equal(r.headers.get('etag'), r.body.meta.version);
        assert.deepEqual(r.body.meta, u.meta);
        assertScimError(await srv.scim('GET', '/Users/00000000-0000-0000-0000-000000000000'), 404);
        assertScimError(await srv.scim('GET', '/Users/no-such-id'), 404);
        assertScimError(await srv.scim('GET', `/Users/${u.id}x`), 404);
    });

    test('a user id is not a group id', async () => {
        const u = await createUser(srv);
        assertScimError(await srv.scim('GET', `/Groups/${u.id}`), 404);
    });

    test('PUT replaces the resource; unknown attributes are ignored; meta follows', async () => {
        const u = await createUser(srv, { title: 'Engineer', nickName: 'Nick', externalId: 'e1' });
        const put = userBody({ userName: u.userName, displayName: 'Replaced', someUnknownAttribute: 'x',
            meta: { created: '2001-01-01T00:00:00Z', version: 'W/"bogus"' } });
        const r = await srv.scim('PUT', `/Users/${u.id}`, put);
        assert.equal(r.status, 200, r.text);
        assert.ok(isScimJson(r));
        assert.equal(r.body.id, u.id);
        assert.equal(r.body.displayName, 'Replaced');
        assert.equal('title' in r.body, false, 'PUT keeps an attribute it did not send');
        assert.equal('nickName' in r.body, false);
        assert.equal('externalId' in r.body, false);
        assert.equal('someUnknownAttribute' in r.body, false);
        assert.equal(r.body.meta.created, u.meta.created, 'client meta is ignored');
        assert.notEqual(r.body.meta.version, u.meta.version, 'version changes');
        assert.notEqual(r.body.meta.version, 'W/"bogus"');
        assert.equal(r.headers.get('etag'), r.body.meta.version);
        assert.ok(Date.parse(r.body.meta.lastModified) >= Date.parse(u.meta.lastModified));
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.deepEqual(g, r.body);
    });

    test('PUT without userName: 400; PUT of an unknown id: 404', async () => {
        const u = await createUser(srv);
        const b = userBody();
        delete b.userName;
        assertScimError(await srv.scim('PUT', `/Users/${u.id}`, b), 400);
        assertScimError(await srv.scim('PUT', '/Users/no-such-id', userBody()), 404);
    });

    test('PUT may not change the id', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('PUT', `/Users/${u.id}`, { ...userBody({ userName: u.userName }), id: 'other-id' });
        // Either refused (mutability) or the id in the body ignored; never a changed id.
        if (r.status === 200) assert.equal(r.body.id, u.id);
        else assertScimError(r, 400, 'mutability');
        assert.equal((await getOk(srv, `/Users/${u.id}`)).id, u.id);
        assertScimError(await srv.scim('GET', '/Users/other-id'), 404);
    });

    test('POST without userName: 400; with a userName that is not a string: 400 invalidValue', async () => {
        const b = userBody();
        delete b.userName;
        assertScimError(await srv.scim('POST', '/Users', b), 400);
        assertScimError(await srv.scim('POST', '/Users', userBody({ userName: 42 })), 400, 'invalidValue');
        assertScimError(await srv.scim('POST', '/Users', userBody({ userName: '' })), 400);
    });

    test('attribute names are case-insensitive and answered in schema spelling', async () => {
        const n = uniq('ci');
        const r = await srv.scim('POST', '/Users', {
            schemas: [URN.USER],
            UserName: n,
            NAME: { GivenName: 'G', familyname: 'F' },
            Emails: [{ Value: `${n}@example.com`, Type: 'work', Primary: true }],
            ACTIVE: true,
        });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.userName, n);
        assert.deepEqual(r.body.name, { givenName: 'G', familyName: 'F' });
        assert.deepEqual(r.body.emails, [{ value: `${n}@example.com`, type: 'work', primary: true }]);
        assert.equal(r.body.active, true);
    });

    test('"active": "True" and "False" are stored as booleans', async () => {
        const a = await createUser(srv, { active: 'True' });
        assert.equal(a.active, true);
        const b = await createUser(srv, { active: 'False' });
        assert.equal(b.active, false);
        assert.equal((await getOk(srv, `/Users/${b.id}`)).active, false);
    });

    test('read-only groups sent in a body are ignored', async () => {
        const u = await createUser(srv, { groups: [{ value: 'some-group', display: 'x' }] });
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.ok(!g.groups || g.groups.length === 0, JSON.stringify(g.groups));
    });

    test('duplicate externalIds are allowed', async () => {
        const a = await createUser(srv, { externalId: 'dup-ext' });
        const b = await createUser(srv, { externalId: 'dup-ext' });
        assert.notEqual(a.id, b.id);
    });

    test('the body must name the User schema', async () => {
        const r = await srv.scim('POST', '/Users', { ...userBody(), schemas: [URN.GROUP] });
        assertScimError(r, 400);
    });

    test('application/json and charset parameters are accepted', async () => {
        for (const ct of ['application/json', 'application/scim+json; charset=utf-8',
            'application/json; charset=UTF-8']) {
            const r = await srv.scim('POST', '/Users', userBody(), { headers: { 'Content-Type': ct } });
            assert.equal(r.status, 201, `${ct}: ${r.text}`);
            assert.ok(isScimJson(r), 'the answer is application/scim+json');
        }
    });

    test('Accept: application/json or */* is answered with application/scim+json', async () => {
        const u = await createUser(srv);
        for (const accept of ['application/json', '*/*', 'application/scim+json']) {
            const r = await srv.scim('GET', `/Users/${u.id}`, undefined, { headers: { Accept: accept } });
            assert.equal(r.status, 200, `${accept}: ${r.text}`);
            assert.ok(isScimJson(r));
        }
    });

    test('lowercase /users and a trailing slash reach the same endpoint', async () => {
        const u = await createUser(srv);
        assert.equal((await srv.scim('GET', `/users/${u.id}`)).status, 200);
        const r = await srv.scim('GET', `/Users/${q({ filter: `userName eq "${u.userName}"` })}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.totalResults, 1);
        const l = await srv.scim('GET', `/users${q({ filter: `id eq "${u.id}"` })}`);
        assert.equal(l.status, 200, l.text);
        assert.equal(l.body.Resources[0].id, u.id);
    });

    test('DELETE: 204 without a body, then GET 404 and DELETE 404', async () => {
        const u = await createUser(srv);
        const d = await srv.scim('DELETE', `/Users/${u.id}`);
        assert.equal(d.status, 204);
        assert.equal(d.text, '');
        assertScimError(await srv.scim('GET', `/Users/${u.id}`), 404);
        assertScimError(await srv.scim('DELETE', `/Users/${u.id}`), 404);
        assertScimError(await srv.scim('PUT', `/Users/${u.id}`, userBody()), 404);
        assertScimError(await srv.scim('PATCH', `/Users/${u.id}`,
            patchBody({ op: 'replace', path: 'title', value: 'x' })), 404);
        // The userName is free again.
        const again = await srv.scim('POST', '/Users', userBody({ userName: u.userName }));
        assert.equal(again.status, 201, again.text);
        assert.notEqual(again.body.id, u.id);
    });

    test('the list holds what was created and not what was deleted', async () => {
        const a = await createUser(srv);
        const b = await createUser(srv);
        await srv.scim('DELETE', `/Users/${b.id}`);
        const r = await srv.scim('GET', `/Users${q({ filter: `id eq "${a.id}" or id eq "${b.id}"` })}`);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body.Resources.map((x) => x.id), [a.id]);
        assert.equal(r.body.totalResults, 1);
    });

    test('strings keep their Unicode', async () => {
        const u = await createUser(srv, { displayName: 'Zoë Ångström 山田 🚀', name: { givenName: 'Zoë', familyName: '山田' } });
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g.displayName, 'Zoë Ångström 山田 🚀');
        assert.equal(g.name.familyName, '山田');
    });
});
