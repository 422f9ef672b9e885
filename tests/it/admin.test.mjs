// The admin REST API, /api/v1: admin-token authentication, problem details, tokens, the
// directory's read view, the catalog (connectors and packs), grants and decisions. Every
// response these tests receive is also checked against the OpenAPI document that the server
// serves at /api/v1/openapi.json: its status must be documented for the operation, and its
// body must validate against the documented schema, so that the document stays true.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createGroup, createUser, patchOk, uniq } from './lib/scim.mjs';
import { dbContents, request, runCli, startServer } from './lib/server.mjs';

/* Every operation the server answers below /api/v1; the document must list exactly these. */
const ROUTES = [
    'GET /openapi.json',
    'GET /tokens', 'POST /tokens', 'GET /tokens/{id}', 'DELETE /tokens/{id}',
    'GET /users', 'GET /users/{id}', 'GET /users/{id}/entitlements',
    'GET /groups', 'GET /groups/{id}',
    'GET /connectors', 'GET /connectors/{name}', 'PUT /connectors/{name}', 'PATCH /connectors/{name}',
    'GET /connectors/{name}/credential', 'PUT /connectors/{name}/credential',
    'DELETE /connectors/{name}/credential',
    'GET /packs', 'POST /packs', 'GET /packs/{name}', 'PUT /packs/{name}', 'DELETE /packs/{name}',
    'GET /grants', 'POST /grants', 'GET /grants/{id}', 'PUT /grants/{id}', 'DELETE /grants/{id}',
    'POST /decisions',
    'GET /audit', 'GET /audit/status', 'GET /audit/verify', 'GET /audit/{seq}',
    'GET /users/{id}/history', 'GET /access-at',
    'GET /groups/{id}/members', 'GET /provisioning', 'POST /connectors/{name}/test',
    'POST /session', 'GET /session', 'DELETE /session',
];

/*
 * The console's session routes are how a browser authenticates, not routes that take an admin
 * bearer token: like openapi.json they are left out of the bearer-token checks.
 */
const SESSION = (p) => p === '/session';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/* ---- a JSON Schema subset, enough for the document's schemas ---- */

function typeOf(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
}

function typeMatches(v, t) {
    const actual = typeOf(v);
    return actual === t || (t === 'number' && actual === 'integer');
}

/*
 * Errors of v against schema (an array of "path: message" strings; empty when valid). Supports
 * $ref (to #/...), type (a string or a list), enum, const, required, properties,
 * additionalProperties (false or a schema), items, allOf, anyOf, oneOf, minimum, maximum,
 * minLength, maxLength, minItems, pattern and format date-time.
 */
function validate(doc, schema, v, at = '$') {
    const errs = [];
    if (schema === true || schema === undefined) return errs;
    if (schema === false) return [`${at}: no value is allowed here`];
    if (schema.$ref) {
        const target = schema.$ref.replace(/^#\//, '').split('/').reduce((o, k) => o && o[k], doc);
        if (!target) return [`${at}: unresolved $ref ${schema.$ref}`];
        errs.push(...validate(doc, target, v, at));
    }
    if (schema.type !== undefined) {
        const types = Array.isArray(schema.type) ? schema.type : [schema.type];
        if (!types.some((t) => typeMatches(v, t))) {
            return [...errs, `${at}: ${JSON.stringify(v)?.slice(0, 80)} is not of type ${types.join('|')}`];
        }
    }
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
        errs.push(`${at}: ${JSON.stringify(v)} is not one of ${JSON.stringify(schema.enum)}`);
    }
    if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(v)) {
        errs.push(`${at}: ${JSON.stringify(v)} is not ${JSON.stringify(schema.const)}`);
    }
    if (typeof v === 'number') {
        if (schema.minimum !== undefined && v < schema.minimum) errs.push(`${at}: ${v} < ${schema.minimum}`);
        if (schema.maximum !== undefined && v > schema.maximum) errs.push(`${at}: ${v} > ${schema.maximum}`);
    }
    if (typeof v === 'string') {
        if (schema.minLength !== undefined && v.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
        if (schema.maxLength !== undefined && v.length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`);
        if (schema.pattern && !new RegExp(schema.pattern, 'u').test(v)) errs.push(`${at}: "${v}" does not match ${schema.pattern}`);
        if (schema.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v)) {
            errs.push(`${at}: "${v}" is not a date-time`);
        }
    }
    if (Array.isArray(v)) {
        if (schema.minItems !== undefined && v.length < schema.minItems) errs.push(`${at}: fewer than ${schema.minItems} items`);
        if (schema.items) v.forEach((item, i) => errs.push(...validate(doc, schema.items, item, `${at}[${i}]`)));
    }
    if (typeOf(v) === 'object') {
        for (const k of schema.required || []) {
            if (!(k in v)) errs.push(`${at}: "${k}" is required`);
        }
        const props = schema.properties || {};
        for (const [k, val] of Object.entries(v)) {
            if (k in props) errs.push(...validate(doc, props[k], val, `${at}.${k}`));
            else if (schema.additionalProperties === false) errs.push(`${at}: "${k}" is not allowed`);
            else if (typeof schema.additionalProperties === 'object') {
                errs.push(...validate(doc, schema.additionalProperties, val, `${at}.${k}`));
            }
        }
    }
    for (const sub of schema.allOf || []) errs.push(...validate(doc, sub, v, at));
    if (schema.anyOf && !schema.anyOf.some((sub) => validate(doc, sub, v, at).length === 0)) {
        errs.push(`${at}: matches none of anyOf`);
    }
    if (schema.oneOf && schema.oneOf.filter((sub) => validate(doc, sub, v, at).length === 0).length !== 1) {
        errs.push(`${at}: does not match exactly one of oneOf`);
    }
    return errs;
}

/* ---- the document ---- */

/* Resolves a {$ref: "#/components/..."} object of the document, or returns it as it is. */
function deref(doc, o) {
    if (o && o.$ref) return o.$ref.replace(/^#\//, '').split('/').reduce((x, k) => x && x[k], doc);
    return o;
}

/* The document's path template that matches a concrete path ("/packs/x" -> "/packs/{name}"). */
function templateOf(doc, path) {
    const segs = path.split('?')[0].split('/');
    let best = null;
    for (const tpl of Object.keys(doc.paths)) {
        const t = tpl.split('/');
        if (t.length !== segs.length) continue;
        if (!t.every((s, i) => /^\{.+\}$/.test(s) || s === decodeURIComponent(segs[i]))) continue;
        // A literal segment wins over a parameter.
        const literals = t.filter((s) => !/^\{.+\}$/.test(s)).length;
        if (!best || literals > best.literals) best = { tpl, literals };
    }
    return best ? best.tpl : null;
}

/* The documented operations as "METHOD /path". */
function documentedRoutes(doc) {
    const out = [];
    for (const [p, item] of Object.entries(doc.paths)) {
        for (const m of METHODS) if (item[m.toLowerCase()]) out.push(`${m} ${p}`);
    }
    return out.sort();
}

/* Which operations were exercised, and with which statuses (for the coverage check). */
const exercised = new Map();

/*
 * Checks one exchange against the document: when the operation is documented, its status
 * must be, the Content-Type must be the documented one, and the body must validate.
 */
function checkAgainstDoc(doc, method, path, res) {
    const tpl = templateOf(doc, path);
    const op = tpl && doc.paths[tpl][method.toLowerCase()];
    if (!op) return;
    const key = `${method} ${tpl}`;
    if (!exercised.has(key)) exercised.set(key, new Set());
    exercised.get(key).add(res.status);
    const documented = deref(doc, op.responses[String(res.status)]);
    assert.ok(documented, `${key} answered ${res.status}, which the OpenAPI document does not ` +
        `list (${Object.keys(op.responses).join(', ')}): ${res.text.slice(0, 300)}`);
    if (!documented.content) {
        assert.equal(res.text, '', `${key} ${res.status} is documented without a body`);
        return;
    }
    const ct = (res.headers.get('content-type') || '').split(';')[0].trim();
    const media = documented.content[ct];
    assert.ok(media, `${key} ${res.status}: Content-Type ${ct} is not documented ` +
        `(${Object.keys(documented.content).join(', ')})`);
    const errs = validate(doc, media.schema, res.body);
    assert.deepEqual(errs, [], `${key} ${res.status}: the body does not match the document:\n` +
        `${errs.slice(0, 10).join('\n')}\nbody: ${res.text.slice(0, 600)}`);
    for (const h of Object.keys(documented.headers || {})) {
        if (h === 'WWW-Authenticate' || h === 'Location' || h === 'ETag') {
            assert.ok(res.headers.get(h), `${key} ${res.status}: the documented header ${h} is missing`);
        }
    }
}

/* ---- the server ---- */

let srv;
let doc;
let adminToken;
let adminId;

async function createAdminToken(db, name) {
    const r = await runCli(['token', 'create', '--kind', 'admin', '--name', name, '--db', db]);
    if (r.code !== 0) {
        throw new Error(`mandate token create --kind admin exited ${r.code}: ${r.stderr}`);
    }
    return r.stdout.trim();
}

/*
 * An /api/v1 request with the admin token (o.token: another one, or null for none). A body
 * that is not a string goes as application/json unless o.headers says otherwise. The answer
 * is checked against the OpenAPI document (o.unchecked skips that, for raw probes).
 */
async function api(method, path, body, o = {}) {
    const headers = { ...(o.headers || {}) };
    const tok = 'token' in o ? o.token : adminToken;
    if (tok) headers.Authorization = `Bearer ${tok}`;
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json';
    }
    const res = await request(method, `${srv.base}/api/v1${path}`, body, { headers });
    if (doc && !o.unchecked) checkAgainstDoc(doc, method, path, res);
    return res;
}

/* Asserts a problem details answer (RFC 9457) with this status. */
function assertProblem(res, status, detailRe) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
    assert.match(res.headers.get('content-type') || '', /^application\/problem\+json/);
    assert.equal(res.body.type, 'about:blank');
    assert.equal(res.body.status, status);
    assert.equal(typeof res.body.title, 'string');
    assert.ok(res.body.title.length > 0);
    assert.equal(typeof res.body.detail, 'string');
    if (detailRe) assert.match(res.body.detail, detailRe);
}

/* A small connector of our own, so that the tests do not depend on the shipped catalog. */
function connectorDoc(name, extra = {}) {
    const tool = (n, level, props = {}) => ({
        name: n,
        title: `Tool ${n}`,
        description: `Does ${n} for the tests.`,
        level,
        input_schema: {
            type: 'object',
            properties: Object.fromEntries(Object.entries(props).map(([k, t]) => [k, { type: t, description: k }])),
        },
        request: { method: level === 'read' ? 'GET' : 'POST', path: `/${n}` },
    });
    return {
        name,
        title: `Connector ${name}`,
        description: 'A connector made by the admin API tests.',
        base_url: 'https://api.example.com',
        auth: { type: 'bearer' },
        tools: [
            tool('get_thing', 'read', { id: 'string' }),
            tool('create_refund', 'write', { amount: 'integer', currency: 'string' }),
            tool('delete_thing', 'destructive', { id: 'string' }),
        ],
        ...extra,
    };
}

function connectorName() {
    // 1-30 characters of [a-z0-9_], starting with a letter, no "__", not ending in "_".
    return `c${uniq('').replace(/[^a-z0-9]/g, '').slice(-20)}`;
}

function packName() {
    return `p-${uniq('').replace(/[^a-z0-9]/g, '').slice(-30)}`;
}

async function putConnector(name, body = connectorDoc(name)) {
    const r = await api('PUT', `/connectors/${name}`, body);
    assert.ok(r.status === 201 || r.status === 200, `PUT /connectors/${name}: ${r.status} ${r.text}`);
    return r.body;
}

async function createPack(name, tools, extra = {}) {
    const r = await api('POST', '/packs', { name, title: `Pack ${name}`, tools, ...extra });
    assert.equal(r.status, 201, `POST /packs: ${r.text}`);
    return r.body;
}

async function createGrant(body) {
    const r = await api('POST', '/grants', body);
    assert.equal(r.status, 201, `POST /grants: ${r.text}`);
    return r.body;
}

async function decide(user, tool, args) {
    const body = { user, tool };
    if (args !== undefined) body.arguments = args;
    const r = await api('POST', '/decisions', body);
    assert.equal(r.status, 200, `POST /decisions: ${r.text}`);
    return r.body;
}

async function listCount(path) {
    const r = await api('GET', path);
    assert.equal(r.status, 200, r.text);
    return r.body.items.length;
}

before(async () => {
    srv = await startServer();
    adminToken = await createAdminToken(srv.dbPath, 'it-admin');
    const r = await request('GET', `${srv.base}/api/v1/openapi.json`);
    assert.equal(r.status, 200, r.text);
    doc = r.body;
    const list = await api('GET', '/tokens');
    assert.equal(list.status, 200, list.text);
    adminId = list.body.items.find((t) => t.name === 'it-admin').id;
});

after(() => srv && srv.close());

/* ---- the document ---- */

describe('GET /api/v1/openapi.json', () => {
    test('is served without a token as an OpenAPI 3.1 document with a bearer scheme', async () => {
        const r = await api('GET', '/openapi.json', undefined, { token: null });
        assert.equal(r.status, 200, r.text);
        assert.match(r.headers.get('content-type'), /^application\/json/);
        assert.match(r.body.openapi, /^3\.1\./);
        assert.equal(r.body.components.securitySchemes.bearer.scheme, 'bearer');
        assert.deepEqual(r.body.security, [{ bearer: [] }]);
        assert.deepEqual(r.body.paths['/openapi.json'].get.security, []);
    });

    test('documents exactly the routes the server answers', () => {
        assert.deepEqual(documentedRoutes(doc), [...ROUTES].sort());
    });

    test('every $ref resolves and every operation documents 401 (but openapi.json)', () => {
        const refs = [];
        (function walk(o) {
            if (o && typeof o === 'object') {
                if (typeof o.$ref === 'string') refs.push(o.$ref);
                for (const v of Object.values(o)) walk(v);
            }
        })(doc);
        assert.ok(refs.length > 20);
        for (const ref of refs) assert.ok(deref(doc, { $ref: ref }), `unresolved ${ref}`);
        for (const route of ROUTES) {
            const [m, p] = route.split(' ');
            const op = doc.paths[p][m.toLowerCase()];
            assert.ok(op.operationId, `${route} has an operationId`);
            // Signing out without a session is no error: it just clears the cookie.
            if (p !== '/openapi.json' && route !== 'DELETE /session') assert.ok(op.responses['401'], `${route} documents 401`);
            if (['POST', 'PUT', 'PATCH'].includes(m)) {
                assert.ok(op.requestBody?.content?.['application/json'], `${route} documents its body`);
                assert.ok(op.responses['415'] && op.responses['400'], `${route} documents 400 and 415`);
            }
        }
        for (const name of ['Token', 'Pack', 'Grant', 'Connector', 'Decision', 'Problem', 'User', 'Group']) {
            assert.ok(doc.components.schemas[name], `schema ${name}`);
        }
    });

    test('the server answers every documented route, and no other method on those paths', async () => {
        const sample = (p) => p.replace(/\{[^}]+\}/g, 'nosuchthing');
        for (const p of Object.keys(doc.paths)) {
            for (const m of METHODS) {
                const listed = ROUTES.includes(`${m} ${p}`);
                const body = ['POST', 'PUT', 'PATCH'].includes(m) ? '{"probe": true}' : undefined;
                const r = await api(m, sample(p), body, { unchecked: true });
                if (listed) {
                    assert.notEqual(r.status, 405, `${m} ${p}: ${r.text}`);
                    assert.ok(!(r.status === 404 && r.body?.detail === 'no such endpoint'), `${m} ${p} is not routed`);
                } else {
                    assertProblem(r, 405);
                    assert.ok(r.headers.get('allow'), `${m} ${p}: Allow`);
                    const allowed = r.headers.get('allow').split(/,\s*/).sort();
                    const expect = METHODS.filter((x) => ROUTES.includes(`${x} ${p}`)).sort();
                    assert.deepEqual(allowed, expect, `Allow of ${p}`);
                }
            }
        }
    });
});

/* ---- authentication ---- */

describe('authentication', () => {
    test('no token: 401 problem with WWW-Authenticate on every route but openapi.json', async () => {
        for (const route of ROUTES) {
            const [m, p] = route.split(' ');
            if (p === '/openapi.json' || SESSION(p)) continue;
            const body = ['POST', 'PUT', 'PATCH'].includes(m) ? {} : undefined;
            const r = await api(m, p.replace(/\{[^}]+\}/g, 'x'), body, { token: null });
            assertProblem(r, 401);
            assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="mandate-admin"', route);
        }
    });

    test('a SCIM token, a garbage token and a malformed header are refused', async () => {
        for (const tok of [srv.token, 'mdt_admin_notavalidtoken', `${adminToken}x`]) {
            const r = await api('GET', '/tokens', undefined, { token: tok });
            assertProblem(r, 401);
            assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="mandate-admin"');
        }
        const r = await api('GET', '/tokens', undefined, { token: null, headers: { Authorization: `Basic ${adminToken}` } });
        assertProblem(r, 401);
    });

    test('an agent token is refused', async () => {
        const u = await createUser(srv);
        const c = await api('POST', '/tokens', { kind: 'agent', name: 'agent-auth', user: u.id });
        assert.equal(c.status, 201, c.text);
        const r = await api('GET', '/tokens', undefined, { token: c.body.token });
        assertProblem(r, 401);
    });

    test('an admin token is refused on /scim/v2, and a SCIM token is accepted there', async () => {
        const r = await srv.scim('GET', '/Users', undefined, { token: adminToken });
        assert.equal(r.status, 401, r.text);
        const ok = await srv.scim('GET', '/Users');
        assert.equal(ok.status, 200, ok.text);
    });

    test('a revoked admin token is refused from the next request on', async () => {
        const c = await api('POST', '/tokens', { kind: 'admin', name: 'short-lived' });
        assert.equal(c.status, 201, c.text);
        assert.match(c.body.token, /^mdt_admin_/);
        const ok = await api('GET', '/tokens', undefined, { token: c.body.token });
        assert.equal(ok.status, 200, ok.text);
        const d = await api('DELETE', `/tokens/${c.body.id}`);
        assert.equal(d.status, 204, d.text);
        const r = await api('GET', '/tokens', undefined, { token: c.body.token });
        assertProblem(r, 401);
    });

    test('a use is recorded as last_used', async () => {
        const r = await api('GET', `/tokens/${adminId}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(typeof r.body.last_used, 'string');
        assert.ok(Math.abs(Date.parse(r.body.last_used) - Date.now()) < 5 * 60000, r.body.last_used);
    });
});

/* ---- errors ---- */

describe('errors are problem details, and bad input changes nothing', () => {
    test('unknown paths: 404', async () => {
        for (const p of ['', '/', '/nothing', '/tokens/a/b', '/users/x/y', '/users/x/entitlements/y', '/packs/a/b/c', '//tokens']) {
            const r = await api('GET', p);
            assertProblem(r, 404);
        }
    });

    test('wrong methods: 405 with Allow', async () => {
        const cases = [['DELETE', '/tokens', 'GET, POST'], ['POST', '/users', 'GET'], ['PUT', '/decisions', 'POST'],
            ['POST', '/packs/x', 'GET, PUT, DELETE'], ['DELETE', '/connectors/x', 'GET, PUT, PATCH'], ['POST', '/openapi.json', 'GET']];
        for (const [m, p, allow] of cases) {
            const r = await api(m, p, m === 'GET' || m === 'DELETE' ? undefined : {});
            assertProblem(r, 405);
            assert.equal(r.headers.get('allow'), allow, `${m} ${p}`);
        }
    });

    test('bodies must be application/json: 415, and nothing is created', async () => {
        const before = await listCount('/packs');
        const name = packName();
        const text = JSON.stringify({ name, title: 't', tools: [] });
        for (const ct of ['text/plain', 'application/scim+json', 'application/x-www-form-urlencoded']) {
            const r = await api('POST', '/packs', text, { headers: { 'Content-Type': ct } });
            assertProblem(r, 415, /application\/json/);
        }
        const none = await fetch(`${srv.base}/api/v1/packs`, {
            method: 'POST', body: Buffer.from(text), headers: { Authorization: `Bearer ${adminToken}` },
        });
        assert.equal(none.status, 415);
        await none.text();
        // Parameters of the media type are fine.
        const ok = await api('POST', '/packs', text, { headers: { 'Content-Type': 'Application/JSON; charset=utf-8' } });
        assert.equal(ok.status, 201, ok.text);
        assert.equal(await listCount('/packs'), before + 1);
    });

    test('malformed JSON, a non-object and too deep nesting: 400, nothing created', async () => {
        const before = await listCount('/packs');
        const deep = `${'['.repeat(40)}${']'.repeat(40)}`;
        for (const body of ['{"name": "x",', '[]', '"pack"', `{"name": "x", "tools": ${deep}}`, '', '{"a":1,"a":2}']) {
            const r = await api('POST', '/packs', body);
            assertProblem(r, 400);
        }
        assert.equal(await listCount('/packs'), before);
    });

    test('a body over 1 MiB: 413', async () => {
        const big = JSON.stringify({ name: 'big', title: 'x'.repeat(1024 * 1024 + 10), tools: [] });
        const r = await api('POST', '/packs', big);
        assertProblem(r, 413);
    });
});

/* ---- tokens ---- */

describe('/tokens', () => {
    let user;
    let pack;
    before(async () => {
        user = await createUser(srv);
        const conn = connectorName();
        await putConnector(conn);
        pack = (await createPack(packName(), [{ tool: `${conn}__*`, level: 'write' }])).name;
    });

    test('POST creates a SCIM token that works on /scim/v2, shown once', async () => {
        const r = await api('POST', '/tokens', { kind: 'scim', name: 'okta' });
        assert.equal(r.status, 201, r.text);
        assert.match(r.body.token, /^mdt_scim_[A-Za-z0-9_-]{40,}$/);
        assert.equal(r.body.kind, 'scim');
        assert.equal(r.body.name, 'okta');
        assert.equal(r.body.revoked, false);
        assert.equal(r.body.last_used, null);
        assert.ok(!('user_id' in r.body) && !('pack' in r.body) && !('hash' in r.body));
        assert.equal(r.headers.get('location'), `${srv.base}/api/v1/tokens/${r.body.id}`);
        const s = await srv.scim('GET', '/Users', undefined, { token: r.body.token });
        assert.equal(s.status, 200, s.text);

        const g = await api('GET', `/tokens/${r.body.id}`);
        assert.equal(g.status, 200, g.text);
        assert.ok(!('token' in g.body) && !('hash' in g.body));
        assert.equal(g.body.id, r.body.id);
        const l = await api('GET', '/tokens');
        assert.ok(l.body.items.some((t) => t.id === r.body.id));
        assert.ok(!l.text.includes(r.body.token), 'the list never shows a token');
        assert.ok(l.body.items.every((t) => !('token' in t) && !('hash' in t)));
        assert.ok(!/[0-9a-f]{64}/.test(l.text), 'no hash in the list');
    });

    test('DELETE revokes: 204, the token stops working, GET shows it revoked', async () => {
        const r = await api('POST', '/tokens', { kind: 'scim' });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.name, '');
        const d = await api('DELETE', `/tokens/${r.body.id}`);
        assert.equal(d.status, 204, d.text);
        assert.equal(d.text, '');
        const s = await srv.scim('GET', '/Users', undefined, { token: r.body.token });
        assert.equal(s.status, 401);
        const g = await api('GET', `/tokens/${r.body.id}`);
        assert.equal(g.body.revoked, true);
    });

    test('unknown ids: 404 for GET and DELETE', async () => {
        assertProblem(await api('GET', '/tokens/no-such-token'), 404, /no-such-token/);
        assertProblem(await api('DELETE', '/tokens/no-such-token'), 404);
    });

    test('an agent token names its user (by id or userName) and optionally a pack', async () => {
        const a = await api('POST', '/tokens', { kind: 'agent', name: 'claude', user: user.userName });
        assert.equal(a.status, 201, a.text);
        assert.match(a.body.token, /^mdt_agent_/);
        assert.equal(a.body.user_id, user.id);
        assert.ok(!('pack' in a.body));
        const b = await api('POST', '/tokens', { kind: 'agent', user: user.id, pack });
        assert.equal(b.status, 201, b.text);
        assert.equal(b.body.user_id, user.id);
        assert.equal(b.body.pack, pack);
        const g = await api('GET', `/tokens/${b.body.id}`);
        assert.equal(g.body.pack, pack);
        assert.equal(g.body.user_id, user.id);
    });

    test('invalid creations: 400 naming the problem, and no token is created', async () => {
        const before = await listCount('/tokens');
        const cases = [
            [{}, /kind/],
            [{ kind: 'root' }, /kind/],
            [{ kind: 7 }, /kind/],
            [{ kind: 'scim', name: 5 }, /name/],
            [{ kind: 'scim', name: 'x'.repeat(200) }, /name/],
            [{ kind: 'scim', user: user.id }, /user/],
            [{ kind: 'admin', pack }, /pack/],
            [{ kind: 'agent' }, /user/],
            [{ kind: 'agent', user: 'nobody-at-all' }, /nobody-at-all/],
            [{ kind: 'agent', user: user.id, pack: 'no-such-pack' }, /no-such-pack/],
            [{ kind: 'scim', expires: 'never' }, /expires/],
        ];
        for (const [body, re] of cases) {
            const r = await api('POST', '/tokens', body);
            assertProblem(r, 400, re);
        }
        assert.equal(await listCount('/tokens'), before);
    });
});

/* ---- directory ---- */

describe('/users and /groups', () => {
    let users;
    let group;
    let prefix;
    before(async () => {
        prefix = uniq('dir');
        users = [];
        for (let i = 0; i < 3; i++) {
            users.push(await createUser(srv, { userName: `${prefix}-${i}@example.com`, displayName: `Dir ${i}` }));
        }
        group = await createGroup(srv, { members: [{ value: users[0].id }, { value: users[1].id }] });
    });

    test('GET /users pages and filters with SCIM filters', async () => {
        const all = await api('GET', '/users');
        assert.equal(all.status, 200, all.text);
        assert.ok(all.body.total >= 3);
        assert.equal(all.body.startIndex, 1);
        assert.equal(all.body.count, all.body.items.length);
        const f = await api('GET', `/users?filter=${encodeURIComponent(`userName sw "${prefix}"`)}`);
        assert.equal(f.status, 200, f.text);
        assert.equal(f.body.total, 3);
        assert.deepEqual(f.body.items.map((u) => u.id).sort(), users.map((u) => u.id).sort());
        const item = f.body.items.find((u) => u.id === users[0].id);
        assert.deepEqual(item, { id: users[0].id, userName: users[0].userName, displayName: 'Dir 0', active: true });
        const p = await api('GET', `/users?filter=${encodeURIComponent(`userName sw "${prefix}"`)}&startIndex=2&count=1`);
        assert.equal(p.body.total, 3);
        assert.equal(p.body.startIndex, 2);
        assert.equal(p.body.count, 1);
        assert.equal(p.body.items.length, 1);
        const z = await api('GET', '/users?count=0');
        assert.equal(z.body.items.length, 0);
        assert.ok(z.body.total >= 3);
        const big = await api('GET', '/users?count=5000&startIndex=-3');
        assert.equal(big.status, 200, big.text);
        assert.equal(big.body.startIndex, 1);
    });

    test('bad filters and page parameters: 400', async () => {
        assertProblem(await api('GET', `/users?filter=${encodeURIComponent('userName zz "a"')}`), 400);
        assertProblem(await api('GET', `/users?filter=${encodeURIComponent('nosuchattr eq "a"')}`), 400);
        assertProblem(await api('GET', '/users?startIndex=abc'), 400, /startIndex/);
        assertProblem(await api('GET', '/groups?count=1.5'), 400, /count/);
    });

    test('GET /users/{id} shows the user, its groups and its entitlements; by userName too', async () => {
        const r = await api('GET', `/users/${users[0].id}`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.id, users[0].id);
        assert.equal(r.body.userName, users[0].userName);
        assert.equal(r.body.active, true);
        assert.deepEqual(r.body.groups.map((g) => g.id), [group.id]);
        assert.equal(r.body.groups[0].direct, true);
        assert.deepEqual(r.body.entitlements, []);
        const byName = await api('GET', `/users/${encodeURIComponent(users[0].userName)}`);
        assert.equal(byName.status, 200, byName.text);
        assert.equal(byName.body.id, users[0].id);
        const e = await api('GET', `/users/${users[0].id}/entitlements`);
        assert.equal(e.status, 200, e.text);
        assert.equal(e.body.user.id, users[0].id);
        assert.deepEqual(e.body.tools, []);
    });

    test('unknown users and groups: 404', async () => {
        assertProblem(await api('GET', '/users/no-such-user'), 404);
        assertProblem(await api('GET', '/users/no-such-user/entitlements'), 404);
        assertProblem(await api('GET', '/groups/no-such-group'), 404);
    });

    test('GET /groups pages; GET /groups/{id} counts members and lists its grants', async () => {
        const l = await api('GET', `/groups?filter=${encodeURIComponent(`displayName eq "${group.displayName}"`)}`);
        assert.equal(l.status, 200, l.text);
        assert.deepEqual(l.body.items, [{ id: group.id, displayName: group.displayName, members: 2 }]);
        assert.equal(l.body.total, 1);
        const g = await api('GET', `/groups/${group.id}`);
        assert.equal(g.status, 200, g.text);
        assert.equal(g.body.members, 2);
        assert.deepEqual(g.body.grants, []);
        const conn = connectorName();
        await putConnector(conn);
        const grant = await createGrant({ subject: { type: 'group', id: group.id }, tool: `${conn}__get_thing` });
        const g2 = await api('GET', `/groups/${group.id}`);
        assert.deepEqual(g2.body.grants.map((x) => x.id), [grant.id]);
        const u = await api('GET', `/users/${users[1].id}`);
        assert.deepEqual(u.body.entitlements.map((t) => t.name), [`${conn}__get_thing`]);
        const u3 = await api('GET', `/users/${users[2].id}/entitlements`);
        assert.deepEqual(u3.body.tools, []);
    });
});

/* ---- connectors ---- */

describe('/connectors', () => {
    test('PUT creates (201, Location) and replaces (200); GET shows the tools with full names', async () => {
        const name = connectorName();
        const c = await api('PUT', `/connectors/${name}`, connectorDoc(name));
        assert.equal(c.status, 201, c.text);
        assert.equal(c.headers.get('location'), `${srv.base}/api/v1/connectors/${name}`);
        assert.equal(c.body.name, name);
        assert.deepEqual(c.body.tools.map((t) => t.full_name).sort(),
            [`${name}__create_refund`, `${name}__delete_thing`, `${name}__get_thing`]);
        const r = await api('PUT', `/connectors/${name}`, connectorDoc(name, { title: 'Renamed' }));
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.title, 'Renamed');
        const g = await api('GET', `/connectors/${name}`);
        assert.equal(g.status, 200, g.text);
        assert.equal(g.body.title, 'Renamed');
        const l = await api('GET', '/connectors');
        assert.equal(l.status, 200, l.text);
        assert.ok(l.body.items.some((x) => x.name === name));
    });

    test('a body naming another connector, or an invalid one: 400, nothing changes', async () => {
        const name = connectorName();
        await putConnector(name);
        assertProblem(await api('PUT', `/connectors/${name}`, connectorDoc('other')), 400, /name/);
        assertProblem(await api('PUT', `/connectors/${name}`, connectorDoc(name, { tools: [] })), 400, /tools/);
        assertProblem(await api('PUT', `/connectors/${name}`, connectorDoc(name, { base_url: 'ftp://x' })), 400, /base_url/);
        const g = await api('GET', `/connectors/${name}`);
        assert.equal(g.body.title, `Connector ${name}`);
        assert.equal(g.body.tools.length, 3);
        const fresh = connectorName();
        assertProblem(await api('PUT', `/connectors/${fresh}`, connectorDoc(fresh, { title: '' })), 400);
        assertProblem(await api('GET', `/connectors/${fresh}`), 404);
    });

    test('PATCH sets and clears overrides of base_url and levels', async () => {
        const name = connectorName();
        await putConnector(name);
        const p = await api('PATCH', `/connectors/${name}`, { base_url: 'https://sandbox.example.com', levels: { [`${name}__get_thing`]: 'write' } });
        assert.equal(p.status, 200, p.text);
        assert.equal(p.body.base_url, 'https://sandbox.example.com');
        const t = p.body.tools.find((x) => x.full_name === `${name}__get_thing`);
        assert.equal(t.level, 'write');
        assert.equal(t.defined_level, 'read');
        // A replaced definition keeps the deployment's overrides.
        await putConnector(name, connectorDoc(name, { title: 'Again' }));
        const g = await api('GET', `/connectors/${name}`);
        assert.equal(g.body.base_url, 'https://sandbox.example.com');
        const m = await api('PATCH', `/connectors/${name}`, JSON.stringify({ base_url: null, levels: { [`${name}__get_thing`]: null } }),
            { headers: { 'Content-Type': 'application/merge-patch+json' } });
        assert.equal(m.status, 200, m.text);
        assert.equal(m.body.base_url, 'https://api.example.com');
        assert.equal(m.body.tools.find((x) => x.full_name === `${name}__get_thing`).level, 'read');
    });

    test('PATCH token_url moves the token endpoint of an OAuth 2.0 connector, and null moves it back', async () => {
        const name = connectorName();
        const auth = { type: 'oauth2_client_credentials', token_url: 'https://login.example.com/{credential.tenant}/token', scope: 'read' };
        await putConnector(name, connectorDoc(name, { auth }));
        const moved = 'https://login.example.us/{credential.tenant}/oauth2/token';
        const p = await api('PATCH', `/connectors/${name}`, { token_url: moved });
        assert.equal(p.status, 200, p.text);
        assert.equal(p.body.overrides.token_url, moved);
        assert.deepEqual(p.body.auth, auth, 'the definition is shown as it is');
        // Refused, naming token_url, and nothing changes.
        for (const bad of ['/token', 'https://x/token#f', 'ftp://x/token', 'https://x/{credential.client_secret}/token', 42]) {
            assertProblem(await api('PATCH', `/connectors/${name}`, { token_url: bad, base_url: 'https://sandbox.example.com' }), 400, /token_url/);
        }
        const g = await api('GET', `/connectors/${name}`);
        assert.deepEqual(g.body.overrides, { token_url: moved });
        assert.equal(g.body.base_url, 'https://api.example.com');
        // A replaced definition keeps it; null goes back to the definition's.
        await putConnector(name, connectorDoc(name, { auth, title: 'Again' }));
        assert.equal((await api('GET', `/connectors/${name}`)).body.overrides.token_url, moved);
        const n = await api('PATCH', `/connectors/${name}`, { token_url: null });
        assert.equal(n.status, 200, n.text);
        assert.deepEqual(n.body.overrides, {});
        // A connector without a token endpoint has none to move.
        const plain = connectorName();
        await putConnector(plain);
        assertProblem(await api('PATCH', `/connectors/${plain}`, { token_url: 'https://login.example.com/token' }), 400,
            /no OAuth 2.0 token endpoint/);
    });

    test('bad overrides: 400 and nothing changes; unknown connector: 404', async () => {
        const name = connectorName();
        await putConnector(name);
        assertProblem(await api('PATCH', `/connectors/${name}`, { levels: { [`${name}__nope`]: 'read' } }), 400, /nope/);
        assertProblem(await api('PATCH', `/connectors/${name}`, { levels: { [`${name}__get_thing`]: 'admin' } }), 400);
        assertProblem(await api('PATCH', `/connectors/${name}`, { base_url: 'not a url' }), 400, /base_url/);
        assertProblem(await api('PATCH', `/connectors/${name}`, { title: 'x' }), 400, /title/);
        const g = await api('GET', `/connectors/${name}`);
        assert.equal(g.body.base_url, 'https://api.example.com');
        assert.deepEqual(g.body.overrides, {});
        assertProblem(await api('PATCH', '/connectors/nosuchconnector', { base_url: null }), 404);
        assertProblem(await api('GET', '/connectors/nosuchconnector'), 404);
    });
});

/* ---- packs ---- */

describe('/connectors/{name}/credential', () => {
    test('set, rotate and delete a credential; the secret is never answered, stored or logged', async () => {
        const name = connectorName();
        await putConnector(name);
        assertProblem(await api('GET', `/connectors/${name}/credential`), 404, /no credential/);
        const secret = `sk_test_${uniq('s').replace(/[^a-z0-9]/g, '')}`;
        const set = await api('PUT', `/connectors/${name}/credential`, { token: secret });
        assert.equal(set.status, 200, set.text);
        assert.equal(set.body.connector, name);
        assert.equal(set.body.configured, true);
        assert.deepEqual(set.body.fields, ['token']);
        assert.equal(set.body.set_by, adminId);
        assert.ok(!set.text.includes(secret));
        const got = await api('GET', `/connectors/${name}/credential`);
        assert.equal(got.status, 200, got.text);
        assert.ok(!got.text.includes(secret));
        assert.equal(got.body.kid, set.body.kid);
        // Rotation replaces it; the connector's own view does not show it either.
        const again = await api('PUT', `/connectors/${name}/credential`, { token: `${secret}2` });
        assert.equal(again.status, 200, again.text);
        assert.ok(again.body.version > set.body.version);
        const c = await api('GET', `/connectors/${name}`);
        assert.ok(!c.text.includes(secret));
        // Nothing in the database holds the secret in the clear.
        const dump = await dbContents(srv.dbPath);
        assert.ok(!dump.includes(secret), 'the secret is stored in the clear');
        assert.ok(!srv.stderr().includes(secret), 'the secret was logged');
        const del = await api('DELETE', `/connectors/${name}/credential`);
        assert.equal(del.status, 204, del.text);
        assertProblem(await api('GET', `/connectors/${name}/credential`), 404);
        assertProblem(await api('DELETE', `/connectors/${name}/credential`), 404);
    });

    test('a secret the auth scheme does not take: 400 naming the field, not the value; nothing set', async () => {
        const name = connectorName();
        await putConnector(name);
        const bad = await api('PUT', `/connectors/${name}/credential`, { password: 'hunter2-secret' });
        assertProblem(bad, 400);
        assert.ok(!bad.text.includes('hunter2-secret'));
        assertProblem(await api('PUT', `/connectors/${name}/credential`, { token: '' }), 400);
        assertProblem(await api('PUT', `/connectors/${name}/credential`, '[1]'), 400);
        // A body that is not JSON: the parser's "near ..." would quote the secret.
        const torn = await api('PUT', `/connectors/${name}/credential`, '{"token": "sk_live_torn_secret_0123');
        assertProblem(torn, 400);
        assert.ok(!torn.text.includes('sk_live_torn'), torn.text);
        assertProblem(await api('PUT', `/connectors/${name}/credential`, { token: 'x' }, { headers: { 'Content-Type': 'text/plain' } }), 415);
        assertProblem(await api('GET', `/connectors/${name}/credential`), 404);
        assertProblem(await api('PUT', '/connectors/nosuchconnector/credential', { token: 'x' }), 404);
        assertProblem(await api('POST', `/connectors/${name}/credential`, { token: 'x' }), 405);
    });
});

describe('/packs', () => {
    let conn;
    before(async () => {
        conn = connectorName();
        await putConnector(conn);
    });

    test('POST creates: 201, Location, ETag; a second POST of the name: 409', async () => {
        const name = packName();
        const body = { name, title: 'Support', description: 'For the tests', tools: [{ tool: `${conn}__*`, level: 'read' }] };
        const r = await api('POST', '/packs', body);
        assert.equal(r.status, 201, r.text);
        assert.equal(r.headers.get('location'), `${srv.base}/api/v1/packs/${name}`);
        assert.equal(r.headers.get('etag'), 'W/"1"');
        assert.equal(r.body.version, 1);
        assert.deepEqual(r.body.tools, body.tools);
        assertProblem(await api('POST', '/packs', body), 409, new RegExp(name));
        const g = await api('GET', `/packs/${name}`);
        assert.equal(g.status, 200, g.text);
        assert.equal(g.headers.get('etag'), 'W/"1"');
        const l = await api('GET', '/packs');
        assert.ok(l.body.items.some((p) => p.name === name));
    });

    test('PUT replaces under If-Match; a stale version: 412; a bad one: 400', async () => {
        const name = packName();
        await createPack(name, [{ tool: `${conn}__get_thing`, level: 'read' }]);
        const next = { name, title: 'Two', tools: [{ tool: `${conn}__*`, level: 'write' }] };
        const r = await api('PUT', `/packs/${name}`, next, { headers: { 'If-Match': 'W/"1"' } });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.version, 2);
        assert.equal(r.headers.get('etag'), 'W/"2"');
        assertProblem(await api('PUT', `/packs/${name}`, { ...next, title: 'Three' }, { headers: { 'If-Match': '"1"' } }), 412);
        assertProblem(await api('PUT', `/packs/${name}`, { ...next, title: 'Three' }, { headers: { 'If-Match': 'yesterday' } }), 400, /If-Match/);
        const ok = await api('PUT', `/packs/${name}`, { title: 'Three', tools: next.tools }, { headers: { 'If-Match': '2' } });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.name, name);
        const any = await api('PUT', `/packs/${name}`, { ...next, title: 'Four' });
        assert.equal(any.status, 200, any.text);
        assert.equal(any.body.version, 4);
        const g = await api('GET', `/packs/${name}`);
        assert.equal(g.body.title, 'Four');
    });

    test('invalid packs and a name that differs from the path: 400, nothing changes', async () => {
        const name = packName();
        await createPack(name, [{ tool: `${conn}__get_thing`, level: 'read' }]);
        assertProblem(await api('PUT', `/packs/${name}`, { name: 'other', title: 'x', tools: [] }), 400, /name/);
        assertProblem(await api('PUT', `/packs/${name}`, { title: 'x', tools: [{ tool: 'bad tool', level: 'read' }] }), 400, /tools\[0\]/);
        assertProblem(await api('PUT', `/packs/${name}`, { title: 'x', tools: [{ tool: `${conn}__get_thing`, level: 'root' }] }), 400, /level/);
        assertProblem(await api('PUT', `/packs/${name}`, { title: 'x', tools: [], color: 'red' }), 400, /color/);
        const g = await api('GET', `/packs/${name}`);
        assert.equal(g.body.version, 1);
        assert.equal(g.body.title, `Pack ${name}`);
        const before = await listCount('/packs');
        assertProblem(await api('POST', '/packs', { name: 'Bad Name', title: 'x', tools: [] }), 400, /name/);
        assertProblem(await api('POST', '/packs', { name: packName(), tools: [] }), 400, /title/);
        assert.equal(await listCount('/packs'), before);
    });

    test('DELETE: 204, then 404; unknown packs: 404', async () => {
        const name = packName();
        await createPack(name, []);
        const d = await api('DELETE', `/packs/${name}`);
        assert.equal(d.status, 204, d.text);
        assertProblem(await api('GET', `/packs/${name}`), 404, new RegExp(name));
        assertProblem(await api('DELETE', `/packs/${name}`), 404);
        assertProblem(await api('PUT', `/packs/${name}`, { title: 'x', tools: [] }), 404);
    });

    test('a pack that a grant refers to cannot be deleted', async () => {
        const name = packName();
        await createPack(name, [{ tool: `${conn}__*`, level: 'read' }]);
        const grp = await createGroup(srv);
        const grant = await createGrant({ subject: { type: 'group', id: grp.id }, pack: name });
        assertProblem(await api('DELETE', `/packs/${name}`), 400, new RegExp(grant.id));
        assert.equal((await api('GET', `/packs/${name}`)).status, 200);
        assert.equal((await api('DELETE', `/grants/${grant.id}`)).status, 204);
        assert.equal((await api('DELETE', `/packs/${name}`)).status, 204);
    });
});

/* ---- grants ---- */

describe('/grants', () => {
    let conn;
    let pack;
    let grp;
    let user;
    before(async () => {
        conn = connectorName();
        await putConnector(conn);
        pack = (await createPack(packName(), [{ tool: `${conn}__*`, level: 'write' }])).name;
        user = await createUser(srv);
        grp = await createGroup(srv, { members: [{ value: user.id }] });
    });

    test('POST creates: 201, Location, ETag, created_by the admin token; GET, list, PUT, DELETE', async () => {
        const body = {
            subject: { type: 'group', id: grp.id }, pack, level: 'write',
            conditions: { [`${conn}__create_refund`]: 'amount le 100' }, reason: 'support team',
            expires: new Date(Date.now() + 86400000).toISOString(),
        };
        const r = await api('POST', '/grants', body);
        assert.equal(r.status, 201, r.text);
        const g = r.body;
        assert.equal(r.headers.get('location'), `${srv.base}/api/v1/grants/${g.id}`);
        assert.equal(r.headers.get('etag'), 'W/"1"');
        assert.equal(g.created_by, adminId);
        assert.equal(g.pack, pack);
        assert.deepEqual(g.subject, body.subject);
        assert.deepEqual(g.conditions, body.conditions);

        const got = await api('GET', `/grants/${g.id}`);
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.body, g);
        const all = await api('GET', '/grants');
        assert.ok(all.body.items.some((x) => x.id === g.id));
        const mine = await api('GET', `/grants?subject=${grp.id}`);
        assert.deepEqual(mine.body.items.map((x) => x.id), [g.id]);
        const none = await api('GET', '/grants?subject=nobody');
        assert.deepEqual(none.body.items, []);

        const put = await api('PUT', `/grants/${g.id}`, { subject: body.subject, pack, level: 'read' }, { headers: { 'If-Match': 'W/"1"' } });
        assert.equal(put.status, 200, put.text);
        assert.equal(put.body.level, 'read');
        assert.equal(put.body.version, 2);
        assert.equal(put.body.created_by, adminId);
        assert.ok(!('conditions' in put.body));
        assertProblem(await api('PUT', `/grants/${g.id}`, { subject: body.subject, pack }, { headers: { 'If-Match': 'W/"1"' } }), 412);

        const d = await api('DELETE', `/grants/${g.id}`);
        assert.equal(d.status, 204, d.text);
        assertProblem(await api('GET', `/grants/${g.id}`), 404);
        assertProblem(await api('DELETE', `/grants/${g.id}`), 404);
        assertProblem(await api('PUT', `/grants/${g.id}`, { subject: body.subject, pack }), 404);
    });

    test('invalid grants are refused with a message naming the problem, and nothing is created', async () => {
        const before = await listCount('/grants');
        const subject = { type: 'group', id: grp.id };
        const cases = [
            [{ subject, pack, conditions: { [`${conn}__create_refund`]: 'amount le' } }, new RegExp(`${conn}__create_refund`)],
            [{ subject, pack, conditions: { [`${conn}__create_refund`]: 'amount lx 5' } }, /create_refund.*not a valid filter/],
            [{ subject, tool: `${conn}__get_thing`, conditions: { [`${conn}__delete_thing`]: 'id eq "1"' } }, /delete_thing/],
            [{ subject: { type: 'group', id: 'no-such-group' }, pack }, /no-such-group/],
            [{ subject: { type: 'robot', id: grp.id }, pack }, /subject/],
            [{ subject, pack: 'no-such-pack' }, /no-such-pack/],
            [{ subject, tool: `${conn}__nope` }, /nope/],
            [{ subject, pack, tool: `${conn}__get_thing` }, /exactly one/],
            [{ subject }, /pack/],
            [{ subject, pack, level: 'root' }, /level/],
            [{ subject, pack, expires: '2001-01-01T00:00:00Z' }, /past/],
            [{ subject, pack, expires: 'tomorrow' }, /expires/],
            [{ subject, pack, condition: {} }, /condition/],
        ];
        for (const [body, re] of cases) {
            const r = await api('POST', '/grants', body);
            assertProblem(r, 400, re);
        }
        assert.equal(await listCount('/grants'), before);
    });
});

/* ---- decisions ---- */

describe('POST /decisions', () => {
    let conn;
    let pack;
    before(async () => {
        conn = connectorName();
        await putConnector(conn);
        pack = (await createPack(packName(), [{ tool: `${conn}__*`, level: 'write' }])).name;
    });

    test('allowed through a group, then denied the moment SCIM deactivates the user or removes it from the group', async () => {
        const user = await createUser(srv);
        const group = await createGroup(srv, { members: [{ value: user.id }] });
        const grant = await createGrant({ subject: { type: 'group', id: group.id }, pack });
        const tool = `${conn}__get_thing`;

        const ok = await decide(user.id, tool, { id: '1' });
        assert.equal(ok.allowed, true, JSON.stringify(ok));
        assert.equal(ok.reason, 'allowed');
        assert.equal(ok.user.id, user.id);
        assert.equal(ok.tool, tool);
        assert.equal(ok.level, 'read');
        assert.equal(ok.grant.grant, grant.id);
        assert.equal(ok.grant.subject.id, group.id);
        // By userName, as an admin types it.
        assert.equal((await decide(user.userName, tool)).allowed, true);
        // The level ceiling of the pack: destructive is above write.
        const above = await decide(user.id, `${conn}__delete_thing`);
        assert.equal(above.allowed, false);
        assert.ok(['grants_failed', 'no_grant'].includes(above.reason), above.reason);

        await patchOk(srv, `/Users/${user.id}`, { op: 'replace', path: 'active', value: false });
        const off = await decide(user.id, tool);
        assert.equal(off.allowed, false);
        assert.equal(off.reason, 'user_inactive');

        await patchOk(srv, `/Users/${user.id}`, { op: 'replace', path: 'active', value: true });
        assert.equal((await decide(user.id, tool)).allowed, true);

        await patchOk(srv, `/Groups/${group.id}`, { op: 'remove', path: `members[value eq "${user.id}"]` });
        const gone = await decide(user.id, tool);
        assert.equal(gone.allowed, false);
        assert.equal(gone.reason, 'no_grant');
    });

    test('conditions on arguments decide per call, with the candidates explained', async () => {
        const user = await createUser(srv);
        const refund = `${conn}__create_refund`;
        await createGrant({ subject: { type: 'user', id: user.id }, tool: refund, conditions: { [refund]: 'amount le 100 and currency eq "usd"' } });
        assert.equal((await decide(user.id, refund, { amount: 50, currency: 'usd' })).allowed, true);
        const no = await decide(user.id, refund, { amount: 500, currency: 'usd' });
        assert.equal(no.allowed, false);
        assert.equal(no.reason, 'grants_failed');
        assert.equal(no.candidates.length, 1);
        assert.equal(no.candidates[0].result, 'condition_false');
    });

    test('an unknown user or tool is a denial (200), not an error', async () => {
        const u = await decide('nobody-here', `${conn}__get_thing`);
        assert.equal(u.allowed, false);
        assert.equal(u.reason, 'user_not_found');
        const user = await createUser(srv);
        const t = await decide(user.id, `${conn}__no_such_tool`);
        assert.equal(t.allowed, false);
        assert.equal(t.reason, 'unknown_tool');
        const n = await decide(user.id, `${conn}__get_thing`);
        assert.equal(n.reason, 'no_grant');
    });

    test('missing user or tool, non-object arguments, unknown members: 400', async () => {
        const cases = [
            [{ tool: 'a__b' }, /user/], [{ user: 'x' }, /tool/], [{ user: '', tool: 'a__b' }, /user/],
            [{ user: 5, tool: 'a__b' }, /user/], [{ user: 'x', tool: 'a__b', arguments: [1] }, /arguments/],
            [{ user: 'x', tool: 'a__b', arguments: 'amount=5' }, /arguments/],
            [{ user: 'x', tool: 'a__b', args: {} }, /args/],
        ];
        for (const [body, re] of cases) assertProblem(await api('POST', '/decisions', body), 400, re);
    });
});

/* ---- the audit log (tests/it/audit.test.mjs has the rest) ---- */

describe('audit', () => {
    test('the admin changes above are in the log, readable page by page and one by one, and it verifies', async () => {
        const v = await api('GET', '/audit/verify');
        assert.equal(v.status, 200, v.text);
        assert.equal(v.body.ok, true, v.text);
        const page = await api('GET', '/audit?count=5&filter=type%20eq%20%22admin.change%22');
        assert.equal(page.status, 200, page.text);
        assert.equal(page.body.events.length, 5);
        assert.ok(page.body.events.every((e) => e.type === 'admin.change'));
        const one = await api('GET', `/audit/${page.body.events[0].seq}`);
        assert.equal(one.status, 200, one.text);
        assert.deepEqual(one.body, page.body.events[0]);
        const st = await api('GET', '/audit/status');
        assert.equal(st.status, 200, st.text);
        assert.ok(st.body.writer.stored >= page.body.events[0].seq);
    });
});

/* ---- who could do what, when (tests/it/audit_history.test.mjs tests the answers) ---- */

describe('GET /access-at and /users/{id}/history', () => {
    test('answer in the documented shapes; bad times and tools are 400 problems', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv, { members: [{ value: u.id }] });
        const grant = await createGrant({ subject: { type: 'group', id: g.id }, tool: 'github__get_issue',
            conditions: { github__get_issue: 'repo sw "acme/"' } });
        await new Promise((r) => setTimeout(r, 5));
        const now = new Date().toISOString();
        const a = await api('GET', `/access-at?time=${encodeURIComponent(now)}&tool=github__get_issue`);
        assert.equal(a.status, 200, a.text);
        const mine = a.body.users.find((x) => x.id === u.id);
        assert.ok(mine, a.text);
        assert.deepEqual(mine.grants.map((x) => [x.id, x.condition]), [[grant.id, 'repo sw "acme/"']]);
        const h = await api('GET', `/users/${u.id}/history?count=10`);
        assert.equal(h.status, 200, h.text);
        assert.deepEqual(h.body.items.map((i) => i.change), ['joined', 'created']);
        assertProblem(await api('GET', '/access-at?tool=github__get_issue'), 400, /time is required/);
        assertProblem(await api('GET', `/access-at?time=${encodeURIComponent(now)}&tool=nope__x`), 400,
            /no connector defines the tool nope__x/);
        assertProblem(await api('GET', '/users/nobody-at-all/history'), 404, /no user/);
    });
});

/* ---- what the console needs beyond the resources ---- */

describe('the console: sessions, provisioning, members, connection tests', () => {
    /* The session cookie's name=value from a Set-Cookie answer. */
    const cookieOf = (r) => (r.headers.get('set-cookie') || '').split(';')[0];

    test('sign in with an admin token: a session cookie and a CSRF token that changes need', async () => {
        const bad = await api('POST', '/session', { token: 'mdt_admin_nosuchtoken' }, { token: null });
        assertProblem(bad, 401, /not a valid admin token/);
        assert.equal(bad.headers.get('set-cookie'), null);
        const r = await api('POST', '/session', { token: adminToken }, { token: null });
        assert.equal(r.status, 201, r.text);
        const setCookie = r.headers.get('set-cookie');
        assert.match(setCookie, /^mandate_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
        assert.equal(r.body.admin_token.id, adminId);
        assert.equal(r.body.urls.scim, `${srv.base}/scim/v2`);
        const cookie = cookieOf(r);
        const s = await api('GET', '/session', undefined, { token: null, headers: { Cookie: cookie } });
        assert.equal(s.status, 200, s.text);
        assert.equal(s.body.csrf_token, r.body.csrf_token);
        // Reads need the cookie only; a change needs the CSRF token too.
        const list = await api('GET', '/tokens', undefined, { token: null, headers: { Cookie: cookie } });
        assert.equal(list.status, 200, list.text);
        const before = (await api('GET', '/tokens')).body.items.length;
        const noCsrf = await api('POST', '/tokens', { kind: 'scim', name: 'by-session' }, { token: null, headers: { Cookie: cookie }, unchecked: true });
        assertProblem(noCsrf, 403, /X-CSRF-Token/);
        const wrong = await api('POST', '/tokens', { kind: 'scim', name: 'by-session' },
            { token: null, headers: { Cookie: cookie, 'X-CSRF-Token': `${r.body.csrf_token.slice(0, -1)}A` }, unchecked: true });
        assertProblem(wrong, 403);
        assert.equal((await api('GET', '/tokens')).body.items.length, before, 'refused changes change nothing');
        const ok = await api('POST', '/tokens', { kind: 'scim', name: 'by-session' },
            { token: null, headers: { Cookie: cookie, 'X-CSRF-Token': r.body.csrf_token } });
        assert.equal(ok.status, 201, ok.text);
        // Signing out needs the CSRF token too, then the cookie is worthless.
        const outNoCsrf = await api('DELETE', '/session', undefined, { token: null, headers: { Cookie: cookie }, unchecked: true });
        assertProblem(outNoCsrf, 403);
        const out = await api('DELETE', '/session', undefined, { token: null, headers: { Cookie: cookie, 'X-CSRF-Token': r.body.csrf_token } });
        assert.equal(out.status, 204, out.text);
        assert.match(out.headers.get('set-cookie'), /^mandate_session=; .*Max-Age=0/);
        const after = await api('GET', '/session', undefined, { token: null, headers: { Cookie: cookie } });
        assertProblem(after, 401);
        const gone = await api('GET', '/tokens', undefined, { token: null, headers: { Cookie: cookie } });
        assertProblem(gone, 401);
        assert.ok(!srv.stderr().includes(cookie.split('=')[1]), 'the session cookie is never logged');
        assert.ok(!srv.stderr().includes(r.body.csrf_token), 'the CSRF token is never logged');
    });

    test('revoking the admin token ends its sessions at once', async () => {
        const c = await api('POST', '/tokens', { kind: 'admin', name: 'console-short' });
        assert.equal(c.status, 201, c.text);
        const r = await api('POST', '/session', { token: c.body.token }, { token: null });
        assert.equal(r.status, 201, r.text);
        const cookie = cookieOf(r);
        assert.equal((await api('GET', '/users', undefined, { token: null, headers: { Cookie: cookie } })).status, 200);
        assert.equal((await api('DELETE', `/tokens/${c.body.id}`)).status, 204);
        assertProblem(await api('GET', '/users', undefined, { token: null, headers: { Cookie: cookie } }), 401, /revoked/);
        assertProblem(await api('GET', '/session', undefined, { token: null, headers: { Cookie: cookie } }), 401);
    });

    test('GET /provisioning: the SCIM base URL, tokens, counts and the last SCIM exchanges', async () => {
        const bad = await srv.scim('GET', '/Users', undefined, { token: 'mdt_scim_wrong' });
        assert.equal(bad.status, 401);
        const ok = await srv.scim('GET', '/Groups');
        assert.equal(ok.status, 200);
        const r = await api('GET', '/provisioning');
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.scim_base_url, `${srv.base}/scim/v2`);
        assert.ok(r.body.tokens.every((t) => t.kind === 'scim'));
        assert.ok(r.body.tokens.some((t) => t.name === 'it'));
        assert.equal(typeof r.body.users, 'number');
        assert.equal(r.body.activity.last.method, 'GET');
        assert.equal(r.body.activity.last.path, '/Groups');
        assert.equal(r.body.activity.last.status, 200);
        assert.equal(r.body.activity.last.token.name, 'it');
        const err = r.body.activity.last_error;
        assert.equal(err.status, 401);
        assert.equal(err.token, null);
        assert.match(err.detail, /invalid bearer token/);
        assert.ok(!r.text.includes('mdt_scim_wrong'), 'a presented token is never echoed');
    });

    test('GET /groups/{id}/members: users and nested groups, paged; 404 for an unknown group', async () => {
        const a = await createUser(srv, { displayName: 'Member A' });
        const b = await createUser(srv, { active: false });
        const inner = await createGroup(srv, { members: [{ value: b.id }] });
        const g = await createGroup(srv, { members: [{ value: a.id }, { value: b.id }, { value: inner.id, type: 'Group' }] });
        const r = await api('GET', `/groups/${g.id}/members`);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.total, 3);
        assert.deepEqual(r.body.items.map((m) => [m.id, m.type]), [[a.id, 'User'], [b.id, 'User'], [inner.id, 'Group']]);
        assert.equal(r.body.items[0].userName, a.userName);
        assert.equal(r.body.items[0].active, true);
        assert.equal(r.body.items[1].active, false);
        const p = await api('GET', `/groups/${g.id}/members?startIndex=2&count=1`);
        assert.equal(p.status, 200, p.text);
        assert.deepEqual(p.body.items.map((m) => m.id), [b.id]);
        assert.equal(p.body.total, 3);
        assertProblem(await api('GET', '/groups/no-such-group/members'), 404);
        assertProblem(await api('GET', `/groups/${g.id}/members?count=x`), 400);
    });

    test('POST /connectors/{name}/test calls the upstream with the credential and says what came back', async () => {
        // The upstream is this very server: /api/v1/tokens wants an admin bearer token, so the
        // credential decides the status (200 with the admin token, 401 with another).
        const name = connectorName();
        const doc = connectorDoc(name, { base_url: `${srv.base}/api/v1` });
        doc.tools.unshift({ name: 'tokens', title: 'Tokens', description: 'Lists tokens.', level: 'read',
            input_schema: { type: 'object' }, request: { method: 'GET', path: '/tokens' } });
        await putConnector(name, doc);
        const none = await api('POST', `/connectors/${name}/test`);
        assert.equal(none.status, 200, none.text);
        assert.equal(none.body.ok, false);
        assert.equal(none.body.reached, false);
        assert.match(none.body.message, /No credential is set/);
        assert.deepEqual(none.body.request, { tool: `${name}__tokens`, method: 'GET', path: '/tokens' });
        assert.equal((await api('PUT', `/connectors/${name}/credential`, { token: 'mdt_admin_wrong' })).status, 200);
        const refused = await api('POST', `/connectors/${name}/test`, {});
        assert.equal(refused.status, 200, refused.text);
        assert.equal(refused.body.ok, false);
        assert.equal(refused.body.status, 401);
        assert.match(refused.body.message, /refused the credential/);
        assert.equal((await api('PUT', `/connectors/${name}/credential`, { token: adminToken })).status, 200);
        const ok = await api('POST', `/connectors/${name}/test`);
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.body.ok, true);
        assert.equal(ok.body.status, 200);
        assert.ok(!ok.text.includes(adminToken), 'the credential is never answered');
        assertProblem(await api('POST', `/connectors/${name}/test`, { probe: 1 }), 400, /no parameters/);
        assertProblem(await api('POST', `/connectors/${name}/test`, 'x', { headers: { 'Content-Type': 'text/plain' } }), 415);
        assertProblem(await api('POST', '/connectors/nosuchconnector/test'), 404);
    });
});

/* ---- the document covers what the tests did ---- */

describe('the OpenAPI document against the exchanges above', () => {
    test('every documented operation was exercised with a success status and checked', () => {
        const missing = [];
        for (const route of ROUTES) {
            const statuses = [...(exercised.get(route) || [])];
            if (!statuses.some((s) => s >= 200 && s < 300)) missing.push(`${route} (${statuses.join(', ') || 'never'})`);
        }
        assert.deepEqual(missing, []);
    });
});
