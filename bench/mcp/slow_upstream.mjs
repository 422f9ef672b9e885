// A slow upstream for the 1,000-in-flight test: answers GET /echo?message=... with a small JSON
// body after holding the request HOLD_MS milliseconds (nginx cannot delay an answer). Keep-alive
// on, a deep listen backlog, and it counts what it saw, so that the benchmark can show that the
// calls were really in flight together at the upstream, not queued in front of it.
//
//   PORT=8082 HOLD_MS=2000 node slow_upstream.mjs
//   GET /stats  -> {"requests":..,"inflight":..,"peak_inflight":..,"peak_sockets":..,"sockets":..}
//   GET /reset  -> zeroes the counters (not the open sockets)
import http from "node:http";

const PORT = Number(process.env.PORT ?? 8082);
const HOLD_MS = Number(process.env.HOLD_MS ?? 2000);
let requests = 0, inflight = 0, peak = 0, sockets = 0, peakSockets = 0;

const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/stats" || url.pathname === "/reset") {
        if (url.pathname === "/reset") { requests = 0; peak = inflight; peakSockets = sockets; }
        res.writeHead(200, {"Content-Type": "application/json"});
        res.end(JSON.stringify({requests, inflight, peak_inflight: peak, sockets, peak_sockets: peakSockets}));
        return;
    }
    if (url.pathname !== "/echo") { res.writeHead(404); res.end(); return; }
    requests++; inflight++;
    if (inflight > peak) peak = inflight;
    const body = JSON.stringify({echo: url.searchParams.get("message") ?? ""});
    setTimeout(() => {
        inflight--;
        res.writeHead(200, {"Content-Type": "application/json", "Content-Length": Buffer.byteLength(body)});
        res.end(body);
    }, HOLD_MS);
});
server.on("connection", (s) => {
    sockets++;
    if (sockets > peakSockets) peakSockets = sockets;
    s.on("close", () => { sockets--; });
});
server.keepAliveTimeout = 120000;
server.headersTimeout = 130000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.listen(PORT, "127.0.0.1", 4096, () =>
    console.log(`slow upstream on http://127.0.0.1:${PORT}/echo hold_ms=${HOLD_MS} pid=${process.pid}`));
process.on("SIGTERM", () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
