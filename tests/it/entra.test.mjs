// The requests Microsoft Entra ID sends, in the shapes of Microsoft's SCIM endpoint tutorial
// and of its "known issues" page: capitalised ops, booleans as strings, member removal by value
// array, "$ref": null, the ADSCIM group schema, meta and roles: [] in POST bodies, clearing with
// "" or null, the manager as a bare id or {value}, startIndex echoed, and both PATCH styles of
// the aadOptscim062020 flag (and the flag itself as a query parameter).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, getOk, q, URN } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const patch = (...ops) => ({ schemas: [URN.PATCH], Operations: ops });

describe('Microsoft Entra ID', () => {
    let srv;
    const entra = (method, path, body) => srv.scim(method, path, body, {
        headers: { 'Content-Type': 'application/scim+json', Accept: 'application/scim+json' },
    });
    const ok204 = (r) => assert.equal(r.status, 204, `${r.status} ${r.text}`);
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    const newUser = async (tag, extra = {}) => {
        const r = await entra('POST', '/Users', {
            schemas: [URN.USER, URN.ENT],
            externalId: `0a21f0f2-${tag}`,
            userName: `Test_User_${tag}@testuser.com`,
            active: true,
            emails: [{ primary: true, type: 'work', value: `Test_User_${tag}@testuser.com` }],
            meta: { resourceType: 'User' },
            name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
            roles: [],
            ...extra,
        });
        assert.equal(r.status, 201, r.text);
        return r.body;
    };

    test('the connection test: a lookup of a random userName is an empty list', async () => {
        const r = await entra('GET', `/Users${q({ filter: 'userName eq "9a4d2c1e-57d8-4c4e-a0f4-0e1f8f1c5b7e"' })}`);
        const b = assertListResponse(r);
        assert.equal(b.totalResults, 0);
        assert.deepEqual(b.Resources, []);
    });

    test('create with meta and roles: [] in the body', async () => {
        const u = await newUser('create');
        assert.equal(u.meta.resourceType, 'User');
        assert.ok(u.meta.created && u.meta.location, 'server meta, not the client one');
        assert.equal(u.name.formatted, 'givenName familyName');
        assert.ok(!u.roles || u.roles.length === 0);
        const got = await getOk(srv, `/Users/${u.id}`);
        assert.equal(got.externalId, '0a21f0f2-create');
    });

    test('lookup by userName and by externalId', async () => {
        const u = await newUser('lookup');
        const a = assertListResponse(await entra('GET', `/Users${q({ filter: `userName eq "${u.userName}"` })}`));
        assert.deepEqual(a.Resources.map((x) => x.id), [u.id]);
        const b = assertListResponse(await entra('GET', `/Users${q({ filter: `externalId eq "${u.externalId}"` })}`));
        assert.deepEqual(b.Resources.map((x) => x.id), [u.id]);
    });

    test('capitalised ops Replace, Add, Remove on users', async () => {
        const u = await newUser('ops');
        ok204(await entra('PATCH', `/Users/${u.id}`, patch(
            { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
            { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
            { op: 'Add', path: 'title', value: 'Engineer' },
            { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 425 555 0100' },
        )));
        let g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g.emails.find((e) => e.type === 'work').value, 'updatedEmail@microsoft.com');
        assert.equal(g.emails.length, 1);
        assert.equal(g.name.familyName, 'updatedFamilyName');
        assert.equal(g.name.givenName, 'givenName');
        assert.equal(g.title, 'Engineer');
        assert.equal(g.phoneNumbers.find((p) => p.type === 'mobile').value, '+1 425 555 0100');
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Remove', path: 'title' })));
        g = await getOk(srv, `/Users/${u.id}`);
        assert.equal('title' in g, false);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'userName', value: `renamed-${u.userName}` })));
        assert.equal((await getOk(srv, `/Users/${u.id}`)).userName, `renamed-${u.userName}`);
    });

    test('booleans sent as strings: "False" and "True"', async () => {
        const u = await newUser('bool');
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })));
        assert.equal((await getOk(srv, `/Users/${u.id}`)).active, false);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'active', value: 'True' })));
        assert.equal((await getOk(srv, `/Users/${u.id}`)).active, true);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'emails[type eq "work"].primary', value: 'False' })));
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g.emails[0].primary, false);
    });

    test('soft delete and restore with active', async () => {
        const u = await newUser('soft');
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'active', value: false })));
        const l = assertListResponse(await entra('GET', `/Users${q({ filter: `userName eq "${u.userName}"` })}`));
        assert.equal(l.Resources[0].active, false);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'active', value: true })));
        assert.equal((await getOk(srv, `/Users/${u.id}`)).active, true);
    });

    test('clearing an attribute with "" or null', async () => {
        const u = await newUser('clear', {
            title: 'T', nickName: 'N', displayName: 'D',
            [URN.ENT]: { department: 'Dept', costCenter: 'CC' },
        });
        ok204(await entra('PATCH', `/Users/${u.id}`, patch(
            { op: 'Replace', path: 'title', value: '' },
            { op: 'Replace', path: 'nickName', value: null },
            { op: 'Replace', path: `${URN.ENT}:department`, value: '' },
        )));
        let g = await getOk(srv, `/Users/${u.id}`);
        assert.equal('title' in g, false, `title: ${JSON.stringify(g.title)}`);
        assert.equal('nickName' in g, false, `nickName: ${JSON.stringify(g.nickName)}`);
        assert.equal('department' in (g[URN.ENT] || {}), false);
        assert.equal(g[URN.ENT].costCenter, 'CC');
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', value: { displayName: null, [`${URN.ENT}:costCenter`]: '' } })));
        g = await getOk(srv, `/Users/${u.id}`);
        assert.equal('displayName' in g, false);
        assert.equal('costCenter' in (g[URN.ENT] || {}), false);
        // Clearing by a PUT with "" and null.
        const put = { ...g, title: '', nickName: null };
        const r = await entra('PUT', `/Users/${u.id}`, put);
        assert.equal(r.status, 200, r.text);
        assert.equal('title' in r.body, false);
    });

    test('the manager as a bare id, as {value}, and removed', async () => {
        const mgr1 = await newUser('mgr1');
        const mgr2 = await newUser('mgr2');
        const u = await newUser('report');
        const path = `${URN.ENT}:manager`;
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Add', path, value: mgr1.id })));
        let g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g[URN.ENT].manager.value, mgr1.id);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path, value: { value: mgr2.id } })));
        g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g[URN.ENT].manager.value, mgr2.id);
        const byMgr = assertListResponse(await entra('GET', `/Users${q({ filter: `${URN.ENT}:manager.value eq "${mgr2.id}"` })}`));
        assert.deepEqual(byMgr.Resources.map((x) => x.id), [u.id]);
        ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Remove', path })));
        g = await getOk(srv, `/Users/${u.id}`);
        assert.equal('manager' in (g[URN.ENT] || {}), false);
        // A manager sent in a POST body as a bare id.
        const v = await newUser('report2', { [URN.ENT]: { manager: mgr1.id } });
        assert.equal((await getOk(srv, `/Users/${v.id}`))[URN.ENT].manager.value, mgr1.id);
    });

    test('groups: the ADSCIM schema and meta in POST, excludedAttributes=members on lookup', async () => {
        const r = await entra('POST', '/Groups', {
            schemas: [URN.GROUP, URN.ADSCIM_GROUP],
            externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
            displayName: 'Entra Group',
            meta: { resourceType: 'Group' },
        });
        assert.equal(r.status, 201, r.text);
        const g = r.body;
        assert.equal(g.displayName, 'Entra Group');
        assert.equal(g.externalId, '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159');
        const byId = await entra('GET', `/Groups/${g.id}?excludedAttributes=members`);
        assert.equal(byId.status, 200);
        assert.equal('members' in byId.body, false);
        const byName = assertListResponse(await entra('GET',
            `/Groups${q({ excludedAttributes: 'members', filter: 'displayName eq "Entra Group"' })}`));
        assert.deepEqual(byName.Resources.map((x) => x.id), [g.id]);
        assert.equal('members' in byName.Resources[0], false);
    });

    test('group members: Add with "$ref": null, Remove by a value array, Replace displayName', async () => {
        const a = await newUser('ma');
        const b = await newUser('mb');
        const c = await newUser('mc');
        const g = (await entra('POST', '/Groups', { schemas: [URN.GROUP, URN.ADSCIM_GROUP], displayName: 'Members Group' })).body;
        ok204(await entra('PATCH', `/Groups/${g.id}`, patch({
            op: 'Add', path: 'members', value: [{ $ref: null, value: a.id }, { $ref: null, value: b.id }, { $ref: null, value: c.id }],
        })));
        let got = await getOk(srv, `/Groups/${g.id}`);
        assert.deepEqual(got.members.map((m) => m.value).sort(), [a.id, b.id, c.id].sort());
        ok204(await entra('PATCH', `/Groups/${g.id}`, patch({
            op: 'Remove', path: 'members', value: [{ $ref: null, value: a.id }, { value: c.id }],
        })));
        got = await getOk(srv, `/Groups/${g.id}`);
        assert.deepEqual(got.members.map((m) => m.value), [b.id]);
        ok204(await entra('PATCH', `/Groups/${g.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Members Group Renamed' })));
        got = await getOk(srv, `/Groups/${g.id}`);
        assert.equal(got.displayName, 'Members Group Renamed');
        assert.deepEqual(got.members.map((m) => m.value), [b.id]);
        // Groups by member, as Entra asks.
        const byMember = assertListResponse(await entra('GET',
            `/Groups${q({ filter: `id eq "${g.id}" and members.value eq "${b.id}"`, excludedAttributes: 'members' })}`));
        assert.equal(byMember.totalResults, 1);
        const notMember = assertListResponse(await entra('GET',
            `/Groups${q({ filter: `id eq "${g.id}" and members.value eq "${a.id}"`, excludedAttributes: 'members' })}`));
        assert.equal(notMember.totalResults, 0);
        assert.equal((await entra('DELETE', `/Groups/${g.id}`)).status, 204);
    });

    test('startIndex is echoed back', async () => {
        for (let i = 0; i < 3; i++) await newUser(`page${i}`);
        for (const s of [1, 2, 3, 100]) {
            const b = assertListResponse(await entra('GET', `/Users?startIndex=${s}&count=1`));
            assert.equal(b.startIndex, s);
            assert.equal(b.Resources.length, s <= b.totalResults ? 1 : 0);
        }
    });

    describe('aadOptscim062020', () => {
        test('the flag as a query parameter of the tenant URL is accepted and ignored', async () => {
            const u = await newUser('flagq');
            const l = await entra('GET', `/Users?aadOptscim062020&filter=${encodeURIComponent(`userName eq "${u.userName}"`)}`);
            assert.equal(l.status, 200, l.text);
            assert.deepEqual(l.body.Resources.map((x) => x.id), [u.id]);
            const g = await entra('GET', `/Users/${u.id}?aadOptscim062020`);
            assert.equal(g.status, 200, g.text);
            ok204(await entra('PATCH', `/Users/${u.id}?aadOptscim062020`, patch({ op: 'replace', path: 'active', value: false })));
            const p = await entra('POST', '/Users?aadOptscim062020=true', {
                schemas: [URN.USER], userName: 'flag-post@testuser.com', active: true,
            });
            assert.equal(p.status, 201, p.text);
        });

        test('without the flag: Replace with "False", Add with a path, Remove members by value', async () => {
            const u = await newUser('noflag');
            ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })));
            ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'Add', path: 'nickName', value: 'Babs' })));
            ok204(await entra('PATCH', `/Users/${u.id}`, patch(
                { op: 'Replace', path: 'displayName', value: 'Pvlo' },
                { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@contoso.com' },
                { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
                { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
                { op: 'Replace', path: 'externalId', value: 'Eqpj' },
                { op: 'Replace', path: `${URN.ENT}:employeeNumber`, value: 'Eqpj' },
            )));
            const g = await getOk(srv, `/Users/${u.id}`);
            assert.equal(g.active, false);
            assert.equal(g.nickName, 'Babs');
            assert.equal(g.displayName, 'Pvlo');
            assert.equal(g.emails.find((e) => e.type === 'work').value, 'TestBcwqnm@contoso.com');
            assert.deepEqual([g.name.givenName, g.name.familyName], ['Gtfd', 'Pkqf']);
            assert.equal(g.externalId, 'Eqpj');
            assert.equal(g[URN.ENT].employeeNumber, 'Eqpj');
        });

        test('with the flag: lowercase ops, real booleans, pathless values with dotted, filtered and URN keys', async () => {
            const u = await newUser('flag');
            ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'replace', path: 'active', value: false })));
            ok204(await entra('PATCH', `/Users/${u.id}`, patch({ op: 'add', value: { nickName: 'Babs' } })));
            ok204(await entra('PATCH', `/Users/${u.id}`, patch({
                op: 'replace',
                value: {
                    displayName: 'Pvlo',
                    'emails[type eq "work"].value': 'TestBcwqnm@contoso.com',
                    'name.givenName': 'Gtfd',
                    'name.familyName': 'Pkqf',
                    externalId: 'Eqpj',
                    [`${URN.ENT}:employeeNumber`]: 'Eqpj',
                },
            })));
            const g = await getOk(srv, `/Users/${u.id}`);
            assert.equal(g.active, false);
            assert.equal(g.nickName, 'Babs');
            assert.equal(g.displayName, 'Pvlo');
            assert.equal(g.emails.find((e) => e.type === 'work').value, 'TestBcwqnm@contoso.com');
            assert.equal(g.emails.length, 1);
            assert.deepEqual([g.name.givenName, g.name.familyName], ['Gtfd', 'Pkqf']);
            assert.equal(g.externalId, 'Eqpj');
            assert.equal(g[URN.ENT].employeeNumber, 'Eqpj');
        });

        test('with the flag: remove of a member by a value filter', async () => {
            const a = await newUser('fa');
            const b = await newUser('fb');
            const g = (await entra('POST', '/Groups', { schemas: [URN.GROUP], displayName: 'Flag Group',
                members: [{ value: a.id }, { value: b.id }] })).body;
            ok204(await entra('PATCH', `/Groups/${g.id}`, patch({ op: 'remove', path: `members[value eq "${a.id}"]` })));
            const got = await getOk(srv, `/Groups/${g.id}`);
            assert.deepEqual(got.members.map((m) => m.value), [b.id]);
        });
    });
});
