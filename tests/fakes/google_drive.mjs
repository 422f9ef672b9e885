// A fake of the Google Drive API v3 for the catalog's google_drive connector, per its REST
// reference (https://developers.google.com/workspace/drive/api/reference/rest/v3): files.list
// GET /files (q, fields, pageSize, pageToken, orderBy, corpora, includeItemsFromAllDrives,
// supportsAllDrives), files.get GET /files/{fileId} (fields), files.export
// GET /files/{fileId}/export?mimeType= (Google Workspace documents only; the content itself in
// the export format), files.copy POST /files/{fileId}/copy, permissions.create
// POST /files/{fileId}/permissions (sendNotificationEmail, emailMessage). Without fields a file
// is {kind, id, name, mimeType}. The files are those the token's user (the JWT's sub) may open.
// Errors are Google's {"error": {"code", "message", "errors": [{"reason", "location"}]}}: 404
// "File not found: <id>." (notFound), 403 "Export only supports Docs Editors files."
// (fileNotExportable), 400 invalid q ("Invalid Value", invalid). The token endpoint is the one
// google_calendar.mjs fakes.

import assert from 'node:assert/strict';

import { SERVICE_ACCOUNT, googleBody, googleError, googleToken, googleUser, subjectOf } from './google_calendar.mjs';
import { bearer, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'google_drive';
export const credential = SERVICE_ACCOUNT;
// Google's token endpoint, served by googleToken at this path (google_calendar.mjs).
export const tokenPath = '/token';

const SCOPES = ['https://www.googleapis.com/auth/drive'];
const DOC = 'application/vnd.google-apps.document';
const SHEET = 'application/vnd.google-apps.spreadsheet';

const PROPOSAL = '1A2b3C4d5E6f7G8h9I0jKlMnOpQrStUvWxYz';
const PRICES = '1ZyXwVuTsRqPoNmLkJiHgFeDcBa0987654321';
const PDF = '0B7xPdfFakeUploadedContract123';

export function seed() {
    return {
        tokens: new Map(),
        next: 1,
        files: new Map([
            [PROPOSAL, { id: PROPOSAL, name: 'Acme - Proposal template', mimeType: DOC, parents: ['0AFolderSales0001'], modifiedTime: '2025-03-01T09:00:00.000Z', webViewLink: `https://docs.google.com/document/d/${PROPOSAL}/edit`, text: 'Proposal for {{customer}}\n\nScope: 200 seats.' }],
            [PRICES, { id: PRICES, name: 'Price list 2025', mimeType: SHEET, parents: ['0AFolderSales0001'], modifiedTime: '2025-02-10T12:00:00.000Z', webViewLink: `https://docs.google.com/spreadsheets/d/${PRICES}/edit`, csv: 'plan,price\nTeam,20\nBusiness,35\n' }],
            [PDF, { id: PDF, name: 'Acme MSA signed.pdf', mimeType: 'application/pdf', parents: ['0AFolderSales0001'], modifiedTime: '2025-01-20T08:00:00.000Z', webViewLink: `https://drive.google.com/file/d/${PDF}/view` }],
        ]),
        permissions: [],
    };
}

/* Keeps the fields a files.get or files.list "fields" asks for (one level: files(a, b) or a, b). */
function pick(file, fields) {
    const base = { kind: 'drive#file', id: file.id, name: file.name, mimeType: file.mimeType };
    if (!fields) return base;
    if (fields.trim() === '*') return (({ text, csv, ...rest }) => ({ kind: 'drive#file', ...rest }))(file);
    const inner = /files\(([^)]*)\)/.exec(fields);
    const names = (inner ? inner[1] : fields).split(',').map((s) => s.trim().split('(')[0]).filter((s) => s && s !== 'nextPageToken');
    return Object.fromEntries(names.filter((n) => n in file || n === 'kind').map((n) => [n, n === 'kind' ? 'drive#file' : file[n]]));
}

/* Drive's query language, as far as the cases use it: name contains, mimeType =, trashed = false. */
function query(q) {
    const terms = q.split(/\s+and\s+/i);
    const tests = [];
    for (const t of terms) {
        let m = /^name\s+contains\s+'((?:[^'\\]|\\.)*)'$/.exec(t.trim());
        if (m) { tests.push((f) => f.name.toLowerCase().includes(m[1].toLowerCase())); continue; }
        m = /^mimeType\s*=\s*'([^']*)'$/.exec(t.trim());
        if (m) { tests.push((f) => f.mimeType === m[1]); continue; }
        if (/^trashed\s*=\s*false$/.test(t.trim())) continue;
        return null;
    }
    return (f) => tests.every((fn) => fn(f));
}

export function handle(fake, rec, res) {
    if (googleToken(fake, rec, res, SCOPES)) return undefined;
    const user = googleUser(fake, rec, res);
    if (!user) return undefined;
    const q = queryOf(rec);
    const p = rec.pathname;
    if (p === '/files' && rec.method === 'GET') {
        const test = q.q ? query(q.q) : () => true;
        if (!test) return googleError(res, 400, 'INVALID_ARGUMENT', 'invalid', 'Invalid Value', { location: 'q', locationType: 'parameter' });
        const files = [...fake.data.files.values()].filter(test).slice(0, Number(q.pageSize || 100));
        return send(res, 200, { kind: 'drive#fileList', incompleteSearch: false, files: files.map((f) => pick(f, q.fields)) });
    }
    const m = /^\/files\/([A-Za-z0-9_-]+)(\/export|\/copy|\/permissions)?$/.exec(p);
    if (!m) return googleError(res, 404, 'NOT_FOUND', 'notFound', 'Not Found');
    const file = fake.data.files.get(m[1]);
    if (!file) return googleError(res, 404, 'NOT_FOUND', 'notFound', `File not found: ${m[1]}.`, { locationType: 'parameter', location: 'fileId' });
    if (!m[2] && rec.method === 'GET') return send(res, 200, pick(file, q.fields));
    if (m[2] === '/export' && rec.method === 'GET') {
        if (!q.mimeType) return googleError(res, 400, 'INVALID_ARGUMENT', 'required', 'Required parameter: mimeType', { location: 'mimeType', locationType: 'parameter' });
        if (!file.mimeType.startsWith('application/vnd.google-apps.'))
            return googleError(res, 403, 'PERMISSION_DENIED', 'fileNotExportable', 'Export only supports Docs Editors files.');
        const body = file.mimeType === SHEET ? file.csv : file.text;
        res.writeHead(200, { 'Content-Type': `${q.mimeType}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
        return undefined;
    }
    if (m[2] === '/copy' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b) return undefined;
        const id = `1CopyFake${String(fake.data.next++).padStart(20, '0')}`;
        const copy = { ...file, id, name: b.name || `Copy of ${file.name}`, parents: b.parents || file.parents, description: b.description, owners: [{ emailAddress: user }] };
        fake.data.files.set(id, copy);
        return send(res, 200, pick(copy));
    }
    if (m[2] === '/permissions' && rec.method === 'POST') {
        const b = googleBody(rec, res);
        if (!b) return undefined;
        if (!['reader', 'commenter', 'writer'].includes(b.role)) return googleError(res, 400, 'INVALID_ARGUMENT', 'invalidSharingRole', `Invalid sharing role: ${b.role}`);
        if ((b.type === 'user' || b.type === 'group') && !b.emailAddress)
            return googleError(res, 400, 'INVALID_ARGUMENT', 'required', 'Permission email address is required for type user or group.', { location: 'permission.emailAddress' });
        const perm = { kind: 'drive#permission', id: `0${String(fake.data.next++).padStart(19, '7')}`, type: b.type, role: b.role, ...(b.emailAddress ? { emailAddress: b.emailAddress } : {}) };
        fake.data.permissions.push({ fileId: file.id, ...perm, notified: q.sendNotificationEmail !== 'false', message: q.emailMessage });
        return send(res, 200, perm);
    }
    return googleError(res, 404, 'NOT_FOUND', 'notFound', 'Not Found');
}

function asCaller(rec, fake) {
    assert.match(rec.headers.authorization, /^Bearer ya29\.c\.fake-/);
    assert.match(subjectOf(fake, rec), /^user.*@example\.com$/, 'the JWT names the calling employee');
    assert.deepEqual(fake.data.tokens.get(bearer(rec.headers)).scope, SCOPES);
}

export const cases = {
    search_files: {
        args: { q: "name contains 'acme' and trashed = false", fields: 'nextPageToken, files(id, name, mimeType, webViewLink)', pageSize: 20 },
        check(rec, result, fake) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/files');
            assert.deepEqual(queryOf(rec), { q: "name contains 'acme' and trashed = false", fields: 'nextPageToken, files(id, name, mimeType, webViewLink)', pageSize: '20' });
            asCaller(rec, fake);
            const files = result.structuredContent.files;
            assert.deepEqual(files.map((f) => f.id), [PROPOSAL, PDF]);
            assert.equal(files[0].webViewLink, `https://docs.google.com/document/d/${PROPOSAL}/edit`);
        },
    },
    get_file: {
        args: { fileId: PRICES, fields: 'id, name, mimeType, modifiedTime' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/files/${PRICES}`);
            assert.equal(queryOf(rec).fields, 'id, name, mimeType, modifiedTime');
            assert.deepEqual(result.structuredContent, { id: PRICES, name: 'Price list 2025', mimeType: SHEET, modifiedTime: '2025-02-10T12:00:00.000Z' });
        },
    },
    export_file: {
        args: { fileId: PRICES, mimeType: 'text/csv' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `/files/${PRICES}/export`);
            assert.deepEqual(queryOf(rec), { mimeType: 'text/csv' });
            assert.equal(result.content[0].text, 'plan,price\nTeam,20\nBusiness,35\n');
        },
    },
    copy_file: {
        args: { fileId: PROPOSAL, name: 'Acme - Proposal 2025' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `/files/${PROPOSAL}/copy`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { name: 'Acme - Proposal 2025' });
            assert.equal(result.structuredContent.name, 'Acme - Proposal 2025');
            assert.equal(fake.data.files.get(result.structuredContent.id).mimeType, DOC);
        },
    },
    share_file: {
        args: { fileId: PROPOSAL, role: 'commenter', type: 'user', emailAddress: 'jane.doe@acme.example', emailMessage: 'Here is our draft proposal.' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `/files/${PROPOSAL}/permissions`);
            assert.deepEqual(queryOf(rec), { emailMessage: 'Here is our draft proposal.' });
            assert.deepEqual(JSON.parse(rec.body), { role: 'commenter', type: 'user', emailAddress: 'jane.doe@acme.example' });
            assert.equal(result.structuredContent.role, 'commenter');
            assert.equal(fake.data.permissions.at(-1).notified, true);
        },
    },
};

export const errors = [
    { tool: 'get_file', args: { fileId: '1NoSuchFileAtAll000' }, match: /^google_drive API error: HTTP 404: File not found: 1NoSuchFileAtAll000\.$/ },
    { tool: 'export_file', args: { fileId: PDF, mimeType: 'text/plain' }, match: /HTTP 403: Export only supports Docs Editors files\./ },
];
