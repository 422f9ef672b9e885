// A fake of the Gong API v2 for the catalog's gong connector, per Gong's API reference
// (https://help.gong.io/apidocs; the pages "List all calls" GET /v2/calls, "Retrieve data for a
// specific call" GET /v2/calls/{id}, "Retrieve detailed call data by various filters" POST
// /v2/calls/extensive, "Retrieve transcripts of calls" POST /v2/calls/transcript and "List all
// users" GET /v2/users) and its introduction:
//
//   Auth: "Authorization: Basic base64(<accessKey>:<accessKeySecret>)".
//   Lists answer {requestId, records: {totalRecords, currentPageSize, currentPageNumber,
//   cursor?}, <items>}; the cursor is present only when there are more records.
//   Errors: {requestId, errors: ["..."]}. A filter that matches no call is 404 "No calls found
//   corresponding to the provided filters" (not an empty list); fromDateTime and toDateTime are
//   required on GET /v2/calls; the POST endpoints want a JSON body with a filter object.

import assert from 'node:assert/strict';

import { basic, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'gong';

export const credential = { username: 'GONGFAKEACCESSKEY7Q2', password: 'eyJhbGciOiJGQUtFIn0.contract-fake-gong-secret' };

const USERS = [
    { id: '234599484848423', emailAddress: 'sam.seller@example.com', firstName: 'Sam', lastName: 'Seller', title: 'Account Executive', active: true, managerId: '234599484848400' },
    { id: '234599484848400', emailAddress: 'maya.manager@example.com', firstName: 'Maya', lastName: 'Manager', title: 'Sales Director', active: true, managerId: null },
];

function call(id, title, started, duration, host) {
    return {
        id, url: `https://app.gong.io/call?id=${id}`, title, scheduled: started, started, duration,
        primaryUserId: host, direction: 'Conference', system: 'Zoom', scope: 'External', media: 'Video',
        language: 'eng', workspaceId: '623457276584334', sdrDisposition: null, clientUniqueId: null,
        customData: null, purpose: null, meetingUrl: 'https://zoom.us/j/123456789', isPrivate: false,
        calendarEventId: null,
    };
}

export function seed() {
    return {
        calls: [
            {
                metaData: call('7782342274025937895', 'Acme <> Example: pricing', '2025-03-04T16:00:00Z', 1860, USERS[0].id),
                parties: [
                    { id: '56825452554556', emailAddress: 'sam.seller@example.com', name: 'Sam Seller', title: 'Account Executive', userId: USERS[0].id, speakerId: '6432345678555530067', affiliation: 'Internal', methods: ['Invitee'] },
                    { id: '56825452554557', emailAddress: 'jane.doe@acme.example', name: 'Jane Doe', title: 'VP Operations', userId: null, speakerId: '6432345678555530068', affiliation: 'External', methods: ['Invitee'] },
                ],
                content: {
                    brief: 'Acme wants 200 seats on a 3-year term; pricing is the open question.',
                    keyPoints: [{ text: 'Budget approved for Q2' }, { text: 'Security review needed' }],
                    highlights: [{ title: 'Next steps', items: [{ text: 'Send a revised quote by Friday' }] }],
                    callOutcome: { id: '1', category: 'Positive', name: 'Moved forward' },
                    topics: [{ name: 'Pricing', duration: 640 }],
                    trackers: [{ id: '1', name: 'Competitors', count: 1, type: 'KEYWORD' }],
                },
                transcript: [
                    { speakerId: '6432345678555530067', topic: 'Pricing', sentences: [{ start: 460230, end: 462343, text: 'Shall we go over the quote?' }] },
                    { speakerId: '6432345678555530068', topic: 'Pricing', sentences: [{ start: 462900, end: 466100, text: 'Yes, a three-year term works for us.' }] },
                ],
            },
            {
                metaData: call('7782342274025937999', 'Globex renewal check-in', '2025-03-10T18:30:00Z', 900, USERS[1].id),
                parties: [],
                content: { brief: 'Renewal on track.' },
                transcript: [],
            },
        ],
    };
}

function gongError(res, status, ...errors) {
    send(res, status, { requestId: `fake${Math.random().toString(36).slice(2, 12)}`, errors });
}

function records(n) {
    return { totalRecords: n, currentPageSize: n, currentPageNumber: 0 };
}

/* The calls matching a filter {callIds, fromDateTime, toDateTime, primaryUserIds, workspaceId}. */
function matching(fake, f) {
    const from = f.fromDateTime ? Date.parse(f.fromDateTime) : -Infinity;
    const to = f.toDateTime ? Date.parse(f.toDateTime) : Infinity;
    return fake.data.calls.filter((c) => {
        const t = Date.parse(c.metaData.started);
        return t >= from && t < to &&
            (!f.callIds || f.callIds.includes(c.metaData.id)) &&
            (!f.primaryUserIds || f.primaryUserIds.includes(c.metaData.primaryUserId)) &&
            (!f.workspaceId || f.workspaceId === c.metaData.workspaceId);
    });
}

/* The JSON body with its filter object, or undefined after answering 400. */
function filterBody(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') return gongError(res, 415, 'Content type must be application/json');
    let b;
    try {
        b = JSON.parse(rec.body);
    } catch {
        return gongError(res, 400, 'Malformed JSON request');
    }
    if (!b || typeof b.filter !== 'object' || b.filter === null) return gongError(res, 400, 'filter: must not be null');
    for (const k of ['fromDateTime', 'toDateTime']) {
        if (b.filter[k] !== undefined && Number.isNaN(Date.parse(b.filter[k]))) return gongError(res, 400, `filter.${k}: invalid date format`);
    }
    return b;
}

/* One call of /v2/calls/extensive with the parts contentSelector asks for. */
function extensive(c, sel) {
    const out = { metaData: c.metaData };
    const ex = (sel && sel.exposedFields) || {};
    if (ex.parties) out.parties = c.parties;
    if (ex.content) {
        out.content = {};
        for (const [k, on] of Object.entries(ex.content)) if (on && c.content[k] !== undefined) out.content[k] = c.content[k];
    }
    if (sel && (sel.context === 'Basic' || sel.context === 'Extended')) {
        out.context = [{ system: 'Salesforce', objects: [{ objectType: 'Opportunity', objectId: '006Dn00000A1b2cIAB', fields: sel.context === 'Extended' ? [{ name: 'StageName', value: 'Prospecting' }] : undefined }] }];
    }
    return out;
}

export function handle(fake, rec, res) {
    const b = basic(rec.headers);
    if (!b || b.user !== credential.username || b.pass !== credential.password)
        return gongError(res, 401, 'Unauthorized: the access key or its secret is wrong');
    const p = rec.pathname;
    if (p === '/v2/calls' && rec.method === 'GET') {
        const q = queryOf(rec);
        if (!q.fromDateTime || !q.toDateTime) return gongError(res, 400, 'fromDateTime and toDateTime are required');
        if (Number.isNaN(Date.parse(q.fromDateTime)) || Number.isNaN(Date.parse(q.toDateTime)))
            return gongError(res, 400, 'invalid date format');
        const found = matching(fake, q);
        if (!found.length) return gongError(res, 404, 'No calls found corresponding to the provided filters');
        return send(res, 200, { requestId: 'fakelist', records: records(found.length), calls: found.map((c) => c.metaData) });
    }
    let m = /^\/v2\/calls\/(\d{1,20})$/.exec(p);
    if (m && rec.method === 'GET') {
        const c = fake.data.calls.find((x) => x.metaData.id === m[1]);
        if (!c) return gongError(res, 404, `Call ${m[1]} was not found`);
        return send(res, 200, { requestId: 'fakeone', call: c.metaData });
    }
    if (p === '/v2/calls/extensive' && rec.method === 'POST') {
        const body = filterBody(rec, res);
        if (!body) return undefined;
        const found = matching(fake, body.filter);
        if (!found.length) return gongError(res, 404, 'No calls found corresponding to the provided filters');
        return send(res, 200, { requestId: 'fakeext', records: records(found.length), calls: found.map((c) => extensive(c, body.contentSelector)) });
    }
    if (p === '/v2/calls/transcript' && rec.method === 'POST') {
        const body = filterBody(rec, res);
        if (!body) return undefined;
        const found = matching(fake, body.filter);
        if (!found.length) return gongError(res, 404, 'No calls found corresponding to the provided filters');
        return send(res, 200, { requestId: 'faketr', records: records(found.length), callTranscripts: found.map((c) => ({ callId: c.metaData.id, transcript: c.transcript })) });
    }
    if (p === '/v2/users' && rec.method === 'GET') {
        const avatars = queryOf(rec).includeAvatars === 'true';
        return send(res, 200, { requestId: 'fakeusers', records: records(USERS.length), users: USERS.map((u) => (avatars ? { ...u, avatarUrl: `https://app.gong.io/avatars/${u.id}.png` } : u)) });
    }
    return gongError(res, 404, 'Not Found');
}

const ACME = '7782342274025937895';

function basicOk(rec) {
    assert.equal(rec.headers.authorization, `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`);
}

export const cases = {
    list_calls: {
        args: { fromDateTime: '2025-03-01T00:00:00Z', toDateTime: '2025-03-08T00:00:00Z' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/v2/calls');
            assert.deepEqual(queryOf(rec), { fromDateTime: '2025-03-01T00:00:00Z', toDateTime: '2025-03-08T00:00:00Z' });
            basicOk(rec);
            assert.deepEqual(result.structuredContent.calls.map((c) => c.id), [ACME], 'only the call inside the week');
        },
    },
    get_call: {
        args: { id: ACME },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/v2/calls/${ACME}`);
            basicOk(rec);
            assert.equal(result.structuredContent.call.title, 'Acme <> Example: pricing');
            assert.equal(result.structuredContent.call.duration, 1860);
        },
    },
    get_call_details: {
        args: {
            filter: { callIds: [ACME] },
            contentSelector: { context: 'Extended', exposedFields: { parties: true, content: { brief: true, keyPoints: true } } },
        },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/v2/calls/extensive');
            assert.equal(mediaType(rec.headers), 'application/json');
            basicOk(rec);
            const b = JSON.parse(rec.body);
            assert.deepEqual(b.filter, { callIds: [ACME] });
            assert.deepEqual(b.contentSelector.exposedFields, { parties: true, content: { brief: true, keyPoints: true } });
            const c = result.structuredContent.calls[0];
            assert.equal(c.metaData.id, ACME);
            assert.equal(c.parties[1].affiliation, 'External');
            assert.match(c.content.brief, /3-year term/);
            assert.equal(c.content.highlights, undefined, 'only the parts asked for');
            assert.equal(c.context[0].objects[0].objectId, '006Dn00000A1b2cIAB');
        },
    },
    get_transcripts: {
        args: { filter: { callIds: [ACME] } },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/v2/calls/transcript');
            assert.deepEqual(JSON.parse(rec.body), { filter: { callIds: [ACME] } });
            const t = result.structuredContent.callTranscripts;
            assert.equal(t.length, 1);
            assert.equal(t[0].callId, ACME);
            assert.equal(t[0].transcript[1].sentences[0].text, 'Yes, a three-year term works for us.');
        },
    },
    list_users: {
        args: { includeAvatars: false },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/v2/users');
            assert.equal(queryOf(rec).includeAvatars, 'false');
            basicOk(rec);
            assert.deepEqual(result.structuredContent.users.map((u) => u.emailAddress), ['sam.seller@example.com', 'maya.manager@example.com']);
        },
    },
};

export const errors = [
    { tool: 'list_calls', args: { fromDateTime: '2024-01-01T00:00:00Z', toDateTime: '2024-01-02T00:00:00Z' }, match: /^gong API error: HTTP 404: No calls found corresponding to the provided filters$/ },
    { tool: 'get_transcripts', args: { filter: { fromDateTime: 'last tuesday' } }, match: /HTTP 400: filter\.fromDateTime: invalid date format/ },
];
