// A fake of Microsoft Graph v1.0 (Outlook mail and calendar) for the catalog's outlook connector,
// and of the Microsoft identity platform's token endpoint that m365_files.mjs shares.
//
// Token endpoint, per "Microsoft identity platform and the OAuth 2.0 client credentials flow"
// (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
// POST /{tenant}/oauth2/v2.0/token, application/x-www-form-urlencoded client_id, scope
// (https://graph.microsoft.com/.default), client_secret and grant_type=client_credentials;
// answers {"token_type": "Bearer", "expires_in", "ext_expires_in", "access_token"}. Errors:
// {"error", "error_description" (AADSTS...), "error_codes", "timestamp", "trace_id",
// "correlation_id"}, 400 or 401 (invalid_client for a wrong secret).
//
// Graph (https://learn.microsoft.com/en-us/graph/api/overview?view=graph-rest-1.0), each
// under /users/{id | userPrincipalName}: "List messages" GET .../mailFolders/{id}/messages (10
// per page, newest first), "Get message" GET .../messages/{id}, "Create message" POST
// .../messages (201, a draft), "message: createReply" POST .../messages/{id}/createReply
// {"comment"} (201, a draft), "message: send" POST .../messages/{id}/send (202, no body),
// "List calendarView" GET .../calendarView?startDateTime&endDateTime (both required),
// "List messages" with $filter, $top (1 to 1000) and $skip, and GET .../messages?$search="..."
// (search-query-parameter: the value in double quotes, from/subject/body by default, newest
// first, paged by $skiptoken; $search cannot be combined with $filter or $skip); a page that
// does not hold the rest has "@odata.nextLink", the same request for the next page
// ("Paging Microsoft Graph data in your app"),
// "calendar: getSchedule" POST .../calendar/getSchedule, "Create event" POST .../events (201;
// attendees receive a meeting request). The header Prefer: outlook.body-content-type="text"
// returns bodies as text ("Preference-Applied"). Errors: {"error": {"code", "message",
// "innerError": {"date", "request-id", "client-request-id"}}}: 401 InvalidAuthenticationToken,
// 404 ErrorItemNotFound / ErrorInvalidUser, 400 ErrorInvalidParameter.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { bearer, formPairs, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'outlook';

export const MS_CREDENTIAL = Object.freeze({
    tenant_id: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    client_id: '6731de76-14a6-49ae-97bc-6eba6914391e',
    client_secret: 'Fk~8Q~contract.fake.graph.secret_0123456789',
});
export const credential = MS_CREDENTIAL;
// The Microsoft identity platform's token endpoint (login.microsoftonline.com, another host than
// Graph), per tenant: mandate fills in {credential.tenant_id} from the credential, as it does in
// the connector's own auth.token_url.
export const tokenPath = '/{credential.tenant_id}/oauth2/v2.0/token';

/* Graph's error body. */
export function graphError(res, status, code, message) {
    send(res, status, { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': crypto.randomUUID(), 'client-request-id': crypto.randomUUID() } } });
}

/* The token endpoint shared by the Microsoft fakes; returns true when rec was a token request. */
export function msToken(fake, rec, res) {
    const m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(rec.pathname);
    if (!m) return false;
    const fail = (status, error, code, description) => send(res, status, {
        error, error_description: `AADSTS${code}: ${description} Trace ID: ${crypto.randomUUID()}`, error_codes: [code],
        timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z', trace_id: crypto.randomUUID(), correlation_id: crypto.randomUUID(),
    });
    if (rec.method !== 'POST') return fail(400, 'invalid_request', 900561, 'The endpoint only accepts POST requests.'), true;
    if (m[1] !== MS_CREDENTIAL.tenant_id) return fail(400, 'invalid_tenant', 90002, `Tenant '${m[1]}' not found.`), true;
    if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded') return fail(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'."), true;
    const form = Object.fromEntries(formPairs(rec.body));
    if (form.grant_type !== 'client_credentials') return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.'), true;
    if (form.scope !== 'https://graph.microsoft.com/.default') return fail(400, 'invalid_scope', 1002012, `The provided value for scope ${form.scope || ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`), true;
    if (form.client_id !== MS_CREDENTIAL.client_id) return fail(400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id}' was not found in the directory.`), true;
    if (form.client_secret !== MS_CREDENTIAL.client_secret) return fail(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.'), true;
    const token = `eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.${crypto.randomBytes(16).toString('base64url')}.fake`;
    fake.data.tokens.add(token);
    send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
    return true;
}

/* Whether rec carries an issued token; answers 401 in Graph's shape when not. */
export function msAuthorized(fake, rec, res) {
    if (fake.data.tokens.has(bearer(rec.headers) || '')) return true;
    graphError(res, 401, 'InvalidAuthenticationToken', 'Access token is empty.');
    return false;
}

/* The JSON body of a Graph call, or undefined after answering 400. */
export function graphBody(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        graphError(res, 415, 'UnsupportedMediaType', 'Content-Type must be application/json');
        return undefined;
    }
    try {
        return JSON.parse(rec.body);
    } catch {
        graphError(res, 400, 'BadRequest', 'Unable to read JSON request payload.');
        return undefined;
    }
}

const TEXT = 'outlook.body-content-type="text"';

function msg(user, id, folder, from, subject, received, text, extra = {}) {
    return {
        '@odata.etag': `W/"${id.slice(-8)}"`, id, createdDateTime: received, lastModifiedDateTime: received, receivedDateTime: received, sentDateTime: received,
        hasAttachments: false, internetMessageId: `<${id.slice(-12)}@mail.example>`, subject, bodyPreview: text.slice(0, 255), importance: 'normal',
        parentFolderId: folder, conversationId: `AAQkAD${id.slice(-10)}`, isRead: false, isDraft: false,
        webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(id)}&exvsurl=1&viewmodel=ReadMessageItem`,
        body: { contentType: 'html', content: `<html><body><p>${text}</p></body></html>` },
        sender: { emailAddress: from }, from: { emailAddress: from },
        toRecipients: [{ emailAddress: { name: user, address: user } }], ccRecipients: [], bccRecipients: [],
        folder, ...extra,
    };
}

/* The mailbox and calendar of a user of the tenant (example.com), seeded on first use. */
function mailbox(fake, user) {
    if (!fake.data.boxes.has(user)) {
        const jane = { name: 'Jane Doe', address: 'jane.doe@acme.example' };
        const messages = new Map();
        for (const m of [
            msg(user, 'AAMkAGI2TG93AAA=', 'inbox', jane, 'Pricing for 200 seats', '2025-03-05T10:12:00Z', 'Hi, could you send the revised quote for a three-year term?'),
            msg(user, 'AAMkAGI2TG94AAA=', 'inbox', { name: 'IT', address: 'it@example.com' }, 'Password policy', '2025-03-04T08:00:00Z', 'Reminder: rotate passwords.'),
            msg(user, 'AAMkAGI2TG95AAA=', 'sentitems', { name: user, address: user }, 'Intro', '2025-03-01T09:00:00Z', 'Nice to meet you.'),
            msg(user, 'AAMkAGI2TG96AAA=', 'inbox', { name: 'Sam', address: 'sam@example.com' }, 'Lunch?', '2025-03-05T11:30:00Z', 'Tacos at noon?', { isRead: true }),
        ]) messages.set(m.id, m);
        const events = [{
            id: 'AAMkAGI2TGuLAAA=', subject: 'Acme <> Example: pricing', bodyPreview: 'Agenda: quote, term',
            start: { dateTime: '2025-03-14T15:00:00.0000000', timeZone: 'UTC' }, end: { dateTime: '2025-03-14T15:45:00.0000000', timeZone: 'UTC' },
            location: { displayName: 'Microsoft Teams Meeting' }, isOnlineMeeting: true, onlineMeeting: { joinUrl: 'https://teams.microsoft.com/l/meetup-join/fake' },
            organizer: { emailAddress: { name: user, address: user } }, attendees: [{ type: 'required', status: { response: 'none' }, emailAddress: jane }],
            webLink: 'https://outlook.office365.com/owa/?itemid=AAMkAGI2TGuLAAA%3D&exvsurl=1&path=/calendar/item',
        }];
        fake.data.boxes.set(user, { messages, events });
    }
    return fake.data.boxes.get(user);
}

export function seed() {
    return { tokens: new Set(), boxes: new Map(), next: 1 };
}

/* A message as Graph returns it: the body as text when the Prefer header asks. */
function shown(m, rec) {
    const { folder, ...out } = m;
    if ((rec.headers.prefer || '').includes(TEXT)) out.body = { contentType: 'text', content: m.body.content.replace(/<[^>]+>/g, '') };
    return out;
}

function sendShown(res, status, body, rec) {
    const headers = (rec.headers.prefer || '').includes(TEXT) ? { 'Preference-Applied': TEXT } : {};
    send(res, status, body, headers);
}

export const GRAPH = 'https://graph.microsoft.com/v1.0';

/* A non-negative integer query option, or null (absent), or NaN (malformed). */
function intOption(q, name, max) {
    if (q[name] === undefined) return null;
    const n = /^\d+$/.test(q[name]) ? Number(q[name]) : NaN;
    return n <= max ? n : NaN;
}

/*
 * One page of items by $top (default size, at most max) from an offset, and "@odata.nextLink"
 * (this request with the next offset as nextParam, written by encodeNext) when more remain;
 * null after answering 400.
 */
export function page(rec, res, items, offset, nextParam, encodeNext = String, { size: def = 10, max = 1000 } = {}) {
    const q = queryOf(rec);
    const top = intOption(q, '$top', max);
    if (Number.isNaN(top) || top === 0) return graphError(res, 400, 'ErrorInvalidParameter', "The value of the parameter '$top' is invalid."), null;
    const size = top === null ? def : top;
    const out = { value: items.slice(offset, offset + size) };
    if (offset + size < items.length) {
        const next = new URLSearchParams(rec.query);
        next.delete('$skip');
        next.delete('$skiptoken');
        next.set(nextParam, encodeNext(offset + size));
        out['@odata.nextLink'] = `${GRAPH}${rec.pathname}?${next.toString()}`;
    }
    return out;
}

/* The messages a $filter keeps: conditions on isRead, hasAttachments, receivedDateTime joined by "and". */
function filtered(messages, filter) {
    const conds = filter.split(/\s+and\s+/i).map((c) => /^\s*(isRead|hasAttachments|receivedDateTime)\s+(eq|ge|lt)\s+(true|false|\d{4}-\d\d-\d\dT[\d:.]+Z)\s*$/.exec(c));
    if (conds.some((c) => !c)) return null;
    return messages.filter((x) => conds.every(([, f, op, v]) => {
        if (f === 'receivedDateTime') return op === 'ge' ? x[f] >= v : op === 'lt' ? x[f] < v : x[f] === v;
        return op === 'eq' && String(x[f]) === v;
    }));
}

function newId(fake) {
    return `AAMkAGFake${String(fake.data.next++).padStart(6, '0')}AAA=`;
}

export function handle(fake, rec, res) {
    if (msToken(fake, rec, res)) return undefined;
    if (!msAuthorized(fake, rec, res)) return undefined;
    const um = /^\/users\/([^/]+)(\/.*)$/.exec(rec.pathname);
    if (!um) return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${rec.pathname.split('/')[1]}'.`);
    const user = decodeURIComponent(um[1]);
    if (!/^[^@\s]+@example\.com$/.test(user)) return graphError(res, 404, 'ErrorInvalidUser', `The requested user '${user}' is invalid.`);
    fake.data.lastUser = user;
    const box = mailbox(fake, user);
    const p = um[2];
    const q = queryOf(rec);
    const notFound = () => graphError(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    let m = /^\/mailFolders\/(\w+)\/messages$/.exec(p);
    if (m && rec.method === 'GET') {
        let list = [...box.messages.values()].filter((x) => x.folder === m[1]).sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime));
        if (q.$filter !== undefined) {
            list = filtered(list, q.$filter);
            if (!list) return graphError(res, 400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
        }
        const skip = intOption(q, '$skip', Infinity);
        if (Number.isNaN(skip)) return graphError(res, 400, 'ErrorInvalidParameter', "The value of the parameter '$skip' is invalid.");
        const pg = page(rec, res, list, skip || 0, '$skip');
        if (!pg) return undefined;
        return sendShown(res, 200, { '@odata.context': `${GRAPH}/$metadata#users('${user}')/mailFolders('${m[1]}')/messages`, ...pg, value: pg.value.map((x) => shown(x, rec)) }, rec);
    }
    if (p === '/messages' && rec.method === 'GET') {
        const s = q.$search;
        if (s === undefined) return graphError(res, 400, 'BadRequest', 'This fake lists messages by folder or by $search only.');
        if (q.$filter !== undefined || q.$skip !== undefined || q.$orderby !== undefined)
            return graphError(res, 400, 'ErrorInvalidParameter', 'The query parameter $search cannot be combined with $filter, $orderby or $skip.');
        if (!/^"[^"]+"$/.test(s)) return graphError(res, 400, 'BadRequest', `Syntax error: the $search value ${s} must be enclosed in double quotes.`);
        const words = s.slice(1, -1).toLowerCase().split(/\s+/).filter(Boolean);
        const hits = [...box.messages.values()].filter((x) => words.every((w) => `${x.from.emailAddress.address} ${x.subject} ${x.body.content}`.toLowerCase().includes(w)))
            .sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime));
        // The skip token is opaque to clients; this fake's is the offset in base64.
        const from = q.$skiptoken === undefined ? 0 : Number(Buffer.from(q.$skiptoken, 'base64').toString());
        if (!Number.isInteger(from) || from < 0) return graphError(res, 400, 'BadRequest', 'The $skiptoken is not valid.');
        const pg = page(rec, res, hits, from, '$skiptoken', (n) => Buffer.from(String(n)).toString('base64'));
        if (!pg) return undefined;
        return sendShown(res, 200, { '@odata.context': `${GRAPH}/$metadata#users('${user}')/messages`, ...pg, value: pg.value.map((x) => shown(x, rec)) }, rec);
    }
    if (p === '/messages' && rec.method === 'POST') {
        const b = graphBody(rec, res);
        if (!b) return undefined;
        const id = newId(fake);
        const d = msg(user, id, 'drafts', { name: user, address: user }, b.subject || '', new Date().toISOString(), '', {
            ...b, isDraft: true, isRead: true, body: b.body || { contentType: 'text', content: '' },
            toRecipients: b.toRecipients || [], ccRecipients: b.ccRecipients || [], bccRecipients: b.bccRecipients || [],
        });
        box.messages.set(id, d);
        return sendShown(res, 201, shown(d, rec), rec);
    }
    m = /^\/messages\/([^/]+)(\/createReply|\/send)?$/.exec(p);
    if (m) {
        const orig = box.messages.get(decodeURIComponent(m[1]));
        if (!orig) return notFound();
        if (!m[2] && rec.method === 'GET') return sendShown(res, 200, shown(orig, rec), rec);
        if (m[2] === '/createReply' && rec.method === 'POST') {
            const b = graphBody(rec, res);
            if (!b) return undefined;
            const id = newId(fake);
            const d = msg(user, id, 'drafts', { name: user, address: user }, `RE: ${orig.subject}`, new Date().toISOString(), b.comment || '', {
                isDraft: true, isRead: true, conversationId: orig.conversationId, toRecipients: [{ emailAddress: orig.from.emailAddress }],
                body: { contentType: 'html', content: `<html><body><p>${b.comment || ''}</p><hr><p>${orig.body.content.replace(/<[^>]+>/g, '')}</p></body></html>` },
            });
            box.messages.set(id, d);
            return sendShown(res, 201, shown(d, rec), rec);
        }
        if (m[2] === '/send' && rec.method === 'POST') {
            if (!orig.isDraft) return graphError(res, 400, 'ErrorInvalidOperation', 'Only draft messages can be sent.');
            if (!orig.toRecipients.length && !orig.ccRecipients.length && !orig.bccRecipients.length)
                return graphError(res, 400, 'ErrorInvalidRecipients', 'At least one recipient is not valid., A message can\'t be sent because it contains no recipients.');
            orig.isDraft = false;
            orig.folder = 'sentitems';
            fake.data.sent = orig;
            res.writeHead(202, { 'Content-Length': 0 });
            res.end();
            return undefined;
        }
    }
    if (p === '/calendarView' && rec.method === 'GET') {
        if (!q.startDateTime || !q.endDateTime)
            return graphError(res, 400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
        const [lo, hi] = [Date.parse(q.startDateTime), Date.parse(q.endDateTime)];
        if (Number.isNaN(lo) || Number.isNaN(hi)) return graphError(res, 400, 'ErrorInvalidParameter', "The value of the parameter 'StartDateTime' is invalid.");
        const skip = intOption(q, '$skip', Infinity);
        if (Number.isNaN(skip)) return graphError(res, 400, 'ErrorInvalidParameter', "The value of the parameter '$skip' is invalid.");
        const pg = page(rec, res, box.events.filter((e) => Date.parse(`${e.end.dateTime}Z`) > lo && Date.parse(`${e.start.dateTime}Z`) < hi), skip || 0, '$skip');
        if (!pg) return undefined;
        return sendShown(res, 200, pg, rec);
    }
    if (p === '/calendar/getSchedule' && rec.method === 'POST') {
        const b = graphBody(rec, res);
        if (!b) return undefined;
        if (!Array.isArray(b.schedules) || !b.startTime || !b.endTime) return graphError(res, 400, 'ErrorInvalidParameter', 'Schedules, StartTime and EndTime are required.');
        const value = b.schedules.map((s) => {
            if (!s.endsWith('@example.com')) return { scheduleId: s, error: { message: 'The specified user could not be found.', responseCode: 'ErrorMailRecipientNotFound' } };
            const items = mailbox(fake, s).events.map((e) => ({ isPrivate: false, status: 'busy', subject: e.subject, start: e.start, end: e.end }));
            return { scheduleId: s, availabilityView: '0020', scheduleItems: items, workingHours: { daysOfWeek: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'], startTime: '08:00:00.0000000', endTime: '17:00:00.0000000', timeZone: { name: 'UTC' } } };
        });
        return send(res, 200, { '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)', value });
    }
    if (p === '/events' && rec.method === 'POST') {
        const b = graphBody(rec, res);
        if (!b) return undefined;
        if (!b.start || !b.end) return graphError(res, 400, 'ErrorInvalidRequest', 'Your request can\'t be completed. The start and end times are required.');
        const id = newId(fake);
        const ev = { id, ...b, organizer: { emailAddress: { name: user, address: user } }, attendees: (b.attendees || []).map((a) => ({ type: 'required', ...a, status: { response: 'none', time: '0001-01-01T00:00:00Z' } })),
            webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
            ...(b.isOnlineMeeting ? { onlineMeeting: { joinUrl: `https://teams.microsoft.com/l/meetup-join/${id}` } } : {}) };
        box.events.push(ev);
        // Outlook sends a meeting request to every attendee when the event is created.
        fake.data.invited = ev.attendees.map((a) => a.emailAddress.address);
        return send(res, 201, ev);
    }
    return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${p.split('/')[1]}'.`);
}

/* The caller's mailbox path: /users/<the entitled test user's email>. */
function callerPath(rec) {
    const m = /^\/users\/([^/]+)\//.exec(rec.pathname);
    assert.ok(m, rec.pathname);
    const user = decodeURIComponent(m[1]);
    assert.match(user, /^user.*@example\.com$/, 'the path names the calling employee, from the directory');
    assert.match(rec.headers.authorization, /^Bearer eyJ0eXAi/);
    return user;
}

const MSG = 'AAMkAGI2TG93AAA=';

export const cases = {
    list_messages: {
        args: { folder: 'inbox', filter: 'isRead eq false', top: 1 },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/mailFolders/inbox/messages`);
            // The arguments go out as Graph's OData system query options.
            assert.equal(rec.query, '%24filter=isRead%20eq%20false&%24top=1');
            assert.equal(rec.headers.prefer, TEXT);
            const sc = result.structuredContent;
            assert.deepEqual(sc.value.map((x) => x.subject), ['Pricing for 200 seats'], 'the newest unread message of the inbox, one per page');
            assert.deepEqual(sc.value[0].body, { contentType: 'text', content: 'Hi, could you send the revised quote for a three-year term?' });
            assert.equal(new URL(sc['@odata.nextLink']).searchParams.get('$skip'), '1');
        },
    },
    search_messages: {
        args: { query: '"quote"', top: 5 },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/messages`);
            assert.equal(rec.query, '%24search=%22quote%22&%24top=5');
            assert.deepEqual(result.structuredContent.value.map((x) => x.subject), ['Pricing for 200 seats']);
            assert.equal(result.structuredContent['@odata.nextLink'], undefined);
        },
    },
    get_message: {
        args: { id: MSG },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/messages/${encodeURIComponent(MSG)}`);
            assert.equal(result.structuredContent.from.emailAddress.address, 'jane.doe@acme.example');
        },
    },
    create_draft: {
        args: { subject: 'Revised quote', body: { contentType: 'text', content: 'Hi Jane, attached is the quote.' }, toRecipients: [{ emailAddress: { address: 'jane.doe@acme.example', name: 'Jane Doe' } }] },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            callerPath(rec);
            assert.match(rec.pathname, /\/messages$/);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { subject: 'Revised quote', body: { contentType: 'text', content: 'Hi Jane, attached is the quote.' }, toRecipients: [{ emailAddress: { address: 'jane.doe@acme.example', name: 'Jane Doe' } }] });
            assert.equal(result.structuredContent.isDraft, true);
            fake.data.draft = result.structuredContent.id;
        },
    },
    create_reply_draft: {
        args: { id: MSG, comment: 'Thanks Jane, the quote follows today.' },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/messages/${encodeURIComponent(MSG)}/createReply`);
            assert.deepEqual(JSON.parse(rec.body), { comment: 'Thanks Jane, the quote follows today.' });
            assert.equal(result.structuredContent.subject, 'RE: Pricing for 200 seats');
            assert.equal(result.structuredContent.toRecipients[0].emailAddress.address, 'jane.doe@acme.example');
        },
    },
    send_draft: {
        // The draft create_draft's case made: the first id the fake hands out.
        args: { id: 'AAMkAGFake000001AAA=' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/messages/${encodeURIComponent('AAMkAGFake000001AAA=')}/send`);
            assert.equal(rec.body, '');
            assert.match(result.content[0].text, /202/);
            assert.equal(fake.data.sent.subject, 'Revised quote');
        },
    },
    calendar_view: {
        args: { startDateTime: '2025-03-14T00:00:00Z', endDateTime: '2025-03-15T00:00:00Z', top: 5, skip: 0 },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/calendarView`);
            assert.deepEqual(queryOf(rec), { startDateTime: '2025-03-14T00:00:00Z', endDateTime: '2025-03-15T00:00:00Z', $top: '5', $skip: '0' });
            assert.deepEqual(result.structuredContent.value.map((e) => e.subject), ['Acme <> Example: pricing']);
        },
    },
    get_schedule: {
        args: { schedules: ['sam@example.com', 'jane.doe@acme.example'], startTime: { dateTime: '2025-03-14T08:00:00', timeZone: 'UTC' }, endTime: { dateTime: '2025-03-14T18:00:00', timeZone: 'UTC' }, availabilityViewInterval: 60 },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/calendar/getSchedule`);
            assert.equal(JSON.parse(rec.body).availabilityViewInterval, 60);
            const v = result.structuredContent.value;
            assert.equal(v[0].scheduleItems[0].status, 'busy');
            assert.equal(v[1].error.responseCode, 'ErrorMailRecipientNotFound', 'people outside the organization cannot be checked');
        },
    },
    schedule_meeting: {
        args: {
            subject: 'Acme demo', start: { dateTime: '2025-03-21T16:00:00', timeZone: 'UTC' }, end: { dateTime: '2025-03-21T16:30:00', timeZone: 'UTC' },
            attendees: [{ emailAddress: { address: 'jane.doe@acme.example', name: 'Jane Doe' }, type: 'required' }], isOnlineMeeting: true, onlineMeetingProvider: 'teamsForBusiness',
        },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            const user = callerPath(rec);
            assert.equal(rec.pathname, `/users/${encodeURIComponent(user)}/events`);
            assert.equal(JSON.parse(rec.body).onlineMeetingProvider, 'teamsForBusiness');
            assert.deepEqual(fake.data.invited, ['jane.doe@acme.example']);
            assert.equal(result.structuredContent.organizer.emailAddress.address, user);
            assert.match(result.structuredContent.onlineMeeting.joinUrl, /^https:\/\/teams\.microsoft\.com\//);
        },
    },
};

export const errors = [
    { tool: 'get_message', args: { id: 'AAMkNoSuchMessage=' }, match: /^outlook API error: HTTP 404: The specified object was not found in the store\.$/ },
    { tool: 'send_draft', args: { id: MSG }, match: /HTTP 400: Only draft messages can be sent\./ },
    { tool: 'list_messages', args: { folder: 'inbox', filter: 'subject has quote' }, match: /^outlook API error: HTTP 400: The query filter contains one or more invalid nodes\.$/ },
];
