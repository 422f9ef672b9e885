// The admin console in a real browser (Debian's chromium, headless, driven by playwright-core)
// against a real mandate (tests/it/lib/server.mjs): the admin's whole path, from signing in to
// signing out, as issue 7 describes it. The test plays the identity provider itself, pushing
// users and a group over SCIM with the token the console generated. Bad input in every form
// must be answered next to the field and change nothing, which the test checks through the API.
// Every page is also checked for accessible names, keyboard use and a narrow screen, and is
// saved as a screenshot under tests/out/browser/ for review.
//
// scripts/browser-test.sh installs chromium (apt-get) and playwright-core (npm ci) when missing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { REPO, request, runCli, startServer } from '../it/lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(REPO, 'tests/out/browser');
const URN_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const URN_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let srv;
let browser;
let admin; // the admin token the console signs in with
const problems = []; // CSP violations and script errors seen by any page

/* ---- helpers ---- */

async function until(fn, what, timeout = 10000) {
    const end = Date.now() + timeout;
    let last;
    for (;;) {
        try {
            const v = await fn();
            if (v) return v;
        } catch (err) {
            last = err;
        }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

let failures = 0;

/*
 * Waits until the locator's text matches re, and returns the text. On a timeout the page is
 * saved as tests/out/browser/failure-N.png, and the error quotes what the locator showed.
 */
async function seeText(loc, re, what = String(re)) {
    let seen = '';
    try {
        return await until(async () => {
            seen = (await loc.innerText({ timeout: 2000 })).replace(/\s+/g, ' ');
            return re.test(seen) ? seen : null;
        }, what);
    } catch (err) {
        failures += 1;
        await loc.page().screenshot({ path: path.join(OUT, `failure-${failures}.png`), fullPage: true }).catch(() => {});
        throw new Error(`${err.message}; it showed: ${seen.slice(0, 400)}`);
    }
}

/* The admin API with the admin token, from the test (not the browser). */
async function api(method, p, body) {
    const headers = { Authorization: `Bearer ${admin}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return request(method, `${srv.base}/api/v1${p}`, body, { headers });
}

async function newPage(viewport = { width: 1280, height: 900 }) {
    const context = await browser.newContext({ viewport });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.base });
    const page = await context.newPage();
    page.on('console', (m) => {
        if (/Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
    return page;
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true });
}

/* Navigates by the console's own navigation and waits for the page's heading. */
async function go(page, link, heading) {
    await page.locator('#nav').getByRole('link', { name: link, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

async function signIn(page, token) {
    await page.goto(`${srv.base}/`);
    await page.getByLabel('Admin token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
}

/* The error shown next to a field of the form (by the field's name). */
function fieldError(page, name) {
    return page.locator(`[data-field="${name}"] .error`);
}

/*
 * Controls without an accessible name on the page, from Chromium's accessibility tree: every
 * input, select, button and link must say what it is to a screen reader.
 */
async function unnamedControls(page) {
    const cdp = await page.context().newCDPSession(page);
    try {
        const { nodes } = await cdp.send('Accessibility.getFullAXTree');
        const roles = new Set(['textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'button', 'link', 'listbox', 'spinbutton']);
        return nodes.filter((n) => !n.ignored && roles.has(n.role && n.role.value) && !String((n.name && n.name.value) || '').trim())
            .map((n) => n.role.value);
    } finally {
        await cdp.detach();
    }
}

async function scimJson(method, p, body, token) {
    const r = await srv.scim(method, p, body, { token });
    return r;
}

/* ---- the run ---- */

before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/browser-test.sh, which installs Debian's chromium`);
    fs.rmSync(OUT, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    srv = await startServer();
    const r = await runCli(['token', 'create', '--kind', 'admin', '--name', 'browser-admin', '--db', srv.dbPath]);
    assert.equal(r.code, 0, r.stderr);
    admin = r.stdout.trim();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});

after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.close();
});

describe('the admin\'s whole path', () => {
    let page;
    let scimToken; // generated on the Provisioning page
    let scimTokenId;
    let group; // pushed by the test as an identity provider
    let ann;
    let bob;
    let cookieValue;
    let csrf;

    before(async () => {
        page = await newPage();
    });

    test('sign in: a wrong token is refused next to the field, the right one opens Settings', async () => {
        await page.goto(`${srv.base}/`);
        await page.getByRole('heading', { level: 1, name: 'Sign in to mandate' }).waitFor();
        await shot(page, '00-sign-in');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await seeText(fieldError(page, 'token'), /Enter an admin token/);
        await page.getByLabel('Admin token', { exact: true }).fill('mdt_admin_notarealtoken');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await seeText(fieldError(page, 'token'), /not a valid admin token/);
        assert.equal(await page.getByLabel('Admin token', { exact: true }).getAttribute('aria-invalid'), 'true');
        await shot(page, '01-sign-in-refused');
        const ctxCookies = await page.context().cookies();
        assert.equal(ctxCookies.length, 0, 'a refused sign-in sets no cookie');

        await page.getByLabel('Admin token', { exact: true }).fill(admin);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        const cookies = await page.context().cookies();
        const c = cookies.find((x) => x.name === 'mandate_session');
        assert.ok(c, 'the session cookie is set');
        assert.equal(c.httpOnly, true);
        assert.equal(c.sameSite, 'Strict');
        cookieValue = c.value;
        assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
        csrf = await page.evaluate(async () => (await (await fetch('/api/v1/session')).json()).csrf_token);
        assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(await page.evaluate(() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)), '{}{}',
            'nothing is kept in web storage');
    });

    test('Provisioning: the base URL, a SCIM token generated once with a copy button; bad names change nothing', async () => {
        assert.equal(await page.getByLabel('SCIM base URL', { exact: true }).inputValue(), `${srv.base}/scim/v2`);
        const before = (await api('GET', '/tokens')).body.items.length;
        await page.getByRole('button', { name: 'Generate token' }).click();
        await seeText(fieldError(page, 'name'), /Give the token a name/);
        await page.getByLabel('Token name', { exact: true }).fill('x'.repeat(150));
        await page.getByRole('button', { name: 'Generate token' }).click();
        await seeText(fieldError(page, 'name'), /longer than 127/);
        assert.equal((await api('GET', '/tokens')).body.items.length, before, 'refused input created no token');
        await shot(page, '02-provisioning-bad-name');

        await page.getByLabel('Token name', { exact: true }).fill('okta-browser');
        await page.getByRole('button', { name: 'Generate token' }).click();
        const secret = page.getByLabel('SCIM bearer token', { exact: true });
        await secret.waitFor();
        scimToken = await secret.inputValue();
        assert.match(scimToken, /^mdt_scim_[A-Za-z0-9_-]{43}$/);
        await page.getByRole('button', { name: 'Copy SCIM bearer token' }).click();
        await seeText(page.getByRole('button', { name: 'Copy SCIM bearer token' }), /Copied/);
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), scimToken, 'Copy puts the token on the clipboard');
        await shot(page, '03-provisioning-token-shown-once');
        const list = (await api('GET', '/tokens')).body.items;
        const t = list.find((x) => x.name === 'okta-browser');
        assert.equal(t.kind, 'scim');
        scimTokenId = t.id;
        assert.ok(!JSON.stringify(list).includes(scimToken), 'the API never shows the token again');
        await page.getByRole('button', { name: 'Done, I have copied it' }).click();
        await seeText(page.locator('main'), /okta-browser/);
        assert.equal(await page.getByLabel('SCIM bearer token', { exact: true }).count(), 0, 'the token is gone from the page');
    });

    test('the identity provider pushes a group with its members; it appears under Provisioning with them', async () => {
        const u1 = await scimJson('POST', '/Users', { schemas: [URN_USER], userName: 'ann@example.com', displayName: 'Ann Example', active: true,
            name: { givenName: 'Ann', familyName: 'Example' }, emails: [{ value: 'ann@example.com', primary: true }] }, scimToken);
        assert.equal(u1.status, 201, u1.text);
        ann = u1.body;
        const u2 = await scimJson('POST', '/Users', { schemas: [URN_USER], userName: 'bob@example.com', displayName: 'Bob Example', active: true }, scimToken);
        assert.equal(u2.status, 201, u2.text);
        bob = u2.body;
        // Okta pushes a group empty, then PATCHes its members in (docs/okta.md).
        const g = await scimJson('POST', '/Groups', { schemas: [URN_GROUP], displayName: 'Finance Approvers', members: [] }, scimToken);
        assert.equal(g.status, 201, g.text);
        group = g.body;
        const p = await scimJson('PATCH', `/Groups/${group.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'add', path: 'members', value: [{ value: ann.id }, { value: bob.id }] }] }, scimToken);
        assert.ok(p.status === 204 || p.status === 200, p.text);

        await go(page, 'Provisioning', 'Settings');
        await seeText(page.locator('main'), /Finance Approvers — 2 members: ann@example\.com, bob@example\.com/);
        await seeText(page.locator('main'), /PATCH \/Groups\/[0-9a-f-]+ → 20[04] with token “okta-browser”/);
        await shot(page, '04-provisioning-group-arrived');
    });

    test('Groups: the group with its members; bad access is refused next to the field and changes nothing', async () => {
        await go(page, 'Groups', 'Groups');
        await shot(page, '05-groups');
        await page.getByRole('link', { name: 'Finance Approvers' }).click();
        await page.getByRole('heading', { level: 1, name: 'Finance Approvers' }).waitFor();
        const members = page.getByRole('region', { name: 'Members' });
        await seeText(members, /ann@example\.com.*Ann Example.*active/);
        await seeText(members, /bob@example\.com/);
        await seeText(page.locator('main'), /This group has no access yet/);

        const give = page.getByRole('button', { name: 'Give access' });
        await give.click();
        await seeText(fieldError(page, 'pack'), /Choose the pack/);

        await page.getByLabel('Tool pack', { exact: true }).selectOption('finance');
        await page.locator('[data-field="cond_tool_0"] input').fill('stripe__create_refund');
        await page.locator('[data-field="cond_0"] input').fill('amount le');
        await give.click();
        await seeText(fieldError(page, 'cond_0'), /not a valid filter/);

        await page.locator('[data-field="cond_0"] input').fill('amount le 5000');
        await page.getByLabel('Expires', { exact: true }).fill('2001-01-01T00:00');
        await give.click();
        await seeText(fieldError(page, 'expires'), /lies in the past/);

        await page.getByLabel('Expires', { exact: true }).fill('');
        await page.getByLabel('One tool', { exact: true }).check();
        await page.locator('[data-field="tool"] input').fill('stripe__no_such_tool');
        await give.click();
        await seeText(fieldError(page, 'tool'), /no connector defines the tool stripe__no_such_tool/i);
        await shot(page, '06-group-bad-access');
        const g0 = await api('GET', `/groups/${group.id}`);
        assert.deepEqual(g0.body.grants, [], 'refused access granted nothing');
    });

    test('Groups: give the group a pack with a condition and an expiry', async () => {
        await page.getByLabel('A tool pack', { exact: true }).check();
        await page.getByLabel('Tool pack', { exact: true }).selectOption('finance');
        await page.locator('[data-field="cond_tool_0"] input').fill('stripe__create_refund');
        await page.locator('[data-field="cond_0"] input').fill('amount le 5000');
        await page.getByLabel('Expires', { exact: true }).fill('2030-06-30T12:00');
        await page.getByLabel('Reason', { exact: true }).fill('Refunds up to 50 USD (FIN-7)');
        await page.getByRole('button', { name: 'Give access' }).click();
        const grants = page.getByRole('region', { name: 'Grants of this group' });
        await seeText(grants, /pack finance.*stripe__create_refund: amount le 5000.*2030-06-30.*FIN-7/);
        await shot(page, '07-group-with-access');
        const g = await api('GET', `/groups/${group.id}`);
        assert.equal(g.body.grants.length, 1);
        assert.equal(g.body.grants[0].pack, 'finance');
        assert.deepEqual(g.body.grants[0].conditions, { stripe__create_refund: 'amount le 5000' });
        assert.equal(new Date(g.body.grants[0].expires).getUTCFullYear(), 2030);
    });

    test('Users: search, and a member\'s effective tools with the grant behind each', async () => {
        await go(page, 'Users', 'Users');
        await page.getByLabel('Search users', { exact: true }).fill('ann');
        await page.getByRole('button', { name: 'Search' }).click();
        await seeText(page.getByRole('region', { name: 'Users' }), /ann@example\.com/);
        assert.equal(await page.getByRole('link', { name: 'bob@example.com' }).count(), 0, 'the search narrows the list');
        await shot(page, '08-users-search');
        await page.getByRole('link', { name: 'ann@example.com' }).click();
        await page.getByRole('heading', { level: 1, name: 'Ann Example (ann@example.com)' }).waitFor();
        const tools = page.getByRole('region', { name: 'Effective tools' });
        await seeText(tools, /stripe__create_refund.*destructive.*pack finance via group Finance Approvers, ceiling destructive, only when amount le 5000, until 2030-06-30/);
        await seeText(tools, /stripe__list_charges/);
        await shot(page, '09-user-effective-tools');
    });

    test('Decision explorer: may Ann call stripe__create_refund with these arguments? why?', async () => {
        await go(page, 'Decision explorer', 'Decision explorer');
        await page.getByLabel('User', { exact: true }).fill('ann@example.com');
        await page.getByLabel('Tool', { exact: true }).fill('stripe__create_refund');
        await page.getByLabel('Arguments (JSON object)', { exact: true }).fill('{"charge": "ch_1", "amount": ');
        await page.getByRole('button', { name: 'Check' }).click();
        await seeText(fieldError(page, 'arguments'), /not valid JSON/);
        await page.getByLabel('Arguments (JSON object)', { exact: true }).fill('[1, 2]');
        await page.getByRole('button', { name: 'Check' }).click();
        await seeText(fieldError(page, 'arguments'), /must be a JSON object/);

        await page.getByLabel('Arguments (JSON object)', { exact: true }).fill('{"charge": "ch_1", "amount": 1200}');
        await page.getByRole('button', { name: 'Check' }).click();
        const result = page.getByRole('region', { name: 'Decision' });
        await seeText(result, /Allowed: ann@example\.com may call stripe__create_refund/);
        await seeText(result, /group Finance Approvers/);
        await shot(page, '10-decision-allowed');

        await page.getByLabel('Arguments (JSON object)', { exact: true }).fill('{"charge": "ch_1", "amount": 99999}');
        await page.getByRole('button', { name: 'Check' }).click();
        await seeText(result, /Denied.*grants_failed.*the condition does not hold for these arguments.*amount le 5000/);
        await shot(page, '11-decision-denied');
    });

    test('Agents: create an agent token for Ann (bad users refused), it works on /mcp, then revoke it', async () => {
        await go(page, 'Agents', 'Agents');
        assert.equal(await page.getByLabel('Every tool the user may use', { exact: true }).inputValue(), `${srv.base}/mcp`);
        await seeText(page.locator('main'), /No agent token exists yet/);
        const before = (await api('GET', '/tokens')).body.items.length;
        await page.getByRole('button', { name: 'Create agent token' }).click();
        await seeText(fieldError(page, 'user'), /Enter the userName/);
        await page.getByLabel('Acts for (userName)', { exact: true }).fill('nobody@example.com');
        await page.getByRole('button', { name: 'Create agent token' }).click();
        await seeText(fieldError(page, 'user'), /no user has the id or userName/);
        assert.equal((await api('GET', '/tokens')).body.items.length, before, 'refused input created no token');
        await shot(page, '12-agents-bad-user');

        await page.getByLabel('Acts for (userName)', { exact: true }).fill('ann@example.com');
        await page.getByLabel('Token name', { exact: true }).fill('ann-claude');
        await page.getByRole('button', { name: 'Create agent token' }).click();
        const secret = page.getByLabel('Agent token', { exact: true });
        await secret.waitFor();
        const agentToken = await secret.inputValue();
        assert.match(agentToken, /^mdt_agent_/);
        assert.match(await page.getByLabel('Claude Code command', { exact: true }).inputValue(), new RegExp(`claude mcp add --transport http mandate ${srv.base}/mcp --header "Authorization: Bearer ${agentToken}"`));
        await shot(page, '13-agents-token-shown-once');
        const mcp = (tok) => request('POST', `${srv.base}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, {
            headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' } });
        const listed = await mcp(agentToken);
        assert.equal(listed.status, 200, listed.text);
        assert.ok(listed.body.result.tools.some((t) => t.name === 'stripe__create_refund'), 'Ann\'s agent sees her tools');

        await page.getByRole('button', { name: 'Done, I have copied it' }).click();
        const table = page.getByRole('region', { name: 'Agent tokens' });
        await seeText(table, /ann-claude.*ann@example\.com.*all tools/);
        await page.getByRole('button', { name: 'Revoke token ann-claude' }).click();
        await page.getByRole('button', { name: 'Confirm: revoke token ann-claude' }).click();
        await seeText(page.locator('main'), /No agent token exists yet/);
        const revoked = (await api('GET', '/tokens')).body.items.find((t) => t.name === 'ann-claude');
        assert.equal(revoked.revoked, true);
        assert.equal((await mcp(agentToken)).status, 401, 'a revoked agent token stops working at once');
        await shot(page, '14-agents-after-revoke');
    });

    test('Tool packs: a bad pack is refused next to the field; a new one is created', async () => {
        await go(page, 'Tool packs', 'Tool packs');
        await shot(page, '15-packs');
        const before = (await api('GET', '/packs')).body.items.length;
        await page.getByRole('link', { name: 'Create a pack' }).click();
        await page.getByRole('heading', { level: 1, name: 'Create a tool pack' }).waitFor();
        await page.getByLabel('Name', { exact: true }).fill('Bad Name');
        await page.getByRole('button', { name: 'Create pack' }).click();
        await seeText(fieldError(page, 'name'), /1 to 63 characters/);
        await seeText(fieldError(page, 'title'), /Give the pack a title/);
        await seeText(fieldError(page, 'tools'), /Tick at least one/);
        await page.getByLabel('Name', { exact: true }).fill('finance');
        await page.getByLabel('Title', { exact: true }).fill('Duplicate');
        const zendesk = JSON.parse(fs.readFileSync(path.join(REPO, 'catalog', 'connectors', 'zendesk.json'), 'utf8'));
        await page.getByText(`${zendesk.title} (${zendesk.tools.length} tools)`).click();
        await page.getByLabel('All Zendesk Support tools', { exact: true }).check();
        await page.getByRole('button', { name: 'Create pack' }).click();
        await seeText(fieldError(page, 'name'), /a pack named finance exists/i);
        assert.equal((await api('GET', '/packs')).body.items.length, before, 'refused packs created nothing');
        await shot(page, '16-pack-bad-input');

        await page.getByLabel('Name', { exact: true }).fill('support-lite');
        await page.getByLabel('Title', { exact: true }).fill('Support, read only');
        await page.getByLabel('Ceiling for zendesk__*', { exact: true }).selectOption('read');
        await page.getByRole('button', { name: 'Create pack' }).click();
        await page.getByRole('heading', { level: 1, name: 'Edit pack Support, read only' }).waitFor();
        const p = await api('GET', '/packs/support-lite');
        assert.equal(p.status, 200, p.text);
        assert.deepEqual(p.body.tools, [{ tool: 'zendesk__*', level: 'read' }]);
        await shot(page, '17-pack-created');
    });

    test('Connectors: base URL and credential checked next to the field; test connection says what is missing', async () => {
        await go(page, 'Connectors', 'Connectors');
        await seeText(page.getByRole('region', { name: 'Connectors' }), /Stripe.*https:\/\/api\.stripe\.com.*not set/);
        await shot(page, '18-connectors');
        await page.getByRole('link', { name: 'Stripe' }).click();
        await page.getByRole('heading', { level: 1, name: 'Stripe' }).waitFor();
        await page.getByLabel('Base URL', { exact: true }).fill('https://sandbox.example.com/');
        await page.getByRole('button', { name: 'Save base URL' }).click();
        await seeText(fieldError(page, 'base_url'), /trailing \//);
        await page.getByLabel('Base URL', { exact: true }).fill('ftp://files.example.com');
        await page.getByRole('button', { name: 'Save base URL' }).click();
        await seeText(fieldError(page, 'base_url'), /https:\/\//);
        await page.getByRole('button', { name: 'Set credential' }).click();
        await seeText(fieldError(page, 'secret_token'), /Enter the token/);
        const c = await api('GET', '/connectors/stripe');
        assert.equal(c.body.base_url, 'https://api.stripe.com', 'refused input changed nothing');
        assert.equal((await api('GET', '/connectors/stripe/credential')).status, 404);
        await page.getByRole('button', { name: 'Test connection' }).click();
        await seeText(page.locator('main'), /Connection failed\. No credential is set for the Stripe connector/);
        await shot(page, '19-connector-stripe');
    });

    test('Audit has its place, saying what to use until the audit log lands', async () => {
        await go(page, 'Audit', 'Audit');
        await seeText(page.locator('main'), /not in this release yet/);
        await shot(page, '20-audit');
    });

    test('every page: each control has an accessible name, and no CSP violation or script error', async () => {
        for (const [link, heading] of [['Provisioning', 'Settings'], ['Users', 'Users'], ['Groups', 'Groups'], ['Tool packs', 'Tool packs'],
            ['Connectors', 'Connectors'], ['Agents', 'Agents'], ['Decision explorer', 'Decision explorer'], ['Audit', 'Audit']]) {
            await go(page, link, heading);
            assert.deepEqual(await unnamedControls(page), [], `${link}: controls without a name`);
            assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|\bundefined\b|\[object /, `${link}: a value leaked as text`);
        }
        for (const hash of [`#/groups/${group.id}`, `#/users/${ann.id}`, '#/packs/new', '#/connectors/datadog']) {
            await page.goto(`${srv.base}/${hash}`);
            await page.locator('main h1').waitFor();
            await page.waitForLoadState('networkidle');
            assert.deepEqual(await unnamedControls(page), [], `${hash}: controls without a name`);
            assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|\bundefined\b|\[object /, `${hash}: a value leaked as text`);
        }
        assert.deepEqual(problems, []);
    });

    test('Provisioning: revoke the SCIM token; the identity provider is refused from then on', async () => {
        await go(page, 'Provisioning', 'Settings');
        await page.getByRole('button', { name: 'Revoke token okta-browser' }).click();
        await page.getByRole('button', { name: 'Confirm: revoke token okta-browser' }).click();
        await until(async () => (await page.getByRole('button', { name: 'Revoke token okta-browser' }).count()) === 0, 'the token to leave the list');
        const t = (await api('GET', `/tokens/${scimTokenId}`)).body;
        assert.equal(t.revoked, true);
        const r = await srv.scim('GET', '/Users', undefined, { token: scimToken });
        assert.equal(r.status, 401, 'the revoked SCIM token no longer works');
        await shot(page, '21-provisioning-token-revoked');
    });

    test('sign out: back to the sign-in form, and the old cookie is worthless', async () => {
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByRole('heading', { level: 1, name: 'Sign in to mandate' }).waitFor();
        await seeText(page.locator('main'), /You are signed out/);
        await shot(page, '22-signed-out');
        const r = await request('GET', `${srv.base}/api/v1/users`, undefined, { headers: { Cookie: `mandate_session=${cookieValue}` } });
        assert.equal(r.status, 401);
        const log = srv.stderr();
        assert.ok(!log.includes(cookieValue), 'the session cookie never appears in the log');
        assert.ok(!log.includes(csrf), 'the CSRF token never appears in the log');
        assert.ok(!log.includes(admin) && !log.includes(scimToken), 'tokens never appear in the log');
        await page.context().close();
    });
});

describe('keyboard only', () => {
    test('sign in, reach the Decision explorer and check a decision without a mouse', async () => {
        const page = await newPage();
        await page.goto(`${srv.base}/`);
        await page.getByRole('heading', { level: 1, name: 'Sign in to mandate' }).waitFor();
        // The token field has focus from the start.
        assert.equal(await page.evaluate(() => document.activeElement.getAttribute('name')), 'token');
        await page.keyboard.type(admin);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        // Tab to the navigation link, then Enter.
        const tabTo = async (test, what, max = 60) => {
            for (let i = 0; i < max; i++) {
                await page.keyboard.press('Tab');
                if (await page.evaluate(test)) return;
            }
            throw new Error(`Tab never reached ${what}`);
        };
        await tabTo(() => document.activeElement.textContent === 'Decision explorer', 'the Decision explorer link');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Decision explorer' }).waitFor();
        assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus moves to the new page\'s heading');
        await tabTo(() => document.activeElement.getAttribute('name') === 'user', 'the User field');
        await page.keyboard.type('bob@example.com');
        await page.keyboard.press('Tab');
        await page.keyboard.type('stripe__list_charges');
        await page.keyboard.press('Tab');
        await page.keyboard.press('Control+A');
        await page.keyboard.type('{}');
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Check');
        await page.keyboard.press('Enter');
        await seeText(page.getByRole('region', { name: 'Decision' }), /Allowed: bob@example\.com may call stripe__list_charges/);
        // A skip link, first in the tab order, leads past the navigation to the content.
        assert.equal(await page.evaluate(() => document.querySelector('a[href], button:not([hidden]), input, select, textarea').textContent), 'Skip to content');
        await page.locator('a.skip').focus();
        assert.ok((await page.locator('a.skip').boundingBox()).x >= 0, 'the skip link shows when focused');
        await page.keyboard.press('Enter');
        assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
        await shot(page, '30-keyboard-decision');
        await page.context().close();
    });
});

describe('a narrow screen', () => {
    test('every page fits a phone\'s width; the navigation folds behind Menu', async () => {
        const page = await newPage({ width: 390, height: 844 });
        await signIn(page, admin);
        const nav = page.locator('#nav');
        assert.equal(await nav.isVisible(), false, 'the navigation is folded');
        const menu = page.getByRole('button', { name: 'Menu' });
        assert.equal(await menu.getAttribute('aria-expanded'), 'false');
        for (const [link, heading, name] of [['Provisioning', 'Settings', 'provisioning'], ['Users', 'Users', 'users'], ['Groups', 'Groups', 'groups'],
            ['Tool packs', 'Tool packs', 'packs'], ['Connectors', 'Connectors', 'connectors'], ['Agents', 'Agents', 'agents'],
            ['Decision explorer', 'Decision explorer', 'decisions'], ['Audit', 'Audit', 'audit']]) {
            await menu.click();
            assert.equal(await menu.getAttribute('aria-expanded'), 'true');
            await go(page, link, heading);
            assert.equal(await nav.isVisible(), false, 'choosing a page folds the menu again');
            await page.waitForLoadState('networkidle');
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 0, `${link}: the page is ${overflow}px wider than the screen`);
            await shot(page, `40-narrow-${name}`);
        }
        await page.goto(`${srv.base}/#/groups/${(await api('GET', '/groups')).body.items[0].id}`);
        await page.locator('main h1').waitFor();
        await page.waitForLoadState('networkidle');
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'a group fits too');
        await shot(page, '41-narrow-group');
        await page.context().close();
    });
});
