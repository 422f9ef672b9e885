// Two mandate nodes (A and B) on one PostgreSQL database, as behind a load balancer: what one
// node commits, the other serves at once; a PostgreSQL restart makes both answer 503 quickly,
// both come back by themselves, and no acknowledged write is lost.
//
// Runs only with MANDATE_TEST_BACKEND=postgres. The nodes use a PostgreSQL cluster of their own
// (scripts/pg.sh in a temporary directory), because this file stops and starts its server while
// the other test files run against the shared one. Where no cluster can be made here (no server
// binaries), the nodes share MANDATE_TEST_PG and the restart test is skipped.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, assertScimError, createGroup, createUser, getOk, patchOk, q, URN } from './lib/scim.mjs';
import {
    BACKEND, destroyPgCluster, newDb, PG_URL, pgsh, runCli, sleep, startPgCluster, startServer, waitFor,
} from './lib/server.mjs';

const skip = BACKEND === 'postgres' ? false :
    'two nodes need PostgreSQL: run with MANDATE_TEST_BACKEND=postgres (MANDATE_TEST_BACKENDS="sqlite postgres" scripts/it.sh)';

/*
 * A resource as every node must serve it: URLs (meta.location, $ref) follow each node's Host
 * header, so the node's own base URL is replaced by a placeholder.
 */
function sameResource(r, node) {
    return JSON.parse(JSON.stringify(r).split(node.base).join('BASE'));
}

function percentile(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

// A skipped test rather than a skipped suite, so that the runner's summary counts it.
if (skip) test('two nodes on one PostgreSQL database', { skip }, () => {});
else describe('two nodes on one PostgreSQL database', { timeout: 180000 }, () => {
    let clusterDir = null; // our own cluster, or null when sharing MANDATE_TEST_PG
    let why = ''; // why there is no cluster of our own
    let a;
    let b;

    before(async () => {
        let server = PG_URL;
        try {
            const c = await startPgCluster();
            server = c.url;
            clusterDir = c.dir;
        } catch (err) {
            why = err.message;
        }
        const db = await newDb(null, { pg: server });
        a = await startServer({ db });
        b = await startServer({ db, token: a.token });
    });

    after(async () => {
        // B first: A's close drops nothing (the database was given), the cluster goes last.
        try {
            if (b) await b.close();
            if (a) await a.close();
        } finally {
            if (clusterDir) await destroyPgCluster(clusterDir);
        }
    });

    test('users and a group provisioned on A are read on B: by id, by filter, members, groups', async () => {
        const users = [];
        for (let i = 0; i < 3; i++) users.push(await createUser(a, { externalId: `mn-ext-${i}-${Date.now()}` }));
        const group = await createGroup(a, { members: [{ value: users[0].id }, { value: users[1].id }] });

        for (const u of users) {
            const onA = await getOk(a, `/Users/${u.id}`);
            const onB = await getOk(b, `/Users/${u.id}`);
            assert.deepEqual(sameResource(onB, b), sameResource(onA, a), `user ${u.id} differs between the nodes`);
            assert.equal(onB.meta.location, `${b.scimUrl}/Users/${u.id}`);
        }

        let l = assertListResponse(await b.scim('GET', `/Users${q({ filter: `userName eq "${users[2].userName}"` })}`));
        assert.equal(l.totalResults, 1, JSON.stringify(l));
        assert.equal(l.Resources[0].id, users[2].id);
        l = assertListResponse(await b.scim('GET', `/Users${q({ filter: `externalId eq "${users[1].externalId}"` })}`));
        assert.deepEqual(l.Resources.map((r) => r.id), [users[1].id]);

        const g = await getOk(b, `/Groups/${group.id}`);
        assert.equal(g.displayName, group.displayName);
        assert.deepEqual((g.members || []).map((m) => m.value).sort(), [users[0].id, users[1].id].sort());
        l = assertListResponse(await b.scim('GET', `/Groups${q({ filter: `displayName eq "${group.displayName}"` })}`));
        assert.deepEqual(l.Resources.map((r) => r.id), [group.id]);

        const u0 = await getOk(b, `/Users/${users[0].id}`);
        assert.deepEqual((u0.groups || []).map((x) => x.value), [group.id], JSON.stringify(u0));
        const u2 = await getOk(b, `/Users/${users[2].id}`);
        assert.deepEqual(u2.groups || [], []);

        // A membership change on A shows on B, in the group and in the user's groups.
        await patchOk(a, `/Groups/${group.id}`, { op: 'add', path: 'members', value: [{ value: users[2].id }] });
        const u2b = await getOk(b, `/Users/${users[2].id}`);
        assert.deepEqual((u2b.groups || []).map((x) => x.value), [group.id]);
        await patchOk(a, `/Groups/${group.id}`, { op: 'remove', path: `members[value eq "${users[0].id}"]` });
        const gb = await getOk(b, `/Groups/${group.id}`);
        assert.deepEqual((gb.members || []).map((m) => m.value).sort(), [users[1].id, users[2].id].sort());

        // And the other way round: B writes, A reads.
        const fromB = await createUser(b);
        assert.equal((await getOk(a, `/Users/${fromB.id}`)).userName, fromB.userName);
        // userName stays unique across the nodes.
        const dup = await a.scim('POST', '/Users', { schemas: [URN.USER], userName: fromB.userName.toUpperCase() });
        assertScimError(dup, 409, 'uniqueness');
    });

    test('a user deactivated on A reads active: false on B at once', async () => {
        const u = await createUser(a);
        assert.equal((await getOk(b, `/Users/${u.id}`)).active, true);
        await patchOk(a, `/Users/${u.id}`, { op: 'replace', path: 'active', value: false });
        assert.equal((await getOk(b, `/Users/${u.id}`)).active, false);
        const l = assertListResponse(await b.scim('GET',
            `/Users${q({ filter: `userName eq "${u.userName}" and active eq false` })}`));
        assert.deepEqual(l.Resources.map((r) => r.id), [u.id]);
        // A DELETE on A is a 404 on B.
        assert.equal((await a.scim('DELETE', `/Users/${u.id}`)).status, 204);
        assertScimError(await b.scim('GET', `/Users/${u.id}`), 404);
    });

    /* The data path: how long after A answers a write B serves it. */
    test('B serves what A committed as soon as A answers (cross-node latency measured)', async (t) => {
        const u = await createUser(a);
        const lat = [];
        let retried = 0;
        for (let i = 0; i < 40; i++) {
            const want = `Latency ${i} ${Date.now()}`;
            await patchOk(a, `/Users/${u.id}`, { op: 'replace', path: 'displayName', value: want });
            const t0 = performance.now();
            let tries = 0;
            for (;;) {
                tries += 1;
                const r = await getOk(b, `/Users/${u.id}`);
                if (r.displayName === want) break;
                assert.ok(performance.now() - t0 < 1000, `B still serves "${r.displayName}" 1 s after A answered`);
                await sleep(5);
            }
            if (tries > 1) retried += 1;
            lat.push(performance.now() - t0);
        }
        lat.sort((x, y) => x - y);
        t.diagnostic(`A write -> B read: p50 ${percentile(lat, 50).toFixed(1)} ms, p95 ` +
            `${percentile(lat, 95).toFixed(1)} ms, max ${lat[lat.length - 1].toFixed(1)} ms over ${lat.length}; ` +
            `${retried} needed more than one read`);
        assert.equal(retried, 0, 'B must serve A\'s committed write on its first read');
    });

    /*
     * The access model's entitlement cache on B is invalidated by A's changes through the
     * PostgreSQL change feed (NOTIFY, with a polled counter behind it): a deactivation, a
     * removal from the only granting group and a revoked grant must each turn B's next
     * decisions into denials within a second of A answering.
     */
    test('deactivate on A, denied on B within 1 s; likewise removal from the group and a deleted grant',
        async (t) => {
            const r = await runCli(['token', 'create', '--kind', 'admin', '--name', 'mn', '--db', a.dbPath]);
            assert.equal(r.code, 0, r.stderr);
            const admin = r.stdout.trim();
            const api = async (node, method, p, body) => {
                const res = await fetch(`${node.base}/api/v1${p}`, {
                    method,
                    headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
                    body: body === undefined ? undefined : JSON.stringify(body),
                });
                const text = await res.text();
                return { status: res.status, body: text ? JSON.parse(text) : null };
            };
            const tool = 'mn__read_thing';
            let res = await api(a, 'PUT', '/connectors/mn', {
                name: 'mn', title: 'Two-node test', base_url: 'http://127.0.0.1:9',
                tools: [{
                    name: 'read_thing', title: 'Read a thing', description: 'Reads a thing.', level: 'read',
                    input_schema: { type: 'object', properties: {} },
                    request: { method: 'GET', path: '/thing' },
                }],
            });
            assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res));
            const u = await createUser(a);
            const g = await createGroup(a, { members: [{ value: u.id }] });
            res = await api(a, 'POST', '/grants', { subject: { type: 'group', id: g.id }, tool, reason: 'two-node test' });
            assert.equal(res.status, 201, JSON.stringify(res));
            const grant = res.body.id;
            const decideOnB = async () => {
                const d = await api(b, 'POST', '/decisions', { user: u.id, tool });
                assert.equal(d.status, 200, JSON.stringify(d));
                return d.body;
            };
            // B learns of A's grant through the feed too.
            await waitFor(async () => (await decideOnB()).allowed, { timeout: 1000, what: 'B allows after A granted' });

            /* Changes on A, then B's decisions until denied; returns how long that took. */
            const deniedOnB = async (what, change, reason) => {
                for (let i = 0; i < 3; i++) assert.equal((await decideOnB()).allowed, true, `${what}: warm`);
                await change();
                const t0 = performance.now();
                let d;
                for (;;) {
                    d = await decideOnB();
                    if (!d.allowed) break;
                    assert.ok(performance.now() - t0 < 1000, `${what}: B still allows 1 s after A answered`);
                    await sleep(5);
                }
                const ms = performance.now() - t0;
                assert.equal(d.reason, reason, JSON.stringify(d));
                t.diagnostic(`${what}: denied on B ${ms.toFixed(1)} ms after A answered`);
                return ms;
            };
            await deniedOnB('deactivation', () => patchOk(a, `/Users/${u.id}`, { op: 'replace', path: 'active', value: false }),
                'user_inactive');
            await patchOk(a, `/Users/${u.id}`, { op: 'replace', path: 'active', value: true });
            await waitFor(async () => (await decideOnB()).allowed, { timeout: 1000, what: 'B allows after reactivation' });
            await deniedOnB('removal from the group',
                () => patchOk(a, `/Groups/${g.id}`, { op: 'remove', path: `members[value eq "${u.id}"]` }), 'no_grant');
            await patchOk(a, `/Groups/${g.id}`, { op: 'add', path: 'members', value: [{ value: u.id }] });
            await waitFor(async () => (await decideOnB()).allowed, { timeout: 1000, what: 'B allows after re-adding' });
            await deniedOnB('grant deleted', async () => {
                assert.equal((await api(a, 'DELETE', `/grants/${grant}`)).status, 204);
            }, 'no_grant');
        });

    test('PostgreSQL restart: 503 while it is down, both nodes recover by themselves, no acknowledged write lost',
        async (t) => {
            if (!clusterDir) {
                t.skip(`no PostgreSQL cluster of its own to restart (${why})`);
                return;
            }
            const group = await createGroup(a);
            const acked = new Map(); // user id -> userName, for every 201
            const joined = new Set(); // user ids whose membership PATCH was answered 204
            const seen = new Map(); // status -> count, during the whole run
            let stop = false;
            let seq = 0;
            const writer = async (node, tag) => {
                while (!stop) {
                    seq += 1;
                    const userName = `mn-${tag}-${seq}-${Date.now()}@example.com`;
                    let r;
                    try {
                        r = await node.scim('POST', '/Users', { schemas: [URN.USER], userName, active: true });
                    } catch (err) {
                        seen.set(`error ${err.message}`, (seen.get(`error ${err.message}`) || 0) + 1);
                        await sleep(20);
                        continue;
                    }
                    seen.set(r.status, (seen.get(r.status) || 0) + 1);
                    if (r.status !== 201) {
                        await sleep(20);
                        continue;
                    }
                    acked.set(r.body.id, userName);
                    const p = await node.scim('PATCH', `/Groups/${group.id}`,
                        { schemas: [URN.PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: r.body.id }] }] });
                    if (p.status === 204 || p.status === 200) joined.add(r.body.id);
                }
            };
            const writers = [writer(a, 'a'), writer(b, 'b')];
            try {
                await waitFor(() => acked.size >= 60, { timeout: 30000, every: 5, what: '60 acknowledged users' });

                // An immediate shutdown, as when PostgreSQL's host fails: no checkpoint, clients
                // cut off mid-transaction; the WAL alone brings the acknowledged writes back.
                await pgsh(['ctl', clusterDir, 'crash']);
                const u = [...acked.keys()][0];
                for (const [name, node] of [['A', a], ['B', b]]) {
                    for (const [method, path, body] of [
                        ['GET', `/Users/${u}`],
                        ['GET', `/Groups/${group.id}`],
                        ['POST', '/Users', { schemas: [URN.USER], userName: `mn-down-${name}-${Date.now()}@example.com` }],
                    ]) {
                        const t0 = performance.now();
                        const r = await node.scim(method, path, body);
                        const ms = performance.now() - t0;
                        assertScimError(r, 503);
                        assert.ok(ms < 3000, `${name}: ${method} ${path} took ${ms.toFixed(0)} ms to answer 503`);
                    }
                }
                await sleep(500); // the writers meet the outage too

                const t0 = performance.now();
                await pgsh(['ctl', clusterDir, 'start']);
                const up = performance.now();
                for (const [name, node] of [['A', a], ['B', b]]) {
                    await waitFor(async () => (await node.scim('GET', `/Users/${u}`)).status === 200,
                        { timeout: 10000, every: 50, what: `node ${name} serving again after PostgreSQL came back` });
                }
                const back = performance.now();
                // A few more acknowledged writes after the restart, from both nodes.
                const n0 = acked.size;
                await waitFor(() => acked.size >= n0 + 20, { timeout: 15000, every: 5, what: '20 more users' });
                t.diagnostic(`PostgreSQL start took ${(up - t0).toFixed(0)} ms; both nodes served again ` +
                    `${(back - up).toFixed(0)} ms after it was up; statuses seen: ` +
                    JSON.stringify(Object.fromEntries(seen)));
            } finally {
                stop = true;
                await Promise.all(writers);
            }

            for (const [name, node] of [['A', a], ['B', b]]) {
                assert.equal(node.exitCode, null, `node ${name} exited: ${node.stderr().slice(-2000)}`);
                assert.equal(node.exitSignal, null, `node ${name} was killed: ${node.stderr().slice(-2000)}`);
            }
            for (const [status] of seen) {
                assert.ok([201, 503].includes(status), `a write answered ${status} (only 201 or 503 expected)`);
            }
            const missing = [];
            for (const [id, userName] of acked) {
                const r = await b.scim('GET', `/Users/${id}`);
                if (r.status !== 200 || r.body.userName !== userName) missing.push(`${id} (${userName}): ${r.status}`);
            }
            assert.deepEqual(missing, [], `${missing.length} of ${acked.size} acknowledged users lost`);
            const g = await getOk(a, `/Groups/${group.id}`);
            const members = new Set((g.members || []).map((m) => m.value));
            const lost = [...joined].filter((id) => !members.has(id));
            assert.deepEqual(lost, [], `${lost.length} of ${joined.size} acknowledged memberships lost`);
            // Both nodes still agree after the restart.
            const fresh = await createUser(b);
            assert.equal((await getOk(a, `/Users/${fresh.id}`)).userName, fresh.userName);
        });
});
