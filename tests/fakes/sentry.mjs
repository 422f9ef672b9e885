// A fake of Sentry's web API (/api/0) for the catalog's sentry tools: organization issues, one
// issue, its events, and resolving it.
//
// What it checks, as Sentry documents it (docs.sentry.io/api/):
//   - "Authorization: Bearer <auth token>" ("Authentication"); a missing token is 401
//     {"detail": "Authentication credentials were not provided."}, a wrong one 401
//     {"detail": "Invalid token"}.
//   - GET /organizations/{org}/issues/ ("List an Organization's Issues"): query defaults to
//     "is:unresolved"; limit at most 100; pages through the Link header, Sentry's cursor form
//     (rel="next"; results="true"|"false"; cursor="...") ("Paginating Results").
//   - GET /organizations/{org}/issues/{id}/ ("Retrieve an Issue") and .../events/ ("List an
//     Issue's Events"; full=true adds entries, the stack trace); unknown ids are 404
//     {"detail": "The requested resource does not exist"}.
//   - PUT /organizations/{org}/issues/{id}/ ("Update an Issue"): a JSON body; status one of
//     resolved, resolvedInNextRelease, unresolved, ignored; bad values are Django REST
//     framework field errors, 400 {"status": ["\"x\" is not a valid choice."]}; the answer is
//     the issue.
// Unknown organizations are 404 like unknown issues.

import assert from 'node:assert/strict';

import { bearer, jsonBody, queryOf, send } from './lib.mjs';

export const connector = 'sentry';

const TOKEN = 'sntrys_FakeContractOrgToken0123456789abcdef';
export const credential = { token: TOKEN };

const ORG = 'acme';
const NOT_FOUND = { detail: 'The requested resource does not exist' };

export function seed() {
    const project = { id: '4505321021', name: 'checkout', slug: 'checkout', platform: 'python' };
    const issue = (id, shortId, title, status, level, count, lastSeen) => ({
        id, shortId, title, culprit: 'checkout.views.pay', level, status, statusDetails: {}, substatus: status === 'unresolved' ? 'ongoing' : null,
        permalink: `https://acme.sentry.io/issues/${id}/`, project, platform: 'python', type: 'error',
        metadata: { type: title.split(':')[0], value: title.split(': ')[1] || '' }, count: String(count), userCount: Math.floor(count / 3),
        firstSeen: '2024-05-20T08:00:00.000000Z', lastSeen, assignedTo: null, numComments: 0, isUnhandled: true, hasSeen: false,
    });
    return {
        issues: [
            issue('4512345678', 'CHECKOUT-1Z', 'TimeoutError: gateway timed out', 'unresolved', 'error', 412, '2024-06-03T10:00:00.000000Z'),
            issue('4512345679', 'CHECKOUT-20', 'KeyError: currency', 'unresolved', 'error', 37, '2024-06-02T10:00:00.000000Z'),
            issue('4512345680', 'CHECKOUT-21', 'ZeroDivisionError: division by zero', 'resolved', 'error', 3, '2024-05-30T10:00:00.000000Z'),
        ],
        events: {
            4512345678: [
                { eventID: '9fac2ceed9344f2bbfdd1fdacb0ed9b1', dateCreated: '2024-06-03T10:00:00Z', environment: 'production', release: 'checkout@1.4.2' },
                { eventID: '8cbe2a4f6d5a4e2e9d1d0f7c4b3a2a10', dateCreated: '2024-06-02T10:00:00Z', environment: 'staging', release: 'checkout@1.4.2' },
            ],
        },
    };
}

const STATUSES = ['resolved', 'resolvedInNextRelease', 'unresolved', 'ignored'];

/* Sentry's Link header: a previous and a next link, each saying whether it has results. */
function sentryLink(fake, rec, offset, limit, more) {
    const link = (rel, cursor, results) => {
        const q = new URLSearchParams(rec.query);
        q.set('cursor', cursor);
        return `<${fake.url}${rec.pathname}?${q}>; rel="${rel}"; results="${results}"; cursor="${cursor}"`;
    };
    return `${link('previous', `0:${Math.max(0, offset - limit)}:1`, offset > 0)}, ${link('next', `0:${offset + limit}:0`, more)}`;
}

function listIssues(fake, rec, res) {
    const q = queryOf(rec);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return send(res, 400, { limit: ['Ensure this value is less than or equal to 100.'] });
    const query = q.query === undefined ? 'is:unresolved' : q.query;
    let list = fake.data.issues;
    for (const term of query.split(/\s+/).filter(Boolean)) {
        const [k, v] = term.includes(':') ? term.split(':') : [null, term];
        if (k === 'is') list = list.filter((i) => i.status === v);
        else if (k === 'level') list = list.filter((i) => i.level === v);
        else if (k === null) list = list.filter((i) => i.shortId === v || i.title.includes(v));
        else if (!['environment', 'release', 'assigned'].includes(k)) return send(res, 400, { detail: `Invalid search query: unknown key ${k}` });
    }
    if (q.sort === 'freq') list = [...list].sort((a, b) => Number(b.count) - Number(a.count));
    const offset = q.cursor ? Number(q.cursor.split(':')[1]) : 0;
    const page = list.slice(offset, offset + limit);
    send(res, 200, page, { Link: sentryLink(fake, rec, offset, limit, offset + limit < list.length) });
}

function events(fake, rec, res, issue) {
    const q = queryOf(rec);
    const full = q.full === 'true';
    let list = fake.data.events[issue.id] || [];
    if (q.environment) list = list.filter((e) => e.environment === q.environment);
    const out = list.map((e) => {
        const ev = {
            id: e.eventID, eventID: e.eventID, groupID: issue.id, projectID: issue.project.id, title: issue.title, message: issue.title,
            dateCreated: e.dateCreated, platform: 'python', culprit: issue.culprit, 'event.type': 'error', user: { id: '42', email: 'buyer@example.com' },
            tags: [{ key: 'environment', value: e.environment }, { key: 'release', value: e.release }],
        };
        if (full) {
            ev.entries = [{ type: 'exception', data: { values: [{ type: issue.metadata.type, value: issue.metadata.value,
                stacktrace: { frames: [{ filename: 'checkout/views.py', function: 'pay', lineNo: 88, inApp: true }] } }] } }];
            ev.contexts = { runtime: { name: 'CPython', version: '3.12.2' } };
        }
        return ev;
    });
    send(res, 200, out, { Link: sentryLink(fake, rec, 0, 100, false) });
}

function update(fake, rec, res, issue) {
    const b = jsonBody(rec, res, { detail: 'JSON parse error' });
    if (!b) return;
    if (b.status !== undefined && !STATUSES.includes(b.status)) return send(res, 400, { status: [`"${b.status}" is not a valid choice.`] });
    const d = b.statusDetails;
    if (d && d.inRelease !== undefined && !['latest', 'checkout@1.4.2', 'checkout@1.4.3'].includes(d.inRelease))
        return send(res, 400, { statusDetails: { inRelease: ['Unable to find the given release.'] } });
    if (b.status === 'resolvedInNextRelease') {
        issue.status = 'resolved';
        issue.statusDetails = { inNextRelease: true };
    } else if (b.status !== undefined) {
        issue.status = b.status;
        issue.statusDetails = d || {};
    }
    issue.substatus = issue.status === 'unresolved' ? 'ongoing' : null;
    send(res, 200, issue);
}

export function handle(fake, rec, res) {
    const token = bearer(rec.headers);
    if (!token) return send(res, 401, { detail: 'Authentication credentials were not provided.' });
    if (token !== TOKEN) return send(res, 401, { detail: 'Invalid token' });
    const m = /^\/organizations\/([^/]+)\/issues\/(?:([^/]+)\/(events\/)?)?$/.exec(rec.pathname);
    if (!m || m[1] !== ORG) return send(res, 404, NOT_FOUND);
    if (!m[2]) return rec.method === 'GET' ? listIssues(fake, rec, res) : send(res, 405, { detail: `Method "${rec.method}" not allowed.` });
    const issue = fake.data.issues.find((i) => i.id === m[2]);
    if (!issue) return send(res, 404, NOT_FOUND);
    if (m[3]) return rec.method === 'GET' ? events(fake, rec, res, issue) : send(res, 405, { detail: `Method "${rec.method}" not allowed.` });
    if (rec.method === 'GET') return send(res, 200, { ...issue, firstRelease: { version: 'checkout@1.4.0' }, lastRelease: { version: 'checkout@1.4.2' }, tags: [] });
    if (rec.method === 'PUT') return update(fake, rec, res, issue);
    send(res, 405, { detail: `Method "${rec.method}" not allowed.` });
}

/* ---- the contract cases ---- */

function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
}

export const cases = {
    list_organization_issues: {
        args: { organization_id_or_slug: ORG, query: 'is:unresolved level:error', environment: 'production', statsPeriod: '14d', sort: 'freq', limit: 1 },
        check(rec, res) {
            common(rec, 'GET', '/organizations/acme/issues/');
            assert.deepEqual(queryOf(rec), { query: 'is:unresolved level:error', environment: 'production', statsPeriod: '14d', sort: 'freq', limit: '1' });
            assert.deepEqual(res.structuredContent.result.map((i) => i.shortId), ['CHECKOUT-1Z']);
            // The Link header's next page (results="true") becomes next_page with its cursor.
            assert.equal(res.structuredContent.next_page.cursor, '0:1:0');
        },
    },
    get_issue: {
        args: { organization_id_or_slug: ORG, issue_id: '4512345678' },
        check(rec, res) {
            common(rec, 'GET', '/organizations/acme/issues/4512345678/');
            assert.equal(res.structuredContent.shortId, 'CHECKOUT-1Z');
            assert.equal(res.structuredContent.lastRelease.version, 'checkout@1.4.2');
        },
    },
    list_issue_events: {
        args: { organization_id_or_slug: ORG, issue_id: '4512345678', full: true, environment: 'production' },
        check(rec, res) {
            common(rec, 'GET', '/organizations/acme/issues/4512345678/events/');
            assert.deepEqual(queryOf(rec), { full: 'true', environment: 'production' });
            const evs = res.structuredContent.result;
            assert.equal(evs.length, 1);
            assert.equal(evs[0].entries[0].data.values[0].stacktrace.frames[0].function, 'pay');
            // results="false" on the next link: no next page is offered.
            assert.equal(res.structuredContent.next_page, undefined);
        },
    },
    resolve_issue: {
        args: { organization_id_or_slug: ORG, issue_id: '4512345679', status: 'resolved', statusDetails: { inRelease: 'checkout@1.4.3' } },
        check(rec, res, fake) {
            common(rec, 'PUT', '/organizations/acme/issues/4512345679/');
            assert.match(rec.headers['content-type'], /^application\/json\b/);
            assert.deepEqual(JSON.parse(rec.body), { status: 'resolved', statusDetails: { inRelease: 'checkout@1.4.3' } });
            assert.equal(res.structuredContent.status, 'resolved');
            assert.equal(fake.data.issues[1].statusDetails.inRelease, 'checkout@1.4.3');
        },
    },
};

export const errors = [
    { tool: 'get_issue', args: { organization_id_or_slug: ORG, issue_id: '1' }, match: /^Sentry API error: HTTP 404: The requested resource does not exist$/ },
    { tool: 'get_issue', args: { organization_id_or_slug: 'other-org', issue_id: '4512345678' }, match: /^Sentry API error: HTTP 404: / },
    {
        tool: 'resolve_issue', args: { organization_id_or_slug: ORG, issue_id: '4512345678', status: 'resolved', statusDetails: { inRelease: 'checkout@9.9.9' } },
        // A nested field error is shown as Sentry wrote it, which names the field and the reason.
        match: /^Sentry API error: HTTP 400: .*"inRelease".*Unable to find the given release\./,
    },
];
