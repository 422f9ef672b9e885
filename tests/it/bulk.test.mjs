// /Bulk (RFC 7644 section 3.7): operations of every method, bulkId references, failOnErrors,
// per-operation status and location, and the advertised limits.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    assertScimError, createUser, getOk, isScimJson, q, spc, URN, uniq,
} from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const bulk = (ops, extra = {}) => ({ schemas: [URN.BULKREQ], Operations: ops, ...extra });
const postUser = (bulkId, userName, extra = {}) => ({
    method: 'POST', path: '/Users', bulkId, data: { schemas: [URN.USER], userName, ...extra },
});

describe('/Bulk', () => {
    let srv;
    let limits;
    before(async () => {
        srv = await startServer();
        limits = (await spc(srv)).bulk;
    });
    after(() => srv && srv.close());

    const run = async (body) => {
        const r = await srv.scim('POST', '/Bulk', body);
        assert.equal(r.status, 200, r.text);
        assert.ok(isScimJson(r));
        assert.deepEqual(r.body.schemas, [URN.BULKRESP]);
        assert.ok(Array.isArray(r.body.Operations));
        return r.body.Operations;
    };

    test('limits are advertised', () => {
        assert.equal(limits.supported, true);
        assert.ok(limits.maxOperations > 0);
        assert.ok(limits.maxPayloadSize > 0);
    });

    test('POST user and group with a bulkId reference as member', async () => {
        const n = uniq('bulk');
        const ops = await run(bulk([
            postUser('u1', `${n}@example.com`),
            { method: 'POST', path: '/Groups', bulkId: 'g1',
                data: { schemas: [URN.GROUP], displayName: `${n}-group`, members: [{ type: 'User', value: 'bulkId:u1' }] } },
            { method: 'POST', path: '/Groups', bulkId: 'g2',
                data: { schemas: [URN.GROUP], displayName: `${n}-outer`, members: [{ value: 'bulkId:g1' }] } },
        ]));
        assert.equal(ops.length, 3);
        const [u, g, g2] = ops;
        for (const o of ops) {
            assert.equal(o.method, 'POST');
            assert.equal(o.status, '201', JSON.stringify(o));
            assert.match(o.version, /^W\/".+"$/);
        }
        assert.equal(u.bulkId, 'u1');
        assert.equal(g.bulkId, 'g1');
        assert.match(u.location, new RegExp(`^${srv.scim}/Users/[^/]+$`));
        assert.match(g.location, new RegExp(`^${srv.scim}/Groups/[^/]+$`));
        const uid = u.location.split('/').pop();
        const gid = g.location.split('/').pop();
        const group = await getOk(srv, `/Groups/${gid}`);
        assert.deepEqual(group.members.map((m) => m.value), [uid]);
        const outer = await getOk(srv, `/Groups/${g2.location.split('/').pop()}`);
        assert.deepEqual(outer.members.map((m) => m.value), [gid]);
        const user = await getOk(srv, `/Users/${uid}`);
        assert.equal(user.userName, `${n}@example.com`);
        assert.equal(user.groups.length, 2);
    });

    test('a bulkId reference may come before the operation that defines it', async () => {
        const n = uniq('fwd');
        const ops = await run(bulk([
            { method: 'POST', path: '/Groups', bulkId: 'g',
                data: { schemas: [URN.GROUP], displayName: n, members: [{ value: 'bulkId:later' }] } },
            postUser('later', `${n}@example.com`),
        ]));
        assert.deepEqual(ops.map((o) => o.status), ['201', '201'], JSON.stringify(ops));
        const g = ops.find((o) => o.bulkId === 'g');
        const u = ops.find((o) => o.bulkId === 'later');
        const group = await getOk(srv, `/Groups/${g.location.split('/').pop()}`);
        assert.deepEqual(group.members.map((m) => m.value), [u.location.split('/').pop()]);
    });

    test('PUT, PATCH and DELETE operations', async () => {
        const a = await createUser(srv, { title: 'A' });
        const b = await createUser(srv, { title: 'B' });
        const c = await createUser(srv);
        const ops = await run(bulk([
            { method: 'PUT', path: `/Users/${a.id}`, data: { schemas: [URN.USER], userName: a.userName, title: 'A2' } },
            { method: 'PATCH', path: `/Users/${b.id}`,
                data: { schemas: [URN.PATCH], Operations: [{ op: 'replace', path: 'title', value: 'B2' }] } },
            { method: 'DELETE', path: `/Users/${c.id}` },
        ]));
        assert.equal(ops.length, 3);
        assert.equal(ops[0].method, 'PUT');
        assert.equal(ops[0].status, '200');
        assert.equal(ops[0].location, `${srv.scim}/Users/${a.id}`);
        assert.equal(ops[1].method, 'PATCH');
        assert.ok(['200', '204'].includes(ops[1].status), JSON.stringify(ops[1]));
        assert.equal(ops[2].method, 'DELETE');
        assert.equal(ops[2].status, '204');
        assert.equal((await getOk(srv, `/Users/${a.id}`)).title, 'A2');
        assert.equal((await getOk(srv, `/Users/${b.id}`)).title, 'B2');
        assertScimError(await srv.scim('GET', `/Users/${c.id}`), 404);
    });

    test('errors are reported per operation and the others still run', async () => {
        const taken = await createUser(srv);
        const n = uniq('err');
        const ops = await run(bulk([
            postUser('dup', taken.userName),
            postUser('ok1', `${n}-1@example.com`),
            { method: 'DELETE', path: '/Users/no-such-id' },
            postUser('ok2', `${n}-2@example.com`),
        ]));
        assert.equal(ops.length, 4);
        assert.equal(ops[0].status, '409');
        assert.deepEqual(ops[0].response.schemas, [URN.ERROR]);
        assert.equal(ops[0].response.scimType, 'uniqueness');
        assert.equal(ops[0].response.status, '409');
        assert.equal(ops[1].status, '201');
        assert.equal(ops[2].status, '404');
        assert.equal(ops[3].status, '201');
    });

    test('failOnErrors stops after that many errors', async () => {
        const taken = await createUser(srv);
        const n = uniq('foe');
        const ops = await run(bulk([
            postUser('a', taken.userName),
            postUser('b', `${n}-b@example.com`),
            postUser('c', taken.userName),
            postUser('d', `${n}-d@example.com`),
        ], { failOnErrors: 2 }));
        assert.deepEqual(ops.map((o) => o.status), ['409', '201', '409'], JSON.stringify(ops));
        const d = await srv.scim('GET', `/Users${q({ filter: `userName eq "${n}-d@example.com"` })}`);
        assert.equal(d.body.totalResults, 0, 'the operation after the stop did not run');
        const one = await run(bulk([
            postUser('x', taken.userName),
            postUser('y', `${n}-y@example.com`),
        ], { failOnErrors: 1 }));
        assert.equal(one.length, 1);
        assert.equal(one[0].status, '409');
        const y = await srv.scim('GET', `/Users${q({ filter: `userName eq "${n}-y@example.com"` })}`);
        assert.equal(y.body.totalResults, 0);
    });

    test('an unresolved bulkId fails that operation', async () => {
        const ops = await run(bulk([
            { method: 'POST', path: '/Groups', bulkId: 'g',
                data: { schemas: [URN.GROUP], displayName: uniq('unres'), members: [{ value: 'bulkId:nowhere' }] } },
        ]));
        assert.equal(ops.length, 1);
        assert.match(ops[0].status, /^4\d\d$/, JSON.stringify(ops[0]));
    });

    test('POST operations need a bulkId', async () => {
        const r = await srv.scim('POST', '/Bulk', bulk([
            { method: 'POST', path: '/Users', data: { schemas: [URN.USER], userName: uniq('nob') } },
        ]));
        if (r.status === 200) assert.match(r.body.Operations[0].status, /^400$/);
        else assertScimError(r, 400);
    });

    test('a bad method or path fails its operation', async () => {
        const ops = await run(bulk([
            { method: 'GET', path: '/Users' },
            { method: 'POST', path: '/Nope', bulkId: 'n', data: {} },
        ]));
        assert.equal(ops.length, 2);
        for (const o of ops) assert.match(o.status, /^4\d\d$/, JSON.stringify(o));
    });

    test('more than maxOperations: 413', async () => {
        const ops = [];
        for (let i = 0; i <= limits.maxOperations; i++) ops.push({ method: 'DELETE', path: `/Users/none-${i}` });
        const r = await srv.scim('POST', '/Bulk', bulk(ops));
        assertScimError(r, 413);
        assert.match(r.body.detail || '', new RegExp(String(limits.maxOperations)), 'the error names the limit');
    });

    test('more than maxPayloadSize bytes: 413', async () => {
        const body = JSON.stringify(bulk([postUser('p', 'x@example.com', { title: 'x'.repeat(limits.maxPayloadSize) })]));
        assert.ok(body.length > limits.maxPayloadSize);
        const r = await srv.scim('POST', '/Bulk', body);
        assertScimError(r, 413);
        const l = await srv.scim('GET', `/Users${q({ filter: 'userName eq "x@example.com"' })}`);
        assert.equal(l.body.totalResults, 0);
    });

    test('a body that is not a BulkRequest: 400', async () => {
        assertScimError(await srv.scim('POST', '/Bulk', { schemas: [URN.USER], Operations: [] }), 400);
        assertScimError(await srv.scim('POST', '/Bulk', { schemas: [URN.BULKREQ] }), 400);
        assertScimError(await srv.scim('POST', '/Bulk', '{not json'), 400, 'invalidSyntax');
    });
});
