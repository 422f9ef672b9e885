// A fake of the ServiceNow Table API for the catalog's servicenow connector: incidents (list,
// read, create, update, comment), users, groups and knowledge articles. Shapes follow the Table
// API reference (https://www.servicenow.com/docs/r/api-reference/rest-apis/c_TableAPI.html,
// the same text as github.com/ServiceNow/ServiceNowDocs markdown/api-reference/rest-apis/c_TableAPI.md)
// and the REST API HTTP response codes page (r_RESTAPIHTTPResponseCodes):
//
//   every request   Authorization: Basic (the integration user); else 401
//                   {"error": {"message": "User Not Authenticated", "detail": "Required to provide
//                   Auth information"}, "status": "failure"}
//   GET   /api/now/table/{table}?sysparm_query&sysparm_fields&sysparm_limit&sysparm_offset
//         &sysparm_display_value&sysparm_exclude_reference_link
//                   -> 200 {"result": [records]}, X-Total-Count and a Link header with rel="next"
//   GET   /api/now/table/{table}/{sys_id}   -> 200 {"result": record}, or 404
//                   {"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL
//                   restricts the record retrieval"}, "status": "failure"}
//   POST  /api/now/table/incident           JSON name-value pairs -> 201 {"result": record}, Location
//   PATCH /api/now/table/incident/{sys_id}  JSON name-value pairs -> 200 {"result": record}
//   A write that a data policy refuses is 403 (the response codes page: "business rule or data
//   policy constraints"); the base system's incident data policy makes close_code and
//   close_notes mandatory on resolution.
//
// Every stored value is a string, as the Table API returns them; reference fields hold sys_ids
// and come out as {"link", "value"} unless sysparm_exclude_reference_link=true.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { basic, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'servicenow';

const USER = 'mandate.integration';
const PASSWORD = 'Fake-ServiceNow-Passw0rd!';
export const credential = { username: USER, password: PASSWORD };

const JANE = '5137153cc611227c000bbd1bd8cd2005';
const BETH = '681b365ec0a80164000fb0b05854a0cd';
const SERVICE_DESK = 'd625dccec0a8016700a222a0f7900d06';
const NETWORK = '287ebd7da9fe198100f92cc8d1d2154e';
const INC_OPEN = 'a9e30c7dc61122760116894de7bcc7bd';
const INC_RESOLVED = 'ef43c6d40a0a0b5700c77f9bf387afe3';

/* Which table each reference field points at, for links, dot-walking and display values. */
const REFS = {
    caller_id: 'sys_user', assigned_to: 'sys_user', opened_by: 'sys_user', manager: 'sys_user',
    assignment_group: 'sys_user_group', kb_knowledge_base: 'kb_knowledge_base',
};

/* Display values of the incident's choice fields (the base system's choice lists). */
const CHOICES = {
    state: { 1: 'New', 2: 'In Progress', 3: 'On Hold', 6: 'Resolved', 7: 'Closed', 8: 'Canceled' },
    urgency: { 1: '1 - High', 2: '2 - Medium', 3: '3 - Low' },
    impact: { 1: '1 - High', 2: '2 - Medium', 3: '3 - Low' },
    priority: { 1: '1 - Critical', 2: '2 - High', 3: '3 - Moderate', 4: '4 - Low', 5: '5 - Planning' },
    hold_reason: { 1: 'Awaiting Caller', 3: 'Awaiting Problem', 4: 'Awaiting Vendor', 5: 'Awaiting Change' },
};

/* The field each table shows for a reference to it (its display field). */
const DISPLAY_FIELD = { sys_user: 'name', sys_user_group: 'name', incident: 'number', kb_knowledge: 'number', kb_knowledge_base: 'title' };

function incident(fields) {
    return {
        sys_id: '', number: '', short_description: '', description: '', state: '1', hold_reason: '',
        urgency: '3', impact: '3', priority: '5', caller_id: '', assignment_group: '', assigned_to: '',
        category: 'inquiry', subcategory: '', contact_type: '', opened_by: JANE, opened_at: '2024-06-03 09:12:44',
        resolved_at: '', close_code: '', close_notes: '', active: 'true', comments: '', work_notes: '',
        comments_and_work_notes: '', sys_created_on: '2024-06-03 09:12:44', sys_updated_on: '2024-06-03 09:12:44',
        sys_updated_by: 'admin', sys_class_name: 'incident', ...fields,
    };
}

export function seed() {
    return {
        tables: {
            sys_user: [
                { sys_id: JANE, user_name: 'jane.doe', name: 'Jane Doe', email: 'jane@example.com', department: 'Finance', active: 'true' },
                { sys_id: BETH, user_name: 'beth.anglin', name: 'Beth Anglin', email: 'beth.anglin@example.com', department: 'IT', active: 'true' },
            ],
            sys_user_group: [
                { sys_id: SERVICE_DESK, name: 'Service Desk', description: 'First line support', manager: BETH, active: 'true' },
                { sys_id: NETWORK, name: 'Network', description: 'Network operations', manager: BETH, active: 'true' },
            ],
            incident: [
                incident({
                    sys_id: INC_OPEN, number: 'INC0010023', short_description: 'Cannot connect to VPN from home',
                    description: 'Since this morning the VPN client times out.', state: '2', urgency: '2', impact: '2',
                    priority: '3', caller_id: JANE, assignment_group: NETWORK, assigned_to: BETH, category: 'network',
                }),
                incident({
                    sys_id: INC_RESOLVED, number: 'INC0010007', short_description: 'Printer on 3rd floor jams',
                    state: '6', caller_id: JANE, active: 'false', close_code: 'Solution provided',
                    close_notes: 'Replaced the fuser.', resolved_at: '2024-05-20 15:00:00', category: 'hardware',
                }),
            ],
            kb_knowledge: [
                {
                    sys_id: '3b0fccee0a0a0b9b00d4b3c2b2f0a3a7', number: 'KB0000011', short_description: 'How to reset your VPN token',
                    text: '<p>Open the self-service portal and choose <b>Reset VPN token</b>.</p>', workflow_state: 'published',
                    kb_knowledge_base: 'a7e8a78bff0221009b20ffffffffff17',
                },
                {
                    sys_id: '3b0fccee0a0a0b9b00d4b3c2b2f0a3a8', number: 'KB0000012', short_description: 'VPN draft notes',
                    text: '<p>Internal draft.</p>', workflow_state: 'draft', kb_knowledge_base: 'a7e8a78bff0221009b20ffffffffff17',
                },
            ],
            kb_knowledge_base: [{ sys_id: 'a7e8a78bff0221009b20ffffffffff17', title: 'IT' }],
        },
        journal: [],
        nextNumber: 10030,
    };
}

/* The Table API's error shape. */
function failure(res, status, message, detail) {
    send(res, status, { error: { message, detail }, status: 'failure' });
}

/* A stored value followed along a dotted field name (caller_id.email). */
function valueOf(data, table, rec, name) {
    const [head, ...rest] = name.split('.');
    if (!(head in rec)) return undefined;
    if (rest.length === 0) return rec[head];
    const target = REFS[head] && data.tables[REFS[head]].find((r) => r.sys_id === rec[head]);
    return target ? valueOf(data, REFS[head], target, rest.join('.')) : '';
}

/* One condition of an encoded query: field, operator, value. */
const CONDITION = /^([a-z0-9_.]+?)(ISNOTEMPTY|ISEMPTY|STARTSWITH|ENDSWITH|NOTLIKE|LIKE|NOT IN|IN|!=|>=|<=|=|>|<)(.*)$/;

function test(have, op, want) {
    const h = have === undefined || have === null ? '' : String(have);
    switch (op) {
    case '=': return h === want;
    case '!=': return h !== want;
    case 'LIKE': return h.toLowerCase().includes(want.toLowerCase());
    case 'NOTLIKE': return !h.toLowerCase().includes(want.toLowerCase());
    case 'STARTSWITH': return h.toLowerCase().startsWith(want.toLowerCase());
    case 'ENDSWITH': return h.toLowerCase().endsWith(want.toLowerCase());
    case 'IN': return want.split(',').includes(h);
    case 'NOT IN': return !want.split(',').includes(h);
    case 'ISEMPTY': return h === '';
    case 'ISNOTEMPTY': return h !== '';
    default: {
        // Numbers compare as numbers; dates ("2024-06-01 00:00:00") compare as text, which orders them.
        const both = h !== '' && !Number.isNaN(Number(h)) && !Number.isNaN(Number(want));
        const a = both ? Number(h) : h;
        const b = both ? Number(want) : want;
        return op === '>' ? a > b : op === '<' ? a < b : op === '>=' ? a >= b : a <= b;
    }
    }
}

/*
 * The records of table matching an encoded query, sorted by its ORDERBY terms. ^ is "and",
 * ^OR binds to the condition before it; a condition on an unknown field is ignored, as the
 * sysparm_query documentation says the instance does by default.
 */
function select(data, table, query) {
    const rows = data.tables[table];
    const terms = [];
    const order = [];
    for (const tok of (query || '').split('^').filter(Boolean)) {
        if (tok.startsWith('ORDERBYDESC')) order.push([tok.slice(11), -1]);
        else if (tok.startsWith('ORDERBY')) order.push([tok.slice(7), 1]);
        else if (tok.startsWith('OR') && terms.length) terms.at(-1).push(tok.slice(2));
        else terms.push([tok]);
    }
    const known = (c) => {
        const m = CONDITION.exec(c);
        return m && rows.length > 0 && m[1].split('.')[0] in rows[0] ? m : null;
    };
    const out = rows.filter((r) => terms.every((alts) => {
        const valid = alts.map(known).filter(Boolean);
        return valid.length === 0 || valid.some((m) => test(valueOf(data, table, r, m[1]), m[2], m[3]));
    }));
    for (const [f, dir] of order.reverse()) {
        out.sort((a, b) => String(a[f] ?? '').localeCompare(String(b[f] ?? '')) * dir);
    }
    return out;
}

/* The journal of an incident as the display value of comments_and_work_notes shows it. */
function journalText(data, sysId) {
    return data.journal.filter((j) => j.element_id === sysId).reverse()
        .map((j) => `${j.sys_created_on} - ${j.sys_created_by} (${j.element === 'comments' ? 'Additional comments' : 'Work notes'})\n${j.value}\n\n`)
        .join('');
}

/* A record as the Table API writes it, for the request's sysparm_* parameters. */
function present(data, table, rec, q, base) {
    const mode = q.sysparm_display_value || 'false';
    const links = q.sysparm_exclude_reference_link !== 'true';
    const fields = q.sysparm_fields ? q.sysparm_fields.split(',').map((f) => f.trim()) : Object.keys(rec);
    const out = {};
    for (const f of fields) {
        if (!(f in rec)) continue; // "Invalid fields are ignored."
        const v = rec[f];
        let display = v;
        if (f === 'comments_and_work_notes') display = journalText(data, rec.sys_id);
        else if (CHOICES[f] && v !== '') display = CHOICES[f][v] ?? v;
        else if (REFS[f] && v !== '') {
            const t = REFS[f];
            const target = data.tables[t]?.find((r) => r.sys_id === v);
            display = target ? target[DISPLAY_FIELD[t]] : '';
        }
        const link = REFS[f] && v !== '' && links ? `${base}/api/now/table/${REFS[f]}/${v}` : null;
        if (mode === 'all') out[f] = { display_value: display, value: v, ...(link ? { link } : {}) };
        else if (mode === 'true') out[f] = link ? { display_value: display, link } : display;
        else out[f] = link ? { link, value: v } : v;
    }
    return out;
}

/* The JSON object of a write, or undefined after answering with the Table API's error. */
function body(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        failure(res, 415, 'Unsupported Media Type', `Content type ${rec.headers['content-type'] || '(none)'} is not supported`);
        return undefined;
    }
    try {
        const v = JSON.parse(rec.body);
        if (v && typeof v === 'object' && !Array.isArray(v)) return v;
    } catch {
        // Answered below.
    }
    failure(res, 400, 'Exception while reading request', 'The payload is not valid JSON.');
    return undefined;
}

function now() {
    return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

/*
 * Applies name-value pairs to an incident as a write through the Table API would: journal
 * fields (comments, work_notes) become journal entries and read back empty, unknown fields
 * are ignored, priority follows urgency and impact, and the incident data policy is checked
 * before anything changes. Returns a refusal message, or null.
 */
function apply(data, inc, pairs) {
    const next = { ...inc };
    for (const [k, v] of Object.entries(pairs)) {
        if (k === 'comments' || k === 'work_notes' || !(k in next) || k.startsWith('sys_')) continue;
        next[k] = v === null ? '' : String(v);
    }
    next.priority = String(Math.min(5, Number(next.urgency) + Number(next.impact) - 1));
    const missing = [];
    if (next.state === '6' || next.state === '7') {
        if (!next.close_code) missing.push('Resolution code');
        if (!next.close_notes) missing.push('Resolution notes');
    }
    if (next.state === '3' && !next.hold_reason) missing.push('On hold reason');
    if (missing.length) return `Data Policy Exception: \n\tThe following fields are mandatory: ${missing.join(', ')}\n`;
    if (next.state === '6' && inc.state !== '6') next.resolved_at = now();
    next.active = next.state === '6' || next.state === '7' || next.state === '8' ? 'false' : 'true';
    next.sys_updated_on = now();
    next.sys_updated_by = USER;
    Object.assign(inc, next);
    for (const element of ['comments', 'work_notes']) {
        if (typeof pairs[element] === 'string' && pairs[element] !== '') {
            data.journal.push({ element_id: inc.sys_id, element, value: pairs[element], sys_created_on: now(), sys_created_by: USER });
        }
    }
    return null;
}

export function handle(fake, rec, res) {
    const cred = basic(rec.headers);
    if (!cred || cred.user !== USER || cred.pass !== PASSWORD) {
        failure(res, 401, 'User Not Authenticated', 'Required to provide Auth information');
        return;
    }
    const m = /^\/api\/now\/table\/([a-z_0-9]+)(?:\/([^/]+))?$/.exec(rec.pathname);
    if (!m) return;
    const data = fake.data;
    const [, table, id] = m;
    if (!data.tables[table]) {
        failure(res, 400, 'Invalid table', `Invalid table ${table}`);
        return;
    }
    const q = queryOf(rec);
    const base = `http://${rec.headers.host}`;
    if (rec.method === 'GET' && !id) {
        const all = select(data, table, q.sysparm_query);
        const limit = q.sysparm_limit ? Number(q.sysparm_limit) : 10000;
        const offset = q.sysparm_offset ? Number(q.sysparm_offset) : 0;
        if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
            failure(res, 400, 'Invalid parameter', 'sysparm_limit and sysparm_offset must be non-negative integers');
            return;
        }
        const page = all.slice(offset, offset + limit);
        const headers = { 'X-Total-Count': String(all.length) };
        if (offset + limit < all.length) {
            const next = new URLSearchParams({ ...q, sysparm_offset: String(offset + limit), sysparm_limit: String(limit) });
            headers.Link = `<${base}${rec.pathname}?${next}>;rel="next"`;
        }
        send(res, 200, { result: page.map((r) => present(data, table, r, q, base)) }, headers);
        return;
    }
    const row = id && data.tables[table].find((r) => r.sys_id === id);
    if (rec.method === 'GET' && id) {
        if (!row) {
            failure(res, 404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
            return;
        }
        send(res, 200, { result: present(data, table, row, q, base) });
        return;
    }
    if (table !== 'incident' || !['POST', 'PATCH', 'PUT'].includes(rec.method)) {
        // The fake's integration user, like the catalog's, only writes incidents.
        failure(res, 403, 'Operation Failed', `ACL Exception Insert Failed due to security constraints`);
        return;
    }
    if (rec.method === 'POST' && !id) {
        const pairs = body(rec, res);
        if (!pairs) return;
        data.nextNumber += 1;
        const inc = incident({
            sys_id: randomBytes(16).toString('hex'), number: `INC00${data.nextNumber}`, opened_by: JANE,
            opened_at: now(), sys_created_on: now(), category: 'inquiry',
        });
        const refused = apply(data, inc, pairs);
        if (refused) {
            failure(res, 403, 'Operation Failed', refused);
            return;
        }
        data.tables.incident.push(inc);
        send(res, 201, { result: present(data, table, inc, q, base) }, { Location: `${base}/api/now/table/incident/${inc.sys_id}` });
        return;
    }
    if ((rec.method === 'PATCH' || rec.method === 'PUT') && id) {
        const pairs = body(rec, res);
        if (!pairs) return;
        if (!row) {
            failure(res, 404, 'No Record found', "Record doesn't exist or ACL restricts the record retrieval");
            return;
        }
        const refused = apply(data, row, pairs);
        if (refused) {
            failure(res, 403, 'Operation Failed', refused);
            return;
        }
        send(res, 200, { result: present(data, table, row, q, base) });
        return;
    }
    failure(res, 405, 'Method not Supported', 'Requested method is not supported');
}

/* What every call carries: the integration user's basic credentials and Accept: JSON. */
function common(rec) {
    assert.deepEqual(basic(rec.headers), { user: USER, pass: PASSWORD });
    assert.equal(rec.headers.accept, 'application/json');
}

function jsonOf(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    search_incidents: {
        args: {
            sysparm_query: 'caller_id.email=jane@example.com^ORDERBYDESCnumber',
            sysparm_fields: 'number,short_description,state,caller_id,sys_id',
            sysparm_limit: 1,
            sysparm_display_value: 'true',
            sysparm_exclude_reference_link: true,
        },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/now/table/incident');
            assert.deepEqual(queryOf(rec), {
                sysparm_query: 'caller_id.email=jane@example.com^ORDERBYDESCnumber',
                sysparm_fields: 'number,short_description,state,caller_id,sys_id',
                sysparm_limit: '1',
                sysparm_display_value: 'true',
                sysparm_exclude_reference_link: 'true',
            });
            const sc = res.structuredContent;
            assert.deepEqual(sc.result, [{
                number: 'INC0010023', short_description: 'Cannot connect to VPN from home', state: 'In Progress',
                caller_id: 'Jane Doe', sys_id: INC_OPEN,
            }]);
            // Jane has two incidents: the Link header's next page becomes next_page.
            assert.equal(sc.next_page.sysparm_offset, '1');
            assert.equal(sc.next_page.sysparm_limit, '1');
            assert.equal(sc.next_page.sysparm_query, 'caller_id.email=jane@example.com^ORDERBYDESCnumber');
        },
    },
    get_incident: {
        args: { sys_id: INC_OPEN, sysparm_fields: 'number,state,assignment_group,caller_id' },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/api/now/table/incident/${INC_OPEN}`);
            assert.deepEqual(queryOf(rec), { sysparm_fields: 'number,state,assignment_group,caller_id' });
            const r = res.structuredContent.result;
            assert.equal(r.number, 'INC0010023');
            assert.equal(r.state, '2');
            assert.equal(r.assignment_group.value, NETWORK);
            assert.match(r.caller_id.link, new RegExp(`/api/now/table/sys_user/${JANE}$`));
        },
    },
    create_incident: {
        args: {
            short_description: 'Customer Acme cannot log in to the portal',
            description: 'SSO redirect loops since 09:00 UTC; ticket #4521 in Zendesk.',
            caller_id: JANE,
            category: 'software',
            contact_type: 'email',
            urgency: '1',
            impact: '2',
            assignment_group: SERVICE_DESK,
            work_notes: 'Escalated from support.',
        },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/api/now/table/incident');
            assert.equal(rec.query, '');
            assert.deepEqual(jsonOf(rec), cases.create_incident.args);
            const r = res.structuredContent.result;
            assert.match(r.number, /^INC\d{7}$/);
            assert.match(r.sys_id, /^[0-9a-f]{32}$/);
            assert.equal(r.priority, '2', 'urgency 1 and impact 2 make priority 2');
            assert.equal(r.work_notes, '', 'journal fields read back empty');
            assert.equal(fake.data.journal.at(-1).value, 'Escalated from support.');
        },
    },
    update_incident: {
        args: {
            sys_id: INC_OPEN,
            state: '6',
            close_code: 'Solution provided',
            close_notes: 'VPN token reset; the caller can connect again.',
            work_notes: 'Confirmed with the caller by phone.',
        },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'PATCH');
            assert.equal(rec.pathname, `/api/now/table/incident/${INC_OPEN}`);
            assert.deepEqual(jsonOf(rec), {
                state: '6',
                close_code: 'Solution provided',
                close_notes: 'VPN token reset; the caller can connect again.',
                work_notes: 'Confirmed with the caller by phone.',
            });
            const r = res.structuredContent.result;
            assert.equal(r.state, '6');
            assert.equal(r.active, 'false');
            assert.notEqual(r.resolved_at, '');
            assert.equal(fake.data.journal.at(-1).element, 'work_notes');
        },
    },
    add_comment: {
        args: { sys_id: INC_OPEN, comments: 'Hi Jane, your VPN token was reset; please try again.' },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'PATCH');
            assert.equal(rec.pathname, `/api/now/table/incident/${INC_OPEN}`);
            assert.deepEqual(jsonOf(rec), { comments: 'Hi Jane, your VPN token was reset; please try again.' });
            assert.equal(res.structuredContent.result.sys_id, INC_OPEN);
            assert.deepEqual(
                { element: fake.data.journal.at(-1).element, value: fake.data.journal.at(-1).value },
                { element: 'comments', value: 'Hi Jane, your VPN token was reset; please try again.' },
            );
        },
    },
    find_user: {
        args: { sysparm_query: 'email=jane@example.com', sysparm_fields: 'sys_id,name,email', sysparm_limit: 5 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/now/table/sys_user');
            assert.deepEqual(queryOf(rec), { sysparm_query: 'email=jane@example.com', sysparm_fields: 'sys_id,name,email', sysparm_limit: '5' });
            assert.deepEqual(res.structuredContent.result, [{ sys_id: JANE, name: 'Jane Doe', email: 'jane@example.com' }]);
        },
    },
    find_group: {
        args: { sysparm_query: 'nameLIKEdesk^active=true', sysparm_fields: 'sys_id,name' },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/now/table/sys_user_group');
            assert.deepEqual(queryOf(rec), { sysparm_query: 'nameLIKEdesk^active=true', sysparm_fields: 'sys_id,name' });
            assert.deepEqual(res.structuredContent.result, [{ sys_id: SERVICE_DESK, name: 'Service Desk' }]);
        },
    },
    search_knowledge: {
        args: {
            sysparm_query: 'workflow_state=published^textLIKEvpn^ORshort_descriptionLIKEvpn',
            sysparm_fields: 'number,short_description,text',
            sysparm_limit: 3,
            sysparm_offset: 0,
        },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/now/table/kb_knowledge');
            assert.equal(queryOf(rec).sysparm_query, 'workflow_state=published^textLIKEvpn^ORshort_descriptionLIKEvpn');
            assert.equal(queryOf(rec).sysparm_offset, '0');
            // The draft mentions VPN too; only the published article answers.
            assert.deepEqual(res.structuredContent.result.map((a) => a.number), ['KB0000011']);
            assert.match(res.structuredContent.result[0].text, /Reset VPN token/);
        },
    },
};

export const errors = [
    // A sys_id that names no incident: 404 in the Table API's error shape. Case-insensitive so
    // that a vendor entry in the runtime ("ServiceNow API error") still matches.
    {
        tool: 'get_incident',
        args: { sys_id: '0123456789abcdef0123456789abcdef' },
        match: /^servicenow API error: HTTP 404: No Record found: Record doesn't exist or ACL restricts the record retrieval$/i,
    },
    // A data-policy refusal: 403 "Operation Failed", and the detail names the mandatory fields
    // (the connector's response.error reads error.message and error.detail; the detail's line
    // breaks and tab become single spaces).
    {
        tool: 'update_incident',
        args: { sys_id: INC_OPEN, state: '3' },
        match: /^servicenow API error: HTTP 403: Operation Failed: Data Policy Exception: The following fields are mandatory: On hold reason$/,
    },
];
