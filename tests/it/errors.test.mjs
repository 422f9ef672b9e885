// Error answers: SCIM Error bodies with status as a string and the right scimType, for
// malformed, oversized, too deep and wrongly typed requests (RFC 7644 section 3.12).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { assertScimError, createUser, getOk, q, URN, userBody } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

/*
 * Sends a request with node:http and resolves with the answer even when the server answers
 * before reading the whole body and closes (which fetch may report as a network error).
 */
function rawRequest(url, method, headers, body) {
    return new Promise((resolve, reject) => {
        const req = http.request(url, { method, headers });
        let done = false;
        req.on('response', (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => {
                done = true;
                let json = null;
                try {
                    json = JSON.parse(text);
                } catch {
                    /* not JSON */
                }
                resolve({ status: res.statusCode, headers: new Headers(res.headers), body: json, text });
            });
            res.on('error', (e) => !done && reject(e));
        });
        req.on('error', (e) => {
            // EPIPE/ECONNRESET while still writing: wait a moment for an answer already sent.
            setTimeout(() => !done && reject(e), 500);
        });
        req.end(body);
    });
}

describe('errors', () => {
    let srv;
    let u;
    before(async () => {
        srv = await startServer();
        u = await createUser(srv);
    });
    after(() => srv && srv.close());

    test('malformed JSON: 400 invalidSyntax on every endpoint that takes a body', async () => {
        for (const [m, p] of [['POST', '/Users'], ['PUT', `/Users/${u.id}`], ['PATCH', `/Users/${u.id}`],
            ['POST', '/Groups'], ['POST', '/Bulk'], ['POST', '/.search'], ['POST', '/Users/.search']]) {
            for (const bad of ['{', '{"userName": }', '{"a":1,}', "{'a':1}", 'nul', '{"a":1} trailing']) {
                const r = await srv.scim(m, p, bad);
                assertScimError(r, 400, 'invalidSyntax');
            }
        }
        assert.equal((await getOk(srv, `/Users/${u.id}`)).meta.version, u.meta.version);
    });

    test('a body that is not an object: 400', async () => {
        for (const bad of ['[]', '"str"', '42', 'null', 'true']) {
            assertScimError(await srv.scim('POST', '/Users', bad), 400);
        }
    });

    test('an empty body: 400', async () => {
        assertScimError(await srv.scim('POST', '/Users', ''), 400);
        assertScimError(await srv.scim('POST', '/Users', undefined, { headers: { 'Content-Type': 'application/scim+json' } }), 400);
    });

    test('duplicate keys: 400 invalidSyntax', async () => {
        const r = await srv.scim('POST', '/Users', '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"dup1","userName":"dup2"}');
        assertScimError(r, 400, 'invalidSyntax');
    });

    test('invalid UTF-8: 400', async () => {
        const bytes = Buffer.concat([Buffer.from('{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"'),
            Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
        const r = await srv.scim('POST', '/Users', new Uint8Array(bytes));
        assertScimError(r, 400);
    });

    test('deeply nested JSON: 400 invalidSyntax', async () => {
        const deep = `{"schemas":["${URN.USER}"],"userName":"deep","x":${'['.repeat(10000)}${']'.repeat(10000)}}`;
        assertScimError(await srv.scim('POST', '/Users', deep), 400, 'invalidSyntax');
        const objs = `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`;
        assertScimError(await srv.scim('POST', '/Users', objs), 400, 'invalidSyntax');
        assertScimError(await srv.scim('PATCH', `/Users/${u.id}`, objs), 400, 'invalidSyntax');
        assertScimError(await srv.scim('POST', '/Bulk', objs), 400, 'invalidSyntax');
        // The server is still there.
        assert.equal((await srv.scim('GET', `/Users/${u.id}`)).status, 200);
    });

    test('a body over the size limit: 413 SCIM error, nothing created', async () => {
        const big = JSON.stringify(userBody({ userName: 'too-big@example.com', title: 'x'.repeat(4 * 1024 * 1024) }));
        const r = await rawRequest(`${srv.scim}/Users`, 'POST', {
            Authorization: `Bearer ${srv.token}`, 'Content-Type': 'application/scim+json',
            'Content-Length': Buffer.byteLength(big),
        }, big);
        assertScimError(r, 413);
        const l = await srv.scim('GET', `/Users${q({ filter: 'userName eq "too-big@example.com"' })}`);
        assert.equal(l.body.totalResults, 0);
        assert.equal((await srv.scim('GET', `/Users/${u.id}`)).status, 200, 'the server is still there');
    });

    test('a chunked body over the size limit: 413', async () => {
        const big = JSON.stringify(userBody({ userName: 'too-big2@example.com', title: 'y'.repeat(4 * 1024 * 1024) }));
        const r = await rawRequest(`${srv.scim}/Users`, 'POST', {
            Authorization: `Bearer ${srv.token}`, 'Content-Type': 'application/scim+json',
            'Transfer-Encoding': 'chunked',
        }, big);
        assertScimError(r, 413);
    });

    test('wrong value types: 400 invalidValue', async () => {
        const cases = [
            userBody({ active: 'maybe' }),
            userBody({ active: 1 }),
            userBody({ name: 'not an object' }),
            userBody({ emails: [{ value: 5 }] }),
            userBody({ emails: [{ value: 'a@example.com', primary: 'yes' }] }),
            userBody({ displayName: ['a', 'b'] }),
            userBody({ [URN.ENT]: 'x', schemas: [URN.USER, URN.ENT] }),
        ];
        for (const b of cases) {
            assertScimError(await srv.scim('POST', '/Users', b), 400, 'invalidValue');
        }
        assertScimError(await srv.scim('POST', '/Groups', { schemas: [URN.GROUP], displayName: 5 }), 400, 'invalidValue');
        assertScimError(await srv.scim('POST', '/Groups', { schemas: [URN.GROUP], displayName: 'g', members: 'x' }), 400, 'invalidValue');
    });

    test('a filter error: 400 invalidFilter; a too long filter: 400', async () => {
        assertScimError(await srv.scim('GET', `/Users${q({ filter: 'userName eq' })}`), 400, 'invalidFilter');
        assertScimError(await srv.scim('GET', `/Groups${q({ filter: 'displayName eq "a" and' })}`), 400, 'invalidFilter');
        assertScimError(await srv.scim('GET', `/Users${q({ filter: `userName eq "${'z'.repeat(8192)}"` })}`), 400);
    });

    test('an unknown resource: 404 with a SCIM error, also for groups', async () => {
        assertScimError(await srv.scim('GET', '/Users/does-not-exist'), 404);
        assertScimError(await srv.scim('GET', '/Groups/does-not-exist'), 404);
        assertScimError(await srv.scim('DELETE', '/Groups/does-not-exist'), 404);
        assertScimError(await srv.scim('PUT', '/Groups/does-not-exist', { schemas: [URN.GROUP], displayName: 'x' }), 404);
    });

    test('ids with strange characters are 404s, not errors', async () => {
        for (const id of ["'; DROP TABLE users; --", '..%2F..%2Fetc%2Fpasswd', '%00', 'a%20b', '%E2%98%83']) {
            const r = await srv.scim('GET', `/Users/${id}`);
            assertScimError(r, 404);
        }
        assert.equal((await srv.scim('GET', `/Users/${u.id}`)).status, 200);
    });

    test('all error answers are application/scim+json', async () => {
        const r = await srv.scim('GET', '/Users/nope');
        assert.match(r.headers.get('content-type'), /^application\/scim\+json/);
    });

    test('an unknown path outside /scim/v2 is 404', async () => {
        const r = await srv.http('GET', '/no-such-page');
        assert.equal(r.status, 404);
    });
});
