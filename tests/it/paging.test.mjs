// Paging (startIndex, count, count=0, the page-size cap) and sorting (sortBy, sortOrder),
// RFC 7644 sections 3.4.2.3 and 3.4.2.4.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, assertScimError, createGroup, q, spc, URN } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

describe('paging and sorting', () => {
    let srv;
    const users = [];
    before(async () => {
        srv = await startServer();
        // Seven users whose userName order differs from their creation order.
        const names = ['golf', 'alpha', 'echo', 'charlie', 'foxtrot', 'bravo', 'delta'];
        for (const [i, n] of names.entries()) {
            const r = await srv.scim('POST', '/Users', {
                schemas: [URN.USER], userName: `${n}@example.com`,
                name: { familyName: `Family${String.fromCharCode(90 - i)}`, givenName: n },
                title: i % 2 ? 'odd' : 'even',
            });
            assert.equal(r.status, 201, r.text);
            users.push(r.body);
        }
    });
    after(() => srv && srv.close());

    const list = async (params) => assertListResponse(await srv.scim('GET', `/Users${q(params)}`));

    test('a ListResponse with totalResults, startIndex, itemsPerPage and Resources', async () => {
        const b = await list({});
        assert.equal(b.totalResults, 7);
        assert.equal(b.startIndex, 1);
        assert.equal(b.itemsPerPage, 7);
        assert.equal(b.Resources.length, 7);
        for (const r of b.Resources) {
            assert.ok(r.schemas.includes(URN.USER));
            assert.equal(r.meta.resourceType, 'User');
        }
    });

    test('pages without sortBy cover every resource once, in a stable order', async () => {
        const seen = [];
        for (let start = 1; start <= 7; start += 3) {
            const b = await list({ startIndex: start, count: 3 });
            assert.equal(b.totalResults, 7);
            assert.equal(b.startIndex, start);
            assert.equal(b.itemsPerPage, b.Resources.length);
            assert.equal(b.Resources.length, Math.min(3, 8 - start));
            seen.push(...b.Resources.map((r) => r.id));
        }
        assert.equal(new Set(seen).size, 7);
        assert.deepEqual([...seen].sort(), users.map((u) => u.id).sort());
        const again = (await list({ count: 7 })).Resources.map((r) => r.id);
        assert.deepEqual(again, seen, 'the same order every time');
    });

    test('startIndex past the end: no resources, totalResults kept, startIndex echoed', async () => {
        const b = await list({ startIndex: 50, count: 10 });
        assert.equal(b.totalResults, 7);
        assert.equal(b.startIndex, 50);
        assert.deepEqual(b.Resources, []);
        assert.equal(b.itemsPerPage, 0);
    });

    test('startIndex below 1 is taken as 1', async () => {
        for (const s of [0, -5]) {
            const b = await list({ startIndex: s, count: 2 });
            assert.equal(b.startIndex, 1);
            assert.equal(b.Resources.length, 2);
        }
    });

    test('count=0 gives only totalResults', async () => {
        const b = await list({ count: 0 });
        assert.equal(b.totalResults, 7);
        assert.deepEqual(b.Resources, []);
        assert.equal(b.itemsPerPage, 0);
        const f = await list({ count: 0, filter: 'title eq "odd"' });
        assert.equal(f.totalResults, 3);
        assert.deepEqual(f.Resources, []);
    });

    test('a negative count is taken as 0', async () => {
        const b = await list({ count: -3 });
        assert.equal(b.totalResults, 7);
        assert.deepEqual(b.Resources, []);
    });

    test('count and startIndex that are not integers: 400', async () => {
        assertScimError(await srv.scim('GET', '/Users?count=abc'), 400);
        assertScimError(await srv.scim('GET', '/Users?startIndex=x1'), 400);
    });

    test('paging counts the filtered set', async () => {
        const b = await list({ filter: 'title eq "even"', count: 2, startIndex: 2 });
        assert.equal(b.totalResults, 4);
        assert.equal(b.Resources.length, 2);
        for (const r of b.Resources) assert.equal(r.title, 'even');
    });

    test('sortBy userName, ascending by default and descending', async () => {
        const want = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'].map((n) => `${n}@example.com`);
        const asc = await list({ sortBy: 'userName' });
        assert.deepEqual(asc.Resources.map((r) => r.userName), want);
        const asc2 = await list({ sortBy: 'userName', sortOrder: 'ascending' });
        assert.deepEqual(asc2.Resources.map((r) => r.userName), want);
        const desc = await list({ sortBy: 'userName', sortOrder: 'descending' });
        assert.deepEqual(desc.Resources.map((r) => r.userName), [...want].reverse());
        const page = await list({ sortBy: 'userName', startIndex: 3, count: 2 });
        assert.deepEqual(page.Resources.map((r) => r.userName), want.slice(2, 4));
    });

    test('sortBy a sub-attribute, a date, case-insensitive names', async () => {
        const fam = await list({ sortBy: 'name.familyName' });
        const famNames = fam.Resources.map((r) => r.name.familyName);
        assert.deepEqual(famNames, [...famNames].sort());
        assert.equal(famNames[0], 'FamilyT');
        const created = await list({ sortBy: 'meta.created', sortOrder: 'descending' });
        assert.deepEqual(created.Resources.map((r) => r.id), users.map((u) => u.id).reverse());
        const ci = await list({ sortBy: 'USERNAME', sortOrder: 'Descending' });
        assert.equal(ci.Resources[0].userName, 'golf@example.com');
    });

    test('sortBy an unknown attribute: 400', async () => {
        assertScimError(await srv.scim('GET', '/Users?sortBy=noSuchAttribute'), 400);
    });

    test('paging and sorting on groups', async () => {
        const gs = [];
        for (const n of ['Zulu', 'Mike', 'Alpha']) gs.push(await createGroup(srv, { displayName: `${n} group` }));
        const r = assertListResponse(await srv.scim('GET', `/Groups${q({ sortBy: 'displayName', count: 2 })}`));
        assert.equal(r.totalResults, 3);
        assert.deepEqual(r.Resources.map((g) => g.displayName), ['Alpha group', 'Mike group']);
        const p2 = assertListResponse(await srv.scim('GET', `/Groups${q({ sortBy: 'displayName', count: 2, startIndex: 3 })}`));
        assert.deepEqual(p2.Resources.map((g) => g.displayName), ['Zulu group']);
        assert.equal(p2.startIndex, 3);
    });

    test('count over the maximum page size is capped at filter.maxResults', async () => {
        const max = (await spc(srv)).filter.maxResults;
        assert.ok(Number.isInteger(max) && max > 0, `filter.maxResults ${max}`);
        assert.ok(max <= 5000, `maxResults ${max} is too large to test here`);
        // Enough users to exceed the cap, created eight at a time.
        const need = max + 3 - 7;
        let made = 0;
        while (made < need) {
            const batch = [];
            for (let i = 0; i < 8 && made < need; i++, made++) {
                batch.push(srv.scim('POST', '/Users', { schemas: [URN.USER], userName: `cap${made}@example.com` }));
            }
            for (const r of await Promise.all(batch)) assert.equal(r.status, 201, r.text);
        }
        const b = await list({ count: max * 10 });
        assert.equal(b.totalResults, max + 3);
        assert.equal(b.Resources.length, max);
        assert.equal(b.itemsPerPage, max);
        const d = await list({});
        assert.ok(d.Resources.length <= max, 'the default page is capped too');
        const s = assertListResponse(await srv.scim('POST', '/Users/.search', { schemas: [URN.SEARCH], count: max * 10 }));
        assert.equal(s.Resources.length, max);
    });
});
