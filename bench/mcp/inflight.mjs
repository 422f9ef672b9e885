// Many tools/call in flight at once: CONNS keep-alive sockets, each sending ROUNDS calls one
// after the other, all sockets started together. Every answer is checked: HTTP 200, a JSON-RPC
// result with the same id, isError false, and structuredContent.echo equal to the message this
// very call sent (each call sends its own message, so a crossed answer would be caught).
//
//   node inflight.mjs URL TOKEN TOOL      env: CONNS=1000 ROUNDS=5 TIMEOUT_MS=30000
//   prints human lines, then one line: INFLIGHT {json}
import http from "node:http";

const [url, token, tool] = process.argv.slice(2);
if (!url || !token || !tool) {
    console.error("usage: node inflight.mjs URL TOKEN TOOL");
    process.exit(2);
}
const CONNS = Number(process.env.CONNS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS ?? 30000);
const agent = new http.Agent({keepAlive: true, maxSockets: CONNS, maxFreeSockets: CONNS});
const u = new URL(url);

const lat = [];
const counts = {ok: 0, http_error: 0, tool_error: 0, wrong_answer: 0, socket_error: 0};
const examples = [];
let inflight = 0, peakInflight = 0;
let roundDone = new Array(ROUNDS).fill(0);
const roundEnd = new Array(ROUNDS).fill(0);

function note(kind, detail) {
    counts[kind]++;
    if (examples.length < 5) examples.push(`${kind}: ${String(detail).slice(0, 300)}`);
}

function once(conn, round) {
    const id = conn * 1000 + round + 1;
    const message = `hello world ${conn}-${round}`;
    const body = JSON.stringify({jsonrpc: "2.0", id, method: "tools/call",
                                 params: {name: tool, arguments: {message}}});
    return new Promise((resolve) => {
        const t0 = process.hrtime.bigint();
        inflight++;
        if (inflight > peakInflight) peakInflight = inflight;
        const req = http.request({
            host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent,
            headers: {
                "Authorization": `Bearer ${token}`, "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18",
                "Content-Length": Buffer.byteLength(body),
            },
            timeout: TIMEOUT_MS,
        }, (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => {
                inflight--;
                const ms = Number(process.hrtime.bigint() - t0) / 1e6;
                const text = Buffer.concat(chunks).toString();
                if (res.statusCode !== 200) { note("http_error", `${res.statusCode} ${text}`); return resolve(); }
                let m;
                try { m = JSON.parse(text); } catch { note("wrong_answer", text); return resolve(); }
                if (!m.result) note("wrong_answer", text);
                else if (m.result.isError) note("tool_error", text);
                else if (m.id !== id || m.result.structuredContent?.echo !== message) note("wrong_answer", text);
                else { counts.ok++; lat.push(ms); }
                resolve();
            });
            res.on("error", (e) => { inflight--; note("socket_error", e.message); resolve(); });
        });
        req.on("timeout", () => req.destroy(new Error("client timeout")));
        req.on("error", (e) => { inflight--; note("socket_error", e.message); resolve(); });
        req.end(body);
    });
}

async function worker(conn) {
    for (let r = 0; r < ROUNDS; r++) {
        await once(conn, r);
        roundDone[r]++;
        if (roundDone[r] === CONNS) roundEnd[r] = performance.now();
    }
}

const start = performance.now();
await Promise.all(Array.from({length: CONNS}, (_, i) => worker(i)));
const elapsed = (performance.now() - start) / 1000;
agent.destroy();

lat.sort((a, b) => a - b);
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p / 100 * lat.length))] : 0;
const total = CONNS * ROUNDS;
const out = {
    conns: CONNS, rounds: ROUNDS, calls: total, ...counts, all_ok: counts.ok === total,
    elapsed_s: +elapsed.toFixed(3), calls_per_s: +(counts.ok / elapsed).toFixed(1),
    client_peak_inflight: peakInflight,
    first_round_s: +((roundEnd[0] - start) / 1000).toFixed(3),
    round_end_s: roundEnd.map((t) => +((t - start) / 1000).toFixed(3)),
    lat_ms: {min: +(lat[0] ?? 0).toFixed(1), p50: +pct(50).toFixed(1), p90: +pct(90).toFixed(1),
             p99: +pct(99).toFixed(1), max: +(lat[lat.length - 1] ?? 0).toFixed(1)},
    examples,
};
console.log(`${CONNS} sockets x ${ROUNDS} rounds: ${counts.ok}/${total} ok in ${out.elapsed_s} s ` +
            `(${out.calls_per_s} calls/s); rounds done at ${out.round_end_s.join(", ")} s; ` +
            `latency ms p50 ${out.lat_ms.p50} p99 ${out.lat_ms.p99} max ${out.lat_ms.max}`);
for (const e of examples) console.log(`  ${e}`);
console.log(`INFLIGHT ${JSON.stringify(out)}`);
process.exit(out.all_ok ? 0 : 1);
