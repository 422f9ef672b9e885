// The admin console in a real browser (Debian's chromium, headless, driven by playwright-core)
// against a real mandate (tests/it/lib/server.mjs): the admin's whole path, from signing in to
// signing out, as issue 7 describes it. The test plays the identity provider itself, pushing
// users and a group over SCIM with the token the console generated. Bad input in every form
// must be answered next to the field and change nothing, which the test checks through the API.
// Every page is also checked for accessible names, keyboard use and a narrow screen, and is
// saved as a screenshot under tests/out/browser/ for review.
//
// The Audit page is walked the way an investigator would: the test makes a tool call and a
// denial as an agent (against the Stripe fake of tests/fakes/stripe.mjs), the SCIM and admin
// changes are the ones the path above made, and each is found with a filter, opened, the chain
// verified (intact here, and broken by an edit to the database on a server of its own), and
// "who could use a tool at a time" asked for now and for before the grant existed.
//
// scripts/browser-test.sh installs chromium (apt-get) and playwright-core (npm ci) when missing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startFake } from '../fakes/lib.mjs';
import * as stripeFake from '../fakes/stripe.mjs';
import { REPO, isPg, psql, request, runCli, startServer } from '../it/lib/server.mjs';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(REPO, 'tests/out/browser');
const URN_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const URN_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let srv;
let browser;
let stripe; // the Stripe fake that Ann's agent calls
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

/* One tools/call on /mcp with an agent token (MCP 2025-06-18, Streamable HTTP, JSON answer). */
async function toolCall(base, token, name, args) {
    const r = await request('POST', `${base}/mcp`, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, {
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body && r.body.result, r.text);
    return r.body.result;
}

/* The admin API's audit events for filter, newest first, once the writer has stored everything. */
async function auditEvents(filter) {
    // Verifying walks the stored chain, so it answers after every queued event is stored.
    assert.equal((await api('GET', '/audit/verify')).status, 200);
    const r = await api('GET', `/audit?count=1000&filter=${encodeURIComponent(filter)}`);
    assert.equal(r.status, 200, r.text);
    return r.body.events;
}

/*
 * Runs action (a click that searches or navigates) and waits until the console has replaced the
 * page shown before with the one it leads to: a new search shows only once it is rendered.
 */
async function rerender(page, action) {
    const old = await page.locator('main > div').elementHandle();
    await action();
    await until(() => old.evaluate((e) => !e.isConnected), 'the page to be rendered again');
    await page.locator('main h1').waitFor();
}

/* The rows of the Audit page's event table, each as one line of text. */
async function auditRows(page) {
    const rows = await page.getByRole('region', { name: 'Audit events' }).locator('tbody tr').allInnerTexts();
    return rows.map((r) => r.replace(/\s+/g, ' ').trim());
}

/* The search in the page's address (#/audit?filter=...). */
async function hashQuery(page) {
    return page.evaluate(() => Object.fromEntries(new URLSearchParams(location.hash.split('?')[1] || '')));
}

/* Main's text without an event's JSON (which holds nulls by right) for the leak check. */
async function mainText(page) {
    return page.locator('main').evaluate((m) => {
        const c = m.cloneNode(true);
        for (const p of c.querySelectorAll('pre.event')) p.remove();
        return c.textContent;
    });
}

/* Runs one SQL statement on a server's database (sqlite3 CLI or psql); its output. */
async function sql(server, stmt) {
    if (isPg(server.dbPath)) return psql(server.dbPath, stmt);
    const r = spawnSync('sqlite3', [server.dbPath, stmt], { encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run sqlite3 (apt-get install sqlite3): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`sqlite3 ${stmt}: ${r.stderr}`);
    return r.stdout;
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
    stripe = await startFake(stripeFake);
});

after(async () => {
    if (browser) await browser.close();
    if (srv) await srv.close();
    if (stripe) await stripe.close();
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

    test('Audit: a tool call, a denial, a SCIM change and an admin change, each found with a filter', async () => {
        // Ann's agent refunds 12.00 USD, within her grant's condition (amount le 5000), then
        // 999.99, beyond it: one tool call and one denial.
        assert.equal((await api('PATCH', '/connectors/stripe', { base_url: stripe.baseUrl })).status, 200);
        assert.equal((await api('PUT', '/connectors/stripe/credential', stripeFake.credential)).status, 200);
        const t = await api('POST', '/tokens', { kind: 'agent', name: 'ann-audit', user: ann.id });
        assert.equal(t.status, 201, t.text);
        const charge = stripeFake.cases.create_refund.args.charge;
        const ok = await toolCall(srv.base, t.body.token, 'stripe__create_refund', { charge, amount: 1200 });
        assert.equal(ok.isError, false, JSON.stringify(ok));
        assert.equal(ok.structuredContent.amount, 1200);
        const denied = await toolCall(srv.base, t.body.token, 'stripe__create_refund', { charge, amount: 99999 });
        assert.equal(denied.isError, true, JSON.stringify(denied));
        assert.equal(stripe.requests.length, 1, 'the denied call never reached Stripe');

        await go(page, 'Audit', 'Audit');
        await seeText(page.getByRole('region', { name: 'Audit events' }), /denied call.*ann@example\.com.*stripe__create_refund.*denied/);
        await shot(page, '20-audit-events');

        // Denied calls: only the denial, as the API finds it.
        await rerender(page, () => page.getByRole('button', { name: 'Denied calls', exact: true }).click());
        assert.equal((await hashQuery(page)).filter, 'type eq "tool.denied"');
        let rows = await auditRows(page);
        assert.equal(rows.length, (await auditEvents('type eq "tool.denied"')).length);
        assert.equal(rows.length, 1, rows.join('\n'));
        assert.match(rows[0], /denied call ann@example\.com agent token “ann-audit” stripe__create_refund denied grants_failed/);
        await shot(page, '20-audit-denied-calls');

        // This user's calls: the call and the denial, newest first.
        await page.getByLabel('User', { exact: true }).fill('ann@example.com');
        await rerender(page, () => page.getByRole('button', { name: 'This user\'s calls', exact: true }).click());
        assert.equal(await page.getByLabel('Filter', { exact: true }).inputValue(), 'user.userName eq "ann@example.com" and type sw "tool."');
        rows = await auditRows(page);
        assert.equal(rows.length, 2, rows.join('\n'));
        assert.match(rows[0], /denied call.*stripe__create_refund.*denied/);
        assert.match(rows[1], /tool call.*ann@example\.com.*stripe__create_refund.*ok upstream 200/);
        await shot(page, '20-audit-user-calls');

        // Changes by SCIM: the identity provider's user and the group's members, by its token.
        await rerender(page, () => page.getByRole('button', { name: 'Changes by SCIM', exact: true }).click());
        rows = await auditRows(page);
        assert.ok(rows.length >= 4 && rows.every((r) => /SCIM change SCIM token “okta-browser”/.test(r)), rows.join('\n'));
        assert.ok(rows.some((r) => /PATCH \/Groups\/[0-9a-f-]+ changed Group Finance Approvers \(2 members added\) 20[04]/.test(r)), rows.join('\n'));
        assert.ok(rows.some((r) => /POST \/Users created User ann@example\.com 201/.test(r)), rows.join('\n'));
        await shot(page, '20-audit-scim-changes');

        // An admin change, by a filter typed by hand: the grant given on the Groups page.
        await page.getByLabel('Filter', { exact: true }).fill('type eq "admin.change" and path eq "/grants"');
        await rerender(page, () => page.getByLabel('Filter', { exact: true }).press('Enter'));
        rows = await auditRows(page);
        assert.equal(rows.length, 1, rows.join('\n'));
        assert.match(rows[0], /admin change admin token “browser-admin” POST \/grants pack finance 201/);
        await shot(page, '20-audit-admin-change');

        // The tool call, opened: its seq, hash and the whole event, exactly as the API has it.
        const filter = 'tool eq "stripe__create_refund" and outcome eq "ok"';
        const [want] = await auditEvents(filter);
        assert.equal(want.type, 'tool.call');
        await page.getByLabel('Filter', { exact: true }).fill(filter);
        await rerender(page, () => page.getByRole('button', { name: 'Search', exact: true }).click());
        rows = await auditRows(page);
        assert.equal(rows.length, 1, rows.join('\n'));
        await rerender(page, () => page.getByRole('link', { name: `Event ${want.seq}`, exact: true }).click());
        await page.getByRole('heading', { level: 1, name: `Event ${want.seq}: tool call` }).waitFor();
        const main = page.locator('main');
        await seeText(main, new RegExp(`Seq ${want.seq} `));
        await seeText(main, new RegExp(`Hash ${want.hash} Previous hash ${want.prev_hash}`));
        await seeText(main, /An agent acting for ann@example\.com called stripe__create_refund: ok, the upstream answered 200/);
        const shown = JSON.parse(await page.getByRole('region', { name: 'The whole event as JSON' }).innerText());
        assert.deepEqual(shown, (await api('GET', `/audit/${want.seq}`)).body, 'the whole event, as stored');
        assert.equal(shown.arguments.amount, 1200);
        await shot(page, '20-audit-event');
        await rerender(page, () => page.getByRole('link', { name: '← Events' }).click());
        assert.equal(await page.getByLabel('Filter', { exact: true }).inputValue(), filter, 'back to the same search');

        // The denial, opened: the decision's explanation.
        const [deniedEv] = await auditEvents('type eq "tool.denied"');
        await page.goto(`${srv.base}/#/audit/${deniedEv.seq}`);
        await page.getByRole('heading', { level: 1, name: `Event ${deniedEv.seq}: denied call` }).waitFor();
        await seeText(page.getByRole('region', { name: 'Candidate grants' }), /group Finance Approvers.*finance.*the condition does not hold.*amount le 5000/);
        await shot(page, '20-audit-event-denied');
    });

    test('Audit: a filter that does not parse and a bad time are answered next to their fields', async () => {
        await go(page, 'Audit', 'Audit');
        const before = await hashQuery(page);
        await page.getByLabel('Filter', { exact: true }).fill('type eq');
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await seeText(fieldError(page, 'filter'), /^Invalid filter at byte 7: expected a value/);
        assert.equal(await page.getByLabel('Filter', { exact: true }).getAttribute('aria-invalid'), 'true');
        assert.equal(await page.evaluate(() => document.activeElement.getAttribute('name')), 'filter', 'the field in error has focus');
        assert.deepEqual(await hashQuery(page), before, 'a refused search changes nothing');
        await shot(page, '20-audit-bad-filter');

        await page.getByLabel('Filter', { exact: true }).fill('');
        await page.getByLabel('From', { exact: true }).fill('yesterday');
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        await seeText(fieldError(page, 'since'), /"since" must be an RFC 3339 time such as 2026-01-31T00:00:00Z/);
        assert.equal(await fieldError(page, 'filter').innerText(), '', 'the old error is gone');
        assert.deepEqual(await hashQuery(page), before);
        await shot(page, '20-audit-bad-time');

        // The same search in an address (a bookmark, a link) is refused on the page it opens.
        await page.goto(`${srv.base}/#/audit?until=${encodeURIComponent('31/12/2026')}`);
        await seeText(fieldError(page, 'until'), /"until" must be an RFC 3339 time/);
        await seeText(page.locator('main'), /This search cannot be run/);

        // A time range that holds nothing says so.
        await page.goto(`${srv.base}/#/audit?until=2001-01-01`);
        await seeText(page.locator('main'), /No event matches this search\. Widen the time range/);
    });

    test('Audit: the chain status, and Verify now says it is intact', async () => {
        await go(page, 'Audit', 'Audit');
        await rerender(page, () => page.getByRole('navigation', { name: 'Audit' }).getByRole('link', { name: 'Chain status' }).click());
        const main = page.locator('main');
        const last = Number((await seeText(main, /Last event event \d+/)).match(/Last event event (\d+)/)[1]);
        const newest = (await api('GET', '/audit?count=1')).body.events[0].seq;
        assert.ok(last >= newest - 1 && last <= newest, `the status's last event ${last}, the log's ${newest}`);
        await page.getByRole('button', { name: 'Verify now' }).click();
        const text = await seeText(page.getByRole('region', { name: 'Verification' }), /Intact: \d+ events \(1 to \d+\), \d+ checkpoints? verified\./);
        const n = Number(text.match(/Intact: (\d+) events/)[1]);
        const v = (await api('GET', '/audit/verify')).body;
        assert.equal(v.ok, true);
        assert.ok(n >= newest && n <= v.events, `verified ${n} events; the log has ${v.events}`);
        await shot(page, '20-audit-chain-intact');
    });

    test('Audit: who could use stripe__create_refund, now and before the grant existed', async () => {
        await go(page, 'Audit', 'Audit');
        await rerender(page, () => page.getByRole('navigation', { name: 'Audit' }).getByRole('link', { name: 'Who could use a tool' }).click());
        await page.getByLabel('Time', { exact: true }).fill('last tuesday');
        await page.getByLabel('Tool', { exact: true }).fill('stripe__create_refund');
        await page.getByRole('button', { name: 'Ask' }).click();
        await seeText(fieldError(page, 'time'), /Time "last tuesday" is not an RFC 3339 time such as 2026-01-31T09:00:00Z/);
        await shot(page, '20-audit-access-at-bad-time');

        const now = new Date(Date.now() - 1000).toISOString();
        await page.getByLabel('Time', { exact: true }).fill(now);
        await page.getByLabel('Tool', { exact: true }).fill('stripe__no_such_tool');
        await page.getByRole('button', { name: 'Ask' }).click();
        await seeText(fieldError(page, 'tool'), /no connector defines the tool stripe__no_such_tool/i);
        assert.equal(await fieldError(page, 'time').innerText(), '');

        await page.getByLabel('Tool', { exact: true }).fill('stripe__create_refund');
        await rerender(page, () => page.getByRole('button', { name: 'Ask' }).click());
        const answer = page.getByRole('region', { name: 'Answer' });
        await seeText(answer, /Who could use stripe__create_refund at/);
        const users = page.getByRole('region', { name: 'Users who could use the tool' });
        await seeText(users, /ann@example\.com pack finance via group Finance Approvers, ceiling destructive, only when amount le 5000, until 2030-06-30/);
        await seeText(users, /bob@example\.com/);
        const api1 = (await api('GET', `/access-at?time=${encodeURIComponent(now)}&tool=stripe__create_refund`)).body;
        assert.deepEqual((await users.locator('tbody tr td:first-child').allInnerTexts()).sort(), api1.users.map((u) => u.userName).sort());
        await shot(page, '20-audit-access-at');

        // Just before the grant was given, its members were in the group but could not use it.
        const [grant] = await auditEvents('type eq "admin.change" and path eq "/grants"');
        const then = new Date(Date.parse(grant.time) - 1).toISOString();
        await page.getByLabel('Time', { exact: true }).fill(then);
        await rerender(page, () => page.getByRole('button', { name: 'Ask' }).click());
        await seeText(page.getByRole('region', { name: 'Answer' }), /No one could use stripe__create_refund then/);
        assert.deepEqual((await api('GET', `/access-at?time=${encodeURIComponent(then)}&tool=stripe__create_refund`)).body.users, []);
        await shot(page, '20-audit-access-at-before-grant');
    });

    test('Users: a user\'s page leads to their group history and their audit events', async () => {
        await go(page, 'Users', 'Users');
        await page.getByRole('link', { name: 'ann@example.com' }).click();
        await page.getByRole('heading', { level: 1, name: 'Ann Example (ann@example.com)' }).waitFor();
        await page.getByRole('link', { name: 'Group history' }).click();
        await page.getByRole('heading', { level: 1, name: 'Group history of ann@example.com' }).waitFor();
        const hist = page.getByRole('region', { name: 'Group history' });
        const rows = (await hist.locator('tbody tr').allInnerTexts()).map((r) => r.replace(/\s+/g, ' '));
        const h = (await api('GET', `/users/${ann.id}/history`)).body;
        assert.equal(rows.length, h.items.length);
        assert.match(rows[0], /joined group Finance Approvers/);
        assert.match(rows.at(-1), /created as ann@example\.com/);
        await shot(page, '20-user-history');

        await rerender(page, () => page.getByRole('link', { name: 'All their audit events' }).click());
        const all = await auditRows(page);
        for (const re of [/tool call.*stripe__create_refund/, /denied call/, /POST \/Users created User ann@example\.com/,
            /PATCH \/Groups\/.*Finance Approvers \(2 members added\)/, /admin change.*POST \/tokens ann-audit/]) {
            assert.ok(all.some((r) => re.test(r)), `${re} in:\n${all.join('\n')}`);
        }
        assert.ok(!all.some((r) => /bob@example\.com/.test(r)), 'none of Bob\'s events');
        await shot(page, '20-user-audit-events');
    });

    test('every page: each control has an accessible name, and no CSP violation or script error', async () => {
        for (const [link, heading] of [['Provisioning', 'Settings'], ['Users', 'Users'], ['Groups', 'Groups'], ['Tool packs', 'Tool packs'],
            ['Connectors', 'Connectors'], ['Agents', 'Agents'], ['Decision explorer', 'Decision explorer'], ['Audit', 'Audit']]) {
            await go(page, link, heading);
            assert.deepEqual(await unnamedControls(page), [], `${link}: controls without a name`);
            assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|\bundefined\b|\[object /, `${link}: a value leaked as text`);
        }
        // Events of each kind, opened: a tool call, a denial, a SCIM change, an admin change with a before.
        const seqs = [];
        for (const f of ['type eq "tool.call"', 'type eq "tool.denied"', 'type eq "scim.change"', 'type eq "admin.change" and method eq "PATCH"']) {
            const [ev] = await auditEvents(f);
            assert.ok(ev, `an event for ${f}`);
            seqs.push(ev.seq);
        }
        for (const hash of [`#/groups/${group.id}`, `#/users/${ann.id}`, '#/packs/new', '#/connectors/datadog',
            '#/audit/chain', '#/audit/access-at', `#/users/${ann.id}/history`, ...seqs.map((n) => `#/audit/${n}`)]) {
            await page.goto(`${srv.base}/${hash}`);
            await page.locator('main h1').waitFor();
            await page.waitForLoadState('networkidle');
            assert.deepEqual(await unnamedControls(page), [], `${hash}: controls without a name`);
            assert.doesNotMatch(await mainText(page), /\bnull\b|\bundefined\b|\[object /, `${hash}: a value leaked as text`);
        }
        await page.goto(`${srv.base}/#/audit/${seqs[3]}`);
        await seeText(page.getByRole('region', { name: 'What changed' }), /base_url "https:\/\/api\.stripe\.com" "http:\/\/127\.0\.0\.1:\d+"/);
        await shot(page, '20-audit-event-admin-change');
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

    test('search the audit log and open an event without a mouse', async () => {
        const page = await newPage();
        await signIn(page, admin);
        const tabTo = async (test, what, arg = null, max = 80) => {
            for (let i = 0; i < max; i++) {
                await page.keyboard.press('Tab');
                if (await page.evaluate(test, arg)) return;
            }
            throw new Error(`Tab never reached ${what}`);
        };
        await tabTo(() => document.activeElement.textContent === 'Audit' && Boolean(document.activeElement.closest('#nav')), 'the Audit link');
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { level: 1, name: 'Audit' }).waitFor();
        await tabTo(() => document.activeElement.textContent === 'Denied calls', 'the Denied calls button');
        await rerender(page, () => page.keyboard.press('Enter'));
        assert.equal((await hashQuery(page)).filter, 'type eq "tool.denied"');
        assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus is on the heading of the new results');
        const [ev] = await auditEvents('type eq "tool.denied"');
        await tabTo((seq) => document.activeElement.getAttribute('aria-label') === `Event ${seq}`, `the link to event ${ev.seq}`, ev.seq);
        await rerender(page, () => page.keyboard.press('Enter'));
        await page.getByRole('heading', { level: 1, name: `Event ${ev.seq}: denied call` }).waitFor();
        // The event's JSON can be scrolled from the keyboard: it takes focus.
        await tabTo(() => document.activeElement.getAttribute('aria-label') === 'The whole event as JSON', 'the event\'s JSON');
        await shot(page, '31-keyboard-audit-event');
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
        // The Audit page's other tabs and an event with its long hashes and JSON fit too.
        const [ev] = await auditEvents('type eq "tool.denied"');
        for (const [hash, name] of [['#/audit/chain', 'audit-chain'], ['#/audit/access-at', 'audit-access-at'], [`#/audit/${ev.seq}`, 'audit-event']]) {
            await page.goto(`${srv.base}/${hash}`);
            await page.locator('main h1').waitFor();
            await page.waitForLoadState('networkidle');
            const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
            assert.ok(overflow <= 0, `${hash}: the page is ${overflow}px wider than the screen`);
            await shot(page, `42-narrow-${name}`);
        }
        await page.context().close();
    });
});

describe('a broken chain', () => {
    let other;

    before(async () => {
        other = await startServer();
        for (const name of ['carol', 'dave', 'erin', 'frank']) {
            const r = await other.scim('POST', '/Users', { schemas: [URN_USER], userName: `${name}@example.com`, active: true });
            assert.equal(r.status, 201, r.text);
        }
    });
    after(async () => {
        if (other) await other.close();
    });

    test('Verify now names the event that was edited in the database, and why', async () => {
        // Stopped cleanly, everything is stored; then someone with write access to the database
        // edits event 2, a user's creation, as if another userName had been created.
        await other.stop();
        await sql(other, `UPDATE audit_events SET doc = replace(doc, 'dave@example.com', 'mallory@example.com') WHERE seq = 2`);
        await other.restart();
        const tok = await runCli(['token', 'create', '--kind', 'admin', '--name', 'investigator', '--db', other.dbPath]);
        assert.equal(tok.code, 0, tok.stderr);
        const page = await newPage();
        await page.goto(`${other.base}/`);
        await page.getByLabel('Admin token', { exact: true }).fill(tok.stdout.trim());
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        await page.goto(`${other.base}/#/audit/chain`);
        await page.getByRole('button', { name: 'Verify now' }).click();
        const result = page.getByRole('region', { name: 'Verification' });
        await seeText(result, /Broken at event 2\. Event 2 was altered/);
        await shot(page, '20-audit-chain-broken');
        await rerender(page, () => page.getByRole('link', { name: 'Open event 2' }).click());
        await page.getByRole('heading', { level: 1, name: 'Event 2: SCIM change' }).waitFor();
        await seeText(page.locator('main'), /created User mallory@example\.com/);
        await page.context().close();
    });
});

describe('an empty log, then a long one', () => {
    let other;
    let token;

    before(async () => {
        other = await startServer();
        const r = await runCli(['token', 'create', '--kind', 'admin', '--name', 'pager', '--db', other.dbPath]);
        assert.equal(r.code, 0, r.stderr);
        token = r.stdout.trim();
    });
    after(async () => {
        if (other) await other.close();
    });

    test('the empty log says what to do; 60 events page by 50, newest first, older and back', async () => {
        const page = await newPage();
        await page.goto(`${other.base}/`);
        await page.getByLabel('Admin token', { exact: true }).fill(token);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
        await page.goto(`${other.base}/#/audit`);
        await seeText(page.locator('main'), /The audit log has no event yet\. It records every tool call .* Give a group access under Groups/);
        await shot(page, '20-audit-empty');

        for (let i = 0; i < 60; i += 1) {
            const r = await other.scim('POST', '/Users', { schemas: [URN_USER], userName: `user${String(i).padStart(2, '0')}@example.com`, active: true });
            assert.equal(r.status, 201, r.text);
        }
        const auth = { headers: { Authorization: `Bearer ${token}` } };
        assert.equal((await request('GET', `${other.base}/api/v1/audit/verify`, undefined, auth)).status, 200);
        const all = (await request('GET', `${other.base}/api/v1/audit?count=1000`, undefined, auth)).body.events.map((e) => e.seq);
        assert.ok(all.length >= 60, `${all.length} events`);
        const seqsShown = async () => (await auditRows(page)).map((r) => Number(r.split(' ')[0]));

        // The same address: a reload, as the page does not change its hash.
        await page.reload();
        await page.getByRole('region', { name: 'Audit events' }).waitFor();
        const first = await seqsShown();
        assert.deepEqual(first, all.slice(0, 50), 'the newest 50, newest first');
        const pages = page.getByRole('navigation', { name: 'Pages of events' });
        assert.equal(await pages.getByRole('link', { name: 'Newer' }).count(), 0, 'nothing is newer than the newest');
        await rerender(page, () => pages.getByRole('link', { name: 'Older' }).click());
        assert.deepEqual(await seqsShown(), all.slice(50, 100), 'the rest');
        assert.equal(await page.getByRole('navigation', { name: 'Pages of events' }).getByRole('link', { name: 'Older' }).count(), 0, 'nothing is older than the oldest');
        await shot(page, '20-audit-older-page');
        await rerender(page, () => page.getByRole('navigation', { name: 'Pages of events' }).getByRole('link', { name: 'Newer' }).click());
        assert.deepEqual(await seqsShown(), first, 'Newer comes back to the same events');
        await page.context().close();
    });
});
