// Starts the real mandate binary on a free loopback port with a temporary database, for the
// black-box tests. The binary is build/mandate, or MANDATE_BIN (e.g. build/asan/mandate).
//
//   const srv = await startServer();
//   after(() => srv.close());
//   const r = await srv.scim('POST', '/Users', { userName: 'a' });
//
// Every server and temporary directory is also cleaned up when the test process exits, so a
// failing test never leaves a server running.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = path.resolve(REPO, process.env.MANDATE_BIN || 'build/mandate');

const live = new Set(); // servers whose process may still run
const dirs = new Set(); // temporary directories to remove

process.on('exit', () => {
    for (const s of live) {
        try {
            s.proc.kill('SIGKILL');
        } catch {
            /* already gone */
        }
    }
    if (!process.env.MANDATE_IT_KEEP) {
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
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
 * Starts `mandate serve` on a fresh temporary database (or opts.dbPath), with a SCIM token made
 * by `mandate token create`. opts.env adds environment variables; opts.createToken false skips
 * the token.
 */
export async function startServer(opts = {}) {
    const dir = opts.dir || tmpDir();
    const dbPath = opts.dbPath || path.join(dir, 'mandate.db');
    const token = opts.createToken === false ? null : await createToken(dbPath, opts.tokenName || 'it');

    const srv = {
        dir,
        dbPath,
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
                env: { ...process.env, ...(opts.env || {}) },
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
