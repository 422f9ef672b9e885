// The access model from the command line: `mandate check` (its output and exit status),
// `mandate catalog load` (all or nothing; a running server hears of it), `mandate token create
// --kind admin|agent`, and the catalog that a first start loads.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createGroup, createUser, patchOk } from './lib/scim.mjs';
import { REPO, removeDir, runCli, startServer, tmpDir, waitFor } from './lib/server.mjs';

describe('access from the command line', { timeout: 120000 }, () => {
    let srv;
    let admin;
    let user;
    let group;

    const api = async (method, p, body) => {
        const res = await fetch(`${srv.base}/api/v1${p}`, {
            method,
            headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    const check = (...args) => runCli(['check', '--db', srv.dbPath, ...args]);

    before(async () => {
        srv = await startServer();
        const r = await runCli(['token', 'create', '--kind', 'admin', '--name', 'cli', '--db', srv.dbPath]);
        assert.equal(r.code, 0, r.stderr);
        admin = r.stdout.trim();
        assert.match(admin, /^mdt_admin_[A-Za-z0-9_-]{43}$/);
        user = await createUser(srv);
        group = await createGroup(srv, { members: [{ value: user.id }] });
        const g = await api('POST', '/grants', {
            subject: { type: 'group', id: group.id }, pack: 'finance',
            conditions: { stripe__create_refund: 'amount le 50000' }, reason: 'cli test',
        });
        assert.equal(g.status, 201, JSON.stringify(g));
    });

    after(async () => {
        if (srv) await srv.close();
    });

    test('the first start loaded the catalog: every connector in catalog/connectors and the 4 example packs', async () => {
        const c = await api('GET', '/connectors');
        const shipped = fs.readdirSync(path.join(REPO, 'catalog', 'connectors'))
            .filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
        assert.ok(shipped.length >= 8);
        assert.deepEqual(c.body.items.map((x) => x.name), shipped);
        const p = await api('GET', '/packs');
        assert.deepEqual(p.body.items.map((x) => x.name), ['engineering', 'finance', 'sales', 'support']);
    });

    test('check: allowed exits 0 and names the grant and the group', async () => {
        const r = await check('--user', user.userName, '--tool', 'stripe__create_refund', '--args', '{"charge":"ch_1","amount":1200}');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`allowed by grant [0-9a-f-]{36} to group ${group.displayName} through pack finance`));
    });

    test('check: denied exits 1 and says why each candidate failed', async () => {
        let r = await check('--user', user.userName, '--tool', 'stripe__create_refund', '--args', '{"charge":"ch_1","amount":90000}');
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /denied: 1 grant covers stripe__create_refund/);
        assert.match(r.stdout, /condition_false: the condition `amount le 50000` does not hold/);
        r = await check('--user', user.userName, '--tool', 'github__create_issue');
        assert.equal(r.code, 1);
        assert.match(r.stdout, /no grant covers github__create_issue/);
        r = await check('--user', 'nobody@example.com', '--tool', 'stripe__list_charges');
        assert.equal(r.code, 1);
        assert.match(r.stdout, /no user nobody@example.com exists/);
        r = await check('--user', user.userName, '--tool', 'stripe__no_such_tool');
        assert.equal(r.code, 1);
        assert.match(r.stdout, /no connector defines the tool/);
    });

    test('check --json prints the decision as the admin API does', async () => {
        const r = await check('--user', user.id, '--tool', 'stripe__create_refund', '--args', '{"amount":5}', '--json');
        assert.equal(r.code, 0, r.stderr);
        const d = JSON.parse(r.stdout);
        const viaApi = await api('POST', '/decisions', { user: user.id, tool: 'stripe__create_refund', arguments: { amount: 5 } });
        assert.deepEqual(d, viaApi.body);
        assert.equal(d.allowed, true);
        assert.equal(d.grant.subject.id, group.id);
    });

    test('check: bad usage and bad arguments exit 2 and change nothing', async () => {
        assert.equal((await check('--tool', 'x__y')).code, 2);
        assert.equal((await check('--user', user.userName)).code, 2);
        let r = await check('--user', user.userName, '--tool', 'stripe__create_refund', '--args', '[1]');
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--args must be a JSON object/);
        r = await check('--user', user.userName, '--tool', 'stripe__create_refund', '--args', '{"amount":');
        assert.equal(r.code, 2);
    });

    test('check sees a deactivation at once', async () => {
        const u = await createUser(srv);
        await patchOk(srv, `/Groups/${group.id}`, { op: 'add', path: 'members', value: [{ value: u.id }] });
        assert.equal((await check('--user', u.userName, '--tool', 'stripe__list_charges')).code, 0);
        await patchOk(srv, `/Users/${u.id}`, { op: 'replace', path: 'active', value: false });
        const r = await check('--user', u.userName, '--tool', 'stripe__list_charges');
        assert.equal(r.code, 1);
        assert.match(r.stdout, /is inactive/);
    });

    test('token create --kind agent binds a user (by userName) and a pack; bad ones are refused', async () => {
        let r = await runCli(['token', 'create', '--kind', 'agent', '--user', user.userName, '--pack', 'finance',
            '--name', 'claude', '--db', srv.dbPath]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout.trim(), /^mdt_agent_[A-Za-z0-9_-]{43}$/);
        const list = await api('GET', '/tokens');
        const t = list.body.items.find((x) => x.name === 'claude');
        assert.equal(t.user_id, user.id);
        assert.equal(t.pack, 'finance');
        const before = list.body.items.length;
        for (const args of [['--user', 'nobody@example.com'], ['--user', user.userName, '--pack', 'nosuchpack'], []]) {
            r = await runCli(['token', 'create', '--kind', 'agent', ...args, '--db', srv.dbPath]);
            assert.notEqual(r.code, 0, `token create --kind agent ${args.join(' ')} succeeded`);
        }
        r = await runCli(['token', 'create', '--kind', 'scim', '--user', user.userName, '--db', srv.dbPath]);
        assert.equal(r.code, 2);
        assert.equal((await api('GET', '/tokens')).body.items.length, before, 'a refused token was created');
    });

    test('catalog load: a broken file loads nothing; a good one reaches the running server', async () => {
        const dir = tmpDir();
        try {
            fs.mkdirSync(path.join(dir, 'connectors'));
            fs.mkdirSync(path.join(dir, 'packs'));
            const stripe = JSON.parse(fs.readFileSync(path.join(REPO, 'catalog/connectors/stripe.json'), 'utf8'));
            const refund = stripe.tools.find((t) => t.name === 'create_refund');
            // A new connector, and a broken one beside it: all or nothing.
            fs.writeFileSync(path.join(dir, 'connectors/acme.json'), JSON.stringify({
                name: 'acme', title: 'Acme', base_url: 'https://api.acme.test',
                tools: [{ ...refund, name: 'ping', level: 'read' }],
            }));
            fs.writeFileSync(path.join(dir, 'connectors/broken.json'), JSON.stringify({ name: 'Broken!', title: 'x' }));
            let r = await runCli(['catalog', 'load', dir, '--db', srv.dbPath]);
            assert.equal(r.code, 1);
            assert.match(r.stderr, /broken\.json/);
            assert.equal((await api('GET', '/connectors/acme')).status, 404, 'a failed load wrote something');

            fs.rmSync(path.join(dir, 'connectors/broken.json'));
            r = await runCli(['catalog', 'load', dir, '--db', srv.dbPath]);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /loaded 1 connectors/);
            assert.equal((await api('GET', '/connectors/acme')).status, 200);
            // The server's policy knows acme__ping once its poller hears of the other process's
            // commit (until then a grant of it is refused as naming an unknown tool).
            const t0 = Date.now();
            await waitFor(async () => (await api('POST', '/grants',
                { subject: { type: 'user', id: user.id }, tool: 'acme__ping' })).status === 201,
            { timeout: 2000, every: 20, what: 'the server to know acme__ping' });
            const d = await api('POST', '/decisions', { user: user.id, tool: 'acme__ping' });
            assert.equal(d.body.allowed, true, JSON.stringify(d.body));
            assert.ok(Date.now() - t0 < 1500);
        } finally {
            removeDir(dir);
        }
    });
});
