// Every SCIM request needs "Authorization: Bearer <scim token>"; otherwise 401 with a SCIM
// Error body (issue 2, "Command line").

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createToken, runCli } from './lib/server.mjs';
import { startServer } from './lib/server.mjs';
import { assertScimError, createUser, patchBody, URN, userBody } from './lib/scim.mjs';

describe('authentication', () => {
    let srv;
    let user;
    before(async () => {
        srv = await startServer();
        user = await createUser(srv);
    });
    after(() => srv && srv.close());

    const unauthorized = (r) => assertScimError(r, 401);

    test('no Authorization header: 401 SCIM error', async () => {
        const r = await srv.scim('GET', '/Users', undefined, { token: null });
        unauthorized(r);
        assert.equal(r.body.detail === undefined || typeof r.body.detail === 'string', true);
    });

    test('a wrong scheme: 401', async () => {
        for (const h of [`Basic ${srv.token}`, `Token ${srv.token}`, srv.token, `Bearer`, `Bearer `,
            `Basic ${Buffer.from(`x:${srv.token}`).toString('base64')}`]) {
            const r = await srv.scim('GET', '/Users', undefined, { token: null, headers: { Authorization: h } });
            assert.equal(r.status, 401, `Authorization: ${h.slice(0, 12)}...`);
            unauthorized(r);
        }
    });

    test('the scheme name is case-insensitive (RFC 7235)', async () => {
        const r = await srv.scim('GET', '/Users', undefined,
            { token: null, headers: { Authorization: `bearer ${srv.token}` } });
        assert.equal(r.status, 200, r.text);
    });

    test('a wrong token: 401', async () => {
        const t = srv.token;
        const flip = (c) => (c === 'A' ? 'B' : 'A');
        const variants = [
            `${t.slice(0, -1)}${flip(t.slice(-1))}`,
            `${flip(t[0])}${t.slice(1)}`,
            t.slice(0, -1),
            `${t}A`,
            t.toUpperCase() === t ? t.toLowerCase() : t.toUpperCase(),
            'x'.repeat(t.length),
            'x'.repeat(4096),
        ];
        for (const v of variants) {
            const r = await srv.scim('GET', '/Users', undefined, { token: v });
            unauthorized(r);
        }
    });

    test('a revoked token: 401', async () => {
        const tok = await createToken(srv.dbPath, 'to-revoke');
        assert.equal((await srv.scim('GET', '/Users', undefined, { token: tok })).status, 200);
        const list = await runCli(['token', 'list', '--db', srv.dbPath]);
        const line = list.stdout.split('\n').find((l) => /\bto-revoke\b/.test(l));
        assert.ok(line, list.stdout);
        const kv = line.match(/\bid[=:]\s*"?([^\s",]+)/);
        const id = kv ? kv[1] : line.trim().split(/\s+/)[0];
        const rv = await runCli(['token', 'revoke', id, '--db', srv.dbPath]);
        assert.equal(rv.code, 0, rv.stderr);
        unauthorized(await srv.scim('GET', '/Users', undefined, { token: tok }));
        unauthorized(await srv.scim('GET', `/Users/${user.id}`, undefined, { token: tok }));
    });

    test('every endpoint and method asks for the token', async () => {
        const cases = [
            ['GET', '/Users'],
            ['GET', `/Users/${user.id}`],
            ['POST', '/Users', userBody()],
            ['PUT', `/Users/${user.id}`, userBody()],
            ['PATCH', `/Users/${user.id}`, patchBody({ op: 'replace', path: 'title', value: 'x' })],
            ['DELETE', `/Users/${user.id}`],
            ['GET', '/Groups'],
            ['POST', '/Groups', { schemas: [URN.GROUP], displayName: 'x' }],
            ['POST', '/Users/.search', { schemas: [URN.SEARCH] }],
            ['POST', '/Groups/.search', { schemas: [URN.SEARCH] }],
            ['POST', '/.search', { schemas: [URN.SEARCH] }],
            ['POST', '/Bulk', { schemas: [URN.BULKREQ], Operations: [] }],
            ['GET', '/ServiceProviderConfig'],
            ['GET', '/ResourceTypes'],
            ['GET', '/ResourceTypes/User'],
            ['GET', '/Schemas'],
            ['GET', `/Schemas/${URN.USER}`],
            ['GET', '/NoSuchEndpoint'],
        ];
        for (const [m, p, b] of cases) {
            const r = await srv.scim(m, p, b, { token: null });
            assert.equal(r.status, 401, `${m} ${p} without a token: ${r.status} ${r.text}`);
            unauthorized(r);
        }
        // Nothing was changed by the refused requests.
        const g = await srv.scim('GET', `/Users/${user.id}`);
        assert.equal(g.status, 200);
        assert.equal(g.body.userName, user.userName);
    });

    test('a token in the query string is not accepted', async () => {
        const r = await srv.scim('GET', `/Users?access_token=${encodeURIComponent(srv.token)}`,
            undefined, { token: null });
        unauthorized(r);
    });

    test('/healthz needs no token', async () => {
        const r = await srv.http('GET', '/healthz');
        assert.equal(r.status, 200);
    });
});
