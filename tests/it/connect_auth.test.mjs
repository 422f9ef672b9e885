// The connector runtime's newer auth schemes and placeholders end to end, through /mcp against
// fakes of the vendors that need them. Each fake checks what the real service checks:
//
//   - oauth2_refresh_token, QuickBooks Online: the Intuit token endpoint takes the client by
//     HTTP Basic and rotates the refresh token; this fake stops honouring a refresh token once
//     it has rotated it, so a refresh with a stale one fails. The new one must be sealed back
//     into the vault: a restarted server refreshes with it.
//   - oauth2_jwt_bearer, Google (Gmail) with domain-wide delegation: the token endpoint verifies
//     the JWT's RS256 signature with the service account's public key and its claims, and
//     issues a token for the subject, whose mailbox the API then serves.
//   - oauth1, NetSuite token-based authentication: the REST API recomputes the HMAC-SHA256
//     signature independently (node:crypto, RFC 5849) and refuses reused nonces.
//   - {caller.userName} / {caller.email}, Microsoft Graph: each employee reads only their own
//     mailbox; the tenant in the token URL comes from the credential.
//   - {{credential.NAME}} in bodies, Sage Intacct (XML) and Expensify (a form field holding
//     JSON): the credentials are where each API wants them, and scrubbed from what it echoes.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { send, startFake } from '../fakes/lib.mjs';
import { adminApi, apiOk, call, createAdminToken, createAgentToken, putConnector, startMandate, toolDoc } from './lib/mcp.mjs';
import { createGroup, createUser, uniq } from './lib/scim.mjs';
import { dbContents } from './lib/server.mjs';

const V = '2025-11-25';

/* ---- helpers shared by the fakes ---- */

/* {user, pass} of an HTTP Basic header (RFC 7617), or null. */
function basicAuth(headers) {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(headers.authorization || '');
    if (!m) return null;
    const s = Buffer.from(m[1], 'base64').toString('utf8');
    const i = s.indexOf(':');
    return i < 0 ? null : { user: s.slice(0, i), pass: s.slice(i + 1) };
}

function bearerOf(headers) {
    const m = /^Bearer (\S+)$/i.exec(headers.authorization || '');
    return m ? m[1] : null;
}

function mediaType(headers) {
    return (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
}

function form(body) {
    return Object.fromEntries(new URLSearchParams(body));
}

function token(prefix) {
    return `${prefix}${crypto.randomBytes(18).toString('base64url')}`;
}

/* ---- Intuit: OAuth 2.0 refresh tokens and the QuickBooks Online Accounting API ---- */

// Token endpoint, "Refresh access tokens" in Intuit's OAuth 2.0 guide
// (https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0):
// POST /oauth2/v1/tokens/bearer, Accept: application/json, Authorization: Basic
// base64(client_id:client_secret), Content-Type: application/x-www-form-urlencoded,
// grant_type=refresh_token&refresh_token=...; answers {"token_type": "bearer", "expires_in":
// 3600, "refresh_token", "x_refresh_token_expires_in", "access_token"}, and
// {"error": "invalid_grant"} (400) for a refresh token it does not take, {"error":
// "invalid_client"} (401) for a bad client. Intuit asks clients to always keep the latest
// refresh token; this fake is strict and takes only the latest.
//
// API: GET /v3/company/{realmId}/query?query=...&minorversion=... with a bearer token answers
// {"QueryResponse": {...}, "time"}; an unknown or expired token gets 401 with Intuit's fault
// shape {"fault": {"error": [{"message", "detail", "code"}], "type": "AUTHENTICATION"}}.
const QBO = {
    connector: 'qbo_it',
    realm: '4620816365281416450',
    credential: {
        client_id: 'ABqboFakeClientId0123456789',
        client_secret: 'qboFakeClientSecret0123456789abcdef',
        refresh_token: 'AB11qboFakeRefreshToken0000000000000000',
    },
    seed() {
        return { latestRefresh: QBO.credential.refresh_token, accessTokens: new Set(), refreshes: [] };
    },
    handle(fake, rec, res) {
        if (rec.pathname === '/oauth2/v1/tokens/bearer') {
            const client = basicAuth(rec.headers);
            if (rec.method !== 'POST' || mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
                return send(res, 400, { error: 'invalid_request' });
            }
            if (!client || client.user !== QBO.credential.client_id || client.pass !== QBO.credential.client_secret) {
                return send(res, 401, { error: 'invalid_client' });
            }
            const f = form(rec.body);
            fake.data.refreshes.push(f.refresh_token);
            if (f.grant_type !== 'refresh_token') return send(res, 400, { error: 'unsupported_grant_type' });
            if (f.refresh_token !== fake.data.latestRefresh) return send(res, 400, { error: 'invalid_grant' });
            fake.data.latestRefresh = token('AB11rotated');
            const access = token('eyJqbo.');
            fake.data.accessTokens.add(access);
            return send(res, 200, {
                token_type: 'bearer',
                expires_in: 3600,
                refresh_token: fake.data.latestRefresh,
                x_refresh_token_expires_in: 8726400,
                access_token: access,
            });
        }
        const m = /^\/v3\/company\/(\d+)\/query$/.exec(rec.pathname);
        if (m && rec.method === 'GET') {
            if (!fake.data.accessTokens.has(bearerOf(rec.headers))) {
                return send(res, 401, {
                    warnings: null,
                    intuitObject: null,
                    fault: {
                        error: [{
                            message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
                            detail: 'Token expired',
                            code: '3200',
                            element: null,
                        }],
                        type: 'AUTHENTICATION',
                    },
                    time: new Date().toISOString(),
                });
            }
            const q = new URLSearchParams(rec.query);
            if (m[1] !== QBO.realm || !q.get('query')) return send(res, 400, { fault: { error: [{ message: 'bad request', code: '4000' }], type: 'ValidationFault' } });
            return send(res, 200, {
                QueryResponse: { Customer: [{ Id: '1', DisplayName: "Amy's Bird Sanctuary", Active: true }], startPosition: 1, maxResults: 1 },
                time: new Date().toISOString(),
            });
        }
        return undefined;
    },
};

/* ---- Google: service account JWT bearer grant, and Gmail ---- */

// Token endpoint, "Using OAuth 2.0 for Server to Server Applications"
// (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): POST
// /token with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT. The JWT:
// header {"alg": "RS256", "typ": "JWT", "kid"}, claims iss (the service account's email),
// scope, aud (the token endpoint), exp and iat (at most an hour apart), and sub for
// domain-wide delegation. Answers {"access_token", "expires_in": 3599, "token_type":
// "Bearer"}; a bad signature 400 {"error": "invalid_grant", "error_description": "Invalid JWT
// Signature."}; a subject outside the delegation 401 {"error": "unauthorized_client", ...}.
//
// Gmail API: GET /gmail/v1/users/me/messages?maxResults=N with the subject's token answers
// {"messages": [{"id", "threadId"}], "resultSizeEstimate"}; a bad token 401 with Google's
// error shape {"error": {"code": 401, "message", "errors", "status": "UNAUTHENTICATED"}}.
const GOOGLE_KEYS = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const GMAIL_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';
const GOOGLE = {
    connector: 'gmail_it',
    // A service account key file as the Google Cloud console issues it.
    credential: {
        type: 'service_account',
        project_id: 'mandate-it',
        private_key_id: crypto.randomBytes(20).toString('hex'),
        private_key: GOOGLE_KEYS.privateKey,
        client_email: 'mandate-it@mandate-it.iam.gserviceaccount.com',
        client_id: '104827363546729181234',
        auth_uri: 'https://accounts.google.com/o/oauth2/auth',
        token_uri: 'https://oauth2.googleapis.com/token',
        auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
        client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/mandate-it%40mandate-it.iam.gserviceaccount.com',
        universe_domain: 'googleapis.com',
    },
    seed() {
        return { tokens: new Map(), mailboxes: new Map(), assertions: [] };
    },
    handle(fake, rec, res) {
        if (rec.pathname === '/token' && rec.method === 'POST') {
            const f = form(rec.body);
            if (f.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !f.assertion) {
                return send(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: ' });
            }
            const parts = f.assertion.split('.');
            const bad = (d) => send(res, 400, { error: 'invalid_grant', error_description: d });
            if (parts.length !== 3) return bad('Invalid JWT: not a JWT');
            const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
            const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
            fake.data.assertions.push({ header, claims });
            const ok = crypto.verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), GOOGLE_KEYS.publicKey,
                Buffer.from(parts[2], 'base64url'));
            if (!ok || header.alg !== 'RS256' || header.kid !== GOOGLE.credential.private_key_id) return bad('Invalid JWT Signature.');
            const now = Math.floor(Date.now() / 1000);
            if (claims.iss !== GOOGLE.credential.client_email || claims.aud !== `${fake.url}/token` ||
                !(claims.exp - claims.iat <= 3600) || Math.abs(claims.iat - now) > 300) {
                return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
            }
            if (!claims.scope) return bad('Invalid JWT: scope is missing');
            if (claims.sub && !fake.data.mailboxes.has(claims.sub)) {
                return send(res, 401, {
                    error: 'unauthorized_client',
                    error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
                });
            }
            const access = token('ya29.c.');
            fake.data.tokens.set(access, { sub: claims.sub, scope: claims.scope.split(' ') });
            return send(res, 200, { access_token: access, expires_in: 3599, token_type: 'Bearer' });
        }
        if (rec.pathname === '/gmail/v1/users/me/messages' && rec.method === 'GET') {
            const t = fake.data.tokens.get(bearerOf(rec.headers));
            if (!t || !t.sub || !t.scope.includes(GMAIL_SCOPE)) {
                return send(res, 401, {
                    error: {
                        code: 401,
                        message: 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
                        errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError', location: 'Authorization', locationType: 'header' }],
                        status: 'UNAUTHENTICATED',
                    },
                });
            }
            const max = Number(new URLSearchParams(rec.query).get('maxResults') || 100);
            const all = fake.data.mailboxes.get(t.sub);
            const messages = all.slice(0, max);
            return send(res, 200, { messages, resultSizeEstimate: messages.length });
        }
        return undefined;
    },
};

/* ---- NetSuite: token-based authentication (OAuth 1.0) and REST web services ---- */

// RFC 5849 section 3.6, written independently of mandate's C.
function rfc3986(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// The signature NetSuite computes ("The Signature for Web Services and RESTlets",
// https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941088.html, after
// RFC 5849 3.4): the base string of method, scheme://host[:port]/path and the sorted query,
// form-body and oauth_* parameters (realm and oauth_signature left out), signed with
// HMAC-SHA256 under consumer secret & token secret.
function netsuiteSignature(rec, oauth, consumerSecret, tokenSecret) {
    const params = [...new URLSearchParams(rec.query)];
    if (mediaType(rec.headers) === 'application/x-www-form-urlencoded') params.push(...new URLSearchParams(rec.body));
    for (const [k, v] of Object.entries(oauth)) {
        if (k !== 'realm' && k !== 'oauth_signature') params.push([k, v]);
    }
    const enc = params.map(([k, v]) => [rfc3986(k), rfc3986(v)]);
    enc.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const norm = enc.map(([k, v]) => `${k}=${v}`).join('&');
    const uri = `http://${rec.headers.host.toLowerCase()}${rec.pathname}`;
    const base = `${rec.method.toUpperCase()}&${rfc3986(uri)}&${rfc3986(norm)}`;
    return crypto.createHmac('sha256', `${rfc3986(consumerSecret)}&${rfc3986(tokenSecret)}`).update(base).digest('base64');
}

// The REST web services' Authorization header (The Authorization Headers,
// https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_1534941295.html):
// OAuth realm="ACCOUNT", oauth_consumer_key, oauth_token, oauth_signature_method, oauth_timestamp,
// oauth_nonce, oauth_version, oauth_signature; each value percent-encoded, in double quotes.
function oauthParams(header) {
    if (!header || !header.startsWith('OAuth ')) return null;
    const out = {};
    for (const part of header.slice(6).split(/,\s*/)) {
        const m = /^([a-z_]+)="([^"]*)"$/.exec(part);
        if (!m) return null;
        out[m[1]] = decodeURIComponent(m[2]);
    }
    return out;
}

// GET /services/rest/record/v1/customer/{id} answers the record; POST
// /services/rest/record/v1/customer (JSON) 204 with a Location header. A failed login is 401
// {"type", "title": "Unauthorized", "status": 401, "o:errorDetails": [{"detail", "o:errorCode":
// "INVALID_LOGIN"}]}.
const NETSUITE = {
    connector: 'netsuite_it',
    credential: {
        consumer_key: 'ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4',
        consumer_secret: 'd26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5',
        token: '2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc',
        token_secret: 'c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295',
        realm: 'TSTDRV1234567_SB1',
    },
    seed() {
        return { nonces: new Set(), created: [], verified: 0 };
    },
    handle(fake, rec, res) {
        if (!rec.pathname.startsWith('/services/rest/record/v1/')) return undefined;
        const unauthorized = () => send(res, 401, {
            type: 'https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2',
            title: 'Unauthorized',
            status: 401,
            'o:errorDetails': [{
                detail: 'Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.',
                'o:errorCode': 'INVALID_LOGIN',
            }],
        });
        const o = oauthParams(rec.headers.authorization);
        const c = NETSUITE.credential;
        const now = Math.floor(Date.now() / 1000);
        if (!o || o.realm !== c.realm || o.oauth_consumer_key !== c.consumer_key || o.oauth_token !== c.token ||
            o.oauth_signature_method !== 'HMAC-SHA256' || o.oauth_version !== '1.0' ||
            !/^\d+$/.test(o.oauth_timestamp) || Math.abs(Number(o.oauth_timestamp) - now) > 300 ||
            !o.oauth_nonce || o.oauth_nonce.length < 6 || fake.data.nonces.has(o.oauth_nonce)) {
            return unauthorized();
        }
        if (o.oauth_signature !== netsuiteSignature(rec, o, c.consumer_secret, c.token_secret)) return unauthorized();
        fake.data.nonces.add(o.oauth_nonce);
        fake.data.verified += 1;
        const m = /^\/services\/rest\/record\/v1\/customer(?:\/(\d+))?$/.exec(rec.pathname);
        if (m && m[1] && rec.method === 'GET') {
            return send(res, 200, {
                links: [{ rel: 'self', href: `https://tstdrv1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/customer/${m[1]}` }],
                id: m[1],
                companyName: 'Wolfe Electronics',
                email: 'ap@wolfe.example',
            });
        }
        if (m && !m[1] && rec.method === 'POST') {
            if (mediaType(rec.headers) !== 'application/json') return send(res, 415, { title: 'Unsupported Media Type', status: 415 });
            const body = JSON.parse(rec.body);
            fake.data.created.push(body);
            res.writeHead(204, { Location: `https://tstdrv1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/customer/${1000 + fake.data.created.length}` });
            return res.end();
        }
        return send(res, 404, { title: 'Not Found', status: 404 });
    },
};

/* ---- Microsoft: identity platform client credentials, and Graph mail ---- */

// Token endpoint, "Microsoft identity platform and the OAuth 2.0 client credentials flow"
// (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow):
// POST /{tenant}/oauth2/v2.0/token, form body client_id, scope (https://graph.microsoft.com/
// .default), client_secret, grant_type=client_credentials; answers {"token_type": "Bearer",
// "expires_in", "ext_expires_in", "access_token"}; an unknown tenant 400 invalid_request
// (AADSTS90002), a bad secret 401 invalid_client (AADSTS7000215).
//
// Graph: GET /v1.0/users/{id | userPrincipalName}/messages ($top, $select) answers {"value":
// [...]}; POST /v1.0/users/{id}/sendMail (JSON {"message", "saveToSentItems"}) 202; an
// unknown user 404 {"error": {"code": "ErrorInvalidUser", "message"}}.
const GRAPH = {
    connector: 'graph_it',
    credential: {
        tenant_id: 'b1f5c3a2-7d4e-4e9a-9c1b-5f7d2e8a0c63',
        client_id: '6731de76-14a6-49ae-97bc-6eba6914391e',
        client_secret: 'graphFake~ClientSecret.0123456789abcdef',
    },
    seed() {
        return { tokens: new Set(), mailboxes: new Map(), sent: [], tokenPaths: [] };
    },
    handle(fake, rec, res) {
        const t = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(rec.pathname);
        if (t && rec.method === 'POST') {
            fake.data.tokenPaths.push(rec.pathname);
            const f = form(rec.body);
            if (t[1] !== GRAPH.credential.tenant_id) {
                return send(res, 400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${t[1]}' not found.`, error_codes: [90002] });
            }
            if (f.client_id !== GRAPH.credential.client_id || f.client_secret !== GRAPH.credential.client_secret) {
                return send(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] });
            }
            if (f.grant_type !== 'client_credentials' || f.scope !== 'https://graph.microsoft.com/.default') {
                return send(res, 400, { error: 'invalid_request', error_description: 'AADSTS900144: The request body must contain the following parameter.' });
            }
            const access = token('eyJ0eXAiOiJKV1Qi.');
            fake.data.tokens.add(access);
            return send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access });
        }
        const m = /^\/v1\.0\/users\/([^/]+)\/(messages|sendMail)$/.exec(rec.pathname);
        if (!m) return undefined;
        if (!fake.data.tokens.has(bearerOf(rec.headers))) {
            return send(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } });
        }
        const user = decodeURIComponent(m[1]).toLowerCase();
        if (!fake.data.mailboxes.has(user)) {
            return send(res, 404, { error: { code: 'ErrorInvalidUser', message: `The requested user '${decodeURIComponent(m[1])}' is invalid.` } });
        }
        if (m[2] === 'messages' && rec.method === 'GET') {
            const top = Number(new URLSearchParams(rec.query).get('$top') || 10);
            return send(res, 200, {
                '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#users('${user}')/messages`,
                value: fake.data.mailboxes.get(user).slice(0, top),
            });
        }
        if (m[2] === 'sendMail' && rec.method === 'POST') {
            const body = JSON.parse(rec.body);
            if (!body.message || !Array.isArray(body.message.toRecipients)) {
                return send(res, 400, { error: { code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' } });
            }
            fake.data.sent.push({ mailbox: user, body });
            res.writeHead(202);
            return res.end();
        }
        return send(res, 405, { error: { code: 'Request_BadRequest', message: 'Unsupported method' } });
    },
};

/* ---- Sage Intacct: the XML API ---- */

// "Construct an API request" (https://developer.intacct.com/web-services/requests/): POST
// /ia/xml/xmlgw.phtml, Content-Type application/xml, <request><control> with the Web Services
// sender id and password, then <operation><authentication><login> with the company user's
// userid, companyid and password, and <content><function controlid>. The answer (HTTP 200)
// repeats the sender id, user id and company id, with <status>success</status> or failure and
// an <errormessage>.
const INTACCT = {
    connector: 'intacct_it',
    credential: {
        sender_id: 'mandate_xml_sender',
        sender_password: 'SenderFakePassw0rd!<&>',
        user_id: 'xml_gateway_user',
        company_id: 'mandate-sandbox-co',
        user_password: 'UserFakePassw0rd&more',
    },
    seed() {
        return { queries: [] };
    },
    handle(fake, rec, res) {
        if (rec.pathname !== '/ia/xml/xmlgw.phtml' || rec.method !== 'POST') return undefined;
        const tag = (name) => {
            const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(rec.body);
            return m ? m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&') : null;
        };
        const xml = (s) => { res.writeHead(200, { 'Content-Type': 'text/xml; charset=UTF-8' }); res.end(s); };
        const c = INTACCT.credential;
        if (mediaType(rec.headers) !== 'application/xml' || !rec.body.startsWith('<?xml')) {
            return xml('<?xml version="1.0" encoding="UTF-8"?><response><control><status>failure</status></control><errormessage><error><errorno>XL03000003</errorno><description2>XML Parse error</description2></error></errormessage></response>');
        }
        const control = rec.body.slice(0, rec.body.indexOf('</control>'));
        const login = rec.body.slice(rec.body.indexOf('<login>'), rec.body.indexOf('</login>'));
        const inControl = (n) => { const m = new RegExp(`<${n}>([^<]*)</${n}>`).exec(control); return m && m[1]; };
        const inLogin = (n) => { const m = new RegExp(`<${n}>([^<]*)</${n}>`).exec(login); return m && m[1]; };
        const unxml = (s) => s && s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
        if (unxml(inControl('senderid')) !== c.sender_id || unxml(inControl('password')) !== c.sender_password) {
            return xml('<?xml version="1.0" encoding="UTF-8"?><response><control><status>failure</status></control><errormessage><error><errorno>XL03000006</errorno><description></description><description2>Incorrect Intacct XML Partner ID or password.</description2><correction></correction></error></errormessage></response>');
        }
        if (unxml(inLogin('userid')) !== c.user_id || unxml(inLogin('companyid')) !== c.company_id || unxml(inLogin('password')) !== c.user_password) {
            return xml(`<?xml version="1.0" encoding="UTF-8"?><response><control><status>success</status><senderid>${c.sender_id}</senderid></control><operation><authentication><status>failure</status><userid>${c.user_id}</userid><companyid>${c.company_id}</companyid></authentication><errormessage><error><errorno>XL03000006</errorno><description2>Sign-in information is incorrect</description2></error></errormessage></operation></response>`);
        }
        const like = tag('value');
        fake.data.queries.push({ object: tag('object'), like });
        return xml(`<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>success</status><senderid>${c.sender_id}</senderid><controlid>${tag('controlid')}</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
<operation><authentication><status>success</status><userid>${c.user_id}</userid><companyid>${c.company_id}</companyid><locationid></locationid><sessiontimestamp>2024-05-01T10:00:00+00:00</sessiontimestamp></authentication>
<result><status>success</status><function>query</function><controlid>query-vendors</controlid><data listtype="VENDOR" totalcount="1" offset="0" count="1" numremaining="0"><VENDOR><VENDORID>V-0042</VENDORID><NAME>Acme Supplies</NAME></VENDOR></data></result></operation></response>`);
    },
};

/* ---- Expensify: the Integration Server ---- */

// "Expensify Integrations" (https://integrations.expensify.com/Integration-Server/doc/): POST
// /Integration-Server/ExpensifyIntegrations, application/x-www-form-urlencoded with
// requestJobDescription=<JSON {"type", "credentials": {"partnerUserID", "partnerUserSecret"},
// "inputSettings": {...}}>. A policy list answers {"policyList": [...], "responseCode": 200};
// bad credentials {"responseMessage": "...", "responseCode": 401} (with HTTP 200, as the
// Integration Server answers).
const EXPENSIFY = {
    connector: 'expensify_it',
    credential: {
        partnerUserID: 'aa_mandate_it_expensify_com',
        partnerUserSecret: 'expensifyFakePartnerSecret0123456789',
    },
    seed() {
        return { jobs: [] };
    },
    handle(fake, rec, res) {
        if (rec.pathname !== '/Integration-Server/ExpensifyIntegrations' || rec.method !== 'POST') return undefined;
        if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
            return send(res, 200, { responseMessage: 'Missing requestJobDescription', responseCode: 410 });
        }
        const f = form(rec.body);
        let job;
        try {
            job = JSON.parse(f.requestJobDescription);
        } catch {
            return send(res, 200, { responseMessage: 'Malformed requestJobDescription', responseCode: 410 });
        }
        fake.data.jobs.push(job);
        const cr = job.credentials || {};
        if (cr.partnerUserID !== EXPENSIFY.credential.partnerUserID || cr.partnerUserSecret !== EXPENSIFY.credential.partnerUserSecret) {
            return send(res, 200, { responseMessage: 'Incorrect partnerUserID or partnerUserSecret', responseCode: 401 });
        }
        if (job.type !== 'get' || !job.inputSettings || job.inputSettings.type !== 'policyList') {
            return send(res, 200, { responseMessage: 'Unsupported job', responseCode: 410 });
        }
        return send(res, 200, {
            policyList: [{ name: 'Corporate Card Policy', id: 'F3B3D2E1C0A99887', outputCurrency: 'USD', role: 'admin', type: 'corporate', owner: job.inputSettings.userEmail }],
            responseCode: 200,
        });
    },
};

/* ---- the connectors ---- */

function connectorDocs(fakes) {
    return {
        [QBO.connector]: {
            baseUrl: fakes.qbo.url,
            headers: { Accept: 'application/json' },
            auth: { type: 'oauth2_refresh_token', token_url: '/oauth2/v1/tokens/bearer', client_auth: 'basic', scope: 'com.intuit.quickbooks.accounting' },
            tools: [toolDoc('query_customers', 'read', {
                request: { method: 'GET', path: '/v3/company/{realm_id}/query', query: ['query', 'minorversion'] },
                properties: { realm_id: { type: 'string', pattern: '^[0-9]+$' }, query: { type: 'string' }, minorversion: { type: 'integer' } },
                required: ['realm_id', 'query'],
            })],
        },
        [GOOGLE.connector]: {
            baseUrl: fakes.google.url,
            auth: { type: 'oauth2_jwt_bearer', token_url: '/token', scope: GMAIL_SCOPE, subject: 'caller' },
            tools: [toolDoc('list_messages', 'read', {
                request: { method: 'GET', path: '/gmail/v1/users/me/messages', query: ['maxResults'] },
                properties: { maxResults: { type: 'integer', minimum: 1, maximum: 500 } },
            })],
        },
        [NETSUITE.connector]: {
            baseUrl: fakes.netsuite.url,
            auth: { type: 'oauth1', signature_method: 'HMAC-SHA256' },
            tools: [
                toolDoc('get_customer', 'read', {
                    request: { method: 'GET', path: '/services/rest/record/v1/customer/{id}', query: ['fields', 'expandSubResources'] },
                    properties: { id: { type: 'string' }, fields: { type: 'string' }, expandSubResources: { type: 'boolean' } },
                    required: ['id'],
                }),
                toolDoc('create_customer', 'write', {
                    request: { method: 'POST', path: '/services/rest/record/v1/customer', body: 'json' },
                    properties: { companyName: { type: 'string' }, email: { type: 'string' } },
                    required: ['companyName'],
                }),
            ],
        },
        [GRAPH.connector]: {
            baseUrl: fakes.graph.url,
            auth: { type: 'oauth2_client_credentials', token_url: '/{credential.tenant_id}/oauth2/v2.0/token', scope: 'https://graph.microsoft.com/.default', client_auth: 'post' },
            tools: [
                toolDoc('list_my_messages', 'read', {
                    request: { method: 'GET', path: '/v1.0/users/{caller.userName}/messages', query: ['$top'] },
                    properties: { $top: { type: 'integer', minimum: 1, maximum: 50 } },
                }),
                toolDoc('send_mail', 'destructive', {
                    request: {
                        method: 'POST',
                        path: '/v1.0/users/{caller.email}/sendMail',
                        body: {
                            type: 'template',
                            content_type: 'application/json',
                            escape: 'json',
                            template: '{"message": {"subject": {{subject}}, "body": {"contentType": "Text", "content": {{text}}}, "toRecipients": [{"emailAddress": {"address": {{to}}}}], "from": {"emailAddress": {"address": {{caller.email}}}}}, "saveToSentItems": true}',
                        },
                    },
                    properties: { subject: { type: 'string' }, text: { type: 'string' }, to: { type: 'string' } },
                    required: ['subject', 'text', 'to'],
                }),
            ],
        },
        [INTACCT.connector]: {
            baseUrl: fakes.intacct.url,
            auth: { type: 'none' },
            tools: [toolDoc('query_vendors', 'read', {
                request: {
                    method: 'POST',
                    path: '/ia/xml/xmlgw.phtml',
                    body: {
                        type: 'template',
                        content_type: 'application/xml',
                        escape: 'xml',
                        template: '<?xml version="1.0" encoding="UTF-8"?><request><control><senderid>{{credential.sender_id}}</senderid><password>{{credential.sender_password}}</password><controlid>{{control_id}}</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace></control><operation><authentication><login><userid>{{credential.user_id}}</userid><companyid>{{credential.company_id}}</companyid><password>{{credential.user_password}}</password></login></authentication><content><function controlid="query-vendors"><query><object>VENDOR</object><select><field>VENDORID</field><field>NAME</field></select><filter><like><field>NAME</field><value>{{name_like}}</value></like></filter></query></function></content></operation></request>',
                    },
                },
                properties: { control_id: { type: 'string' }, name_like: { type: 'string' } },
                required: ['control_id', 'name_like'],
            })],
        },
        [EXPENSIFY.connector]: {
            baseUrl: fakes.expensify.url,
            tools: [toolDoc('list_policies', 'read', {
                request: {
                    method: 'POST',
                    path: '/Integration-Server/ExpensifyIntegrations',
                    body: {
                        type: 'form',
                        fields: {
                            requestJobDescription: {
                                escape: 'json',
                                template: '{"type": "get", "credentials": {"partnerUserID": {{credential.partnerUserID}}, "partnerUserSecret": {{credential.partnerUserSecret}}}, "inputSettings": {"type": "policyList", "adminOnly": {{admin_only}}, "userEmail": {{caller.email}}}}',
                            },
                        },
                    },
                },
                properties: { admin_only: { type: 'boolean' } },
                required: ['admin_only'],
            })],
        },
    };
}

describe('auth schemes and placeholders on the wire', () => {
    let srv;
    let api;
    const fakes = {};
    const users = {};

    async function callAs(who, name, args) {
        const r = await call(`${srv.base}/mcp`, users[who].token, V, 7, 'tools/call', { name, arguments: args });
        assert.equal(r.status, 200, r.text);
        assert.ok(r.body.result, `tools/call ${name}: ${r.text}`);
        return r.body.result;
    }

    before(async () => {
        fakes.qbo = await startFake(QBO);
        fakes.google = await startFake(GOOGLE);
        fakes.netsuite = await startFake(NETSUITE);
        fakes.graph = await startFake(GRAPH);
        fakes.intacct = await startFake(INTACCT);
        fakes.expensify = await startFake(EXPENSIFY);
        srv = await startMandate();
        api = adminApi(srv, await createAdminToken(srv));
        const docs = connectorDocs(fakes);
        for (const [name, d] of Object.entries(docs)) {
            await putConnector(api, name, d);
        }
        for (const v of [QBO, GOOGLE, NETSUITE, GRAPH, INTACCT, EXPENSIFY]) {
            const r = await api('PUT', `/connectors/${v.connector}/credential`, v.credential);
            assert.equal(r.status, 200, `${v.connector}: ${r.text}`);
            for (const s of Object.values(v.credential)) {
                if (s.length > 12) assert.ok(!r.text.includes(s), `the credential answer shows a secret: ${r.text}`);
            }
        }
        const pack = uniq('authpack').toLowerCase().replace(/[^a-z0-9]/g, '');
        await apiOk(api, 'POST', '/packs', {
            name: pack,
            title: 'Auth IT',
            tools: Object.keys(docs).map((c) => ({ tool: `${c}__*`, level: 'destructive' })),
        });
        // Alice's primary email differs from her userName; Bob's is his userName; Eve is outside
        // the Google delegation.
        const tag = uniq('').toLowerCase().replace(/[^a-z0-9]/g, '');
        users.alice = { user: await createUser(srv, {
            userName: `alice.${tag}@corp.example`,
            emails: [{ value: `home.${tag}@home.example`, type: 'home' }, { value: `Alice.Wong.${tag}@mail.corp.example`, type: 'work', primary: true }],
        }) };
        users.bob = { user: await createUser(srv, { userName: `bob.${tag}@corp.example`, emails: [{ value: `bob.${tag}@corp.example`, primary: true }] }) };
        users.eve = { user: await createUser(srv, { userName: `eve.${tag}@outside.example`, emails: [] }) };
        const group = await createGroup(srv, { members: Object.values(users).map((u) => ({ value: u.user.id })) });
        await apiOk(api, 'POST', '/grants', { subject: { type: 'group', id: group.id }, pack });
        for (const u of Object.values(users)) u.token = (await createAgentToken(api, u.user.id)).token;

        fakes.google.data.mailboxes.set(users.alice.user.userName, [{ id: '18f1a2b3c4d5e6f7', threadId: '18f1a2b3c4d5e6f7' }, { id: '18f1a2b3c4d5e6f8', threadId: '18f1a2b3c4d5e6f8' }]);
        fakes.google.data.mailboxes.set(users.bob.user.userName, [{ id: '28f1a2b3c4d5e6f7', threadId: '28f1a2b3c4d5e6f7' }]);
        fakes.graph.data.mailboxes.set(users.alice.user.userName.toLowerCase(), [{ id: 'AAMkAlice1', subject: 'Q3 forecast' }]);
        fakes.graph.data.mailboxes.set(users.alice.user.emails.find((e) => e.primary).value.toLowerCase(), []);
        fakes.graph.data.mailboxes.set(users.bob.user.userName.toLowerCase(), [{ id: 'AAMkBob1', subject: 'Bob only' }]);
    });
    after(async () => {
        await srv?.close();
        for (const f of Object.values(fakes)) await f.close();
    });

    test('oauth2_jwt_bearer (Google): an RS256 JWT per caller, verified with the public key; each reads their own mailbox', async () => {
        const a = await callAs('alice', `${GOOGLE.connector}__list_messages`, { maxResults: 5 });
        assert.equal(a.isError, false, JSON.stringify(a));
        assert.deepEqual(a.structuredContent.messages.map((m) => m.id), ['18f1a2b3c4d5e6f7', '18f1a2b3c4d5e6f8']);
        const b = await callAs('bob', `${GOOGLE.connector}__list_messages`, {});
        assert.equal(b.isError, false, JSON.stringify(b));
        assert.deepEqual(b.structuredContent.messages.map((m) => m.id), ['28f1a2b3c4d5e6f7']);
        // One token per (connector, subject): Alice's second call is served from the cache.
        await callAs('alice', `${GOOGLE.connector}__list_messages`, { maxResults: 1 });
        const grants = fakes.google.data.assertions;
        assert.equal(grants.length, 2);
        assert.deepEqual(grants.map((g) => g.claims.sub), [users.alice.user.userName, users.bob.user.userName]);
        for (const g of grants) {
            assert.equal(g.header.typ, 'JWT');
            assert.equal(g.claims.scope, GMAIL_SCOPE);
            assert.equal(g.claims.exp - g.claims.iat, 3600);
        }
        const tokenReq = fakes.google.requests.find((r) => r.pathname === '/token');
        assert.equal(tokenReq.headers['content-type'], 'application/x-www-form-urlencoded');
        assert.equal(tokenReq.headers.authorization, undefined);
        assert.ok(tokenReq.body.startsWith('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion='), tokenReq.body);
        // Someone the delegation does not cover gets a clear tool error, and the API no call.
        const before = fakes.google.requests.filter((r) => r.pathname.startsWith('/gmail/')).length;
        const e = await callAs('eve', `${GOOGLE.connector}__list_messages`, {});
        assert.equal(e.isError, true);
        assert.match(e.content[0].text, /access token.*unauthorized_client/);
        assert.equal(fakes.google.requests.filter((r) => r.pathname.startsWith('/gmail/')).length, before);
        // The private key is nowhere in what the agents saw.
        for (const r of [a, b, e]) assert.ok(!JSON.stringify(r).includes('PRIVATE KEY'));
    });

    test('oauth1 (NetSuite): every request signed; the fake recomputes HMAC-SHA256 with node:crypto', async () => {
        const r = await callAs('alice', `${NETSUITE.connector}__get_customer`, { id: '107', fields: 'companyName, email', expandSubResources: true });
        assert.equal(r.isError, false, JSON.stringify(r));
        assert.equal(r.structuredContent.companyName, 'Wolfe Electronics');
        const rec = fakes.netsuite.requests.at(-1);
        assert.equal(rec.path, '/services/rest/record/v1/customer/107?fields=companyName%2C%20email&expandSubResources=true');
        assert.match(rec.headers.authorization, /^OAuth realm="TSTDRV1234567_SB1", oauth_consumer_key="ef40afdd[0-9a-f]+", oauth_token="2b0ce516[0-9a-f]+", oauth_signature_method="HMAC-SHA256", oauth_timestamp="\d+", oauth_nonce="[0-9a-f]{32}", oauth_version="1\.0", oauth_signature="[A-Za-z0-9%]+"$/);
        // A JSON body is not signed, and the call goes through all the same.
        const c = await callAs('bob', `${NETSUITE.connector}__create_customer`, { companyName: 'Acme & Sons', email: 'ap@acme.example' });
        assert.equal(c.isError, false, JSON.stringify(c));
        assert.deepEqual(fakes.netsuite.data.created.at(-1), { companyName: 'Acme & Sons', email: 'ap@acme.example' });
        assert.equal(fakes.netsuite.data.verified, 2);
        // A nonce is never reused, so repeated calls keep passing.
        for (let i = 0; i < 3; i += 1) {
            const again = await callAs('alice', `${NETSUITE.connector}__get_customer`, { id: '107' });
            assert.equal(again.isError, false, JSON.stringify(again));
        }
        assert.equal(fakes.netsuite.data.nonces.size, 5);
    });

    test('oauth1: a wrong token secret is refused by the server and becomes a tool error', async () => {
        const r0 = await api('PUT', `/connectors/${NETSUITE.connector}/credential`, { ...NETSUITE.credential, token_secret: 'wrong-token-secret-0123456789' });
        assert.equal(r0.status, 200, r0.text);
        try {
            const r = await callAs('alice', `${NETSUITE.connector}__get_customer`, { id: '107' });
            assert.equal(r.isError, true);
            assert.match(r.content[0].text, /HTTP 401/);
            assert.equal(r.structuredContent.status, 401);
        } finally {
            const r1 = await api('PUT', `/connectors/${NETSUITE.connector}/credential`, NETSUITE.credential);
            assert.equal(r1.status, 200, r1.text);
        }
    });

    test('{caller.userName} (Microsoft Graph): each employee reads their own mailbox; the tenant comes from the credential', async () => {
        const a = await callAs('alice', `${GRAPH.connector}__list_my_messages`, { $top: 5 });
        assert.equal(a.isError, false, JSON.stringify(a));
        assert.deepEqual(a.structuredContent.value.map((m) => m.subject), ['Q3 forecast']);
        const b = await callAs('bob', `${GRAPH.connector}__list_my_messages`, {});
        assert.deepEqual(b.structuredContent.value.map((m) => m.subject), ['Bob only']);
        const paths = fakes.graph.requests.filter((r) => r.pathname.includes('/messages')).map((r) => r.pathname);
        assert.deepEqual(paths, [
            `/v1.0/users/${encodeURIComponent(users.alice.user.userName)}/messages`,
            `/v1.0/users/${encodeURIComponent(users.bob.user.userName)}/messages`,
        ]);
        assert.deepEqual(fakes.graph.data.tokenPaths, [`/${GRAPH.credential.tenant_id}/oauth2/v2.0/token`]);
        // The agent cannot name another mailbox: there is no such argument, and a made-up one
        // is refused before anything is sent.
        const sent = fakes.graph.requests.length;
        const x = await callAs('alice', `${GRAPH.connector}__list_my_messages`, { 'caller.userName': users.bob.user.userName });
        assert.equal(x.isError, true);
        assert.equal(fakes.graph.requests.length, sent);
        // The tenant id is a credential field: not in any answer.
        assert.ok(!JSON.stringify([a, b, x]).includes(GRAPH.credential.tenant_id));
    });

    test('{caller.email} and {{caller.email}}: the primary email, in the path and in a JSON template', async () => {
        const primary = users.alice.user.emails.find((e) => e.primary).value;
        const r = await callAs('alice', `${GRAPH.connector}__send_mail`, { subject: 'Hi "there"', text: 'Line 1\nLine 2', to: 'cfo@corp.example' });
        assert.equal(r.isError, false, JSON.stringify(r));
        const rec = fakes.graph.requests.at(-1);
        assert.equal(rec.pathname, `/v1.0/users/${encodeURIComponent(primary)}/sendMail`);
        const body = JSON.parse(rec.body);
        assert.equal(body.message.from.emailAddress.address, primary);
        assert.equal(body.message.subject, 'Hi "there"');
        assert.equal(body.message.body.content, 'Line 1\nLine 2');
        // Bob has no other email: his userName.
        await callAs('bob', `${GRAPH.connector}__send_mail`, { subject: 's', text: 't', to: 'x@corp.example' });
        assert.equal(JSON.parse(fakes.graph.requests.at(-1).body).message.from.emailAddress.address, users.bob.user.userName);
    });

    test('{{credential.NAME}} in an XML body (Sage Intacct): where the API wants them, and masked in its echo', async () => {
        const r = await callAs('alice', `${INTACCT.connector}__query_vendors`, { control_id: 'ctl-1', name_like: "Acme's <%>" });
        assert.equal(r.isError, false, JSON.stringify(r));
        const text = r.content[0].text;
        assert.match(text, /<NAME>Acme Supplies<\/NAME>/);
        assert.deepEqual(fakes.intacct.data.queries.at(-1), { object: 'VENDOR', like: "Acme's <%>" });
        const rec = fakes.intacct.requests.at(-1);
        assert.equal(rec.headers['content-type'], 'application/xml');
        assert.ok(rec.body.includes('<password>SenderFakePassw0rd!&lt;&amp;&gt;</password>'), rec.body);
        // The API repeats the sender id, user id and company id: the agent sees none of them.
        for (const v of Object.values(INTACCT.credential)) assert.ok(!JSON.stringify(r).includes(v), `${v} reached the agent`);
        assert.match(text, /<userid>\*+<\/userid>/);
        // A credential without a field the template uses is refused when it is set, by name.
        const { user_password: _omitted, ...partial } = INTACCT.credential;
        const bad = await api('PUT', `/connectors/${INTACCT.connector}/credential`, partial);
        assert.equal(bad.status, 400, bad.text);
        assert.match(bad.text, /user_password/);
        assert.ok(!bad.text.includes(INTACCT.credential.sender_password));
    });

    test('a form field holding a JSON template (Expensify): credentials and the caller inside requestJobDescription', async () => {
        const primary = users.alice.user.emails.find((e) => e.primary).value;
        const r = await callAs('alice', `${EXPENSIFY.connector}__list_policies`, { admin_only: true });
        assert.equal(r.isError, false, JSON.stringify(r));
        assert.equal(r.structuredContent.responseCode, 200);
        assert.equal(r.structuredContent.policyList[0].owner, primary);
        const rec = fakes.expensify.requests.at(-1);
        assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
        assert.deepEqual([...new URLSearchParams(rec.body).keys()], ['requestJobDescription']);
        assert.deepEqual(fakes.expensify.data.jobs.at(-1), {
            type: 'get',
            credentials: EXPENSIFY.credential,
            inputSettings: { type: 'policyList', adminOnly: true, userEmail: primary },
        });
    });

    test('no secret reaches the log or the database in the clear (before the restart below)', async () => {
        const dump = await dbContents(srv.dbPath);
        const secrets = [GOOGLE.credential.private_key.split('\n')[1], NETSUITE.credential.consumer_secret, NETSUITE.credential.token_secret,
            GRAPH.credential.client_secret, GRAPH.credential.tenant_id, INTACCT.credential.sender_password, INTACCT.credential.user_password,
            EXPENSIFY.credential.partnerUserSecret, QBO.credential.client_secret];
        for (const s of secrets) {
            assert.ok(!dump.includes(s), `a secret is stored in the clear: ${s.slice(0, 6)}...`);
            assert.ok(!srv.stderr().includes(s), `a secret was logged: ${s.slice(0, 6)}...`);
        }
    });

    test('oauth2_refresh_token (QuickBooks Online): the rotated refresh token is used next, sealed in the vault, and survives a restart', async () => {
        const args = { realm_id: QBO.realm, query: 'select * from Customer maxresults 1', minorversion: 73 };
        const first = await callAs('alice', `${QBO.connector}__query_customers`, args);
        assert.equal(first.isError, false, JSON.stringify(first));
        assert.equal(first.structuredContent.QueryResponse.Customer[0].DisplayName, "Amy's Bird Sanctuary");
        const tokenReq = fakes.qbo.requests.find((r) => r.pathname === '/oauth2/v1/tokens/bearer');
        assert.equal(tokenReq.headers.accept, 'application/json');
        assert.equal(tokenReq.headers.authorization, `Basic ${Buffer.from(`${QBO.credential.client_id}:${QBO.credential.client_secret}`).toString('base64')}`);
        assert.deepEqual(form(tokenReq.body), { grant_type: 'refresh_token', refresh_token: QBO.credential.refresh_token, scope: 'com.intuit.quickbooks.accounting' });
        const rotated1 = fakes.qbo.data.latestRefresh;
        // Cached: no second refresh for the next call.
        await callAs('bob', `${QBO.connector}__query_customers`, args);
        assert.equal(fakes.qbo.data.refreshes.length, 1);
        // The vault says it rotated, and shows no token.
        const info = await apiOk(api, 'GET', `/connectors/${QBO.connector}/credential`);
        assert.deepEqual(info.fields, ['client_id', 'client_secret', 'refresh_token']);
        assert.equal(info.set_by !== undefined, true);
        assert.match(info.rotated_at, /^\d{4}-\d\d-\d\dT/);
        assert.ok(!JSON.stringify(info).includes(rotated1));
        // Intuit forgets the access token: a 401, one refresh with the newest refresh token (the
        // fake takes no other), and the call goes through.
        fakes.qbo.data.accessTokens.clear();
        const second = await callAs('alice', `${QBO.connector}__query_customers`, args);
        assert.equal(second.isError, false, JSON.stringify(second));
        assert.deepEqual(fakes.qbo.data.refreshes, [QBO.credential.refresh_token, rotated1]);
        const rotated2 = fakes.qbo.data.latestRefresh;
        // Stored sealed, never in the clear.
        const dump = await dbContents(srv.dbPath);
        for (const s of [rotated1, rotated2, QBO.credential.client_secret]) assert.ok(!dump.includes(s), 'a refresh token is stored in the clear');
        assert.match(srv.stderr(), new RegExp(`event=connect_refresh_token_rotated connector=${QBO.connector} outcome=stored`));
        for (const s of [rotated1, rotated2, QBO.credential.refresh_token]) assert.ok(!srv.stderr().includes(s), 'a refresh token was logged');
        // A restarted server reads the rotated refresh token from the vault.
        await srv.stop();
        srv = await startMandate({ db: srv.dbPath, token: srv.token, dir: srv.dir, vaultKey: srv.vaultKey });
        api = adminApi(srv, await createAdminToken(srv, 'it-after-restart'));
        const third = await callAs('alice', `${QBO.connector}__query_customers`, args);
        assert.equal(third.isError, false, JSON.stringify(third));
        assert.deepEqual(fakes.qbo.data.refreshes, [QBO.credential.refresh_token, rotated1, rotated2]);
        assert.notEqual(fakes.qbo.data.latestRefresh, rotated2);
    });

    test('a refresh token the endpoint refuses becomes a clear tool error, and the API gets no call', async () => {
        // An administrator sets a refresh token that Intuit no longer takes.
        const r = await api('PUT', `/connectors/${QBO.connector}/credential`, { ...QBO.credential, refresh_token: 'AB11revokedRefreshToken000000000000' });
        assert.equal(r.status, 200, r.text);
        fakes.qbo.data.accessTokens.clear();
        const apiCalls = () => fakes.qbo.requests.filter((x) => x.pathname.startsWith('/v3/')).length;
        const before = apiCalls();
        const res = await callAs('alice', `${QBO.connector}__query_customers`, { realm_id: QBO.realm, query: 'select * from Customer' });
        assert.equal(res.isError, true);
        assert.match(res.content[0].text, /refused the refresh token: invalid_grant/);
        assert.equal(apiCalls(), before);
        assert.equal(fakes.qbo.data.refreshes.at(-1), 'AB11revokedRefreshToken000000000000');
    });
});
