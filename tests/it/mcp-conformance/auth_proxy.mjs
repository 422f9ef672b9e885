// A transparent loopback proxy that adds a bearer token, so that the MCP conformance suite can
// test an endpoint that requires one: the suite (0.1.x and 0.2.0-alpha alike) builds its
// clients from --url alone and has no option for request headers.
//
//   node auth_proxy.mjs TARGET_ORIGIN TOKEN      e.g. http://127.0.0.1:8080 mdt_agent_...
//
// Listens on an ephemeral port of 127.0.0.1 and prints that port on stdout once listening.
// Every request is forwarded to TARGET_ORIGIN as it came (method, path and query, headers in
// their order and spelling, body), streaming both ways (SSE answers pass through), with two
// changes:
//   - Authorization: Bearer TOKEN is added when the request has no Authorization header;
//   - the proxy's own authority is replaced by the target's in Host and Origin (so that a
//     request the suite addressed to http://127.0.0.1:PROXY arrives as if it had been sent to
//     http://127.0.0.1:TARGET). Any other Host or Origin, such as the DNS-rebinding
//     scenario's evil.example.com, is passed unchanged.
// One line per request goes to stderr: method, path, status.

import http from 'node:http';

const [target, token] = process.argv.slice(2);
if (!target || !token) {
    console.error('usage: node auth_proxy.mjs TARGET_ORIGIN TOKEN');
    process.exit(2);
}
const up = new URL(target);

const server = http.createServer((req, res) => {
    const self = `127.0.0.1:${server.address().port}`;
    const selfNames = new Set([self, `localhost:${server.address().port}`]);
    const headers = [];
    let hasAuth = false;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        let value = req.rawHeaders[i + 1];
        const lower = name.toLowerCase();
        if (lower === 'authorization') hasAuth = true;
        if (lower === 'host' && selfNames.has(value.toLowerCase())) {
            value = value.toLowerCase().startsWith('localhost') ? `localhost:${up.port}` : up.host;
        }
        if (lower === 'origin') {
            try {
                const o = new URL(value);
                if (selfNames.has(o.host.toLowerCase())) {
                    value = `${o.protocol}//${o.hostname}:${up.port}`;
                }
            } catch {
                /* not a URL: forwarded as is */
            }
        }
        headers.push(name, value);
    }
    if (!hasAuth) headers.push('Authorization', `Bearer ${token}`);
    const fwd = http.request({
        host: up.hostname,
        port: up.port,
        method: req.method,
        path: req.url,
        headers,
        setHost: false,
    }, (ures) => {
        console.error(`${req.method} ${req.url} -> ${ures.statusCode}`);
        const out = [];
        for (let i = 0; i < ures.rawHeaders.length; i += 2) out.push(ures.rawHeaders[i], ures.rawHeaders[i + 1]);
        res.writeHead(ures.statusCode, ures.statusMessage, out);
        res.flushHeaders();
        ures.pipe(res);
    });
    fwd.on('error', (err) => {
        console.error(`${req.method} ${req.url} -> proxy error: ${err.message}`);
        if (!res.headersSent) {
            res.writeHead(502, { 'Content-Type': 'text/plain' });
            res.end(`auth_proxy: ${err.message}\n`);
        } else {
            res.destroy();
        }
    });
    res.on('close', () => fwd.destroy());
    req.pipe(fwd);
});

server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, () => {
        server.close();
        server.closeAllConnections();
        process.exit(0);
    });
}
