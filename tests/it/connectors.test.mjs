// The connector catalog's contract tests: every tool of every connector in catalog/connectors
// is called through /mcp by an entitled user against its vendor's fake (tests/fakes/<name>.mjs),
// and the fake confirms the request; a user without a grant sees none of the tools and cannot
// call them; the vendor's documented errors become tool errors. A connector without a fake, or
// a tool without a case, fails here. MANDATE_TEST_CONNECTORS="a,b" limits the run to those
// connectors (while writing one); unset, every connector in the catalog is tested.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startFake } from '../fakes/lib.mjs';
import { adminApi, allTools, apiOk, call, createAdminToken, createAgentToken, startMandate } from './lib/mcp.mjs';
import { createGroup, createUser } from './lib/scim.mjs';
import { REPO } from './lib/server.mjs';

const V = '2025-11-25';
const dir = path.join(REPO, 'catalog', 'connectors');
const only = (process.env.MANDATE_TEST_CONNECTORS || '').split(',').filter(Boolean);
const connectors = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')))
    .filter((c) => only.length === 0 || only.includes(c.name));

/* Every connector's fake module, or the reason it cannot be loaded. */
const vendors = new Map();
for (const c of connectors) {
    try {
        vendors.set(c.name, await import(`../fakes/${c.name}.mjs`));
    } catch (err) {
        vendors.set(c.name, { missing: err.message });
    }
}

const env = {};

before(async () => {
    env.srv = await startMandate();
    env.admin = await createAdminToken(env.srv);
    env.api = adminApi(env.srv, env.admin);
    env.fakes = new Map();
    for (const c of connectors) {
        const v = vendors.get(c.name);
        if (v.missing) continue;
        const fake = await startFake(v);
        env.fakes.set(c.name, fake);
        await apiOk(env.api, 'PATCH', `/connectors/${c.name}`, { base_url: fake.baseUrl });
        // A token endpoint on another host than the API is pointed at the fake too.
        if (v.tokenPath) {
            const view = await apiOk(env.api, 'PATCH', `/connectors/${c.name}`, { token_url: fake.url + v.tokenPath });
            assert.equal(view.overrides.token_url, fake.url + v.tokenPath);
        }
        const r = await env.api('PUT', `/connectors/${c.name}/credential`, v.credential);
        assert.equal(r.status, 200, `PUT /connectors/${c.name}/credential: ${r.status} ${r.text}`);
    }
    // One pack with every tool at its own level, granted to one group with one member.
    await apiOk(env.api, 'POST', '/packs', {
        name: 'contract-all',
        title: 'Every catalog tool',
        tools: connectors.map((c) => ({ tool: `${c.name}__*`, level: 'destructive' })),
    });
    const entitled = await createUser(env.srv);
    const outsider = await createUser(env.srv);
    const group = await createGroup(env.srv, { members: [{ value: entitled.id }] });
    await apiOk(env.api, 'POST', '/grants', { subject: { type: 'group', id: group.id }, pack: 'contract-all' });
    env.token = (await createAgentToken(env.api, entitled.id)).token;
    env.outsider = (await createAgentToken(env.api, outsider.id)).token;
    env.url = `${env.srv.base}/mcp`;
});

after(async () => {
    for (const f of env.fakes?.values() || []) await f.close();
    await env.srv?.close();
});

async function callTool(name, args, token = env.token) {
    const r = await call(env.url, token, V, 1, 'tools/call', { name, arguments: args });
    assert.equal(r.status, 200, r.text);
    return r.body;
}

test('the entitled user lists every catalog tool, the outsider none', async () => {
    const list = (token) => allTools(async (cursor) => {
        const r = await call(env.url, token, V, 1, 'tools/list', cursor ? { cursor } : {});
        assert.ok(r.body && r.body.result, r.text);
        return r.body.result;
    });
    const want = connectors.flatMap((c) => c.tools.map((t) => `${c.name}__${t.name}`)).sort();
    const got = (await list(env.token)).map((t) => t.name).sort();
    assert.deepEqual(got, want);
    assert.deepEqual(await list(env.outsider), []);
});

for (const c of connectors) {
    describe(`connector ${c.name}`, () => {
        const v = vendors.get(c.name);

        test('has a fake in tests/fakes with a case for every tool', () => {
            assert.ok(!v.missing, `tests/fakes/${c.name}.mjs: ${v.missing}`);
            assert.equal(v.connector, c.name);
            const tools = c.tools.map((t) => t.name).sort();
            assert.deepEqual(Object.keys(v.cases).sort(), tools, 'one case per tool, no more');
            assert.ok(Array.isArray(v.errors) && v.errors.length > 0, 'at least one upstream error case');
        });
        if (v.missing) return;

        for (const t of c.tools) {
            const cs = v.cases[t.name];
            if (!cs) continue;
            test(`${c.name}__${t.name} (${t.level}) reaches the vendor as documented`, async () => {
                const fake = env.fakes.get(c.name);
                fake.reset();
                const body = await callTool(`${c.name}__${t.name}`, cs.args);
                assert.ok(body.result, JSON.stringify(body));
                const res = body.result;
                assert.equal(res.isError, false, JSON.stringify(res));
                assert.ok(fake.requests.length > 0, 'the fake saw no request');
                await cs.check(fake.requests.at(-1), res, fake);
            });
            test(`${c.name}__${t.name}: a user without a grant cannot call it`, async () => {
                const fake = env.fakes.get(c.name);
                fake.reset();
                const body = await callTool(`${c.name}__${t.name}`, cs.args, env.outsider);
                assert.equal(body.error?.code, -32602, JSON.stringify(body));
                assert.equal(fake.requests.length, 0, 'the vendor was called for an outsider');
            });
        }

        for (const [i, e] of (v.errors || []).entries()) {
            test(`${c.name}: upstream error ${i + 1} (${e.tool}) is a clear tool error`, async () => {
                const body = await callTool(`${c.name}__${e.tool}`, e.args);
                assert.ok(body.result, JSON.stringify(body));
                assert.equal(body.result.isError, true, JSON.stringify(body.result));
                assert.match(body.result.content[0].text, e.match);
            });
        }
    });
}
