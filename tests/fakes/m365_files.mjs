// A fake of Microsoft Graph v1.0 files (OneDrive and SharePoint) for the catalog's m365_files
// connector, per the Graph reference (https://learn.microsoft.com/en-us/graph/api/resources/
// onedrive?view=graph-rest-1.0): "Search for files" GET /users/{upn}/drive/root/search(q='{text}')
// and GET /drives/{drive-id}/root/search(q='{text}'), "List children" GET
// /users/{upn}/drive/items/{item-id}/children and /drives/{drive-id}/items/{item-id}/children
// ("root" for the top folder), "Search for sites" GET /sites?search={text}, "List drives" GET
// /sites/{site-id}/drives, "Get a DriveItem" GET /drives/{drive-id}/items/{item-id}, "Create a
// sharing link" POST /drives/{drive-id}/items/{item-id}/createLink {"type", "scope",
// "expirationDateTime", "password"} (201 with a new permission whose link.webUrl is the link).
// Collections are {"@odata.context", "value": [...]}. Errors are Graph's {"error": {"code",
// "message", "innerError"}}: 404 itemNotFound "The resource could not be found.", 400
// invalidRequest (e.g. an unknown link type). The token endpoint is the one outlook.mjs fakes.

import assert from 'node:assert/strict';

import { MS_CREDENTIAL, graphBody, graphError, msAuthorized, msToken, page } from './outlook.mjs';
import { mediaType, queryOf, send } from './lib.mjs';

export const connector = 'm365_files';
export const credential = MS_CREDENTIAL;
// The Microsoft identity platform's token endpoint, per tenant (msToken, outlook.mjs).
export const tokenPath = '/{credential.tenant_id}/oauth2/v2.0/token';

const SITE = 'contoso.sharepoint.com,2C712604-1370-44E7-A1F5-426573FDA80A,2D2244C3-251A-49EA-93A8-39E1C3A060FE';
const SALES_DRIVE = 'b!BhRxLHATQUSh9UJlc_2oCsNEIi3qJepKkzih4cOgYP5e7rzfKzJMQqYgUBmTrFzK';
const OPLAN = '01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K';
const DECK = '01BYE5RZ5MYLM2SMX75ZBIPQZIHT6OAYPB';

function item(id, name, driveId, extra = {}) {
    return {
        id, name, createdDateTime: '2025-02-01T10:00:00Z', lastModifiedDateTime: '2025-03-01T10:00:00Z', size: 48213,
        webUrl: `https://contoso.sharepoint.com/sites/sales/Shared%20Documents/${encodeURIComponent(name)}`,
        parentReference: { driveId, driveType: driveId === SALES_DRIVE ? 'documentLibrary' : 'business', id: '01BYE5RZ56Y2GOVW7725BZO354PWSELRRZ', path: '/drive/root:' },
        ...extra,
    };
}

/* A user's OneDrive, seeded on first use (drive id derived from the user). */
function onedrive(fake, user) {
    if (!fake.data.onedrives.has(user)) {
        const driveId = `b!personal-${Buffer.from(user).toString('hex').slice(0, 24)}`;
        fake.data.onedrives.set(user, {
            driveId,
            items: [
                item('01PERSONALACMENOTES000000000000000', 'Acme call notes.docx', driveId, { file: { mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' } }),
                item('01PERSONALFOLDERQUOTES00000000000', 'Quotes', driveId, { folder: { childCount: 3 }, size: 0 }),
            ],
        });
    }
    return fake.data.onedrives.get(user);
}

export function seed() {
    return {
        tokens: new Set(),
        onedrives: new Map(),
        sites: [
            { id: SITE, name: 'sales', displayName: 'Sales', description: 'Sales team site: proposals, price lists, decks', webUrl: 'https://contoso.sharepoint.com/sites/sales', createdDateTime: '2023-01-10T08:00:00Z' },
            { id: 'contoso.sharepoint.com,11111111-2222-3333-4444-555555555555,66666666-7777-8888-9999-000000000000', name: 'hr', displayName: 'Human Resources', description: 'HR policies', webUrl: 'https://contoso.sharepoint.com/sites/hr', createdDateTime: '2023-01-10T08:00:00Z' },
        ],
        drives: new Map([[SALES_DRIVE, {
            drive: { id: SALES_DRIVE, name: 'Documents', driveType: 'documentLibrary', webUrl: 'https://contoso.sharepoint.com/sites/sales/Shared%20Documents', createdDateTime: '2023-01-10T08:00:00Z' },
            items: [
                item(OPLAN, 'Acme account plan.xlsx', SALES_DRIVE, { file: { mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' }, '@microsoft.graph.downloadUrl': 'https://contoso.sharepoint.com/sites/sales/_layouts/15/download.aspx?UniqueId=fake&tempauth=fake' }),
                item(DECK, 'Pitch deck 2025.pptx', SALES_DRIVE, { file: { mimeType: 'application/vnd.openxmlformats-officedocument.presentationml.presentation' } }),
            ],
        }]]),
        links: [],
    };
}

function collection(res, context, value) {
    send(res, 200, { '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#${context}`, value });
}

/*
 * A driveItem collection a page at a time ("List children of a driveItem", "Search for files":
 * $top, default 200, at most 999, and $skipToken from the previous page's @odata.nextLink;
 * this fake's token is the offset in base64).
 */
function driveItems(rec, res, context, items) {
    const tok = new URLSearchParams(rec.query).get('$skiptoken');
    const from = tok === null ? 0 : Number(Buffer.from(tok, 'base64').toString());
    if (!Number.isInteger(from) || from < 0) return graphError(res, 400, 'invalidRequest', 'Invalid skip token');
    const pg = page(rec, res, items, from, '$skiptoken', (n) => Buffer.from(String(n)).toString('base64'), { size: 200, max: 999 });
    if (!pg) return undefined;
    return send(res, 200, { '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#${context}`, ...pg });
}

/* Search matches every word of q in an item's name (the service also looks in content). */
function searched(items, q) {
    const words = q.toLowerCase().split(/\s+/).filter(Boolean);
    return items.filter((i) => words.every((w) => i.name.toLowerCase().includes(w)));
}

/* The q of a search(q='...') segment, or null when the segment is malformed. */
function searchText(segment) {
    const m = /^search\(q='([^']*)'\)$/.exec(decodeURIComponent(segment));
    return m ? m[1] : null;
}

export function handle(fake, rec, res) {
    if (msToken(fake, rec, res)) return undefined;
    if (!msAuthorized(fake, rec, res)) return undefined;
    const p = rec.pathname;
    const notFound = () => graphError(res, 404, 'itemNotFound', 'The resource could not be found.');
    let m = /^\/users\/([^/]+)\/drive\/(.+)$/.exec(p);
    if (m && rec.method === 'GET') {
        const user = decodeURIComponent(m[1]);
        if (!/^[^@\s]+@example\.com$/.test(user)) return graphError(res, 404, 'ResourceNotFound', `User not found: ${user}`);
        const od = onedrive(fake, user);
        const rest = m[2];
        const s = /^root\/(.+)$/.exec(rest);
        if (s) {
            const q = searchText(s[1]);
            if (q === null) return graphError(res, 400, 'invalidRequest', 'Invalid request');
            return driveItems(rec, res, 'Collection(driveItem)', searched(od.items, q));
        }
        const c = /^items\/([A-Za-z0-9!_-]+)\/children$/.exec(rest);
        if (c) return c[1] === 'root' ? driveItems(rec, res, `users('${user}')/drive/items('root')/children`, od.items) : notFound();
        return notFound();
    }
    if (p === '/sites' && rec.method === 'GET') {
        const q = (queryOf(rec).search || '').toLowerCase();
        return collection(res, 'sites', fake.data.sites.filter((s) => `${s.displayName} ${s.description}`.toLowerCase().includes(q)));
    }
    m = /^\/sites\/([^/]+)\/drives$/.exec(p);
    if (m && rec.method === 'GET') {
        const id = decodeURIComponent(m[1]);
        if (!fake.data.sites.some((s) => s.id === id)) return notFound();
        return collection(res, `sites('${id}')/drives`, id === SITE ? [fake.data.drives.get(SALES_DRIVE).drive] : []);
    }
    m = /^\/drives\/([^/]+)\/(.+)$/.exec(p);
    if (m) {
        const d = fake.data.drives.get(decodeURIComponent(m[1]));
        if (!d) return notFound();
        const rest = m[2];
        const s = /^root\/(.+)$/.exec(rest);
        if (s && rec.method === 'GET') {
            const q = searchText(s[1]);
            if (q === null) return graphError(res, 400, 'invalidRequest', 'Invalid request');
            return driveItems(rec, res, 'Collection(driveItem)', searched(d.items, q));
        }
        const i = /^items\/([A-Za-z0-9!_-]+)(\/children|\/createLink)?$/.exec(rest);
        if (!i) return notFound();
        if (i[1] === 'root' && i[2] === '/children' && rec.method === 'GET') return driveItems(rec, res, `drives('${d.drive.id}')/items('root')/children`, d.items);
        const it = d.items.find((x) => x.id === i[1]);
        if (!it) return notFound();
        if (!i[2] && rec.method === 'GET') return send(res, 200, { '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#drives('${d.drive.id}')/items/$entity`, ...it });
        if (i[2] === '/children' && rec.method === 'GET') return collection(res, 'Collection(driveItem)', []);
        if (i[2] === '/createLink' && rec.method === 'POST') {
            const b = graphBody(rec, res);
            if (!b) return undefined;
            if (!['view', 'edit', 'embed'].includes(b.type)) return graphError(res, 400, 'invalidRequest', 'Invalid value for link type');
            if (b.scope && !['anonymous', 'organization', 'users'].includes(b.scope)) return graphError(res, 400, 'invalidRequest', 'Invalid value for link scope');
            const perm = {
                id: `123ABC${fake.data.links.length + 1}`, roles: [b.type === 'edit' ? 'write' : 'read'], shareId: `u!fake${fake.data.links.length + 1}`,
                hasPassword: Boolean(b.password), expirationDateTime: b.expirationDateTime,
                link: { type: b.type, scope: b.scope || 'organization', webUrl: `https://contoso.sharepoint.com/:x:/s/sales/Efake${fake.data.links.length + 1}`, application: { id: '1234', displayName: 'Sample Application' } },
            };
            fake.data.links.push({ item: it.id, ...perm });
            return send(res, 201, perm);
        }
    }
    return notFound();
}

function callerUser(rec) {
    const m = /^\/users\/([^/]+)\//.exec(rec.pathname);
    assert.ok(m, rec.pathname);
    const user = decodeURIComponent(m[1]);
    assert.match(user, /^user.*@example\.com$/, 'the path names the calling employee, from the directory');
    assert.match(rec.headers.authorization, /^Bearer eyJ0eXAi/);
    return user;
}

export const cases = {
    search_my_files: {
        args: { q: 'Acme notes', top: 25 },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerUser(rec);
            assert.equal(decodeURIComponent(rec.pathname), `/users/${user}/drive/root/search(q='Acme notes')`);
            assert.equal(rec.query, '%24top=25');
            assert.ok(rec.pathname.includes('Acme%20notes'), 'the text is percent-encoded in the path');
            assert.deepEqual(result.structuredContent.value.map((i) => i.name), ['Acme call notes.docx']);
        },
    },
    list_my_folder: {
        // The second page of one item each: the token a first page's @odata.nextLink holds.
        args: { item_id: 'root', top: 1, skip_token: Buffer.from('1').toString('base64') },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            const user = callerUser(rec);
            assert.equal(decodeURIComponent(rec.pathname), `/users/${user}/drive/items/root/children`);
            assert.equal(rec.query, '%24top=1&%24skiptoken=MQ%3D%3D');
            assert.deepEqual(result.structuredContent.value.map((i) => i.name), ['Quotes']);
            assert.equal(result.structuredContent['@odata.nextLink'], undefined, 'the last page');
        },
    },
    search_sites: {
        args: { search: 'sales' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/sites');
            assert.deepEqual(queryOf(rec), { search: 'sales' });
            assert.deepEqual(result.structuredContent.value.map((s) => s.id), [SITE]);
        },
    },
    list_site_drives: {
        args: { site_id: SITE },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(decodeURIComponent(rec.pathname), `/sites/${SITE}/drives`);
            assert.equal(result.structuredContent.value[0].id, SALES_DRIVE);
        },
    },
    search_drive: {
        args: { drive_id: SALES_DRIVE, q: 'acme' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(decodeURIComponent(rec.pathname), `/drives/${SALES_DRIVE}/root/search(q='acme')`);
            assert.deepEqual(result.structuredContent.value.map((i) => i.id), [OPLAN]);
        },
    },
    list_folder: {
        args: { drive_id: SALES_DRIVE, item_id: 'root', top: 1 },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(decodeURIComponent(rec.pathname), `/drives/${SALES_DRIVE}/items/root/children`);
            assert.equal(rec.query, '%24top=1');
            assert.deepEqual(result.structuredContent.value.map((i) => i.id), [OPLAN]);
            const next = new URL(result.structuredContent['@odata.nextLink']);
            assert.equal(next.searchParams.get('$top'), '1');
            assert.equal(next.searchParams.get('$skiptoken'), Buffer.from('1').toString('base64'));
        },
    },
    get_item: {
        args: { drive_id: SALES_DRIVE, item_id: OPLAN },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(decodeURIComponent(rec.pathname), `/drives/${SALES_DRIVE}/items/${OPLAN}`);
            assert.equal(result.structuredContent.name, 'Acme account plan.xlsx');
            assert.equal(result.structuredContent.parentReference.driveId, SALES_DRIVE);
        },
    },
    create_sharing_link: {
        args: { drive_id: SALES_DRIVE, item_id: DECK, type: 'view', scope: 'organization' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(decodeURIComponent(rec.pathname), `/drives/${SALES_DRIVE}/items/${DECK}/createLink`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { type: 'view', scope: 'organization' });
            assert.equal(result.structuredContent.link.scope, 'organization');
            assert.match(result.structuredContent.link.webUrl, /^https:\/\/contoso\.sharepoint\.com\//);
            assert.equal(fake.data.links.at(-1).item, DECK);
        },
    },
};

export const errors = [
    { tool: 'get_item', args: { drive_id: SALES_DRIVE, item_id: '01NOSUCHITEM0000000000000000000000' }, match: /^m365_files API error: HTTP 404: The resource could not be found\.$/ },
    { tool: 'list_site_drives', args: { site_id: 'contoso.sharepoint.com,00000000-0000-0000-0000-000000000000,00000000-0000-0000-0000-000000000000' }, match: /HTTP 404: The resource could not be found\./ },
];
