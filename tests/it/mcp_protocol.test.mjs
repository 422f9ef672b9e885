// The MCP endpoint's rules, one by one, from outside: the HTTP checks of the Streamable HTTP
// transport (methods, media types, size, paths, packs, Origin, bearer tokens and the RFC 9728
// metadata), JSON-RPC 2.0 framing (malformed, batched, wrong-shaped messages, notifications,
// responses, unknown methods, nesting, duplicate keys, bad UTF-8), the protocol revisions
// (the 2025 handshake and the stateless 2026-07-28 with its headers and _meta envelope),
// tools/list (only entitled tools, name order, pagination over 150 tools of a connector of
// the test's own, cursors, annotations) and tools/call (unknown and not-entitled tools alike,
// grant conditions, argument schemas, upstream failures, missing credentials), and the
// employee's SCIM lifecycle (deactivated, reactivated, deleted).
//
// Every request is raw (lib/mcp.mjs rpc, or rawRequest when a header or byte must be exactly
// as written). After each bad input the server must still answer a good request, and nothing
// must have reached the upstream.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startFakeUpstream } from './lib/fake_upstream.mjs';
import {
    ERR, LEGACY, MODERN, VERSIONS, allTools, apiOk, call, catalogTools, createAdminToken, createAgentToken,
    meta, packToolNames, pointAtFake, putConnector, rawRequest, request, rpc, setupMcp, startMandate,
    testConnectorName, toolDoc,
} from './lib/mcp.mjs';
import { createUser, patchOk } from './lib/scim.mjs';
import { freePort } from './lib/server.mjs';

const UNSUPPORTED_VERSION = -32022;
const UNAUTHORIZED = -32001;
const ISSUE = { owner: 'octocat', repo: 'hello-world', issue_number: 1347 };
const ENGINEERING = packToolNames('engineering');

let srv;
let fake;
let env; // the engineering user: env.users[0]
let tok;

before(async () => {
    fake = await startFakeUpstream();
    srv = await startMandate();
    env = await setupMcp(srv, { fake, pack: 'engineering', connectors: ['github'] });
    tok = env.users[0].token;
});

after(async () => {
    if (fake) await fake.close();
    if (srv) await srv.close();
});

/* ---- helpers ---- */

/* A raw POST to url with the usual MCP headers, every one replaceable (null removes it). */
function post(url, body, headers = {}) {
    const h = {
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${tok}`,
    };
    for (const [k, v] of Object.entries(headers)) {
        for (const x of Object.keys(h)) if (x.toLowerCase() === k.toLowerCase()) delete h[x];
        if (v !== null && v !== undefined) h[k] = v;
    }
    return rawRequest(url, { method: 'POST', headers: h, body });
}

/*
 * Asserts a JSON-RPC error answer: the HTTP status, a JSON body with jsonrpc "2.0", the id
 * (null when the request's could not be read), the code, a message, and no result.
 */
function assertRpcError(r, status, code, id = null) {
    const what = `${r.status} ${r.text}`;
    if (r.bytes) assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(r.bytes), `not UTF-8: ${what}`);
    assert.equal(r.status, status, what);
    assert.match(String(r.headers['content-type'] || (r.headers.get && r.headers.get('content-type'))),
        /^application\/json/, what);
    assert.ok(r.body && typeof r.body === 'object', what);
    assert.equal(r.body.jsonrpc, '2.0', what);
    assert.deepEqual(r.body.id, id, what);
    assert.ok(r.body.error, what);
    assert.equal(r.body.error.code, code, what);
    assert.equal(typeof r.body.error.message, 'string', what);
    assert.ok(!('result' in r.body), what);
}

/* The text of a CallToolResult's text content, joined. */
function textOf(result) {
    return (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/* All tool names on url for token, following nextCursor, on version. */
async function listNames(url, token, version = '2025-11-25') {
    let id = 100;
    const tools = await allTools(async (cursor) => {
        id += 1;
        const r = await call(url, token, version, id, 'tools/list', cursor ? { cursor } : {});
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body && r.body.result, r.text);
        return r.body.result;
    });
    return tools.map((t) => t.name);
}

/*
 * The server is alive and unchanged: a good tools/list still answers the engineering pack,
 * the process runs, and the upstream has seen no request since mark.
 */
async function assertAlive(mark) {
    assert.equal(srv.exitCode, null, `mandate exited: ${srv.stderr().slice(-2000)}`);
    assert.equal(srv.exitSignal, null, `mandate died: ${srv.stderr().slice(-2000)}`);
    const r = await rpc(env.mcpUrl, request(9001, 'tools/list'), { token: tok, version: '2025-11-25' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.result.tools.map((t) => t.name), ENGINEERING);
    if (mark !== undefined) assert.equal(fake.count, mark, 'a bad request reached the upstream');
}

/* A user of the test's own, with an agent token, granted body (subject filled in): {user, token, grant}. */
async function grantedUser(grantBody, { pack } = {}) {
    const user = await createUser(srv);
    const grant = grantBody
        ? await apiOk(env.api, 'POST', '/grants', { subject: { type: 'user', id: user.id }, ...grantBody }) : null;
    const t = await createAgentToken(env.api, user.id, { pack });
    return { user, token: t.token, grant };
}

/* tools/call on version with token (default the engineering user's), through rpc. */
function toolCall(name, args, { version = '2025-11-25', token = tok, url = env.mcpUrl, id = 7 } = {}) {
    const params = { name };
    if (args !== undefined) params.arguments = args;
    return call(url, token, version, id, 'tools/call', params);
}

/* ---- the HTTP layer ---- */

describe('HTTP: methods, media types, size, paths', () => {
    for (const method of ['GET', 'DELETE']) {
        test(`${method} /mcp and /mcp/packs/engineering: 405 with Allow: POST and a JSON-RPC error body`, async () => {
            for (const url of [env.mcpUrl, env.packUrl('engineering')]) {
                const r = await rawRequest(url, {
                    method,
                    headers: { Authorization: `Bearer ${tok}`, Accept: 'application/json, text/event-stream' },
                });
                assertRpcError(r, 405, ERR.INVALID_REQUEST);
                assert.equal(r.headers.allow, 'POST', JSON.stringify(r.headers));
            }
            await assertAlive();
        });
    }

    test('POST without a Content-Type: 415', async () => {
        const mark = fake.count;
        const r = await post(env.mcpUrl, JSON.stringify(request(1, 'tools/list')), { 'Content-Type': null });
        assertRpcError(r, 415, ERR.INVALID_REQUEST);
        await assertAlive(mark);
    });

    test('POST with Content-Type text/plain (or application/jsonx, or form): 415', async () => {
        const mark = fake.count;
        for (const ct of ['text/plain', 'text/plain; charset=utf-8', 'application/jsonx',
            'application/x-www-form-urlencoded']) {
            const r = await post(env.mcpUrl, JSON.stringify(request(1, 'tools/list')), { 'Content-Type': ct });
            assertRpcError(r, 415, ERR.INVALID_REQUEST);
        }
        await assertAlive(mark);
    });

    test('Content-Type application/json with a charset, in any case, is served', async () => {
        for (const ct of ['application/json; charset=utf-8', 'Application/JSON']) {
            const r = await post(env.mcpUrl, JSON.stringify(request(1, 'ping')), { 'Content-Type': ct });
            assert.equal(r.status, 200, `${ct}: ${r.text}`);
            assert.deepEqual(r.body, { jsonrpc: '2.0', id: 1, result: {} });
        }
    });

    test('Accept: text/html only: 406; no Accept, */* or application/json alone: served', async () => {
        const body = JSON.stringify(request(1, 'ping'));
        assertRpcError(await post(env.mcpUrl, body, { Accept: 'text/html' }), 406, ERR.INVALID_REQUEST);
        assertRpcError(await post(env.mcpUrl, body, { Accept: 'text/html, image/png' }), 406, ERR.INVALID_REQUEST);
        for (const accept of [null, '*/*', 'application/json', 'text/html, application/json;q=0.5']) {
            const r = await post(env.mcpUrl, body, { Accept: accept });
            assert.equal(r.status, 200, `Accept ${accept}: ${r.text}`);
        }
        await assertAlive();
    });

    test('a body over 1 MiB: 413, unread; one of exactly 1 MiB is read', async () => {
        const mark = fake.count;
        const MiB = 1024 * 1024;
        // A valid message padded to the wanted size, so that only the size is wrong.
        const padded = (size) => {
            const head = '{"jsonrpc":"2.0","id":3,"method":"ping","params":{"pad":"';
            const tail = '"}}';
            return head + 'x'.repeat(size - head.length - tail.length) + tail;
        };
        for (const size of [MiB + 1, 3 * MiB]) {
            const r = await post(env.mcpUrl, padded(size));
            assertRpcError(r, 413, ERR.INVALID_REQUEST);
        }
        // Chunked, without a Content-Length: the cap holds as the body arrives.
        const chunked = await post(env.mcpUrl, padded(2 * MiB), { 'Transfer-Encoding': 'chunked' });
        assertRpcError(chunked, 413, ERR.INVALID_REQUEST);
        const small = await post(env.mcpUrl, padded(1000), { 'Transfer-Encoding': 'chunked' });
        assert.equal(small.status, 200, small.text);
        const ok = await post(env.mcpUrl, padded(MiB));
        assert.equal(ok.status, 200, `a message of exactly 1 MiB: ${ok.status} ${ok.text.slice(0, 300)}`);
        assert.deepEqual(ok.body, { jsonrpc: '2.0', id: 3, result: {} });
        await assertAlive(mark);
    });

    test('paths below /mcp that are not endpoints: 404', async () => {
        for (const p of ['/mcp/other', '/mcp/packs/', '/mcp/packs/engineering/extra', '/mcp/packs']) {
            const r = await post(`${srv.base}${p}`, JSON.stringify(request(1, 'ping')));
            assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
        }
        const r = await post(`${srv.base}/mcp/packs/nosuch`, JSON.stringify(request(1, 'ping')));
        assertRpcError(r, 404, ERR.INVALID_REQUEST);
        await assertAlive();
    });
});

describe('HTTP: packs and pack-limited tokens', () => {
    let limited;

    before(async () => {
        const t = await createAgentToken(env.api, env.users[0].user.id, { pack: 'engineering' });
        limited = t.token;
    });

    test('a token limited to engineering works on /mcp/packs/engineering and on /mcp (the pack\'s tools)', async () => {
        assert.deepEqual(await listNames(env.packUrl('engineering'), limited), ENGINEERING);
        assert.deepEqual(await listNames(env.mcpUrl, limited), ENGINEERING);
    });

    test('the same token on /mcp/packs/finance: 403, and a missing pack is still 404', async () => {
        const mark = fake.count;
        for (const version of VERSIONS) {
            const r = await call(env.packUrl('finance'), limited, version, 4, 'tools/list', {});
            assertRpcError(r, 403, ERR.INVALID_REQUEST);
            const c = await call(env.packUrl('finance'), limited, version, 5, 'tools/call',
                { name: 'github__get_issue', arguments: ISSUE });
            assertRpcError(c, 403, ERR.INVALID_REQUEST);
        }
        const r = await call(env.packUrl('nosuch'), limited, '2025-11-25', 4, 'tools/list', {});
        assertRpcError(r, 404, ERR.INVALID_REQUEST);
        assert.equal(fake.count, mark);
    });

    test('a token limited to engineering, of a user who also has finance: /mcp offers engineering only', async () => {
        const u = await grantedUser({ pack: 'finance' });
        await apiOk(env.api, 'POST', '/grants', { subject: { type: 'user', id: u.user.id }, pack: 'engineering' });
        const { token } = await createAgentToken(env.api, u.user.id, { pack: 'engineering' });
        assert.deepEqual(await listNames(env.mcpUrl, u.token), [...ENGINEERING, ...packToolNames('finance')].sort());
        assert.deepEqual(await listNames(env.mcpUrl, token), ENGINEERING);
        const mark = fake.count;
        for (const version of VERSIONS) {
            const r = await toolCall('stripe__list_charges', {}, { token, version });
            assertRpcError(r, 200, ERR.INVALID_PARAMS, 7);
            assert.equal(r.body.error.message, 'Unknown tool: stripe__list_charges');
        }
        assert.equal(fake.count, mark);
    });

    test('an unlimited token on another pack\'s URL sees none of the employee\'s tools there', async () => {
        const mark = fake.count;
        assert.deepEqual(await listNames(env.packUrl('finance'), tok), []);
        const r = await toolCall('github__get_issue', ISSUE, { url: env.packUrl('finance') });
        assertRpcError(r, 200, ERR.INVALID_PARAMS, 7);
        assert.equal(r.body.error.message, 'Unknown tool: github__get_issue');
        assert.equal(fake.count, mark, 'a call through another pack reached the upstream');
    });
});

describe('HTTP: Origin', () => {
    test('a foreign Origin: 403, before anything runs', async () => {
        const mark = fake.count;
        for (const origin of ['http://evil.example', `http://evil.example:${srv.port}`, 'null',
            `http://127.0.0.1.evil.example:${srv.port}`, `http://127.0.0.1:${srv.port + 1}`]) {
            const r = await post(env.mcpUrl, JSON.stringify(request(1, 'tools/call', { name: 'github__get_issue', arguments: ISSUE })),
                { Origin: origin });
            assertRpcError(r, 403, ERR.INVALID_REQUEST);
        }
        assert.equal(fake.count, mark, 'a call from a foreign Origin reached the upstream');
    });

    test('this server\'s own Origin on loopback passes: 127.0.0.1 and localhost with the port', async () => {
        for (const origin of [`http://127.0.0.1:${srv.port}`, `http://localhost:${srv.port}`]) {
            const r = await post(env.mcpUrl, JSON.stringify(request(1, 'tools/list')), { Origin: origin });
            assert.equal(r.status, 200, `${origin}: ${r.text}`);
            assert.deepEqual(r.body.result.tools.map((t) => t.name), ENGINEERING);
        }
    });
});

describe('HTTP: bearer tokens and RFC 9728', () => {
    const metaUrl = (p) => `${srv.base}/.well-known/oauth-protected-resource${p}`;

    test('no token: 401 with WWW-Authenticate naming the resource metadata of that URL', async () => {
        for (const [url, p] of [[env.mcpUrl, '/mcp'], [env.packUrl('x'), '/mcp/packs/x'],
            [env.packUrl('engineering'), '/mcp/packs/engineering']]) {
            const r = await post(url, JSON.stringify(request(1, 'tools/list')), { Authorization: null });
            assertRpcError(r, 401, UNAUTHORIZED);
            assert.equal(r.headers['www-authenticate'], `Bearer resource_metadata="${metaUrl(p)}"`);
        }
    });

    test('a wrong token: 401 with error="invalid_token"', async () => {
        const wrong = [`Bearer ${tok.slice(0, -1)}${tok.endsWith('a') ? 'b' : 'a'}`, 'Bearer mdt_agent_nosuch',
            'Bearer ', `Basic ${Buffer.from('a:b').toString('base64')}`, tok];
        for (const auth of wrong) {
            const r = await post(env.mcpUrl, JSON.stringify(request(1, 'tools/list')), { Authorization: auth });
            assertRpcError(r, 401, UNAUTHORIZED);
            assert.equal(r.headers['www-authenticate'],
                `Bearer resource_metadata="${metaUrl('/mcp')}", error="invalid_token"`, auth);
        }
    });

    test('the token only in the Authorization header: not in the query, not in the body; the scheme in any case', async () => {
        const body = JSON.stringify(request(1, 'ping'));
        const q = await post(`${env.mcpUrl}?access_token=${encodeURIComponent(tok)}`, body, { Authorization: null });
        assertRpcError(q, 401, UNAUTHORIZED);
        const b = await post(env.mcpUrl, JSON.stringify({ ...request(1, 'ping'), access_token: tok }), { Authorization: null });
        assertRpcError(b, 401, UNAUTHORIZED);
        // RFC 9110 section 11.1: the auth scheme is case-insensitive.
        for (const scheme of ['bearer', 'BEARER']) {
            const r = await post(env.mcpUrl, body, { Authorization: `${scheme} ${tok}` });
            assert.equal(r.status, 200, `${scheme}: ${r.text}`);
        }
    });

    test('a pack path that no pack name can be: 404, or a 401 whose WWW-Authenticate is well-formed', async () => {
        for (const seg of ['a%22b', 'a%0d%0aX-Injected:%20yes', 'a%0ab', 'a%5cb']) {
            const r = await post(`${srv.base}/mcp/packs/${seg}`, JSON.stringify(request(1, 'ping')), { Authorization: null });
            assert.ok(!('x-injected' in r.headers), `a header was injected through ${seg}`);
            if (r.status === 404) continue;
            assert.equal(r.status, 401, `${seg}: ${r.status} ${r.text}`);
            const h = r.headers['www-authenticate'];
            assert.ok(h, `${seg}: a 401 without WWW-Authenticate`);
            // auth-param = token "=" quoted-string: no bare quote or backslash inside.
            assert.match(h, /^Bearer resource_metadata="(?:[^"\\]|\\.)*"(?:, error="invalid_token")?$/, `${seg}: ${h}`);
        }
    });

    test('a revoked agent token: 401 at once', async () => {
        const t = await createAgentToken(env.api, env.users[0].user.id);
        assert.equal((await call(env.mcpUrl, t.token, '2025-11-25', 1, 'ping', {})).status, 200);
        const d = await env.api('DELETE', `/tokens/${t.id}`);
        assert.ok(d.status === 204 || d.status === 200, `DELETE /tokens/${t.id}: ${d.status} ${d.text}`);
        for (const version of VERSIONS) {
            const r = await call(env.mcpUrl, t.token, version, 2, 'tools/list', {});
            assertRpcError(r, 401, UNAUTHORIZED);
            assert.match(r.headers.get('www-authenticate'), /error="invalid_token"$/);
        }
    });

    test('an admin token and a SCIM token are not agent tokens: 401', async () => {
        const mark = fake.count;
        for (const t of [env.admin, srv.token]) {
            for (const msg of [request(1, 'tools/list'), request(2, 'tools/call', { name: 'github__get_issue', arguments: ISSUE })]) {
                const r = await post(env.mcpUrl, JSON.stringify(msg), { Authorization: `Bearer ${t}` });
                assertRpcError(r, 401, UNAUTHORIZED);
                assert.match(r.headers['www-authenticate'], /^Bearer resource_metadata="[^"]+", error="invalid_token"$/);
            }
        }
        assert.equal(fake.count, mark);
    });

    test('GET /.well-known/oauth-protected-resource/mcp: the RFC 9728 document of /mcp', async () => {
        for (const [p, resource] of [['/mcp', '/mcp'], ['', '/mcp'], ['/mcp/packs/engineering', '/mcp/packs/engineering']]) {
            const r = await rawRequest(metaUrl(p), { method: 'GET' });
            assert.equal(r.status, 200, `${p}: ${r.text}`);
            assert.match(r.headers['content-type'], /^application\/json/);
            assert.equal(r.body.resource, `${srv.base}${resource}`);
            assert.ok(Array.isArray(r.body.bearer_methods_supported), r.text);
            assert.ok(r.body.bearer_methods_supported.includes('header'), r.text);
            for (const m of r.body.bearer_methods_supported) assert.ok(['header', 'body', 'query'].includes(m), r.text);
            if ('authorization_servers' in r.body) assert.ok(Array.isArray(r.body.authorization_servers), r.text);
        }
        const other = await rawRequest(metaUrl('/api'), { method: 'GET' });
        assert.equal(other.status, 404, other.text);
    });
});

/* ---- JSON-RPC ---- */

describe('JSON-RPC framing: every bad message has its error, and the server carries on', () => {
    const nest = (depth) => {
        let v = '1';
        for (let i = 0; i < depth; i += 1) v = `{"a":${v}}`;
        return v;
    };
    const nestArr = (depth) => '['.repeat(depth) + ']'.repeat(depth);
    const BAD = [
        // [label, body, HTTP status, code, id]
        ['not JSON at all', 'hello mandate', 400, ERR.PARSE, null],
        ['a truncated object', '{"jsonrpc": "2.0", "id": 1, "method": ', 400, ERR.PARSE, null],
        ['an empty body', '', 400, ERR.PARSE, null],
        ['trailing garbage', '{"jsonrpc":"2.0","id":1,"method":"ping"} x', 400, ERR.PARSE, null],
        ['a JSON scalar', '42', 400, ERR.INVALID_REQUEST, null],
        ['a batch', JSON.stringify([request(1, 'ping'), request(2, 'tools/list')]), 400, ERR.INVALID_REQUEST, null],
        ['an empty batch', '[]', 400, ERR.INVALID_REQUEST, null],
        ['a batch of one tools/call', JSON.stringify([request(1, 'tools/call', { name: 'github__get_issue', arguments: ISSUE })]),
            400, ERR.INVALID_REQUEST, null],
        ['no jsonrpc member', '{"id":1,"method":"tools/list"}', 400, ERR.INVALID_REQUEST, 1],
        ['jsonrpc "1.0"', '{"jsonrpc":"1.0","id":"a","method":"tools/list"}', 400, ERR.INVALID_REQUEST, 'a'],
        ['jsonrpc 2.0 as a number', '{"jsonrpc":2.0,"id":1,"method":"tools/list"}', 400, ERR.INVALID_REQUEST, 1],
        ['params an array', '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":[]}', 400, ERR.INVALID_PARAMS, 2],
        ['params a string', '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":"x"}', 400, ERR.INVALID_REQUEST, 2],
        ['id null', '{"jsonrpc":"2.0","id":null,"method":"tools/list"}', 400, ERR.INVALID_REQUEST, null],
        ['id a fraction', '{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}', 400, ERR.INVALID_REQUEST, null],
        ['id an object', '{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', 400, ERR.INVALID_REQUEST, null],
        ['method a number', '{"jsonrpc":"2.0","id":3,"method":5}', 400, ERR.INVALID_REQUEST, 3],
        ['method with a NUL', '{"jsonrpc":"2.0","id":3,"method":"tools/list\\u0000x"}', 400, ERR.INVALID_REQUEST, 3],
        ['a method and a result', '{"jsonrpc":"2.0","id":3,"method":"ping","result":{}}', 400, ERR.INVALID_REQUEST, 3],
        ['neither method nor result', '{"jsonrpc":"2.0","id":3}', 400, ERR.INVALID_REQUEST, 3],
        ['objects nested 40 deep', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${nest(40)}}`, 400, ERR.PARSE, null],
        ['arrays nested 40 deep', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"a":${nestArr(40)}}}`, 400, ERR.PARSE, null],
        ['nesting 100000 deep', `{"a":${'['.repeat(100000)}`, 400, ERR.PARSE, null],
        ['a duplicate id', '{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}', 400, ERR.PARSE, null],
        ['a duplicate method', '{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}', 400, ERR.PARSE, null],
        ['a duplicate key in params',
            '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"github__get_issue","name":"x"}}', 400, ERR.PARSE, null],
        ['an integer beyond 64 bits', '{"jsonrpc":"2.0","id":99999999999999999999999,"method":"ping"}', 400, ERR.PARSE, null],
        ['invalid UTF-8 (0xff)', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'),
            Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), 400, ERR.PARSE, null],
        ['invalid UTF-8 (overlong /)', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'),
            Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]), 400, ERR.PARSE, null],
        ['invalid UTF-8 (a truncated sequence)', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'),
            Buffer.from([0xe2, 0x82]), Buffer.from('"}}')]), 400, ERR.PARSE, null],
        ['invalid UTF-8 (an encoded surrogate)', Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"'),
            Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]), 400, ERR.PARSE, null],
    ];

    for (const [label, body, status, code, id] of BAD) {
        test(`${label}: HTTP ${status}, ${code}, id ${JSON.stringify(id)}`, async () => {
            const mark = fake.count;
            const r = await post(env.mcpUrl, body, { 'MCP-Protocol-Version': '2025-11-25' });
            assertRpcError(r, status, code, id);
            await assertAlive(mark);
        });
    }

    test('nesting within the limit (20 deep) is served', async () => {
        const r = await post(env.mcpUrl, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":${nest(20)}}}`);
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.result.tools.map((t) => t.name), ENGINEERING);
    });

    test('a notification (no id): 202 with no body, and a tools/call notification runs nothing', async () => {
        const mark = fake.count;
        for (const msg of [request(null, 'notifications/initialized'), request(null, 'notifications/cancelled',
            { requestId: 1 }), request(null, 'no/such/method'),
        request(null, 'tools/call', { name: 'github__get_issue', arguments: ISSUE })]) {
            const r = await post(env.mcpUrl, JSON.stringify(msg), { 'MCP-Protocol-Version': '2025-11-25' });
            assert.equal(r.status, 202, `${msg.method}: ${r.status} ${r.text}`);
            assert.equal(r.text, '', `${msg.method}: a 202 with a body`);
        }
        await assertAlive(mark);
    });

    test('a response object (result or error): 202 with no body', async () => {
        const mark = fake.count;
        for (const msg of [{ jsonrpc: '2.0', id: 5, result: {} }, { jsonrpc: '2.0', id: 'x', error: { code: -1, message: 'no' } },
            { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }]) {
            const r = await post(env.mcpUrl, JSON.stringify(msg));
            assert.equal(r.status, 202, `${JSON.stringify(msg)}: ${r.status} ${r.text}`);
            assert.equal(r.text, '');
        }
        await assertAlive(mark);
    });

    test('an unknown method: -32601, HTTP 200 on the 2025 revisions and 404 on 2026-07-28', async () => {
        for (const v of LEGACY) {
            for (const method of ['foo/bar', 'resources/list', 'prompts/list', 'server/Discover']) {
                const r = await call(env.mcpUrl, tok, v, 11, method, {});
                assertRpcError(r, 200, ERR.METHOD_NOT_FOUND, 11);
            }
        }
        for (const method of ['foo/bar', 'resources/list', 'prompts/list', 'initialize', 'ping']) {
            const r = await call(env.mcpUrl, tok, MODERN, 12, method, {});
            assertRpcError(r, 404, ERR.METHOD_NOT_FOUND, 12);
        }
        await assertAlive();
    });
});

/* ---- revisions ---- */

describe('revisions: the 2025 handshake', () => {
    const init = (protocolVersion, id = 1) => rpc(env.mcpUrl, request(id, 'initialize', {
        protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' },
    }), { token: tok });

    for (const [asked, got] of [['2025-06-18', '2025-06-18'], ['2025-11-25', '2025-11-25'], ['2024-11-05', '2025-11-25'],
        ['2025-03-26', '2025-11-25'], ['2030-01-01', '2025-11-25'], ['2026-07-28', '2025-11-25'], ['garbage', '2025-11-25']]) {
        test(`initialize offering ${asked}: answered with ${got}`, async () => {
            const r = await init(asked);
            assert.equal(r.status, 200, r.text);
            assert.equal(r.body.id, 1);
            assert.equal(r.body.result.protocolVersion, got, r.text);
            assert.deepEqual(Object.keys(r.body.result.capabilities), ['tools'], r.text);
            assert.equal(r.body.result.serverInfo.name, 'mandate');
            assert.equal(typeof r.body.result.serverInfo.version, 'string');
            assert.ok(!('resultType' in r.body.result), 'a 2025 result carries resultType');
        });
    }

    test('initialize without params.protocolVersion: -32602', async () => {
        const r = await rpc(env.mcpUrl, request(2, 'initialize', { capabilities: {} }), { token: tok });
        assertRpcError(r, 200, ERR.INVALID_PARAMS, 2);
    });

    test('MCP-Protocol-Version 1999-01-01 (or 2024-11-05, or junk) on tools/list: 400', async () => {
        for (const h of ['1999-01-01', '2024-11-05', 'latest', '2025-06-18x']) {
            const r = await rpc(env.mcpUrl, request(3, 'tools/list'), { token: tok, version: h });
            assert.equal(r.status, 400, `${h}: ${r.text}`);
            assert.equal(r.body.id, 3);
            assert.equal(r.body.error.code, ERR.INVALID_REQUEST);
        }
        await assertAlive();
    });

    test('no MCP-Protocol-Version header: served; a 2025 header is echoed', async () => {
        const r = await rpc(env.mcpUrl, request(4, 'tools/list'), { token: tok });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body.result.tools.map((t) => t.name), ENGINEERING);
        for (const v of LEGACY) {
            const x = await rpc(env.mcpUrl, request(5, 'ping'), { token: tok, version: v });
            assert.equal(x.status, 200, x.text);
            assert.deepEqual(x.body, { jsonrpc: '2.0', id: 5, result: {} });
            assert.equal(x.headers.get('mcp-protocol-version'), v);
        }
    });
});

describe('revisions: 2026-07-28', () => {
    test('server/discover lists the three revisions and says the result is complete', async () => {
        const r = await call(env.mcpUrl, tok, MODERN, 'd1', 'server/discover', {});
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.id, 'd1');
        assert.deepEqual(r.body.result.supportedVersions, ['2026-07-28', '2025-11-25', '2025-06-18']);
        assert.equal(r.body.result.resultType, 'complete');
        assert.ok(r.body.result.capabilities && r.body.result.capabilities.tools, r.text);
        assert.equal(r.body.result.serverInfo.name, 'mandate');
    });

    test('tools/list: resultType complete, ttlMs a number >= 0, cacheScope private', async () => {
        const r = await call(env.mcpUrl, tok, MODERN, 2, 'tools/list', {});
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.result.resultType, 'complete');
        assert.equal(typeof r.body.result.ttlMs, 'number');
        assert.ok(Number.isInteger(r.body.result.ttlMs) && r.body.result.ttlMs >= 0, r.text);
        assert.equal(r.body.result.cacheScope, 'private');
        assert.deepEqual(r.body.result.tools.map((t) => t.name), ENGINEERING);
    });

    test('tools/call: resultType complete', async () => {
        const r = await toolCall('github__get_issue', ISSUE, { version: MODERN });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.result.resultType, 'complete');
        assert.ok(!r.body.result.isError, r.text);
    });

    test('the Mcp-Method header missing or different: 400 -32020', async () => {
        const mark = fake.count;
        for (const [id, h] of [[1, { 'Mcp-Method': null }], [2, { 'Mcp-Method': 'tools/call' }], [3, { 'Mcp-Method': 'TOOLS/LIST' }]]) {
            const r = await rpc(env.mcpUrl, request(id, 'tools/list', {}, MODERN), { token: tok, version: MODERN, headers: h });
            assertRpcError(r, 400, ERR.HEADER_MISMATCH, id);
        }
        const c = await rpc(env.mcpUrl, request(4, 'tools/call', { name: 'github__get_issue', arguments: ISSUE }, MODERN),
            { token: tok, version: MODERN, headers: { 'Mcp-Method': null } });
        assertRpcError(c, 400, ERR.HEADER_MISMATCH, 4);
        await assertAlive(mark);
    });

    test('Mcp-Name differing from params.name on tools/call, or missing: 400 -32020, and nothing runs', async () => {
        const mark = fake.count;
        const msg = request(5, 'tools/call', { name: 'github__get_issue', arguments: ISSUE }, MODERN);
        // (A trailing space would be no difference: HTTP strips whitespace around a field value.)
        for (const name of ['github__create_issue', 'GITHUB__GET_ISSUE', 'github__get_issuex', 'github', null]) {
            const r = await rpc(env.mcpUrl, msg, { token: tok, version: MODERN, headers: { 'Mcp-Name': name } });
            assert.equal(r.status, 400, `Mcp-Name ${name}: ${r.status} ${r.text.slice(0, 200)}`);
            assertRpcError(r, 400, ERR.HEADER_MISMATCH, 5);
        }
        await assertAlive(mark);
    });

    test('the MCP-Protocol-Version header contradicting _meta: 400 -32020', async () => {
        const r = await rpc(env.mcpUrl, request(6, 'tools/list', {}, MODERN), { token: tok, version: MODERN,
            headers: { 'MCP-Protocol-Version': '2025-11-25' } });
        assertRpcError(r, 400, ERR.HEADER_MISMATCH, 6);
    });

    test('_meta naming 2099-01-01: 400 -32022 with data {supported, requested}', async () => {
        const params = { _meta: meta('2099-01-01') };
        for (const headers of [{ 'MCP-Protocol-Version': '2099-01-01', 'Mcp-Method': 'tools/list' }, { 'Mcp-Method': 'tools/list' }]) {
            const r = await rpc(env.mcpUrl, request(7, 'tools/list', params), { token: tok, headers });
            assertRpcError(r, 400, UNSUPPORTED_VERSION, 7);
            assert.deepEqual(r.body.error.data, {
                supported: ['2026-07-28', '2025-11-25', '2025-06-18'],
                requested: '2099-01-01',
            });
        }
        await assertAlive();
    });

    test('initialize and ping on 2026-07-28: 404 -32601', async () => {
        for (const [id, method, params] of [[8, 'initialize', { protocolVersion: MODERN, capabilities: {},
            clientInfo: { name: 't', version: '1' } }], [9, 'ping', {}]]) {
            const r = await call(env.mcpUrl, tok, MODERN, id, method, params);
            assertRpcError(r, 404, ERR.METHOD_NOT_FOUND, id);
        }
    });

    test('an envelope without clientCapabilities: 400 -32602; without the MCP-Protocol-Version header: 400 -32020', async () => {
        const m = meta(MODERN);
        delete m['io.modelcontextprotocol/clientCapabilities'];
        const r = await rpc(env.mcpUrl, request(11, 'tools/list', { _meta: m }), { token: tok, version: MODERN });
        assertRpcError(r, 400, ERR.INVALID_PARAMS, 11);
        const h = await rpc(env.mcpUrl, request(12, 'tools/list', {}, MODERN), { token: tok, version: MODERN,
            headers: { 'MCP-Protocol-Version': null } });
        assertRpcError(h, 400, ERR.HEADER_MISMATCH, 12);
    });

    test('the 2026-07-28 header without the _meta envelope: 400', async () => {
        const r = await rpc(env.mcpUrl, request(10, 'tools/list', {}), { token: tok, version: MODERN });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.id, 10);
        assert.ok(r.body.error, r.text);
    });
});

describe('response ids echo the request\'s id exactly', () => {
    // Raw text in and out: JSON.parse would round the large integers.
    const IDS = ['"abc"', '""', '"0"', '"\\u00e9t\\u00e9 \\"quoted\\" \\\\ \u2603 \\ud83d\\ude00"', '0', '-1',
        '9007199254740993', '9223372036854775807', '-9223372036854775808', `"${'x'.repeat(500)}"`];

    for (const version of ['2025-11-25', MODERN]) {
        test(`on ${version}: string ids, large integer ids`, async () => {
            for (const idText of IDS) {
                const params = version === MODERN ? `{"_meta":${JSON.stringify(meta(MODERN))}}` : '{}';
                const body = `{"jsonrpc":"2.0","id":${idText},"method":"tools/list","params":${params}}`;
                const headers = { 'MCP-Protocol-Version': version };
                if (version === MODERN) headers['Mcp-Method'] = 'tools/list';
                const r = await post(env.mcpUrl, body, headers);
                assert.equal(r.status, 200, `${idText}: ${r.text.slice(0, 300)}`);
                assertSameId(r.text, idText, 'result');
                assert.ok(r.body.result, r.text.slice(0, 300));
                // And on an error answer.
                const e = await post(env.mcpUrl, `{"jsonrpc":"2.0","id":${idText},"method":"tools/list","params":[]}`);
                assert.equal(e.status, 400, e.text);
                assertSameId(e.text, idText, 'error');
            }
        });
    }
});

/*
 * The answer's id is the request's: a string id equal after parsing (JSON.parse keeps strings
 * exact, whatever escapes the server chose), an integer id digit for digit in the raw text.
 */
function assertSameId(text, idText, what) {
    if (idText.startsWith('"')) {
        assert.equal(JSON.parse(text).id, JSON.parse(idText), `${what}: id ${idText} came back as ${text.slice(0, 200)}`);
        return;
    }
    assert.match(text, new RegExp(`^\\{"jsonrpc":"2\\.0","id":${idText},`), `${what}: id ${idText} came back as ${text.slice(0, 200)}`);
}

/* ---- tools/list ---- */

describe('tools/list', () => {
    let big; // {user, token, names}

    before(async () => {
        // A connector of 150 read tools, named so that name order differs from creation and
        // numeric order (t10 before t2, "_" between digits and letters), put in reverse.
        const conn = testConnectorName('pg');
        const short = [];
        for (let i = 0; i < 140; i += 1) short.push(`t${i}`);
        short.push('t_a', 't_b', 'ta', 'tb', 'a', 'a_', 'a0', 'a_0', 'z9', 'z_9');
        const tools = short.slice().reverse().map((n) => toolDoc(n, 'read', {
            request: { method: 'GET', path: `/x/${n}` },
        }));
        await putConnector(env.api, conn, { baseUrl: fake.url, tools });
        const pack = `p-${conn}`;
        await apiOk(env.api, 'POST', '/packs', { name: pack, title: 'Paging', tools: [{ tool: `${conn}__*`, level: 'read' }] });
        const u = await grantedUser({ pack });
        big = { ...u, pack, names: short.map((n) => `${conn}__${n}`).sort() };
        assert.equal(big.names.length, 150);
    });

    for (const version of VERSIONS) {
        test(`only the employee's tools, in name order (${version})`, async () => {
            const r = await call(env.mcpUrl, tok, version, 1, 'tools/list', {});
            assert.equal(r.status, 200, r.text);
            const names = r.body.result.tools.map((t) => t.name);
            assert.deepEqual(names, ENGINEERING);
            assert.ok(!('nextCursor' in r.body.result), 'one page has a nextCursor');
            // The other user's 150 tools are not here.
            assert.ok(!names.some((n) => big.names.includes(n)));
        });

        test(`150 tools: two pages of 100 and 50, walked by nextCursor, exact and ordered (${version})`, async () => {
            const first = await call(env.mcpUrl, big.token, version, 1, 'tools/list', {});
            assert.equal(first.status, 200, first.text);
            assert.equal(first.body.result.tools.length, 100);
            assert.equal(typeof first.body.result.nextCursor, 'string');
            const second = await call(env.mcpUrl, big.token, version, 2, 'tools/list', { cursor: first.body.result.nextCursor });
            assert.equal(second.status, 200, second.text);
            assert.equal(second.body.result.tools.length, 50);
            assert.ok(!second.body.result.nextCursor, `a nextCursor on the last page: ${second.body.result.nextCursor}`);
            const all = [...first.body.result.tools, ...second.body.result.tools].map((t) => t.name);
            assert.equal(new Set(all).size, all.length, 'a tool is on both pages');
            assert.deepEqual(all, big.names);
            if (version === MODERN) {
                for (const p of [first, second]) {
                    assert.equal(p.body.result.cacheScope, 'private');
                    assert.ok(p.body.result.ttlMs >= 0);
                }
            }
            // The pack URL pages the same way.
            assert.deepEqual(await listNames(env.packUrl(big.pack), big.token, version), big.names);
            // The same cursor gives the same page again.
            const again = await call(env.mcpUrl, big.token, version, 3, 'tools/list', { cursor: first.body.result.nextCursor });
            assert.deepEqual(again.body.result.tools.map((t) => t.name), second.body.result.tools.map((t) => t.name));
        });

        test(`an invalid cursor: -32602 (${version})`, async () => {
            const hex = (s) => Buffer.from(s).toString('hex');
            for (const cursor of ['nonsense', 'zz', '', 'abc', hex('../etc/passwd'), hex('Github__X'), 'A'.repeat(5000), 42, {}, []]) {
                const r = await call(env.mcpUrl, big.token, version, 4, 'tools/list', { cursor });
                assertRpcError(r, 200, ERR.INVALID_PARAMS, 4);
            }
            await assertAlive();
        });
    }

    test('annotations follow levels: read is readOnlyHint, destructive is destructiveHint', async () => {
        const u = await grantedUser({ pack: 'finance' });
        const byLevel = new Map(catalogTools().map((t) => [t.name, t.level]));
        const r = await call(env.mcpUrl, u.token, '2025-11-25', 1, 'tools/list', {});
        const tools = r.body.result.tools;
        assert.deepEqual(tools.map((t) => t.name), packToolNames('finance'));
        const levels = new Set();
        for (const t of tools) {
            const level = byLevel.get(t.name);
            levels.add(level);
            const a = t.annotations;
            if (level === 'read') {
                assert.equal(a.readOnlyHint, true, `${t.name}: ${JSON.stringify(a)}`);
                assert.notEqual(a.destructiveHint, true, `${t.name}: ${JSON.stringify(a)}`);
            } else if (level === 'destructive') {
                assert.equal(a.readOnlyHint, false, `${t.name}: ${JSON.stringify(a)}`);
                assert.equal(a.destructiveHint, true, `${t.name}: ${JSON.stringify(a)}`);
            }
        }
        assert.deepEqual([...levels].sort(), ['destructive', 'read']);
        // The engineering pack's write tools are neither.
        const e = await call(env.mcpUrl, tok, '2025-11-25', 2, 'tools/list', {});
        const write = e.body.result.tools.filter((t) => byLevel.get(t.name) === 'write');
        assert.ok(write.length > 0);
        for (const t of write) {
            assert.equal(t.annotations.readOnlyHint, false, t.name);
            assert.equal(t.annotations.destructiveHint, false, t.name);
        }
    });
});

/* ---- tools/call ---- */

describe('tools/call', () => {
    test('a tool the employee may not use is indistinguishable from one that does not exist', async () => {
        const mark = fake.count;
        // Not entitled (another pack), above the pack's ceiling (destructive under engineering),
        // unknown in a known connector, unknown connector, not even a tool name.
        const names = ['stripe__create_refund', 'github__merge_pull_request', 'github__no_such_tool', 'nosuch__tool',
            'Not A Tool!', 'x'.repeat(64)];
        for (const version of VERSIONS) {
            const answers = [];
            for (const name of names) {
                const r = await toolCall(name, { amount: 1, owner: 'o', repo: 'r', pull_number: 1 }, { version, id: 'same' });
                assertRpcError(r, 200, ERR.INVALID_PARAMS, 'same');
                assert.equal(r.body.error.message, `Unknown tool: ${name}`);
                answers.push({ name, text: r.text, headers: r.headers.get('content-type') });
            }
            const shapes = answers.map((a) => a.text.split(a.name).join('X'));
            for (let i = 1; i < shapes.length; i += 1) {
                assert.equal(shapes[i], shapes[0], `${names[i]} vs ${names[0]} on ${version}`);
                assert.equal(answers[i].headers, answers[0].headers);
            }
        }
        assert.equal(fake.count, mark, 'a refused call reached the upstream');
    });

    test('a long or non-ASCII unknown tool name: still "Unknown tool", in valid UTF-8', async () => {
        for (const name of ['a' + '\u00e9'.repeat(40), '\u{1F600}'.repeat(30), 'x'.repeat(5000)]) {
            const r = await post(env.mcpUrl, JSON.stringify(request(9, 'tools/call', { name, arguments: {} })),
                { 'MCP-Protocol-Version': '2025-11-25' });
            assertRpcError(r, 200, ERR.INVALID_PARAMS, 9);
            assert.match(r.body.error.message, /^Unknown tool: /);
            assert.ok(name.startsWith(r.body.error.message.slice('Unknown tool: '.length)), r.body.error.message);
        }
        await assertAlive();
    });

    test('a tool name with a NUL in it is no tool: -32602, and nothing runs', async () => {
        const name = 'github__get_issue\u0000junk';
        for (const version of VERSIONS) {
            const mark = fake.count;
            const msg = request(10, 'tools/call', { name, arguments: ISSUE }, version);
            const headers = { 'MCP-Protocol-Version': version };
            if (version === MODERN) Object.assign(headers, { 'Mcp-Method': 'tools/call', 'Mcp-Name': 'github__get_issue' });
            const r = await post(env.mcpUrl, JSON.stringify(msg), headers);
            assert.equal(fake.count, mark, `${version}: the call of ${JSON.stringify(name)} reached the upstream: ${r.text.slice(0, 200)}`);
            assert.ok(r.body && r.body.error, `${version}: ${r.text.slice(0, 200)}`);
            assert.ok([ERR.INVALID_PARAMS, ERR.HEADER_MISMATCH, ERR.INVALID_REQUEST].includes(r.body.error.code), r.text);
        }
    });

    describe('grant conditions', () => {
        let finance;
        let toolUser;

        before(async () => {
            await pointAtFake(env.api, fake, 'stripe');
            finance = await grantedUser({ pack: 'finance', conditions: { stripe__create_refund: 'amount le 50000' } });
            toolUser = await grantedUser({ tool: 'stripe__create_refund', conditions: { stripe__create_refund: 'amount le 100' } });
        });

        for (const version of VERSIONS) {
            test(`a refused condition is an isError result naming the grant, and nothing is sent (${version})`, async () => {
                for (const [u, amount] of [[finance, 60000], [finance, 50001], [toolUser, 101]]) {
                    const mark = fake.count;
                    const r = await toolCall('stripe__create_refund', { charge: 'ch_3FakeSecondCharge000001', amount },
                        { version, token: u.token });
                    assert.equal(r.status, 200, r.text);
                    assert.ok(r.body.result, r.text);
                    assert.equal(r.body.result.isError, true, r.text);
                    const text = textOf(r.body.result);
                    assert.ok(text.startsWith('Denied by policy'), text);
                    assert.ok(text.includes(u.grant.id), `the denial does not name grant ${u.grant.id}: ${text}`);
                    assert.equal(fake.count, mark, 'a denied refund reached Stripe');
                }
            });
        }

        test('within the condition the refund goes through, exactly once', async () => {
            for (const [u, amount] of [[finance, 50], [toolUser, 100]]) {
                const mark = fake.count;
                const r = await toolCall('stripe__create_refund', { charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', amount },
                    { token: u.token });
                assert.equal(r.status, 200, r.text);
                assert.ok(!r.body.result.isError, r.text);
                const reqs = fake.requests.slice(mark);
                assert.equal(reqs.length, 1);
                assert.equal(reqs[0].method, 'POST');
                assert.equal(reqs[0].path, '/v1/refunds');
                assert.deepEqual(Object.fromEntries(new URLSearchParams(reqs[0].body)),
                    { charge: 'ch_3MmlLrLkdIwHu7ix0snN0B15', amount: String(amount) });
                assert.equal(r.body.result.structuredContent.amount, amount);
            }
        });
    });

    test('arguments against the input schema: an isError result "Invalid arguments", nothing sent', async () => {
        const bad = [
            { owner: 'octocat', repo: 'hello-world' }, // issue_number missing
            { owner: 'octocat', repo: 'hello-world', issue_number: 'abc' }, // wrong type
            { owner: 'octocat', repo: 'hello-world', issue_number: 1.5 }, // not an integer
            { owner: 'octocat', repo: 'hello-world', issue_number: 0 }, // below minimum
            { owner: 42, repo: 'hello-world', issue_number: 1 },
            { ...ISSUE, extra: 'x' }, // unknown argument
            {},
            null, // null arguments are no arguments
        ];
        for (const version of VERSIONS) {
            for (const args of bad) {
                const mark = fake.count;
                const r = await toolCall('github__get_issue', args, { version });
                assert.equal(r.status, 200, r.text);
                assert.ok(r.body.result, `${JSON.stringify(args)}: ${r.text}`);
                assert.equal(r.body.result.isError, true, r.text);
                assert.ok(textOf(r.body.result).startsWith('Invalid arguments'), `${JSON.stringify(args)}: ${textOf(r.body.result)}`);
                assert.equal(fake.count, mark, `${JSON.stringify(args)} reached the upstream`);
            }
        }
        // No arguments at all, likewise.
        const r = await toolCall('github__get_issue', undefined);
        assert.ok(textOf(r.body.result).startsWith('Invalid arguments'), r.text);
    });

    test('params.arguments not an object, or params.name missing: -32602', async () => {
        const mark = fake.count;
        for (const version of VERSIONS) {
            for (const args of [[], ['a'], 'x', 5, true]) {
                const r = await toolCall('github__get_issue', args, { version });
                assertRpcError(r, 200, ERR.INVALID_PARAMS, 7);
            }
        }
        for (const params of [{ arguments: ISSUE }, { name: 5, arguments: ISSUE }]) {
            const r = await rpc(env.mcpUrl, request(8, 'tools/call', params), { token: tok, version: '2025-11-25' });
            assertRpcError(r, 200, ERR.INVALID_PARAMS, 8);
        }
        assert.equal(fake.count, mark);
    });

    describe('upstream failures and missing credentials', () => {
        let down;
        let boom;
        let nocred;
        let u;

        before(async () => {
            const closed = await freePort(); // nothing listens there
            down = testConnectorName('dn');
            await putConnector(env.api, down, { baseUrl: `http://127.0.0.1:${closed}`, tools: [toolDoc('get_thing', 'read')] });
            boom = testConnectorName('bm');
            await putConnector(env.api, boom, {
                baseUrl: `${fake.url}/boom`,
                auth: { type: 'bearer' },
                tools: [toolDoc('get_thing', 'read')],
            });
            await apiOk(env.api, 'PUT', `/connectors/${boom}/credential`, { token: 'boom-secret-0123456789' });
            nocred = testConnectorName('nc');
            await putConnector(env.api, nocred, { baseUrl: fake.url, auth: { type: 'bearer' }, tools: [toolDoc('get_thing', 'read')] });
            const pack = `p-${down}`;
            await apiOk(env.api, 'POST', '/packs', {
                name: pack,
                title: 'Failures',
                tools: [{ tool: `${down}__*`, level: 'read' }, { tool: `${boom}__*`, level: 'read' }, { tool: `${nocred}__*`, level: 'read' }],
            });
            u = await grantedUser({ pack });
        });

        test('the upstream down (a closed port): an isError result saying it could not be reached', async () => {
            for (const version of VERSIONS) {
                const r = await toolCall(`${down}__get_thing`, {}, { version, token: u.token });
                assert.equal(r.status, 200, r.text);
                assert.equal(r.body.result.isError, true, r.text);
                const text = textOf(r.body.result);
                assert.match(text, /could not be (reached|used)/i, text);
                assert.match(text, /connect|reach|refused/i, text);
            }
        });

        test('the upstream answering 500: an isError result naming the status', async () => {
            fake.setHandler((rec, res) => {
                res.writeHead(500, { 'Content-Type': 'application/json' });
                res.end(JSON.stringify({ message: 'Something broke upstream' }));
            });
            try {
                for (const version of VERSIONS) {
                    const mark = fake.count;
                    const r = await toolCall(`${boom}__get_thing`, {}, { version, token: u.token });
                    assert.equal(fake.count, mark + 1);
                    assert.equal(fake.requests.at(-1).path, '/boom/get_thing');
                    assert.equal(fake.requests.at(-1).headers.authorization, 'Bearer boom-secret-0123456789');
                    assert.equal(r.status, 200, r.text);
                    assert.equal(r.body.result.isError, true, r.text);
                    const text = textOf(r.body.result);
                    assert.match(text, /\b500\b/, text);
                    assert.ok(!text.includes('boom-secret'), text);
                }
            } finally {
                fake.setHandler(null);
            }
        });

        test('a connector without a credential: an isError result telling an administrator to set it', async () => {
            for (const version of VERSIONS) {
                const mark = fake.count;
                const r = await toolCall(`${nocred}__get_thing`, {}, { version, token: u.token });
                assert.equal(r.status, 200, r.text);
                assert.equal(r.body.result.isError, true, r.text);
                const text = textOf(r.body.result);
                assert.match(text, /credential/i, text);
                assert.match(text, /administrator/i, text);
                assert.ok(text.includes(nocred), text);
                assert.equal(fake.count, mark, 'a call without a credential reached the upstream');
            }
        });
    });
});

/* ---- the employee's lifecycle ---- */

describe('the user behind the token: SCIM deactivation, reactivation, deletion', () => {
    test('deactivated: 401 at once; reactivated: served again; deleted: 401', async () => {
        const user = await createUser(srv);
        await patchOk(srv, `/Groups/${env.group.id}`, { op: 'add', path: 'members', value: [{ value: user.id }] });
        const { token } = await createAgentToken(env.api, user.id);
        const www = `Bearer resource_metadata="${srv.base}/.well-known/oauth-protected-resource/mcp", error="invalid_token"`;

        const works = async () => {
            assert.deepEqual(await listNames(env.mcpUrl, token), ENGINEERING);
            for (const version of VERSIONS) {
                const r = await toolCall('github__get_issue', ISSUE, { version, token });
                assert.equal(r.status, 200, r.text);
                assert.ok(!r.body.result.isError, r.text);
            }
        };
        const refused = async (what) => {
            const mark = fake.count;
            for (const version of VERSIONS) {
                for (const [method, params] of [['tools/list', {}], ['tools/call', { name: 'github__get_issue', arguments: ISSUE }]]) {
                    const r = await call(env.mcpUrl, token, version, 1, method, params);
                    assertRpcError(r, 401, UNAUTHORIZED);
                    assert.equal(r.headers.get('www-authenticate'), www, `${what} ${method}`);
                }
                const d = await call(env.packUrl('engineering'), token, version, 1, 'tools/list', {});
                assert.equal(d.status, 401, `${what}: the pack URL ${d.text}`);
            }
            assert.equal(fake.count, mark, `a call of a ${what} user reached the upstream`);
        };

        await works();
        await patchOk(srv, `/Users/${user.id}`, { op: 'replace', path: 'active', value: false });
        await refused('deactivated');
        await patchOk(srv, `/Users/${user.id}`, { op: 'replace', path: 'active', value: true });
        await works();
        const del = await srv.scim('DELETE', `/Users/${user.id}`);
        assert.equal(del.status, 204, del.text);
        await refused('deleted');
        // A new user of the same userName is another person: the token stays refused.
        const again = await srv.scim('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
            userName: user.userName, active: true });
        assert.equal(again.status, 201, again.text);
        assert.notEqual(again.body.id, user.id);
        await patchOk(srv, `/Groups/${env.group.id}`, { op: 'add', path: 'members', value: [{ value: again.body.id }] });
        await refused('deleted (and re-created)');
        await assertAlive();
    });
});
