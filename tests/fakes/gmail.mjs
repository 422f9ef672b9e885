// A fake of the Gmail API v1 for the catalog's gmail connector, per its REST reference
// (https://developers.google.com/workspace/gmail/api/reference/rest): users.threads.list
// GET /users/me/threads (q, maxResults, pageToken, labelIds, includeSpamTrash), users.threads.get
// GET /users/me/threads/{id} (format, metadataHeaders), users.messages.get
// GET /users/me/messages/{id}, users.drafts.create POST /users/me/drafts {"message": {"raw",
// "threadId"}} and users.drafts.send POST /users/me/drafts/send {"id"}. "me" is the user the
// access token acts as (domain-wide delegation: the JWT's sub). Message bodies travel as
// base64url (RFC 4648 section 5) in payload.parts[].body.data and in raw. Errors are Google's
// {"error": {"code", "message", "errors", "status"}}: 404 "Requested entity was not found.",
// 400 "Invalid To header" / "Recipient address required" for a draft sent without recipients.
// The token endpoint is the one google_calendar.mjs fakes.

import assert from 'node:assert/strict';

import { SERVICE_ACCOUNT, googleBody, googleError, googleToken, googleUser, subjectOf } from './google_calendar.mjs';
import { bearer, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'gmail';
export const credential = SERVICE_ACCOUNT;
// Google's token endpoint, served by googleToken at this path (google_calendar.mjs).
export const tokenPath = '/token';

const SCOPES = ['https://www.googleapis.com/auth/gmail.readonly', 'https://www.googleapis.com/auth/gmail.compose'];
const B64 = (s) => Buffer.from(s, 'utf8').toString('base64url');

function message(id, threadId, from, to, subject, date, text, labelIds) {
    return {
        id, threadId, labelIds, snippet: text.slice(0, 100), historyId: '9001', internalDate: String(Date.parse(date)), sizeEstimate: 1200,
        payload: {
            partId: '', mimeType: 'multipart/alternative', filename: '',
            headers: [
                { name: 'From', value: from }, { name: 'To', value: to }, { name: 'Subject', value: subject },
                { name: 'Date', value: new Date(date).toUTCString() }, { name: 'Message-ID', value: `<${id}@mail.example>` },
            ],
            body: { size: 0 },
            parts: [{ partId: '0', mimeType: 'text/plain', filename: '', headers: [{ name: 'Content-Type', value: 'text/plain; charset="UTF-8"' }], body: { size: text.length, data: B64(text) } }],
        },
    };
}

/* The mailbox of a user, seeded on first use. */
function mailbox(fake, user) {
    if (!fake.data.boxes.has(user)) {
        const msgs = [
            message('18e4c2f3a9b1d2e7', '18e4c2f3a9b1d2e7', 'Jane Doe <jane.doe@acme.example>', user, 'Pricing for 200 seats', '2025-03-05T10:12:00Z',
                'Hi, could you send the revised quote for a three-year term?', ['INBOX', 'UNREAD']),
            message('18e4c3aa00000001', '18e4c2f3a9b1d2e7', user, 'Jane Doe <jane.doe@acme.example>', 'Re: Pricing for 200 seats', '2025-03-05T11:00:00Z',
                'Sure, I will send it by Friday.', ['SENT']),
            message('18e50000deadbeef', '18e50000deadbeef', 'Newsletter <news@vendor.example>', user, 'Weekly digest', '2025-03-06T07:00:00Z',
                'This week in widgets.', ['INBOX']),
        ];
        fake.data.boxes.set(user, { messages: new Map(msgs.map((m) => [m.id, m])), drafts: new Map() });
    }
    return fake.data.boxes.get(user);
}

export function seed() {
    return { tokens: new Map(), boxes: new Map(), next: 1 };
}

/* A message in the requested format: minimal drops the payload, metadata keeps some headers. */
function formatted(m, q, all) {
    const format = q.format || 'full';
    if (format === 'minimal') return (({ payload, ...rest }) => rest)(m);
    if (format === 'metadata') {
        const want = all.metadataHeaders ? all.metadataHeaders.map((h) => h.toLowerCase()) : null;
        const headers = m.payload.headers.filter((h) => !want || want.includes(h.name.toLowerCase()));
        return { ...m, payload: { mimeType: m.payload.mimeType, headers } };
    }
    return m;
}

/* The query of rec with repeated names kept as arrays (metadataHeaders, labelIds). */
function multiQuery(rec) {
    const out = {};
    for (const [k, v] of new URLSearchParams(rec.query)) (out[k] ||= []).push(v);
    return out;
}

/* Gmail's search, as far as the cases use it: from:, to:, subject: terms and plain words. */
function matches(m, q) {
    const header = (n) => (m.payload.headers.find((h) => h.name.toLowerCase() === n) || {}).value || '';
    return q.split(/\s+/).filter(Boolean).every((term) => {
        const t = /^(from|to|subject):(.+)$/i.exec(term);
        if (t) return header(t[1].toLowerCase()).toLowerCase().includes(t[2].toLowerCase());
        return (header('subject') + ' ' + m.snippet).toLowerCase().includes(term.toLowerCase());
    });
}

export function handle(fake, rec, res) {
    if (googleToken(fake, rec, res, SCOPES)) return undefined;
    const user = googleUser(fake, rec, res);
    if (!user) return undefined;
    const box = mailbox(fake, user);
    const q = queryOf(rec);
    const all = multiQuery(rec);
    const p = rec.pathname;
    const notFound = () => googleError(res, 404, 'NOT_FOUND', 'notFound', 'Requested entity was not found.');
    if (p === '/users/me/threads' && rec.method === 'GET') {
        const threads = new Map();
        for (const m of [...box.messages.values()].sort((a, b) => b.internalDate - a.internalDate)) {
            if (q.q && !matches(m, q.q)) continue;
            if (all.labelIds && !all.labelIds.every((l) => m.labelIds.includes(l))) continue;
            if (!threads.has(m.threadId)) threads.set(m.threadId, { id: m.threadId, snippet: m.snippet, historyId: m.historyId });
        }
        const list = [...threads.values()].slice(0, Number(q.maxResults || 100));
        return send(res, 200, { threads: list, resultSizeEstimate: list.length });
    }
    let m = /^\/users\/me\/threads\/([0-9a-fA-F]+)$/.exec(p);
    if (m && rec.method === 'GET') {
        const msgs = [...box.messages.values()].filter((x) => x.threadId === m[1]).sort((a, b) => a.internalDate - b.internalDate);
        if (!msgs.length) return notFound();
        return send(res, 200, { id: m[1], historyId: '9001', messages: msgs.map((x) => formatted(x, q, all)) });
    }
    m = /^\/users\/me\/messages\/([0-9a-fA-F]+)$/.exec(p);
    if (m && rec.method === 'GET') {
        const msg = box.messages.get(m[1]);
        return msg ? send(res, 200, formatted(msg, q, all)) : notFound();
    }
    if (p === '/users/me/drafts' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b) return undefined;
        const raw = b.message && b.message.raw;
        if (typeof raw !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(raw))
            return googleError(res, 400, 'INVALID_ARGUMENT', 'invalidArgument', "Invalid value for ByteString: the message's raw is not base64url");
        const text = Buffer.from(raw, 'base64url').toString('utf8');
        if (!/\r?\n\r?\n/.test(text)) return googleError(res, 400, 'INVALID_ARGUMENT', 'invalidArgument', 'Invalid RFC 2822 message: no header section');
        if (b.message.threadId && ![...box.messages.values()].some((x) => x.threadId === b.message.threadId)) return notFound();
        const n = fake.data.next++;
        const id = `r-58245613741254312${String(n).padStart(2, '0')}`;
        const msgId = `18e6${String(n).padStart(12, '0')}`;
        const draft = { id, message: { id: msgId, threadId: b.message.threadId || msgId, labelIds: ['DRAFT'] }, rfc822: text };
        box.drafts.set(id, draft);
        return send(res, 200, { id, message: draft.message });
    }
    if (p === '/users/me/drafts/send' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b) return undefined;
        const d = box.drafts.get(b.id);
        if (!d) return notFound();
        const to = /^to:\s*(.+)$/im.exec(d.rfc822.split(/\r?\n\r?\n/)[0]);
        if (!to) return googleError(res, 400, 'FAILED_PRECONDITION', 'failedPrecondition', 'Recipient address required');
        box.drafts.delete(b.id);
        const sent = { id: d.message.id, threadId: d.message.threadId, labelIds: ['SENT'] };
        fake.data.sent = { to: to[1].trim(), rfc822: d.rfc822 };
        return send(res, 200, sent);
    }
    return notFound();
}

const THREAD = '18e4c2f3a9b1d2e7';

function meAsCaller(rec, fake) {
    assert.match(rec.headers.authorization, /^Bearer ya29\.c\.fake-/);
    assert.match(subjectOf(fake, rec), /^user.*@example\.com$/, 'the JWT names the calling employee');
    assert.deepEqual(fake.data.tokens.get(bearer(rec.headers)).scope, SCOPES);
}

const RAW = B64('To: Jane Doe <jane.doe@acme.example>\r\nSubject: Re: Pricing for 200 seats\r\nIn-Reply-To: <18e4c2f3a9b1d2e7@mail.example>\r\nReferences: <18e4c2f3a9b1d2e7@mail.example>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Jane, the revised quote is attached.\r\n');

export const cases = {
    search_threads: {
        args: { q: 'from:jane.doe@acme.example pricing', maxResults: 10 },
        check(rec, result, fake) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/users/me/threads');
            assert.deepEqual(queryOf(rec), { q: 'from:jane.doe@acme.example pricing', maxResults: '10' });
            meAsCaller(rec, fake);
            assert.deepEqual(result.structuredContent.threads.map((t) => t.id), [THREAD]);
        },
    },
    get_thread: {
        args: { id: THREAD, format: 'metadata', metadataHeaders: ['From', 'Subject'] },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/users/me/threads/${THREAD}`);
            assert.equal(rec.query, 'format=metadata&metadataHeaders=From&metadataHeaders=Subject', 'a list goes as repeated parameters');
            const msgs = result.structuredContent.messages;
            assert.equal(msgs.length, 2);
            assert.deepEqual(msgs[0].payload.headers.map((h) => h.name), ['From', 'Subject']);
        },
    },
    get_message: {
        args: { id: THREAD },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/users/me/messages/${THREAD}`);
            const part = result.structuredContent.payload.parts[0];
            assert.equal(Buffer.from(part.body.data, 'base64url').toString('utf8'), 'Hi, could you send the revised quote for a three-year term?');
        },
    },
    create_draft: {
        args: { message: { raw: RAW, threadId: THREAD } },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/users/me/drafts');
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { message: { raw: RAW, threadId: THREAD } });
            assert.match(result.structuredContent.id, /^r-/);
            assert.equal(result.structuredContent.message.threadId, THREAD);
            assert.deepEqual(result.structuredContent.message.labelIds, ['DRAFT']);
            fake.data.lastDraft = result.structuredContent.id;
        },
    },
    send_draft: {
        // The draft that create_draft's case made (the cases run in the catalog's order).
        args: { id: 'r-5824561374125431201' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/users/me/drafts/send');
            assert.deepEqual(JSON.parse(rec.body), { id: 'r-5824561374125431201' });
            assert.deepEqual(result.structuredContent.labelIds, ['SENT']);
            assert.equal(fake.data.sent.to, 'Jane Doe <jane.doe@acme.example>');
        },
    },
};

export const errors = [
    { tool: 'get_thread', args: { id: 'ffffffffffffffff' }, match: /^gmail API error: HTTP 404: Requested entity was not found\.$/ },
    { tool: 'send_draft', args: { id: 'r-0000000000000000000' }, match: /HTTP 404: Requested entity was not found\./ },
];
