// Helpers for the MCP black-box tests: a mandate with the connector runtime's environment, the
// admin API, raw JSON-RPC over Streamable HTTP (every header under the test's control), one
// call that provisions a user, a group, a grant and an agent token and points connectors at
// the fake upstream, and the official SDK clients of both generations.
//
//   const fake = await startFakeUpstream();
//   const srv = await startMandate();
//   const env = await setupMcp(srv, { fake, pack: 'engineering', connectors: ['github'] });
//   const r = await rpc(env.mcpUrl, request(1, 'tools/list'), { token: env.users[0].token,
//       version: '2025-06-18' });

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { createGroup, createUser, uniq } from './scim.mjs';
import { REPO, request as httpRequest, runCli, startServer } from './server.mjs';

/* The protocol revisions mandate speaks; the last one is stateless (no initialize). */
export const VERSIONS = ['2025-06-18', '2025-11-25', '2026-07-28'];
export const MODERN = '2026-07-28';
export const LEGACY = ['2025-06-18', '2025-11-25'];

/* JSON-RPC 2.0 error codes (section 5.1) and the MCP ones used here. */
export const ERR = {
    PARSE: -32700,
    INVALID_REQUEST: -32600,
    METHOD_NOT_FOUND: -32601,
    INVALID_PARAMS: -32602,
    INTERNAL: -32603,
    HEADER_MISMATCH: -32020, // 2026-07-28, SEP-2243
};

const CLIENT_INFO = { name: 'mandate-it', version: '1.0.0' };

/* A fresh vault key: 32 random bytes as 64 hex digits, what MANDATE_VAULT_KEY takes. */
export function vaultKey() {
    return randomBytes(32).toString('hex');
}

/*
 * startServer with the connector runtime's environment: a vault key of its own
 * (MANDATE_VAULT_KEY, also srv.vaultKey) and MANDATE_UPSTREAM_HTTP=1, so that connectors may
 * call the plain-http fake upstream. opts go to startServer (opts.env is added).
 */
export async function startMandate(opts = {}) {
    const key = opts.vaultKey || vaultKey();
    const srv = await startServer({
        ...opts,
        env: { MANDATE_VAULT_KEY: key, MANDATE_UPSTREAM_HTTP: '1', ...(opts.env || {}) },
    });
    srv.vaultKey = key;
    return srv;
}

/* ---- the admin API ---- */

/* Creates an admin token in srv's database with the CLI and returns it. */
export async function createAdminToken(srv, name = 'it-mcp-admin') {
    const r = await runCli(['token', 'create', '--kind', 'admin', '--name', name, '--db', srv.dbPath]);
    if (r.code !== 0) throw new Error(`mandate token create --kind admin exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
}

/*
 * A function api(method, path, body, o) for /api/v1 with the admin token: {status, headers,
 * body, text}. A body that is not a string goes as application/json. o.token: another token
 * (null for none); o.headers are added.
 */
export function adminApi(srv, token) {
    return (method, path, body, o = {}) => {
        const headers = { ...(o.headers || {}) };
        const tok = 'token' in o ? o.token : token;
        if (tok) headers.Authorization = `Bearer ${tok}`;
        if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
            headers['Content-Type'] = 'application/json';
        }
        return httpRequest(method, `${srv.base}/api/v1${path}`, body, { headers });
    };
}

/* Calls api and asserts a 2xx status; returns the parsed body. */
export async function apiOk(api, method, path, body) {
    const r = await api(method, path, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} /api/v1${path}: ${r.status} ${r.text}`);
    return r.body;
}

/* An agent token for user (SCIM id or userName), optionally bound to a pack: {id, token}. */
export async function createAgentToken(api, user, { pack, name } = {}) {
    const body = { kind: 'agent', name: name || uniq('agent'), user };
    if (pack) body.pack = pack;
    const t = await apiOk(api, 'POST', '/tokens', body);
    assert.match(t.token, /^mdt_agent_/, JSON.stringify(t));
    return { id: t.id, token: t.token };
}

/*
 * Points a catalog connector at the fake upstream (PATCH base_url to fake.baseUrls[name]) and
 * stores the credential the fake accepts (PUT .../credential with fake.credentials[name], or
 * credential when given). Checks that the credential answer carries no secret.
 */
export async function pointAtFake(api, fake, name, credential) {
    const base = fake.baseUrls[name];
    assert.ok(base, `the fake upstream has no route for connector ${name}`);
    await apiOk(api, 'PATCH', `/connectors/${name}`, { base_url: base });
    const secret = credential || fake.credentials[name];
    const r = await api('PUT', `/connectors/${name}/credential`, secret);
    assert.equal(r.status, 200, `PUT /connectors/${name}/credential: ${r.status} ${r.text}`);
    for (const v of Object.values(secret)) {
        assert.ok(!r.text.includes(String(v)), `the credential answer shows the secret: ${r.text}`);
    }
    return r.body;
}

/*
 * Provisions everything an MCP test needs on srv:
 *   - an admin token (or opts.adminToken) and the api function;
 *   - opts.users (default 1) users through SCIM, all members of one new SCIM group;
 *   - a grant of opts.pack (default "engineering") to that group through the admin API;
 *   - one agent token per user (bound to opts.tokenPack when given);
 *   - each connector of opts.connectors pointed at opts.fake with the fake's credential.
 * Returns {admin, api, group, grant, users: [{user, token, tokenId}], mcpUrl, packUrl(name)}.
 */
export async function setupMcp(srv, opts = {}) {
    const admin = opts.adminToken || await createAdminToken(srv);
    const api = adminApi(srv, admin);
    const users = [];
    for (let i = 0; i < (opts.users || 1); i += 1) users.push(await createUser(srv));
    const group = await createGroup(srv, { members: users.map((u) => ({ value: u.id })) });
    const pack = opts.pack || 'engineering';
    const grant = await apiOk(api, 'POST', '/grants', { subject: { type: 'group', id: group.id }, pack });
    const out = [];
    for (const user of users) {
        const t = await createAgentToken(api, user.id, { pack: opts.tokenPack });
        out.push({ user, token: t.token, tokenId: t.id });
    }
    for (const c of opts.connectors || []) await pointAtFake(api, opts.fake, c);
    return {
        admin,
        api,
        group,
        grant,
        pack,
        users: out,
        mcpUrl: `${srv.base}/mcp`,
        packUrl: (name) => `${srv.base}/mcp/packs/${encodeURIComponent(name)}`,
    };
}

/* ---- raw JSON-RPC over Streamable HTTP ---- */

/*
 * The per-request _meta envelope of 2026-07-28 (protocol version, client info, client
 * capabilities), with extra keys added.
 */
export function meta(version = MODERN, extra = {}) {
    return {
        'io.modelcontextprotocol/protocolVersion': version,
        'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
        'io.modelcontextprotocol/clientCapabilities': {},
        ...extra,
    };
}

/*
 * A JSON-RPC request object. With version 2026-07-28 (or any modern revision) params get the
 * _meta envelope unless they have _meta already. id null makes a notification (no id).
 */
export function request(id, method, params, version) {
    const msg = { jsonrpc: '2.0' };
    if (id !== null && id !== undefined) msg.id = id;
    msg.method = method;
    let p = params;
    if (version && version >= MODERN) p = { ...(params || {}), _meta: (params && params._meta) || meta(version) };
    if (p !== undefined) msg.params = p;
    return msg;
}

/* The value of the Mcp-Name header for a message (SEP-2243): params.name or params.uri. */
function mcpName(msg) {
    if (!msg || Array.isArray(msg) || !msg.params) return undefined;
    if (msg.method === 'tools/call' || msg.method === 'prompts/get') return msg.params.name;
    if (msg.method === 'resources/read') return msg.params.uri;
    return undefined;
}

/*
 * Reads JSON-RPC messages from a text/event-stream body: the data of each event, parsed.
 */
export function parseSse(text) {
    const out = [];
    for (const block of text.split(/\r?\n\r?\n/)) {
        const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.replace(/^data: ?/, '')).join('\n');
        if (data) out.push(JSON.parse(data));
    }
    return out;
}

/*
 * POSTs one JSON-RPC message (an object, an array for a batch, or a raw string) to an MCP
 * endpoint and reads the whole answer: {status, headers, body, text, messages}. body is the
 * parsed JSON (or, for an SSE answer, the last message), messages every message received.
 *
 * o.token: the bearer token (none when absent); o.version: sent as MCP-Protocol-Version, and
 * for 2026-07-28 also Mcp-Method / Mcp-Name derived from the message; o.sessionId:
 * Mcp-Session-Id; o.headers are set last (a null value removes a header); o.method another
 * HTTP method; o.contentType / o.accept replace the defaults (application/json; both media
 * types).
 */
export async function rpc(url, msg, o = {}) {
    const headers = {
        'Content-Type': o.contentType || 'application/json',
        Accept: o.accept || 'application/json, text/event-stream',
    };
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    if (o.version) headers['MCP-Protocol-Version'] = o.version;
    if (o.sessionId) headers['Mcp-Session-Id'] = o.sessionId;
    if (o.version && o.version >= MODERN && msg && typeof msg === 'object' && !Array.isArray(msg)) {
        headers['Mcp-Method'] = msg.method;
        const name = mcpName(msg);
        if (name !== undefined) headers['Mcp-Name'] = name;
    }
    for (const [k, v] of Object.entries(o.headers || {})) {
        for (const h of Object.keys(headers)) if (h.toLowerCase() === k.toLowerCase()) delete headers[h];
        if (v !== null && v !== undefined) headers[k] = v;
    }
    const method = o.method || 'POST';
    const body = method === 'GET' || method === 'DELETE' || msg === undefined ? undefined
        : (typeof msg === 'string' ? msg : JSON.stringify(msg));
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    const ct = (res.headers.get('content-type') || '').toLowerCase();
    let messages = [];
    let parsed = null;
    try {
        if (ct.startsWith('text/event-stream')) {
            messages = parseSse(text);
            parsed = messages.length ? messages[messages.length - 1] : null;
        } else if (text.length > 0) {
            parsed = JSON.parse(text);
            messages = Array.isArray(parsed) ? parsed : [parsed];
        }
    } catch {
        parsed = null;
    }
    return { status: res.status, headers: res.headers, body: parsed, text, messages };
}

/*
 * The 2025 handshake: initialize with version, then notifications/initialized. Returns
 * {result, sessionId (or undefined), status}; asserts both steps succeed.
 */
export async function initialize(url, token, version = '2025-11-25', o = {}) {
    const r = await rpc(url, request(1, 'initialize', {
        protocolVersion: version,
        capabilities: {},
        clientInfo: CLIENT_INFO,
    }), { token, ...o });
    assert.equal(r.status, 200, `initialize: ${r.status} ${r.text}`);
    assert.ok(r.body && r.body.result, `initialize: ${r.text}`);
    const sessionId = r.headers.get('mcp-session-id') || undefined;
    const n = await rpc(url, request(null, 'notifications/initialized'),
        { token, version: r.body.result.protocolVersion, sessionId, ...o });
    assert.equal(n.status, 202, `notifications/initialized: ${n.status} ${n.text}`);
    return { result: r.body.result, sessionId, status: r.status };
}

/*
 * One request on version, the way a client of that revision sends it: for the 2025 revisions
 * after initialize (sessionId from it, if any), for 2026-07-28 alone with its _meta and
 * headers. Returns rpc's answer.
 */
export function call(url, token, version, id, method, params, o = {}) {
    return rpc(url, request(id, method, params, version), { token, version, ...o });
}

/* All tool names of a tools/list result set, following nextCursor through list(cursor). */
export async function allTools(list) {
    const tools = [];
    let cursor;
    for (let i = 0; i < 1000; i += 1) {
        const page = await list(cursor);
        tools.push(...page.tools);
        if (!page.nextCursor) return tools;
        cursor = page.nextCursor;
    }
    throw new Error('tools/list: more than 1000 pages');
}

/* ---- the official SDK clients ---- */

async function importSdk(spec) {
    try {
        return await import(spec);
    } catch (err) {
        throw new Error(`cannot load ${spec} (${err.message}); install the black-box tests' ` +
            'dependencies: (cd tests/it && npm ci), which scripts/it.sh does');
    }
}

/*
 * Connects the 1.x SDK client (@modelcontextprotocol/sdk: initialize handshake, 2025
 * revisions) to url with the bearer token. opts.protocolVersion pins the version the client
 * offers (the SDK's latest by default). Returns {client, transport, close()}.
 */
export async function connectSdk1(url, token, opts = {}) {
    const { Client } = await importSdk('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await importSdk('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'mandate-it-sdk1', version: '1.0.0' }, { capabilities: {} });
    if (opts.protocolVersion) {
        // The 1.x client offers LATEST_PROTOCOL_VERSION; pin by rewriting the outgoing
        // initialize, which it does not otherwise allow.
        const orig = client.request.bind(client);
        client.request = (req, schema, ro) => orig(req.method === 'initialize'
            ? { ...req, params: { ...req.params, protocolVersion: opts.protocolVersion } } : req, schema, ro);
    }
    const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    return { client, transport, close: () => client.close() };
}

/*
 * Connects the 2.x client (@modelcontextprotocol/client) to url with the bearer token, pinned
 * to opts.version (default 2026-07-28: server/discover, no initialize); opts.mode 'legacy' or
 * 'auto' instead. Returns {client, transport, close()}.
 */
export async function connectSdk2(url, token, opts = {}) {
    const { Client, StreamableHTTPClientTransport } = await importSdk('@modelcontextprotocol/client');
    const mode = opts.mode || { pin: opts.version || MODERN };
    const client = new Client({ name: 'mandate-it-sdk2', version: '1.0.0' }, {
        capabilities: {},
        versionNegotiation: { mode },
    });
    const transport = new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    return { client, transport, close: () => client.close() };
}

/* The HTTP status an SDK error carries (1.x StreamableHTTPError.code, 2.x SdkHttpError.status). */
export function httpStatusOf(err) {
    if (!err) return undefined;
    if (typeof err.status === 'number') return err.status;
    if (err.data && typeof err.data.status === 'number') return err.data.status;
    if (/StreamableHTTPError/.test(err.constructor && err.constructor.name) && typeof err.code === 'number') return err.code;
    const m = /\(HTTP (\d{3})\)|HTTP (\d{3})/.exec(err.message || '');
    return m ? Number(m[1] || m[2]) : undefined;
}

/* ---- the shipped catalog, to compute what a pack must offer ---- */

const LEVELS = ['read', 'write', 'destructive'];

/* Every tool of catalog/connectors as {name: "connector__tool", level, tool, connector}. */
export function catalogTools() {
    const dir = path.join(REPO, 'catalog', 'connectors');
    const out = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
        const c = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
        for (const t of c.tools) out.push({ name: `${c.name}__${t.name}`, level: t.level, tool: t, connector: c });
    }
    return out;
}

/*
 * The full names of the catalog tools that pack (catalog/packs/<pack>.json) offers at the
 * tools' defined levels: a tool is in when an entry names it, or its connector with "__*",
 * and its level is at most that entry's ceiling (docs/connectors.md).
 */
export function packToolNames(pack) {
    const p = JSON.parse(fs.readFileSync(path.join(REPO, 'catalog', 'packs', `${pack}.json`), 'utf8'));
    const names = new Set();
    for (const t of catalogTools()) {
        for (const e of p.tools) {
            const matches = e.tool === t.name || (e.tool.endsWith('__*') && t.name.startsWith(e.tool.slice(0, -1)));
            if (matches && LEVELS.indexOf(t.level) <= LEVELS.indexOf(e.level)) names.add(t.name);
        }
    }
    return [...names].sort();
}

/* ---- raw HTTP, connectors of a test's own, and the server process (added for mcp_protocol
 * and mcp_load) ---- */

/*
 * One HTTP request with nothing added: exactly the headers given (node adds Host, and
 * Content-Length for a body; no Content-Type, no Accept, no User-Agent) and the body's bytes
 * as given (a string is sent as UTF-8, a Buffer as is). Its own connection (no keep-alive
 * agent), so that a thousand of them are a thousand connections. A Transfer-Encoding: chunked
 * header sends the body chunked, without Content-Length. Resolves to {status, headers
 * (names lower-cased), text, body (parsed JSON or null), bytes (the body as received, a
 * Buffer)}; o.timeout (ms, default 30000) rejects.
 */
export function rawRequest(url, { method = 'POST', headers = {}, body, timeout = 30000 } = {}) {
    return new Promise((resolve, reject) => {
        const u = new URL(url);
        const payload = body === undefined || body === null ? null
            : (Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'));
        const h = { ...headers };
        // A Transfer-Encoding given by the caller (chunked) replaces the Content-Length.
        if (payload && !Object.keys(h).some((k) => ['content-length', 'transfer-encoding'].includes(k.toLowerCase()))) {
            h['Content-Length'] = String(payload.length);
        }
        const req = http.request({
            host: u.hostname,
            port: u.port,
            path: u.pathname + u.search,
            method,
            headers: h,
            agent: false,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
                clearTimeout(timer);
                const bytes = Buffer.concat(chunks);
                const text = bytes.toString('utf8');
                let parsed = null;
                try {
                    parsed = text.length ? JSON.parse(text) : null;
                } catch {
                    parsed = null;
                }
                resolve({ status: res.statusCode, headers: res.headers, text, body: parsed, bytes });
            });
        });
        const timer = setTimeout(() => req.destroy(new Error(`${method} ${url}: no answer in ${timeout} ms`)), timeout);
        req.on('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
        if (payload) {
            // Chunked: the body in pieces of at most 64 KiB, as a streaming client sends it.
            for (let i = 0; i < payload.length; i += 65536) req.write(payload.subarray(i, i + 65536));
        }
        req.end();
    });
}

/* A connector name of a test's own: [a-z0-9], starting with a letter, unique per run. */
export function testConnectorName(prefix = 'c') {
    return `${prefix}${uniq('').replace(/[^a-z0-9]/g, '')}`.slice(0, 30);
}

/*
 * One tool of a connector document (docs/connectors.md): name, level, request (default GET
 * /name), and an input schema of properties (each {type, ...}, described), required, and no
 * other arguments unless o.open.
 */
export function toolDoc(name, level, { request: req, properties = {}, required = [], open = false } = {}) {
    const props = {};
    for (const [k, v] of Object.entries(properties)) props[k] = { description: `The ${k}.`, ...v };
    const schema = { type: 'object', properties: props };
    if (required.length) schema.required = required;
    if (!open) schema.additionalProperties = false;
    return {
        name,
        title: `Tool ${name}`,
        description: `Does ${name} for the MCP tests.`,
        level,
        input_schema: schema,
        request: req || { method: level === 'read' ? 'GET' : 'POST', path: `/${name}` },
    };
}

/*
 * PUTs a connector of the test's own through the admin API (201 or 200 asserted) with
 * base_url, auth (default none) and tools; returns the stored connector.
 */
export async function putConnector(api, name, { baseUrl, auth = { type: 'none' }, tools, headers } = {}) {
    const doc = {
        name,
        title: `Connector ${name}`,
        description: 'A connector made by the MCP black-box tests.',
        base_url: baseUrl,
        auth,
        tools,
    };
    if (headers) doc.headers = headers;
    const r = await api('PUT', `/connectors/${name}`, doc);
    assert.ok(r.status === 201 || r.status === 200, `PUT /connectors/${name}: ${r.status} ${r.text}`);
    return r.body;
}

/*
 * What /proc says of a process: {threads (entries of /proc/PID/task), vmRssKb, vmHwmKb,
 * fds (entries of /proc/PID/fd, or null when unreadable), fdSoft, fdHard (its "Max open
 * files")}.
 */
export function procStats(pid) {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => {
        const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
        return m ? Number(m[1]) : null;
    };
    let fds = null;
    try {
        fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    } catch {
        fds = null;
    }
    let fdSoft = null;
    let fdHard = null;
    try {
        const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
        if (m) {
            fdSoft = m[1] === 'unlimited' ? Infinity : Number(m[1]);
            fdHard = m[2] === 'unlimited' ? Infinity : Number(m[2]);
        }
    } catch {
        /* no limits file */
    }
    return {
        threads: fs.readdirSync(`/proc/${pid}/task`).length,
        vmRssKb: kb('VmRSS'),
        vmHwmKb: kb('VmHWM'),
        fds,
        fdSoft,
        fdHard,
    };
}
