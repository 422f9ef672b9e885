// /ServiceProviderConfig, /ResourceTypes, /Schemas and their by-id forms (RFC 7644 section 4,
// RFC 7643 sections 5-7), 405 for unsupported methods and 404 for unknown endpoints.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertListResponse, assertScimError, getOk, isScimJson, URN } from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

const CORE_USER_ATTRS = ['userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType',
    'preferredLanguage', 'locale', 'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims',
    'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates'];
const ENT_ATTRS = ['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager'];

function attr(schema, name) {
    const a = schema.attributes.find((x) => x.name === name);
    assert.ok(a, `${schema.id} has no attribute ${name}`);
    return a;
}

function checkAttribute(a, where) {
    assert.equal(typeof a.name, 'string', where);
    assert.ok(['string', 'boolean', 'decimal', 'integer', 'dateTime', 'binary', 'reference', 'complex'].includes(a.type),
        `${where}.${a.name} type ${a.type}`);
    assert.equal(typeof a.multiValued, 'boolean', `${where}.${a.name}.multiValued`);
    assert.equal(typeof a.required, 'boolean', `${where}.${a.name}.required`);
    assert.ok(['readOnly', 'readWrite', 'immutable', 'writeOnly'].includes(a.mutability), `${where}.${a.name}.mutability`);
    assert.ok(['always', 'never', 'default', 'request'].includes(a.returned), `${where}.${a.name}.returned`);
    if (a.type === 'string') {
        assert.equal(typeof a.caseExact, 'boolean', `${where}.${a.name}.caseExact`);
        assert.ok(['none', 'server', 'global'].includes(a.uniqueness), `${where}.${a.name}.uniqueness`);
    }
    if (a.type === 'complex') {
        assert.ok(Array.isArray(a.subAttributes) && a.subAttributes.length > 0, `${where}.${a.name}.subAttributes`);
        for (const s of a.subAttributes) checkAttribute(s, `${where}.${a.name}`);
    }
    if (a.type === 'reference') assert.ok(Array.isArray(a.referenceTypes), `${where}.${a.name}.referenceTypes`);
}

describe('discovery', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('ServiceProviderConfig describes what is supported', async () => {
        const r = await srv.scim('GET', '/ServiceProviderConfig');
        assert.equal(r.status, 200, r.text);
        assert.ok(isScimJson(r));
        const c = r.body;
        assert.deepEqual(c.schemas, [URN.SPC]);
        assert.equal(c.patch.supported, true);
        assert.equal(c.bulk.supported, true);
        assert.ok(Number.isInteger(c.bulk.maxOperations) && c.bulk.maxOperations > 0);
        assert.ok(Number.isInteger(c.bulk.maxPayloadSize) && c.bulk.maxPayloadSize > 0);
        assert.equal(c.filter.supported, true);
        assert.ok(Number.isInteger(c.filter.maxResults) && c.filter.maxResults > 0);
        assert.equal(typeof c.changePassword.supported, 'boolean');
        assert.equal(c.sort.supported, true);
        assert.equal(c.etag.supported, true);
        assert.ok(Array.isArray(c.authenticationSchemes) && c.authenticationSchemes.length > 0);
        const bearer = c.authenticationSchemes.find((s) => s.type === 'oauthbearertoken');
        assert.ok(bearer, JSON.stringify(c.authenticationSchemes));
        assert.equal(typeof bearer.name, 'string');
        assert.equal(typeof bearer.description, 'string');
        assert.equal(c.meta.resourceType, 'ServiceProviderConfig');
        assert.equal(c.meta.location, `${srv.scim}/ServiceProviderConfig`);
    });

    test('ResourceTypes lists User and Group', async () => {
        const b = assertListResponse(await srv.scim('GET', '/ResourceTypes'));
        assert.equal(b.totalResults, 2);
        const byId = Object.fromEntries(b.Resources.map((r) => [r.id, r]));
        assert.deepEqual(Object.keys(byId).sort(), ['Group', 'User']);
        const u = byId.User;
        assert.deepEqual(u.schemas, [URN.RT]);
        assert.equal(u.name, 'User');
        assert.equal(u.endpoint, '/Users');
        assert.equal(u.schema, URN.USER);
        assert.deepEqual(u.schemaExtensions, [{ schema: URN.ENT, required: false }]);
        assert.equal(u.meta.resourceType, 'ResourceType');
        assert.equal(u.meta.location, `${srv.scim}/ResourceTypes/User`);
        const g = byId.Group;
        assert.equal(g.endpoint, '/Groups');
        assert.equal(g.schema, URN.GROUP);
        assert.equal(g.meta.location, `${srv.scim}/ResourceTypes/Group`);
    });

    test('ResourceTypes by id, and 404 for an unknown one', async () => {
        const u = await getOk(srv, '/ResourceTypes/User');
        assert.equal(u.id, 'User');
        assert.equal(u.endpoint, '/Users');
        const g = await getOk(srv, '/ResourceTypes/Group');
        assert.equal(g.id, 'Group');
        assertScimError(await srv.scim('GET', '/ResourceTypes/Nope'), 404);
    });

    test('Schemas lists the User, Enterprise User and Group schemas with their attributes', async () => {
        const b = assertListResponse(await srv.scim('GET', '/Schemas'));
        const byId = Object.fromEntries(b.Resources.map((s) => [s.id, s]));
        for (const urn of [URN.USER, URN.ENT, URN.GROUP]) {
            assert.ok(byId[urn], `${urn} missing`);
            assert.deepEqual(byId[urn].schemas, [URN.SCHEMA]);
            assert.equal(byId[urn].meta.resourceType, 'Schema');
            assert.equal(byId[urn].meta.location, `${srv.scim}/Schemas/${urn}`);
            for (const a of byId[urn].attributes) checkAttribute(a, urn);
        }
        assert.equal(b.totalResults, b.Resources.length);
        const user = byId[URN.USER];
        for (const n of CORE_USER_ATTRS) attr(user, n);
        const un = attr(user, 'userName');
        assert.equal(un.required, true);
        assert.equal(un.uniqueness, 'server');
        assert.equal(un.caseExact, false);
        const pw = attr(user, 'password');
        assert.equal(pw.returned, 'never');
        assert.equal(pw.mutability, 'writeOnly');
        assert.equal(attr(user, 'groups').mutability, 'readOnly');
        const emails = attr(user, 'emails');
        assert.equal(emails.multiValued, true);
        assert.deepEqual(emails.subAttributes.map((s) => s.name).sort(), ['display', 'primary', 'type', 'value'].sort());
        assert.equal(attr(user, 'name').type, 'complex');
        const ent = byId[URN.ENT];
        for (const n of ENT_ATTRS) attr(ent, n);
        const mgr = attr(ent, 'manager');
        assert.ok(mgr.subAttributes.some((s) => s.name === 'value'));
        const grp = byId[URN.GROUP];
        assert.equal(attr(grp, 'displayName').required, true);
        const members = attr(grp, 'members');
        assert.equal(members.multiValued, true);
        const mv = members.subAttributes.find((s) => s.name === 'value');
        assert.ok(mv, 'members.value');
        const mt = members.subAttributes.find((s) => s.name === 'type');
        assert.ok(mt, 'members.type');
        assert.deepEqual([...mt.canonicalValues].sort(), ['Group', 'User']);
    });

    test('Schemas by URN, and 404 for an unknown one', async () => {
        for (const urn of [URN.USER, URN.ENT, URN.GROUP]) {
            const s = await getOk(srv, `/Schemas/${urn}`);
            assert.equal(s.id, urn);
            assert.ok(Array.isArray(s.attributes) && s.attributes.length > 0);
        }
        assertScimError(await srv.scim('GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Nope'), 404);
        assertScimError(await srv.scim('GET', '/Schemas/nope'), 404);
    });

    test('405 with a SCIM error and an Allow header for unsupported methods', async () => {
        const cases = [
            ['POST', '/ServiceProviderConfig', {}],
            ['PUT', '/ServiceProviderConfig', {}],
            ['PATCH', '/ServiceProviderConfig', {}],
            ['DELETE', '/ServiceProviderConfig'],
            ['POST', '/ResourceTypes', {}],
            ['DELETE', '/ResourceTypes/User'],
            ['POST', '/Schemas', {}],
            ['PUT', `/Schemas/${URN.USER}`, {}],
            ['DELETE', '/Users'],
            ['PUT', '/Users', {}],
            ['PATCH', '/Users', {}],
            ['DELETE', '/Groups'],
            ['GET', '/Bulk'],
            ['DELETE', '/Bulk'],
            ['GET', '/.search'],
            ['GET', '/Users/.search'],
            ['PUT', '/Users/.search', {}],
        ];
        for (const [m, p, b] of cases) {
            const r = await srv.scim(m, p, b);
            assert.equal(r.status, 405, `${m} ${p}: ${r.status} ${r.text}`);
            assertScimError(r, 405);
            const allow = r.headers.get('allow');
            assert.ok(allow && allow.length > 0, `${m} ${p}: no Allow header`);
            assert.equal(allow.toUpperCase().includes(m), false, `${m} ${p}: Allow ${allow}`);
        }
    });

    test('POST /Users/<id> is 405', async () => {
        const r = await srv.scim('POST', '/Users/some-id', {});
        assertScimError(r, 405);
    });

    test('unknown endpoints under /scim/v2 are 404 SCIM errors', async () => {
        for (const p of ['/Nope', '/Users/a/b', '/Groups/a/b/c', '/Me']) {
            const r = await srv.scim('GET', p);
            assert.ok(r.status === 404 || r.status === 501, `${p}: ${r.status}`);
            assertScimError(r, r.status);
        }
    });
});
