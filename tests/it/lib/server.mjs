// Starts the real mandate binary on a free loopback port with a fresh database, for the
// black-box tests. The binary is build/mandate, or MANDATE_BIN (e.g. build/asan/mandate).
//
//   const srv = await startServer();
//   after(() => srv.close());
//   const r = await srv.scim('POST', '/Users', { userName: 'a' });
//
// The backend comes from MANDATE_TEST_BACKEND: "sqlite" (the default; a file in a temporary
// directory) or "postgres" (a database of its own, created on the server of MANDATE_TEST_PG,
// e.g. postgres://postgres@127.0.0.1:PORT/postgres, and dropped when the server is closed).
// srv.dbPath is then what `--db` takes: a file path or a postgres:// URL.
//
// Every server, temporary directory and database is also cleaned up when the test process
// exits, so a failing test never leaves a server running (MANDATE_IT_KEEP=1 keeps directories
// and databases, to look at them).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.resolve(REPO, process.env.MANDATE_BIN || 'build/mandate');

/* The storage backend of this run: "sqlite" or "postgres". */
export const BACKEND = process.env.MANDATE_TEST_BACKEND || 'sqlite';
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres') {
    throw new Error(`MANDATE_TEST_BACKEND is "${BACKEND}"; it must be sqlite or postgres`);
}
/* The PostgreSQL server's URL (its postgres database), for the postgres backend. */
export const PG_URL = process.env.MANDATE_TEST_PG || '';
if (BACKEND === 'postgres' && !/^postgres(ql)?:\/\//.test(PG_URL)) {
    throw new Error('MANDATE_TEST_BACKEND=postgres needs MANDATE_TEST_PG, the URL of a PostgreSQL ' +
        'server (scripts/pg.sh start DIR prints one; scripts/it.sh starts one by itself)');
}

const live = new Set(); // servers whose process may still run
const dirs = new Set(); // temporary directories to remove
const pgDbs = new Set(); // PostgreSQL databases (URLs) to drop
const pgClusters = new Set(); // directories of PostgreSQL clusters that tests started

process.on('exit', () => {
    for (const s of live) {
        try {
            s.proc.kill('SIGKILL');
        } catch {
            /* already gone */
        }
    }
    // A cluster is stopped even with MANDATE_IT_KEEP, so that no server outlives the tests.
    for (const d of pgClusters) {
        spawnSync('bash', [path.join(REPO, 'scripts/pg.sh'), process.env.MANDATE_IT_KEEP ? 'stop' : 'destroy', d],
            { stdio: 'ignore', timeout: 60000 });
    }
    if (!process.env.MANDATE_IT_KEEP) {
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        // Synchronously, as nothing asynchronous runs in an exit handler; FORCE disconnects
        // the servers that were just killed, should their connections linger.
        for (const db of pgDbs) {
            spawnSync(PSQL, psqlArgs(pgServerUrl(db),
                `DROP DATABASE IF EXISTS ${pgDbName(db)} WITH (FORCE)`), { stdio: 'ignore', timeout: 10000 });
        }
    }
});

export function tmpDir() {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mandate-it-'));
    dirs.add(d);
    return d;
}

export function removeDir(d) {
    fs.rmSync(d, { recursive: true, force: true });
    dirs.delete(d);
}

/* ---- Databases ---- */

/* psql: PSQL, else PostgreSQL 15's, else the one on PATH. */
export const PSQL = process.env.PSQL ||
    (fs.existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql');

function psqlArgs(url, sql) {
    return ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql];
}

/* Whether db (a --db argument) names a PostgreSQL database. */
export function isPg(db) {
    return /^postgres(ql)?:\/\//i.test(db);
}

/* The database name in a postgres:// URL. */
function pgDbName(url) {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/* url with its database replaced by name (the query string kept). */
function pgWithDb(url, name) {
    const u = new URL(url);
    u.pathname = `/${name}`;
    return u.toString();
}

/* The URL of the postgres database on db's server, from which databases are created and dropped. */
function pgServerUrl(db) {
    return pgWithDb(db, 'postgres');
}

/*
 * Runs one SQL statement with psql on the PostgreSQL database url: its output, unaligned and
 * without headers (fields separated by "|", rows by newlines). Throws with psql's message.
 */
export function psql(url, sql, { timeout = 30000 } = {}) {
    return new Promise((resolve, reject) => {
        const p = spawn(PSQL, psqlArgs(url, sql), { stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning', PGCONNECT_TIMEOUT: '10' } });
        let out = '';
        let err = '';
        p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
        p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
        const t = setTimeout(() => p.kill('SIGKILL'), timeout);
        p.on('error', (e) => {
            clearTimeout(t);
            reject(new Error(`cannot run ${PSQL}: ${e.message} (install postgresql-client-15)`));
        });
        p.on('close', (code, signal) => {
            clearTimeout(t);
            if (code === 0) resolve(out);
            else reject(new Error(`psql ${JSON.stringify(sql)} exited ${code} (${signal}): ${err.trim()}`));
        });
    });
}

/* Runs scripts/pg.sh with args (see its header): its stdout; throws with its stderr. */
export function pgsh(args, { timeout = 120000 } = {}) {
    return new Promise((resolve, reject) => {
        const p = spawn('bash', [path.join(REPO, 'scripts/pg.sh'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
        p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
        const t = setTimeout(() => p.kill('SIGKILL'), timeout);
        p.on('error', (e) => {
            clearTimeout(t);
            reject(e);
        });
        p.on('close', (code, signal) => {
            clearTimeout(t);
            if (code === 0) resolve(out.trim());
            else reject(new Error(`scripts/pg.sh ${args.join(' ')} exited ${code} (${signal}): ${err.trim()}`));
        });
    });
}

/*
 * Starts a PostgreSQL cluster of the test's own in a new temporary directory (scripts/pg.sh
 * start): {dir, url}. For tests that stop and start their server, which would disturb the
 * other test files on the shared one. Stopped and removed by destroyPgCluster, or at exit.
 */
export async function startPgCluster() {
    const dir = tmpDir();
    pgClusters.add(dir);
    const url = await pgsh(['start', dir]);
    return { dir, url };
}

export async function destroyPgCluster(dir) {
    await pgsh(process.env.MANDATE_IT_KEEP ? ['stop', dir] : ['destroy', dir]);
    pgClusters.delete(dir);
}

let dbSeq = 0;

/*
 * A fresh, empty database for this test run's backend, as `--db` takes it: a file in dir
 * (SQLite), or a new database on the MANDATE_TEST_PG server (PostgreSQL), dropped at exit
 * unless dropDb drops it first. opts.backend overrides the run's backend, opts.pg the URL of
 * the PostgreSQL server.
 */
export async function newDb(dir, opts = {}) {
    const backend = opts.backend || (opts.pg ? 'postgres' : BACKEND);
    if (backend === 'sqlite') return path.join(dir || tmpDir(), opts.name || 'mandate.db');
    const server = opts.pg || PG_URL;
    if (!server) throw new Error('a PostgreSQL database needs MANDATE_TEST_PG');
    dbSeq += 1;
    const name = `mit_${process.pid}_${dbSeq}_${Math.random().toString(36).slice(2, 8)}`;
    await psql(server, `CREATE DATABASE ${name}`);
    const url = pgWithDb(server, name);
    pgDbs.add(url);
    return url;
}

/* Drops a database made by newDb (SQLite files go with their directory). */
export async function dropDb(db) {
    if (!isPg(db)) return;
    if (!process.env.MANDATE_IT_KEEP) {
        await psql(pgServerUrl(db), `DROP DATABASE IF EXISTS ${pgDbName(db)} WITH (FORCE)`);
    }
    pgDbs.delete(db);
}

/*
 * Everything a database holds, as one buffer to search for secrets: for SQLite the bytes of
 * its files (main, WAL, shared memory, journal), for PostgreSQL the text of every row of
 * every table (pg_dump --data-only; the rows of the tokens table when pg_dump is missing).
 */
export async function dbContents(db) {
    if (!isPg(db)) {
        const parts = [];
        for (const suffix of ['', '-wal', '-shm', '-journal']) {
            if (fs.existsSync(db + suffix)) parts.push(fs.readFileSync(db + suffix));
        }
        return Buffer.concat(parts);
    }
    const pgDump = path.join(path.dirname(PSQL), 'pg_dump');
    if (path.isAbsolute(pgDump) && fs.existsSync(pgDump)) {
        const r = spawnSync(pgDump, ['--data-only', '--no-owner', '-d', db], { timeout: 30000 });
        if (r.status !== 0) throw new Error(`pg_dump exited ${r.status}: ${r.stderr}`);
        return r.stdout;
    }
    return Buffer.from(await psql(db, 'SELECT * FROM tokens'));
}

/*
 * Runs the binary to completion: {code, signal, stdout, stderr}. opts.env is added to the
 * environment, opts.input is written to stdin, opts.timeout (ms, default 15000) kills it.
 */
export function runCli(args, opts = {}) {
    return new Promise((resolve, reject) => {
        const p = spawn(opts.bin || BIN, args, {
            cwd: opts.cwd || REPO,
            env: { ...process.env, ...(opts.env || {}) },
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
        p.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
        const t = setTimeout(() => p.kill('SIGKILL'), opts.timeout || 15000);
        p.on('error', (err) => {
            clearTimeout(t);
            reject(err);
        });
        p.on('close', (code, signal) => {
            clearTimeout(t);
            resolve({ code, signal, stdout, stderr });
        });
        p.stdin.on('error', () => {});
        p.stdin.end(opts.input || '');
    });
}

/* A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.unref();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/*
 * What every test server gets unless opts.env says otherwise: a vault key of its own (the
 * PostgreSQL backend has no default key file), and plain http:// upstreams, since the fakes of
 * the vendors' APIs listen on loopback without TLS.
 */
export const TEST_VAULT_KEY = 'a1'.repeat(32);
const TEST_RUNTIME_ENV = { MANDATE_VAULT_KEY: TEST_VAULT_KEY, MANDATE_UPSTREAM_HTTP: '1' };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls fn every `every` ms until it returns a truthy value or timeout ms pass. */
export async function waitFor(fn, { timeout = 10000, every = 50, what = 'condition' } = {}) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            last = err;
        }
        if (Date.now() > end) {
            throw new Error(`timed out after ${timeout} ms waiting for ${what}` +
                (last ? `: ${last.message}` : ''));
        }
        await sleep(every);
    }
}

/* Creates a SCIM token in db with the CLI; returns the token (the CLI's whole stdout). */
export async function createToken(db, name = 'it') {
    const r = await runCli(['token', 'create', '--kind', 'scim', '--name', name, '--db', db]);
    if (r.code !== 0) {
        throw new Error(`mandate token create exited ${r.code} (${r.signal}): ${r.stderr}`);
    }
    return r.stdout.trim();
}

/*
 * Sends one request and reads the whole answer: {status, headers, body (parsed JSON or null),
 * text}. body: a string is sent as is, anything else as JSON. opts.headers are added; the
 * Content-Type defaults to application/scim+json when there is a body.
 */
export async function request(method, url, body, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    let payload;
    if (body !== undefined && body !== null) {
        payload = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
            headers['Content-Type'] = 'application/scim+json';
        }
    }
    const res = await fetch(url, { method, headers, body: payload, redirect: 'manual' });
    const text = await res.text();
    let json = null;
    if (text.length > 0) {
        try {
            json = JSON.parse(text);
        } catch {
            json = null;
        }
    }
    return { status: res.status, headers: res.headers, body: json, text };
}

/*
 * Starts `mandate serve` on a fresh database of the run's backend (newDb), or on opts.dbPath
 * (also opts.db: then it is neither created nor dropped here, so that a second server can share
 * the first one's), with a SCIM token made by `mandate token create`. opts.token uses that token
 * instead; opts.createToken false makes none. opts.env adds environment variables, opts.args
 * arguments of serve.
 */
export async function startServer(opts = {}) {
    const dir = opts.dir || tmpDir();
    const given = opts.dbPath || opts.db;
    const dbPath = given || await newDb(dir);
    let token = null;
    if (opts.token) token = opts.token;
    else if (opts.createToken !== false) token = await createToken(dbPath, opts.tokenName || 'it');

    const srv = {
        dir,
        dbPath, // the --db argument: a file path (SQLite) or a postgres:// URL
        backend: isPg(dbPath) ? 'postgres' : 'sqlite',
        token,
        proc: null,
        port: 0,
        base: '',
        scim: null,
        scimUrl: '',
        exitCode: null,
        exitSignal: null,
        _stderr: '',
        _stdout: '',
        _exited: null,
        stderr() {
            return this._stderr;
        },
        stdout() {
            return this._stdout;
        },
        /* Sends signal (default SIGTERM) and waits for the exit; returns the exit code. */
        async stop(signal = 'SIGTERM', timeout = 10000) {
            if (!this.proc) return this.exitCode;
            if (this.exitCode === null && this.exitSignal === null) {
                this._asked = true;
                this._lastSignal = signal;
                this.proc.kill(signal);
            }
            const t = setTimeout(() => this.proc && this.proc.kill('SIGKILL'), timeout);
            await this._exited;
            clearTimeout(t);
            return this.exitCode;
        },
        async kill9() {
            return this.stop('SIGKILL');
        },
        /* Stops the server (SIGTERM unless already gone) and starts it again on the same DB. */
        async restart() {
            await this.stop();
            await this._spawn();
            return this;
        },
        /*
         * Stops the server and removes its directory. Safe to call twice. Throws when the server
         * died by itself, or did not exit with 0 on SIGTERM (a crash, a sanitizer report).
         */
        async close() {
            try {
                const died = this.proc && !this._asked &&
                    (this.exitCode !== null || this.exitSignal !== null);
                const code = await this.stop();
                if (died) {
                    throw new Error(`mandate serve died during the tests (code ${this.exitCode}, ` +
                        `signal ${this.exitSignal}); stderr:\n${this._stderr.slice(-4000)}`);
                }
                if (this._lastSignal === 'SIGTERM' && (code !== 0 || this.exitSignal !== null)) {
                    throw new Error(`mandate serve exited with code ${code} (signal ${this.exitSignal}) ` +
                        `on SIGTERM; stderr:\n${this._stderr.slice(-4000)}`);
                }
            } finally {
                if (!opts.dir && !process.env.MANDATE_IT_KEEP) removeDir(dir);
                if (!given) await dropDb(dbPath);
            }
        },
        async _spawn() {
            this.port = await freePort();
            this.base = `http://127.0.0.1:${this.port}`;
            // srv.scim is both the SCIM base URL (in a string context: `${srv.scim}/Users`)
            // and the request helper srv.scim(method, path, body, opts).
            const url = `${this.base}/scim/v2`;
            const fn = (method, p, body, o) => this._scimRequest(method, p, body, o);
            fn.url = url;
            fn.toString = () => url;
            fn[Symbol.toPrimitive] = () => url;
            this.scim = fn;
            this.scimUrl = url;
            this.exitCode = null;
            this.exitSignal = null;
            this._asked = false;
            this._lastSignal = null;
            const args = ['serve', '--listen', `127.0.0.1:${this.port}`, '--db', dbPath,
                ...(opts.args || [])];
            const p = spawn(BIN, args, {
                cwd: dir,
                env: { ...process.env, ...TEST_RUNTIME_ENV, ...(opts.env || {}) },
                stdio: ['ignore', 'pipe', 'pipe'],
            });
            this.proc = p;
            live.add(this);
            p.stdout.setEncoding('utf8').on('data', (d) => (this._stdout += d));
            p.stderr.setEncoding('utf8').on('data', (d) => (this._stderr += d));
            this._exited = new Promise((resolve) => {
                p.on('exit', (code, signal) => {
                    this.exitCode = code;
                    this.exitSignal = signal;
                });
                // 'close' comes after the pipes drain, so stderr() is complete.
                p.on('close', () => {
                    live.delete(this);
                    resolve();
                });
                p.on('error', (err) => {
                    this._stderr += `\nspawn error: ${err.message}`;
                    live.delete(this);
                    resolve();
                });
            });
            const end = Date.now() + 10000;
            for (;;) {
                if (this.exitCode !== null || this.exitSignal !== null || !live.has(this)) {
                    await this._exited;
                    throw new Error(`mandate serve exited (code ${this.exitCode}, signal ` +
                        `${this.exitSignal}) before answering /healthz; stderr:\n${this._stderr}`);
                }
                try {
                    const r = await fetch(`${this.base}/healthz`);
                    await r.arrayBuffer();
                    if (r.status === 200) break;
                } catch {
                    /* not listening yet */
                }
                if (Date.now() > end) {
                    p.kill('SIGKILL');
                    await this._exited;
                    throw new Error(`mandate serve did not answer /healthz with 200 within 10 s; ` +
                        `stderr:\n${this._stderr}`);
                }
                await sleep(50);
            }
        },
        /* A SCIM request relative to /scim/v2. o.token: another token, or null for none. */
        _scimRequest(method, p, body, o = {}) {
            const headers = { ...(o.headers || {}) };
            const tok = 'token' in o ? o.token : this.token;
            if (tok !== null && tok !== undefined) headers.Authorization = `Bearer ${tok}`;
            return request(method, this.scimUrl + p, body, { headers });
        },
        /* A request relative to the server root, without authentication unless given. */
        http(method, p, body, o = {}) {
            return request(method, this.base + p, body, o);
        },
    };
    await srv._spawn();
    return srv;
}
