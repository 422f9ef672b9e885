// A fake of the Zendesk Support REST API (v2) for the catalog's zendesk connector: search,
// tickets, their comments, and users. Shapes follow the Ticketing API reference
// (https://developer.zendesk.com/api-reference/ticketing/introduction/), its pages
// tickets/tickets (Show, Create and Update Ticket, the Ticket object), tickets/ticket_comments
// (List Comments), ticket-management/search (the Search API and its syntax, the results
// object), users/users (Show User), and the introduction's Requests and Errors sections:
//
//   every request   Authorization: Basic base64("{email}/token:{api_token}"); else 401
//                   {"error": "Couldn't authenticate you"}
//   GET  /api/v2/search?query&sort_by&sort_order&per_page&page
//                   -> {"results": [..., "result_type"], "facets", "next_page", "previous_page", "count"}
//   GET  /api/v2/tickets/{id}            -> {"ticket"}
//   GET  /api/v2/tickets/{id}/comments   -> {"comments", "next_page", "previous_page", "count"}
//   POST /api/v2/tickets                 {"ticket": {...}} -> 201 {"ticket", "audit"}
//   PUT  /api/v2/tickets/{id}            {"ticket": {...}} -> 200 {"ticket", "audit"}
//   GET  /api/v2/users/{id}              -> {"user"}
//   A missing record is 404 {"error": "RecordNotFound", "description": "Not found"}; a write
//   that fails validation is 422 {"error": "RecordInvalid", "description": "Record validation
//   errors", "details": {field: [{"description", "error"}]}}, e.g. a closed ticket.

import assert from 'node:assert/strict';

import { basic, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'zendesk';

const EMAIL = 'support-bot@acme.example';
const API_TOKEN = 'fakeZendeskApiToken6wXjcT1qA9fzbuQ4nKJw0eRp';
export const credential = { username: `${EMAIL}/token`, password: API_TOKEN };

const AGENT_ID = 900001;
const REQUESTER_ID = 35436;
const STATUS_ORDER = ['new', 'open', 'pending', 'hold', 'solved', 'closed'];

function ticket(fields) {
    return {
        url: '', id: 0, external_id: null, via: { channel: 'email' }, created_at: '2024-06-01T08:00:00Z',
        updated_at: '2024-06-01T08:00:00Z', type: null, subject: '', raw_subject: '', description: '',
        priority: null, status: 'new', recipient: 'support@acme.example', requester_id: REQUESTER_ID,
        submitter_id: REQUESTER_ID, assignee_id: null, organization_id: null, group_id: null,
        collaborator_ids: [], follower_ids: [], email_cc_ids: [], tags: [], custom_fields: [],
        satisfaction_rating: null, sharing_agreement_ids: [], is_public: true, due_at: null, ...fields,
    };
}

function comment(id, authorId, body, isPublic, createdAt) {
    return {
        id, type: 'Comment', author_id: authorId, body, html_body: `<div class="zd-comment"><p>${body}</p></div>`,
        plain_body: body, public: isPublic, attachments: [], audit_id: id + 1, via: { channel: 'web' },
        created_at: createdAt, metadata: { system: {}, custom: {} },
    };
}

export function seed() {
    return {
        users: [
            {
                id: REQUESTER_ID, url: '', name: 'Joe Bloggs', email: 'joe@bloggs.example', role: 'end-user', phone: null,
                organization_id: null, locale: 'en-US', time_zone: 'Eastern Time (US & Canada)', tags: ['vip'],
                user_fields: { plan: 'pro' }, suspended: false, created_at: '2023-01-10T10:00:00Z', updated_at: '2024-06-01T08:00:00Z',
            },
            {
                id: AGENT_ID, url: '', name: 'Support Bot', email: EMAIL, role: 'agent', phone: null,
                organization_id: null, locale: 'en-US', time_zone: 'UTC', tags: [], user_fields: {},
                suspended: false, created_at: '2022-01-01T00:00:00Z', updated_at: '2022-01-01T00:00:00Z',
            },
        ],
        tickets: [
            ticket({
                id: 4521, subject: 'Charged twice for order 12345', raw_subject: 'Charged twice for order 12345',
                description: 'My card was charged twice for order 12345.', status: 'open', priority: 'normal',
                tags: ['billing', 'refund'], assignee_id: AGENT_ID,
            }),
            ticket({
                id: 4388, subject: 'Password reset link expired', raw_subject: 'Password reset link expired',
                description: 'The link in the email says it expired.', status: 'closed', tags: ['login'],
            }),
        ],
        comments: {
            4521: [
                comment(7001, REQUESTER_ID, 'My card was charged twice for order 12345.', true, '2024-06-01T08:00:00Z'),
                comment(7003, AGENT_ID, 'Checked Stripe: two captures of 49.00.', false, '2024-06-01T09:00:00Z'),
            ],
            4388: [comment(6001, REQUESTER_ID, 'The link in the email says it expired.', true, '2024-05-01T08:00:00Z')],
        },
        nextTicket: 4600,
        nextId: 8000,
    };
}

function zderror(res, status, error, description, details) {
    send(res, status, { error, description, ...(details ? { details } : {}) });
}

function notFound(res) {
    zderror(res, 404, 'RecordNotFound', 'Not found');
}

/* The {"ticket": {...}} body of a write, or undefined after answering. */
function ticketBody(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        // The Requests page: a request with a body must be sent as application/json.
        zderror(res, 415, 'UnsupportedMediaType', `Content-Type ${rec.headers['content-type'] || '(none)'} is not supported; use application/json`);
        return undefined;
    }
    let v;
    try {
        v = JSON.parse(rec.body);
    } catch {
        zderror(res, 400, 'InvalidJSON', 'The request body is not valid JSON');
        return undefined;
    }
    if (!v || typeof v.ticket !== 'object' || v.ticket === null) {
        zderror(res, 400, 'InvalidEndpoint', 'Ticket parameter is missing');
        return undefined;
    }
    return v.ticket;
}

/* Words of a search query, keeping "quoted phrases" together. */
function words(q) {
    return [...q.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

/*
 * Whether a ticket matches Zendesk search syntax (the Search reference): property:value,
 * property<value and property>value for status, priority, type, tags, requester, assignee,
 * created and updated; other words are free text over subject and description.
 */
function ticketMatches(data, t, q) {
    for (const w of words(q)) {
        const m = /^([a-z_]+)(:|<|>)(.+)$/.exec(w);
        if (!m) {
            if (!`${t.subject} ${t.description}`.toLowerCase().includes(w.toLowerCase())) return false;
            continue;
        }
        const [, key, op, value] = m;
        switch (key) {
        case 'type':
            if (value !== 'ticket') return false;
            break;
        case 'status': {
            const have = STATUS_ORDER.indexOf(t.status);
            const want = STATUS_ORDER.indexOf(value);
            if (op === ':' ? have !== want : op === '<' ? !(have < want) : !(have > want)) return false;
            break;
        }
        case 'priority':
        case 'ticket_type':
            if (t[key === 'priority' ? 'priority' : 'type'] !== value) return false;
            break;
        case 'tags':
            if (!t.tags.includes(value)) return false;
            break;
        case 'requester':
        case 'assignee': {
            const id = t[`${key}_id`];
            const u = data.users.find((x) => x.id === id);
            if (!u || (String(u.id) !== value && u.email !== value)) return false;
            break;
        }
        case 'created':
        case 'updated': {
            const have = t[`${key}_at`].slice(0, 10);
            if (op === ':' ? have !== value : op === '<' ? !(have < value) : !(have > value)) return false;
            break;
        }
        default:
            return false;
        }
    }
    return true;
}

function audit(data, t, events) {
    data.nextId += 1;
    return { id: data.nextId, ticket_id: t.id, created_at: new Date().toISOString(), author_id: AGENT_ID, events };
}

/* A ticket's custom_fields and tags changes, as Create and Update Ticket take them. */
function applyCommon(t, req) {
    for (const k of ['subject', 'priority', 'type', 'status', 'assignee_id', 'group_id', 'external_id']) {
        if (k in req) t[k] = req[k];
    }
    if ('subject' in req) t.raw_subject = req.subject;
    if (Array.isArray(req.custom_fields)) {
        for (const f of req.custom_fields) {
            const have = t.custom_fields.find((x) => x.id === f.id);
            if (have) have.value = f.value;
            else t.custom_fields.push({ id: f.id, value: f.value });
        }
    }
}

export function handle(fake, rec, res) {
    const cred = basic(rec.headers);
    if (!cred || cred.user !== `${EMAIL}/token` || cred.pass !== API_TOKEN) {
        zderror(res, 401, "Couldn't authenticate you");
        return;
    }
    const data = fake.data;
    const base = `http://${rec.headers.host}`;
    const p = rec.pathname.replace(/\.json$/, ''); // Zendesk accepts both /tickets/1 and /tickets/1.json.
    let m;
    if (rec.method === 'GET' && p === '/api/v2/search') {
        const q = queryOf(rec);
        if (!q.query) {
            zderror(res, 400, 'InvalidSearchQuery', 'query parameter is required');
            return;
        }
        const perPage = q.per_page ? Number(q.per_page) : 100;
        const page = q.page ? Number(q.page) : 1;
        let found = data.tickets.filter((t) => ticketMatches(data, t, q.query));
        if (q.sort_by) {
            const dir = q.sort_order === 'asc' ? 1 : -1;
            found = [...found].sort((a, b) => String(a[q.sort_by] ?? '').localeCompare(String(b[q.sort_by] ?? '')) * dir);
        }
        const results = found.slice((page - 1) * perPage, page * perPage).map((t) => ({ ...t, result_type: 'ticket' }));
        const more = page * perPage < found.length;
        send(res, 200, {
            results,
            facets: null,
            next_page: more ? `${base}/api/v2/search.json?${new URLSearchParams({ ...q, page: String(page + 1) })}` : null,
            previous_page: page > 1 ? `${base}/api/v2/search.json?${new URLSearchParams({ ...q, page: String(page - 1) })}` : null,
            count: found.length,
        });
        return;
    }
    if ((m = /^\/api\/v2\/users\/(\d+)$/.exec(p)) && rec.method === 'GET') {
        const u = data.users.find((x) => x.id === Number(m[1]));
        if (!u) return notFound(res);
        send(res, 200, { user: { ...u, url: `${base}/api/v2/users/${u.id}.json` } });
        return;
    }
    if ((m = /^\/api\/v2\/tickets\/(\d+)\/comments$/.exec(p)) && rec.method === 'GET') {
        const list = data.comments[m[1]];
        if (!list) return notFound(res);
        send(res, 200, { comments: list, next_page: null, previous_page: null, count: list.length });
        return;
    }
    if (p === '/api/v2/tickets' && rec.method === 'POST') {
        const req = ticketBody(rec, res);
        if (!req) return;
        const body = req.comment?.body ?? req.comment?.html_body;
        if (typeof body !== 'string' || body.trim() === '') {
            zderror(res, 422, 'RecordInvalid', 'Record validation errors',
                { base: [{ description: 'Description: cannot be blank', error: 'BlankValue' }] });
            return;
        }
        let requesterId = req.requester_id ?? AGENT_ID;
        if (req.requester) {
            // An unknown email creates the end user (Create Ticket: "requester").
            let u = data.users.find((x) => x.email === req.requester.email);
            if (!u) {
                data.nextId += 1;
                u = { id: data.nextId, name: req.requester.name || req.requester.email, email: req.requester.email, role: 'end-user', tags: [], user_fields: {}, suspended: false };
                data.users.push(u);
            }
            requesterId = u.id;
        } else if (!data.users.some((x) => x.id === requesterId)) {
            zderror(res, 422, 'RecordInvalid', 'Record validation errors',
                { requester: [{ description: 'Requester: is invalid', error: 'InvalidValue' }] });
            return;
        }
        data.nextTicket += 1;
        const t = ticket({
            id: data.nextTicket, description: body, requester_id: requesterId, submitter_id: AGENT_ID,
            via: { channel: 'api' }, created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
            tags: Array.isArray(req.tags) ? [...req.tags] : [],
        });
        applyCommon(t, req);
        t.url = `${base}/api/v2/tickets/${t.id}.json`;
        data.tickets.push(t);
        data.nextId += 1;
        data.comments[t.id] = [comment(data.nextId, AGENT_ID, body, req.comment.public !== false, t.created_at)];
        send(res, 201, {
            ticket: t,
            audit: audit(data, t, [{ id: data.nextId, type: 'Comment', body, public: req.comment.public !== false }]),
        }, { Location: t.url });
        return;
    }
    if ((m = /^\/api\/v2\/tickets\/(\d+)$/.exec(p))) {
        const t = data.tickets.find((x) => x.id === Number(m[1]));
        if (rec.method === 'GET') {
            if (!t) return notFound(res);
            send(res, 200, { ticket: { ...t, url: `${base}/api/v2/tickets/${t.id}.json` } });
            return;
        }
        if (rec.method !== 'PUT') return;
        const req = ticketBody(rec, res);
        if (!req) return;
        if (!t) return notFound(res);
        if (t.status === 'closed') {
            zderror(res, 422, 'RecordInvalid', 'Record validation errors',
                { status: [{ description: 'Status: closed prevents ticket update', error: 'ClosedTicket' }] });
            return;
        }
        if (req.status === 'closed' && t.status !== 'solved') {
            zderror(res, 422, 'RecordInvalid', 'Record validation errors',
                { status: [{ description: 'Status: cannot be closed unless solved', error: 'InvalidValue' }] });
            return;
        }
        const events = [];
        if (req.comment) {
            const body = req.comment.body ?? req.comment.html_body;
            if (typeof body !== 'string' || body.trim() === '') {
                zderror(res, 422, 'RecordInvalid', 'Record validation errors',
                    { base: [{ description: 'Comment: cannot be blank', error: 'BlankValue' }] });
                return;
            }
            data.nextId += 1;
            const c = comment(data.nextId, AGENT_ID, body, req.comment.public !== false, new Date().toISOString());
            data.comments[t.id].push(c);
            events.push({ id: c.id, type: 'Comment', body, public: c.public });
        }
        for (const k of Object.keys(req)) {
            if (k !== 'comment' && k in t && JSON.stringify(t[k]) !== JSON.stringify(req[k])) {
                events.push({ type: 'Change', field_name: k, value: req[k], previous_value: t[k] });
            }
        }
        applyCommon(t, req);
        if (Array.isArray(req.additional_tags)) t.tags = [...new Set([...t.tags, ...req.additional_tags])];
        if (Array.isArray(req.remove_tags)) t.tags = t.tags.filter((x) => !req.remove_tags.includes(x));
        t.updated_at = new Date().toISOString();
        send(res, 200, { ticket: { ...t, url: `${base}/api/v2/tickets/${t.id}.json` }, audit: audit(data, t, events) });
    }
}

/* Every call authenticates as the API token user: "{email}/token" and the token. */
function common(rec) {
    assert.deepEqual(basic(rec.headers), { user: `${EMAIL}/token`, pass: API_TOKEN });
}

function jsonOf(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    search_tickets: {
        args: { query: 'type:ticket status<solved tags:refund order', sort_by: 'updated_at', sort_order: 'desc', per_page: 25, page: 1 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/v2/search');
            assert.deepEqual(queryOf(rec), {
                query: 'type:ticket status<solved tags:refund order', sort_by: 'updated_at', sort_order: 'desc', per_page: '25', page: '1',
            });
            const sc = res.structuredContent;
            assert.equal(sc.count, 1);
            assert.deepEqual(sc.results.map((r) => [r.id, r.result_type]), [[4521, 'ticket']]);
            assert.equal(sc.next_page, null);
        },
    },
    get_ticket: {
        args: { ticket_id: 4521 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/v2/tickets/4521');
            assert.equal(rec.body, '');
            assert.equal(res.structuredContent.ticket.id, 4521);
            assert.equal(res.structuredContent.ticket.subject, 'Charged twice for order 12345');
            assert.equal(res.structuredContent.ticket.requester_id, REQUESTER_ID);
        },
    },
    list_ticket_comments: {
        args: { ticket_id: 4521 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/v2/tickets/4521/comments');
            const sc = res.structuredContent;
            assert.equal(sc.count, 2);
            assert.deepEqual(sc.comments.map((c) => [c.id, c.public]), [[7001, true], [7003, false]]);
        },
    },
    create_ticket: {
        args: {
            ticket: {
                subject: 'Refund not received',
                comment: { body: 'Customer says the refund for order 12345 has not arrived.', public: false },
                requester: { name: 'Ann Other', email: 'ann@other.example' },
                priority: 'high',
                type: 'problem',
                tags: ['billing'],
                custom_fields: [{ id: 360001234567, value: '12345' }],
            },
        },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/api/v2/tickets');
            assert.deepEqual(jsonOf(rec), cases.create_ticket.args);
            const t = res.structuredContent.ticket;
            assert.ok(t.id > 4600, JSON.stringify(t));
            assert.equal(t.description, 'Customer says the refund for order 12345 has not arrived.');
            assert.equal(t.priority, 'high');
            assert.deepEqual(t.custom_fields, [{ id: 360001234567, value: '12345' }]);
            // The unknown requester email became an end user.
            const u = fake.data.users.find((x) => x.email === 'ann@other.example');
            assert.equal(t.requester_id, u.id);
            assert.equal(res.structuredContent.audit.events[0].public, false);
        },
    },
    update_ticket: {
        args: {
            ticket_id: 4521,
            ticket: {
                comment: { body: 'Refund of 49.00 issued in Stripe (re_123).', public: false },
                status: 'pending',
                additional_tags: ['refunded'],
                remove_tags: ['refund'],
            },
        },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'PUT');
            assert.equal(rec.pathname, '/api/v2/tickets/4521');
            assert.deepEqual(jsonOf(rec), { ticket: cases.update_ticket.args.ticket });
            const t = res.structuredContent.ticket;
            assert.equal(t.status, 'pending');
            assert.deepEqual(t.tags, ['billing', 'refunded']);
            const last = fake.data.comments[4521].at(-1);
            assert.deepEqual([last.body, last.public], ['Refund of 49.00 issued in Stripe (re_123).', false]);
        },
    },
    reply_to_ticket: {
        args: {
            ticket_id: 4521,
            ticket: { comment: { body: 'Hi Joe, we refunded the duplicate charge of 49.00.', public: true }, status: 'solved' },
        },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'PUT');
            assert.equal(rec.pathname, '/api/v2/tickets/4521');
            assert.deepEqual(jsonOf(rec), { ticket: cases.reply_to_ticket.args.ticket });
            assert.equal(res.structuredContent.ticket.status, 'solved');
            const last = fake.data.comments[4521].at(-1);
            assert.deepEqual([last.body, last.public], ['Hi Joe, we refunded the duplicate charge of 49.00.', true]);
        },
    },
    get_user: {
        args: { user_id: REQUESTER_ID },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/api/v2/users/${REQUESTER_ID}`);
            const u = res.structuredContent.user;
            assert.deepEqual([u.id, u.name, u.email, u.role], [REQUESTER_ID, 'Joe Bloggs', 'joe@bloggs.example', 'end-user']);
        },
    },
};

export const errors = [
    // A ticket id that names nothing.
    { tool: 'get_ticket', args: { ticket_id: 99999 }, match: /^Zendesk API error: HTTP 404: RecordNotFound: Not found$/ },
    // A closed ticket cannot be changed: 422 with the field's description in details.
    {
        tool: 'update_ticket',
        args: { ticket_id: 4388, ticket: { comment: { body: 'Reopening.', public: false } } },
        match: /^Zendesk API error: HTTP 422: RecordInvalid: Record validation errors \(status: Status: closed prevents ticket update\)$/,
    },
];
