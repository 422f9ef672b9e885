// A fake upstream for the connector runtime: one HTTP server on 127.0.0.1 that records every
// request exactly as it arrived and answers the catalog's routes the way the vendors document
// them, so that a black-box test can check both sides of a tool call:
//
//   const fake = await startFakeUpstream();
//   after(() => fake.close());
//   ... point mandate's connectors at fake.url (see baseUrls below) and set fake.secrets ...
//   const r = fake.requests.at(-1);   // {method, path, pathname, query, headers, body, ...}
//
// The routes, each following the vendor's public API reference (paths, methods, auth header,
// body encoding, status codes and error shapes):
//
//   GitHub (REST v3)       GET  /repos/{owner}/{repo}/issues/{n}            the issue, 200
//                          POST /repos/{owner}/{repo}/issues/{n}/comments   the comment, 201
//     Auth: "Authorization: Bearer <token>" (or the older "token <token>"). No or a wrong
//     token: 401 {"message": "Bad credentials", ...}; GitHub also refuses a request without a
//     User-Agent header with 403. Unknown repository or issue: 404 {"message": "Not Found"}.
//     A comment needs a JSON body with a string "body" (else 422 "Validation Failed").
//   Stripe                 POST /v1/refunds (application/x-www-form-urlencoded)   the refund
//     Auth: "Authorization: Bearer <secret key>" (or Basic with the key as user name). No key
//     or a wrong one: 401 {"error": {"type": "invalid_request_error", "message": ...}}.
//     Errors in Stripe's shape {"error": {"type", "code", "message", "param"}}: 400 for an
//     unknown charge (resource_missing), an amount over what is left (amount_too_large), a
//     refunded charge (charge_already_refunded), a bad or missing parameter
//     (parameter_invalid_integer, parameter_missing, parameter_unknown); 402 card_error for
//     the charge CHARGE_DECLINED, whose card network refuses the refund.
//   Slack (Web API)        POST /api/chat.postMessage (JSON or form body)   {"ok": true, ...}
//     Auth: "Authorization: Bearer <token>". Slack answers HTTP 200 with {"ok": false,
//     "error": "..."} for failures: not_authed (no token), invalid_auth (wrong token),
//     channel_not_found, no_text, invalid_json.
//   Salesforce             POST /services/oauth2/token   client credentials (RFC 6749 4.4)
//     Client authentication with HTTP Basic (RFC 6749 2.3.1) or client_id / client_secret in
//     the form body; grant_type=client_credentials. Answers {"access_token", "token_type":
//     "Bearer", "instance_url", "id", "issued_at", "signature", "scope"} (and "expires_in"
//     when opts.salesforce.expiresIn is set: Salesforce itself sends none). Errors per RFC
//     6749 5.2: 400 {"error": "unsupported_grant_type" | "invalid_request"}, 401
//     {"error": "invalid_client"} with WWW-Authenticate when Basic was tried, else 400.
//                          GET  /services/data/v60.0/sobjects/Opportunity/{id}   the record
//     Auth: a bearer access token that the token endpoint issued (or secrets.salesforce.token).
//     Otherwise 401 [{"message": "Session expired or invalid", "errorCode":
//     "INVALID_SESSION_ID"}]; an unknown id: 404 [{"errorCode": "NOT_FOUND", ...}].
//   Jira Cloud (REST v3)   GET  /rest/api/3/issue/{key}   Basic auth (email : API token)
//     No or wrong credentials: 401 {"errorMessages": [...], "errors": {}}.
//   Datadog                GET  /api/v1/monitor/{id}      DD-API-KEY and DD-APPLICATION-KEY
//     Missing or wrong keys: 403 {"errors": ["Forbidden"]}.
//   Load tests             GET or POST /slow?ms=N        waits N ms (at most 60 s), then 200
//     {"slept_ms": N}; no auth. fake.inFlight and fake.maxInFlight count concurrent requests.
//
// Anything else: 404 {"message": "Not Found"}. fake.setHandler(fn) replaces the routes for
// a test: fn(rec, res, fake) answers every request (after it is recorded) until
// fake.setHandler(null); rec is the recorded request, res node's ServerResponse.

import http from 'node:http';

import { basic, bearer, formPairs, JSON_UTF8, mediaType, send } from '../../fakes/lib.mjs';

/* The secrets the fake accepts; tests hand the same values to mandate's vault. */
export const DEFAULT_SECRETS = Object.freeze({
    github: 'ghp_FakeUpstreamToken0123456789abcdefABCD',
    stripe: 'sk_test_51FakeUpstreamKey0123456789abcdef',
    slack: 'xoxb-1111111111-2222222222-FakeUpstreamBotToken',
    salesforce: Object.freeze({
        client_id: '3MVG9FakeUpstreamConsumerKey',
        client_secret: 'FAKE0123456789UPSTREAMSECRET',
        token: '00DFAKE000000000001!AQ4AQFakeStaticSessionToken',
    }),
    jira: Object.freeze({ username: 'agent@example.com', password: 'ATATTFakeJiraApiToken0123' }),
    datadog: Object.freeze({
        'DD-API-KEY': 'fakeddapikey0123456789abcdef0123',
        'DD-APPLICATION-KEY': 'fakeddappkey0123456789abcdef0123456789ab',
    }),
});

/* Stripe's test charge whose refund the card network declines (402 card_error). */
export const CHARGE_DECLINED = 'ch_3FakeDeclinedCharge0000';


/* ---- seeded data, in the vendors' documented shapes ---- */

function githubUser(login, id) {
    return {
        login,
        id,
        node_id: Buffer.from(`04:User${id}`).toString('base64'),
        avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
        gravatar_id: '',
        url: `https://api.github.com/users/${login}`,
        html_url: `https://github.com/${login}`,
        type: 'User',
        site_admin: false,
    };
}

/* One issue as GET /repos/{owner}/{repo}/issues/{issue_number} returns it. */
function githubIssue(owner, repo, number, title, body) {
    const repoUrl = `https://api.github.com/repos/${owner}/${repo}`;
    return {
        id: 1000000 + number,
        node_id: Buffer.from(`I_issue${number}`).toString('base64'),
        url: `${repoUrl}/issues/${number}`,
        repository_url: repoUrl,
        labels_url: `${repoUrl}/issues/${number}/labels{/name}`,
        comments_url: `${repoUrl}/issues/${number}/comments`,
        events_url: `${repoUrl}/issues/${number}/events`,
        html_url: `https://github.com/${owner}/${repo}/issues/${number}`,
        number,
        state: 'open',
        state_reason: null,
        title,
        body,
        user: githubUser('octocat', 1),
        labels: [{
            id: 208045946,
            node_id: 'MDU6TGFiZWwyMDgwNDU5NDY=',
            url: `${repoUrl}/labels/bug`,
            name: 'bug',
            description: "Something isn't working",
            color: 'f29513',
            default: true,
        }],
        assignee: null,
        assignees: [],
        milestone: null,
        locked: false,
        active_lock_reason: null,
        comments: 0,
        closed_at: null,
        created_at: '2024-04-14T16:00:49Z',
        updated_at: '2024-04-14T16:00:49Z',
        closed_by: null,
        author_association: 'OWNER',
    };
}

function seedGithub() {
    const issues = new Map();
    const add = (owner, repo, n, title, body) => issues.set(`${owner}/${repo}#${n}`.toLowerCase(),
        githubIssue(owner, repo, n, title, body));
    add('octocat', 'hello-world', 1347, 'Found a bug', "I'm having a problem with this.");
    add('octocat', 'hello-world', 42, 'Crash on start', 'The app crashes when started with an empty config.');
    return { issues, comments: [], nextCommentId: 1700000000 };
}

function seedStripe() {
    const charges = new Map();
    const add = (id, amount, currency, refunded = 0) => charges.set(id, {
        id, object: 'charge', amount, amount_refunded: refunded, currency,
        payment_intent: `pi_${id.slice(3)}`, refunded: refunded >= amount,
    });
    add('ch_3MmlLrLkdIwHu7ix0snN0B15', 5000, 'usd');
    add('ch_3FakeSecondCharge000001', 20000, 'eur');
    add('ch_3FakeRefundedCharge0001', 1000, 'usd', 1000);
    add(CHARGE_DECLINED, 3000, 'usd');
    return { charges, refunds: [], nextRefund: 1 };
}

function seedSalesforce() {
    const opportunities = new Map();
    opportunities.set('006Dn00000A1b2cIAB', {
        attributes: { type: 'Opportunity', url: '/services/data/v60.0/sobjects/Opportunity/006Dn00000A1b2cIAB' },
        Id: '006Dn00000A1b2cIAB',
        Name: 'Acme - 200 Widgets',
        StageName: 'Prospecting',
        Amount: 15000,
        CloseDate: '2025-12-31',
        Probability: 10,
        AccountId: '001Dn00000Xy1zAIAR',
    });
    return { opportunities, tokens: new Map(), nextToken: 1 };
}

/* ---- helpers: shared with the vendor fakes (tests/fakes/lib.mjs) ---- */

/* ---- GitHub ---- */

const GH_DOCS = 'https://docs.github.com/rest';

function github(fake, rec, res) {
    const h = rec.headers;
    // https://docs.github.com/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent
    if (!h['user-agent']) {
        res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Request forbidden by administrative rules. Please make sure your request has a User-Agent header ' +
            '(https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). ' +
            'Check https://developer.github.com for other possible causes.\n');
        return;
    }
    const tok = bearer(h) || (/^token[ ]+(\S+)\s*$/i.exec(h.authorization || '') || [])[1];
    if (tok !== fake.secrets.github) {
        send(res, 401, { message: 'Bad credentials', documentation_url: GH_DOCS, status: '401' });
        return;
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)(\/comments)?$/.exec(rec.pathname);
    const notFound = (doc) => send(res, 404, { message: 'Not Found', documentation_url: doc, status: '404' });
    if (!m) {
        notFound(GH_DOCS);
        return;
    }
    const [, owner, repo, num, comments] = m;
    const issue = fake.github.issues.get(`${decodeURIComponent(owner)}/${decodeURIComponent(repo)}#${Number(num)}`.toLowerCase());
    if (!comments) {
        if (rec.method !== 'GET') {
            notFound(GH_DOCS);
            return;
        }
        if (!issue) {
            notFound('https://docs.github.com/rest/issues/issues#get-an-issue');
            return;
        }
        send(res, 200, issue);
        return;
    }
    if (rec.method !== 'POST' || !issue) {
        notFound('https://docs.github.com/rest/issues/comments#create-an-issue-comment');
        return;
    }
    let input;
    try {
        input = JSON.parse(rec.body);
    } catch {
        send(res, 400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment', status: '400' });
        return;
    }
    if (!input || typeof input.body !== 'string') {
        send(res, 422, {
            message: 'Validation Failed',
            errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }],
            documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
            status: '422',
        });
        return;
    }
    fake.github.nextCommentId += 1;
    const id = fake.github.nextCommentId;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000', '');
    const comment = {
        id,
        node_id: Buffer.from(`IC_${id}`).toString('base64'),
        url: `${issue.repository_url}/issues/comments/${id}`,
        html_url: `${issue.html_url}#issuecomment-${id}`,
        body: input.body,
        user: githubUser('mandate-bot', 9000001),
        created_at: now,
        updated_at: now,
        issue_url: issue.url,
        author_association: 'CONTRIBUTOR',
    };
    fake.github.comments.push(comment);
    issue.comments += 1;
    send(res, 201, comment, { Location: comment.url });
}

/* ---- Stripe ---- */

function stripeError(res, status, error) {
    send(res, status, { error: { ...error, doc_url: error.code ? `https://stripe.com/docs/error-codes/${error.code.replace(/_/g, '-')}` : undefined } },
        { 'Content-Type': 'application/json', 'Request-Id': `req_${Math.random().toString(36).slice(2, 16)}` });
}

/* The masked form Stripe shows of a key it did not accept: prefix, stars, the last 4. */
function maskKey(key) {
    const p = /^(sk|rk|pk)_(test|live)_/.exec(key);
    const prefix = p ? p[0] : '';
    return `${prefix}${'*'.repeat(Math.max(key.length - prefix.length - 4, 0))}${key.slice(-4)}`;
}

const REFUND_PARAMS = new Set(['amount', 'charge', 'payment_intent', 'reason', 'metadata', 'expand',
    'instructions_email', 'origin', 'refund_application_fee', 'reverse_transfer', 'customer', 'currency']);

function stripe(fake, rec, res) {
    const h = rec.headers;
    const b = basic(h);
    const key = bearer(h) || (b ? b.user : null);
    if (!key) {
        stripeError(res, 401, {
            type: 'invalid_request_error',
            message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        });
        return;
    }
    if (key !== fake.secrets.stripe) {
        stripeError(res, 401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${maskKey(key)}` });
        return;
    }
    if (rec.pathname !== '/v1/refunds' || rec.method !== 'POST') {
        stripeError(res, 404, { type: 'invalid_request_error', message: `Unrecognized request URL (${rec.method}: ${rec.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` });
        return;
    }
    if (rec.body.length > 0 && mediaType(h) !== 'application/x-www-form-urlencoded') {
        stripeError(res, 400, { type: 'invalid_request_error', message: `Invalid request: unsupported Content-Type ${h['content-type'] || ''}. If error persists and you need assistance, please contact support@stripe.com.` });
        return;
    }
    const params = {};
    const metadata = {};
    for (const [k, v] of formPairs(rec.body)) {
        const mm = /^metadata\[([^\][]+)\]$/.exec(k);
        if (mm) {
            metadata[mm[1]] = v;
            continue;
        }
        if (!REFUND_PARAMS.has(k.replace(/\[.*$/, ''))) {
            stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_unknown', param: k, message: `Received unknown parameter: ${k}` });
            return;
        }
        params[k] = v;
    }
    if (!params.charge && !params.payment_intent) {
        stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_missing', message: 'One of the following params should be provided for this request: payment_intent or charge.' });
        return;
    }
    let charge = null;
    if (params.charge) charge = fake.stripe.charges.get(params.charge);
    else charge = [...fake.stripe.charges.values()].find((c) => c.payment_intent === params.payment_intent);
    if (!charge) {
        const param = params.charge ? 'charge' : 'payment_intent';
        stripeError(res, 400, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${param}: '${params[param]}'` });
        return;
    }
    let amount = charge.amount - charge.amount_refunded;
    if (params.amount !== undefined) {
        if (!/^\d+$/.test(params.amount)) {
            stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_invalid_integer', param: 'amount', message: 'Invalid integer: ' + params.amount });
            return;
        }
        amount = Number(params.amount);
    }
    if (charge.amount_refunded >= charge.amount) {
        stripeError(res, 400, { type: 'invalid_request_error', code: 'charge_already_refunded', message: `Charge ${charge.id} has already been refunded.` });
        return;
    }
    if (amount < 1 || amount > charge.amount - charge.amount_refunded) {
        const fmt = (n) => `$${(n / 100).toFixed(2)}`;
        stripeError(res, 400, { type: 'invalid_request_error', code: 'amount_too_large', param: 'amount', message: `Refund amount (${fmt(amount)}) is greater than unrefunded amount on charge (${fmt(charge.amount - charge.amount_refunded)})` });
        return;
    }
    if (charge.id === CHARGE_DECLINED) {
        stripeError(res, 402, { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', charge: charge.id, message: 'Your card was declined.' });
        return;
    }
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    const n = fake.stripe.nextRefund++;
    const refund = {
        id: `re_3FakeRefund${String(n).padStart(12, '0')}`,
        object: 'refund',
        amount,
        balance_transaction: `txn_3FakeBalance${String(n).padStart(10, '0')}`,
        charge: charge.id,
        created: 1700000000 + n,
        currency: charge.currency,
        destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
        metadata,
        payment_intent: charge.payment_intent,
        reason: params.reason || null,
        receipt_number: null,
        source_transfer_reversal: null,
        status: 'succeeded',
        transfer_reversal: null,
    };
    fake.stripe.refunds.push(refund);
    send(res, 200, refund, { 'Content-Type': 'application/json', 'Request-Id': `req_fake${n}` });
}

/* ---- Slack ---- */

function slack(fake, rec, res) {
    const h = rec.headers;
    const ok = (body) => send(res, 200, body);
    if (rec.pathname !== '/api/chat.postMessage') {
        // Slack answers an unknown method with HTTP 404 and {"ok": false, "error": "unknown_method"}.
        send(res, 404, { ok: false, error: 'unknown_method', req_method: rec.pathname.replace(/^\/api\//, '') });
        return;
    }
    const tok = bearer(h);
    if (!tok) {
        ok({ ok: false, error: 'not_authed' });
        return;
    }
    if (tok !== fake.secrets.slack) {
        ok({ ok: false, error: 'invalid_auth' });
        return;
    }
    let args = {};
    const mt = mediaType(h);
    if (mt === 'application/json') {
        try {
            args = JSON.parse(rec.body);
        } catch {
            ok({ ok: false, error: 'invalid_json' });
            return;
        }
    } else if (mt === 'application/x-www-form-urlencoded' || rec.body === '') {
        args = Object.fromEntries(formPairs(rec.body));
    } else {
        ok({ ok: false, error: 'invalid_form_data' });
        return;
    }
    if (!args || typeof args !== 'object' || !args.channel) {
        ok({ ok: false, error: 'channel_not_found' });
        return;
    }
    const channel = fake.slack.channels.get(args.channel);
    if (!channel) {
        ok({ ok: false, error: 'channel_not_found' });
        return;
    }
    if (!channel.member) {
        ok({ ok: false, error: 'not_in_channel' });
        return;
    }
    if (!args.text && !args.blocks && !args.attachments) {
        ok({ ok: false, error: 'no_text' });
        return;
    }
    fake.slack.seq += 1;
    const ts = `${1700000000 + fake.slack.seq}.${String(fake.slack.seq).padStart(6, '0')}`;
    const message = {
        user: 'U0FAKEBOT01',
        type: 'message',
        ts,
        bot_id: 'B0FAKEBOT01',
        app_id: 'A0FAKEAPP01',
        text: args.text || '',
        team: 'T0FAKETEAM1',
        bot_profile: { id: 'B0FAKEBOT01', app_id: 'A0FAKEAPP01', name: 'mandate', deleted: false, team_id: 'T0FAKETEAM1' },
        ...(args.blocks ? { blocks: args.blocks } : {}),
        ...(args.thread_ts ? { thread_ts: args.thread_ts, parent_user_id: 'U0FAKEUSER1' } : {}),
    };
    fake.slack.messages.push({ channel: args.channel, ...message });
    // A JSON body without "; charset=utf-8" works, with a warning (https://api.slack.com/web#posting_json).
    const warn = mt === 'application/json' && !/charset\s*=\s*utf-8/i.test(h['content-type'] || '');
    ok({
        ok: true,
        channel: args.channel,
        ts,
        message,
        ...(warn ? { warning: 'missing_charset', response_metadata: { warnings: ['missing_charset'] } } : {}),
    });
}

/* ---- Salesforce ---- */

function oauthError(res, status, error, description, headers = {}) {
    send(res, status, { error, error_description: description }, { 'Cache-Control': 'no-store', Pragma: 'no-cache', ...headers });
}

function salesforceToken(fake, rec, res) {
    const h = rec.headers;
    if (rec.method !== 'POST') {
        oauthError(res, 400, 'invalid_request', 'must use HTTP POST');
        return;
    }
    if (mediaType(h) !== 'application/x-www-form-urlencoded') {
        oauthError(res, 400, 'invalid_request', 'unsupported content type');
        return;
    }
    const pairs = formPairs(rec.body);
    const form = {};
    for (const [k, v] of pairs) {
        // RFC 6749 3.2: request parameters MUST NOT be included more than once.
        if (k in form) {
            oauthError(res, 400, 'invalid_request', `duplicate parameter ${k}`);
            return;
        }
        form[k] = v;
    }
    if (form.grant_type !== 'client_credentials') {
        oauthError(res, 400, form.grant_type ? 'unsupported_grant_type' : 'invalid_request',
            form.grant_type ? 'grant type not supported' : 'grant_type is required');
        return;
    }
    // RFC 6749 2.3.1: HTTP Basic with the form-urlencoded client id and secret, or (MAY) both
    // in the body; a client MUST NOT use more than one method.
    const b = basic(h);
    const inBody = 'client_id' in form || 'client_secret' in form;
    if (b && inBody) {
        oauthError(res, 400, 'invalid_request', 'more than one client authentication method');
        return;
    }
    let id;
    let secret;
    if (b) {
        try {
            id = decodeURIComponent(b.user.replace(/\+/g, ' '));
            secret = decodeURIComponent(b.pass.replace(/\+/g, ' '));
        } catch {
            id = null;
        }
    } else {
        id = form.client_id;
        secret = form.client_secret;
    }
    const want = fake.secrets.salesforce;
    if (id !== want.client_id || secret !== want.client_secret) {
        if (b) oauthError(res, 401, 'invalid_client', 'invalid client credentials', { 'WWW-Authenticate': 'Basic realm="salesforce"' });
        else oauthError(res, 400, 'invalid_client', 'invalid client credentials');
        return;
    }
    const sf = fake.salesforce;
    const n = sf.nextToken++;
    const token = `00DFAKE000000000001!AQ4AQ.issued.${n}.${Math.random().toString(36).slice(2, 12)}`;
    const expiresIn = fake.opts.salesforce && fake.opts.salesforce.expiresIn;
    sf.tokens.set(token, { n, client: b ? 'basic' : 'body', expires: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    const issuedAt = String(Date.now());
    send(res, 200, {
        access_token: token,
        signature: Buffer.from(`sig-${n}-${issuedAt}`).toString('base64'),
        scope: 'api',
        instance_url: fake.url,
        id: `${fake.url}/id/00DFAKE000000000001/005FAKE00000000001`,
        token_type: 'Bearer',
        issued_at: issuedAt,
        ...(expiresIn ? { expires_in: expiresIn } : {}),
    }, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

function salesforceData(fake, rec, res) {
    const tok = bearer(rec.headers);
    const sf = fake.salesforce;
    const t = tok && sf.tokens.get(tok);
    const valid = tok && (tok === fake.secrets.salesforce.token || (t && t.expires > Date.now()));
    if (!valid) {
        send(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }],
            { 'WWW-Authenticate': 'Token' });
        return;
    }
    const m = /^\/services\/data\/v60\.0\/sobjects\/Opportunity\/([A-Za-z0-9]+)$/.exec(rec.pathname);
    if (!m || rec.method !== 'GET') {
        send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
        return;
    }
    const opp = sf.opportunities.get(m[1]);
    if (!opp) {
        send(res, 404, [{ errorCode: 'NOT_FOUND', message: 'The requested resource does not exist' }]);
        return;
    }
    const fields = new URLSearchParams(rec.query).get('fields');
    if (!fields) {
        send(res, 200, opp);
        return;
    }
    const out = { attributes: opp.attributes };
    for (const f of fields.split(',')) {
        if (!(f in opp)) {
            send(res, 400, [{ message: `\nNo such column '${f}' on entity 'Opportunity'.`, errorCode: 'INVALID_FIELD' }]);
            return;
        }
        out[f] = opp[f];
    }
    send(res, 200, out);
}

/* ---- Jira and Datadog (the basic and API-key schemes) ---- */

function jira(fake, rec, res) {
    const b = basic(rec.headers);
    const want = fake.secrets.jira;
    if (!b || b.user !== want.username || b.pass !== want.password) {
        send(res, 401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} },
            { 'WWW-Authenticate': 'Basic realm="protected-area"' });
        return;
    }
    const m = /^\/rest\/api\/3\/issue\/([A-Z][A-Z0-9]+-\d+)$/.exec(rec.pathname);
    if (!m || rec.method !== 'GET') {
        send(res, 404, { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
        return;
    }
    const key = m[1];
    send(res, 200, {
        expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
        id: '10002',
        self: `${fake.url}/rest/api/3/issue/10002`,
        key,
        fields: {
            summary: 'Login fails with SSO',
            status: { name: 'In Progress', id: '3', statusCategory: { key: 'indeterminate', name: 'In Progress' } },
            issuetype: { name: 'Bug', id: '10004' },
            project: { key: key.split('-')[0], id: '10000', name: 'Engineering' },
        },
    });
}

function datadog(fake, rec, res) {
    const h = rec.headers;
    const want = fake.secrets.datadog;
    if (h['dd-api-key'] !== want['DD-API-KEY'] || h['dd-application-key'] !== want['DD-APPLICATION-KEY']) {
        send(res, 403, { errors: ['Forbidden'] }, { 'Content-Type': 'application/json' });
        return;
    }
    const m = /^\/api\/v1\/monitor\/(\d+)$/.exec(rec.pathname);
    if (!m || rec.method !== 'GET') {
        send(res, 404, { errors: ['Monitor not found'] }, { 'Content-Type': 'application/json' });
        return;
    }
    send(res, 200, {
        id: Number(m[1]),
        name: 'High error rate on checkout',
        type: 'query alert',
        query: 'avg(last_5m):avg:trace.http.request.errors{service:checkout} > 0.05',
        message: 'Checkout errors above 5% @slack-oncall',
        overall_state: 'OK',
        tags: ['service:checkout', 'team:payments'],
        options: { thresholds: { critical: 0.05 }, notify_no_data: false },
    }, { 'Content-Type': 'application/json' });
}

/* ---- the server ---- */

async function slow(fake, rec, res) {
    const ms = Math.min(Math.max(Number(new URLSearchParams(rec.query).get('ms')) || 0, 0), 60000);
    await new Promise((r) => setTimeout(r, ms));
    send(res, 200, { slept_ms: ms });
}

function route(fake, rec, res) {
    const p = rec.pathname;
    if (p === '/slow') return slow(fake, rec, res);
    if (p.startsWith('/repos/')) return github(fake, rec, res);
    if (p.startsWith('/v1/')) return stripe(fake, rec, res);
    if (p.startsWith('/api/v1/monitor')) return datadog(fake, rec, res);
    if (p.startsWith('/api/')) return slack(fake, rec, res);
    if (p === '/services/oauth2/token') return salesforceToken(fake, rec, res);
    if (p.startsWith('/services/data/')) return salesforceData(fake, rec, res);
    if (p.startsWith('/rest/api/')) return jira(fake, rec, res);
    send(res, 404, { message: 'Not Found' });
    return undefined;
}

/*
 * Starts the fake on 127.0.0.1 (an ephemeral port unless opts.port). opts.secrets overrides
 * DEFAULT_SECRETS per vendor; opts.record false keeps no requests (load tests: counts only);
 * opts.salesforce.expiresIn makes the token endpoint send expires_in (seconds) and the issued
 * tokens expire after it.
 *
 * Returns the fake:
 *   url, port            http://127.0.0.1:PORT
 *   requests             every request in arrival order: {method, path (the raw request target,
 *                        query included), pathname, query (raw, without '?'), headers (names
 *                        lower-cased, repeated ones joined with ", " as node does), rawHeaders
 *                        ([name, value, ...] as sent), body (the raw body as a string), time}
 *   count, inFlight, maxInFlight
 *   secrets              what the fake accepts (copy of DEFAULT_SECRETS with opts.secrets)
 *   baseUrls             the base_url each catalog connector needs to reach the fake
 *   credentials          the credential JSON each connector's auth needs (for PUT .../credential)
 *   github, stripe, slack, salesforce   the vendors' data, to inspect or change
 *   setHandler(fn|null)  fn(rec, res, fake) answers everything instead of the routes
 *   reset()              forgets the recorded requests and the in-flight maximum
 *   waitFor(n, ms)       resolves once n requests have arrived (rejects after ms, default 5000)
 *   close()              stops the server, cutting open connections
 */
export async function startFakeUpstream(opts = {}) {
    const secrets = {
        ...DEFAULT_SECRETS,
        ...(opts.secrets || {}),
    };
    const fake = {
        opts,
        url: '',
        port: 0,
        requests: [],
        count: 0,
        inFlight: 0,
        maxInFlight: 0,
        secrets,
        github: seedGithub(),
        stripe: seedStripe(),
        slack: {
            channels: new Map([
                ['C0123456789', { name: 'general', member: true }],
                ['C0FAKEOUT01', { name: 'secret-plans', member: false }],
            ]),
            messages: [],
            seq: 0,
        },
        salesforce: seedSalesforce(),
        handler: null,
        waiters: [],
        setHandler(fn) {
            this.handler = fn || null;
        },
        reset() {
            this.requests.length = 0;
            this.count = 0;
            this.maxInFlight = this.inFlight;
        },
        waitFor(n, ms = 5000) {
            if (this.count >= n) return Promise.resolve(this.requests);
            return new Promise((resolve, reject) => {
                const w = { n, resolve };
                w.timer = setTimeout(() => {
                    this.waiters = this.waiters.filter((x) => x !== w);
                    reject(new Error(`fake upstream: ${this.count} requests after ${ms} ms, wanted ${n}`));
                }, ms);
                this.waiters.push(w);
            });
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
        fake.inFlight += 1;
        fake.maxInFlight = Math.max(fake.maxInFlight, fake.inFlight);
        let done = false;
        const finish = () => {
            if (!done) {
                done = true;
                fake.inFlight -= 1;
            }
        };
        res.on('close', finish);
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
            const q = req.url.indexOf('?');
            const rec = {
                method: req.method,
                path: req.url,
                pathname: q < 0 ? req.url : req.url.slice(0, q),
                query: q < 0 ? '' : req.url.slice(q + 1),
                headers: { ...req.headers },
                rawHeaders: [...req.rawHeaders],
                httpVersion: req.httpVersion,
                body: Buffer.concat(chunks).toString('utf8'),
                time: Date.now(),
            };
            if (opts.record !== false) fake.requests.push(rec);
            fake.count += 1;
            for (const w of fake.waiters.filter((x) => fake.count >= x.n)) {
                clearTimeout(w.timer);
                fake.waiters = fake.waiters.filter((x) => x !== w);
                w.resolve(fake.requests);
            }
            try {
                if (fake.handler) await fake.handler(rec, res, fake);
                else await route(fake, rec, res);
            } catch (err) {
                if (!res.headersSent) send(res, 500, { message: `fake upstream: ${err.message}` });
                else res.destroy();
            }
        });
    });
    // Load tests open a thousand connections at once: a deep accept queue, no per-server cap.
    server.maxHeadersCount = 200;
    server.requestTimeout = 0;
    server.keepAliveTimeout = 30000;
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: opts.port || 0, backlog: 4096 }, resolve);
    });
    fake.port = server.address().port;
    fake.url = `http://127.0.0.1:${fake.port}`;
    fake.server = server;
    // The catalog's base URLs keep the vendors' path prefixes (Slack's /api, Sentry's /api/0).
    fake.baseUrls = {
        github: fake.url,
        stripe: fake.url,
        slack: `${fake.url}/api`,
        salesforce: fake.url,
        jira: fake.url,
        zendesk: fake.url,
        datadog: fake.url,
        sentry: `${fake.url}/api/0`,
    };
    fake.credentials = {
        github: { token: secrets.github },
        stripe: { token: secrets.stripe },
        slack: { token: secrets.slack },
        // The catalog's Salesforce authenticates with OAuth 2.0 client credentials.
        salesforce: { client_id: secrets.salesforce.client_id, client_secret: secrets.salesforce.client_secret },
        jira: { username: secrets.jira.username, password: secrets.jira.password },
        datadog: { ...secrets.datadog },
    };
    fake.tokenUrl = `${fake.url}/services/oauth2/token`;
    return fake;
}
