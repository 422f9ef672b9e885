// A fake of the PagerDuty REST API v2 for the catalog's pagerduty tools: incidents (list, get,
// open, acknowledge, resolve), their notes, and on-call entries.
//
// What it checks, as PagerDuty documents it (developer.pagerduty.com, REST API v2; the same
// text is in github.com/PagerDuty/developer-docs docs/REST-API/):
//   - "Authorization: Token token=<key>", exactly ("Authentication": any other format is 401),
//     or "Bearer <token>" for an OAuth token.
//   - A From header with the email of a user on the account for the calls that act as someone
//     (creating an incident, updating one, adding a note; "API Reference" for those endpoints);
//     an unknown or missing user is 400 code 1008 "Requester User Not Found" ("Errors").
//   - JSON bodies wrapped in the entity's name ({"incident": {...}}, {"note": {...}};
//     "Wrapped Entities"), with type fields (incident, incident_reference, service_reference).
//   - Lists answer {"<entities>": [...], "limit", "offset", "more", "total"} ("Pagination");
//     GET /incidents searches a window of at most 6 months, default the last month.
//   - Array filters are repeated parameters with brackets in the name, as the API reference
//     spells them: GET /incidents statuses[], service_ids[], urgencies[]; GET /oncalls
//     schedule_ids[] ("List incidents", "List all of the on-calls"). A value outside an enum
//     is 400 code 2001.
//   - A resolved incident cannot be acknowledged or resolved again: 400 code 1001 "Incident
//     Already Resolved" ("Errors", PagerDuty error codes).
// Errors are {"error": {"message", "code", "errors": [...]}} ("Errors").

import assert from 'node:assert/strict';

import { jsonBody, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'pagerduty';

const KEY = 'u+FakeContractPdKey012';
const FROM = 'agent@example.com';
export const credential = { Authorization: `Token token=${KEY}`, From: FROM };

const USERS = {
    'agent@example.com': { id: 'PAGENT1', summary: 'Mandate Agent' },
    'ana@example.com': { id: 'PANA001', summary: 'Ana Ortiz' },
};
const SERVICE = { id: 'PWIXJZS', type: 'service_reference', summary: 'Checkout API' };
const POLICY = { id: 'PT20YPA', type: 'escalation_policy_reference', summary: 'Checkout on-call' };

function ref(fake, kind, o) {
    return { ...o, self: `${fake.url}/${kind}s/${o.id}`, html_url: `https://acme.pagerduty.com/${kind}s/${o.id}` };
}

function userRef(u) {
    return { id: u.id, type: 'user_reference', summary: u.summary };
}

export function seed() {
    const inc = (id, n, title, status, created, extra = {}) => ({
        id, incident_number: n, title, description: title, status, urgency: 'high', created_at: created,
        incident_key: `key-${n}`, last_status_change_at: created, resolved_at: status === 'resolved' ? '2024-06-01T12:00:00Z' : null,
        assignments: status === 'triggered' ? [{ at: created, assignee: userRef(USERS['ana@example.com']) }] : [], acknowledgements: [],
        notes: [], ...extra,
    });
    return {
        incidents: [
            inc('PT4KHLK', 1120, 'Checkout API returning 500s', 'triggered', '2024-06-03T10:00:00Z',
                { notes: [{ id: 'PWL7QXS', user: userRef(USERS['ana@example.com']), content: 'Gateway timeouts since deploy 1.4.2.', created_at: '2024-06-03T10:05:00Z' }] }),
            inc('PT4KHLM', 1119, 'Disk 90% on db-2', 'acknowledged', '2024-06-02T10:00:00Z'),
            inc('PT4KHLN', 1118, 'Search latency high', 'resolved', '2024-06-01T10:00:00Z'),
        ],
        oncalls: [
            { escalation_level: 1, user: userRef(USERS['ana@example.com']), start: '2024-06-03T00:00:00Z', end: '2024-06-10T00:00:00Z', schedule: { id: 'PI7DH85', type: 'schedule_reference', summary: 'Primary' } },
            { escalation_level: 2, user: userRef(USERS['agent@example.com']), start: null, end: null, schedule: null },
        ],
        next: 1121,
        nextId: 1,
    };
}

function err(res, status, message, code, errors) {
    send(res, status, { error: { message, code, ...(errors ? { errors } : {}) } });
}

function incidentJson(fake, i) {
    const { notes, ...rest } = i;
    return {
        ...ref(fake, 'incident', { id: i.id, type: 'incident', summary: `[#${i.incident_number}] ${i.title}` }), ...rest,
        service: ref(fake, 'service', SERVICE), escalation_policy: ref(fake, 'escalation_policie', POLICY), priority: null,
        teams: [], alert_counts: { all: 1, triggered: i.status === 'resolved' ? 0 : 1, resolved: i.status === 'resolved' ? 1 : 0 },
        last_status_change_by: ref(fake, 'service', SERVICE), first_trigger_log_entry: { id: `R${i.id}`, type: 'trigger_log_entry_reference' },
    };
}

/* The user a From header names, or null after answering 400 (code 1008). */
function requester(rec, res) {
    const u = USERS[(rec.headers.from || '').toLowerCase()];
    if (!u) {
        err(res, 400, 'Requester User Not Found', 1008);
        return null;
    }
    return u;
}

/* An offset-paginated list: limit (default 25, at most 100), offset, more, total when asked. */
function list(res, name, items, q) {
    const limit = q.limit === undefined ? 25 : Number(q.limit);
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100 || !Number.isInteger(offset) || offset < 0)
        return err(res, 400, 'Invalid Input Provided', 2001, ['limit must be 1 to 100 and offset at least 0']);
    send(res, 200, { [name]: items.slice(offset, offset + limit), limit, offset, more: offset + limit < items.length,
        total: q.total === 'true' ? items.length : null });
}

const SIX_MONTHS_MS = 183 * 24 * 3600 * 1000;

function listIncidents(fake, rec, res) {
    const q = queryOf(rec);
    let items = fake.data.incidents;
    if (q.date_range !== 'all') {
        const until = q.until ? Date.parse(q.until) : Date.parse('2024-06-10T00:00:00Z');
        const since = q.since ? Date.parse(q.since) : until - 31 * 24 * 3600 * 1000;
        if (Number.isNaN(since) || Number.isNaN(until)) return err(res, 400, "Invalid time values in 'since' and/or 'until' parameters", 2004);
        if (until <= since || until - since > SIX_MONTHS_MS) return err(res, 400, 'Invalid Query Date Range', 2005);
        items = items.filter((i) => Date.parse(i.created_at) >= since && Date.parse(i.created_at) < until);
    }
    if (q.incident_key) items = items.filter((i) => i.incident_key === q.incident_key);
    const all = new URLSearchParams(rec.query);
    const statuses = all.getAll('statuses[]');
    const services = all.getAll('service_ids[]');
    const urgencies = all.getAll('urgencies[]');
    const bad = statuses.find((s) => !['triggered', 'acknowledged', 'resolved'].includes(s)) ||
        urgencies.find((u) => !['high', 'low'].includes(u));
    if (bad !== undefined) return err(res, 400, 'Invalid Input Provided', 2001, [`Invalid value: ${bad}`]);
    // The names without brackets are not the API's: PagerDuty would ignore them, so this refuses.
    for (const k of ['statuses', 'service_ids', 'urgencies']) {
        if (all.has(k)) return err(res, 400, 'Invalid Input Provided', 2001, [`Unknown parameter ${k}; did you mean ${k}[]?`]);
    }
    if (statuses.length) items = items.filter((i) => statuses.includes(i.status));
    if (services.length) items = items.filter((i) => services.includes(SERVICE.id));
    if (urgencies.length) items = items.filter((i) => urgencies.includes(i.urgency));
    items = [...items].sort((a, b) => a.incident_number - b.incident_number);
    if (q.sort_by) {
        const [field, dir] = q.sort_by.split(',')[0].split(':');
        if (!['incident_number', 'created_at', 'resolved_at', 'urgency'].includes(field)) return err(res, 400, 'Invalid Input Provided', 2001, [`Invalid sort_by field: ${field}`]);
        if (dir === 'desc') items.reverse();
    }
    list(res, 'incidents', items.map((i) => incidentJson(fake, i)), q);
}

function createIncident(fake, rec, res) {
    const who = requester(rec, res);
    if (!who) return;
    const b = jsonBody(rec, res, { error: { message: 'Invalid Input Provided', code: 2001, errors: ['Request body must be JSON'] } });
    if (!b) return;
    const i = b.incident;
    const errors = [];
    if (!i || i.type !== 'incident') errors.push('Incident type must be incident');
    else {
        if (typeof i.title !== 'string' || !i.title) errors.push('Incident title must not be empty');
        if (!i.service || i.service.type !== 'service_reference') errors.push('Incident service must be a service_reference');
        else if (i.service.id !== SERVICE.id) errors.push('Service not found');
        if (i.urgency !== undefined && !['high', 'low'].includes(i.urgency)) errors.push('Incident urgency must be high or low');
    }
    if (errors.length) return err(res, 400, 'Invalid Input Provided', 2001, errors);
    if (i.incident_key && fake.data.incidents.some((x) => x.incident_key === i.incident_key && x.status !== 'resolved'))
        return err(res, 400, 'Invalid Input Provided', 2001, [`Open incident with key '${i.incident_key}' already exists for this service`]);
    const n = fake.data.next++;
    const inc = { id: `PNEW${String(fake.data.nextId++).padStart(3, '0')}`, incident_number: n, title: i.title,
        description: (i.body && i.body.details) || i.title, status: 'triggered', urgency: i.urgency || 'high', created_at: '2024-06-10T08:00:00Z',
        incident_key: i.incident_key || `auto-${n}`, last_status_change_at: '2024-06-10T08:00:00Z', resolved_at: null,
        assignments: [{ at: '2024-06-10T08:00:00Z', assignee: userRef(USERS['ana@example.com']) }], acknowledgements: [], notes: [] };
    fake.data.incidents.push(inc);
    send(res, 201, { incident: incidentJson(fake, inc) });
}

function updateIncident(fake, rec, res, inc) {
    const who = requester(rec, res);
    if (!who) return;
    const b = jsonBody(rec, res, { error: { message: 'Invalid Input Provided', code: 2001, errors: ['Request body must be JSON'] } });
    if (!b) return;
    const i = b.incident;
    if (!i || !['incident', 'incident_reference'].includes(i.type)) return err(res, 400, 'Invalid Input Provided', 2001, ['Incident type must be incident or incident_reference']);
    if (i.status !== undefined && !['acknowledged', 'resolved'].includes(i.status)) return err(res, 400, 'Invalid Status Provided', 1003);
    if (i.status && inc.status === 'resolved') return err(res, 400, 'Incident Already Resolved', 1001);
    if (i.status === 'acknowledged') {
        inc.status = 'acknowledged';
        inc.acknowledgements = [{ at: '2024-06-10T08:10:00Z', acknowledger: userRef(who) }];
    } else if (i.status === 'resolved') {
        inc.status = 'resolved';
        inc.resolved_at = '2024-06-10T08:20:00Z';
        inc.assignments = [];
        inc.acknowledgements = [];
        inc.resolution = i.resolution;
    }
    inc.last_status_change_at = '2024-06-10T08:20:00Z';
    send(res, 200, { incident: incidentJson(fake, inc) });
}

function notes(fake, rec, res, inc) {
    if (rec.method === 'GET') return send(res, 200, { notes: inc.notes.map((n) => ({ ...n, channel: { summary: 'The PagerDuty website or APIs' } })) });
    const who = requester(rec, res);
    if (!who) return;
    const b = jsonBody(rec, res, { error: { message: 'Invalid Input Provided', code: 2001, errors: ['Request body must be JSON'] } });
    if (!b) return;
    if (!b.note || typeof b.note.content !== 'string' || !b.note.content) return err(res, 400, 'Invalid Input Provided', 2001, ['Note content must not be empty']);
    const n = { id: `PNOTE${fake.data.nextId++}`, user: userRef(who), content: b.note.content, created_at: '2024-06-10T08:15:00Z' };
    inc.notes.push(n);
    send(res, 201, { note: { ...n, channel: { summary: 'The PagerDuty website or APIs' } } });
}

export function handle(fake, rec, res) {
    if (rec.headers.authorization !== `Token token=${KEY}`) return err(res, 401, 'Authentication failed', 2006);
    if (['POST', 'PUT'].includes(rec.method) && mediaType(rec.headers) !== 'application/json')
        return err(res, 400, 'Invalid Input Provided', 2001, ['Content-Type must be application/json']);
    const p = rec.pathname;
    if (p === '/incidents' && rec.method === 'GET') return listIncidents(fake, rec, res);
    if (p === '/incidents' && rec.method === 'POST') return createIncident(fake, rec, res);
    if (p === '/oncalls' && rec.method === 'GET') {
        const q = queryOf(rec);
        let items = fake.data.oncalls;
        if (q.earliest === 'true') items = items.filter((o, k) => items.findIndex((x) => x.user.id === o.user.id && x.escalation_level === o.escalation_level) === k);
        const schedules = new URLSearchParams(rec.query).getAll('schedule_ids[]');
        if (schedules.length) items = items.filter((o) => o.schedule && schedules.includes(o.schedule.id));
        return list(res, 'oncalls', items.map((o) => ({ ...o, escalation_policy: ref(fake, 'escalation_policie', POLICY) })), q);
    }
    const m = /^\/incidents\/([A-Z0-9]+)(\/notes)?$/.exec(p);
    if (!m) return err(res, 404, 'Not Found', 2100);
    const inc = fake.data.incidents.find((i) => i.id === m[1]);
    if (!inc) return err(res, 404, 'Not Found', 2100);
    if (m[2]) return ['GET', 'POST'].includes(rec.method) ? notes(fake, rec, res, inc) : err(res, 405, 'Method Not Allowed', 2000);
    if (rec.method === 'GET') return send(res, 200, { incident: incidentJson(fake, inc) });
    if (rec.method === 'PUT') return updateIncident(fake, rec, res, inc);
    err(res, 405, 'Method Not Allowed', 2000);
}

/* ---- the contract cases ---- */

/* The credential's two headers, and the API version the connector pins in Accept. */
function common(rec, method, path, acting) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Token token=${KEY}`);
    assert.equal(rec.headers.accept, 'application/vnd.pagerduty+json;version=2');
    if (acting) assert.equal(rec.headers.from, FROM);
}

function sentJson(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    list_incidents: {
        args: {
            since: '2024-06-01T00:00:00Z', until: '2024-06-10T00:00:00Z', statuses: ['triggered', 'acknowledged'], service_ids: [SERVICE.id],
            urgencies: ['high'], sort_by: 'created_at:desc', limit: 1, total: true,
        },
        check(rec, res) {
            common(rec, 'GET', '/incidents');
            // LLM-safe argument names go out as the API's bracketed parameters, an array as the
            // parameter repeated, in the request's order.
            assert.equal(rec.query, 'since=2024-06-01T00%3A00%3A00Z&until=2024-06-10T00%3A00%3A00Z&statuses%5B%5D=triggered&statuses%5B%5D=acknowledged' +
                `&service_ids%5B%5D=${SERVICE.id}&urgencies%5B%5D=high&sort_by=created_at%3Adesc&limit=1&total=true`);
            const q = new URLSearchParams(rec.query);
            assert.deepEqual(q.getAll('statuses[]'), ['triggered', 'acknowledged']);
            const r = res.structuredContent;
            // The resolved incident of the window is filtered out: two match, one per page.
            assert.deepEqual(r.incidents.map((i) => i.incident_number), [1120]);
            assert.deepEqual([r.more, r.total], [true, 2]);
        },
    },
    get_incident: {
        args: { id: 'PT4KHLK' },
        check(rec, res) {
            common(rec, 'GET', '/incidents/PT4KHLK');
            const i = res.structuredContent.incident;
            assert.equal(i.status, 'triggered');
            assert.equal(i.service.id, SERVICE.id);
        },
    },
    list_incident_notes: {
        args: { id: 'PT4KHLK' },
        check(rec, res) {
            common(rec, 'GET', '/incidents/PT4KHLK/notes');
            assert.deepEqual(res.structuredContent.notes.map((n) => n.content), ['Gateway timeouts since deploy 1.4.2.']);
        },
    },
    list_oncalls: {
        args: { schedule_ids: ['PI7DH85'], earliest: true, limit: 10 },
        check(rec, res) {
            common(rec, 'GET', '/oncalls');
            assert.equal(rec.query, 'schedule_ids%5B%5D=PI7DH85&earliest=true&limit=10');
            // Level 2 pages a user directly (no schedule): not in the Primary schedule's entries.
            assert.deepEqual(res.structuredContent.oncalls.map((o) => [o.escalation_level, o.user.summary]), [[1, 'Ana Ortiz']]);
        },
    },
    create_incident: {
        args: { incident: { type: 'incident', title: 'Checkout API 500s in eu-west-1', service: { id: SERVICE.id, type: 'service_reference' }, urgency: 'high',
            body: { type: 'incident_body', details: 'Error rate 12% since 10:02 UTC.' } } },
        check(rec, res, fake) {
            common(rec, 'POST', '/incidents', true);
            assert.deepEqual(sentJson(rec), { incident: { type: 'incident', title: 'Checkout API 500s in eu-west-1', service: { id: SERVICE.id, type: 'service_reference' },
                urgency: 'high', body: { type: 'incident_body', details: 'Error rate 12% since 10:02 UTC.' } } });
            assert.equal(res.structuredContent.incident.status, 'triggered');
            assert.ok(fake.data.incidents.some((i) => i.title === 'Checkout API 500s in eu-west-1'));
        },
    },
    acknowledge_incident: {
        args: { id: 'PT4KHLK' },
        check(rec, res) {
            common(rec, 'PUT', '/incidents/PT4KHLK', true);
            assert.deepEqual(sentJson(rec), { incident: { type: 'incident_reference', status: 'acknowledged' } });
            assert.equal(res.structuredContent.incident.status, 'acknowledged');
            assert.equal(res.structuredContent.incident.acknowledgements[0].acknowledger.summary, 'Mandate Agent');
        },
    },
    resolve_incident: {
        args: { id: 'PT4KHLM', resolution: 'Rotated logs on db-2; disk at 40%.' },
        check(rec, res, fake) {
            common(rec, 'PUT', '/incidents/PT4KHLM', true);
            assert.deepEqual(sentJson(rec), { incident: { type: 'incident_reference', status: 'resolved', resolution: 'Rotated logs on db-2; disk at 40%.' } });
            assert.equal(res.structuredContent.incident.status, 'resolved');
            assert.equal(fake.data.incidents.find((i) => i.id === 'PT4KHLM').resolution, 'Rotated logs on db-2; disk at 40%.');
        },
    },
    create_incident_note: {
        args: { id: 'PT4KHLK', content: 'Rolled back to 1.4.1 at 10:20; error rate falling.' },
        check(rec, res) {
            common(rec, 'POST', '/incidents/PT4KHLK/notes', true);
            assert.deepEqual(sentJson(rec), { note: { content: 'Rolled back to 1.4.1 at 10:20; error rate falling.' } });
            assert.equal(res.structuredContent.note.user.summary, 'Mandate Agent');
        },
    },
};

export const errors = [
    { tool: 'get_incident', args: { id: 'PNOPE00' }, match: /^pagerduty API error: HTTP 404: Not Found$/ },
    { tool: 'resolve_incident', args: { id: 'PT4KHLN', resolution: 'again' }, match: /^pagerduty API error: HTTP 400: Incident Already Resolved$/ },
    { tool: 'acknowledge_incident', args: { id: 'PT4KHLN' }, match: /^pagerduty API error: HTTP 400: Incident Already Resolved$/ },
    { tool: 'list_incidents', args: { since: '2023-01-01T00:00:00Z', until: '2024-06-01T00:00:00Z' }, match: /^pagerduty API error: HTTP 400: Invalid Query Date Range$/ },
    // error.errors says what was invalid (the connector's response.error: message, then detail).
    {
        tool: 'create_incident',
        args: { incident: { type: 'incident', title: 'Disk full', service: { id: 'PNOSERV', type: 'service_reference' } } },
        match: /^pagerduty API error: HTTP 400: Invalid Input Provided: Service not found$/,
    },
];
