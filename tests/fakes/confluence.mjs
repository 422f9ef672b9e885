// A fake of Confluence Cloud's REST APIs for the catalog's confluence tools: CQL search (REST
// v1, which v2 does not replace), and spaces, pages and footer comments (REST v2).
//
// What it checks, as Atlassian documents it (developer.atlassian.com/cloud/confluence/rest/):
//   - HTTP basic auth with the account's email and an API token ("Basic auth for REST APIs");
//     otherwise 401.
//   - Every path under /wiki: /wiki/rest/api for v1, /wiki/api/v2 for v2.
//   - GET /wiki/rest/api/search (v1 "Search content by CQL"): cql is required; a query that
//     does not parse is 400 {"statusCode": 400, "data": {...}, "message": "...Could not parse
//     cql..."}; answers {"results", "start", "limit", "size", "totalSize", "_links": {"next"}}
//     and pages by cursor.
//   - GET /wiki/api/v2/spaces ("Get spaces"): keys is a comma-separated list; limit at most
//     250; pages through the Link header and _links.next.
//   - GET /wiki/api/v2/pages/{id} ("Get page by id"): body-format storage, atlas_doc_format or
//     view adds body.<format>.
//   - POST /wiki/api/v2/pages ("Create page"): spaceId required; a title already used in the
//     space is refused.
//   - PUT /wiki/api/v2/pages/{id} ("Update page"): id, status, title, body and version.number
//     required; the body's id must be the path's; version.number must be the current plus
//     one, else 409.
//   - POST /wiki/api/v2/footer-comments ("Create footer comment"): pageId and body; 201.
// v2 errors are {"errors": [{"status", "code", "title", "detail"}]}; v1 errors
// {"statusCode", "data", "message"}.

import assert from 'node:assert/strict';

import { basic, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'confluence';

const EMAIL = 'agent@example.com';
const API_TOKEN = 'ATATTFakeContractConfluenceToken0123456789';
export const credential = { username: EMAIL, password: API_TOKEN };

const ACCOUNT = '5b10ac8d82e05b22cc7d4ef5';

export function seed() {
    const page = (id, spaceId, title, value, version, parentId = null) => ({
        id, status: 'current', title, spaceId, parentId, parentType: parentId ? 'page' : null, authorId: ACCOUNT, ownerId: ACCOUNT,
        createdAt: '2024-05-01T10:00:00.000Z', version: { number: version, message: '', minorEdit: false, authorId: ACCOUNT, createdAt: '2024-06-01T10:00:00.000Z' },
        value, labels: title.includes('Runbook') ? ['runbook'] : [],
    });
    return {
        spaces: [
            { id: '98304', key: 'ENG', name: 'Engineering', type: 'global', status: 'current', homepageId: '65537' },
            { id: '98305', key: 'OPS', name: 'Operations', type: 'global', status: 'current', homepageId: '65538' },
            { id: '98306', key: 'OLD', name: 'Archive', type: 'global', status: 'archived', homepageId: '65539' },
        ],
        pages: [
            page('65537', '98304', 'Engineering home', '<p>Welcome.</p>', 4),
            page('123456789', '98304', 'Runbook: database failover', '<p>Promote the replica.</p>', 3, '65537'),
            page('123456790', '98305', 'Runbook: rollback', '<p>Use the deploy tool.</p>', 1),
        ],
        comments: [],
        nextId: 200000000,
    };
}

function v2err(res, status, code, title) {
    send(res, status, { errors: [{ status, code, title, detail: null }] });
}

function webui(p) {
    return `/spaces/${p.spaceId}/pages/${p.id}/${encodeURIComponent(p.title.replace(/\s+/g, '+'))}`;
}

function pageJson(p, format) {
    const out = { id: p.id, status: p.status, title: p.title, spaceId: p.spaceId, parentId: p.parentId, parentType: p.parentType,
        authorId: p.authorId, ownerId: p.ownerId, createdAt: p.createdAt, version: p.version, _links: { webui: webui(p), editui: `/pages/resumedraft.action?draftId=${p.id}`, tinyui: `/x/${p.id}` } };
    if (format) out.body = { [format]: { representation: format, value: format === 'view' ? p.value : p.value } };
    return out;
}

/* The CQL the fake understands: space = KEY, space in (A, B), title ~ "x", text ~ "x", type = page, label = x, ORDER BY. */
function cql(fake, query) {
    const where = query.replace(/\s+ORDER\s+BY[\s\S]*$/i, '');
    const clauses = where.split(/\s+AND\s+/i);
    let list = fake.data.pages;
    for (const c of clauses) {
        let m;
        if ((m = /^type\s*=\s*"?(\w+)"?$/i.exec(c))) list = m[1] === 'page' ? list : [];
        else if ((m = /^space\s*=\s*"?(\w+)"?$/i.exec(c))) list = list.filter((p) => fake.data.spaces.find((s) => s.id === p.spaceId).key === m[1]);
        else if ((m = /^space\s+in\s*\(([^)]*)\)$/i.exec(c))) {
            const keys = m[1].split(',').map((k) => k.trim().replace(/"/g, ''));
            list = list.filter((p) => keys.includes(fake.data.spaces.find((s) => s.id === p.spaceId).key));
        } else if ((m = /^(title|text)\s*~\s*"([^"]*)"$/i.exec(c))) {
            const w = m[2].toLowerCase();
            list = list.filter((p) => p.title.toLowerCase().includes(w) || (m[1] === 'text' && p.value.toLowerCase().includes(w)));
        } else if ((m = /^label\s*=\s*"?([\w-]+)"?$/i.exec(c))) list = list.filter((p) => p.labels.includes(m[1]));
        else return null;
    }
    return list;
}

function search(fake, rec, res) {
    const q = queryOf(rec);
    const v1err = (message) => send(res, 400, { statusCode: 400, data: { authorized: false, valid: true, errors: [], successful: false }, message });
    if (!q.cql) return v1err('com.atlassian.confluence.api.service.exceptions.BadRequestException: cql query parameter is required');
    const list = cql(fake, q.cql);
    if (!list) return v1err(`com.atlassian.confluence.api.service.exceptions.BadRequestException: Could not parse cql : ${q.cql}`);
    const limit = Math.min(Number(q.limit || 25), 100);
    const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64').toString()) : 0;
    const page = list.slice(start, start + limit);
    const links = { base: `${fake.url}/wiki`, context: '/wiki' };
    if (start + limit < list.length) {
        const next = new URLSearchParams({ cql: q.cql, limit: String(limit), cursor: Buffer.from(String(start + limit)).toString('base64') });
        links.next = `/rest/api/search?${next}`;
    }
    send(res, 200, {
        results: page.map((p) => {
            const s = fake.data.spaces.find((x) => x.id === p.spaceId);
            return { content: { id: p.id, type: 'page', status: 'current', title: p.title, _links: { webui: webui(p) } }, title: p.title,
                excerpt: p.value.replace(/<[^>]+>/g, '').slice(0, 100), url: webui(p), resultGlobalContainer: { title: s.name, displayUrl: `/spaces/${s.key}` },
                lastModified: p.version.createdAt, entityType: 'content' };
        }),
        start, limit, size: page.length, totalSize: list.length, cqlQuery: q.cql, searchDuration: 12, _links: links,
    });
}

function spaces(fake, rec, res) {
    const q = queryOf(rec);
    const limit = Number(q.limit || 25);
    if (!Number.isInteger(limit) || limit < 1 || limit > 250) return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'limit must be between 1 and 250');
    let list = fake.data.spaces;
    if (q.keys) {
        const keys = q.keys.split(',');
        list = list.filter((s) => keys.includes(s.key));
    }
    if (q.type) list = list.filter((s) => s.type === q.type);
    if (q.status) list = list.filter((s) => s.status === q.status);
    const start = q.cursor ? Number(Buffer.from(q.cursor, 'base64').toString()) : 0;
    const page = list.slice(start, start + limit);
    const out = { results: page.map((s) => ({ ...s, authorId: ACCOUNT, createdAt: '2023-01-01T00:00:00.000Z', description: null, icon: null,
        _links: { webui: `/spaces/${s.key}` } })), _links: { base: `${fake.url}/wiki` } };
    const headers = {};
    if (start + limit < list.length) {
        const next = new URLSearchParams(rec.query);
        next.set('cursor', Buffer.from(String(start + limit)).toString('base64'));
        out._links.next = `/wiki/api/v2/spaces?${next}`;
        headers.Link = `</wiki/api/v2/spaces?${next}>; rel="next", <${fake.url}/wiki>; rel="base"`;
    }
    send(res, 200, out, headers);
}

function body(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        v2err(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported Media Type');
        return undefined;
    }
    try {
        return JSON.parse(rec.body);
    } catch {
        v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'Unable to parse the request body');
        return undefined;
    }
}

const FORMATS = ['storage', 'atlas_doc_format'];

function createPage(fake, rec, res) {
    const b = body(rec, res);
    if (!b) return;
    if (typeof b.spaceId !== 'string' && typeof b.spaceId !== 'number') return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'spaceId is required');
    if (!fake.data.spaces.some((s) => s.id === String(b.spaceId))) return v2err(res, 404, 'NOT_FOUND', 'No space with the given id exists');
    if (!b.body || !FORMATS.includes(b.body.representation) || typeof b.body.value !== 'string')
        return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'body.representation must be storage or atlas_doc_format, with a value');
    if (fake.data.pages.some((p) => p.spaceId === String(b.spaceId) && p.title === b.title))
        return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'A page with this title already exists: A page already exists with the same TITLE in this space');
    if (b.parentId !== undefined && !fake.data.pages.some((p) => p.id === b.parentId)) return v2err(res, 404, 'NOT_FOUND', 'Parent page not found');
    const space = fake.data.spaces.find((s) => s.id === String(b.spaceId));
    const p = { id: String(fake.data.nextId++), status: b.status || 'current', title: b.title, spaceId: space.id,
        parentId: b.parentId || space.homepageId, parentType: 'page', authorId: ACCOUNT, ownerId: ACCOUNT, createdAt: '2024-06-10T08:00:00.000Z',
        version: { number: 1, message: '', minorEdit: false, authorId: ACCOUNT, createdAt: '2024-06-10T08:00:00.000Z' }, value: b.body.value, labels: [] };
    fake.data.pages.push(p);
    send(res, 200, pageJson(p, 'storage'));
}

function updatePage(fake, rec, res, p) {
    const b = body(rec, res);
    if (!b) return;
    for (const k of ['id', 'status', 'title', 'body', 'version']) {
        if (b[k] === undefined || b[k] === null) return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', `${k} is required`);
    }
    if (String(b.id) !== p.id) return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'The id in the body must match the id in the path');
    if (!FORMATS.includes(b.body.representation) || typeof b.body.value !== 'string')
        return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'body.representation must be storage or atlas_doc_format, with a value');
    if (!Number.isInteger(b.version.number) || b.version.number !== p.version.number + 1)
        return v2err(res, 409, 'CONFLICT', `Version must be incremented on update. Current version is: ${p.version.number}`);
    p.title = b.title;
    p.status = b.status;
    p.value = b.body.value;
    p.version = { number: b.version.number, message: b.version.message || '', minorEdit: false, authorId: ACCOUNT, createdAt: '2024-06-10T09:00:00.000Z' };
    send(res, 200, pageJson(p, 'storage'));
}

function createComment(fake, rec, res) {
    const b = body(rec, res);
    if (!b) return;
    if (b.pageId === undefined) return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'One of pageId, blogPostId, parentCommentId, attachmentId or customContentId is required');
    const p = fake.data.pages.find((x) => x.id === String(b.pageId));
    if (!p) return v2err(res, 404, 'NOT_FOUND', 'Page not found');
    if (!b.body || !FORMATS.includes(b.body.representation) || typeof b.body.value !== 'string')
        return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', 'body.representation must be storage or atlas_doc_format, with a value');
    const c = { id: String(fake.data.nextId++), status: 'current', title: `Re: ${p.title}`, pageId: p.id,
        version: { number: 1, message: '', minorEdit: false, authorId: ACCOUNT, createdAt: '2024-06-10T08:30:00.000Z' },
        body: { storage: { representation: 'storage', value: b.body.value } },
        _links: { webui: `${webui(p)}?focusedCommentId=${fake.data.nextId - 1}` } };
    fake.data.comments.push(c);
    send(res, 201, c);
}

export function handle(fake, rec, res) {
    const cred = basic(rec.headers);
    if (!cred || cred.user !== EMAIL || cred.pass !== API_TOKEN) return v2err(res, 401, 'UNAUTHORIZED', 'Unauthorized; scope does not match');
    const p = rec.pathname;
    if (rec.method === 'GET' && p === '/wiki/rest/api/search') return search(fake, rec, res);
    if (rec.method === 'GET' && p === '/wiki/api/v2/spaces') return spaces(fake, rec, res);
    if (rec.method === 'POST' && p === '/wiki/api/v2/pages') return createPage(fake, rec, res);
    if (rec.method === 'POST' && p === '/wiki/api/v2/footer-comments') return createComment(fake, rec, res);
    const m = /^\/wiki\/api\/v2\/pages\/([^/]+)$/.exec(p);
    if (!m) return v2err(res, 404, 'NOT_FOUND', 'Not Found');
    const page = fake.data.pages.find((x) => x.id === m[1]);
    if (!/^\d+$/.test(m[1])) return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', "Value of 'id' must be a number");
    if (!page) return v2err(res, 404, 'NOT_FOUND', 'Not Found');
    if (rec.method === 'GET') {
        const f = queryOf(rec)['body-format'];
        if (f !== undefined && !['storage', 'atlas_doc_format', 'view'].includes(f))
            return v2err(res, 400, 'INVALID_REQUEST_PARAMETER', `Invalid value for body-format: ${f}`);
        return send(res, 200, pageJson(page, f));
    }
    if (rec.method === 'PUT') return updatePage(fake, rec, res, page);
    v2err(res, 405, 'METHOD_NOT_ALLOWED', 'Method Not Allowed');
}

/* ---- the contract cases ---- */

function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Basic ${Buffer.from(`${EMAIL}:${API_TOKEN}`).toString('base64')}`);
    assert.equal(rec.headers.accept, 'application/json');
}

function sentJson(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    search_content: {
        args: { cql: 'type = page AND title ~ "runbook" ORDER BY lastmodified DESC', limit: 1 },
        check(rec, res) {
            common(rec, 'GET', '/wiki/rest/api/search');
            assert.deepEqual(queryOf(rec), { cql: 'type = page AND title ~ "runbook" ORDER BY lastmodified DESC', limit: '1' });
            const r = res.structuredContent;
            assert.equal(r.totalSize, 2);
            assert.equal(r.results[0].content.id, '123456789');
            assert.match(r._links.next, /cursor=/);
        },
    },
    list_spaces: {
        args: { keys: 'ENG,OPS', status: 'current', limit: 1 },
        check(rec, res) {
            common(rec, 'GET', '/wiki/api/v2/spaces');
            assert.deepEqual(queryOf(rec), { keys: 'ENG,OPS', status: 'current', limit: '1' });
            assert.deepEqual(res.structuredContent.results.map((s) => [s.id, s.key]), [['98304', 'ENG']]);
            // The Link header's next page: the same filters and a cursor.
            const next = res.structuredContent.next_page;
            assert.deepEqual([next.keys, next.status, next.limit, typeof next.cursor], ['ENG,OPS', 'current', '1', 'string']);
        },
    },
    get_page: {
        args: { id: '123456789', 'body-format': 'storage' },
        check(rec, res) {
            common(rec, 'GET', '/wiki/api/v2/pages/123456789');
            assert.deepEqual(queryOf(rec), { 'body-format': 'storage' });
            assert.equal(res.structuredContent.version.number, 3);
            assert.equal(res.structuredContent.body.storage.value, '<p>Promote the replica.</p>');
        },
    },
    create_page: {
        args: { spaceId: '98304', title: 'Postmortem: checkout outage', parentId: '65537', body: { representation: 'storage', value: '<h2>Timeline</h2><p>10:00 alert.</p>' } },
        check(rec, res, fake) {
            common(rec, 'POST', '/wiki/api/v2/pages');
            assert.deepEqual(sentJson(rec), { spaceId: '98304', title: 'Postmortem: checkout outage', parentId: '65537', body: { representation: 'storage', value: '<h2>Timeline</h2><p>10:00 alert.</p>' } });
            assert.equal(res.structuredContent.version.number, 1);
            assert.ok(fake.data.pages.some((p) => p.title === 'Postmortem: checkout outage'));
        },
    },
    update_page: {
        args: { id: '123456789', title: 'Runbook: database failover', body: '<p>Promote the replica, then repoint.</p>', version: { number: 4, message: 'Add the repoint step' } },
        check(rec, res, fake) {
            common(rec, 'PUT', '/wiki/api/v2/pages/123456789');
            // The template puts the path's id in the body too, as the API requires.
            assert.deepEqual(sentJson(rec), {
                id: '123456789', status: 'current', title: 'Runbook: database failover',
                body: { representation: 'storage', value: '<p>Promote the replica, then repoint.</p>' }, version: { number: 4, message: 'Add the repoint step' },
            });
            assert.equal(res.structuredContent.version.number, 4);
            assert.equal(fake.data.pages.find((p) => p.id === '123456789').value, '<p>Promote the replica, then repoint.</p>');
        },
    },
    create_footer_comment: {
        args: { pageId: '123456790', body: '<p>Verified on staging.</p>' },
        check(rec, res) {
            common(rec, 'POST', '/wiki/api/v2/footer-comments');
            assert.deepEqual(sentJson(rec), { pageId: '123456790', body: { representation: 'storage', value: '<p>Verified on staging.</p>' } });
            assert.equal(res.structuredContent.pageId, '123456790');
            assert.equal(res.structuredContent.body.storage.value, '<p>Verified on staging.</p>');
        },
    },
};

export const errors = [
    { tool: 'get_page', args: { id: '1' }, match: /^confluence API error: HTTP 404: Not Found$/ },
    {
        tool: 'update_page', args: { id: '65537', title: 'Engineering home', body: '<p>x</p>', version: { number: 9 } },
        match: /^confluence API error: HTTP 409: Version must be incremented on update\. Current version is: 4$/,
    },
    { tool: 'search_content', args: { cql: 'creator.fullname ~ "Ana"' }, match: /^confluence API error: HTTP 400: .*Could not parse cql/ },
    {
        tool: 'create_page', args: { spaceId: '98304', title: 'Engineering home', body: { representation: 'storage', value: '<p>dup</p>' } },
        match: /^confluence API error: HTTP 400: .*A page with this title already exists/,
    },
];
