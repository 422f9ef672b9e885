// A fake of the Notion API (version 2025-09-03) for the catalog's notion tools: search, pages,
// block children, data source queries, new pages, appended blocks and comments.
//
// What it checks, as Notion documents it (developers.notion.com/reference/):
//   - "Authorization: Bearer <token>" ("Authentication"); otherwise 401 "unauthorized".
//   - A Notion-Version header on every request ("Versioning"); without it 400 "missing_version".
//   - JSON bodies; schema failures are 400 "validation_error" with messages in the form
//     "body failed validation: body.X should be defined, instead was `undefined`."
//   - Ids with or without dashes ("Working with page content": ids are UUIDs either way).
//   - POST /v1/search ("Search by title"): filter.value "page" or "data_source" (2025-09-03),
//     sort by last_edited_time; list answers {"object": "list", "results", "next_cursor",
//     "has_more"} ("Pagination": page_size at most 100).
//   - GET /v1/pages/{id} ("Retrieve a page"), GET /v1/blocks/{id}/children ("Retrieve block
//     children"), POST /v1/data_sources/{id}/query ("Query a data source"), POST /v1/pages
//     ("Create a page": a page parent takes only a title property), PATCH
//     /v1/blocks/{id}/children ("Append block children": at most 100 blocks, each with the
//     object named by its type), POST /v1/comments ("Create comment": parent.page_id or
//     discussion_id, and rich_text).
//   - Pages not shared with the integration, or unknown, are 404 "object_not_found".
// Errors: {"object": "error", "status", "code", "message", "request_id"} ("Status codes").

import assert from 'node:assert/strict';

import { bearer, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'notion';

const TOKEN = 'ntn_FakeContractIntegrationSecret0123456789abcdefABCDEF';
export const credential = { token: TOKEN };

const VERSIONS = ['2022-06-28', '2025-09-03'];
const BOT_USER = { object: 'user', id: 'b0b0b0b0-0000-4000-8000-000000000001' };
const P_RUNBOOKS = '59833787-2cf9-4fdf-8782-e53db20768a5';
const P_ONCALL = '1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b';
const DS_TASKS = 'c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f';
const DB_TASKS = 'd9824bdc-8445-4327-be8b-5b47500af6ce';
const DISCUSSION = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';

function richText(content) {
    return { type: 'text', text: { content, link: null },
        annotations: { bold: false, italic: false, strikethrough: false, underline: false, code: false, color: 'default' },
        plain_text: content, href: null };
}

function titleProp(text) {
    return { id: 'title', type: 'title', title: [richText(text)] };
}

export function seed() {
    const page = (id, title, parent, props = {}, edited = '2024-06-01T10:00:00.000Z') => ({
        object: 'page', id, created_time: '2024-05-01T10:00:00.000Z', last_edited_time: edited, created_by: BOT_USER, last_edited_by: BOT_USER,
        cover: null, icon: null, parent, archived: false, in_trash: false, properties: props.title ? props : { title: titleProp(title), ...props },
        url: `https://www.notion.so/${title.replace(/\W+/g, '-')}-${id.replace(/-/g, '')}`, public_url: null,
    });
    const row = (id, name, status, edited) => page(id, name, { type: 'data_source_id', data_source_id: DS_TASKS, database_id: DB_TASKS }, {
        Name: { id: 'title', type: 'title', title: [richText(name)] },
        Status: { id: 'st', type: 'status', status: { id: 's1', name: status, color: 'blue' } },
    }, edited);
    return {
        pages: [
            page(P_RUNBOOKS, 'Incident runbooks', { type: 'workspace', workspace: true }, {}, '2024-06-02T10:00:00.000Z'),
            page(P_ONCALL, 'On-call handbook', { type: 'page_id', page_id: P_RUNBOOKS }, {}, '2024-06-01T09:00:00.000Z'),
            row('a1a1a1a1-0000-4000-8000-000000000001', 'Rotate API keys', 'In progress', '2024-06-03T10:00:00.000Z'),
            row('a1a1a1a1-0000-4000-8000-000000000002', 'Upgrade Postgres', 'Not started', '2024-06-01T08:00:00.000Z'),
        ],
        dataSources: [{ object: 'data_source', id: DS_TASKS, title: [richText('Eng tasks')], parent: { type: 'database_id', database_id: DB_TASKS },
            properties: { Name: { id: 'title', type: 'title' }, Status: { id: 'st', type: 'status' } }, last_edited_time: '2024-06-03T10:00:00.000Z' }],
        blocks: {
            [P_RUNBOOKS]: [
                { type: 'heading_2', heading_2: { rich_text: [richText('Database failover')] } },
                { type: 'paragraph', paragraph: { rich_text: [richText('Promote the replica, then repoint the app.')] } },
                { type: 'to_do', to_do: { rich_text: [richText('Page the DBA')], checked: false } },
            ],
        },
        comments: [],
        nextId: 1,
    };
}

function err(res, status, code, message) {
    send(res, status, { object: 'error', status, code, message, request_id: 'a7e9c1d2-0000-4000-8000-0000000000ff' });
}

class Invalid extends Error {}

/* Notion's validation message for a missing member. */
function need(cond, path) {
    if (!cond) throw new Invalid(`body failed validation: ${path} should be defined, instead was \`undefined\`.`);
}

function norm(id) {
    return String(id || '').replace(/-/g, '').toLowerCase();
}

function findPage(fake, id) {
    return fake.data.pages.find((p) => norm(p.id) === norm(id));
}

function notShared(res, kind, id) {
    err(res, 404, 'object_not_found', `Could not find ${kind} with ID: ${id}. Make sure the relevant pages and databases are shared with your integration.`);
}

function listOf(results, body, type) {
    const size = body.page_size ?? 100;
    if (!Number.isInteger(size) || size < 1 || size > 100) throw new Invalid('body failed validation: body.page_size should be ≤ `100`, instead was `' + size + '`.');
    const start = body.start_cursor ? Number(Buffer.from(body.start_cursor, 'base64').toString()) : 0;
    const slice = results.slice(start, start + size);
    const more = start + size < results.length;
    return { object: 'list', results: slice, next_cursor: more ? Buffer.from(String(start + size)).toString('base64') : null,
        has_more: more, type, [type]: {} };
}

function plain(p) {
    const t = Object.values(p.properties).find((x) => x.type === 'title');
    return (t ? t.title : []).map((r) => r.plain_text).join('');
}

function checkRichText(list, path) {
    need(Array.isArray(list), path);
    list.forEach((r, k) => need(r && r.text && typeof r.text.content === 'string', `${path}[${k}].text.content`));
    if (list.some((r) => r.text.content.length > 2000)) throw new Invalid(`body failed validation: ${path}[0].text.content.length should be ≤ \`2000\`.`);
}

/* Blocks as Notion takes them: each names its type and has the object of that name. */
function checkBlocks(children, path) {
    need(Array.isArray(children), path);
    if (children.length > 100) throw new Invalid(`body failed validation: ${path}.length should be ≤ \`100\`, instead was \`${children.length}\`.`);
    children.forEach((b, k) => {
        need(b && typeof b.type === 'string', `${path}[${k}].type`);
        need(b[b.type] && typeof b[b.type] === 'object', `${path}[${k}].${b.type}`);
        if (b.type !== 'divider') checkRichText(b[b.type].rich_text, `${path}[${k}].${b.type}.rich_text`);
    });
}

function blockOut(fake, parentId, b) {
    const id = `bbbbbbbb-0000-4000-8000-${String(fake.data.nextId++).padStart(12, '0')}`;
    const content = b[b.type];
    const out = { ...content };
    if (content.rich_text) out.rich_text = content.rich_text.map((r) => ({ ...richText(r.text.content), ...(r.annotations ? { annotations: { ...richText('').annotations, ...r.annotations } } : {}) }));
    return { object: 'block', id, parent: { type: 'page_id', page_id: parentId }, created_time: '2024-06-10T08:00:00.000Z',
        last_edited_time: '2024-06-10T08:00:00.000Z', created_by: BOT_USER, last_edited_by: BOT_USER, has_children: false,
        archived: false, in_trash: false, type: b.type, [b.type]: out };
}

function route(fake, rec, body) {
    const p = rec.pathname;
    let m;
    if (rec.method === 'POST' && p === '/v1/search') {
        if (body.filter) {
            need(body.filter.property === 'object', 'body.filter.property');
            if (!['page', 'data_source'].includes(body.filter.value))
                throw new Invalid(`body failed validation: body.filter.value should be either \`"page"\` or \`"data_source"\`, instead was \`${JSON.stringify(body.filter.value)}\`.`);
        }
        const q = (body.query || '').toLowerCase();
        let results = [...fake.data.pages, ...fake.data.dataSources].filter((x) => {
            if (body.filter && x.object !== body.filter.value) return false;
            const t = x.object === 'page' ? plain(x) : x.title.map((r) => r.plain_text).join('');
            return t.toLowerCase().includes(q);
        });
        if (body.sort) results = results.sort((a, b) => (a.last_edited_time < b.last_edited_time ? 1 : -1) * (body.sort.direction === 'ascending' ? -1 : 1));
        return [200, listOf(results, body, 'page_or_data_source')];
    }
    if (rec.method === 'GET' && (m = /^\/v1\/pages\/([^/]+)$/.exec(p))) {
        const page = findPage(fake, m[1]);
        return page ? [200, page] : [404, ['page', m[1]]];
    }
    if ((m = /^\/v1\/blocks\/([^/]+)\/children$/.exec(p))) {
        const page = findPage(fake, m[1]);
        if (!page) return [404, ['block', m[1]]];
        const list = fake.data.blocks[page.id] || (fake.data.blocks[page.id] = []);
        if (rec.method === 'GET') {
            const q = queryOf(rec);
            const opts = { page_size: q.page_size === undefined ? undefined : Number(q.page_size), start_cursor: q.start_cursor };
            return [200, listOf(list.map((b, k) => ({ object: 'block', id: `cccccccc-0000-4000-8000-${String(k).padStart(12, '0')}`,
                has_children: false, type: b.type, [b.type]: b[b.type] })), opts, 'block')];
        }
        if (rec.method === 'PATCH') {
            checkBlocks(body.children, 'body.children');
            const added = body.children.map((b) => blockOut(fake, page.id, b));
            list.push(...body.children);
            return [200, { object: 'list', results: added, next_cursor: null, has_more: false, type: 'block', block: {} }];
        }
    }
    if (rec.method === 'POST' && (m = /^\/v1\/data_sources\/([^/]+)\/query$/.exec(p))) {
        const ds = fake.data.dataSources.find((d) => norm(d.id) === norm(m[1]));
        if (!ds) return [404, ['data source', m[1]]];
        let rows = fake.data.pages.filter((x) => x.parent.type === 'data_source_id' && norm(x.parent.data_source_id) === norm(ds.id));
        const f = body.filter;
        if (f) {
            need(typeof f.property === 'string', 'body.filter.property');
            if (!(f.property in ds.properties)) throw new Invalid(`Could not find property with name or id: ${f.property}`);
            if (f.status) rows = rows.filter((r) => r.properties[f.property].status.name === f.status.equals);
            else if (f.title) rows = rows.filter((r) => plain(r).includes(f.title.contains));
            else throw new Error('fake notion: only status equals and title contains filters are modelled');
        }
        for (const s of [...(body.sorts || [])].reverse()) {
            rows = [...rows].sort((a, b) => (a.last_edited_time < b.last_edited_time ? -1 : 1) * (s.direction === 'descending' ? -1 : 1));
        }
        return [200, listOf(rows, body, 'page_or_data_source')];
    }
    if (rec.method === 'POST' && p === '/v1/pages') {
        need(body.parent && (body.parent.page_id || body.parent.data_source_id), 'body.parent.page_id');
        need(body.properties && typeof body.properties === 'object', 'body.properties');
        let parent;
        if (body.parent.page_id) {
            if (!findPage(fake, body.parent.page_id)) return [404, ['page', body.parent.page_id]];
            // Under a page, a new page has no schema but its title.
            const extra = Object.keys(body.properties).filter((k) => k !== 'title');
            if (extra.length) throw new Invalid(`${extra[0]} is not a property that exists.`);
            need(body.properties.title && Array.isArray(body.properties.title.title), 'body.properties.title.title');
            parent = { type: 'page_id', page_id: body.parent.page_id };
        } else {
            const ds = fake.data.dataSources.find((d) => norm(d.id) === norm(body.parent.data_source_id));
            if (!ds) return [404, ['data source', body.parent.data_source_id]];
            for (const k of Object.keys(body.properties)) if (!(k in ds.properties)) throw new Invalid(`${k} is not a property that exists.`);
            parent = { type: 'data_source_id', data_source_id: ds.id, database_id: DB_TASKS };
        }
        if (body.children !== undefined) checkBlocks(body.children, 'body.children');
        const id = `eeeeeeee-0000-4000-8000-${String(fake.data.nextId++).padStart(12, '0')}`;
        const props = {};
        for (const [k, v] of Object.entries(body.properties)) {
            props[k] = v.title ? { id: 'title', type: 'title', title: v.title.map((r) => richText(r.text.content)) } : { id: k.slice(0, 4), type: Object.keys(v)[0], ...v };
        }
        const page = { object: 'page', id, created_time: '2024-06-10T08:00:00.000Z', last_edited_time: '2024-06-10T08:00:00.000Z',
            created_by: BOT_USER, last_edited_by: BOT_USER, cover: null, icon: body.icon || null, parent, archived: false, in_trash: false,
            properties: props, url: `https://www.notion.so/${id.replace(/-/g, '')}`, public_url: null };
        fake.data.pages.push(page);
        fake.data.blocks[id] = body.children || [];
        return [200, page];
    }
    if (rec.method === 'POST' && p === '/v1/comments') {
        const hasParent = !!(body.parent && body.parent.page_id);
        if (hasParent === !!body.discussion_id) throw new Invalid('body failed validation. Fix one: body.parent should be defined, instead was `undefined`. body.discussion_id should be defined, instead was `undefined`.');
        checkRichText(body.rich_text, 'body.rich_text');
        let pageId;
        if (hasParent) {
            const page = findPage(fake, body.parent.page_id);
            if (!page) return [404, ['page', body.parent.page_id]];
            pageId = page.id;
        } else {
            const d = fake.data.comments.find((c) => c.discussion_id === body.discussion_id);
            if (!d && body.discussion_id !== DISCUSSION) return [404, ['discussion', body.discussion_id]];
            pageId = d ? d.parent.page_id : P_RUNBOOKS;
        }
        const c = { object: 'comment', id: `dddddddd-0000-4000-8000-${String(fake.data.nextId++).padStart(12, '0')}`,
            parent: { type: 'page_id', page_id: pageId }, discussion_id: body.discussion_id || `ffffffff-0000-4000-8000-${String(fake.data.nextId++).padStart(12, '0')}`,
            created_time: '2024-06-10T08:30:00.000Z', last_edited_time: '2024-06-10T08:30:00.000Z', created_by: BOT_USER,
            rich_text: body.rich_text.map((r) => richText(r.text.content)) };
        fake.data.comments.push(c);
        return [200, c];
    }
    return [400, 'invalid_request_url'];
}

export function handle(fake, rec, res) {
    if (bearer(rec.headers) !== TOKEN) return err(res, 401, 'unauthorized', 'API token is invalid.');
    const version = rec.headers['notion-version'];
    if (!version) return err(res, 400, 'missing_version', 'Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.');
    if (!VERSIONS.includes(version)) return err(res, 400, 'validation_error', `Provided API version ${version} is invalid.`);
    let body = {};
    if (rec.method === 'POST' || rec.method === 'PATCH') {
        if (mediaType(rec.headers) !== 'application/json') return err(res, 400, 'invalid_json', 'Error parsing JSON body.');
        try {
            body = JSON.parse(rec.body || '{}');
        } catch {
            return err(res, 400, 'invalid_json', 'Error parsing JSON body.');
        }
    }
    let out;
    try {
        out = route(fake, rec, body);
    } catch (e) {
        if (!(e instanceof Invalid)) throw e;
        return err(res, 400, 'validation_error', e.message);
    }
    const [status, value] = out;
    if (status === 404) return notShared(res, value[0], value[1]);
    if (status === 400) return err(res, 400, 'invalid_request_url', 'Invalid request URL.');
    send(res, status, value);
}

/* ---- the contract cases ---- */

function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.headers['notion-version'], '2025-09-03');
}

function sentJson(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

const para = (t) => ({ object: 'block', type: 'paragraph', paragraph: { rich_text: [{ text: { content: t } }] } });

export const cases = {
    search: {
        args: { query: 'runbook', filter: { property: 'object', value: 'page' }, sort: { timestamp: 'last_edited_time', direction: 'descending' }, page_size: 10 },
        check(rec, res) {
            common(rec, 'POST', '/v1/search');
            assert.deepEqual(sentJson(rec), { query: 'runbook', filter: { property: 'object', value: 'page' }, sort: { timestamp: 'last_edited_time', direction: 'descending' }, page_size: 10 });
            assert.deepEqual(res.structuredContent.results.map((r) => r.id), [P_RUNBOOKS]);
            assert.equal(res.structuredContent.has_more, false);
        },
    },
    get_page: {
        args: { page_id: P_ONCALL.replace(/-/g, '') },
        check(rec, res) {
            common(rec, 'GET', `/v1/pages/${P_ONCALL.replace(/-/g, '')}`);
            assert.equal(res.structuredContent.id, P_ONCALL);
            assert.equal(res.structuredContent.properties.title.title[0].plain_text, 'On-call handbook');
        },
    },
    get_block_children: {
        args: { block_id: P_RUNBOOKS, page_size: 2 },
        check(rec, res) {
            common(rec, 'GET', `/v1/blocks/${P_RUNBOOKS}/children`);
            assert.deepEqual(queryOf(rec), { page_size: '2' });
            const r = res.structuredContent;
            assert.deepEqual(r.results.map((b) => b.type), ['heading_2', 'paragraph']);
            assert.equal(r.results[1].paragraph.rich_text[0].plain_text, 'Promote the replica, then repoint the app.');
            assert.equal(r.has_more, true);
            assert.equal(typeof r.next_cursor, 'string');
        },
    },
    query_data_source: {
        args: { data_source_id: DS_TASKS, filter: { property: 'Status', status: { equals: 'In progress' } }, sorts: [{ timestamp: 'last_edited_time', direction: 'descending' }] },
        check(rec, res) {
            common(rec, 'POST', `/v1/data_sources/${DS_TASKS}/query`);
            assert.deepEqual(sentJson(rec), { filter: { property: 'Status', status: { equals: 'In progress' } }, sorts: [{ timestamp: 'last_edited_time', direction: 'descending' }] });
            assert.deepEqual(res.structuredContent.results.map((r) => r.properties.Name.title[0].plain_text), ['Rotate API keys']);
        },
    },
    create_page: {
        args: {
            parent: { page_id: P_RUNBOOKS },
            properties: { title: { title: [{ text: { content: 'Postmortem 2024-06-03' } }] } },
            children: [{ object: 'block', type: 'heading_2', heading_2: { rich_text: [{ text: { content: 'Timeline' } }] } }, para('10:00 alert fired.')],
        },
        check(rec, res, fake) {
            common(rec, 'POST', '/v1/pages');
            const b = sentJson(rec);
            assert.deepEqual(b.parent, { page_id: P_RUNBOOKS });
            assert.equal(b.children.length, 2);
            assert.equal(res.structuredContent.object, 'page');
            assert.equal(res.structuredContent.properties.title.title[0].plain_text, 'Postmortem 2024-06-03');
            assert.equal(fake.data.blocks[res.structuredContent.id].length, 2);
        },
    },
    append_blocks: {
        args: { block_id: P_ONCALL, children: [para('Escalate after 15 minutes.'), { type: 'divider', divider: {} }] },
        check(rec, res, fake) {
            common(rec, 'PATCH', `/v1/blocks/${P_ONCALL}/children`);
            assert.deepEqual(sentJson(rec), { children: [para('Escalate after 15 minutes.'), { type: 'divider', divider: {} }] });
            assert.deepEqual(res.structuredContent.results.map((b) => b.type), ['paragraph', 'divider']);
            assert.equal(fake.data.blocks[P_ONCALL].length, 2);
        },
    },
    create_comment: {
        args: { parent: { page_id: P_RUNBOOKS }, rich_text: [{ text: { content: 'Step 2 is out of date since the move to Aurora.' } }] },
        check(rec, res) {
            common(rec, 'POST', '/v1/comments');
            assert.deepEqual(sentJson(rec), { parent: { page_id: P_RUNBOOKS }, rich_text: [{ text: { content: 'Step 2 is out of date since the move to Aurora.' } }] });
            assert.equal(res.structuredContent.object, 'comment');
            assert.equal(res.structuredContent.rich_text[0].plain_text, 'Step 2 is out of date since the move to Aurora.');
        },
    },
};

export const errors = [
    {
        tool: 'get_page', args: { page_id: '00000000-0000-4000-8000-000000000000' },
        match: /^notion API error: HTTP 404: Could not find page with ID: 00000000-0000-4000-8000-000000000000\. Make sure the relevant pages and databases are shared with your integration\.$/,
    },
    {
        tool: 'create_page', args: { parent: { page_id: P_RUNBOOKS }, properties: { title: { title: [{ text: { content: 'x' } }] }, Status: { status: { name: 'Done' } } } },
        match: /^notion API error: HTTP 400: Status is not a property that exists\.$/,
    },
    {
        tool: 'query_data_source', args: { data_source_id: DS_TASKS, filter: { property: 'Owner', people: { contains: BOT_USER.id } } },
        match: /^notion API error: HTTP 400: Could not find property with name or id: Owner$/,
    },
    {
        tool: 'create_comment', args: { parent: { page_id: P_RUNBOOKS }, discussion_id: DISCUSSION, rich_text: [{ text: { content: 'x' } }] },
        match: /^notion API error: HTTP 400: body failed validation\. Fix one: body\.parent should be defined/,
    },
];
