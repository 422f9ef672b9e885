// The audit log end to end (docs/audit.md): a tool call, a denial, a SCIM change, an admin change
// and a refused credential each produce exactly one event with its fields; the API searches
// them with a SCIM filter and pages; `mandate audit verify` passes an untouched log and names the
// place of every kind of tampering (edit, delete, reorder, insert, a rewritten chain, a cut-off
// tail); events of answered requests survive SIGKILL.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startFakeUpstream } from './lib/fake_upstream.mjs';
import {
    adminApi, apiOk, call, createAdminToken, createAgentToken, initialize, putConnector, startMandate,
    testConnectorName, toolDoc,
} from './lib/mcp.mjs';
import { createGroup, createUser, patchOk, uniq } from './lib/scim.mjs';
import { isPg, psql, runCli } from './lib/server.mjs';

const V = '2025-11-25';

/* Runs one SQL statement on the server's database (sqlite3 CLI or psql); its output. */
async function sql(srv, stmt) {
    if (isPg(srv.dbPath)) return psql(srv.dbPath, stmt);
    const r = spawnSync('sqlite3', [srv.dbPath, stmt], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run sqlite3 (apt-get install sqlite3): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`sqlite3 ${stmt}: ${r.stderr}`);
    return r.stdout;
}

/* Every event of the log, oldest first, through the admin API. */
async function allEvents(api, filter) {
    const out = [];
    let cursor = '';
    for (let i = 0; i < 100; i += 1) {
        const q = new URLSearchParams({ order: 'asc', count: '1000' });
        if (cursor) q.set('cursor', cursor);
        if (filter) q.set('filter', filter);
        const page = await apiOk(api, 'GET', `/audit?${q}`);
        out.push(...page.events);
        if (!page.next_cursor) return out;
        cursor = page.next_cursor;
    }
    throw new Error('more than 100 pages of audit events');
}

/* The events recorded after seq (the writer is flushed by asking /audit/verify first). */
async function eventsAfter(api, seq) {
    await apiOk(api, 'GET', '/audit/verify');
    return (await allEvents(api)).filter((e) => e.seq > seq && e.type !== 'audit.checkpoint');
}

async function lastSeq(api) {
    await apiOk(api, 'GET', '/audit/verify');
    const page = await apiOk(api, 'GET', '/audit?count=1');
    return page.events.length ? page.events[0].seq : 0;
}

/* Canonical JSON as mandate hashes arguments: sorted keys, no spaces, non-ASCII escaped. */
function canonical(v) {
    if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
    if (v && typeof v === 'object') {
        return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
    }
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

function verify(srv, extra = []) {
    return runCli(['audit', 'verify', '--db', srv.dbPath, ...extra], {
        cwd: srv.dir,
        env: { MANDATE_VAULT_KEY: srv.vaultKey, MANDATE_STATE_DIR: srv.dir },
    });
}

describe('what is recorded', () => {
    let srv;
    let fake;
    let api;
    let conn;
    let user;
    let group;
    let agent;
    let outsiderToken;

    before(async () => {
        fake = await startFakeUpstream();
        srv = await startMandate();
        api = adminApi(srv, await createAdminToken(srv));
        // A connector of the test's own, whose "note" argument is marked sensitive.
        conn = testConnectorName('au');
        const refund = toolDoc('refund', 'destructive', {
            properties: { charge: { type: 'string' }, amount: { type: 'integer' }, note: { type: 'string' } },
            required: ['charge', 'amount'],
            request: { method: 'POST', path: '/refund', body: 'json' },
        });
        refund.redact = ['note'];
        await putConnector(api, conn, { baseUrl: fake.url, tools: [refund] });
        fake.setHandler((rec, res) => {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ id: 're_1', object: 'refund', path: rec.pathname }));
        });
        await apiOk(api, 'POST', '/packs', {
            name: `p-${conn}`, title: 'Audit', tools: [{ tool: `${conn}__*`, level: 'destructive' }],
        });
        user = await createUser(srv, { userName: `${uniq('ann')}@example.com` });
        const outsider = await createUser(srv);
        group = await createGroup(srv, { displayName: uniq('Finance'), members: [{ value: user.id }] });
        await apiOk(api, 'POST', '/grants', {
            subject: { type: 'group', id: group.id },
            pack: `p-${conn}`,
            conditions: { [`${conn}__refund`]: 'amount le 500' },
        });
        agent = await createAgentToken(api, user.id, { name: 'ann-laptop' });
        outsiderToken = (await createAgentToken(api, outsider.id)).token;
    });
    after(async () => {
        await srv?.close();
        await fake?.close();
    });

    test('a tool call: one tool.call event with the employee, their groups, the grant and redacted arguments', async () => {
        // A 2025 client names itself only at initialize: the events of its calls still carry it.
        await initialize(`${srv.base}/mcp`, agent.token, V);
        const seq = await lastSeq(api);
        const args = { charge: 'ch_1', amount: 120, note: 'customer Jane Doe, card ending 4242' };
        const r = await call(`${srv.base}/mcp`, agent.token, V, 1, 'tools/call', { name: `${conn}__refund`, arguments: args },
            { headers: { 'User-Agent': 'audit-it/1.0' } });
        assert.equal(r.body.result.isError, false, r.text);
        const evs = await eventsAfter(api, seq);
        assert.equal(evs.length, 1, JSON.stringify(evs));
        const ev = evs[0];
        assert.equal(ev.type, 'tool.call');
        assert.equal(ev.tool, `${conn}__refund`);
        assert.equal(ev.level, 'destructive');
        assert.equal(ev.endpoint, '/mcp');
        assert.deepEqual([ev.user.id, ev.user.userName, ev.user.active], [user.id, user.userName, true]);
        assert.ok(ev.groups.some((g) => g.id === group.id && g.display === group.displayName), JSON.stringify(ev.groups));
        assert.equal(ev.agent.token_id, agent.id);
        assert.equal(ev.agent.token_name, 'ann-laptop');
        assert.equal(ev.agent.user_agent, 'audit-it/1.0');
        assert.deepEqual(ev.agent.client, { name: 'mandate-it', version: '1.0.0' });
        assert.equal(ev.decision.allowed, true);
        assert.match(ev.decision.grant, /^[0-9a-f-]{36}$/);
        assert.deepEqual(ev.arguments, { charge: 'ch_1', amount: 120, note: '[redacted]' });
        assert.equal(ev.arguments_sha256, sha256(canonical(args)));
        assert.equal(ev.outcome, 'ok');
        assert.equal(ev.upstream.status, 200);
        assert.ok(ev.upstream.result_bytes > 0);
        assert.ok(typeof ev.request_id === 'string' && ev.request_id.length > 0);
        assert.match(ev.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        assert.match(ev.hash, /^[0-9a-f]{64}$/);
        // The note never reached the database in clear.
        assert.equal((await sql(srv, "SELECT count(*) FROM audit_events WHERE doc LIKE '%Jane Doe%'")).trim(), '0');
    });

    test('a denial by a condition, and a call to a tool the user may not see: one tool.denied event each', async () => {
        const seq = await lastSeq(api);
        const r1 = await call(`${srv.base}/mcp`, agent.token, V, 1, 'tools/call',
            { name: `${conn}__refund`, arguments: { charge: 'ch_2', amount: 9000, note: 'secret' } });
        assert.equal(r1.body.result.isError, true);
        const r2 = await call(`${srv.base}/mcp`, outsiderToken, V, 2, 'tools/call',
            { name: `${conn}__refund`, arguments: { charge: 'ch_3', amount: 1 } });
        assert.equal(r2.body.error.code, -32602);
        const evs = await eventsAfter(api, seq);
        assert.equal(evs.length, 2, JSON.stringify(evs));
        const [cond, unseen] = evs;
        assert.equal(cond.type, 'tool.denied');
        assert.equal(cond.decision.allowed, false);
        assert.equal(cond.decision.reason, 'grants_failed');
        assert.equal(cond.decision.candidates[0].result, 'condition_false');
        assert.equal(cond.arguments.note, '[redacted]');
        assert.equal(cond.user.id, user.id);
        assert.equal(unseen.type, 'tool.denied');
        assert.notEqual(unseen.user.id, user.id);
        assert.equal(unseen.decision.allowed, false);
        assert.equal(fake.requests.filter((q) => q.pathname === '/refund').length, 1, 'denied calls reached the upstream');
    });

    test('a SCIM change: one scim.change event with the token, what changed, and no password', async () => {
        const seq = await lastSeq(api);
        const u = await createUser(srv, { password: 'Hunter2!secret' });
        await patchOk(srv, `/Groups/${group.id}`, { op: 'add', path: 'members', value: [{ value: u.id }] });
        const evs = await eventsAfter(api, seq);
        assert.equal(evs.length, 2, JSON.stringify(evs));
        const [create, patch] = evs;
        assert.equal(create.type, 'scim.change');
        assert.equal(create.method, 'POST');
        assert.equal(create.status, 201);
        assert.ok(create.actor.token_id, JSON.stringify(create.actor));
        assert.equal(create.actor.kind, 'scim_token');
        assert.deepEqual(create.changes[0], {
            resource: 'User', id: u.id, op: 'create', after: { userName: u.userName, active: true },
        });
        assert.equal(create.request.password, '[redacted]');
        assert.ok(!JSON.stringify(create).includes('Hunter2'), 'the password is in the event');
        assert.equal(patch.changes[0].resource, 'Group');
        assert.deepEqual(patch.changes[0].members, [{ op: 'add', id: u.id }]);
        assert.equal((await sql(srv, "SELECT count(*) FROM audit_events WHERE doc LIKE '%Hunter2%'")).trim(), '0');
    });

    test('an admin change: one admin.change event with before and after, and no token in clear', async () => {
        const seq = await lastSeq(api);
        const packName = `p-${conn}`;
        const r = await api('PUT', `/packs/${packName}`, {
            name: packName, title: 'Audit, renamed', tools: [{ tool: `${conn}__*`, level: 'destructive' }],
        });
        assert.equal(r.status, 200, r.text);
        const t = await apiOk(api, 'POST', '/tokens', { kind: 'agent', name: 'x', user: user.id });
        const evs = await eventsAfter(api, seq);
        assert.equal(evs.length, 2, JSON.stringify(evs));
        const [pk, tok] = evs;
        assert.equal(pk.type, 'admin.change');
        assert.equal(pk.method, 'PUT');
        assert.equal(pk.path, `/packs/${packName}`);
        assert.equal(pk.before.title, 'Audit');
        assert.equal(pk.after.title, 'Audit, renamed');
        assert.equal(pk.actor.kind, 'admin_token');
        assert.ok(pk.actor.token_id);
        assert.equal(tok.after.token, '[redacted]');
        assert.ok(!JSON.stringify(tok).includes(t.token));
    });

    test('refused credentials: one auth.failure event, never the token presented', async () => {
        const seq = await lastSeq(api);
        const bad = 'mdt_agent_definitely-not-a-real-token-0123456789';
        const r = await call(`${srv.base}/mcp`, bad, V, 1, 'tools/list', {});
        assert.equal(r.status, 401);
        const evs = await eventsAfter(api, seq);
        assert.equal(evs.length, 1, JSON.stringify(evs));
        assert.equal(evs[0].type, 'auth.failure');
        assert.equal(evs[0].wanted, 'agent');
        assert.equal(evs[0].path, '/mcp');
        assert.ok(!JSON.stringify(evs[0]).includes(bad));
    });

    test('the API: a SCIM filter over event fields, a time range, paging, one event by seq, and clear errors', async () => {
        const mine = await allEvents(api, `user.userName eq "${user.userName}" and tool sw "${conn}__"`);
        assert.ok(mine.length >= 2);
        assert.ok(mine.every((e) => e.user.userName === user.userName && e.tool.startsWith(`${conn}__`)));
        const p1 = await apiOk(api, 'GET', '/audit?count=2');
        assert.equal(p1.events.length, 2);
        assert.ok(p1.events[0].seq > p1.events[1].seq, 'newest first');
        const p2 = await apiOk(api, 'GET', `/audit?count=2&cursor=${p1.next_cursor}`);
        assert.ok(p2.events[0].seq < p1.events[1].seq);
        const one = await apiOk(api, 'GET', `/audit/${p1.events[0].seq}`);
        assert.deepEqual(one, p1.events[0]);
        const future = await apiOk(api, 'GET', '/audit?since=2999-01-01T00:00:00Z');
        assert.equal(future.events.length, 0);
        for (const [q, re] of [['filter=tool%20eq', /filter/i], ['since=yesterday', /RFC 3339/], ['order=up', /order/], ['cursor=x', /cursor/]]) {
            const r = await api('GET', `/audit?${q}`);
            assert.equal(r.status, 400, r.text);
            assert.match(r.headers.get('content-type'), /problem\+json/);
            assert.match(r.body.detail, re);
        }
        assert.equal((await api('GET', '/audit/999999999')).status, 404);
        assert.equal((await api('GET', '/audit/abc')).status, 404);
        assert.equal((await api('DELETE', '/audit/1')).status, 405);
    });
});

describe('tampering is found and named', () => {
    let srv;

    before(async () => {
        srv = await startMandate();
        for (let i = 0; i < 12; i += 1) await createUser(srv);
        await srv.stop(); // a clean stop: everything stored, with a final checkpoint
        await sql(srv, 'CREATE TABLE audit_backup AS SELECT * FROM audit_events');
    });
    after(async () => {
        await srv?.close();
    });

    /* Puts the log back as it was after before(). */
    async function restore() {
        await sql(srv, 'DELETE FROM audit_events');
        await sql(srv, 'INSERT INTO audit_events SELECT * FROM audit_backup');
    }

    test('an untouched log verifies, with its checkpoint and anchor', async () => {
        const r = await verify(srv);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /intact: 1[3-9] events/);
        assert.match(r.stdout, /[1-9]\d* checkpoints verified/);
        assert.ok(fs.existsSync(path.join(srv.dir, 'audit.anchor')), 'no anchor file');
    });

    const cases = [
        ['an edited event', "UPDATE audit_events SET doc = replace(doc, '\"POST\"', '\"PUT\"') WHERE seq = 5", /event 5 was altered/],
        ['a deleted event', 'DELETE FROM audit_events WHERE seq = 6', /events 6 to 6 are missing/],
        ['two events swapped', null, /event [34]/],
        ['an event moved to another row', "UPDATE audit_events SET doc = (SELECT doc FROM audit_backup WHERE seq = 8) WHERE seq = 7", /event 7/],
        ['the tail cut off, checkpoint and all', 'DELETE FROM audit_events WHERE seq >= 10', /tail was cut off/],
    ];
    for (const [name, stmt, re] of cases) {
        test(`${name} is named`, async () => {
            try {
                if (name === 'two events swapped') {
                    // Two steps, so that the primary key never collides.
                    await sql(srv, 'UPDATE audit_events SET seq = -3 WHERE seq = 3');
                    await sql(srv, 'UPDATE audit_events SET seq = 3 WHERE seq = 4');
                    await sql(srv, 'UPDATE audit_events SET seq = 4 WHERE seq = -3');
                } else {
                    await sql(srv, stmt);
                }
                const r = await verify(srv);
                assert.equal(r.code, 1, r.stdout + r.stderr);
                assert.match(r.stdout, /BROKEN/);
                assert.match(r.stdout, re);
            } finally {
                await restore();
            }
        });
    }

    test('a chain rewritten with recomputed hashes is caught by the checkpoint MAC', async () => {
        try {
            // Edit event 2 and recompute every hash after it, as an attacker with only database
            // access can: the chain holds, the checkpoint's MAC (key outside the db) does not.
            const rows = (await sql(srv, 'SELECT seq, doc FROM audit_events ORDER BY seq')).trim().split('\n')
                .map((l) => { const i = l.indexOf('|'); return [Number(l.slice(0, i)), l.slice(i + 1)]; });
            let prev = '';
            for (const [seq, doc0] of rows) {
                let doc = doc0;
                if (seq === 2) doc = doc.replace('"POST"', '"PUT"');
                const obj = JSON.parse(doc);
                if (obj.type === 'audit.checkpoint') {
                    obj.checkpoint.hash = prev;
                    doc = canonical(obj);
                }
                const hash = sha256(`mandate-audit-v1\n${prev}\n${doc}`);
                await sql(srv, `UPDATE audit_events SET doc = '${doc.replace(/'/g, "''")}', prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${seq}`);
                prev = hash;
            }
            const r = await verify(srv);
            assert.equal(r.code, 1, r.stdout + r.stderr);
            assert.match(r.stdout, /MAC|rewritten/);
        } finally {
            await restore();
        }
    });

    test('after restoring, the log verifies again', async () => {
        const r = await verify(srv);
        assert.equal(r.code, 0, r.stdout + r.stderr);
    });
});

describe('durability', () => {
    test('the events of answered requests survive SIGKILL, and the chain verifies after restart', async () => {
        const srv = await startMandate();
        try {
            const api = adminApi(srv, await createAdminToken(srv));
            const before0 = await lastSeq(api);
            const names = [];
            for (let i = 0; i < 20; i += 1) names.push((await createUser(srv)).userName);
            await srv.kill9();
            await srv.restart();
            const api2 = adminApi(srv, await createAdminToken(srv));
            const evs = (await allEvents(api2, 'type eq "scim.change"')).filter((e) => e.seq > before0);
            const got = evs.map((e) => e.changes[0].after.userName);
            for (const n of names) assert.ok(got.includes(n), `the event of ${n} was lost`);
            await srv.stop();
            const r = await verify(srv);
            assert.equal(r.code, 0, r.stdout + r.stderr);
        } finally {
            await srv.close();
        }
    });

    test('prune removes old events and the rest still verifies', async () => {
        const srv = await startMandate();
        try {
            for (let i = 0; i < 5; i += 1) await createUser(srv);
            await new Promise((r) => setTimeout(r, 50));
            const cut = new Date().toISOString();
            await new Promise((r) => setTimeout(r, 50));
            for (let i = 0; i < 3; i += 1) await createUser(srv);
            await srv.stop();
            const env = { MANDATE_VAULT_KEY: srv.vaultKey };
            const p = await runCli(['audit', 'prune', '--db', srv.dbPath, '--before', cut], { cwd: srv.dir, env });
            assert.equal(p.code, 0, p.stdout + p.stderr);
            assert.match(p.stdout, /removed [1-9]\d* audit events/);
            const first = Number((await sql(srv, 'SELECT min(seq) FROM audit_events')).trim());
            assert.ok(first > 1);
            const r = await verify(srv);
            assert.equal(r.code, 0, r.stdout + r.stderr);
            // Removing one more old event without a prune record is caught.
            await sql(srv, `DELETE FROM audit_events WHERE seq = ${first}`);
            const r2 = await verify(srv);
            assert.equal(r2.code, 1, r2.stdout);
            assert.match(r2.stdout, /missing|removed/);
        } finally {
            await srv.close();
        }
    });
});
