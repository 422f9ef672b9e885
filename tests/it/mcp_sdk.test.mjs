// The MCP gateway end to end with the official TypeScript clients, which nobody here wrote: the
// 1.x SDK (@modelcontextprotocol/sdk, initialize handshake) on 2025-06-18 and 2025-11-25, and
// the 2.x client (@modelcontextprotocol/client) pinned to the stateless 2026-07-28 revision.
// The same scenario runs once per revision:
//
//   SCIM provisions two users into a group; the admin API grants the group the engineering
//   pack, creates an agent token per user, points the github connector at the fake upstream
//   and stores its credential. Alice's client connects and lists exactly the pack's tools,
//   calls github__get_issue and github__create_issue_comment, and the test checks the exact
//   request the fake received (method, path, headers with the credential, body) and the tool
//   result (text content and structuredContent). SCIM deactivates alice: her next call and
//   her next list are refused with HTTP 401. SCIM removes bob from the group: the tools vanish
//   from his list and a call is refused as an unknown tool (-32602), exactly like a tool that
//   does not exist.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startFakeUpstream } from './lib/fake_upstream.mjs';
import {
    ERR, allTools, catalogTools, connectSdk1, connectSdk2, httpStatusOf, packToolNames, request, rpc,
    setupMcp, startMandate,
} from './lib/mcp.mjs';
import { patchOk } from './lib/scim.mjs';

const ISSUE = { owner: 'octocat', repo: 'hello-world', issue_number: 1347 };

/* The three runs: the client generation and the revision it speaks. */
const RUNS = [
    {
        label: 'SDK 1.x on 2025-06-18',
        version: '2025-06-18',
        connect: (url, token) => connectSdk1(url, token, { protocolVersion: '2025-06-18' }),
        negotiated: (c) => c.transport.protocolVersion,
        list: (c) => allTools((cursor) => c.client.listTools(cursor ? { cursor } : undefined)),
    },
    {
        label: 'SDK 1.x on 2025-11-25',
        version: '2025-11-25',
        connect: (url, token) => connectSdk1(url, token),
        negotiated: (c) => c.transport.protocolVersion,
        list: (c) => allTools((cursor) => c.client.listTools(cursor ? { cursor } : undefined)),
    },
    {
        label: 'client 2.x on 2026-07-28',
        version: '2026-07-28',
        connect: (url, token) => connectSdk2(url, token),
        negotiated: (c) => c.client.getNegotiatedProtocolVersion(),
        // The 2.x client caches tools/list as the server's ttlMs allows: always ask the server.
        list: async (c) => (await c.client.listTools(undefined, { cacheMode: 'bypass' })).tools,
    },
];

let srv;
let fake;

before(async () => {
    fake = await startFakeUpstream();
    srv = await startMandate();
});

after(async () => {
    if (fake) await fake.close();
    if (srv) await srv.close();
});

/* The requests the fake received since mark (a value of fake.count). */
function since(mark) {
    return fake.requests.slice(mark);
}

/* Asserts that fn rejects with an HTTP 401 from mandate, as the client surfaces it. */
async function assertRefused401(fn, what) {
    let err;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    assert.ok(err, `${what} succeeded after the user was deactivated`);
    assert.equal(httpStatusOf(err), 401, `${what}: expected HTTP 401, got ${err.constructor.name}: ${err.message}`);
}

/* Asserts that fn rejects with a JSON-RPC error of code; returns the error. */
async function assertRpcError(fn, code, what) {
    let err;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    assert.ok(err, `${what} succeeded`);
    assert.equal(err.code, code, `${what}: expected JSON-RPC error ${code}, got ${err.constructor.name} ` +
        `(code ${err.code}): ${err.message}`);
    return err;
}

/* Checks that nothing of the MCP side (the agent token, MCP headers) reached the upstream. */
function assertNothingLeaked(rec, agentToken) {
    const all = JSON.stringify(rec.rawHeaders) + rec.body + rec.path;
    assert.ok(!all.includes(agentToken), `the agent's token reached the upstream: ${all}`);
    for (const h of ['mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name']) {
        assert.ok(!(h in rec.headers), `the MCP header ${h} reached the upstream`);
    }
}

for (const run of RUNS) {
    describe(`MCP end to end: ${run.label}`, () => {
        let env;
        let alice;
        let bob;
        let conn; // alice's client
        const expected = packToolNames('engineering');
        const byName = new Map(catalogTools().map((t) => [t.name, t]));

        before(async () => {
            env = await setupMcp(srv, { fake, pack: 'engineering', users: 2, connectors: ['github'] });
            [alice, bob] = env.users;
            conn = await run.connect(env.mcpUrl, alice.token);
        });

        after(async () => {
            if (conn) await conn.close().catch(() => {});
        });

        test('the client negotiates the revision', () => {
            assert.equal(run.negotiated(conn), run.version);
        });

        test('tools/list offers exactly the granted pack, with schemas and annotations from the catalog', async () => {
            const tools = await run.list(conn);
            const names = tools.map((t) => t.name);
            assert.deepEqual([...names].sort(), expected, 'the listed tools are not the engineering pack');
            assert.equal(new Set(names).size, names.length, `a tool is listed twice: ${names}`);
            // Outside the pack: other connectors, and tools above the pack's ceilings.
            for (const absent of ['stripe__create_refund', 'slack__post_message', 'github__merge_pull_request',
                'sentry__resolve_issue', 'datadog__mute_monitor']) {
                assert.ok(!names.includes(absent), `${absent} is listed but is not in the engineering pack`);
            }
            for (const t of tools) {
                const def = byName.get(t.name);
                assert.equal(t.description, def.tool.description, `${t.name}: description`);
                assert.deepEqual(t.inputSchema, def.tool.input_schema, `${t.name}: inputSchema is not the catalog's`);
                // Levels become the spec's annotations: read is read-only; write is neither
                // read-only nor destructive.
                assert.ok(t.annotations, `${t.name}: no annotations`);
                if (def.level === 'read') assert.equal(t.annotations.readOnlyHint, true, `${t.name}: ${JSON.stringify(t.annotations)}`);
                if (def.level === 'write') {
                    assert.equal(t.annotations.readOnlyHint, false, `${t.name}: ${JSON.stringify(t.annotations)}`);
                    assert.equal(t.annotations.destructiveHint, false, `${t.name}: ${JSON.stringify(t.annotations)}`);
                }
            }
            // Deterministic order.
            assert.deepEqual((await run.list(conn)).map((t) => t.name), names);
        });

        test('the pack URL offers the same tools to this user', async () => {
            const c = await run.connect(env.packUrl('engineering'), alice.token);
            try {
                assert.deepEqual((await run.list(c)).map((t) => t.name).sort(), expected);
            } finally {
                await c.close();
            }
        });

        test('github__get_issue: the exact upstream request, and the issue as text and structuredContent', async () => {
            const mark = fake.count;
            const result = await conn.client.callTool({ name: 'github__get_issue', arguments: ISSUE });
            const reqs = since(mark);
            assert.equal(reqs.length, 1, `upstream requests: ${JSON.stringify(reqs.map((r) => `${r.method} ${r.path}`))}`);
            const r = reqs[0];
            assert.equal(r.method, 'GET');
            assert.equal(r.path, '/repos/octocat/hello-world/issues/1347');
            assert.equal(r.headers.authorization, `Bearer ${fake.secrets.github}`);
            assert.equal(r.headers.accept, 'application/vnd.github+json');
            assert.equal(r.headers['x-github-api-version'], '2022-11-28');
            assert.match(r.headers['user-agent'] || '', /\S/, 'GitHub refuses requests without a User-Agent (403)');
            assert.equal(r.body, '');
            assert.ok(!('content-type' in r.headers), `a GET with a Content-Type: ${r.headers['content-type']}`);
            assertNothingLeaked(r, alice.token);

            const issue = fake.github.issues.get('octocat/hello-world#1347');
            assert.ok(!result.isError, `tool error: ${JSON.stringify(result)}`);
            assert.deepEqual(result.structuredContent, issue);
            const texts = result.content.filter((c) => c.type === 'text');
            assert.equal(texts.length, 1, JSON.stringify(result.content));
            assert.deepEqual(JSON.parse(texts[0].text), issue, 'the text content is not the serialized JSON');
        });

        test('github__create_issue_comment: a JSON body of exactly the non-path arguments', async () => {
            const mark = fake.count;
            const text = `Reproduced on main (${run.version}) \u2014 "quotes" & <tags>`;
            const result = await conn.client.callTool({
                name: 'github__create_issue_comment',
                arguments: { ...ISSUE, body: text },
            });
            const reqs = since(mark);
            assert.equal(reqs.length, 1);
            const r = reqs[0];
            assert.equal(r.method, 'POST');
            assert.equal(r.path, '/repos/octocat/hello-world/issues/1347/comments');
            assert.equal(r.headers.authorization, `Bearer ${fake.secrets.github}`);
            assert.equal(r.headers['content-type'], 'application/json');
            assert.equal(r.body, JSON.stringify({ body: text }));
            assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body));
            assertNothingLeaked(r, alice.token);

            assert.ok(!result.isError, `tool error: ${JSON.stringify(result)}`);
            const comment = fake.github.comments.at(-1);
            assert.equal(comment.body, text);
            assert.deepEqual(result.structuredContent, comment);
            assert.deepEqual(JSON.parse(result.content.find((c) => c.type === 'text').text), comment);
        });

        test('an upstream error is a tool error naming the status and the vendor message', async () => {
            const mark = fake.count;
            const result = await conn.client.callTool({
                name: 'github__get_issue',
                arguments: { owner: 'octocat', repo: 'hello-world', issue_number: 999999 },
            });
            assert.equal(since(mark).length, 1);
            assert.equal(result.isError, true, JSON.stringify(result));
            const text = result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
            assert.match(text, /404/, text);
            assert.match(text, /Not Found/, text);
            assert.ok(!text.includes(fake.secrets.github), 'the tool error shows the credential');
        });

        test('the credential is never shown by the admin API', async () => {
            const g = await env.api('GET', '/connectors/github');
            assert.equal(g.status, 200, g.text);
            assert.equal(g.body.base_url, fake.baseUrls.github);
            assert.ok(!g.text.includes(fake.secrets.github), g.text);
            const c = await env.api('GET', '/connectors/github/credential');
            assert.equal(c.status, 200, c.text);
            assert.ok(!c.text.includes(fake.secrets.github), c.text);
            assert.ok(!srv.stderr().includes(fake.secrets.github), 'the credential was logged');
            assert.ok(!srv.stderr().includes(alice.token), "the agent's token was logged");
        });

        test('SCIM deactivates the user: the next call and the next list are refused with 401', async () => {
            await patchOk(srv, `/Users/${alice.user.id}`, { op: 'replace', path: 'active', value: false });
            const mark = fake.count;
            await assertRefused401(() => conn.client.callTool({ name: 'github__get_issue', arguments: ISSUE }), 'tools/call');
            await assertRefused401(() => run.list(conn), 'tools/list');
            assert.equal(since(mark).length, 0, 'a refused call reached the upstream');
            // The refusal names where to find the authorization server (RFC 9728).
            const raw = await rpc(env.mcpUrl, request(7, 'tools/list', {}, run.version),
                { token: alice.token, version: run.version });
            assert.equal(raw.status, 401, raw.text);
            assert.match(raw.headers.get('www-authenticate') || '',
                new RegExp(`^Bearer .*resource_metadata="${srv.base}/\\.well-known/oauth-protected-resource/mcp"`));
        });

        test('SCIM removes a member from the group: the tools vanish and a call is an unknown tool', async () => {
            const b = await run.connect(env.mcpUrl, bob.token);
            try {
                assert.ok((await run.list(b)).some((t) => t.name === 'github__get_issue'), 'bob does not see the tool before');
                await patchOk(srv, `/Groups/${env.group.id}`, { op: 'remove', path: `members[value eq "${bob.user.id}"]` });
                const names = (await run.list(b)).map((t) => t.name);
                assert.deepEqual(names.filter((n) => expected.includes(n)), [], `still listed: ${names}`);

                const mark = fake.count;
                const denied = await assertRpcError(
                    () => b.client.callTool({ name: 'github__get_issue', arguments: ISSUE }), ERR.INVALID_PARAMS, 'a denied tool');
                const unknown = await assertRpcError(
                    () => b.client.callTool({ name: 'github__no_such_tool', arguments: ISSUE }), ERR.INVALID_PARAMS, 'an unknown tool');
                assert.equal(since(mark).length, 0, 'a refused call reached the upstream');
                // Indistinguishable: the same message once the names are taken out.
                assert.equal(denied.message.replaceAll('github__get_issue', 'X'),
                    unknown.message.replaceAll('github__no_such_tool', 'X'));
            } finally {
                await b.close().catch(() => {});
            }
        });
    });
}
