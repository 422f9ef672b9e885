// A fake of the Google Calendar API v3 for the catalog's google_calendar connector, and the
// Google OAuth 2.0 token endpoint that the Google fakes (gmail.mjs, google_drive.mjs) share.
//
// Token endpoint, per "Using OAuth 2.0 for Server to Server Applications"
// (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): a POST of
// application/x-www-form-urlencoded grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and
// assertion=<JWT>. The JWT (RFC 7523) has the header {"alg": "RS256", "typ": "JWT"} and the claims
// iss (the service account's client_email), scope (space-delimited), aud (the token endpoint),
// iat, exp (at most an hour later) and, for domain-wide delegation, sub (the user to act as); it is
// signed with the service account key's private key. The answer is {"access_token",
// "expires_in", "token_type": "Bearer"}; errors are {"error", "error_description"} with 400
// (invalid_grant for a bad signature, audience, time or subject; unauthorized_client for a scope
// the delegation does not cover).
//
// Calendar API (https://developers.google.com/workspace/calendar/api/v3/reference): events.list
// GET /calendars/{calendarId}/events, events.get GET .../events/{eventId}, events.insert POST
// .../events (conferenceDataVersion, sendUpdates), events.patch PATCH .../events/{eventId},
// events.delete DELETE .../events/{eventId} (204), freebusy.query POST /freeBusy. Every call needs
// "Authorization: Bearer <access token>"; "primary" is the calendar of the user the token acts
// as. Errors are {"error": {"code", "message", "errors": [{"domain", "reason", "message"}],
// "status"}} ("Handle API errors"): 401 UNAUTHENTICATED, 400 badRequest (e.g. "The specified time
// range is empty."), 404 notFound.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { formPairs, mediaType, queryOf, send, bearer } from './lib.mjs';

export const connector = 'google_calendar';

const KEYS = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });

/* A service account key file as the Google Cloud console downloads it. */
export const SERVICE_ACCOUNT = Object.freeze({
    type: 'service_account',
    project_id: 'mandate-contract-fake',
    private_key_id: '3f1c9e0d5b7a4e2f8c6d1a0b9e8f7c6d5a4b3c2d',
    private_key: KEYS.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: 'mandate-agents@mandate-contract-fake.iam.gserviceaccount.com',
    client_id: '108765432109876543210',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: 'https://oauth2.googleapis.com/token',
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/mandate-agents%40mandate-contract-fake.iam.gserviceaccount.com',
    universe_domain: 'googleapis.com',
});

export const credential = SERVICE_ACCOUNT;
// Google's token endpoint (https://oauth2.googleapis.com/token) is another host than the API: a
// run against this fake points the connector's token URL at this path of it.
export const tokenPath = '/token';

/* The Google error body: {"error": {"code", "message", "errors": [...], "status"}}. */
export function googleError(res, code, status, reason, message, extra = {}) {
    send(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason, ...extra }], status } });
}

function b64url(s) {
    return Buffer.from(s, 'base64url').toString('utf8');
}

/*
 * The token endpoint shared by the Google fakes. scopes are the scopes the domain-wide
 * delegation grants this connector; tokens (a Map) records each issued token's {sub, scope}.
 * Returns true when rec was a token request (answered here).
 */
export function googleToken(fake, rec, res, scopes) {
    if (rec.pathname !== '/token') return false;
    const fail = (error, description) => send(res, 400, { error, error_description: description });
    if (rec.method !== 'POST') return fail('invalid_request', 'Token requests must use POST'), true;
    if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded') return fail('invalid_request', 'Content-Type must be application/x-www-form-urlencoded'), true;
    const form = Object.fromEntries(formPairs(rec.body));
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return fail('unsupported_grant_type', `Invalid grant_type: ${form.grant_type || ''}`), true;
    const parts = (form.assertion || '').split('.');
    if (parts.length !== 3) return fail('invalid_grant', 'Invalid JWT: the assertion is not a JWT'), true;
    let header;
    let claims;
    try {
        header = JSON.parse(b64url(parts[0]));
        claims = JSON.parse(b64url(parts[1]));
    } catch {
        return fail('invalid_grant', 'Invalid JWT: header or claims are not JSON'), true;
    }
    const signed = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), KEYS.publicKey, Buffer.from(parts[2], 'base64url'));
    if (header.alg !== 'RS256' || !signed) return fail('invalid_grant', 'Invalid JWT Signature.'), true;
    const now = Math.floor(Date.now() / 1000);
    if (claims.iss !== SERVICE_ACCOUNT.client_email) return fail('invalid_grant', 'Invalid issuer'), true;
    const aud = `${fake.url}${rec.pathname}`;
    if (claims.aud !== aud && claims.aud !== SERVICE_ACCOUNT.token_uri) return fail('invalid_grant', `Invalid JWT audience: ${claims.aud}`), true;
    if (!Number.isInteger(claims.iat) || !Number.isInteger(claims.exp) || claims.exp <= claims.iat ||
        claims.exp - claims.iat > 3600 || Math.abs(claims.iat - now) > 300)
        return fail('invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.'), true;
    if (typeof claims.sub !== 'string' || !/^[^@\s]+@example\.com$/.test(claims.sub))
        return fail('invalid_grant', 'Invalid email or User ID'), true;
    const asked = String(claims.scope || '').split(' ').filter(Boolean);
    if (!asked.length || asked.some((s) => !scopes.includes(s)))
        return fail('unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.'), true;
    const token = `ya29.c.fake-${crypto.randomBytes(12).toString('hex')}`;
    fake.data.tokens.set(token, { sub: claims.sub, scope: asked, kid: header.kid });
    send(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
    return true;
}

/* The user an access token acts as, or null after answering 401 in Google's shape. */
export function googleUser(fake, rec, res) {
    const t = fake.data.tokens.get(bearer(rec.headers) || '');
    if (!t) {
        googleError(res, 401, 'UNAUTHENTICATED', 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.', { location: 'Authorization', locationType: 'header' });
        return null;
    }
    return t.sub;
}

/* The user that rec's access token acts as (the sub of the JWT it was issued for), or null. */
export function subjectOf(fake, rec) {
    const t = fake.data.tokens.get(bearer(rec.headers) || '');
    return t ? t.sub : null;
}

/* The JSON body of a Google API call, or undefined after answering 400. */
export function googleBody(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        googleError(res, 400, 'INVALID_ARGUMENT', 'parseError', 'This API does not support parsing form-encoded input.');
        return undefined;
    }
    try {
        return JSON.parse(rec.body);
    } catch {
        googleError(res, 400, 'INVALID_ARGUMENT', 'parseError', 'Parse Error');
        return undefined;
    }
}

const SCOPES = ['https://www.googleapis.com/auth/calendar.events', 'https://www.googleapis.com/auth/calendar.freebusy'];

/* The calendar of a user: events seeded on first use. */
function calendarOf(fake, user) {
    if (!fake.data.calendars.has(user)) {
        fake.data.calendars.set(user, new Map([
            ['7cbh8rpc10lrc0ckih9tafss99', {
                kind: 'calendar#event', id: '7cbh8rpc10lrc0ckih9tafss99', status: 'confirmed', summary: 'Acme <> Example: pricing',
                description: 'Agenda: quote, term, security review', location: 'Zoom',
                start: { dateTime: '2025-03-14T15:00:00Z' }, end: { dateTime: '2025-03-14T15:45:00Z' },
                organizer: { email: user, self: true }, creator: { email: user, self: true },
                attendees: [{ email: user, organizer: true, self: true, responseStatus: 'accepted' }, { email: 'jane.doe@acme.example', responseStatus: 'needsAction' }],
                htmlLink: 'https://www.google.com/calendar/event?eid=N2NiaDhycGMxMGxyYzBja2loOXRhZnNzOTk',
            }],
            ['1q2w3e4r5t6y7u8i9o0p', {
                kind: 'calendar#event', id: '1q2w3e4r5t6y7u8i9o0p', status: 'confirmed', summary: 'Team standup',
                start: { dateTime: '2025-03-20T09:00:00Z' }, end: { dateTime: '2025-03-20T09:15:00Z' },
                organizer: { email: user, self: true }, creator: { email: user, self: true },
            }],
        ]));
    }
    return fake.data.calendars.get(user);
}

export function seed() {
    return { tokens: new Map(), calendars: new Map(), next: 1 };
}

/* RFC 3339 time of an event boundary ({dateTime} or {date}). */
function ms(b) {
    return Date.parse(b.dateTime || `${b.date}T00:00:00Z`);
}

function checkTimes(ev, res) {
    for (const k of ['start', 'end']) {
        const b = ev[k];
        if (!b || (!b.dateTime && !b.date)) return googleError(res, 400, 'INVALID_ARGUMENT', 'required', `Missing ${k} time.`), false;
        if (Number.isNaN(ms(b))) return googleError(res, 400, 'INVALID_ARGUMENT', 'invalid', `Invalid ${k} time.`), false;
    }
    if (ms(ev.end) < ms(ev.start)) return googleError(res, 400, 'INVALID_ARGUMENT', 'timeRangeEmpty', 'The specified time range is empty.'), false;
    return true;
}

function withConference(fake, ev, q) {
    if (ev.conferenceData && ev.conferenceData.createRequest && q.conferenceDataVersion === '1') {
        const code = `abc-defg-${String(fake.data.next++).padStart(3, '0')}`;
        ev.hangoutLink = `https://meet.google.com/${code}`;
        ev.conferenceData = { ...ev.conferenceData, conferenceId: code, createRequest: { ...ev.conferenceData.createRequest, status: { statusCode: 'success' } } };
    } else if (ev.conferenceData) {
        delete ev.conferenceData;
    }
    return ev;
}

export function handle(fake, rec, res) {
    if (googleToken(fake, rec, res, SCOPES)) return undefined;
    const user = googleUser(fake, rec, res);
    if (!user) return undefined;
    const cal = calendarOf(fake, user);
    const q = queryOf(rec);
    const p = rec.pathname;
    if (p === '/freeBusy' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b) return undefined;
        if (!b.timeMin || !b.timeMax) return googleError(res, 400, 'INVALID_ARGUMENT', 'required', 'Missing timeMin or timeMax.');
        const [lo, hi] = [Date.parse(b.timeMin), Date.parse(b.timeMax)];
        if (!(hi > lo)) return googleError(res, 400, 'INVALID_ARGUMENT', 'timeRangeEmpty', 'The specified time range is empty.');
        const calendars = {};
        for (const { id } of b.items || []) {
            const owner = id === 'primary' ? user : id;
            if (!owner.endsWith('@example.com')) {
                calendars[id] = { errors: [{ domain: 'global', reason: 'notFound' }], busy: [] };
                continue;
            }
            const busy = [...calendarOf(fake, owner).values()].filter((e) => ms(e.end) > lo && ms(e.start) < hi && e.transparency !== 'transparent')
                .map((e) => ({ start: e.start.dateTime, end: e.end.dateTime }));
            calendars[id] = { busy };
        }
        return send(res, 200, { kind: 'calendar#freeBusy', timeMin: b.timeMin, timeMax: b.timeMax, calendars });
    }
    if (p === '/calendars/primary/events' && rec.method === 'GET') {
        const lo = q.timeMin ? Date.parse(q.timeMin) : -Infinity;
        const hi = q.timeMax ? Date.parse(q.timeMax) : Infinity;
        if (q.orderBy === 'startTime' && q.singleEvents !== 'true')
            return googleError(res, 400, 'INVALID_ARGUMENT', 'invalid', 'The requested ordering is not available for the particular query.');
        let items = [...cal.values()].filter((e) => ms(e.end) > lo && ms(e.start) < hi &&
            (!q.q || JSON.stringify([e.summary, e.description, e.location, e.attendees]).toLowerCase().includes(q.q.toLowerCase())));
        if (q.orderBy === 'startTime') items.sort((a, b) => ms(a.start) - ms(b.start));
        if (q.maxResults) items = items.slice(0, Number(q.maxResults));
        return send(res, 200, { kind: 'calendar#events', summary: user, timeZone: q.timeZone || 'UTC', accessRole: 'owner', items });
    }
    if (p === '/calendars/primary/events' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b || !checkTimes(b, res)) return undefined;
        const id = `fake${String(fake.data.next++).padStart(6, '0')}evt`;
        const ev = withConference(fake, {
            kind: 'calendar#event', id, status: 'confirmed', ...b, organizer: { email: user, self: true }, creator: { email: user, self: true },
            htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(id).toString('base64url')}`,
        }, q);
        cal.set(id, ev);
        return send(res, 200, ev);
    }
    const m = /^\/calendars\/primary\/events\/([A-Za-z0-9_-]+)$/.exec(p);
    if (m) {
        const ev = cal.get(m[1]);
        if (!ev) return googleError(res, 404, 'NOT_FOUND', 'notFound', 'Not Found');
        if (rec.method === 'GET') return send(res, 200, ev);
        if (rec.method === 'DELETE') {
            cal.delete(m[1]);
            res.writeHead(204);
            res.end();
            return undefined;
        }
        if (rec.method === 'PATCH') {
            const b = googleBody(rec, res);
            if (!b) return undefined;
            const next = withConference(fake, { ...ev, ...b }, q);
            if (!checkTimes(next, res)) return undefined;
            if (q.sendUpdates && !['all', 'externalOnly', 'none'].includes(q.sendUpdates))
                return googleError(res, 400, 'INVALID_ARGUMENT', 'invalidParameter', `Invalid value for sendUpdates: ${q.sendUpdates}`);
            cal.set(m[1], next);
            // Records who Google would have emailed, so that a case can check the invitations.
            fake.data.notified = q.sendUpdates && q.sendUpdates !== 'none' ? (next.attendees || []).map((a) => a.email) : [];
            return send(res, 200, next);
        }
    }
    return googleError(res, 404, 'NOT_FOUND', 'notFound', 'Not Found');
}

const EV = '7cbh8rpc10lrc0ckih9tafss99';

function actsAsCaller(rec, fake) {
    assert.match(rec.headers.authorization, /^Bearer ya29\.c\.fake-/);
    const sub = subjectOf(fake, rec);
    assert.match(sub, /^user.*@example\.com$/, 'the JWT names the calling employee as its subject');
    assert.deepEqual(fake.data.tokens.get(bearer(rec.headers)).scope, SCOPES);
    return sub;
}

export const cases = {
    list_events: {
        args: { timeMin: '2025-03-10T00:00:00Z', timeMax: '2025-03-17T00:00:00Z', singleEvents: true, orderBy: 'startTime' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/calendars/primary/events');
            assert.deepEqual(queryOf(rec), { timeMin: '2025-03-10T00:00:00Z', timeMax: '2025-03-17T00:00:00Z', singleEvents: 'true', orderBy: 'startTime' });
            const sub = actsAsCaller(rec, fake);
            assert.equal(result.structuredContent.summary, sub, "the caller's own calendar");
            assert.deepEqual(result.structuredContent.items.map((e) => e.id), [EV], 'the standup on the 20th is outside the week');
        },
    },
    get_event: {
        args: { eventId: EV },
        check(rec, result, fake) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/calendars/primary/events/${EV}`);
            actsAsCaller(rec, fake);
            assert.equal(result.structuredContent.summary, 'Acme <> Example: pricing');
            assert.equal(result.structuredContent.attendees[1].email, 'jane.doe@acme.example');
        },
    },
    find_free_busy: {
        args: { timeMin: '2025-03-14T13:00:00Z', timeMax: '2025-03-14T18:00:00Z', items: [{ id: 'primary' }, { id: 'jane.doe@acme.example' }] },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/freeBusy');
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { timeMin: '2025-03-14T13:00:00Z', timeMax: '2025-03-14T18:00:00Z', items: [{ id: 'primary' }, { id: 'jane.doe@acme.example' }] });
            const cals = result.structuredContent.calendars;
            assert.deepEqual(cals.primary.busy, [{ start: '2025-03-14T15:00:00Z', end: '2025-03-14T15:45:00Z' }]);
            assert.equal(cals['jane.doe@acme.example'].errors[0].reason, 'notFound', 'an outside calendar is not visible');
        },
    },
    create_event: {
        args: {
            summary: 'Acme demo', description: 'Show the reporting module', start: { dateTime: '2025-03-21T16:00:00Z' }, end: { dateTime: '2025-03-21T16:30:00Z' },
            attendees: [{ email: 'jane.doe@acme.example' }], conferenceDataVersion: 1,
            conferenceData: { createRequest: { requestId: 'acme-demo-0321', conferenceSolutionKey: { type: 'hangoutsMeet' } } },
        },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/calendars/primary/events');
            assert.deepEqual(queryOf(rec), { conferenceDataVersion: '1' }, 'no sendUpdates: nobody is emailed');
            const b = JSON.parse(rec.body);
            assert.equal(b.conferenceDataVersion, undefined, 'the query argument stays out of the body');
            assert.equal(b.summary, 'Acme demo');
            assert.deepEqual(b.attendees, [{ email: 'jane.doe@acme.example' }]);
            assert.match(result.structuredContent.hangoutLink, /^https:\/\/meet\.google\.com\//);
            fake.data.created = result.structuredContent.id;
        },
    },
    update_event: {
        args: { eventId: EV, start: { dateTime: '2025-03-14T16:00:00Z' }, end: { dateTime: '2025-03-14T16:45:00Z' } },
        check(rec, result) {
            assert.equal(rec.method, 'PATCH');
            assert.equal(rec.pathname, `/calendars/primary/events/${EV}`);
            assert.equal(rec.query, '', 'no sendUpdates');
            assert.deepEqual(JSON.parse(rec.body), { start: { dateTime: '2025-03-14T16:00:00Z' }, end: { dateTime: '2025-03-14T16:45:00Z' } });
            assert.equal(result.structuredContent.start.dateTime, '2025-03-14T16:00:00Z');
            assert.equal(result.structuredContent.summary, 'Acme <> Example: pricing', 'the other fields are kept');
        },
    },
    send_invitations: {
        args: { eventId: EV, attendees: [{ email: 'jane.doe@acme.example' }, { email: 'john.roe@acme.example', optional: true }], sendUpdates: 'all' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'PATCH');
            assert.equal(rec.pathname, `/calendars/primary/events/${EV}`);
            assert.deepEqual(queryOf(rec), { sendUpdates: 'all' });
            assert.deepEqual(JSON.parse(rec.body), { attendees: [{ email: 'jane.doe@acme.example' }, { email: 'john.roe@acme.example', optional: true }] });
            assert.deepEqual(fake.data.notified, ['jane.doe@acme.example', 'john.roe@acme.example']);
            assert.equal(result.structuredContent.attendees.length, 2);
        },
    },
    delete_event: {
        args: { eventId: '1q2w3e4r5t6y7u8i9o0p' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'DELETE');
            assert.equal(rec.pathname, '/calendars/primary/events/1q2w3e4r5t6y7u8i9o0p');
            assert.equal(rec.body, '');
            assert.match(result.content[0].text, /204/);
            assert.equal(calendarOf(fake, subjectOf(fake, rec)).has('1q2w3e4r5t6y7u8i9o0p'), false);
        },
    },
};

export const errors = [
    { tool: 'get_event', args: { eventId: 'nosuchevent123' }, match: /^google_calendar API error: HTTP 404: Not Found$/ },
    { tool: 'create_event', args: { summary: 'Backwards', start: { dateTime: '2025-03-21T17:00:00Z' }, end: { dateTime: '2025-03-21T16:00:00Z' } }, match: /HTTP 400: The specified time range is empty\./ },
];
