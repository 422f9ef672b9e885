// A fake of the Chorus (ZoomInfo) API for the catalog's chorus connector, per Chorus's published
// OpenAPI document (https://chorus.ai/api/openapi.json, shown at https://api-docs.chorus.ai/):
//
//   Auth: the API token as the whole Authorization header ("Authorization:<token>", the example
//   of the document's introduction), no scheme word.
//   GET /v3/engagements ("Get conversations"): flat query filters (min_date, max_date,
//   participants_email, user_id, team_id, engagement_id, engagement_type, min_duration,
//   max_duration, with_trackers, continuation_key); answers application/json
//   {"continuation_key", "engagements": [{engagement_id, subject, engagement_type, date_time
//   (Unix seconds), duration, participants, user_email, url, ...}]}.
//   GET /api/v1/conversations/{id} ("Fetch a specific conversation"): optional fields (a
//   comma-delimited list of the documented field names) and include_meeting_metadata; answers a
//   JSON:API document application/vnd.api+json {"data": {"type": "recording", "id",
//   "attributes"}}.
//   Errors: the JSON:API envelope {"errors": [{"status", "title", "detail", "source"}]} as
//   application/vnd.api+json (components.schemas.Error; BadRequest 400, NotFound 404).

import assert from 'node:assert/strict';

import { queryOf, send } from './lib.mjs';

export const connector = 'chorus';

export const credential = { Authorization: 'c7f3a1fakechorustoken0123456789abcdef' };

const JSONAPI = 'application/vnd.api+json';
const FIELDS = new Set(['account', 'company_name', '_created_at', '_modified_at', 'deal', 'disposition', 'language', 'metrics',
    'meeting.id', 'name', 'owner', 'owner.email', 'participants', 'private', 'recording', 'recording.audio_only',
    'recording.autojoin', 'recording.autojoin_reason', 'recording.clusters', 'recording.duration', 'recording.end_reason',
    'recording.recordable', 'recording.schedule_end_time', 'recording.schedule_start_time', 'recording.start_time',
    'recording.thumbnails', 'recording.trackers', 'recording.utterances', 'source', 'status', 'user_company_name']);

const ID = 'EE8ED5BBBC254177B8201B9D84855949';

export function seed() {
    const rep = { company_name: 'Example Inc', email: 'sam.seller@example.com', name: 'Sam Seller', person_id: 18272271, title: 'Account Executive', type: 'rep', user_id: 305921 };
    const cust = { company_name: 'Acme', email: 'jane.doe@acme.example', name: 'Jane Doe', person_id: 18272272, title: 'VP Operations', type: 'cust', user_id: null };
    return {
        engagements: [
            {
                account_id: '001Dn00000Xy1zAIAR', account_name: 'Acme', compliance: 'compliant', date_time: 1741104000,
                disposition_connected: true, disposition_gatekeeper: false, disposition_tree: false, disposition_voicemail: false,
                duration: 1860.5, engagement_id: ID, engagement_type: 'meeting', initiator: 'sam.seller@example.com', language: 'en',
                no_show: false, num_cust_questions: 4, num_engaging_questions: 2, opportunity_id: '006Dn00000A1b2cIAB',
                opportunity_name: 'Acme - 200 Widgets', participants: [rep, cust], processing_state: 'done', subject: 'Acme pricing call',
                tracker_matches: [{ name: 'Pricing', num_matches: 3, type: 'chorus' }],
                url: `https://chorus.ai/meeting/${ID}`, user_email: rep.email, user_id: rep.user_id, user_name: rep.name,
            },
            {
                account_id: '', account_name: 'Globex', compliance: 'compliant', date_time: 1741631400, disposition_connected: true,
                disposition_gatekeeper: false, disposition_tree: false, disposition_voicemail: false, duration: 300,
                engagement_id: '1B3C5D7E9F1B3C5D7E9F1B3C5D7E9F10', engagement_type: 'dialer', initiator: rep.email, language: 'en',
                no_show: false, num_cust_questions: 0, num_engaging_questions: 0, opportunity_id: '', opportunity_name: '',
                participants: [rep], processing_state: 'done', subject: 'Globex check-in', tracker_matches: [],
                url: 'https://chorus.ai/meeting/1B3C5D7E9F1B3C5D7E9F1B3C5D7E9F10', user_email: rep.email, user_id: rep.user_id, user_name: rep.name,
            },
        ],
        conversations: new Map([[ID, {
            account: { ext_id: '001Dn00000Xy1zAIAR', id: 88, name: 'Acme', type: 'salesforce', zi_company_id: null },
            action_items: ['Send the revised quote by Friday'],
            company_name: 'Acme',
            deal: { close_date: '2025-12-31T00:00:00Z', current_stage: 'Prospecting', id: '006Dn00000A1b2cIAB', name: 'Acme - 200 Widgets', initial_amount: 15000 },
            language: 'en',
            name: 'Acme pricing call',
            owner: { email: rep.email, name: rep.name, person_id: rep.person_id, user_id: rep.user_id },
            participants: [rep, cust],
            private: false,
            recap: ['Pricing discussed; 3-year term preferred'],
            recording: {
                duration: 1860.5, start_time: '2025-03-04T16:00:00Z',
                utterances: [
                    { date_time: '2025-03-04T16:07:40Z', engaging: true, expired: false, id: 'u1', index: 0, participant: 1, snippet: 'Shall we go over the quote?', snippet_length: 2.1, snippet_time: 460.2, snippet_word_count: 6, speaker_id: 1, speaker_name: 'Sam Seller', speaker_type: 'rep' },
                    { date_time: '2025-03-04T16:07:43Z', engaging: true, expired: false, id: 'u2', index: 1, participant: 2, snippet: 'Yes, a three-year term works for us.', snippet_length: 3.2, snippet_time: 462.9, snippet_word_count: 8, speaker_id: 2, speaker_name: 'Jane Doe', speaker_type: 'cust' },
                ],
            },
            source: 'zoom',
            status: 'done',
            summary: 'Acme wants 200 seats on a 3-year term; a revised quote is due Friday.',
        }]]),
    };
}

function apiError(res, status, title, detail, source) {
    send(res, status, { errors: [{ status: String(status), title, detail, ...(source ? { source } : {}) }] }, { 'Content-Type': JSONAPI });
}

function engagements(fake, rec, res) {
    const q = queryOf(rec);
    for (const k of ['min_date', 'max_date']) {
        if (q[k] !== undefined && Number.isNaN(Date.parse(q[k])))
            return apiError(res, 400, 'Bad Request', `${k}: not a valid date-time`, { parameter: k });
    }
    const min = q.min_date ? Date.parse(q.min_date) / 1000 : -Infinity;
    const max = q.max_date ? Date.parse(q.max_date) / 1000 : Infinity;
    const list = fake.data.engagements.filter((e) => e.date_time >= min && e.date_time <= max &&
        (!q.participants_email || e.participants.some((p) => p.email === q.participants_email)) &&
        (!q.engagement_type || e.engagement_type === q.engagement_type) &&
        (!q.user_id || q.user_id.split(',').includes(String(e.user_id))) &&
        (!q.min_duration || e.duration >= Number(q.min_duration)))
        .map((e) => (q.with_trackers === 'true' ? e : (({ tracker_matches, ...rest }) => rest)(e)));
    return send(res, 200, { continuation_key: null, engagements: list });
}

function conversation(fake, id, rec, res) {
    const c = fake.data.conversations.get(id);
    if (!c) return apiError(res, 404, 'Not Found', `Conversation ${id} was not found`);
    const q = queryOf(rec);
    let attributes = c;
    if (q.fields) {
        attributes = {};
        for (const f of q.fields.split(',')) {
            if (!FIELDS.has(f)) return apiError(res, 400, 'Bad Request', `fields: invalid field '${f}'`, { parameter: 'fields' });
            const [top, sub] = f.split('.');
            if (!sub) attributes[top] = c[top];
            else (attributes[top] ||= {})[sub] = c[top] && c[top][sub];
        }
    }
    if (q.include_meeting_metadata === 'true') attributes = { ...attributes, meeting: { id: 'm-1', calendar_id: 'cal-1', meeting_url: 'https://zoom.us/j/123456789', ical_uid: 'ical-1' } };
    return send(res, 200, { data: { type: 'recording', id, attributes } }, { 'Content-Type': JSONAPI });
}

export function handle(fake, rec, res) {
    if (rec.headers.authorization !== credential.Authorization)
        return apiError(res, 401, 'Unauthorized', 'A valid API token is required in the Authorization header');
    if (rec.pathname === '/v3/engagements' && rec.method === 'GET') return engagements(fake, rec, res);
    const m = /^\/api\/v1\/conversations\/([A-Za-z0-9_-]+)$/.exec(rec.pathname);
    if (m && rec.method === 'GET') return conversation(fake, m[1], rec, res);
    return apiError(res, 404, 'Not Found', `No route for ${rec.method} ${rec.pathname}`);
}

export const cases = {
    list_engagements: {
        args: { participants_email: 'jane.doe@acme.example', min_date: '2025-03-01T00:00:00Z', engagement_type: 'meeting', with_trackers: true },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/v3/engagements');
            assert.deepEqual(queryOf(rec), { min_date: '2025-03-01T00:00:00Z', participants_email: 'jane.doe@acme.example', engagement_type: 'meeting', with_trackers: 'true' });
            assert.equal(rec.headers.authorization, credential.Authorization, 'the raw token, no Bearer');
            const list = result.structuredContent.engagements;
            assert.deepEqual(list.map((e) => e.engagement_id), [ID], 'the dialer call without Jane is left out');
            assert.equal(list[0].tracker_matches[0].name, 'Pricing');
        },
    },
    get_conversation: {
        args: { id: ID, fields: 'name,participants,deal,recording.utterances' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/api/v1/conversations/${ID}`);
            assert.equal(queryOf(rec).fields, 'name,participants,deal,recording.utterances');
            const d = result.structuredContent.data;
            assert.equal(d.id, ID);
            assert.equal(d.attributes.deal.current_stage, 'Prospecting');
            assert.equal(d.attributes.recording.utterances[1].snippet, 'Yes, a three-year term works for us.');
            assert.equal(d.attributes.summary, undefined, 'only the fields asked for');
        },
    },
};

export const errors = [
    { tool: 'get_conversation', args: { id: 'NOSUCHCONVERSATION' }, match: /^chorus API error: HTTP 404: Not Found: Conversation NOSUCHCONVERSATION was not found$/ },
    { tool: 'get_conversation', args: { id: ID, fields: 'name,transcript' }, match: /HTTP 400: Bad Request: fields: invalid field 'transcript'/ },
];
