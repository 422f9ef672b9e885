// A fake of the Slack Web API for the catalog's slack connector: conversations.history,
// conversations.replies, conversations.list, chat.postMessage and users.lookupByEmail, each as
// its page under https://docs.slack.dev/reference/methods describes it, and the Web API's
// calling conventions (https://docs.slack.dev/apis/web-api/):
//
//   every method    a bot token as "Authorization: Bearer xoxb-..."; arguments in the query
//                   string, or in a form or JSON body (JSON only with the token in the header);
//                   a JSON body without "; charset=utf-8" works with a missing_charset warning.
//   every answer    HTTP 200 {"ok": true, ...}, or HTTP 200 {"ok": false, "error": "<code>"}
//                   for a failure the method documents (not_authed, invalid_auth,
//                   channel_not_found, not_in_channel, thread_not_found, users_not_found, ...);
//                   an unknown method is HTTP 404 {"ok": false, "error": "unknown_method"}.
//   conversations.history   newest first, {"messages", "has_more", "pin_count", "response_metadata"}
//   conversations.replies   the parent then its replies, oldest first, {"messages", "has_more", ...}
//   conversations.list      {"channels", "response_metadata": {"next_cursor"}}; private channels
//                           only when the bot is a member
//   chat.postMessage        {"channel", "ts", "message"}
//   users.lookupByEmail     {"user"}

import assert from 'node:assert/strict';

import { bearer, formPairs, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'slack';
export const basePath = '/api';

const TOKEN = 'xoxb-2222222222-3333333333-FakeSupportBotTokenAbCdEf';
export const credential = { token: TOKEN };

const SUPPORT = 'C0SUPPORT01';
const GENERAL = 'C0GENERAL01';
const ESCALATE = 'G0ESCALATE1';
const PARENT_TS = '1718000100.000100';

export function seed() {
    const msg = (ts, user, text, extra = {}) => ({ type: 'message', ts, user, text, team: 'T0FAKETEAM1', ...extra });
    return {
        channels: [
            { id: SUPPORT, name: 'support', is_channel: true, is_private: false, is_archived: false, is_member: true, topic: { value: 'Customer issues' }, purpose: { value: 'Ask support' }, num_members: 12, created: 1600000000 },
            { id: GENERAL, name: 'general', is_channel: true, is_private: false, is_archived: false, is_member: false, topic: { value: '' }, purpose: { value: 'Everyone' }, num_members: 300, created: 1500000000 },
            { id: 'C0OLDSTUFF1', name: 'old-support', is_channel: true, is_private: false, is_archived: true, is_member: false, topic: { value: '' }, purpose: { value: '' }, num_members: 0, created: 1400000000 },
            { id: ESCALATE, name: 'support-escalations', is_channel: true, is_private: true, is_archived: false, is_member: true, topic: { value: 'Escalations' }, purpose: { value: '' }, num_members: 5, created: 1650000000 },
            { id: 'G0SECRET001', name: 'exec-private', is_channel: true, is_private: true, is_archived: false, is_member: false, topic: { value: '' }, purpose: { value: '' }, num_members: 4, created: 1650000001 },
        ],
        messages: {
            [SUPPORT]: [
                msg('1718000000.000100', 'U0AGENT0001', 'Morning all'),
                msg(PARENT_TS, 'U0AGENT0002', 'Acme cannot log in, anyone seen this?', { thread_ts: PARENT_TS, reply_count: 2, reply_users: ['U0ENGINEER1'], latest_reply: '1718000300.000100' }),
                msg('1718000200.000100', 'U0ENGINEER1', 'Looking, SSO change went out at 9', { thread_ts: PARENT_TS, parent_user_id: 'U0AGENT0002' }),
                msg('1718000300.000100', 'U0ENGINEER1', 'Rolled back, should work now', { thread_ts: PARENT_TS, parent_user_id: 'U0AGENT0002' }),
                msg('1718000400.000100', 'U0AGENT0001', 'Thanks!'),
            ],
            [ESCALATE]: [],
        },
        users: [
            {
                id: 'U0ENGINEER1', team_id: 'T0FAKETEAM1', name: 'omar', real_name: 'Omar Engineer', tz: 'Europe/Berlin',
                is_bot: false, deleted: false, profile: { title: 'SRE', display_name: 'omar', email: 'omar@acme.example' },
            },
        ],
        seq: 0,
    };
}

/* The method's arguments from the query string and the body (form or JSON), as Slack reads them. */
function argsOf(rec) {
    const args = { ...queryOf(rec) };
    if (rec.body === '') return args;
    const mt = mediaType(rec.headers);
    if (mt === 'application/json') return { ...args, ...JSON.parse(rec.body) };
    if (mt === 'application/x-www-form-urlencoded') return { ...args, ...Object.fromEntries(formPairs(rec.body)) };
    throw new Error('invalid_form_data');
}

/* A boolean argument: query strings carry "true"/"1", JSON carries true. */
function flag(v) {
    return v === true || v === 'true' || v === '1';
}

/* The conversation the bot may read or write, or an error code. */
function member(data, id) {
    const c = data.channels.find((x) => x.id === id);
    if (!c || (c.is_private && !c.is_member)) return { error: 'channel_not_found' };
    if (!c.is_member) return { error: 'not_in_channel' };
    return { channel: c };
}

/* Cursor paging over a list: Slack's cursors are opaque; this one is the offset in base64. */
function page(list, args, deflt) {
    const limit = args.limit ? Number(args.limit) : deflt;
    const start = args.cursor ? Number(Buffer.from(args.cursor, 'base64').toString()) : 0;
    const items = list.slice(start, start + limit);
    const next = start + limit < list.length ? Buffer.from(String(start + limit)).toString('base64') : '';
    return { items, next, more: next !== '' };
}

/* Messages between oldest and latest (exclusive unless inclusive), as the history methods filter. */
function inWindow(list, args) {
    const inc = flag(args.inclusive);
    return list.filter((m) => {
        const t = Number(m.ts);
        if (args.oldest && (inc ? t < Number(args.oldest) : t <= Number(args.oldest))) return false;
        if (args.latest && (inc ? t > Number(args.latest) : t >= Number(args.latest))) return false;
        return true;
    });
}

export function handle(fake, rec, res) {
    const ok = (body) => send(res, 200, { ok: true, ...body });
    const fail = (error, extra = {}) => send(res, 200, { ok: false, error, ...extra });
    const method = rec.pathname.replace(/^\/api\//, '');
    const known = ['conversations.history', 'conversations.replies', 'conversations.list', 'chat.postMessage', 'users.lookupByEmail'];
    if (!rec.pathname.startsWith('/api/') || !known.includes(method)) {
        send(res, 404, { ok: false, error: 'unknown_method', req_method: method });
        return;
    }
    const tok = bearer(rec.headers);
    if (!tok) return fail('not_authed');
    if (tok !== TOKEN) return fail('invalid_auth');
    let args;
    try {
        args = argsOf(rec);
    } catch (err) {
        return fail(err instanceof SyntaxError ? 'invalid_json' : 'invalid_form_data');
    }
    const data = fake.data;
    const warn = mediaType(rec.headers) === 'application/json' && !/charset\s*=\s*utf-8/i.test(rec.headers['content-type'] || '')
        ? { warning: 'missing_charset', response_metadata: { warnings: ['missing_charset'] } }
        : {};

    if (method === 'users.lookupByEmail') {
        if (!args.email) return fail('invalid_arguments');
        const u = data.users.find((x) => x.profile.email.toLowerCase() === String(args.email).toLowerCase());
        return u ? ok({ user: u }) : fail('users_not_found');
    }
    if (method === 'conversations.list') {
        const types = (args.types || 'public_channel').split(',');
        if (types.some((t) => !['public_channel', 'private_channel', 'mpim', 'im'].includes(t))) return fail('invalid_types');
        const list = data.channels.filter((c) => (c.is_private ? types.includes('private_channel') && c.is_member : types.includes('public_channel'))
            && !(flag(args.exclude_archived) && c.is_archived));
        const p = page(list, args, 100);
        return ok({ channels: p.items, response_metadata: { next_cursor: p.next } });
    }
    if (!args.channel) return fail('channel_not_found');
    const m = member(data, args.channel);
    if (m.error) return fail(m.error);
    const msgs = data.messages[args.channel];

    if (method === 'conversations.history') {
        // Only top-level messages (and thread parents) are history; newest first.
        const top = inWindow(msgs.filter((x) => !x.thread_ts || x.thread_ts === x.ts), args).sort((a, b) => Number(b.ts) - Number(a.ts));
        const p = page(top, args, 100);
        return ok({ messages: p.items, has_more: p.more, pin_count: 0, response_metadata: { next_cursor: p.next } });
    }
    if (method === 'conversations.replies') {
        if (!args.ts) return fail('invalid_arguments');
        const parent = msgs.find((x) => x.ts === args.ts);
        if (!parent) return fail('thread_not_found');
        const thread = parent.thread_ts
            ? msgs.filter((x) => x.thread_ts === parent.thread_ts).sort((a, b) => Number(a.ts) - Number(b.ts))
            : [parent];
        const p = page(inWindow(thread, args), args, 1000);
        return ok({ messages: p.items, has_more: p.more, response_metadata: { next_cursor: p.next } });
    }
    // chat.postMessage
    if (rec.method !== 'POST') return fail('invalid_request_method'); // A write goes as POST.
    if (!args.text && !args.blocks && !args.attachments) return fail('no_text');
    if (args.thread_ts && !msgs.some((x) => x.ts === args.thread_ts)) return fail('thread_not_found');
    data.seq += 1;
    const ts = `${1718100000 + data.seq}.${String(data.seq).padStart(6, '0')}`;
    const message = {
        type: 'message', ts, user: 'U0FAKEBOT01', bot_id: 'B0FAKEBOT01', app_id: 'A0FAKEAPP01', text: args.text || '',
        team: 'T0FAKETEAM1', bot_profile: { id: 'B0FAKEBOT01', app_id: 'A0FAKEAPP01', name: 'mandate', deleted: false, team_id: 'T0FAKETEAM1' },
        ...(args.blocks ? { blocks: args.blocks } : {}),
        ...(args.thread_ts ? { thread_ts: args.thread_ts, parent_user_id: msgs.find((x) => x.ts === args.thread_ts).user } : {}),
    };
    msgs.push(message);
    return ok({ channel: args.channel, ts, message, ...warn });
}

function common(rec) {
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
}

export const cases = {
    get_channel_history: {
        args: { channel: SUPPORT, limit: 2, oldest: '1718000000.000100', inclusive: true },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/conversations.history');
            assert.deepEqual(queryOf(rec), { channel: SUPPORT, limit: '2', oldest: '1718000000.000100', inclusive: 'true' });
            const sc = res.structuredContent;
            assert.equal(sc.ok, true);
            // Newest first, thread replies left out: "Thanks!", then the thread's parent.
            assert.deepEqual(sc.messages.map((x) => x.ts), ['1718000400.000100', PARENT_TS]);
            assert.equal(sc.messages[1].reply_count, 2);
            assert.equal(sc.has_more, true);
            assert.notEqual(sc.response_metadata.next_cursor, '');
        },
    },
    get_thread_replies: {
        args: { channel: SUPPORT, ts: PARENT_TS, limit: 10 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/conversations.replies');
            assert.deepEqual(queryOf(rec), { channel: SUPPORT, ts: PARENT_TS, limit: '10' });
            const sc = res.structuredContent;
            assert.deepEqual(sc.messages.map((x) => x.text), [
                'Acme cannot log in, anyone seen this?', 'Looking, SSO change went out at 9', 'Rolled back, should work now',
            ]);
            assert.equal(sc.has_more, false);
        },
    },
    post_message: {
        args: { channel: ESCALATE, text: '*Escalation*: Acme SSO login loop, Zendesk #4521', unfurl_links: false },
        check(rec, res, fake) {
            common(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/api/chat.postMessage');
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { channel: ESCALATE, text: '*Escalation*: Acme SSO login loop, Zendesk #4521', unfurl_links: false });
            const sc = res.structuredContent;
            assert.equal(sc.ok, true);
            assert.equal(sc.channel, ESCALATE);
            assert.equal(fake.data.messages[ESCALATE].at(-1).ts, sc.ts);
        },
    },
    list_channels: {
        args: { types: 'public_channel,private_channel', exclude_archived: true, limit: 50 },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/conversations.list');
            assert.deepEqual(queryOf(rec), { types: 'public_channel,private_channel', exclude_archived: 'true', limit: '50' });
            // No archived channel, and of the private ones only the bot's.
            assert.deepEqual(res.structuredContent.channels.map((c) => c.name), ['support', 'general', 'support-escalations']);
            assert.equal(res.structuredContent.response_metadata.next_cursor, '');
        },
    },
    lookup_user_by_email: {
        args: { email: 'omar@acme.example' },
        check(rec, res) {
            common(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/api/users.lookupByEmail');
            assert.deepEqual(queryOf(rec), { email: 'omar@acme.example' });
            assert.equal(res.structuredContent.user.id, 'U0ENGINEER1');
        },
    },
};

export const errors = [
    // Slack's failures arrive as HTTP 200 with ok: false.
    { tool: 'get_channel_history', args: { channel: GENERAL }, match: /^Slack API error: not_in_channel$/ },
    { tool: 'post_message', args: { channel: 'C0NOSUCHCHN', text: 'hello' }, match: /^Slack API error: channel_not_found$/ },
    { tool: 'get_thread_replies', args: { channel: SUPPORT, ts: '1700000000.000001' }, match: /^Slack API error: thread_not_found$/ },
    { tool: 'lookup_user_by_email', args: { email: 'nobody@acme.example' }, match: /^Slack API error: users_not_found$/ },
];
