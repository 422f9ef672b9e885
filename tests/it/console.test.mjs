// The console as the server serves it, without a browser: its files and the headers that keep
// them to themselves, the paths it refuses, the sign-in rate limit, and the cookie's Secure
// flag behind https. The console's pages themselves are driven in tests/browser/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REPO, runCli, startServer } from './lib/server.mjs';

async function adminToken(db, name = 'console-it') {
    const r = await runCli(['token', 'create', '--kind', 'admin', '--name', name, '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
}

function signIn(srv, token, headers = {}) {
    return srv.http('POST', '/api/v1/session', { token }, { headers: { 'Content-Type': 'application/json', ...headers } });
}

describe('the console\'s files', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('/ is web/index.html with a strict CSP, no framing and nosniff', async () => {
        const r = await srv.http('GET', '/');
        assert.equal(r.status, 200, r.text);
        assert.equal(r.text, fs.readFileSync(path.join(REPO, 'web/index.html'), 'utf8'));
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
        const csp = r.headers.get('content-security-policy');
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /script-src 'self';/);
        assert.match(csp, /style-src 'self';/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
        assert.equal(r.headers.get('x-frame-options'), 'DENY');
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    });

    test('scripts, styles and images with their types', async () => {
        for (const [p, type] of [['/js/app.js', 'text/javascript; charset=utf-8'], ['/js/pages/groups.js', 'text/javascript; charset=utf-8'],
            ['/css/console.css', 'text/css; charset=utf-8'], ['/favicon.svg', 'image/svg+xml']]) {
            const r = await srv.http('GET', p);
            assert.equal(r.status, 200, `${p}: ${r.text}`);
            assert.equal(r.headers.get('content-type'), type, p);
            assert.equal(r.text, fs.readFileSync(path.join(REPO, 'web', p), 'utf8'), p);
        }
    });

    test('nothing outside web/, nothing hidden, no unknown types, no other methods', async () => {
        for (const p of ['/../README.md', '/%2e%2e/README.md', '/js/../../src/main.c', '/.gitignore', '/js/.x.js',
            '/README.md', '/web/index.html', '/js//app.js', '/nosuch.js', '/js/app.js%00.html', '/etc/passwd']) {
            const r = await srv.http('GET', p);
            assert.equal(r.status, 404, `${p}: ${r.status} ${r.text.slice(0, 100)}`);
            assert.match(r.headers.get('content-type'), /^application\/problem\+json/, p);
        }
        const post = await srv.http('POST', '/', 'x', { headers: { 'Content-Type': 'text/plain' } });
        assert.equal(post.status, 405);
        assert.equal(post.headers.get('allow'), 'GET, HEAD');
    });

    test('the pages carry no inline script, style or handler, and build no HTML from strings', () => {
        const html = fs.readFileSync(path.join(REPO, 'web/index.html'), 'utf8');
        for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
            assert.match(m[1], /\bsrc=/, 'every script is a file');
            assert.equal(m[2].trim(), '');
        }
        assert.doesNotMatch(html, /\sstyle=|\son[a-z]+=|<style/i);
        const js = [];
        (function walk(d) {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                if (e.isDirectory()) walk(path.join(d, e.name));
                else if (e.name.endsWith('.js')) js.push(path.join(d, e.name));
            }
        })(path.join(REPO, 'web'));
        assert.ok(js.length >= 10);
        for (const f of js) {
            const src = fs.readFileSync(f, 'utf8');
            assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|localStorage|sessionStorage/, f);
        }
    });
});

describe('sign-in', () => {
    test('is rate limited per address: 10 attempts, then 429 with Retry-After, even for a good token', async () => {
        const srv = await startServer();
        try {
            const good = await adminToken(srv.dbPath);
            for (let i = 0; i < 10; i++) {
                const r = await signIn(srv, `mdt_admin_wrong${i}`);
                assert.equal(r.status, 401, r.text);
            }
            const limited = await signIn(srv, good);
            assert.equal(limited.status, 429, limited.text);
            assert.match(limited.headers.get('content-type'), /^application\/problem\+json/);
            assert.ok(Number(limited.headers.get('retry-after')) >= 1);
            assert.equal(limited.headers.get('set-cookie'), null);
            // Other routes are not limited: the bearer token still works.
            const r = await srv.http('GET', '/api/v1/tokens', undefined, { headers: { Authorization: `Bearer ${good}` } });
            assert.equal(r.status, 200, r.text);
            assert.ok(!srv.stderr().includes(good), 'a token is never logged');
            assert.ok(!srv.stderr().includes('mdt_admin_wrong'), 'nor a wrong one');
        } finally {
            await srv.close();
        }
    });

    test('bad bodies: 415 and 400, without a cookie', async () => {
        const srv = await startServer();
        try {
            const t = await adminToken(srv.dbPath);
            const cases = [
                [srv.http('POST', '/api/v1/session', `{"token": "${t}"}`, { headers: { 'Content-Type': 'text/plain' } }), 415],
                [srv.http('POST', '/api/v1/session', '{"token": ', { headers: { 'Content-Type': 'application/json' } }), 400],
                [srv.http('POST', '/api/v1/session', '[]', { headers: { 'Content-Type': 'application/json' } }), 400],
                [srv.http('POST', '/api/v1/session', { token: 42 }, { headers: { 'Content-Type': 'application/json' } }), 400],
            ];
            for (const [p, status] of cases) {
                const r = await p;
                assert.equal(r.status, status, r.text);
                assert.equal(r.headers.get('set-cookie'), null);
            }
            const scim = await signIn(srv, srv.token);
            assert.equal(scim.status, 401, 'a SCIM token is no admin token');
        } finally {
            await srv.close();
        }
    });
});

describe('sessions', () => {
    test('signing in again ends the session the browser held before', async () => {
        const srv = await startServer();
        try {
            const t = await adminToken(srv.dbPath);
            const first = await signIn(srv, t);
            assert.equal(first.status, 201, first.text);
            const old = first.headers.get('set-cookie').split(';')[0];
            const second = await signIn(srv, t, { Cookie: old });
            assert.equal(second.status, 201, second.text);
            const fresh = second.headers.get('set-cookie').split(';')[0];
            assert.notEqual(fresh, old);
            assert.equal((await srv.http('GET', '/api/v1/session', undefined, { headers: { Cookie: old } })).status, 401);
            assert.equal((await srv.http('GET', '/api/v1/session', undefined, { headers: { Cookie: fresh } })).status, 200);
        } finally {
            await srv.close();
        }
    });
});

describe('behind https', () => {
    test('--public-url https://...: the cookie is __Host- and Secure, and the plain name is not read', async () => {
        const srv = await startServer({ args: ['--public-url', 'https://mandate.example.com'] });
        try {
            const t = await adminToken(srv.dbPath);
            const r = await signIn(srv, t);
            assert.equal(r.status, 201, r.text);
            const sc = r.headers.get('set-cookie');
            assert.match(sc, /^__Host-mandate_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
            const value = sc.split(';')[0].split('=')[1];
            const ok = await srv.http('GET', '/api/v1/session', undefined, { headers: { Cookie: `__Host-mandate_session=${value}` } });
            assert.equal(ok.status, 200, ok.text);
            assert.equal(ok.body.urls.mcp, 'https://mandate.example.com/mcp');
            const plain = await srv.http('GET', '/api/v1/session', undefined, { headers: { Cookie: `mandate_session=${value}` } });
            assert.equal(plain.status, 401, 'a cookie that could have been set over plain http is not taken');
        } finally {
            await srv.close();
        }
    });

    test('X-Forwarded-Proto: https from a TLS-terminating proxy makes the cookie Secure', async () => {
        const srv = await startServer();
        try {
            const t = await adminToken(srv.dbPath);
            const r = await signIn(srv, t, { 'X-Forwarded-Proto': 'https' });
            assert.equal(r.status, 201, r.text);
            assert.match(r.headers.get('set-cookie'), /^__Host-mandate_session=.*; Secure$/);
        } finally {
            await srv.close();
        }
    });
});

describe('without a web directory', () => {
    test('/ says the console is not installed, and the API still works', async () => {
        const srv = await startServer({ env: { MANDATE_WEB: '/nonexistent-mandate-web' } });
        try {
            const r = await srv.http('GET', '/');
            assert.equal(r.status, 404);
            assert.match(r.body.detail, /console is not installed/);
            assert.match(srv.stderr(), /nonexistent-mandate-web has no index.html/);
            const h = await srv.http('GET', '/healthz');
            assert.equal(h.status, 200);
        } finally {
            await srv.close();
        }
    });
});
