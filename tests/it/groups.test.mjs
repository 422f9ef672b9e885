// /Groups and membership: members of type User and Group, the users' read-only groups (direct
// and indirect), and the cleanup of memberships when a user or group goes away.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    assertScimError, createGroup, createUser, getOk, isScimJson, patchBody, patchOk, q, URN, uniq,
} from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

function memberIds(g) {
    return (g.members || []).map((m) => m.value).sort();
}

function groupsOf(u) {
    const out = {};
    for (const g of u.groups || []) out[g.value] = g;
    return out;
}

describe('/Groups', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('POST creates a group: 201, Location, ETag, meta', async () => {
        const name = uniq('grp');
        const r = await srv.scim('POST', '/Groups', { schemas: [URN.GROUP], displayName: name, externalId: 'gx' });
        assert.equal(r.status, 201, r.text);
        assert.ok(isScimJson(r));
        const g = r.body;
        assert.ok(g.schemas.includes(URN.GROUP));
        assert.equal(g.displayName, name);
        assert.equal(g.externalId, 'gx');
        assert.equal(g.meta.resourceType, 'Group');
        assert.equal(g.meta.location, `${srv.scim}/Groups/${g.id}`);
        assert.equal(r.headers.get('location'), g.meta.location);
        assert.match(g.meta.version, /^W\/".+"$/);
        assert.equal(r.headers.get('etag'), g.meta.version);
        assert.ok(!g.members || g.members.length === 0);
    });

    test('POST with members: [] (Okta) and GET by id', async () => {
        const g = await createGroup(srv, { members: [] });
        const r = await getOk(srv, `/Groups/${g.id}`);
        assert.equal(r.displayName, g.displayName);
        assert.ok(!r.members || r.members.length === 0);
    });

    test('displayName is required', async () => {
        assertScimError(await srv.scim('POST', '/Groups', { schemas: [URN.GROUP] }), 400);
    });

    test('members of type User and Group, with type and display', async () => {
        const u = await createUser(srv, { displayName: 'Member User' });
        const child = await createGroup(srv);
        const r = await srv.scim('POST', '/Groups', {
            schemas: [URN.GROUP],
            displayName: uniq('parent'),
            members: [{ value: u.id }, { value: child.id, type: 'Group' }],
        });
        assert.equal(r.status, 201, r.text);
        const g = await getOk(srv, `/Groups/${r.body.id}`);
        assert.deepEqual(memberIds(g), [u.id, child.id].sort());
        const mu = g.members.find((m) => m.value === u.id);
        const mg = g.members.find((m) => m.value === child.id);
        assert.equal(mu.type, 'User');
        assert.equal(mg.type, 'Group');
        assert.ok(typeof mu.display === 'string' && mu.display.length > 0, JSON.stringify(mu));
        assert.equal(mg.display, child.displayName);
        if (mu.$ref) assert.equal(mu.$ref, `${srv.scim}/Users/${u.id}`);
        if (mg.$ref) assert.equal(mg.$ref, `${srv.scim}/Groups/${child.id}`);
        assert.deepEqual(memberIds(r.body), memberIds(g), 'the POST answer lists the members');
    });

    test('a member display sent by the client comes back', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: u.id, display: 'Shown Name' }] });
        const r = await getOk(srv, `/Groups/${g.id}`);
        assert.equal(r.members[0].display, 'Shown Name');
    });

    // Identity providers (and Microsoft's suite) send members never provisioned here; mandate
    // skips them rather than failing the whole request, and never lists them.
    test('a member that does not exist is skipped, the rest is kept', async () => {
        const u = await createUser(srv);
        const name = uniq('bad');
        const r = await srv.scim('POST', '/Groups', {
            schemas: [URN.GROUP], displayName: name,
            members: [{ value: 'no-such-member' }, { value: u.id }],
        });
        assert.equal(r.status, 201, r.text);
        assert.deepEqual(r.body.members.map((m) => m.value), [u.id]);
        const got = await getOk(srv, `/Groups/${r.body.id}`);
        assert.deepEqual(got.members.map((m) => m.value), [u.id]);
    });

    test("a user's groups: direct and indirect, derived from memberships", async () => {
        const u = await createUser(srv);
        const inner = await createGroup(srv, { members: [{ value: u.id }] });
        const outer = await createGroup(srv, { members: [{ value: inner.id }] });
        const top = await createGroup(srv, { members: [{ value: outer.id }] });
        const other = await createGroup(srv);
        const got = groupsOf(await getOk(srv, `/Users/${u.id}`));
        assert.deepEqual(Object.keys(got).sort(), [inner.id, outer.id, top.id].sort());
        assert.equal(got[inner.id].type, 'direct');
        assert.equal(got[outer.id].type, 'indirect');
        assert.equal(got[top.id].type, 'indirect');
        assert.equal(got[inner.id].display, inner.displayName);
        if (got[inner.id].$ref) assert.equal(got[inner.id].$ref, `${srv.scim}/Groups/${inner.id}`);
        assert.equal(other.id in got, false);
        // Direct wins when the user is both a direct and an indirect member.
        await patchOk(srv, `/Groups/${outer.id}`, { op: 'add', path: 'members', value: [{ value: u.id }] });
        const again = groupsOf(await getOk(srv, `/Users/${u.id}`));
        assert.equal(again[outer.id].type, 'direct');
        assert.equal(Object.keys(again).length, 3, 'each group once');
    });

    test('groups is read-only on users', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv);
        const r = await srv.scim('PATCH', `/Users/${u.id}`,
            patchBody({ op: 'add', path: 'groups', value: [{ value: g.id }] }));
        assertScimError(r, 400, 'mutability');
        const got = await getOk(srv, `/Users/${u.id}`);
        assert.ok(!got.groups || got.groups.length === 0);
    });

    test('deleting a user removes it from its groups', async () => {
        const u = await createUser(srv);
        const keep = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: u.id }, { value: keep.id }] });
        const before1 = await getOk(srv, `/Groups/${g.id}`);
        assert.equal((await srv.scim('DELETE', `/Users/${u.id}`)).status, 204);
        const r = await getOk(srv, `/Groups/${g.id}`);
        assert.deepEqual(memberIds(r), [keep.id]);
        assert.notEqual(r.meta.version, before1.meta.version, 'the group version changes');
        const l = await srv.scim('GET', `/Groups${q({ filter: `members.value eq "${u.id}"` })}`);
        assert.equal(l.body.totalResults, 0);
    });

    test('deleting a group removes its memberships, as group and as member', async () => {
        const u = await createUser(srv);
        const child = await createGroup(srv, { members: [{ value: u.id }] });
        const parent = await createGroup(srv, { members: [{ value: child.id }] });
        assert.equal(Object.keys(groupsOf(await getOk(srv, `/Users/${u.id}`))).length, 2);
        assert.equal((await srv.scim('DELETE', `/Groups/${child.id}`)).status, 204);
        assertScimError(await srv.scim('GET', `/Groups/${child.id}`), 404);
        const p = await getOk(srv, `/Groups/${parent.id}`);
        assert.deepEqual(memberIds(p), []);
        const ug = await getOk(srv, `/Users/${u.id}`);
        assert.ok(!ug.groups || ug.groups.length === 0, JSON.stringify(ug.groups));
        // The user itself is untouched.
        assert.equal(ug.userName, u.userName);
    });

    test('excludedAttributes=members on GET by id and on the list', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: u.id }] });
        const r = await getOk(srv, `/Groups/${g.id}?excludedAttributes=members`);
        assert.equal('members' in r, false);
        assert.equal(r.displayName, g.displayName);
        assert.equal(r.id, g.id);
        const l = await srv.scim('GET', `/Groups${q({ excludedAttributes: 'members', filter: `displayName eq "${g.displayName}"` })}`);
        assert.equal(l.body.totalResults, 1);
        assert.equal('members' in l.body.Resources[0], false);
        assert.equal(l.body.Resources[0].id, g.id);
    });

    test('PUT replaces displayName and the member list', async () => {
        const a = await createUser(srv);
        const b = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: a.id }] });
        const name = uniq('renamed');
        const r = await srv.scim('PUT', `/Groups/${g.id}`,
            { schemas: [URN.GROUP], displayName: name, members: [{ value: b.id }] });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.displayName, name);
        assert.deepEqual(memberIds(r.body), [b.id]);
        assert.deepEqual(memberIds(await getOk(srv, `/Groups/${g.id}`)), [b.id]);
        const ga = await getOk(srv, `/Users/${a.id}`);
        assert.ok(!ga.groups || ga.groups.length === 0);
        const r2 = await srv.scim('PUT', `/Groups/${g.id}`, { schemas: [URN.GROUP], displayName: name });
        assert.equal(r2.status, 200);
        assert.deepEqual(memberIds(await getOk(srv, `/Groups/${g.id}`)), []);
    });

    test('PATCH members: add, remove by filter, replace, remove all; version changes', async () => {
        const [a, b, c] = [await createUser(srv), await createUser(srv), await createUser(srv)];
        const g = await createGroup(srv);
        let v = g.meta.version;
        const step = async (op, want) => {
            await patchOk(srv, `/Groups/${g.id}`, op);
            const got = await getOk(srv, `/Groups/${g.id}`);
            assert.deepEqual(memberIds(got), want.sort(), JSON.stringify(op));
            assert.notEqual(got.meta.version, v, 'version changes with membership');
            v = got.meta.version;
        };
        await step({ op: 'add', path: 'members', value: [{ value: a.id }, { value: b.id }] }, [a.id, b.id]);
        await step({ op: 'remove', path: `members[value eq "${a.id}"]` }, [b.id]);
        await step({ op: 'replace', path: 'members', value: [{ value: c.id }, { value: a.id }] }, [a.id, c.id]);
        await step({ op: 'remove', path: 'members' }, []);
    });

    test('concurrent member adds to one group lose nothing', async () => {
        const us = await Promise.all(Array.from({ length: 20 }, () => createUser(srv)));
        const g = await createGroup(srv);
        const rs = await Promise.all(us.map((u) => srv.scim('PATCH', `/Groups/${g.id}`,
            patchBody({ op: 'add', path: 'members', value: [{ value: u.id }] }))));
        for (const r of rs) assert.equal(r.status, 204, r.text);
        const got = await getOk(srv, `/Groups/${g.id}`);
        assert.deepEqual(memberIds(got), us.map((u) => u.id).sort());
    });

    test('adding an existing member is harmless', async () => {
        const a = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: a.id }] });
        await patchOk(srv, `/Groups/${g.id}`, { op: 'add', path: 'members', value: [{ value: a.id }] });
        assert.deepEqual(memberIds(await getOk(srv, `/Groups/${g.id}`)), [a.id]);
    });

    test('a cycle of groups does not hang the groups of a user', async () => {
        const u = await createUser(srv);
        const g1 = await createGroup(srv, { members: [{ value: u.id }] });
        const g2 = await createGroup(srv, { members: [{ value: g1.id }] });
        const r = await srv.scim('PATCH', `/Groups/${g1.id}`,
            patchBody({ op: 'add', path: 'members', value: [{ value: g2.id }] }));
        assert.ok([200, 204, 400].includes(r.status), r.text);
        const got = groupsOf(await getOk(srv, `/Users/${u.id}`));
        assert.deepEqual(Object.keys(got).sort(), [g1.id, g2.id].sort());
        assert.equal(got[g1.id].type, 'direct');
    });

    test('a group made a member of itself does not hang reads', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: u.id }] });
        const r = await srv.scim('PATCH', `/Groups/${g.id}`,
            patchBody({ op: 'add', path: 'members', value: [{ value: g.id }] }));
        assert.ok([200, 204, 400].includes(r.status), r.text);
        assert.equal((await srv.scim('GET', `/Groups/${g.id}`)).status, 200);
        const got = groupsOf(await getOk(srv, `/Users/${u.id}`));
        assert.deepEqual(Object.keys(got), [g.id]);
    });

    test('groups by member: members.value eq and members[value eq]', async () => {
        const u = await createUser(srv);
        const g1 = await createGroup(srv, { members: [{ value: u.id }] });
        await createGroup(srv);
        for (const f of [`members.value eq "${u.id}"`, `members[value eq "${u.id}"]`,
            `id eq "${g1.id}" and members.value eq "${u.id}"`]) {
            const r = await srv.scim('GET', `/Groups${q({ filter: f, excludedAttributes: 'members' })}`);
            assert.equal(r.status, 200, `${f}: ${r.text}`);
            assert.deepEqual(r.body.Resources.map((x) => x.id), [g1.id], f);
        }
    });

    test('DELETE group: 204, then 404', async () => {
        const g = await createGroup(srv);
        const d = await srv.scim('DELETE', `/Groups/${g.id}`);
        assert.equal(d.status, 204);
        assert.equal(d.text, '');
        assertScimError(await srv.scim('GET', `/Groups/${g.id}`), 404);
        assertScimError(await srv.scim('DELETE', `/Groups/${g.id}`), 404);
    });

    test('GET /Groups lists groups only', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv);
        const r = await srv.scim('GET', '/Groups?count=1000');
        assert.equal(r.status, 200);
        const idsSeen = r.body.Resources.map((x) => x.id);
        assert.ok(idsSeen.includes(g.id));
        assert.equal(idsSeen.includes(u.id), false);
        for (const x of r.body.Resources) assert.equal(x.meta.resourceType, 'Group');
    });
});
