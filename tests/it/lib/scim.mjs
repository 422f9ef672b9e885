// SCIM helpers shared by the black-box tests: URNs, unique names, resource builders and
// assertions on SCIM responses.

import assert from 'node:assert/strict';

export const URN = {
    USER: 'urn:ietf:params:scim:schemas:core:2.0:User',
    GROUP: 'urn:ietf:params:scim:schemas:core:2.0:Group',
    ENT: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    LIST: 'urn:ietf:params:scim:api:messages:2.0:ListResponse',
    ERROR: 'urn:ietf:params:scim:api:messages:2.0:Error',
    PATCH: 'urn:ietf:params:scim:api:messages:2.0:PatchOp',
    SEARCH: 'urn:ietf:params:scim:api:messages:2.0:SearchRequest',
    BULKREQ: 'urn:ietf:params:scim:api:messages:2.0:BulkRequest',
    BULKRESP: 'urn:ietf:params:scim:api:messages:2.0:BulkResponse',
    SPC: 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig',
    RT: 'urn:ietf:params:scim:schemas:core:2.0:ResourceType',
    SCHEMA: 'urn:ietf:params:scim:schemas:core:2.0:Schema',
    ADSCIM_GROUP: 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group',
};

let seq = 0;
/* A name unique within this process and across runs. */
export function uniq(prefix = 'u') {
    seq += 1;
    return `${prefix}${Date.now().toString(36)}${process.pid.toString(36)}${seq}`;
}

export function userBody(overrides = {}) {
    const n = uniq('user');
    return {
        schemas: [URN.USER],
        userName: `${n}@example.com`,
        name: { givenName: 'Given', familyName: n },
        emails: [{ value: `${n}@example.com`, type: 'work', primary: true }],
        active: true,
        ...overrides,
    };
}

export function groupBody(overrides = {}) {
    return { schemas: [URN.GROUP], displayName: uniq('group'), ...overrides };
}

export function patchBody(...ops) {
    return { schemas: [URN.PATCH], Operations: ops };
}

/* POSTs a user and asserts 201; returns the created resource. */
export async function createUser(srv, overrides = {}) {
    const r = await srv.scim('POST', '/Users', userBody(overrides));
    assert.equal(r.status, 201, `POST /Users: ${r.text}`);
    assert.ok(r.body && typeof r.body.id === 'string' && r.body.id.length > 0, r.text);
    return r.body;
}

export async function createGroup(srv, overrides = {}) {
    const r = await srv.scim('POST', '/Groups', groupBody(overrides));
    assert.equal(r.status, 201, `POST /Groups: ${r.text}`);
    assert.ok(r.body && typeof r.body.id === 'string' && r.body.id.length > 0, r.text);
    return r.body;
}

export async function getOk(srv, path) {
    const r = await srv.scim('GET', path);
    assert.equal(r.status, 200, `GET ${path}: ${r.text}`);
    return r.body;
}

/* PATCHes and asserts 204 (no attributes parameter: no body) or 200. */
export async function patchOk(srv, path, ...ops) {
    const r = await srv.scim('PATCH', path, patchBody(...ops));
    assert.ok(r.status === 204 || r.status === 200, `PATCH ${path}: ${r.status} ${r.text}`);
    return r;
}

export function isScimJson(res) {
    const ct = res.headers.get('content-type') || '';
    return /^application\/scim\+json\b/i.test(ct);
}

/*
 * Asserts a SCIM Error response (RFC 7644 section 3.12): the status, the Error schema,
 * "status" as a string, and scimType when given (null: must be absent or anything).
 */
export function assertScimError(res, status, scimType) {
    assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
    assert.ok(isScimJson(res), `Content-Type ${res.headers.get('content-type')}`);
    assert.ok(res.body, `no JSON body: ${res.text}`);
    assert.deepEqual(res.body.schemas, [URN.ERROR]);
    assert.equal(res.body.status, String(status));
    if (scimType !== undefined && scimType !== null) {
        assert.equal(res.body.scimType, scimType, `scimType in ${res.text}`);
    }
    if ('detail' in res.body) assert.equal(typeof res.body.detail, 'string');
}

export function assertListResponse(res) {
    assert.equal(res.status, 200, res.text);
    assert.ok(isScimJson(res), `Content-Type ${res.headers.get('content-type')}`);
    const b = res.body;
    assert.deepEqual(b.schemas, [URN.LIST]);
    assert.equal(typeof b.totalResults, 'number');
    assert.ok(Array.isArray(b.Resources), `Resources in ${res.text}`);
    return b;
}

/* The query string of a SCIM filter, percent-encoded. */
export function q(params) {
    return '?' + Object.entries(params)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join('&');
}

/* The ids of a ListResponse's resources, sorted. */
export function ids(list) {
    return list.Resources.map((r) => r.id).sort();
}

export async function spc(srv) {
    return getOk(srv, '/ServiceProviderConfig');
}
