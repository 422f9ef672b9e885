// 1,000 tool calls in flight at once against a slow upstream (issue 5: "Upstream calls never
// block a server thread ... 1,000 concurrent in-flight calls against a slow upstream must work
// on this 2-core machine").
//
// A connector of the test's own points at the fake upstream's /slow route (GET /slow?ms=N,
// answered after N ms), with a bearer credential in the vault, and is granted to one employee.
// The test opens 1,000 connections to mandate at once (one tools/call each, every connection
// its own: no keep-alive agent) and checks that every one answers with the upstream's result,
// that the whole batch takes about one upstream delay rather than 1,000 of them, that the
// upstream really held them all at the same time, and that mandate did it with a handful of
// threads; its memory, descriptors and limits go to the test's diagnostics.
//
// Descriptors: each call costs the test process two (its connection to mandate, and the
// fake's end of mandate's upstream connection) and mandate two. Node raises its own soft
// RLIMIT_NOFILE to the hard limit at start, and mandate does the same, so neither can go
// higher from inside; when a hard limit is too low for 1,000, the test runs as many calls as
// both can hold and says so in its diagnostics.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { startFakeUpstream } from './lib/fake_upstream.mjs';
import {
    apiOk, procStats, putConnector, rawRequest, request, rpc, setupMcp, startMandate, testConnectorName, toolDoc,
} from './lib/mcp.mjs';

const CALLS = 1000;
const SLOW_MS = 1500;
const MAX_THREADS = 20;
const MAX_ELAPSED_MS = 20000;
const SECRET = 'slow-upstream-secret-0123456789';

let srv;
let fake;
let env;
let tool;

before(async () => {
    fake = await startFakeUpstream({ record: false });
    srv = await startMandate();
    env = await setupMcp(srv, { fake, pack: 'engineering' });
    const conn = testConnectorName('slow');
    await putConnector(env.api, conn, {
        baseUrl: fake.url,
        auth: { type: 'bearer' },
        tools: [toolDoc('sleep', 'read', {
            request: { method: 'GET', path: '/slow', query: ['ms'] },
            properties: { ms: { type: 'integer', minimum: 0, maximum: 60000 } },
            required: ['ms'],
        })],
    });
    const r = await env.api('PUT', `/connectors/${conn}/credential`, { token: SECRET });
    assert.equal(r.status, 200, r.text);
    tool = `${conn}__sleep`;
    await apiOk(env.api, 'POST', '/grants', { subject: { type: 'group', id: env.group.id }, tool });
});

after(async () => {
    if (fake) await fake.close();
    if (srv) await srv.close();
});

/* This process's open descriptors and its soft limit. */
function selfFds() {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return {
        open: fs.readdirSync('/proc/self/fd').length,
        soft: m[1] === 'unlimited' ? Infinity : Number(m[1]),
        hard: m[2] === 'unlimited' ? Infinity : Number(m[2]),
    };
}

/* One tools/call of the slow tool on its own connection: {status, body, text}. */
function slowCall(id, ms) {
    const body = JSON.stringify(request(id, 'tools/call', { name: tool, arguments: { ms } }));
    return rawRequest(env.mcpUrl, {
        method: 'POST',
        headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json, text/event-stream',
            Authorization: `Bearer ${env.users[0].token}`,
            'MCP-Protocol-Version': '2025-11-25',
        },
        body,
        timeout: 60000,
    });
}

const mb = (kb) => (kb === null ? 'n/a' : `${(kb / 1024).toFixed(1)} MiB`);

test('the slow tool works, with the credential, and the query argument', async () => {
    fake.reset();
    const r = await slowCall('warm', 20);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.id, 'warm');
    assert.ok(!r.body.result.isError, r.text);
    assert.deepEqual(r.body.result.structuredContent, { slept_ms: 20 });
    assert.equal(fake.count, 1);
});

test(`${CALLS} tools/call in flight at once against a ${SLOW_MS} ms upstream`, { timeout: 180000 }, async (t) => {
    const pid = srv.proc.pid;
    const self = selfFds();
    const before0 = procStats(pid);
    t.diagnostic(`test runner: ${self.open} descriptors open, RLIMIT_NOFILE soft ${self.soft} hard ${self.hard}`);
    t.diagnostic(`mandate (pid ${pid}): RLIMIT_NOFILE soft ${before0.fdSoft} hard ${before0.fdHard}; before: ` +
        `${before0.threads} threads, VmRSS ${mb(before0.vmRssKb)}, ${before0.fds} descriptors`);
    // mandate raises its soft limit to the hard one at start.
    assert.equal(before0.fdSoft, before0.fdHard, 'mandate did not raise its soft RLIMIT_NOFILE to the hard limit');

    // As many calls as both processes can hold: two descriptors per call in each, and room.
    const room = (limit, open) => Math.floor((limit - open - 200) / 2);
    const n = Math.min(CALLS, room(self.soft, self.open), room(before0.fdSoft, before0.fds || 0));
    if (n < CALLS) {
        t.diagnostic(`the descriptor limits allow only ${n} calls at once, not ${CALLS}: raise the hard ` +
            `RLIMIT_NOFILE (ulimit -Hn) of the shell that runs the tests`);
    }
    assert.ok(n >= 100, `the descriptor limits leave room for only ${n} calls`);

    fake.reset();
    const samples = [];
    let sampling = true;
    const sampler = (async () => {
        while (sampling) {
            try {
                samples.push({ at: Date.now(), upstream: fake.inFlight, ...procStats(pid) });
            } catch {
                /* the process is gone: the assertions below say so */
            }
            await new Promise((r) => setTimeout(r, 50));
        }
    })();

    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => slowCall(i, SLOW_MS).then(
        (r) => ({ ...r, ms: Date.now() - t0 }),
        (err) => ({ status: 0, error: err.message, ms: Date.now() - t0 }),
    )));
    const elapsed = Date.now() - t0;
    sampling = false;
    await sampler;

    const peak = (k) => Math.max(...samples.map((s) => s[k] ?? 0));
    const atPeak = samples.reduce((a, s) => (s.upstream > a.upstream ? s : a), samples[0]);
    const after0 = procStats(pid);
    t.diagnostic(`${n} calls of ${SLOW_MS} ms: all answered after ${elapsed} ms (first ` +
        `${Math.min(...answers.map((a) => a.ms))} ms, last ${Math.max(...answers.map((a) => a.ms))} ms)`);
    t.diagnostic(`upstream: ${fake.count} requests, at most ${fake.maxInFlight} at once`);
    t.diagnostic(`mandate while in flight: at most ${peak('threads')} threads, VmRSS at most ${mb(peak('vmRssKb'))} ` +
        `(${mb(atPeak && atPeak.vmRssKb)} with ${atPeak && atPeak.upstream} upstream requests open), VmHWM ` +
        `${mb(after0.vmHwmKb)}, at most ${peak('fds')} descriptors; ${samples.length} samples`);
    t.diagnostic(`mandate after: ${after0.threads} threads, VmRSS ${mb(after0.vmRssKb)}, ${after0.fds} descriptors`);

    // Every call answered with the upstream's result, under its own id.
    const failed = answers.map((a, i) => ({ i, a })).filter(({ i, a }) => a.status !== 200 || !a.body ||
        a.body.id !== i || !a.body.result || a.body.result.isError ||
        !a.body.result.structuredContent || a.body.result.structuredContent.slept_ms !== SLOW_MS);
    assert.equal(failed.length, 0, `${failed.length} of ${n} calls failed; first: ` +
        `${failed.slice(0, 3).map(({ i, a }) => `#${i}: ${a.status} ${a.error || (a.text || '').slice(0, 300)}`).join(' | ')}`);
    assert.equal(fake.count, n, 'the upstream did not receive exactly one request per call');

    // Concurrent, not queued: about one delay for the lot rather than n of them, and the upstream
    // held them at the same time. Alone on this machine it holds all n at once; when other test
    // files share the two CPUs (scripts/it.sh runs two at a time), this process opens the
    // connections more slowly and the first calls may finish before the last arrive (600-700 of
    // 1,000 seen). A bounded pool of threads or connections would show as a few dozen at most.
    assert.ok(elapsed < MAX_ELAPSED_MS, `${n} calls took ${elapsed} ms`);
    assert.ok(fake.maxInFlight >= Math.min(n, 250),
        `the upstream saw at most ${fake.maxInFlight} of ${n} calls at once: calls are queued somewhere`);

    // Without a thread per call.
    assert.ok(samples.length > 0);
    assert.ok(peak('threads') < MAX_THREADS, `mandate ran ${peak('threads')} threads with ${n} calls in flight`);

    // Still serving, and nothing left behind.
    const h = await rpc(env.mcpUrl, request(1, 'ping'), { token: env.users[0].token, version: '2025-11-25' });
    assert.equal(h.status, 200, h.text);
    assert.equal(srv.exitCode, null, srv.stderr().slice(-2000));
    assert.ok(!srv.stderr().includes(SECRET), 'the credential was logged');
});

test('after the batch: the upstream connections are let go and the threads are as before', async (t) => {
    const pid = srv.proc.pid;
    // Give idle connections a moment to close (keep-alive on mandate's side may keep some).
    await new Promise((r) => setTimeout(r, 500));
    const s = procStats(pid);
    t.diagnostic(`mandate: ${s.threads} threads, VmRSS ${mb(s.vmRssKb)}, ${s.fds} descriptors, upstream in flight ${fake.inFlight}`);
    assert.equal(fake.inFlight, 0);
    assert.ok(s.threads < MAX_THREADS, `${s.threads} threads`);
    // A second, smaller batch still works: nothing was exhausted by the first.
    fake.reset();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => slowCall(i, 200)));
    for (const [i, a] of answers.entries()) {
        assert.equal(a.status, 200, a.text);
        assert.equal(a.body.id, i);
        assert.ok(!a.body.result.isError, a.text);
    }
});
