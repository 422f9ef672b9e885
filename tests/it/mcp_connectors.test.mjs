// The connector runtime end to end, through /mcp against the vendor fakes: each auth scheme
// puts exactly the vendor's documented credential on the wire (bearer, Basic, API-key headers,
// OAuth 2.0 client credentials with its token cached and fetched again after a 401), form
// bodies, Slack's HTTP 200 errors, redirects to another host, the credential vault (the CLI,
// the key file, a node with another key), and base URLs from the environment.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startFakeUpstream } from './lib/fake_upstream.mjs';
import { call, setupMcp, startMandate } from './lib/mcp.mjs';
import { dbContents, runCli, startServer } from './lib/server.mjs';

const V = '2025-11-25';

/* tools/call through srv's /mcp; returns the CallToolResult (asserts a JSON-RPC result). */
async function callTool(env, name, args, token = env.users[0].token) {
    const r = await call(env.mcpUrl, token, V, 7, 'tools/call', { name, arguments: args });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.result, `tools/call ${name}: ${r.text}`);
    return r.body.result;
}

function basic(user, pass) {
    return `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
}

describe('auth schemes on the wire', () => {
    let srv;
    let fake;
    let eng;
    let sales;
    let finance;

    before(async () => {
        fake = await startFakeUpstream();
        srv = await startMandate();
        eng = await setupMcp(srv, { fake, pack: 'engineering', connectors: ['jira', 'datadog', 'github'] });
        sales = await setupMcp(srv, { fake, pack: 'sales', adminToken: eng.admin, connectors: ['salesforce', 'slack'] });
        finance = await setupMcp(srv, { fake, pack: 'finance', adminToken: eng.admin, connectors: ['stripe'] });
    });
    after(async () => {
        await srv?.close();
        await fake?.close();
    });

    test('basic (Jira): Authorization: Basic base64(email:token), RFC 7617', async () => {
        fake.reset();
        const res = await callTool(eng, 'jira__get_issue', { issueIdOrKey: 'ENG-1' });
        const rec = fake.requests.at(-1);
        assert.equal(rec.method, 'GET');
        assert.equal(rec.path, '/rest/api/3/issue/ENG-1');
        assert.equal(rec.headers.authorization, basic(fake.secrets.jira.username, fake.secrets.jira.password));
        assert.equal(rec.headers.accept, 'application/json');
        assert.ok(res.content && res.content[0].type === 'text');
    });

    test('api_key (Datadog): each named header carries its value, nothing else', async () => {
        fake.reset();
        const res = await callTool(eng, 'datadog__get_monitor', { monitor_id: 12345 });
        const rec = fake.requests.at(-1);
        assert.equal(rec.path, '/api/v1/monitor/12345');
        assert.equal(rec.headers['dd-api-key'], fake.secrets.datadog['DD-API-KEY']);
        assert.equal(rec.headers['dd-application-key'], fake.secrets.datadog['DD-APPLICATION-KEY']);
        assert.equal(rec.headers.authorization, undefined);
        assert.notEqual(res.isError, undefined);
    });

    test('bearer (Stripe) with a form body in Stripe\'s encoding', async () => {
        fake.reset();
        const charge = [...fake.stripe.charges.keys()].find((c) => !c.includes('Declined'));
        const res = await callTool(finance, 'stripe__create_refund', { charge, amount: 500, metadata: { ticket: 'T-1 2' } });
        const rec = fake.requests.at(-1);
        assert.equal(rec.method, 'POST');
        assert.equal(rec.path, '/v1/refunds');
        assert.equal(rec.headers.authorization, `Bearer ${fake.secrets.stripe}`);
        assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
        assert.equal(rec.body, `charge=${charge}&amount=500&metadata[ticket]=T-1%202`);
        assert.equal(res.isError, false, JSON.stringify(res));
        assert.equal(res.structuredContent.object, 'refund');
        assert.equal(res.structuredContent.amount, 500);
    });

    test('oauth2 client credentials (Salesforce): one token for many calls, a new one after a 401', async () => {
        fake.reset();
        const id = [...fake.salesforce.opportunities.keys()][0];
        const first = await callTool(sales, 'salesforce__get_opportunity', { id });
        assert.equal(first.isError, false, JSON.stringify(first));
        assert.equal(first.structuredContent.Id, id);
        await callTool(sales, 'salesforce__get_opportunity', { id });
        const tokenReqs = () => fake.requests.filter((r) => r.path === '/services/oauth2/token');
        assert.equal(tokenReqs().length, 1, 'the access token is cached');
        const t = tokenReqs()[0];
        assert.equal(t.method, 'POST');
        assert.equal(t.headers['content-type'], 'application/x-www-form-urlencoded');
        const form = new URLSearchParams(t.body);
        assert.equal(form.get('grant_type'), 'client_credentials');
        assert.equal(form.get('client_id'), fake.secrets.salesforce.client_id);
        assert.equal(form.get('client_secret'), fake.secrets.salesforce.client_secret);
        const calls = fake.requests.filter((r) => r.path.startsWith('/services/data/'));
        const issued = calls[0].headers.authorization;
        assert.match(issued, /^Bearer \S+$/);
        assert.equal(calls[1].headers.authorization, issued);
        // Salesforce forgets the session: the next call gets 401, mandate fetches a new token once.
        fake.salesforce.tokens.clear();
        const third = await callTool(sales, 'salesforce__get_opportunity', { id });
        assert.equal(third.isError, false, JSON.stringify(third));
        assert.equal(tokenReqs().length, 2);
        const last = fake.requests.filter((r) => r.path.startsWith('/services/data/')).at(-1);
        assert.notEqual(last.headers.authorization, issued);
    });

    test('Slack\'s HTTP 200 {"ok": false} is a tool error with Slack\'s code', async () => {
        const res = await callTool(sales, 'slack__post_message', { channel: 'C0NOSUCHCHAN', text: 'hi' });
        assert.equal(res.isError, true);
        assert.match(res.content[0].text, /channel_not_found/);
    });

    test('a redirect to another host is not followed, and the credential does not travel', async () => {
        const other = await startFakeUpstream();
        try {
            fake.setHandler((rec, res) => {
                res.writeHead(302, { Location: `${other.url}/repos/octocat/hello-world/issues/1347` });
                res.end();
            });
            const res = await callTool(eng, 'github__get_issue', { owner: 'octocat', repo: 'hello-world', issue_number: 1347 });
            assert.equal(res.isError, true);
            assert.match(res.content[0].text, /redirect/i);
            assert.equal(other.requests.length, 0);
        } finally {
            fake.setHandler(null);
            await other.close();
        }
    });

    test('an upstream that echoes the request does not hand the credential to the agent', async () => {
        fake.setHandler((rec, res) => {
            const text = JSON.stringify({ message: 'debug echo', headers: rec.headers });
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(text);
        });
        try {
            const gh = await callTool(eng, 'github__get_issue', { owner: 'octocat', repo: 'hello-world', issue_number: 1347 });
            const jira = await callTool(eng, 'jira__get_issue', { issueIdOrKey: 'ENG-1' });
            const basicValue = basic(fake.secrets.jira.username, fake.secrets.jira.password).slice(6);
            for (const [res, secret] of [[gh, fake.secrets.github], [jira, basicValue]]) {
                const text = JSON.stringify(res);
                assert.ok(!text.includes(secret), `the credential reached the agent: ${text.slice(0, 300)}`);
                assert.match(text, /debug echo/);
            }
            // Identifiers are not masked: an upstream rightly shows the account's email.
            assert.ok(JSON.stringify(jira).includes('authorization'));
        } finally {
            fake.setHandler(null);
        }
    });

    test('no secret reaches an answer, the database in the clear, or the log', async () => {
        const dump = await dbContents(srv.dbPath);
        for (const s of [fake.secrets.github, fake.secrets.stripe, fake.secrets.jira.password,
            fake.secrets.datadog['DD-API-KEY'], fake.secrets.salesforce.client_secret]) {
            assert.ok(!dump.includes(s), 'a secret is stored in the clear');
            assert.ok(!srv.stderr().includes(s), 'a secret was logged');
        }
    });
});

describe('the vault and its key', () => {
    test('SQLite without a key: vault.key is created beside the database (0600), and the CLI uses it', async (t) => {
        const srv = await startServer({ env: { MANDATE_VAULT_KEY: '' } });
        t.after(() => srv.close());
        if (srv.backend !== 'sqlite') return;
        const keyFile = path.join(path.dirname(srv.dbPath), 'vault.key');
        const st = fs.statSync(keyFile);
        assert.equal(st.mode & 0o777, 0o600);
        assert.match(srv.stderr(), /event=vault_key_created/);
        const set = await runCli(['credential', 'set', 'github', '--db', srv.dbPath],
            { input: 'ghp_from_the_cli_0123\n', env: { MANDATE_VAULT_KEY: '' } });
        assert.equal(set.code, 0, set.stderr);
        const info = JSON.parse(set.stdout);
        assert.deepEqual(info.fields, ['token']);
        assert.ok(!set.stdout.includes('ghp_from_the_cli_0123'));
        assert.ok(!(await dbContents(srv.dbPath)).includes('ghp_from_the_cli_0123'));
    });

    test('credential set refuses a secret the scheme does not take, naming the field and not the value', async (t) => {
        const srv = await startMandate();
        t.after(() => srv.close());
        const env = { MANDATE_VAULT_KEY: srv.vaultKey };
        const bad = await runCli(['credential', 'set', 'jira', '--db', srv.dbPath],
            { input: '{"username": "me@example.com", "pasword": "s3cret-value"}', env });
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /pasword|password/);
        assert.ok(!bad.stderr.includes('s3cret-value'));
        const junk = await runCli(['credential', 'set', 'jira', '--db', srv.dbPath], { input: '{"username": ', env });
        assert.equal(junk.code, 1);
        const none = await runCli(['credential', 'set', 'nosuchconnector', '--db', srv.dbPath], { input: 'x', env });
        assert.equal(none.code, 1);
        const usage = await runCli(['credential', 'get', 'jira', '--db', srv.dbPath], { env });
        assert.equal(usage.code, 2);
    });

    test('a node whose key differs says so in the tool error, and sends nothing', async (t) => {
        const fake = await startFakeUpstream();
        t.after(() => fake.close());
        const srv = await startMandate();
        let other;
        try {
            const env = await setupMcp(srv, { fake, connectors: ['github'] });
            const args = { owner: 'octocat', repo: 'hello-world', issue_number: 1347 };
            const ok = await callTool(env, 'github__get_issue', args);
            assert.equal(ok.isError, false, JSON.stringify(ok));
            // The same database under another key.
            await srv.stop();
            other = await startMandate({ db: srv.dbPath, token: srv.token, dir: srv.dir });
            fake.reset();
            const r = await call(`${other.base}/mcp`, env.users[0].token, V, 1, 'tools/call',
                { name: 'github__get_issue', arguments: args });
            assert.equal(r.body.result.isError, true);
            assert.match(r.body.result.content[0].text, /another key/);
            assert.equal(fake.requests.length, 0);
        } finally {
            await other?.close();
            await srv.close();
        }
    });
});

describe('configuration', () => {
    test('MANDATE_CONNECTOR_<NAME>_BASE_URL sets the base URL at start, as the admin API shows', async (t) => {
        const fake = await startFakeUpstream();
        t.after(() => fake.close());
        const srv = await startMandate({ env: { MANDATE_CONNECTOR_GITHUB_BASE_URL: fake.url } });
        t.after(() => srv.close());
        const env = await setupMcp(srv, { fake });
        const c = await env.api('GET', '/connectors/github');
        assert.equal(c.body.base_url, fake.url);
        assert.equal(c.body.overrides.base_url, fake.url);
        const put = await env.api('PUT', '/connectors/github/credential', fake.credentials.github);
        assert.equal(put.status, 200, put.text);
        const res = await callTool(env, 'github__get_issue', { owner: 'octocat', repo: 'hello-world', issue_number: 1347 });
        assert.equal(res.isError, false, JSON.stringify(res));
        assert.equal(fake.requests.at(-1).path, '/repos/octocat/hello-world/issues/1347');
    });

    test('a bad base URL in the environment stops the start with a message', async () => {
        await assert.rejects(startMandate({ env: { MANDATE_CONNECTOR_GITHUB_BASE_URL: 'ftp://nope' } }),
            /MANDATE_CONNECTOR_GITHUB_BASE_URL/);
    });

    test('MANDATE_CONNECTOR_<NAME>_TOKEN_URL sets the token URL at start, as the admin API shows', async (t) => {
        // A national cloud's login host, with the tenant placeholder of the connector's own URL.
        const url = 'https://login.microsoftonline.us/{credential.tenant_id}/oauth2/v2.0/token';
        const srv = await startMandate({ env: { MANDATE_CONNECTOR_OUTLOOK_TOKEN_URL: url } });
        t.after(() => srv.close());
        const env = await setupMcp(srv);
        const c = await env.api('GET', '/connectors/outlook');
        assert.equal(c.status, 200, c.text);
        assert.equal(c.body.overrides.token_url, url);
        assert.equal(c.body.auth.token_url, 'https://login.microsoftonline.com/{credential.tenant_id}/oauth2/v2.0/token',
            'the definition is shown as it is');
    });

    test('a token URL the connector cannot take stops the start with a message', async () => {
        // GitHub authenticates with a bearer token: it has no token endpoint to move.
        await assert.rejects(startMandate({ env: { MANDATE_CONNECTOR_GITHUB_TOKEN_URL: 'https://login.example.com/token' } }),
            /MANDATE_CONNECTOR_GITHUB_TOKEN_URL.*no OAuth 2.0 token endpoint/);
        // Only the credential fields that the connector's own token URL uses.
        await assert.rejects(startMandate({
            env: { MANDATE_CONNECTOR_OUTLOOK_TOKEN_URL: 'https://login.microsoftonline.us/{credential.client_secret}/token' },
        }), /MANDATE_CONNECTOR_OUTLOOK_TOKEN_URL.*client_secret/);
        // http:// only for a server that allows plain-http upstreams.
        await assert.rejects(startMandate({
            env: { MANDATE_UPSTREAM_HTTP: '', MANDATE_CONNECTOR_GMAIL_TOKEN_URL: 'http://127.0.0.1:9/token' },
        }), /MANDATE_CONNECTOR_GMAIL_TOKEN_URL.*https/);
    });

    test('without MANDATE_UPSTREAM_HTTP, plain http upstreams are refused', async (t) => {
        const fake = await startFakeUpstream();
        t.after(() => fake.close());
        const srv = await startMandate({ env: { MANDATE_UPSTREAM_HTTP: '0' } });
        t.after(() => srv.close());
        const env = await setupMcp(srv, { fake, connectors: ['github'] });
        const res = await callTool(env, 'github__get_issue', { owner: 'octocat', repo: 'hello-world', issue_number: 1347 });
        assert.equal(res.isError, true);
        assert.equal(fake.requests.length, 0);
    });
});
