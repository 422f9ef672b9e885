// POST /.search on /Users, /Groups and the root (RFC 7644 section 3.4.3).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, assertScimError, createGroup, createUser, URN } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const search = (extra = {}) => ({ schemas: [URN.SEARCH], ...extra });

describe('POST .search', () => {
    let srv;
    let users;
    let groups;
    before(async () => {
        srv = await startServer();
        users = [
            await createUser(srv, { userName: 'sa@example.com', title: 'x', externalId: 'shared-ext' }),
            await createUser(srv, { userName: 'sb@example.com', title: 'y' }),
            await createUser(srv, { userName: 'sc@example.com', title: 'x' }),
        ];
        groups = [
            await createGroup(srv, { displayName: 'Search One', externalId: 'shared-ext', members: [{ value: users[0].id }] }),
            await createGroup(srv, { displayName: 'Search Two' }),
        ];
    });
    after(() => srv && srv.close());

    test('/Users/.search with filter, sortBy, sortOrder, startIndex and count', async () => {
        const r = await srv.scim('POST', '/Users/.search', search({
            filter: 'title eq "x"', sortBy: 'userName', sortOrder: 'descending', startIndex: 1, count: 10,
        }));
        const b = assertListResponse(r);
        assert.equal(b.totalResults, 2);
        assert.deepEqual(b.Resources.map((u) => u.userName), ['sc@example.com', 'sa@example.com']);
        const p = assertListResponse(await srv.scim('POST', '/Users/.search',
            search({ sortBy: 'userName', startIndex: 2, count: 1 })));
        assert.equal(p.totalResults, 3);
        assert.equal(p.startIndex, 2);
        assert.deepEqual(p.Resources.map((u) => u.userName), ['sb@example.com']);
    });

    test('/Users/.search with attributes and excludedAttributes', async () => {
        const a = assertListResponse(await srv.scim('POST', '/Users/.search',
            search({ filter: 'userName eq "sa@example.com"', attributes: ['userName'] })));
        assert.equal(a.Resources.length, 1);
        assert.equal(a.Resources[0].userName, 'sa@example.com');
        assert.equal(a.Resources[0].id, users[0].id);
        assert.equal('title' in a.Resources[0], false);
        assert.equal('emails' in a.Resources[0], false);
        const x = assertListResponse(await srv.scim('POST', '/Users/.search',
            search({ filter: 'userName eq "sa@example.com"', excludedAttributes: ['title', 'emails'] })));
        assert.equal(x.Resources[0].userName, 'sa@example.com');
        assert.equal('title' in x.Resources[0], false);
        assert.equal('emails' in x.Resources[0], false);
        assert.ok(x.Resources[0].name);
    });

    test('/Users/.search with count 0', async () => {
        const b = assertListResponse(await srv.scim('POST', '/Users/.search', search({ count: 0 })));
        assert.equal(b.totalResults, 3);
        assert.deepEqual(b.Resources, []);
    });

    test('/Groups/.search', async () => {
        const b = assertListResponse(await srv.scim('POST', '/Groups/.search',
            search({ filter: 'displayName sw "Search"', excludedAttributes: ['members'], sortBy: 'displayName' })));
        assert.equal(b.totalResults, 2);
        assert.deepEqual(b.Resources.map((g) => g.id), groups.map((g) => g.id));
        for (const g of b.Resources) assert.equal('members' in g, false);
        const m = assertListResponse(await srv.scim('POST', '/Groups/.search',
            search({ filter: `members.value eq "${users[0].id}"` })));
        assert.deepEqual(m.Resources.map((g) => g.id), [groups[0].id]);
    });

    test('/.search at the root returns both types', async () => {
        const all = assertListResponse(await srv.scim('POST', '/.search', search({ count: 100 })));
        assert.equal(all.totalResults, 5);
        const types = all.Resources.map((r) => r.meta.resourceType).sort();
        assert.deepEqual(types, ['Group', 'Group', 'User', 'User', 'User']);
        const ids = all.Resources.map((r) => r.id).sort();
        assert.deepEqual(ids, [...users, ...groups].map((r) => r.id).sort());
        for (const r of all.Resources) {
            const want = r.meta.resourceType === 'User' ? URN.USER : URN.GROUP;
            assert.ok(r.schemas.includes(want));
        }
    });

    test('/.search at the root with a filter on a common attribute', async () => {
        const b = assertListResponse(await srv.scim('POST', '/.search', search({ filter: 'externalId eq "shared-ext"' })));
        assert.equal(b.totalResults, 2);
        assert.deepEqual(b.Resources.map((r) => r.id).sort(), [users[0].id, groups[0].id].sort());
    });

    test('/.search at the root pages across both types', async () => {
        const seen = [];
        for (let s = 1; s <= 5; s += 2) {
            const b = assertListResponse(await srv.scim('POST', '/.search', search({ startIndex: s, count: 2 })));
            assert.equal(b.totalResults, 5);
            assert.equal(b.startIndex, s);
            seen.push(...b.Resources.map((r) => r.id));
        }
        assert.equal(new Set(seen).size, 5);
        const z = assertListResponse(await srv.scim('POST', '/.search', search({ count: 0 })));
        assert.equal(z.totalResults, 5);
        assert.deepEqual(z.Resources, []);
    });

    test('errors: invalid filter, wrong schema, malformed body', async () => {
        assertScimError(await srv.scim('POST', '/Users/.search', search({ filter: 'userName eq' })), 400, 'invalidFilter');
        assertScimError(await srv.scim('POST', '/.search', search({ filter: '(' })), 400, 'invalidFilter');
        assertScimError(await srv.scim('POST', '/Groups/.search', search({ filter: 'displayName xx "a"' })), 400, 'invalidFilter');
        assertScimError(await srv.scim('POST', '/Users/.search', { schemas: [URN.USER], filter: 'userName pr' }), 400);
        assertScimError(await srv.scim('POST', '/Users/.search', '{"schemas": ['), 400, 'invalidSyntax');
        assertScimError(await srv.scim('POST', '/Users/.search', search({ count: 'many' })), 400);
        assertScimError(await srv.scim('POST', '/Users/.search', search({ sortBy: 'noSuchAttribute' })), 400);
    });
});
