// A fake of the Datadog API (v1 and v2) for the catalog's datadog tools: log search, monitors,
// metric queries and muting a monitor.
//
// What it checks, as Datadog documents it (docs.datadoghq.com/api/latest/):
//   - Two headers on every call, DD-API-KEY and DD-APPLICATION-KEY ("Authentication"); a
//     missing or wrong key is 403 {"errors": ["Forbidden"]}.
//   - POST /api/v2/logs/events/search ("Logs: Search logs"): a JSON body; filter.from and
//     filter.to as date math, ISO 8601 or epoch milliseconds; page.limit at most 1000; the
//     answer {"data": [{"id", "type": "log", "attributes": {...}}], "meta": {"page": {"after"}},
//     "links": {"next"}}. Errors there are JSON:API {"errors": [{"status", "title", "detail"}]}.
//   - GET /api/v1/monitor and /api/v1/monitor/{id} ("Monitors: Get all monitor details",
//     "Get a monitor's details"); an unknown id is 404 {"errors": ["Monitor not found"]}.
//   - GET /api/v1/query ("Metrics: Query timeseries points"): from, to (seconds) and query are
//     required; the answer's pointlist holds [milliseconds, value] pairs.
//   - POST /api/v1/monitor/{id}/mute ("Monitors: Mute a monitor"), scope and end in the query;
//     the answer is the monitor with options.silenced {scope: end}.
// v1 errors are {"errors": ["message", ...]} ("Error response object" in each endpoint).

import assert from 'node:assert/strict';

import { jsonBody, queryOf, send } from './lib.mjs';

export const connector = 'datadog';

const API_KEY = 'fakecontractddapikey0123456789ab';
const APP_KEY = 'fakecontractddappkey0123456789abcdef0123';
export const credential = { 'DD-API-KEY': API_KEY, 'DD-APPLICATION-KEY': APP_KEY };

export function seed() {
    const monitor = (id, name, state, tags) => ({
        id, name, type: 'query alert', query: `avg(last_5m):avg:trace.http.request.errors{service:${tags[0].split(':')[1]}} > 5`,
        message: 'Errors are high @pagerduty-checkout', tags, overall_state: state, priority: 2, multi: false,
        options: { thresholds: { critical: 5 }, notify_no_data: false, silenced: {} },
        created: '2024-05-01T10:00:00.000000+00:00', modified: '2024-06-01T10:00:00.000000+00:00', creator: { email: 'sre@example.com', name: 'SRE' },
    });
    return {
        monitors: [
            monitor(12345678, 'Checkout error rate', 'Alert', ['service:checkout', 'team:payments']),
            monitor(12345679, 'Search latency', 'OK', ['service:search', 'team:discovery']),
        ],
        logs: [
            { id: 'AQAAAZBcr0', attributes: { timestamp: '2024-06-03T10:00:01.000Z', status: 'error', service: 'checkout', host: 'web-01', message: 'payment gateway timeout', tags: ['env:prod'], attributes: { http: { status_code: 504 } } } },
            { id: 'AQAAAZBcr1', attributes: { timestamp: '2024-06-03T10:00:00.000Z', status: 'error', service: 'checkout', host: 'web-02', message: 'payment gateway timeout', tags: ['env:prod'], attributes: { http: { status_code: 504 } } } },
            { id: 'AQAAAZBcr2', attributes: { timestamp: '2024-06-03T09:59:00.000Z', status: 'info', service: 'search', host: 'web-03', message: 'reindex done', tags: ['env:prod'], attributes: {} } },
        ],
    };
}

/* Datadog's date math ("now", "now-15m"), ISO 8601, or epoch milliseconds as a string. */
function validTime(v) {
    return v === undefined || /^now(-\d+[smhdw])?$/.test(v) || /^\d{13}$/.test(v) || !Number.isNaN(Date.parse(v));
}

/* The log query subset the fake understands: space-separated key:value terms, all required. */
function logMatches(log, query) {
    for (const term of (query || '*').split(/\s+/).filter((t) => t && t !== '*')) {
        const [k, v] = term.split(':');
        const a = log.attributes;
        if (k === 'service' && a.service !== v) return false;
        if (k === 'status' && a.status !== v) return false;
        if (k === 'host' && a.host !== v) return false;
    }
    return true;
}

function searchLogs(fake, rec, res) {
    const jsonErr = { errors: [{ status: '400', title: 'Bad Request', detail: 'invalid JSON body' }] };
    const b = jsonBody(rec, res, jsonErr);
    if (!b) return;
    const f = b.filter || {};
    for (const k of ['from', 'to']) {
        if (!validTime(f[k]))
            return send(res, 400, { errors: [{ status: '400', title: 'Bad Request', detail: `invalid ${k} time: ${f[k]}` }] });
    }
    const limit = (b.page && b.page.limit) || 10;
    if (limit > 1000)
        return send(res, 400, { errors: [{ status: '400', title: 'Bad Request', detail: 'page[limit] must be at most 1000' }] });
    let logs = fake.data.logs.filter((l) => logMatches(l, f.query));
    if (b.sort === 'timestamp') logs = [...logs].reverse();
    const start = b.page && b.page.cursor ? Number(Buffer.from(b.page.cursor, 'base64').toString()) : 0;
    const page = logs.slice(start, start + limit);
    const out = {
        data: page.map((l) => ({ id: l.id, type: 'log', attributes: l.attributes })),
        meta: { elapsed: 12, request_id: 'pddv1ChZ', status: 'done', page: {} },
        links: {},
    };
    if (start + limit < logs.length) {
        const after = Buffer.from(String(start + limit)).toString('base64');
        out.meta.page.after = after;
        out.links.next = `${fake.url}/api/v2/logs/events?page[cursor]=${after}`;
    }
    send(res, 200, out);
}

function listMonitors(fake, rec, res) {
    const q = queryOf(rec);
    let list = fake.data.monitors;
    if (q.name) list = list.filter((m) => m.name.includes(q.name));
    if (q.monitor_tags) list = list.filter((m) => q.monitor_tags.split(',').every((t) => m.tags.includes(t)));
    if (q.page !== undefined) {
        const size = Number(q.page_size || 100);
        list = list.slice(Number(q.page) * size, (Number(q.page) + 1) * size);
    }
    send(res, 200, list);
}

function queryMetrics(fake, rec, res) {
    const q = queryOf(rec);
    for (const p of ['from', 'to', 'query']) {
        if (!q[p]) return send(res, 400, { errors: [`The value provided for parameter '${p}' is invalid`] });
    }
    const from = Number(q.from);
    const to = Number(q.to);
    if (!Number.isInteger(from) || !Number.isInteger(to) || from >= to)
        return send(res, 400, { errors: ['Invalid time range: from must be before to, in seconds'] });
    const m = /^(\w+):([\w.]+)\{([^}]*)\}/.exec(q.query);
    if (!m) return send(res, 400, { errors: [`Error parsing query: unable to parse ${q.query}`] });
    const step = Math.max(60, Math.floor((to - from) / 4));
    const pointlist = [];
    for (let t = from; t < to; t += step) pointlist.push([t * 1000, 0.25 + pointlist.length / 10]);
    send(res, 200, {
        status: 'ok', res_type: 'time_series', resp_version: 1, query: q.query, from_date: from * 1000, to_date: to * 1000,
        series: [{ metric: m[2], display_name: m[2], aggr: m[1], scope: m[3], expression: q.query, unit: null,
            pointlist, start: from * 1000, end: to * 1000, interval: step, length: pointlist.length, tag_set: [], query_index: 0 }],
        message: '', group_by: [],
    });
}

export function handle(fake, rec, res) {
    if (rec.headers['dd-api-key'] !== API_KEY || rec.headers['dd-application-key'] !== APP_KEY)
        return send(res, 403, { errors: ['Forbidden'] });
    if (rec.method === 'POST' && rec.pathname === '/api/v2/logs/events/search') return searchLogs(fake, rec, res);
    if (rec.method === 'GET' && rec.pathname === '/api/v1/monitor') return listMonitors(fake, rec, res);
    if (rec.method === 'GET' && rec.pathname === '/api/v1/query') return queryMetrics(fake, rec, res);
    const m = /^\/api\/v1\/monitor\/(\d+)(\/mute)?$/.exec(rec.pathname);
    if (!m) return send(res, 404, { errors: ['Not found'] });
    const mon = fake.data.monitors.find((x) => x.id === Number(m[1]));
    if (!mon) return send(res, 404, { errors: ['Monitor not found'] });
    if (!m[2] && rec.method === 'GET') return send(res, 200, mon);
    if (m[2] && rec.method === 'POST') {
        const q = queryOf(rec);
        if (q.end !== undefined && !/^\d+$/.test(q.end)) return send(res, 400, { errors: ["Invalid value for 'end'"] });
        mon.options.silenced = { [q.scope || '*']: q.end === undefined ? null : Number(q.end) };
        return send(res, 200, mon);
    }
    send(res, 405, { errors: ['Method Not Allowed'] });
}

/* ---- the contract cases ---- */

function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers['dd-api-key'], API_KEY);
    assert.equal(rec.headers['dd-application-key'], APP_KEY);
    assert.equal(rec.headers.accept, 'application/json');
    // The keys go in their own headers, never as a bearer token.
    assert.equal(rec.headers.authorization, undefined);
}

export const cases = {
    search_logs: {
        args: { filter: { query: 'service:checkout status:error', from: 'now-15m', to: 'now' }, sort: '-timestamp', page: { limit: 1 } },
        check(rec, res) {
            common(rec, 'POST', '/api/v2/logs/events/search');
            assert.match(rec.headers['content-type'], /^application\/json\b/);
            assert.deepEqual(JSON.parse(rec.body), { filter: { query: 'service:checkout status:error', from: 'now-15m', to: 'now' }, sort: '-timestamp', page: { limit: 1 } });
            const r = res.structuredContent;
            assert.deepEqual(r.data.map((d) => d.id), ['AQAAAZBcr0']);
            assert.equal(r.data[0].attributes.message, 'payment gateway timeout');
            assert.equal(typeof r.meta.page.after, 'string');
        },
    },
    list_monitors: {
        args: { monitor_tags: 'team:payments', group_states: 'alert', with_downtimes: false },
        check(rec, res) {
            common(rec, 'GET', '/api/v1/monitor');
            assert.deepEqual(queryOf(rec), { monitor_tags: 'team:payments', group_states: 'alert', with_downtimes: 'false' });
            assert.deepEqual(res.structuredContent.result.map((m) => m.id), [12345678]);
        },
    },
    get_monitor: {
        args: { monitor_id: 12345678, group_states: 'all' },
        check(rec, res) {
            common(rec, 'GET', '/api/v1/monitor/12345678');
            assert.deepEqual(queryOf(rec), { group_states: 'all' });
            assert.equal(res.structuredContent.overall_state, 'Alert');
        },
    },
    query_metrics: {
        args: { query: 'avg:system.cpu.user{service:checkout}', from: 1717400000, to: 1717403600 },
        check(rec, res) {
            common(rec, 'GET', '/api/v1/query');
            assert.deepEqual(queryOf(rec), { from: '1717400000', to: '1717403600', query: 'avg:system.cpu.user{service:checkout}' });
            const s = res.structuredContent.series[0];
            assert.equal(s.metric, 'system.cpu.user');
            // Points are [milliseconds, value], although from and to were seconds.
            assert.equal(s.pointlist[0][0], 1717400000 * 1000);
        },
    },
    mute_monitor: {
        args: { monitor_id: 12345679, scope: 'host:web-03', end: 1717407200 },
        check(rec, res, fake) {
            common(rec, 'POST', '/api/v1/monitor/12345679/mute');
            assert.deepEqual(queryOf(rec), { scope: 'host:web-03', end: '1717407200' });
            assert.equal(rec.body, '');
            assert.deepEqual(res.structuredContent.options.silenced, { 'host:web-03': 1717407200 });
            assert.deepEqual(fake.data.monitors[1].options.silenced, { 'host:web-03': 1717407200 });
        },
    },
};

export const errors = [
    { tool: 'get_monitor', args: { monitor_id: 1 }, match: /^Datadog API error: HTTP 404: Monitor not found$/ },
    {
        tool: 'search_logs', args: { filter: { query: '*', from: 'yesterday' } },
        match: /^Datadog API error: HTTP 400: Bad Request: invalid from time: yesterday$/,
    },
    {
        tool: 'query_metrics', args: { query: 'avg:system.cpu.user{*}', from: 1717403600, to: 1717400000 },
        match: /^Datadog API error: HTTP 400: Invalid time range: from must be before to, in seconds$/,
    },
];
