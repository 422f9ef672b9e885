// PATCH (RFC 7644 section 3.5.2): add, replace and remove with and without path, value-path
// filters, extension URNs, pathless values with dotted and URN keys, atomicity, the answer
// (204, or 200 with attributes/excludedAttributes) and the errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    assertScimError, createGroup, createUser, getOk, patchBody, URN, uniq,
} from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

describe('PATCH', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    const patch = (id, ...ops) => srv.scim('PATCH', `/Users/${id}`, patchBody(...ops));
    const patched = async (id, ...ops) => {
        const r = await patch(id, ...ops);
        assert.equal(r.status, 204, `PATCH ${JSON.stringify(ops)}: ${r.status} ${r.text}`);
        assert.equal(r.text, '');
        return getOk(srv, `/Users/${id}`);
    };

    test('204 without attributes; 200 with the resource with attributes or excludedAttributes', async () => {
        const u = await createUser(srv, { title: 'T0' });
        const r = await patch(u.id, { op: 'replace', path: 'title', value: 'T1' });
        assert.equal(r.status, 204, r.text);
        assert.equal(r.text, '');
        assert.ok(r.headers.get('etag'), 'a 204 still carries the new ETag');
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(r.headers.get('etag'), g.meta.version);
        const a = await srv.scim('PATCH', `/Users/${u.id}?attributes=title`,
            patchBody({ op: 'replace', path: 'title', value: 'T2' }));
        assert.equal(a.status, 200, a.text);
        assert.equal(a.body.title, 'T2');
        assert.equal(a.body.id, u.id);
        assert.equal('userName' in a.body, false);
        assert.equal(a.headers.get('etag'), a.body.meta ? a.body.meta.version : a.headers.get('etag'));
        const x = await srv.scim('PATCH', `/Users/${u.id}?excludedAttributes=emails`,
            patchBody({ op: 'replace', path: 'title', value: 'T3' }));
        assert.equal(x.status, 200, x.text);
        assert.equal(x.body.title, 'T3');
        assert.equal(x.body.userName, u.userName);
        assert.equal('emails' in x.body, false);
    });

    test('replace, add and remove of simple attributes with a path', async () => {
        const u = await createUser(srv, { title: 'Old' });
        let g = await patched(u.id, { op: 'replace', path: 'title', value: 'New' });
        assert.equal(g.title, 'New');
        g = await patched(u.id, { op: 'add', path: 'nickName', value: 'Nick' });
        assert.equal(g.nickName, 'Nick');
        g = await patched(u.id, { op: 'remove', path: 'title' });
        assert.equal('title' in g, false);
        assert.equal(g.nickName, 'Nick');
        g = await patched(u.id, { op: 'replace', path: 'name.givenName', value: 'Gina' });
        assert.equal(g.name.givenName, 'Gina');
        assert.equal(g.name.familyName, u.name.familyName);
        g = await patched(u.id, { op: 'replace', path: 'active', value: false });
        assert.equal(g.active, false);
        assert.notEqual(g.meta.version, u.meta.version);
        assert.ok(Date.parse(g.meta.lastModified) >= Date.parse(u.meta.lastModified));
    });

    test('add and replace without a path merge a value object', async () => {
        const u = await createUser(srv, { title: 'Keep' });
        let g = await patched(u.id, { op: 'add', value: { nickName: 'Babs', displayName: 'B J' } });
        assert.equal(g.nickName, 'Babs');
        assert.equal(g.displayName, 'B J');
        assert.equal(g.title, 'Keep');
        g = await patched(u.id, { op: 'replace', value: { nickName: 'Barb', name: { middleName: 'M' } } });
        assert.equal(g.nickName, 'Barb');
        assert.equal(g.name.middleName, 'M');
        assert.equal(g.name.givenName, u.name.givenName, 'replace of a complex keeps unsent sub-attributes');
        assert.equal(g.title, 'Keep');
    });

    test('a pathless replace whose value holds dotted and URN-qualified keys', async () => {
        const u = await createUser(srv);
        const g = await patched(u.id, {
            op: 'replace',
            value: {
                'name.givenName': 'Dotted',
                'name.familyName': 'Keys',
                [`${URN.ENT}:department`]: 'R&D',
                [`${URN.ENT}:employeeNumber`]: '42',
                [`${URN.USER}:title`]: 'Urn Title',
            },
        });
        assert.equal(g.name.givenName, 'Dotted');
        assert.equal(g.name.familyName, 'Keys');
        assert.equal(g[URN.ENT].department, 'R&D');
        assert.equal(g[URN.ENT].employeeNumber, '42');
        assert.equal(g.title, 'Urn Title');
        assert.ok(g.schemas.includes(URN.ENT), 'the extension URN joins schemas');
        assert.equal(`${URN.ENT}:department` in g, false, 'no literal URN-qualified key');
        assert.equal('name.givenName' in g, false, 'no literal dotted key');
    });

    test('a pathless add of an extension object', async () => {
        const u = await createUser(srv);
        const g = await patched(u.id, { op: 'add', value: { [URN.ENT]: { costCenter: 'CC1' } } });
        assert.equal(g[URN.ENT].costCenter, 'CC1');
    });

    test('extension-URN paths: add, replace, remove', async () => {
        const u = await createUser(srv);
        const mgr = await createUser(srv);
        let g = await patched(u.id, { op: 'add', path: `${URN.ENT}:department`, value: 'Ops' });
        assert.equal(g[URN.ENT].department, 'Ops');
        assert.ok(g.schemas.includes(URN.ENT));
        g = await patched(u.id, { op: 'replace', path: `${URN.ENT}:manager.value`, value: mgr.id });
        assert.equal(g[URN.ENT].manager.value, mgr.id);
        g = await patched(u.id, { op: 'remove', path: `${URN.ENT}:department` });
        assert.equal('department' in (g[URN.ENT] || {}), false);
        g = await patched(u.id, { op: 'remove', path: `${URN.ENT}:manager` });
        assert.equal('manager' in (g[URN.ENT] || {}), false);
    });

    test('multi-valued: add appends, value-path replace, create when absent, remove by filter', async () => {
        const n = uniq('mv');
        const u = await createUser(srv, { emails: [{ value: `${n}@work.example`, type: 'work', primary: true }] });
        let g = await patched(u.id, { op: 'add', path: 'emails', value: [{ value: `${n}@home.example`, type: 'home' }] });
        assert.deepEqual(g.emails.map((e) => e.type).sort(), ['home', 'work']);
        g = await patched(u.id, { op: 'replace', path: 'emails[type eq "work"].value', value: `${n}@new.example` });
        assert.equal(g.emails.find((e) => e.type === 'work').value, `${n}@new.example`);
        assert.equal(g.emails.find((e) => e.type === 'work').primary, true, 'the other sub-attributes stay');
        assert.equal(g.emails.find((e) => e.type === 'home').value, `${n}@home.example`);
        g = await patched(u.id, { op: 'replace', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' });
        assert.deepEqual(g.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }], 'created when absent');
        g = await patched(u.id, { op: 'add', path: 'addresses[type eq "work"].locality', value: 'Paris' });
        assert.equal(g.addresses.length, 1);
        assert.equal(g.addresses[0].type, 'work');
        assert.equal(g.addresses[0].locality, 'Paris');
        g = await patched(u.id, { op: 'remove', path: 'emails[type eq "home"]' });
        assert.deepEqual(g.emails.map((e) => e.type), ['work']);
        g = await patched(u.id, { op: 'remove', path: 'emails[type eq "work"].primary' });
        assert.equal('primary' in g.emails[0], false);
        g = await patched(u.id, { op: 'replace', path: 'emails', value: [{ value: `${n}@only.example`, type: 'other' }] });
        assert.deepEqual(g.emails, [{ value: `${n}@only.example`, type: 'other' }]);
        g = await patched(u.id, { op: 'remove', path: 'emails' });
        assert.equal('emails' in g, false);
    });

    test('a value-path replace of the whole element', async () => {
        const u = await createUser(srv, { phoneNumbers: [{ value: '1', type: 'work' }, { value: '2', type: 'home' }] });
        const g = await patched(u.id, { op: 'replace', path: 'phoneNumbers[type eq "work"]', value: { value: '3', type: 'work' } });
        assert.deepEqual(g.phoneNumbers.map((p) => p.value).sort(), ['2', '3']);
    });

    test('only one primary among emails', async () => {
        const n = uniq('pri');
        const u = await createUser(srv, { emails: [{ value: `${n}@a.example`, type: 'work', primary: true }] });
        const r = await patch(u.id, { op: 'add', path: 'emails', value: [{ value: `${n}@b.example`, type: 'home', primary: true }] });
        // RFC 7643 section 2.4: "primary" true appears at most once. Either the new primary wins
        // or the request is refused; two primaries are never stored.
        if (r.status === 400) {
            assert.deepEqual((await getOk(srv, `/Users/${u.id}`)).emails, u.emails);
        } else {
            assert.equal(r.status, 204, r.text);
            const g = await getOk(srv, `/Users/${u.id}`);
            assert.equal(g.emails.filter((e) => e.primary === true).length, 1, JSON.stringify(g.emails));
            assert.equal(g.emails.find((e) => e.primary === true).value, `${n}@b.example`);
        }
    });

    test('op and attribute names are case-insensitive', async () => {
        const u = await createUser(srv);
        const g = await patched(u.id, { op: 'Replace', path: 'Title', value: 'CI' }, { op: 'ADD', path: 'NickName', value: 'N' });
        assert.equal(g.title, 'CI');
        assert.equal(g.nickName, 'N');
    });

    test('operations apply in order', async () => {
        const u = await createUser(srv);
        const g = await patched(u.id,
            { op: 'add', path: 'title', value: 'First' },
            { op: 'replace', path: 'title', value: 'Second' },
            { op: 'add', path: 'nickName', value: 'gone' },
            { op: 'remove', path: 'nickName' });
        assert.equal(g.title, 'Second');
        assert.equal('nickName' in g, false);
    });

    test('a PATCH is atomic: one failing operation changes nothing', async () => {
        const u = await createUser(srv, { title: 'Before' });
        const bad = [
            [{ op: 'replace', path: 'title', value: 'After' }, { op: 'replace', path: 'id', value: 'x' }],
            [{ op: 'replace', path: 'title', value: 'After' }, { op: 'replace', path: 'emails[type eq', value: 'x' }],
            [{ op: 'replace', path: 'title', value: 'After' }, { op: 'remove' }],
            [{ op: 'replace', path: 'title', value: 'After' }, { op: 'replace', path: 'active', value: 'maybe' }],
        ];
        for (const ops of bad) {
            const r = await patch(u.id, ...ops);
            assert.equal(r.status, 400, `${JSON.stringify(ops)}: ${r.text}`);
            const g = await getOk(srv, `/Users/${u.id}`);
            assert.equal(g.title, 'Before', `changed by ${JSON.stringify(ops)}`);
            assert.equal(g.meta.version, u.meta.version);
        }
        // A uniqueness conflict in the second operation rolls back the first as well.
        const other = await createUser(srv);
        const r = await patch(u.id, { op: 'replace', path: 'title', value: 'After' },
            { op: 'replace', path: 'userName', value: other.userName });
        assertScimError(r, 409, 'uniqueness');
        assert.equal((await getOk(srv, `/Users/${u.id}`)).title, 'Before');
    });

    test('errors: invalidPath, noTarget, mutability, invalidValue, invalidSyntax', async () => {
        const u = await createUser(srv);
        assertScimError(await patch(u.id, { op: 'replace', path: 'emails[type eq "work"', value: 'x' }), 400, 'invalidPath');
        assertScimError(await patch(u.id, { op: 'replace', path: 'emails[type xx "work"].value', value: 'x' }), 400, 'invalidPath');
        assertScimError(await patch(u.id, { op: 'replace', path: 'noSuchAttribute', value: 'x' }), 400, 'invalidPath');
        assertScimError(await patch(u.id, { op: 'replace', path: 'name.noSuchSub', value: 'x' }), 400, 'invalidPath');
        assertScimError(await patch(u.id, { op: 'remove' }), 400, 'noTarget');
        assertScimError(await patch(u.id, { op: 'replace', path: 'id', value: 'new-id' }), 400, 'mutability');
        assertScimError(await patch(u.id, { op: 'replace', path: 'meta.created', value: '2001-01-01T00:00:00Z' }), 400, 'mutability');
        assertScimError(await patch(u.id, { op: 'replace', value: { id: 'new-id' } }), 400, 'mutability');
        assertScimError(await patch(u.id, { op: 'replace', path: 'active', value: 'maybe' }), 400, 'invalidValue');
        assertScimError(await patch(u.id, { op: 'replace', path: 'userName', value: 7 }), 400, 'invalidValue');
        assertScimError(await patch(u.id, { op: 'replace', path: 'userName' }), 400);
        assertScimError(await patch(u.id, { op: 'frobnicate', path: 'title', value: 'x' }), 400);
        assertScimError(await patch(u.id, { path: 'title', value: 'x' }), 400);
        assertScimError(await srv.scim('PATCH', `/Users/${u.id}`, { schemas: [URN.PATCH] }), 400);
        assertScimError(await srv.scim('PATCH', `/Users/${u.id}`, { schemas: [URN.PATCH], Operations: 'x' }), 400);
        assertScimError(await srv.scim('PATCH', `/Users/${u.id}`, '{"schemas":'), 400, 'invalidSyntax');
        assertScimError(await srv.scim('PATCH', '/Users/no-such-id', patchBody({ op: 'replace', path: 'title', value: 'x' })), 404);
        assert.equal((await getOk(srv, `/Users/${u.id}`)).meta.version, u.meta.version, 'nothing changed');
    });

    test('removing a required attribute is refused', async () => {
        const u = await createUser(srv);
        const r = await patch(u.id, { op: 'remove', path: 'userName' });
        assert.equal(r.status, 400, r.text);
        assert.equal((await getOk(srv, `/Users/${u.id}`)).userName, u.userName);
    });

    test('PATCH on groups: displayName and members in one request', async () => {
        const a = await createUser(srv);
        const b = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: a.id }] });
        const name = uniq('renamed');
        const r = await srv.scim('PATCH', `/Groups/${g.id}`, patchBody(
            { op: 'replace', path: 'displayName', value: name },
            { op: 'remove', path: `members[value eq "${a.id}"]` },
            { op: 'add', path: 'members', value: [{ value: b.id, display: 'B' }] },
        ));
        assert.equal(r.status, 204, r.text);
        const got = await getOk(srv, `/Groups/${g.id}`);
        assert.equal(got.displayName, name);
        assert.deepEqual(got.members.map((m) => m.value), [b.id]);
    });

    test('a failing member operation rolls back the whole group PATCH', async () => {
        const a = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: a.id }] });
        const r = await srv.scim('PATCH', `/Groups/${g.id}`, patchBody(
            { op: 'replace', path: 'displayName', value: 'should-not-stick' },
            { op: 'remove', path: `members[value eq "${a.id}"]` },
            { op: 'add', path: 'members', value: [{ value: 7 }] },
        ));
        assertScimError(r, 400, 'invalidValue');
        const got = await getOk(srv, `/Groups/${g.id}`);
        assert.equal(got.displayName, g.displayName);
        assert.deepEqual(got.members.map((m) => m.value), [a.id]);
    });

    test('PATCH with attributes on a group answers 200 with the projection', async () => {
        const g = await createGroup(srv);
        const r = await srv.scim('PATCH', `/Groups/${g.id}?excludedAttributes=members`,
            patchBody({ op: 'replace', path: 'displayName', value: `${g.displayName}-x` }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.displayName, `${g.displayName}-x`);
        assert.equal('members' in r.body, false);
    });
});
