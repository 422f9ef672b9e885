// attributes and excludedAttributes (RFC 7644 section 3.9) on GET, the list, POST, PUT and
// PATCH answers; id is always returned, password never.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fullUser } from './lib/fixtures.mjs';
import { assertListResponse, createGroup, createUser, getOk, patchBody, q, URN, userBody } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

describe('attributes and excludedAttributes', () => {
    let srv;
    let u;
    before(async () => {
        srv = await startServer();
        const r = await srv.scim('POST', '/Users', fullUser());
        assert.equal(r.status, 201, r.text);
        u = r.body;
    });
    after(() => srv && srv.close());

    test('attributes=userName returns id and userName and not the rest', async () => {
        const g = await getOk(srv, `/Users/${u.id}?attributes=userName`);
        assert.equal(g.id, u.id);
        assert.equal(g.userName, u.userName);
        for (const k of ['name', 'emails', 'title', 'active', 'displayName', URN.ENT]) {
            assert.equal(k in g, false, `${k} returned`);
        }
    });

    test('several attributes, sub-attributes and case-insensitive names', async () => {
        const g = await getOk(srv, `/Users/${u.id}?attributes=${encodeURIComponent('Title,name.givenName,EMAILS.value')}`);
        assert.equal(g.title, u.title);
        assert.deepEqual(g.name, { givenName: u.name.givenName });
        assert.deepEqual(g.emails, u.emails.map((e) => ({ value: e.value })));
        assert.equal('userName' in g, false);
        assert.equal(g.id, u.id);
    });

    test('an extension attribute by URN path, and the whole extension', async () => {
        const g = await getOk(srv, `/Users/${u.id}?attributes=${encodeURIComponent(`${URN.ENT}:department`)}`);
        assert.deepEqual(g[URN.ENT], { department: u[URN.ENT].department });
        assert.equal('title' in g, false);
        const w = await getOk(srv, `/Users/${u.id}?attributes=${encodeURIComponent(URN.ENT)}`);
        assert.equal(w[URN.ENT].costCenter, u[URN.ENT].costCenter);
        assert.equal('userName' in w, false);
    });

    test('excludedAttributes removes attributes, never id', async () => {
        const g = await getOk(srv, `/Users/${u.id}?excludedAttributes=${encodeURIComponent('emails,name.givenName,id')}`);
        assert.equal(g.id, u.id);
        assert.equal('emails' in g, false);
        assert.equal(g.name.familyName, u.name.familyName);
        assert.equal('givenName' in g.name, false);
        assert.equal(g.userName, u.userName);
        assert.equal(g.title, u.title);
    });

    test('on the list', async () => {
        await createUser(srv);
        const b = assertListResponse(await srv.scim('GET', `/Users${q({ attributes: 'userName' })}`));
        assert.equal(b.Resources.length, 2);
        for (const r of b.Resources) {
            assert.deepEqual(Object.keys(r).filter((k) => !['id', 'userName', 'schemas', 'meta'].includes(k)), []);
            assert.ok(r.id && r.userName);
        }
        const x = assertListResponse(await srv.scim('GET', `/Users${q({ excludedAttributes: 'emails,name' })}`));
        for (const r of x.Resources) {
            assert.equal('emails' in r, false);
            assert.equal('name' in r, false);
            assert.ok(r.userName);
        }
    });

    test('Microsoft: attributes=emails[type eq "work"] is accepted', async () => {
        const r = await srv.scim('GET', `/Users${q({ attributes: 'emails[type eq "work"]' })}`);
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.Resources.length >= 1);
    });

    test('on the POST answer', async () => {
        const r = await srv.scim('POST', `/Users${q({ attributes: 'userName' })}`, userBody({ title: 'T' }));
        assert.equal(r.status, 201, r.text);
        assert.ok(r.body.id);
        assert.ok(r.body.userName);
        assert.equal('title' in r.body, false);
        assert.equal('emails' in r.body, false);
        assert.ok(r.headers.get('location'));
        const x = await srv.scim('POST', `/Users${q({ excludedAttributes: 'emails' })}`, userBody({ title: 'T' }));
        assert.equal(x.status, 201, x.text);
        assert.equal(x.body.title, 'T');
        assert.equal('emails' in x.body, false);
    });

    test('on the PUT answer', async () => {
        const c = await createUser(srv);
        const r = await srv.scim('PUT', `/Users/${c.id}${q({ excludedAttributes: 'emails,name' })}`,
            userBody({ userName: c.userName, title: 'Put' }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.title, 'Put');
        assert.equal('emails' in r.body, false);
        assert.equal('name' in r.body, false);
        const a = await srv.scim('PUT', `/Users/${c.id}${q({ attributes: 'title' })}`,
            userBody({ userName: c.userName, title: 'Put2' }));
        assert.equal(a.status, 200, a.text);
        assert.equal(a.body.title, 'Put2');
        assert.equal('userName' in a.body, false);
        // The projection shapes the answer only: the resource is whole.
        const g = await getOk(srv, `/Users/${c.id}`);
        assert.ok(g.emails && g.name);
    });

    test('on the PATCH answer', async () => {
        const c = await createUser(srv);
        const r = await srv.scim('PATCH', `/Users/${c.id}${q({ attributes: 'title,active' })}`,
            patchBody({ op: 'replace', path: 'title', value: 'Patched' }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.title, 'Patched');
        assert.equal(r.body.active, true);
        assert.equal('userName' in r.body, false);
    });

    test('groups: attributes and excludedAttributes', async () => {
        const g = await createGroup(srv, { members: [{ value: u.id }] });
        const a = await getOk(srv, `/Groups/${g.id}?attributes=displayName`);
        assert.equal(a.displayName, g.displayName);
        assert.equal('members' in a, false);
        const m = await getOk(srv, `/Groups/${g.id}?attributes=members`);
        assert.deepEqual(m.members.map((x) => x.value), [u.id]);
        assert.equal('displayName' in m, false);
        const x = await getOk(srv, `/Groups/${g.id}?excludedAttributes=members`);
        assert.equal('members' in x, false);
        assert.equal(x.displayName, g.displayName);
        const ug = await getOk(srv, `/Users/${u.id}?attributes=groups`);
        assert.deepEqual(ug.groups.map((y) => y.value), [g.id]);
        const ux = await getOk(srv, `/Users/${u.id}?excludedAttributes=groups`);
        assert.equal('groups' in ux, false);
    });

    test('unknown attribute names are ignored', async () => {
        const g = await getOk(srv, `/Users/${u.id}?attributes=userName,noSuchThing`);
        assert.equal(g.userName, u.userName);
        const x = await getOk(srv, `/Users/${u.id}?excludedAttributes=noSuchThing`);
        assert.equal(x.userName, u.userName);
    });
});
