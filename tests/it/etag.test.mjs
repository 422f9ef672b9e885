// ETags (RFC 7644 section 3.14): meta.version served as a weak ETag, If-Match (412 when stale)
// on PUT, PATCH and DELETE, If-None-Match (304) on GET.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    assertScimError, createGroup, createUser, getOk, patchBody, spc, userBody,
} from './lib/scim.mjs';
import { startServer } from './lib/server.mjs';

describe('ETags', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('ServiceProviderConfig advertises etag support', async () => {
        assert.equal((await spc(srv)).etag.supported, true);
    });

    test('every answer carrying a resource has ETag = meta.version, a weak ETag', async () => {
        const u = await createUser(srv);
        const g = await srv.scim('GET', `/Users/${u.id}`);
        assert.match(g.headers.get('etag'), /^W\/"[^"]+"$/);
        assert.equal(g.headers.get('etag'), g.body.meta.version);
        const p = await srv.scim('PUT', `/Users/${u.id}`, userBody({ userName: u.userName }));
        assert.equal(p.headers.get('etag'), p.body.meta.version);
        assert.notEqual(p.body.meta.version, u.meta.version);
        const grp = await createGroup(srv);
        const gg = await srv.scim('GET', `/Groups/${grp.id}`);
        assert.equal(gg.headers.get('etag'), gg.body.meta.version);
    });

    test('If-Match: stale is 412 and changes nothing; current succeeds (PUT)', async () => {
        const u = await createUser(srv, { title: 'v1' });
        const stale = u.meta.version;
        const r1 = await srv.scim('PUT', `/Users/${u.id}`, userBody({ userName: u.userName, title: 'v2' }),
            { headers: { 'If-Match': stale } });
        assert.equal(r1.status, 200, r1.text);
        const r2 = await srv.scim('PUT', `/Users/${u.id}`, userBody({ userName: u.userName, title: 'v3' }),
            { headers: { 'If-Match': stale } });
        assertScimError(r2, 412);
        const g = await getOk(srv, `/Users/${u.id}`);
        assert.equal(g.title, 'v2');
        assert.equal(g.meta.version, r1.body.meta.version);
    });

    test('If-Match on PATCH', async () => {
        const u = await createUser(srv, { title: 'a' });
        const ok = await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'b' }),
            { headers: { 'If-Match': u.meta.version } });
        assert.equal(ok.status, 204, ok.text);
        const bad = await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'c' }),
            { headers: { 'If-Match': u.meta.version } });
        assertScimError(bad, 412);
        assert.equal((await getOk(srv, `/Users/${u.id}`)).title, 'b');
    });

    test('If-Match on DELETE', async () => {
        const u = await createUser(srv);
        await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'x' }));
        assertScimError(await srv.scim('DELETE', `/Users/${u.id}`, undefined, { headers: { 'If-Match': u.meta.version } }), 412);
        assert.equal((await srv.scim('GET', `/Users/${u.id}`)).status, 200, 'still there');
        const cur = (await getOk(srv, `/Users/${u.id}`)).meta.version;
        const d = await srv.scim('DELETE', `/Users/${u.id}`, undefined, { headers: { 'If-Match': cur } });
        assert.equal(d.status, 204, d.text);
    });

    test('If-Match: * and a list holding the current version match', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'star' }),
            { headers: { 'If-Match': '*' } });
        assert.equal(r.status, 204, r.text);
        const cur = (await getOk(srv, `/Users/${u.id}`)).meta.version;
        const r2 = await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'list' }),
            { headers: { 'If-Match': `W/"nope", ${cur}` } });
        assert.equal(r2.status, 204, r2.text);
    });

    test('If-None-Match: current is 304 without a body; stale is 200', async () => {
        const u = await createUser(srv);
        const r = await srv.scim('GET', `/Users/${u.id}`, undefined, { headers: { 'If-None-Match': u.meta.version } });
        assert.equal(r.status, 304);
        assert.equal(r.text, '');
        assert.equal(r.headers.get('etag'), u.meta.version);
        await srv.scim('PATCH', `/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'changed' }));
        const r2 = await srv.scim('GET', `/Users/${u.id}`, undefined, { headers: { 'If-None-Match': u.meta.version } });
        assert.equal(r2.status, 200);
        assert.equal(r2.body.title, 'changed');
    });

    test('a group version changes with its members', async () => {
        const u = await createUser(srv);
        const g = await createGroup(srv);
        await srv.scim('PATCH', `/Groups/${g.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: u.id }] }));
        const got = await getOk(srv, `/Groups/${g.id}`);
        assert.notEqual(got.meta.version, g.meta.version);
        const r = await srv.scim('PATCH', `/Groups/${g.id}`, patchBody({ op: 'remove', path: 'members' }),
            { headers: { 'If-Match': g.meta.version } });
        assertScimError(r, 412);
        assert.equal((await getOk(srv, `/Groups/${g.id}`)).members.length, 1);
    });

    test('If-Match on an unknown resource is 404', async () => {
        const r = await srv.scim('PUT', '/Users/no-such-id', userBody(), { headers: { 'If-Match': 'W/"1"' } });
        assertScimError(r, 404);
    });
});
