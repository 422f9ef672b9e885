// Nothing lost: a provisioning loop is cut by SIGKILL; after a restart on the same database
// every user whose POST was answered 201, and every membership whose PATCH was answered 204,
// is there.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createGroup, getOk, patchBody, URN } from './lib/scim.mjs';
import { startServer, waitFor } from './lib/server.mjs';

describe('durability', () => {
    let srv;
    before(async () => {
        srv = await startServer();
    });
    after(() => srv && srv.close());

    test('SIGKILL in the middle of a provisioning loop loses no acknowledged write', async () => {
        const group = await createGroup(srv);
        const created = new Map(); // id -> userName, for every 201
        const joined = new Set(); // ids whose membership PATCH got 204
        let attempts = 0;
        let failures = 0;
        let stop = false;

        const worker = async (w) => {
            for (let i = 0; !stop && i < 5000; i++) {
                const userName = `dur-${w}-${i}@example.com`;
                attempts += 1;
                let r;
                try {
                    r = await srv.scim('POST', '/Users', {
                        schemas: [URN.USER], userName, name: { givenName: 'D', familyName: `${w}-${i}` }, active: true,
                    });
                } catch {
                    failures += 1;
                    return; // the server is gone
                }
                if (r.status !== 201) {
                    failures += 1;
                    continue;
                }
                created.set(r.body.id, userName);
                try {
                    const p = await srv.scim('PATCH', `/Groups/${group.id}`,
                        patchBody({ op: 'add', path: 'members', value: [{ value: r.body.id }] }));
                    if (p.status === 204) joined.add(r.body.id);
                } catch {
                    return;
                }
            }
        };

        const workers = [0, 1, 2, 3].map(worker);
        // Kill once enough writes were acknowledged, while the workers are still writing.
        await waitFor(() => created.size >= 150, { timeout: 60000, every: 5, what: '150 users' });
        const killed = srv.kill9();
        await killed;
        stop = true;
        await Promise.all(workers);
        assert.equal(srv.exitSignal, 'SIGKILL');
        assert.ok(created.size >= 150);

        await srv.restart();
        const missing = [];
        for (const [id, userName] of created) {
            const r = await srv.scim('GET', `/Users/${id}`);
            if (r.status !== 200 || r.body.userName !== userName) missing.push(`${id} (${userName}): ${r.status}`);
        }
        assert.deepEqual(missing, [], `${missing.length} of ${created.size} acknowledged users lost ` +
            `(${attempts} attempts)`);
        const g = await getOk(srv, `/Groups/${group.id}`);
        const members = new Set((g.members || []).map((m) => m.value));
        const lost = [...joined].filter((id) => !members.has(id));
        assert.deepEqual(lost, [], `${lost.length} of ${joined.size} acknowledged memberships lost`);
        // Every member is a user that exists.
        for (const id of members) assert.ok(created.has(id), `member ${id} was never acknowledged as created`);
        // The restarted server still takes writes, and the list agrees with the GETs.
        const more = await srv.scim('POST', '/Users', { schemas: [URN.USER], userName: 'after-restart@example.com' });
        assert.equal(more.status, 201, more.text);
        const l = await srv.scim('GET', '/Users?count=0');
        assert.ok(l.body.totalResults >= created.size + 1, `totalResults ${l.body.totalResults}`);
        assert.ok(failures <= 8, `${failures} failed requests before the kill`);
    });
});
