// A fake of NetSuite's SuiteTalk REST web services for the catalog's netsuite tools: SuiteQL
// queries and the REST record API (get one record, list a type's records), behind token-based
// authentication (OAuth 1.0a with HMAC-SHA256 signatures).
//
// Shapes follow NetSuite's help center (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/):
//   TBA                 "The Authorization Headers" / "Token-based Authentication (TBA)" for REST
//                       web services: Authorization: OAuth realm="<ACCOUNT_ID>",
//                       oauth_consumer_key, oauth_token, oauth_signature_method="HMAC-SHA256",
//                       oauth_timestamp, oauth_nonce, oauth_version="1.0", oauth_signature, the
//                       signature computed as RFC 5849 section 3.4 (base string of the method,
//                       the base URI and the sorted query and oauth parameters; key
//                       consumer_secret&token_secret), HMAC-SHA256 in place of HMAC-SHA1
//   SuiteQL             section_157909186990 "Executing SuiteQL Queries Through REST Web
//                       Services" and section_158394344595: POST /services/rest/query/v1/suiteql
//                       with "Prefer: transient" and {"q": "..."}; limit and offset in the URL;
//                       answers {links, count, hasMore, items, offset, totalResults}
//   record API          "Getting a Record Instance" and "Getting a List of Record Instances":
//                       GET /services/rest/record/v1/{type}/{id} (expandSubResources, fields) and
//                       GET /services/rest/record/v1/{type} (q, limit, offset) answering
//                       {links, count, hasMore, items: [{links, id}], offset, totalResults}
//   errors              section_156570709583 "Error Handling in REST Web Services": the status
//                       and {type, title, status, "o:errorDetails": [{detail, "o:errorCode"}]},
//                       e.g. 401 INVALID_LOGIN, 404 NONEXISTENT_ID, 400 INVALID_PARAMETER

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { jsonBody, mediaType, send } from './lib.mjs';

export const connector = 'netsuite';
export const basePath = '/services/rest';

const REALM = '1234567_SB1';
const CONSUMER_KEY = 'ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4';
const CONSUMER_SECRET = 'd26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9a8b5';
const TOKEN = '2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc';
const TOKEN_SECRET = 'c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295';
export const credential = {
    consumer_key: CONSUMER_KEY, consumer_secret: CONSUMER_SECRET, token: TOKEN, token_secret: TOKEN_SECRET, realm: REALM,
};

const PROBLEM = {
    400: ['https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1', 'Bad Request'],
    401: ['https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2', 'Unauthorized'],
    404: ['https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5', 'Not Found'],
};

function nsError(res, status, code, detail) {
    const [type, title] = PROBLEM[status];
    send(res, status, { type, title, status, 'o:errorDetails': [{ detail, 'o:errorCode': code }] },
        { 'Content-Type': 'application/vnd.oracle.resource+json; type=error; charset=UTF-8' });
}

export function seed() {
    return {
        invoice: new Map([['1234', {
            links: [{ rel: 'self', href: '/services/rest/record/v1/invoice/1234' }],
            id: '1234', tranId: 'INV-1001', entity: { id: '77', refName: 'Acme Corp' }, tranDate: '2025-02-01', dueDate: '2025-03-03',
            status: { id: 'A', refName: 'Open' }, total: 1250.5, amountRemaining: 1250.5, currency: { id: '1', refName: 'USA' },
            memo: 'February services',
        }]]),
        vendorBill: new Map([['5678', {
            links: [{ rel: 'self', href: '/services/rest/record/v1/vendorBill/5678' }],
            id: '5678', tranId: 'VB-88', entity: { id: '301', refName: 'Office Supplies Inc' }, total: 320, status: { id: 'A', refName: 'Open' },
        }]]),
        nonces: new Set(),
    };
}

/* RFC 3986 percent-encoding as RFC 5849 section 3.6 requires (unreserved characters kept). */
function enc(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/* The parameters of an OAuth Authorization header (RFC 5849 section 3.5.1), or null. */
function oauthParams(header) {
    const m = /^OAuth\s+(.*)$/i.exec(header || '');
    if (!m) return null;
    const out = {};
    for (const part of m[1].split(',')) {
        const kv = /^\s*([A-Za-z0-9_]+)="([^"]*)"\s*$/.exec(part);
        if (!kv) return null;
        out[kv[1]] = decodeURIComponent(kv[2]);
    }
    return out;
}

/* The HMAC-SHA256 signature NetSuite expects for rec with the parameters p (section 3.4). */
export function expectedSignature(rec, p) {
    const params = [];
    for (const [k, v] of new URLSearchParams(rec.query)) params.push([enc(k), enc(v)]);
    for (const [k, v] of Object.entries(p)) {
        if (k !== 'oauth_signature' && k !== 'realm') params.push([enc(k), enc(v)]);
    }
    params.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1));
    const norm = params.map(([k, v]) => `${k}=${v}`).join('&');
    const uri = `http://${rec.headers.host.toLowerCase()}${rec.pathname}`;
    const base = `${rec.method.toUpperCase()}&${enc(uri)}&${enc(norm)}`;
    return crypto.createHmac('sha256', `${enc(CONSUMER_SECRET)}&${enc(TOKEN_SECRET)}`).update(base).digest('base64');
}

/* Whether rec carries a valid TBA signature; answers 401 INVALID_LOGIN when it does not. */
function authorized(fake, rec, res) {
    const p = oauthParams(rec.headers.authorization);
    const ok = p && p.realm === REALM && p.oauth_consumer_key === CONSUMER_KEY && p.oauth_token === TOKEN &&
        p.oauth_signature_method === 'HMAC-SHA256' && p.oauth_version === '1.0' &&
        /^\d+$/.test(p.oauth_timestamp || '') && Math.abs(Number(p.oauth_timestamp) - Date.now() / 1000) < 300 &&
        p.oauth_nonce && !fake.data.nonces.has(p.oauth_nonce) &&
        p.oauth_signature === expectedSignature(rec, p);
    if (!ok) {
        nsError(res, 401, 'INVALID_LOGIN', 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.');
        return false;
    }
    fake.data.nonces.add(p.oauth_nonce);
    return true;
}

function paging(q, res) {
    const limit = q.has('limit') ? Number(q.get('limit')) : 1000;
    const offset = q.has('offset') ? Number(q.get('offset')) : 0;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000) || !(Number.isInteger(offset) && offset >= 0 && offset % limit === 0)) {
        nsError(res, 400, 'INVALID_PARAMETER', 'Invalid value for the query parameter limit or offset. The offset must be a multiple of the limit.');
        return null;
    }
    return { limit, offset };
}

function collection(fake, rec, rows, pg) {
    const items = rows.slice(pg.offset, pg.offset + pg.limit);
    return {
        links: [{ rel: 'self', href: `${fake.url}${rec.path}` }],
        count: items.length, hasMore: pg.offset + pg.limit < rows.length, items, offset: pg.offset, totalResults: rows.length,
    };
}

/* The SuiteQL this fake understands: SELECT ... FROM transaction WHERE type = '...'. */
function suiteql(fake, q) {
    const m = /^\s*SELECT\s+(.+?)\s+FROM\s+transaction(?:\s+WHERE\s+type\s*=\s*'(\w+)')?\s*$/i.exec(q);
    if (!m) return null;
    const rows = [];
    for (const [type, map] of [['CustInvc', fake.data.invoice], ['VendBill', fake.data.vendorBill]]) {
        if (m[2] && m[2] !== type) continue;
        for (const r of map.values()) rows.push({ links: [], id: r.id, tranid: r.tranId, type, foreigntotal: String(r.total) });
    }
    return rows;
}

export function handle(fake, rec, res) {
    if (!rec.pathname.startsWith(basePath + '/')) {
        nsError(res, 404, 'INVALID_URL', 'The request URL is not valid.');
        return;
    }
    if (!authorized(fake, rec, res)) return;
    const p = rec.pathname.slice(basePath.length);
    const q = new URLSearchParams(rec.query);
    let m;
    if (rec.method === 'POST' && p === '/query/v1/suiteql') {
        if ((rec.headers.prefer || '').toLowerCase() !== 'transient') {
            nsError(res, 400, 'INVALID_HEADER', 'The request header Prefer must be set to transient for SuiteQL queries.');
            return;
        }
        const body = jsonBody(rec, res, { type: PROBLEM[400][0], title: 'Bad Request', status: 400, 'o:errorDetails': [{ detail: 'Invalid content in the request body.', 'o:errorCode': 'INVALID_CONTENT' }] });
        if (body === undefined) return;
        const pg = paging(q, res);
        if (!pg) return;
        const rows = typeof body.q === 'string' ? suiteql(fake, body.q) : null;
        if (!rows) {
            nsError(res, 400, 'INVALID_PARAMETER', `Invalid search query. Detailed unprocessed description follows. Search error occurred: Invalid or unsupported search.`);
            return;
        }
        send(res, 200, collection(fake, rec, rows, pg));
    } else if (rec.method === 'GET' && (m = /^\/record\/v1\/(\w+)\/(\d+)$/.exec(p))) {
        const r = fake.data[m[1]]?.get?.(m[2]);
        if (!r) {
            nsError(res, 404, 'NONEXISTENT_ID', 'The record instance does not exist. Provide a valid record instance ID.');
            return;
        }
        const fields = q.get('fields');
        send(res, 200, fields ? Object.fromEntries(Object.entries(r).filter(([k]) => k === 'links' || k === 'id' || fields.split(',').includes(k))) : r);
    } else if (rec.method === 'GET' && (m = /^\/record\/v1\/(\w+)$/.exec(p))) {
        const map = fake.data[m[1]];
        if (!(map instanceof Map)) {
            nsError(res, 404, 'INVALID_URL', `Record type '${m[1]}' does not exist.`);
            return;
        }
        const pg = paging(q, res);
        if (!pg) return;
        let rows = [...map.values()];
        const filter = q.get('q');
        if (filter) {
            const f = /^total GREATER (\d+(?:\.\d+)?)$/.exec(filter);
            if (!f) {
                nsError(res, 400, 'INVALID_PARAMETER', `Invalid query: ${filter}`);
                return;
            }
            rows = rows.filter((r) => r.total > Number(f[1]));
        }
        send(res, 200, collection(fake, rec, rows.map((r) => ({ links: r.links, id: r.id })), pg));
    } else {
        nsError(res, 404, 'INVALID_URL', 'The request URL is not valid.');
    }
}

/* A request signed as NetSuite's TBA requires (the fake already checked the signature itself). */
function signed(rec) {
    const p = oauthParams(rec.headers.authorization);
    assert.ok(p, rec.headers.authorization);
    assert.equal(p.realm, REALM);
    assert.equal(p.oauth_signature_method, 'HMAC-SHA256');
    assert.equal(p.oauth_signature, expectedSignature(rec, p));
    assert.ok(!rec.headers.authorization.includes(CONSUMER_SECRET) && !rec.headers.authorization.includes(TOKEN_SECRET));
}

export const cases = {
    suiteql: {
        args: { q: "SELECT id, tranid, foreigntotal FROM transaction WHERE type = 'VendBill'", limit: 10 },
        check(rec, result) {
            signed(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/services/rest/query/v1/suiteql');
            assert.equal(rec.query, 'limit=10');
            assert.equal(rec.headers.prefer, 'transient');
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { q: "SELECT id, tranid, foreigntotal FROM transaction WHERE type = 'VendBill'" });
            assert.deepEqual(result.structuredContent.items.map((r) => r.tranid), ['VB-88']);
            assert.equal(result.structuredContent.totalResults, 1);
        },
    },
    get_record: {
        args: { record_type: 'invoice', id: '1234', fields: 'tranId,total,status' },
        check(rec, result) {
            signed(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/services/rest/record/v1/invoice/1234');
            assert.equal(rec.query, 'fields=tranId%2Ctotal%2Cstatus');
            const r = result.structuredContent;
            assert.equal(r.tranId, 'INV-1001');
            assert.equal(r.total, 1250.5);
            assert.equal(r.memo, undefined, 'only the fields asked for');
        },
    },
    list_records: {
        args: { record_type: 'vendorBill', q: 'total GREATER 100', limit: 5 },
        check(rec, result) {
            signed(rec);
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, '/services/rest/record/v1/vendorBill');
            assert.deepEqual(Object.fromEntries(new URLSearchParams(rec.query)), { q: 'total GREATER 100', limit: '5' });
            assert.deepEqual(result.structuredContent.items.map((r) => r.id), ['5678']);
        },
    },
};

export const errors = [
    // NetSuite's message is in o:errorDetails[0].detail, its code in o:errorCode; the tool error
    // carries the title, the detail and the code (the connector's response.error).
    {
        tool: 'get_record', args: { record_type: 'invoice', id: '999999' },
        match: /^netsuite API error: HTTP 404: Not Found: The record instance does not exist\. Provide a valid record instance ID\. \(code NONEXISTENT_ID\)$/,
    },
    {
        tool: 'suiteql', args: { q: 'DELETE FROM transaction' },
        match: /^netsuite API error: HTTP 400: Bad Request: Invalid search query\. .* \(code INVALID_PARAMETER\)$/,
    },
];
