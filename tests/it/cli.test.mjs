// The command line of issue 2: version, --help everywhere, token create/list/revoke, serve's
// signals and its request log.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
    BIN, createToken, dbContents, freePort, newDb, runCli, sleep, startServer, tmpDir, waitFor,
} from './lib/server.mjs';
import { uniq, userBody } from './lib/scim.mjs';

/*
 * The id of the token named name in `token list` output: a "id=..." field when the output is
 * key=value, else the first column of the line naming it.
 */
function tokenIdFromList(out, name) {
    const line = out.split('\n').find((l) => new RegExp(`(^|[\\s=:"])${name}([\\s",]|$)`).test(l));
    assert.ok(line, `no line for token ${name} in:\n${out}`);
    const kv = line.match(/\bid[=:]\s*"?([^\s",]+)/);
    return kv ? kv[1] : line.trim().split(/\s+/)[0];
}

describe('mandate version and --help', () => {
    test('version prints a version and exits 0', async () => {
        const r = await runCli(['version']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /\d+\.\d+/);
    });

    const helps = [
        ['--help'],
        ['serve', '--help'],
        ['token', '--help'],
        ['token', 'create', '--help'],
        ['token', 'list', '--help'],
        ['token', 'revoke', '--help'],
        ['version', '--help'],
    ];
    for (const args of helps) {
        test(`mandate ${args.join(' ')} prints usage and exits 0`, async () => {
            const dir = tmpDir();
            const r = await runCli(args, { cwd: dir });
            assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
            assert.match(r.stdout, /usage/i, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
            // --help must not act: no database appears.
            assert.deepEqual(fs.readdirSync(dir).filter((f) => !f.startsWith('.')), []);
            if (args.length > 1) {
                assert.ok(r.stdout.includes(args[args.length - 2]), `usage names the command: ${r.stdout}`);
            }
        });
    }

    test('serve --help documents --listen and --db', async () => {
        const r = await runCli(['serve', '--help']);
        assert.match(r.stdout, /--listen/);
        assert.match(r.stdout, /--db/);
    });

    test('token create --help documents --kind, --name and --db', async () => {
        const r = await runCli(['token', 'create', '--help']);
        assert.match(r.stdout, /--kind/);
        assert.match(r.stdout, /--name/);
        assert.match(r.stdout, /--db/);
    });

    test('an unknown command exits non-zero with usage on stderr', async () => {
        const r = await runCli(['frobnicate']);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /usage/i);
        assert.equal(r.stdout, '');
    });

    test('an unknown option exits non-zero with usage on stderr', async () => {
        const r = await runCli(['serve', '--no-such-option'], { timeout: 5000 });
        assert.notEqual(r.code, 0);
        assert.equal(r.signal, null, 'it must not start serving');
        assert.match(r.stderr, /usage|unknown|invalid/i);
    });

    test('token create without --kind fails', async () => {
        const dir = tmpDir();
        const r = await runCli(['token', 'create', '--db', path.join(dir, 'm.db')]);
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, '');
    });

    test('token create with an unknown kind fails', async () => {
        const dir = tmpDir();
        const r = await runCli(['token', 'create', '--kind', 'nope', '--db', path.join(dir, 'm.db')]);
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, '');
    });
});

describe('mandate token', () => {
    let dir;
    let db;
    before(async () => {
        dir = tmpDir();
        db = await newDb(dir);
    });

    test('token create prints only a token of at least 256 bits, stored only as its SHA-256', async () => {
        const r = await runCli(['token', 'create', '--kind', 'scim', '--name', 'first', '--db', db]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^[A-Za-z0-9_-]+\n?$/, `stdout is one token: ${JSON.stringify(r.stdout)}`);
        const tok = r.stdout.trim();
        // An optional readable prefix such as "mdt_scim_" may precede the random part.
        const random = tok.replace(/^[a-z]+_[a-z]+_/, '');
        assert.ok(random.length >= 43, `random part ${random.length} chars < 43 (256 bits): ${tok}`);
        // SQLite: the bytes of the database files; PostgreSQL: every row, through pg_dump.
        const bytes = await dbContents(db);
        assert.ok(bytes.length > 0);
        assert.equal(bytes.includes(Buffer.from(tok)), false, 'the token text is in the database');
        assert.equal(bytes.includes(Buffer.from(random)), false, 'the token text is in the database');
        const hex = createHash('sha256').update(tok).digest('hex');
        assert.ok(bytes.includes(Buffer.from(hex)), 'the SHA-256 hex of the token is not in the database');
    });

    test('two tokens differ', async () => {
        const a = await createToken(db, 'a');
        const b = await createToken(db, 'b');
        assert.notEqual(a, b);
    });

    test('token list shows id, kind and name but never a token', async () => {
        const name = uniq('lst');
        const tok = await createToken(db, name);
        const r = await runCli(['token', 'list', '--db', db]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.includes(name), `name missing:\n${r.stdout}`);
        assert.match(r.stdout, /\bscim\b/);
        const id = tokenIdFromList(r.stdout, name);
        assert.ok(id && id !== name && id.length > 0, `id in ${r.stdout}`);
        assert.equal(r.stdout.includes(tok), false, 'token list printed a token');
        assert.equal(r.stderr.includes(tok), false, 'token list printed a token');
        assert.equal(r.stdout.includes(tok.replace(/^[a-z]+_[a-z]+_/, '')), false);
    });

    test('token revoke of an unknown id fails', async () => {
        const r = await runCli(['token', 'revoke', 'no-such-token-id', '--db', db]);
        assert.notEqual(r.code, 0);
    });
});

describe('revoking a token of a running server', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('the revoked token fails with 401 on the next request; others keep working', async () => {
        const name = uniq('rev');
        const tok = await createToken(srv.dbPath, name);
        let r = await srv.scim('GET', '/Users', undefined, { token: tok });
        assert.equal(r.status, 200, r.text);
        const list = await runCli(['token', 'list', '--db', srv.dbPath]);
        assert.equal(list.code, 0, list.stderr);
        const id = tokenIdFromList(list.stdout, name);
        const rv = await runCli(['token', 'revoke', id, '--db', srv.dbPath]);
        assert.equal(rv.code, 0, `revoke ${id}: ${rv.stderr}`);
        r = await srv.scim('GET', '/Users', undefined, { token: tok });
        assert.equal(r.status, 401, r.text);
        r = await srv.scim('GET', '/Users');
        assert.equal(r.status, 200, 'the other token was revoked too');
        const listed = await runCli(['token', 'list', '--db', srv.dbPath]);
        assert.match(listed.stdout.split('\n').find((l) => l.includes(name)) || '', /revoked/i,
            `token list marks the token revoked:\n${listed.stdout}`);
    });
});

describe('mandate serve', () => {
    test('SIGTERM exits 0', async () => {
        const srv = await startServer();
        try {
            assert.equal((await srv.scim('GET', '/Users')).status, 200);
            const code = await srv.stop('SIGTERM');
            assert.equal(srv.exitSignal, null, `killed by ${srv.exitSignal}`);
            assert.equal(code, 0, srv.stderr());
        } finally {
            await srv.close();
        }
    });

    test('SIGINT exits 0', async () => {
        const srv = await startServer();
        try {
            assert.equal((await srv.scim('GET', '/Users')).status, 200);
            const code = await srv.stop('SIGINT');
            assert.equal(srv.exitSignal, null, `killed by ${srv.exitSignal}`);
            assert.equal(code, 0, srv.stderr());
        } finally {
            await srv.close();
        }
    });

    test('SIGTERM lets an in-flight request finish', async () => {
        const srv = await startServer();
        try {
            const body = JSON.stringify(userBody());
            const half = Math.floor(body.length / 2);
            const sock = net.connect(srv.port, '127.0.0.1');
            await new Promise((res, rej) => sock.once('connect', res).once('error', rej));
            let answer = '';
            sock.setEncoding('utf8').on('data', (d) => (answer += d));
            const closed = new Promise((res) => sock.once('close', res));
            sock.on('error', () => {});
            sock.write(`POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n` +
                `Authorization: Bearer ${srv.token}\r\nContent-Type: application/scim+json\r\n` +
                `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
                body.slice(0, half));
            await sleep(200); // the server has read the headers and half the body
            const stopping = srv.stop('SIGTERM');
            await sleep(300); // the server has seen the signal
            sock.end(body.slice(half));
            await closed;
            assert.match(answer, /^HTTP\/1\.1 201/, `answer to the in-flight request: ${answer}`);
            const code = await stopping;
            assert.equal(code, 0, srv.stderr());
        } finally {
            await srv.close();
        }
    });

    test('--listen and --db can come from MANDATE_LISTEN and MANDATE_DB', async () => {
        const dir = tmpDir();
        const db = await newDb(dir, { name: 'env.db' });
        const tok = await createToken(db);
        const port = await freePort();
        const p = spawn(BIN, ['serve'], {
            cwd: dir,
            env: { ...process.env, MANDATE_LISTEN: `127.0.0.1:${port}`, MANDATE_DB: db },
            stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        const exited = new Promise((res) => p.on('close', (code) => res(code)));
        try {
            const r = await waitFor(async () => {
                const x = await fetch(`http://127.0.0.1:${port}/scim/v2/Users`, {
                    headers: { Authorization: `Bearer ${tok}` },
                });
                await x.arrayBuffer();
                return x;
            }, { what: 'the server from the environment' });
            assert.equal(r.status, 200, 'the token of MANDATE_DB is accepted');
        } finally {
            p.kill('SIGTERM');
            assert.equal(await exited, 0, err);
        }
    });

    test('the first start on an empty database prints the SCIM base URL and a working token', async () => {
        const srv = await startServer({ createToken: false });
        try {
            const out = `${srv.stdout()}\n${srv.stderr()}`;
            assert.ok(out.includes(srv.scimUrl), `the base URL ${srv.scimUrl} is not printed:\n${out}`);
            const candidates = [...new Set(out.match(/[A-Za-z0-9_-]{43,}/g) || [])];
            let working = null;
            for (const c of candidates) {
                const r = await srv.scim('GET', '/Users', undefined, { token: c });
                if (r.status === 200) working = c;
            }
            assert.ok(working, `no printed string is a working token:\n${out}`);
            assert.ok(srv.stdout().includes(working), 'the token is printed on stdout');
            assert.equal(srv.stderr().includes(working), false, 'the token is in the log (stderr)');
            // The second start on the same database creates no other token.
            await srv.restart();
            const again = `${srv.stdout()}\n${srv.stderr()}`;
            const printed = (again.match(/[A-Za-z0-9_-]{43,}/g) || []).filter((t) => t !== working);
            for (const t of printed) {
                const r = await srv.scim('GET', '/Users', undefined, { token: t });
                assert.notEqual(r.status, 200, 'a second start printed a new token');
            }
            const list = await runCli(['token', 'list', '--db', srv.dbPath]);
            assert.equal(list.stdout.split('\n').filter((l) => /\bscim\b/.test(l)).length, 1, list.stdout);
        } finally {
            await srv.close();
        }
    });

    test('without --db the database is ./var/mandate.db', async () => {
        const dir = tmpDir();
        const port = await freePort();
        const p = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], {
            cwd: dir, env: { ...process.env, MANDATE_DB: '', MANDATE_LISTEN: '' }, stdio: ['ignore', 'ignore', 'pipe'],
        });
        let err = '';
        p.stderr.on('data', (d) => (err += d));
        const exited = new Promise((res) => p.on('close', (code) => res(code)));
        try {
            await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200,
                { what: 'healthz' });
            assert.ok(fs.existsSync(path.join(dir, 'var', 'mandate.db')), `no ./var/mandate.db in ${dir}: ${err}`);
        } finally {
            p.kill('SIGTERM');
            assert.equal(await exited, 0, err);
        }
    });

    test('one log line per request on stderr, never with the token', async () => {
        const srv = await startServer();
        try {
            const marker = uniq('logmark');
            const wrong = `${srv.token.slice(0, -4)}abcd`;
            for (let i = 0; i < 5; i++) {
                const r = await srv.scim('GET', `/Users/${marker}`);
                assert.equal(r.status, 404);
            }
            const w = await srv.scim('GET', `/Users/${marker}`, undefined, { token: wrong });
            assert.equal(w.status, 401);
            const count = () => srv.stderr().split('\n').filter((l) => l.includes(marker)).length;
            await waitFor(() => count() >= 6, { timeout: 3000, what: '6 log lines' });
            await sleep(100);
            assert.equal(count(), 6, `log lines naming the path:\n${srv.stderr()}`);
            await srv.stop();
            const log = srv.stderr();
            assert.equal(log.includes(srv.token), false, 'the token is in the log');
            assert.equal(log.includes(wrong), false, 'a presented token is in the log');
            assert.equal(/Bearer\s+\S/.test(log), false, 'an Authorization header is in the log');
            for (const l of log.split('\n').filter((x) => x.includes(marker))) {
                assert.match(l, /404|401/, `the log line gives the status: ${l}`);
            }
        } finally {
            await srv.close();
        }
    });

    test('a request path with encoded newlines still logs as one line', async () => {
        const srv = await startServer();
        try {
            const marker = uniq('inject');
            const r = await srv.scim('GET', `/Users/${marker}%0Ats=forged%20level=info%20status=200%0D%0Aforged`);
            assert.equal(r.status, 404);
            await waitFor(() => srv.stderr().includes(marker), { timeout: 3000, what: 'the log line' });
            await srv.stop();
            const lines = srv.stderr().split('\n');
            assert.equal(lines.filter((l) => l.includes(marker)).length, 1);
            assert.equal(lines.some((l) => /^ts=forged|^forged/.test(l)), false, `a forged log line:\n${srv.stderr()}`);
        } finally {
            await srv.close();
        }
    });

    test('a password sent in a body never reaches the log', async () => {
        const srv = await startServer();
        try {
            const pw = uniq('Secret-Pw-');
            const r = await srv.scim('POST', '/Users', userBody({ password: pw }));
            assert.equal(r.status, 201);
            await srv.stop();
            assert.equal(srv.stderr().includes(pw), false);
        } finally {
            await srv.close();
        }
    });
});
