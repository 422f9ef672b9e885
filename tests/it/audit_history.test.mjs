// Who could do what, when: GET /api/v1/access-at, `mandate access-at` and
// GET /api/v1/users/{id}/history against a scripted history. The script makes SCIM and admin
// changes with pauses between them, marking a time after each step, and then asks about every
// mark: each answer must be what the script says was true at that time, although the state
// has moved on since (grants changed, expired and deleted, users deactivated and deleted,
// groups left, a nested group taken apart, a catalog pack rewritten).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createGroup, createUser, patchOk } from './lib/scim.mjs';
import { TEST_VAULT_KEY, request, runCli, sleep, startServer } from './lib/server.mjs';

const TOOL = 'github__get_issue';

let srv;
let adminToken;

async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return request(method, `${srv.base}/api/v1${path}`, body, { headers });
}

async function apiOk(method, path, body, status = 200) {
    const r = await api(method, path, body);
    assert.equal(r.status, status, `${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
}

/*
 * A time between two steps: events carry millisecond times, so a pause on each side keeps
 * the step before strictly older and the step after strictly newer.
 */
async function mark() {
    await sleep(30);
    const t = new Date().toISOString();
    await sleep(30);
    return t;
}

function assertProblem(res, status, detailRe) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
    assert.match(res.headers.get('content-type') || '', /^application\/problem\+json/);
    assert.equal(res.body.type, 'about:blank');
    assert.equal(res.body.status, status);
    assert.match(res.body.detail, detailRe);
}

async function accessAt(time, tool = TOOL) {
    return apiOk('GET', `/access-at?time=${encodeURIComponent(time)}&tool=${encodeURIComponent(tool)}`);
}

/* The answer's users as {userName: [grant summaries]}, for comparing with the script. */
function byUser(answer) {
    const out = {};
    for (const u of answer.users) {
        out[u.userName] = u.grants.map((g) => {
            const s = { grant: g.id, subject: g.subject.display };
            if ('nested' in g.subject) s.nested = g.subject.nested;
            if (g.condition) s.condition = g.condition;
            if (g.via) s.via = g.via.map((v) => v.displayName).sort();
            if (g.expires) s.expires = g.expires;
            return s;
        });
    }
    return out;
}

const SCIM_PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const removeMember = (id) => ({ op: 'remove', path: `members[value eq "${id}"]` });
const addMember = (id) => ({ op: 'add', path: 'members', value: [{ value: id }] });

/* What the script did and when: filled by the before() hook, checked by the tests. */
const h = { t: {}, user: {}, group: {}, grant: {} };

before(async () => {
    srv = await startServer();
    const tok = await runCli(['token', 'create', '--kind', 'admin', '--name', 'history', '--db', srv.dbPath]);
    assert.equal(tok.code, 0, tok.stderr);
    adminToken = tok.stdout.trim();

    h.t.t0 = await mark();

    // Step 1: people and groups. platform sits inside eng; bob is in platform only.
    for (const n of ['ann', 'bob', 'cat', 'dan', 'eve']) {
        h.user[n] = await createUser(srv, { userName: `${n}-${process.pid}@example.com` });
    }
    h.group.platform = await createGroup(srv, { displayName: 'Platform', members: [{ value: h.user.bob.id }] });
    h.group.eng = await createGroup(srv, {
        displayName: 'Engineering',
        members: [{ value: h.user.ann.id }, { value: h.group.platform.id }],
    });
    h.group.finance = await createGroup(srv, { displayName: 'Finance', members: [{ value: h.user.cat.id }] });
    h.t.t1 = await mark();

    // Step 2: grants. G1: eng gets the engineering pack (from the catalog, never changed yet).
    // G2: dan alone, with a condition and an expiry two seconds ahead. G3: finance, the tool.
    h.grant.g1 = await apiOk('POST', '/grants', { subject: { type: 'group', id: h.group.eng.id }, pack: 'engineering' }, 201);
    h.expires = new Date(Date.now() + 2000).toISOString();
    h.grant.g2 = await apiOk('POST', '/grants', {
        subject: { type: 'user', id: h.user.dan.id },
        tool: TOOL,
        conditions: { [TOOL]: 'repo sw "acme/"' },
        expires: h.expires,
    }, 201);
    h.grant.g3 = await apiOk('POST', '/grants', { subject: { type: 'group', id: h.group.finance.id }, tool: TOOL, level: 'read' }, 201);
    h.t.t2 = await mark();

    // Step 3: ann leaves eng, cat is deactivated (Okta's PATCH), G1 gains a condition.
    await patchOk(srv, `/Groups/${h.group.eng.id}`, removeMember(h.user.ann.id));
    await patchOk(srv, `/Users/${h.user.cat.id}`, { op: 'replace', value: { active: false } });
    await apiOk('PUT', `/grants/${h.grant.g1.id}`, {
        subject: { type: 'group', id: h.group.eng.id },
        pack: 'engineering',
        conditions: { [TOOL]: 'repo eq "acme/web"' },
    });
    h.t.t3 = await mark();

    // Step 4: G2 expires; G3 is deleted; cat comes back (and has nothing); eve joins platform.
    const wait = Date.parse(h.expires) - Date.now() + 50;
    if (wait > 0) await sleep(wait);
    await apiOk('DELETE', `/grants/${h.grant.g3.id}`, undefined, 204);
    await patchOk(srv, `/Users/${h.user.cat.id}`, { op: 'replace', path: 'active', value: true });
    await patchOk(srv, `/Groups/${h.group.platform.id}`, addMember(h.user.eve.id));
    h.t.t4 = await mark();

    // Step 5: bob is deleted, platform leaves eng, ann rejoins eng.
    const del = await srv.scim('DELETE', `/Users/${h.user.bob.id}`);
    assert.equal(del.status, 204, del.text);
    await patchOk(srv, `/Groups/${h.group.eng.id}`, removeMember(h.group.platform.id), addMember(h.user.ann.id));
    h.t.t5 = await mark();

    // Step 6: the catalog's engineering pack, never changed before, loses GitHub.
    const pack = await apiOk('GET', '/packs/engineering');
    await apiOk('PUT', '/packs/engineering', {
        name: 'engineering',
        title: pack.title,
        tools: pack.tools.filter((t) => !t.tool.startsWith('github__')),
    });
    h.t.t6 = await mark();
});

after(() => srv && srv.close());

describe('access-at replays the recorded changes', () => {
    test('before the first event nothing is known, and the answer says so', async () => {
        const a = await accessAt(h.t.t0);
        assert.deepEqual(a.users, []);
        assert.equal(a.complete, false);
        assert.ok(Date.parse(a.history_starts) > Date.parse(h.t.t0), JSON.stringify(a));
        assert.ok(Date.parse(a.history_starts) < Date.parse(h.t.t1));
        assert.equal(a.events_replayed, 0);
        assert.ok(a.notes.some((n) => /before the first event/.test(n)), JSON.stringify(a.notes));
    });

    test('t1: users and groups, no grant yet: nobody', async () => {
        const a = await accessAt(h.t.t1);
        assert.equal(a.time, h.t.t1);
        assert.equal(a.tool, TOOL);
        assert.equal(a.level, 'read');
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(a.users, []);
        assert.equal(a.events_replayed, 8); // five users, three groups
    });

    test('t2: direct, nested, per-user with condition and expiry, and a tool grant', async () => {
        const a = await accessAt(h.t.t2);
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(byUser(a), {
            [h.user.ann.userName]: [{ grant: h.grant.g1.id, subject: 'Engineering', nested: false }],
            [h.user.bob.userName]: [{ grant: h.grant.g1.id, subject: 'Engineering', nested: true, via: ['Platform'] }],
            [h.user.cat.userName]: [{ grant: h.grant.g3.id, subject: 'Finance', nested: false }],
            [h.user.dan.userName]: [{
                grant: h.grant.g2.id, subject: h.user.dan.userName,
                condition: 'repo sw "acme/"', expires: h.expires,
            }],
        });
        const ann = a.users.find((u) => u.id === h.user.ann.id);
        assert.equal(ann.grants[0].pack, 'engineering');
        assert.equal(ann.grants[0].subject.type, 'group');
        assert.equal(ann.grants[0].subject.id, h.group.eng.id);
    });

    test('t3: a member left, a user deactivated, a grant changed to carry a condition', async () => {
        const a = await accessAt(h.t.t3);
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(byUser(a), {
            [h.user.bob.userName]: [{
                grant: h.grant.g1.id, subject: 'Engineering', nested: true, via: ['Platform'],
                condition: 'repo eq "acme/web"',
            }],
            [h.user.dan.userName]: [{
                grant: h.grant.g2.id, subject: h.user.dan.userName,
                condition: 'repo sw "acme/"', expires: h.expires,
            }],
        });
    });

    test('t4: an expired grant and a deleted one give nothing; a new member of the nested group', async () => {
        const a = await accessAt(h.t.t4);
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(byUser(a), {
            [h.user.bob.userName]: [{
                grant: h.grant.g1.id, subject: 'Engineering', nested: true, via: ['Platform'],
                condition: 'repo eq "acme/web"',
            }],
            [h.user.eve.userName]: [{
                grant: h.grant.g1.id, subject: 'Engineering', nested: true, via: ['Platform'],
                condition: 'repo eq "acme/web"',
            }],
        });
    });

    test('t5: a deleted user and a nested group taken out are gone; a member came back', async () => {
        const a = await accessAt(h.t.t5);
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(byUser(a), {
            [h.user.ann.userName]: [{
                grant: h.grant.g1.id, subject: 'Engineering', nested: false, condition: 'repo eq "acme/web"',
            }],
        });
    });

    test('t6: the catalog pack as rewritten; before the rewrite it stays as it was', async () => {
        const a = await accessAt(h.t.t6);
        assert.equal(a.complete, true, JSON.stringify(a));
        assert.deepEqual(a.users, []);
        // The pack's first event came after t5: until then it was what that event's "before" showed.
        const b = await accessAt(h.t.t5);
        assert.deepEqual(Object.keys(byUser(b)), [h.user.ann.userName]);
    });

    test('now matches the live decision engine', async () => {
        const now = new Date().toISOString();
        const a = await accessAt(now);
        assert.deepEqual(a.users, []);
        const d = await apiOk('POST', '/decisions', { user: h.user.ann.id, tool: TOOL, arguments: { repo: 'acme/web' } });
        assert.equal(d.allowed, false);
        // Another tool of the engineering pack still reaches ann now, and at t6 as well.
        const jira = await accessAt(h.t.t6, 'jira__search_issues');
        assert.deepEqual(jira.users.map((u) => u.id), [h.user.ann.id]);
        const live = await apiOk('POST', '/decisions', { user: h.user.ann.id, tool: 'jira__search_issues', arguments: {} });
        assert.equal(live.allowed, true, JSON.stringify(live));
    });

    test('the CLI prints the same answer as the API', async () => {
        for (const t of [h.t.t2, h.t.t4]) {
            const r = await runCli(['access-at', '--time', t, '--tool', TOOL, '--db', srv.dbPath], { timeout: 30000 });
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(JSON.parse(r.stdout), await accessAt(t));
        }
        const bad = await runCli(['access-at', '--time', 'yesterday', '--tool', TOOL, '--db', srv.dbPath]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /not an RFC 3339 time/);
        assert.equal(bad.stdout, '');
        const usage = await runCli(['access-at', '--tool', TOOL, '--db', srv.dbPath]);
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /usage: mandate access-at/);
    });
});

describe('access-at refuses bad input with problem details', () => {
    test('no time, a malformed time, a time in the future', async () => {
        assertProblem(await api('GET', `/access-at?tool=${TOOL}`), 400, /time is required/);
        assertProblem(await api('GET', `/access-at?time=2026-13-45T99:00:00Z&tool=${TOOL}`), 400,
            /not an RFC 3339 time/);
        const future = new Date(Date.now() + 3600 * 1000).toISOString();
        assertProblem(await api('GET', `/access-at?time=${future}&tool=${TOOL}`), 400, /in the future/);
    });

    test('no tool, a malformed tool name, a tool no connector defines', async () => {
        const t = encodeURIComponent(h.t.t2);
        assertProblem(await api('GET', `/access-at?time=${t}`), 400, /tool is required/);
        assertProblem(await api('GET', `/access-at?time=${t}&tool=GitHub.get`), 400, /no connector defines/);
        assertProblem(await api('GET', `/access-at?time=${t}&tool=github__no_such_tool`), 400,
            /no connector defines the tool github__no_such_tool/);
    });

    test('only GET, and nothing below it', async () => {
        const r = await api('POST', '/access-at', {});
        assertProblem(r, 405, /use GET/);
        assert.equal(r.headers.get('allow'), 'GET');
        assertProblem(await api('GET', '/access-at/x'), 404, /no such endpoint/);
    });

    test('a question, refused or answered, records nothing and changes nothing', async () => {
        // Checkpoints are the writer's own and may fall in between: only changes count.
        const changes = async () => (await runCli(['audit', 'export', '--db', srv.dbPath,
            '--filter', 'type ne "audit.checkpoint"'])).stdout;
        const before = await changes();
        const users = await apiOk('GET', '/users?count=1000');
        await api('GET', `/access-at?time=nope&tool=${TOOL}`);
        await accessAt(h.t.t2);
        assert.equal(await changes(), before);
        assert.deepEqual(await apiOk('GET', '/users?count=1000'), users);
    });
});

describe('a user\'s history', () => {
    test('ann: created, joined, left and joined again, newest first', async () => {
        const b = await apiOk('GET', `/users/${h.user.ann.id}/history`);
        assert.deepEqual(b.user, { id: h.user.ann.id, userName: h.user.ann.userName });
        assert.equal(b.complete, true);
        assert.deepEqual(b.items.map((i) => [i.change, i.group?.displayName ?? null]), [
            ['joined', 'Engineering'],
            ['left', 'Engineering'],
            ['joined', 'Engineering'],
            ['created', null],
        ]);
        assert.equal(b.total, 4);
        const times = b.items.map((i) => Date.parse(i.time));
        assert.deepEqual([...times].sort((x, y) => y - x), times);
        assert.ok(Date.parse(b.items[1].time) > Date.parse(h.t.t2) && Date.parse(b.items[1].time) < Date.parse(h.t.t3));
        assert.ok(b.items.every((i) => Number.isInteger(i.seq)));
    });

    test('paging: startIndex and count over the newest-first list', async () => {
        const p = await apiOk('GET', `/users/${h.user.ann.id}/history?startIndex=2&count=2`);
        assert.equal(p.total, 4);
        assert.equal(p.startIndex, 2);
        assert.equal(p.count, 2);
        assert.deepEqual(p.items.map((i) => i.change), ['left', 'joined']);
        const none = await apiOk('GET', `/users/${h.user.ann.id}/history?startIndex=9`);
        assert.deepEqual(none.items, []);
        assertProblem(await api('GET', `/users/${h.user.ann.id}/history?count=many`), 400, /count/);
    });

    test('cat: deactivated and activated again; found by userName too', async () => {
        const b = await apiOk('GET', `/users/${encodeURIComponent(h.user.cat.userName)}/history`);
        assert.deepEqual(b.items.map((i) => i.change), ['activated', 'deactivated', 'joined', 'created']);
        assert.ok(Date.parse(b.items[1].time) > Date.parse(h.t.t2) && Date.parse(b.items[1].time) < Date.parse(h.t.t3));
    });

    test('bob, deleted since: his history is still in the log', async () => {
        const b = await apiOk('GET', `/users/${h.user.bob.id}/history`);
        assert.deepEqual(b.items.map((i) => i.change), ['deleted', 'joined', 'created']);
        assert.equal(b.items[1].group.id, h.group.platform.id);
        const byName = await apiOk('GET', `/users/${encodeURIComponent(h.user.bob.userName)}/history`);
        assert.deepEqual(byName.items, b.items);
    });

    test('an unknown user is a 404 problem', async () => {
        assertProblem(await api('GET', '/users/nobody@example.com/history'), 404, /now or in the audit log/);
    });
});

describe('what the log cannot tell', () => {
    test('a group older than the log is reported, and the answer is not complete', async () => {
        // The first steps pruned away: the groups created then are now older than the log.
        const r = await runCli(['audit', 'prune', '--before', h.t.t2, '--db', srv.dbPath],
            { env: { MANDATE_VAULT_KEY: TEST_VAULT_KEY } });
        assert.equal(r.code, 0, r.stderr);
        const a = await accessAt(h.t.t4);
        assert.equal(a.complete, false);
        assert.ok(a.pruned, JSON.stringify(a));
        assert.ok(Date.parse(a.history_starts) > Date.parse(h.t.t1));
        assert.ok(a.unknown.groups.includes(h.group.eng.id) || a.unknown.groups.includes(h.group.platform.id),
            JSON.stringify(a.unknown));
        const hist = await apiOk('GET', `/users/${h.user.ann.id}/history`);
        assert.equal(hist.complete, false);
        assert.ok(!hist.items.some((i) => i.change === 'created'));
    });
});
