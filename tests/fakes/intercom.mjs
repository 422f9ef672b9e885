// A fake of the Intercom REST API (version 2.14) for the catalog's intercom connector: search
// conversations and contacts, read a conversation, list teammates, add a note, reply, close and
// assign. Shapes follow the 2.14 reference, https://developers.intercom.com/docs/references/rest-api/api.intercom.io
// (its OpenAPI document, github.com/intercom/Intercom-OpenAPI descriptions/2.14/api.intercom.io.yaml):
//
//   every request     Authorization: Bearer <access token>; else 401 with the error list
//                     {"type": "error.list", "request_id", "errors": [{"code": "unauthorized",
//                     "message": "Access Token Invalid"}]}. Intercom-Version names a version.
//   POST /conversations/search    {query, pagination: {per_page, starting_after}}
//                     -> {"type": "conversation.list", "pages", "total_count", "conversations"}
//   GET  /conversations/{id}[?display_as=plaintext]   -> a conversation with conversation_parts
//   POST /contacts/search         -> {"type": "list", "data", "total_count", "pages"}
//   GET  /admins                  -> {"type": "admin.list", "admins"}
//   POST /conversations/{id}/reply   {message_type: comment|note, type: admin, admin_id, body}
//   POST /conversations/{id}/parts   {message_type: close, type: admin, admin_id} or
//                     {message_type: assignment, type: admin|team, admin_id, assignee_id}
//   An unknown conversation is 404 {"code": "not_found", "message": "Resource Not Found"}, as
//   every conversation endpoint documents.

import assert from 'node:assert/strict';

import { bearer, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'intercom';

const TOKEN = 'dG9rOmZha2VfaW50ZXJjb21fdG9rZW5fMTIzNDU2Nzg5MA==';
export const credential = { token: TOKEN };

/* The versions the Intercom-Version header may name (the 2.14 document's intercom_version enum). */
const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4', '2.0', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6',
    '2.7', '2.8', '2.9', '2.10', '2.11', '2.12', '2.13', '2.14', 'Unstable'];

const ADMIN = { type: 'admin', id: '991267696', name: 'Jane Agent', email: 'jane.agent@example.com' };
const TEAMMATE = { type: 'admin', id: '991267715', name: 'Omar Lead', email: 'omar.lead@example.com' };
const TEAM_ID = '5017691';
const CUSTOMER = { type: 'contact', id: '6762f1571bb69f9f2193bbbb', external_id: 'cus_70' };

export function seed() {
    const conv = (id, state, author, subject, body, waiting, parts) => ({
        type: 'conversation',
        id,
        title: subject,
        created_at: 1717000000,
        updated_at: 1717100000,
        waiting_since: waiting,
        snoozed_until: null,
        source: {
            type: 'conversation', id: `4039${id.slice(-5)}`, delivered_as: 'customer_initiated', subject,
            body, author, attachments: [], url: null, redacted: false,
        },
        contacts: { type: 'contact.list', contacts: [CUSTOMER] },
        first_contact_reply: { created_at: 1717000000, type: 'conversation', url: null },
        admin_assignee_id: null,
        team_assignee_id: null,
        open: state !== 'closed',
        state,
        read: false,
        tags: { type: 'tag.list', tags: [] },
        priority: 'not_priority',
        custom_attributes: {},
        conversation_parts: { type: 'conversation_part.list', conversation_parts: parts, total_count: parts.length },
    });
    const customer = { type: 'user', id: CUSTOMER.id, name: 'Joe Bloggs', email: 'joe@bloggs.example' };
    return {
        admins: [
            { ...ADMIN, away_mode_enabled: false, away_mode_reassign: false, has_inbox_seat: true, team_ids: [Number(TEAM_ID)] },
            { ...TEAMMATE, away_mode_enabled: false, away_mode_reassign: false, has_inbox_seat: true, team_ids: [] },
        ],
        teams: [TEAM_ID],
        contacts: [
            {
                type: 'contact', id: CUSTOMER.id, workspace_id: 'ecahpwf5', external_id: 'cus_70', role: 'user',
                email: 'joe@bloggs.example', phone: null, name: 'Joe Bloggs', created_at: 1716000000,
                last_seen_at: 1717100000, custom_attributes: { plan: 'pro' },
                companies: { type: 'list', data: [], total_count: 0, has_more: false },
            },
            {
                type: 'contact', id: '6762f1571bb69f9f2193bccc', workspace_id: 'ecahpwf5', external_id: null, role: 'lead',
                email: 'ann@other.example', phone: null, name: 'Ann Other', created_at: 1716500000,
                last_seen_at: 1716600000, custom_attributes: {},
                companies: { type: 'list', data: [], total_count: 0, has_more: false },
            },
        ],
        conversations: [
            conv('215469321982573', 'open', customer, 'Refund for order 1234',
                '<p>I was charged twice for order 1234, please refund one.</p>', 1717100000, [
                    {
                        type: 'conversation_part', id: '132', part_type: 'comment',
                        body: '<p>Here is the receipt.</p>', created_at: 1717050000, updated_at: 1717050000,
                        notified_at: 1717050000, assigned_to: null, author: customer, attachments: [],
                        external_id: null, redacted: false,
                    },
                ]),
            conv('215469321982574', 'closed', customer, 'Password reset',
                '<p>How do I reset my password?</p>', null, []),
        ],
        nextPart: 200,
    };
}

/* Intercom's error list (the "error" schema of the reference). */
function error(res, status, code, message) {
    send(res, status, {
        type: 'error.list',
        request_id: `fake-${Date.now().toString(16)}`,
        errors: [{ code, message }],
    });
}

/* The JSON body, or undefined after answering as Intercom does for another media type (415). */
function body(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        // The HTTP responses page documents 415 for a content type the API does not accept.
        error(res, 415, 'unsupported_media_type', "The server doesn't accept the submitted content-type.");
        return undefined;
    }
    try {
        const v = JSON.parse(rec.body);
        if (v && typeof v === 'object' && !Array.isArray(v)) return v;
    } catch {
        // Answered below.
    }
    error(res, 400, 'parameter_invalid', 'Request body is not a JSON object');
    return undefined;
}

/* A field of a searched object by its dotted name, with Intercom's derived search fields. */
function field(o, name) {
    if (name === 'contact_ids') return o.contacts.contacts.map((c) => c.id);
    if (name === 'tag_ids') return o.tags.tags.map((t) => t.id);
    if (name === 'admin_assignee_id' || name === 'team_assignee_id') {
        return o[name] === null ? '0' : String(o[name]);
    }
    return name.split('.').reduce((v, k) => (v === null || v === undefined ? undefined : v[k]), o);
}

/*
 * Whether o matches a search query: {field, operator, value} or {operator: AND|OR, value:
 * [queries]}, with the operators of the search pages. Throws a message for a malformed query,
 * which the caller answers as Intercom's 400 parameter_invalid.
 */
function matches(o, q) {
    if (!q || typeof q !== 'object') throw new Error('query must be an object');
    if (q.operator === 'AND' || q.operator === 'OR') {
        if (!Array.isArray(q.value) || q.value.length === 0) throw new Error(`${q.operator} needs an array of queries`);
        if (q.value.length > 15) throw new Error('at most 15 filters per AND or OR group');
        const r = q.value.map((sub) => matches(o, sub));
        return q.operator === 'AND' ? r.every(Boolean) : r.some(Boolean);
    }
    if (typeof q.field !== 'string') throw new Error('field is required');
    const have = field(o, q.field);
    const all = Array.isArray(have) ? have : [have];
    const str = (x) => (x === null || x === undefined ? '' : String(x));
    const one = (h) => {
        switch (q.operator) {
        case '=': return h === q.value || (typeof h !== 'object' && str(h) === str(q.value));
        case '!=': return str(h) !== str(q.value);
        case 'IN': return Array.isArray(q.value) && q.value.map(str).includes(str(h));
        case 'NIN': return Array.isArray(q.value) && !q.value.map(str).includes(str(h));
        case '>': return Number(h) > Number(q.value);
        case '<': return Number(h) < Number(q.value);
        case '~': return str(h).toLowerCase().includes(str(q.value).toLowerCase());
        case '!~': return !str(h).toLowerCase().includes(str(q.value).toLowerCase());
        case '^': return str(h).startsWith(str(q.value));
        case '$': return str(h).endsWith(str(q.value));
        default: throw new Error(`operator ${JSON.stringify(q.operator)} is not supported`);
        }
    };
    if (q.field === 'source.body' && q.operator === '=') {
        // Matched word by word (the search page: "=" with "support" finds "I need support").
        const words = str(have).replace(/<[^>]*>/g, ' ').toLowerCase().split(/[^a-z0-9]+/);
        return words.includes(str(q.value).toLowerCase());
    }
    return q.operator === 'NIN' || q.operator === '!=' || q.operator === '!~' ? all.every(one) : all.some(one);
}

/* Runs a search request body over items: the page of results and its "pages" object. */
function search(req, items, res) {
    if (!req.query) {
        error(res, 400, 'parameter_not_found', 'query is required');
        return null;
    }
    const per = req.pagination?.per_page ?? 20;
    if (!Number.isInteger(per) || per < 1 || per > 150) {
        error(res, 400, 'parameter_invalid', 'per_page must be between 1 and 150');
        return null;
    }
    let found;
    try {
        found = items.filter((o) => matches(o, req.query));
    } catch (err) {
        error(res, 400, 'parameter_invalid', err.message);
        return null;
    }
    // The cursor is the index to start at, opaque to the client as Intercom's is.
    const start = req.pagination?.starting_after ? Number(Buffer.from(req.pagination.starting_after, 'base64').toString()) : 0;
    const page = found.slice(start, start + per);
    const pages = { type: 'pages', page: Math.floor(start / per) + 1, per_page: per, total_pages: Math.max(1, Math.ceil(found.length / per)) };
    if (start + per < found.length) {
        pages.next = { page: pages.page + 1, starting_after: Buffer.from(String(start + per)).toString('base64') };
    }
    return { page, pages, total: found.length };
}

function withoutParts(c) {
    const { conversation_parts: _parts, ...rest } = c;
    return rest;
}

function adminOf(fake, id, res) {
    const a = fake.data.admins.find((x) => x.id === String(id));
    // The admins endpoints document 404 admin_not_found for an admin id that names nobody.
    if (!a) error(res, 404, 'admin_not_found', 'Admin not found');
    return a;
}

function addPart(fake, c, partType, adminId, bodyHtml, assignedTo = null) {
    fake.data.nextPart += 1;
    const a = fake.data.admins.find((x) => x.id === String(adminId));
    const now = Math.floor(Date.now() / 1000);
    const part = {
        type: 'conversation_part', id: String(fake.data.nextPart), part_type: partType, body: bodyHtml,
        created_at: now, updated_at: now, notified_at: now, assigned_to: assignedTo,
        author: { id: a.id, type: 'admin', name: a.name, email: a.email }, attachments: [],
        external_id: null, redacted: false,
    };
    c.conversation_parts.conversation_parts.push(part);
    c.conversation_parts.total_count += 1;
    c.updated_at = now;
    return part;
}

/* A plain-text body becomes a paragraph, as the Inbox stores it; HTML is kept. */
function html(s) {
    return /<[a-z][^>]*>/i.test(s) ? s : `<p>${s.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</p>`;
}

export function handle(fake, rec, res) {
    if (bearer(rec.headers) !== TOKEN) {
        error(res, 401, 'unauthorized', 'Access Token Invalid');
        return;
    }
    const version = rec.headers['intercom-version'];
    if (version !== undefined && !VERSIONS.includes(version)) {
        error(res, 400, 'intercom_version_invalid', 'The requested version could not be found');
        return;
    }
    const p = rec.pathname;
    const data = fake.data;
    let m;
    if (rec.method === 'POST' && p === '/conversations/search') {
        const req = body(rec, res);
        if (!req) return;
        const r = search(req, data.conversations, res);
        if (!r) return;
        send(res, 200, { type: 'conversation.list', pages: r.pages, total_count: r.total, conversations: r.page.map(withoutParts) });
        return;
    }
    if (rec.method === 'POST' && p === '/contacts/search') {
        const req = body(rec, res);
        if (!req) return;
        const r = search(req, data.contacts, res);
        if (!r) return;
        send(res, 200, { type: 'list', data: r.page, total_count: r.total, pages: r.pages });
        return;
    }
    if (rec.method === 'GET' && p === '/admins') {
        send(res, 200, { type: 'admin.list', admins: data.admins });
        return;
    }
    if ((m = /^\/conversations\/([^/]+)(\/reply|\/parts)?$/.exec(p))) {
        const c = data.conversations.find((x) => x.id === decodeURIComponent(m[1]));
        const action = m[2] || '';
        if (!(rec.method === 'GET' && action === '') && !(rec.method === 'POST' && action !== '')) return;
        if (!c) {
            error(res, 404, 'not_found', 'Resource Not Found');
            return;
        }
        if (action === '') {
            const plain = queryOf(rec).display_as === 'plaintext';
            const strip = (s) => (typeof s === 'string' ? s.replace(/<[^>]*>/g, '') : s);
            const out = structuredClone(c);
            if (plain) {
                out.source.body = strip(out.source.body);
                for (const part of out.conversation_parts.conversation_parts) part.body = strip(part.body);
            }
            send(res, 200, out);
            return;
        }
        const req = body(rec, res);
        if (!req) return;
        if (action === '/reply') {
            if (!['comment', 'note', 'quick_reply'].includes(req.message_type)) {
                error(res, 400, 'parameter_invalid', 'message_type must be comment, note or quick_reply');
                return;
            }
            if (req.type !== 'admin' && req.type !== 'user') {
                error(res, 400, 'parameter_invalid', 'type must be admin or user');
                return;
            }
            if (req.type === 'admin' && (req.admin_id === undefined || req.admin_id === null)) {
                error(res, 400, 'parameter_not_found', 'admin_id is required');
                return;
            }
            if (typeof req.body !== 'string' || req.body === '') {
                error(res, 400, 'parameter_not_found', 'Body is required');
                return;
            }
            if (!adminOf(fake, req.admin_id, res)) return;
            addPart(fake, c, req.message_type, req.admin_id, html(req.body));
            if (req.message_type === 'comment') c.waiting_since = null;
            send(res, 200, c);
            return;
        }
        // /parts: the four request shapes of manageConversation.
        if (req.admin_id === undefined || req.admin_id === null) {
            error(res, 400, 'parameter_not_found', 'admin_id is required');
            return;
        }
        if (req.message_type === 'close') {
            if (req.type !== 'admin') {
                error(res, 400, 'parameter_invalid', 'type must be admin');
                return;
            }
            if (!adminOf(fake, req.admin_id, res)) return;
            addPart(fake, c, 'close', req.admin_id, req.body ? html(req.body) : null);
            c.state = 'closed';
            c.open = false;
            send(res, 200, c);
            return;
        }
        if (req.message_type === 'assignment') {
            if (req.type !== 'admin' && req.type !== 'team') {
                error(res, 400, 'parameter_invalid', 'type must be admin or team');
                return;
            }
            if (req.assignee_id === undefined || req.assignee_id === null) {
                error(res, 400, 'parameter_not_found', 'assignee_id is required');
                return;
            }
            if (!adminOf(fake, req.admin_id, res)) return;
            const to = String(req.assignee_id);
            const known = req.type === 'admin' ? data.admins.some((a) => a.id === to) : data.teams.includes(to);
            if (to !== '0' && !known) {
                error(res, 404, req.type === 'admin' ? 'admin_not_found' : 'team_not_found',
                    req.type === 'admin' ? 'Admin not found' : 'Team not found');
                return;
            }
            const reopen = c.state === 'closed';
            if (req.type === 'admin') c.admin_assignee_id = to === '0' ? null : Number(to);
            else c.team_assignee_id = to === '0' ? null : to;
            addPart(fake, c, reopen ? 'assign_and_reopen' : 'assignment', req.admin_id, null,
                to === '0' ? null : { type: req.type, id: to });
            if (reopen) {
                c.state = 'open';
                c.open = true;
            }
            send(res, 200, c);
            return;
        }
        if (req.message_type === 'open' || req.message_type === 'snoozed') {
            error(res, 400, 'parameter_invalid', 'the fake implements close and assignment only');
            return;
        }
        error(res, 400, 'parameter_invalid', 'message_type must be close, snoozed, open or assignment');
    }
}

/* What every call must carry: the token as bearer and the pinned API version. */
function common(rec) {
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.headers['intercom-version'], '2.14');
    assert.equal(rec.headers.accept, 'application/json');
}

function jsonOf(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    search_conversations: {
        args: {
            query: {
                operator: 'AND',
                value: [
                    { field: 'state', operator: '=', value: 'open' },
                    { field: 'source.author.email', operator: '=', value: 'joe@bloggs.example' },
                ],
            },
            pagination: { per_page: 5 },
        },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/conversations/search');
            assert.deepEqual(jsonOf(rec), cases.search_conversations.args);
            const sc = res.structuredContent;
            assert.equal(sc.type, 'conversation.list');
            assert.equal(sc.total_count, 1);
            assert.deepEqual(sc.conversations.map((c) => c.id), ['215469321982573']);
            assert.equal(sc.conversations[0].conversation_parts, undefined, 'search answers carry no parts');
            assert.equal(sc.pages.per_page, 5);
        },
    },
    get_conversation: {
        args: { conversation_id: '215469321982573', display_as: 'plaintext' },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/conversations/215469321982573');
            assert.deepEqual(queryOf(rec), { display_as: 'plaintext' });
            assert.equal(rec.body, '');
            const sc = res.structuredContent;
            assert.equal(sc.id, '215469321982573');
            assert.equal(sc.source.body, 'I was charged twice for order 1234, please refund one.');
            assert.equal(sc.conversation_parts.conversation_parts[0].body, 'Here is the receipt.');
        },
    },
    search_contacts: {
        args: { query: { field: 'email', operator: '=', value: 'joe@bloggs.example' } },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/contacts/search');
            assert.deepEqual(jsonOf(rec), { query: { field: 'email', operator: '=', value: 'joe@bloggs.example' } });
            assert.equal(res.structuredContent.type, 'list');
            assert.equal(res.structuredContent.total_count, 1);
            assert.equal(res.structuredContent.data[0].id, CUSTOMER.id);
        },
    },
    list_admins: {
        args: {},
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/admins');
            assert.equal(rec.query, '');
            assert.equal(res.structuredContent.type, 'admin.list');
            assert.deepEqual(res.structuredContent.admins.map((a) => a.email), [ADMIN.email, TEAMMATE.email]);
        },
    },
    add_note: {
        args: { conversation_id: '215469321982573', admin_id: ADMIN.id, body: 'Charged twice: refund <approved> by finance' },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/conversations/215469321982573/reply');
            assert.deepEqual(jsonOf(rec), {
                message_type: 'note', type: 'admin', admin_id: ADMIN.id, body: 'Charged twice: refund <approved> by finance',
            });
            const parts = res.structuredContent.conversation_parts.conversation_parts;
            assert.equal(parts.at(-1).part_type, 'note');
            assert.equal(parts.at(-1).author.id, ADMIN.id);
            assert.equal(fake.data.conversations[0].conversation_parts.conversation_parts.at(-1).part_type, 'note');
        },
    },
    reply_to_conversation: {
        args: { conversation_id: '215469321982573', admin_id: ADMIN.id, body: 'Hi Joe, the duplicate charge is refunded.' },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/conversations/215469321982573/reply');
            assert.deepEqual(jsonOf(rec), {
                message_type: 'comment', type: 'admin', admin_id: ADMIN.id, body: 'Hi Joe, the duplicate charge is refunded.',
            });
            const parts = res.structuredContent.conversation_parts.conversation_parts;
            assert.equal(parts.at(-1).part_type, 'comment');
            assert.equal(parts.at(-1).body, '<p>Hi Joe, the duplicate charge is refunded.</p>');
            assert.equal(res.structuredContent.waiting_since, null);
        },
    },
    close_conversation: {
        args: { conversation_id: '215469321982573', admin_id: ADMIN.id },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/conversations/215469321982573/parts');
            assert.deepEqual(jsonOf(rec), { message_type: 'close', type: 'admin', admin_id: ADMIN.id });
            assert.equal(res.structuredContent.state, 'closed');
            assert.equal(res.structuredContent.open, false);
        },
    },
    assign_conversation: {
        args: { conversation_id: '215469321982574', admin_id: ADMIN.id, assignee_type: 'team', assignee_id: TEAM_ID },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/conversations/215469321982574/parts');
            assert.deepEqual(jsonOf(rec), { message_type: 'assignment', type: 'team', admin_id: ADMIN.id, assignee_id: TEAM_ID });
            assert.equal(res.structuredContent.team_assignee_id, TEAM_ID);
            // The conversation was closed: assigning reopens it.
            assert.equal(res.structuredContent.state, 'open');
            assert.equal(res.structuredContent.conversation_parts.conversation_parts.at(-1).part_type, 'assign_and_reopen');
        },
    },
};

// The runtime has no Intercom reading of the error list yet, so the message is the list itself
// (HTTP 404: {"type":"error.list",...,"message":"Resource Not Found"}); the patterns also
// accept "Intercom API error: HTTP 404: Resource Not Found" once it has one.
export const errors = [
    // A conversation id that names nothing: 404 with the documented error list.
    // The message and code of errors[0] (the connector's response.error).
    { tool: 'get_conversation', args: { conversation_id: '999999999' }, match: /^intercom API error: HTTP 404: Resource Not Found \(code not_found\)$/ },
    // A teammate id that names nobody: refused before anything is written.
    {
        tool: 'add_note',
        args: { conversation_id: '215469321982573', admin_id: '1', body: 'x' },
        match: /^intercom API error: HTTP 404: Admin not found \(code admin_not_found\)$/,
    },
];
