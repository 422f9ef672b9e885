// `mandate migrate`: a deployment provisioned through SCIM on SQLite, copied into a new
// database, serves the same users and groups (the same JSON, meta.version and meta.created
// included) to the same SCIM token.
//
// The target is a second SQLite file, or, with MANDATE_TEST_BACKEND=postgres and
// MANDATE_TEST_PG, a fresh PostgreSQL database on that server. The source is SQLite always.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createGroup, createUser, getOk, patchOk, URN } from './lib/scim.mjs';
import {
    BACKEND, createToken, dropDb, isPg, newDb, PG_URL, REPO, runCli, startServer, tmpDir,
} from './lib/server.mjs';

// Both servers answer with the same base URL, so that meta.location and $ref compare equal.
const PUBLIC = 'http://mandate.test';
const toPg = BACKEND === 'postgres' && PG_URL !== '';

/* The id of the token named name in `mandate token list` (its first column). */
async function tokenId(db, name) {
    const r = await runCli(['token', 'list', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.split('\n').find((l) => l.split(/\s{2,}/)[2] === name);
    assert.ok(line, `no token ${name} in:\n${r.stdout}`);
    return line.trim().split(/\s+/)[0];
}

/* Everything a client can see of a resource: status, ETag and the whole JSON. */
async function snapshot(srv, p) {
    const r = await srv.scim('GET', p);
    assert.equal(r.status, 200, `GET ${p}: ${r.text}`);
    return { etag: r.headers.get('etag'), body: r.body };
}

describe('mandate migrate', { timeout: 120000 }, () => {
    const dir = tmpDir();
    let source; // the SQLite database provisioned through SCIM
    let target; // the database it is migrated into
    let srv; // the server on the source, stopped before the copy
    let copy; // the server on the target
    let token; // the SCIM token, made on the source
    let revokedToken;
    const users = [];
    const groups = [];
    const seen = new Map(); // path -> snapshot on the source
    let migrated; // the result of `mandate migrate`

    before(async () => {
        source = await newDb(dir, { backend: 'sqlite', name: 'source.db' });
        target = toPg ? await newDb(dir, { backend: 'postgres' }) : path.join(dir, 'sub', 'target.db');
        srv = await startServer({ dir, dbPath: source, args: ['--public-url', PUBLIC] });
        token = srv.token;
        revokedToken = await createToken(source, 'to-revoke');
        const rv = await runCli(['token', 'revoke', await tokenId(source, 'to-revoke'), '--db', source]);
        assert.equal(rv.code, 0, rv.stderr);

        // Users: a manager, an employee with the enterprise extension, an inactive one, and
        // one whose name arrives by PATCH (so versions differ), and one deleted again.
        const boss = await createUser(srv, { displayName: 'The Boss', title: 'CEO' });
        users.push(boss);
        users.push(await createUser(srv, {
            schemas: [URN.USER, URN.ENT],
            displayName: 'Émilie Employee',
            phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
            [URN.ENT]: { employeeNumber: '1042', department: 'R&D', manager: { value: boss.id } },
        }));
        users.push(await createUser(srv, { active: false, externalId: 'okta-00u3' }));
        const renamed = await createUser(srv);
        users.push(renamed);
        await patchOk(srv, `/Users/${renamed.id}`,
            { op: 'replace', path: 'displayName', value: 'Renamed Once' });
        await patchOk(srv, `/Users/${renamed.id}`,
            { op: 'replace', value: { displayName: 'Renamed Twice', nickName: 'Twice' } });
        const gone = await createUser(srv);
        assert.equal((await srv.scim('DELETE', `/Users/${gone.id}`)).status, 204);

        // Groups: all -> [engineering (nested) -> users], with displays sent and not sent.
        const eng = await createGroup(srv, {
            displayName: 'Engineering',
            members: [{ value: users[1].id, display: 'Emilie (sent by the IdP)' }, { value: users[3].id }],
        });
        const all = await createGroup(srv, { displayName: 'Everyone', externalId: 'ent-all' });
        await patchOk(srv, `/Groups/${all.id}`, {
            op: 'add', path: 'members',
            value: [{ value: users[0].id }, { value: eng.id, type: 'Group' }, { value: users[2].id }],
        });
        await patchOk(srv, `/Groups/${all.id}`,
            { op: 'remove', path: `members[value eq "${users[2].id}"]` });
        const empty = await createGroup(srv, { displayName: 'Nobody yet' });
        groups.push(eng, all, empty);

        for (const u of users) seen.set(`/Users/${u.id}`, await snapshot(srv, `/Users/${u.id}`));
        for (const g of groups) seen.set(`/Groups/${g.id}`, await snapshot(srv, `/Groups/${g.id}`));
        // The patched resources really are past version 1, so that keeping versions is tested.
        assert.notEqual(seen.get(`/Users/${renamed.id}`).body.meta.version,
            seen.get(`/Users/${boss.id}`).body.meta.version);
        assert.notEqual(seen.get(`/Groups/${all.id}`).body.meta.version,
            seen.get(`/Groups/${empty.id}`).body.meta.version);

        assert.equal(await srv.stop(), 0, srv.stderr());
        migrated = await runCli(['migrate', '--from', `sqlite:${source}`, '--to', target],
            { timeout: 60000 });
        copy = await startServer({ dir, dbPath: target, token, args: ['--public-url', PUBLIC] });
    });

    after(async () => {
        if (copy) await copy.close();
        if (srv) await srv.close();
        if (isPg(target)) await dropDb(target);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test('exits 0 with a summary of what it copied', () => {
        assert.equal(migrated.code, 0, `stderr: ${migrated.stderr}`);
        // 4 users, 3 groups, 4 memberships (2 in Engineering, 2 left in Everyone), 2 tokens, the
        // catalog that the first start loaded (every connector of catalog/, 4 packs), and the
        // audit log of all that (at least one event per SCIM change, plus checkpoints).
        const connectors = fs.readdirSync(path.join(REPO, 'catalog', 'connectors')).filter((f) => f.endsWith('.json')).length;
        const m = /^copied 4 users, 3 groups, 4 memberships, 2 tokens, (\d+) connectors, 0 connector overrides, 4 packs, 0 grants, (\d+) audit events; counts verified\n$/.exec(migrated.stdout);
        assert.ok(m, migrated.stdout);
        assert.equal(Number(m[1]), connectors);
        assert.ok(Number(m[2]) >= 10, `audit events: ${m[2]}`);
        // Not a terminal: plain progress lines, ending at 100% for each kind.
        for (const kind of ['users', 'groups', 'memberships', 'tokens', 'audit events']) {
            assert.match(migrated.stderr, new RegExp(`${kind} \\d+/\\d+ \\(100%\\)`), migrated.stderr);
        }
        assert.doesNotMatch(migrated.stderr, /\r/);
        if (!isPg(target)) assert.ok(fs.existsSync(target), 'the target file was created');
    });

    test('every user and group reads the same on the target, meta included', async () => {
        for (const [p, before_] of seen) {
            const now = await snapshot(copy, p);
            assert.deepEqual(now.body, before_.body, `${p} differs after the migration`);
            assert.equal(now.etag, before_.etag, `${p}: ETag`);
        }
        // Nothing more: the deleted user stayed deleted.
        const list = await getOk(copy, '/Users?count=100');
        assert.equal(list.totalResults, users.length);
        assert.deepEqual(list.Resources.map((r) => r.id).sort(), users.map((u) => u.id).sort());
        const gl = await getOk(copy, '/Groups?count=100');
        assert.equal(gl.totalResults, groups.length);
    });

    test('the audit log came along, row for row: it verifies on the target', async () => {
        // The copy server has answered requests since: its own events chain onto the copied ones.
        await copy.stop();
        const r = await runCli(['audit', 'verify', '--db', target], { cwd: dir, env: { MANDATE_STATE_DIR: dir } });
        await copy.restart();
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /intact: [1-9]\d* events \(1 to/);
    });

    test('the SCIM token works on the target, and the revoked one does not', async () => {
        assert.doesNotMatch(copy.stdout(), /first start/, 'the target made a token of its own');
        const r = await copy.scim('GET', '/Users?count=1');
        assert.equal(r.status, 200, r.text);
        const bad = await copy.scim('GET', '/Users?count=1', undefined, { token: revokedToken });
        assert.equal(bad.status, 401, bad.text);
    });

    test('the copy takes writes, and an If-Match from before the migration still holds', async () => {
        const u = users[3];
        const etag = seen.get(`/Users/${u.id}`).etag;
        const r = await copy.scim('PATCH', `/Users/${u.id}`, {
            schemas: [URN.PATCH], Operations: [{ op: 'replace', path: 'title', value: 'After' }],
        }, { headers: { 'If-Match': etag } });
        assert.ok(r.status === 200 || r.status === 204, `${r.status} ${r.text}`);
        const after_ = await getOk(copy, `/Users/${u.id}`);
        assert.equal(after_.title, 'After');
        assert.equal(Number(after_.meta.version.replace(/\D/g, '')),
            Number(seen.get(`/Users/${u.id}`).body.meta.version.replace(/\D/g, '')) + 1);
    });

    test('refuses a target that is not empty', async () => {
        const r = await runCli(['migrate', '--from', source, '--to', target]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /the target database is not empty/);
        assert.equal(r.stdout, '');
    });

    test('refuses a source that does not exist, and creates nothing', async () => {
        const missing = path.join(dir, 'no-such.db');
        const r = await runCli(['migrate', '--from', missing, '--to', path.join(dir, 'other.db')]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /does not exist/);
        assert.ok(!fs.existsSync(missing));
        assert.ok(!fs.existsSync(path.join(dir, 'other.db')));
    });

    test('never prints the password of a database URL', async () => {
        const r = await runCli(['migrate', '--from', source,
            '--to', 'postgres://mandate:Sup3rS3cret@127.0.0.1:1/mandate?password=Sup3rS3cret'],
            { env: { PGCONNECT_TIMEOUT: '2' } });
        assert.equal(r.code, 1);
        assert.doesNotMatch(r.stdout + r.stderr, /Sup3rS3cret/);
        assert.match(r.stderr, /127\.0\.0\.1:1\/mandate/);
    });

    test('usage errors exit 2; --help exits 0', async () => {
        const noTo = await runCli(['migrate', '--from', source]);
        assert.equal(noTo.code, 2);
        assert.match(noTo.stderr, /usage: mandate migrate/);
        const help = await runCli(['migrate', '--help']);
        assert.equal(help.code, 0);
        assert.match(help.stdout, /--from URL/);
        assert.match(help.stdout, /--to URL/);
        const main = await runCli(['--help']);
        assert.match(main.stdout, /migrate/);
    });
});
