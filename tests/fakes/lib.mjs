// The vendor fakes' shared part: one recording HTTP server per vendor on 127.0.0.1, and the
// helpers every vendor's fake uses to read requests and answer in the vendor's shapes.
//
// A vendor's fake is a module tests/fakes/<connector>.mjs (named as the catalog connector),
// exporting:
//
//   connector    the catalog connector's name
//   credential   the JSON that PUT /api/v1/connectors/<connector>/credential takes, holding the
//                secrets this fake accepts
//   basePath     optional: the path prefix the connector's base_url keeps (Slack's "/api")
//   tokenPath    optional, for an OAuth 2.0 connector whose token endpoint is on another host
//                than its API (Google, Microsoft, Intuit): the path at which this fake answers
//                token requests. The contract suite points the connector's token URL there
//                (PATCH /api/v1/connectors/<connector> {"token_url": fake.url + tokenPath}), as
//                an admin points it at a sandbox. It may hold the {credential.NAME} placeholders
//                of the connector's own auth.token_url ("/{credential.tenant_id}/oauth2/v2.0/token"),
//                which mandate fills in from the credential.
//   seed()       optional: the vendor's data for one fake, in the documented shapes
//   handle(fake, rec, res)
//                answers every request to this vendor's fake (after it is recorded). It checks
//                what the real API checks for the catalog's calls (method, path, auth header,
//                content type, required fields) and answers with the documented response and
//                error shapes. fake.data is seed()'s result.
//   cases        one entry per catalog tool, keyed by the tool's short name:
//                  {args, check(rec, result, fake)}
//                args are sent with tools/call; check asserts on rec, the last request the call
//                made (fake.requests has all of them), and on the CallToolResult.
//   errors       at least one {tool, args, match}: a call the vendor refuses; the tool result
//                must be isError with text matching the regular expression match.
//
// tests/it/connectors.test.mjs loads every catalog connector's fake and runs its cases.

import http from 'node:http';

export const JSON_UTF8 = 'application/json; charset=utf-8';

/* Answers with status and body (an object goes as JSON) plus headers. */
export function send(res, status, body, headers = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
        'Content-Type': JSON_UTF8,
        'Content-Length': Buffer.byteLength(text),
        ...headers,
    });
    res.end(text);
}

/* The bearer token of an Authorization header ("Bearer x", any case of the scheme), or null. */
export function bearer(headers) {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(headers.authorization || '');
    return m ? m[1] : null;
}

/* {user, pass} of a Basic Authorization header, or null (RFC 7617). */
export function basic(headers) {
    const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(headers.authorization || '');
    if (!m) return null;
    const s = Buffer.from(m[1], 'base64').toString('utf8');
    const i = s.indexOf(':');
    if (i < 0) return null;
    return { user: s.slice(0, i), pass: s.slice(i + 1) };
}

/* The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(headers) {
    return (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
}

/* An application/x-www-form-urlencoded body as [name, value] pairs (WHATWG rules). */
export function formPairs(body) {
    return [...new URLSearchParams(body).entries()];
}

/* The query string of rec as an object (the last value of a repeated name wins). */
export function queryOf(rec) {
    return Object.fromEntries(new URLSearchParams(rec.query));
}

/*
 * The JSON body of rec, or undefined after answering 400 with errorBody (the vendor's own
 * shape) when the Content-Type is not JSON or the body does not parse.
 */
export function jsonBody(rec, res, errorBody = { message: 'Problems parsing JSON' }) {
    if (mediaType(rec.headers) !== 'application/json') {
        send(res, 415, errorBody);
        return undefined;
    }
    try {
        return JSON.parse(rec.body);
    } catch {
        send(res, 400, errorBody);
        return undefined;
    }
}

/*
 * Starts vendor's fake (a module as above) on an ephemeral port of 127.0.0.1. Returns:
 *   url          http://127.0.0.1:PORT
 *   baseUrl      url plus vendor.basePath: what the connector's base_url becomes
 *   requests     every request in arrival order: {method, path (the raw target), pathname,
 *                query (raw, without '?'), headers (names lower-cased), body (a string), time}
 *   data         vendor.seed() (or {})
 *   credential   vendor.credential
 *   setHandler(fn|null)  fn(rec, res, fake) answers instead of vendor.handle
 *   reset()      forgets the recorded requests
 *   close()
 */
export async function startFake(vendor) {
    const fake = {
        vendor,
        url: '',
        baseUrl: '',
        requests: [],
        data: vendor.seed ? vendor.seed() : {},
        credential: vendor.credential,
        handler: null,
        setHandler(fn) {
            this.handler = fn || null;
        },
        reset() {
            this.requests.length = 0;
        },
        close() {
            return new Promise((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            });
        },
    };
    const server = http.createServer({ keepAlive: true }, (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
            const q = req.url.indexOf('?');
            const rec = {
                method: req.method,
                path: req.url,
                pathname: q < 0 ? req.url : req.url.slice(0, q),
                query: q < 0 ? '' : req.url.slice(q + 1),
                headers: { ...req.headers },
                body: Buffer.concat(chunks).toString('utf8'),
                time: Date.now(),
            };
            fake.requests.push(rec);
            try {
                if (fake.handler) await fake.handler(rec, res, fake);
                else await vendor.handle(fake, rec, res);
                if (!res.headersSent) send(res, 404, { message: 'Not Found' });
            } catch (err) {
                if (!res.headersSent) send(res, 500, { message: `fake ${vendor.connector}: ${err.stack}` });
                else res.destroy();
            }
        });
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0 }, resolve);
    });
    fake.url = `http://127.0.0.1:${server.address().port}`;
    fake.baseUrl = fake.url + (vendor.basePath || '');
    return fake;
}
