// A fake of the Salesforce REST API (version 60.0) for the catalog's salesforce connector, per
// the REST API Developer Guide (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
// api_rest/) and the Object Reference for the fields of Opportunity, Task and Event:
//
//   POST /services/oauth2/token            OAuth 2.0 client credentials flow for a connected
//        app ("OAuth 2.0 Client Credentials Flow for Server-to-Server Integration"): a form body
//        with grant_type=client_credentials, client_id and client_secret (the connector sends
//        them in the body: client_auth "post"). Errors per RFC 6749 5.2: {"error",
//        "error_description"}.
//   GET  /services/data/v60.0/query?q=SOQL                     "Execute a SOQL Query"
//   GET  /services/data/v60.0/sobjects/Opportunity/{id}?fields  "Get Field Values from a
//        Standard Object Record"
//   PATCH /services/data/v60.0/sobjects/Opportunity/{id}       "Update a Record": 204, no body
//   POST /services/data/v60.0/sobjects/{Task|Event|Opportunity}  "Create a Record": 201
//        {"id", "success": true, "errors": []}
//   POST /services/data/v60.0/parameterizedSearch/  "Search with Parameters in the Request
//        Body": {"searchRecords": [...]}
//
// Every data call needs "Authorization: Bearer <access token>" from the token endpoint, else 401
// [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]. Errors are a
// JSON array of {"message", "errorCode", "fields"?} ("Status Codes and Error Responses"):
// NOT_FOUND (404), MALFORMED_QUERY, INVALID_FIELD, REQUIRED_FIELD_MISSING, JSON_PARSER_ERROR,
// INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST (400), UNSUPPORTED_MEDIA_TYPE (415).
//
// The SOQL reader understands what the contract cases send: SELECT fields FROM object, an
// optional WHERE of "field = value" terms joined by AND, ORDER BY (ignored) and LIMIT.
// Anything else is answered as Salesforce answers a query it cannot parse (MALFORMED_QUERY), so a
// case cannot pass on a query the fake did not really evaluate.

import assert from 'node:assert/strict';

import { formPairs, mediaType, send, bearer, queryOf } from './lib.mjs';

export const connector = 'salesforce';

export const credential = {
    client_id: '3MVG9ContractFakeConsumerKey.salesforce',
    client_secret: 'CONTRACT0FAKE0SALESFORCE0SECRET',
};

const V = '/services/data/v60.0';

/* The fields each object has in this fake's org ("describe"), beyond Id. */
const FIELDS = {
    Opportunity: ['Name', 'StageName', 'Amount', 'CloseDate', 'Probability', 'NextStep', 'Description',
        'ForecastCategoryName', 'AccountId', 'OwnerId', 'IsClosed', 'Type', 'LeadSource'],
    Account: ['Name', 'Industry', 'OwnerId'],
    Contact: ['Name', 'FirstName', 'LastName', 'Email', 'AccountId', 'OwnerId'],
    Task: ['Subject', 'Description', 'WhatId', 'WhoId', 'ActivityDate', 'Status', 'Priority', 'TaskSubtype',
        'OwnerId'],
    Event: ['Subject', 'StartDateTime', 'EndDateTime', 'DurationInMinutes', 'ActivityDateTime', 'Location',
        'Description', 'WhatId', 'WhoId', 'Type', 'ShowAs', 'OwnerId'],
};

/* The org's restricted picklists. */
const STAGES = ['Prospecting', 'Qualification', 'Needs Analysis', 'Value Proposition', 'Id. Decision Makers',
    'Perception Analysis', 'Proposal/Price Quote', 'Negotiation/Review', 'Closed Won', 'Closed Lost'];
const PREFIX = { Opportunity: '006', Account: '001', Contact: '003', Task: '00T', Event: '00U' };

function record(type, fields) {
    return { attributes: { type, url: `${V}/sobjects/${type}/${fields.Id}` }, ...fields };
}

export function seed() {
    const records = new Map();
    const add = (type, fields) => records.set(fields.Id, record(type, fields));
    add('Account', { Id: '001Dn00000Xy1zAIAR', Name: 'Acme Corporation', Industry: 'Manufacturing', OwnerId: '005Dn000001OwnerA' });
    add('Contact', {
        Id: '003Dn00000Jd0eAIAR', Name: 'Jane Doe', FirstName: 'Jane', LastName: 'Doe', Email: 'jane.doe@acme.example',
        AccountId: '001Dn00000Xy1zAIAR', OwnerId: '005Dn000001OwnerA',
    });
    add('Opportunity', {
        Id: '006Dn00000A1b2cIAB', Name: 'Acme - 200 Widgets', StageName: 'Prospecting', Amount: 15000,
        CloseDate: '2025-12-31', Probability: 10, NextStep: null, Description: null, ForecastCategoryName: 'Pipeline',
        AccountId: '001Dn00000Xy1zAIAR', OwnerId: '005Dn000001OwnerA', IsClosed: false, Type: 'New Customer',
        LeadSource: 'Web',
    });
    add('Opportunity', {
        Id: '006Dn00000Q9r8sIAB', Name: 'Globex - Renewal 2025', StageName: 'Closed Won', Amount: 48000,
        CloseDate: '2025-01-15', Probability: 100, NextStep: null, Description: null, ForecastCategoryName: 'Closed',
        AccountId: '001Dn00000Gx7yAIAR', OwnerId: '005Dn000001OwnerA', IsClosed: true, Type: 'Existing Customer - Upgrade',
        LeadSource: 'Partner Referral',
    });
    return { records, tokens: new Set(), next: 1 };
}

/* Salesforce's error body: a JSON array of error objects. */
function sfError(res, status, errorCode, message, fields) {
    send(res, status, [{ message, errorCode, ...(fields ? { fields } : {}) }]);
}

function newId(fake, type) {
    const n = String(fake.data.next++).padStart(9, '0');
    return `${PREFIX[type]}Dn${n}FAKE`.slice(0, 15) + 'IAB';
}

function token(fake, rec, res) {
    if (rec.method !== 'POST') return send(res, 400, { error: 'invalid_request', error_description: 'must use HTTP POST' });
    if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded')
        return send(res, 400, { error: 'invalid_request', error_description: 'unsupported content type' });
    const form = Object.fromEntries(formPairs(rec.body));
    if (form.grant_type !== 'client_credentials')
        return send(res, 400, { error: 'unsupported_grant_type', error_description: 'grant type not supported' });
    if (form.client_id !== credential.client_id || form.client_secret !== credential.client_secret)
        return send(res, 400, { error: 'invalid_client', error_description: 'invalid client credentials' });
    const access = `00DContractFake!AQ.${fake.data.next++}.${Math.random().toString(36).slice(2, 10)}`;
    fake.data.tokens.add(access);
    return send(res, 200, {
        access_token: access,
        signature: Buffer.from(`sig-${access}`).toString('base64'),
        scope: 'api',
        instance_url: fake.url,
        id: `${fake.url}/id/00DContractFake000/005Dn000001OwnerA`,
        token_type: 'Bearer',
        issued_at: String(Date.now()),
    }, { 'Cache-Control': 'no-store' });
}

/* The JSON body of a create, update or search, or undefined after answering the error. */
function body(rec, res) {
    if (mediaType(rec.headers) !== 'application/json') {
        sfError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${rec.headers['content-type'] || '(none)'} is not supported`);
        return undefined;
    }
    try {
        const v = JSON.parse(rec.body);
        if (v && typeof v === 'object' && !Array.isArray(v)) return v;
    } catch {
        // Falls through to Salesforce's parser error.
    }
    sfError(res, 400, 'JSON_PARSER_ERROR', 'Unexpected character: was expecting a JSON object');
    return undefined;
}

/* Checks the fields of a create or update against the object; answers and returns false if bad. */
function checkFields(type, fields, res) {
    for (const k of Object.keys(fields)) {
        if (!FIELDS[type].includes(k)) {
            sfError(res, 400, 'INVALID_FIELD', `No such column '${k}' on sobject of type ${type}`, [k]);
            return false;
        }
    }
    if ('StageName' in fields && !STAGES.includes(fields.StageName)) {
        sfError(res, 400, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST',
            `Stage: bad value for restricted picklist field: ${fields.StageName}`, ['StageName']);
        return false;
    }
    return true;
}

const REQUIRED = {
    Opportunity: (f) => ['Name', 'StageName', 'CloseDate'].filter((k) => f[k] == null),
    Task: () => [],
    // Object Reference, Event.EndDateTime: "If IsAllDayEvent is false, a value must be supplied for
    // either DurationInMinutes or EndDateTime"; the start is ActivityDateTime (or StartDateTime).
    Event: (f) => [
        ...(f.StartDateTime == null && f.ActivityDateTime == null ? ['ActivityDateTime'] : []),
        ...(f.EndDateTime == null && f.DurationInMinutes == null ? ['DurationInMinutes'] : []),
    ],
};

function create(fake, type, rec, res) {
    const f = body(rec, res);
    if (!f || !checkFields(type, f, res)) return;
    const missing = REQUIRED[type](f);
    if (missing.length) return sfError(res, 400, 'REQUIRED_FIELD_MISSING', `Required fields are missing: [${missing.join(', ')}]`, missing);
    const id = newId(fake, type);
    fake.data.records.set(id, record(type, { Id: id, ...f }));
    return send(res, 201, { id, success: true, errors: [] });
}

/* A SOQL literal: 'string', true/false, null, a number, or a date (unquoted). */
function literal(s) {
    if (/^'.*'$/.test(s)) return s.slice(1, -1).replace(/\\'/g, "'");
    if (/^(true|false)$/i.test(s)) return s.toLowerCase() === 'true';
    if (/^null$/i.test(s)) return null;
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    return s;
}

function soql(fake, rec, res) {
    const q = queryOf(rec).q;
    if (!q) return sfError(res, 400, 'MALFORMED_QUERY', 'A query string has to be specified');
    const m = /^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+[\w.,\s]+?(?:\s+(?:ASC|DESC))?)?(?:\s+LIMIT\s+(\d+))?\s*$/i.exec(q);
    if (!m) return sfError(res, 400, 'MALFORMED_QUERY', `unexpected token in: ${q}`);
    const [, fieldList, type, where, limit] = m;
    if (!FIELDS[type]) return sfError(res, 400, 'INVALID_TYPE', `sObject type '${type}' is not supported.`);
    const fields = fieldList.split(',').map((s) => s.trim());
    for (const f of fields) {
        if (f !== 'Id' && !FIELDS[type].includes(f))
            return sfError(res, 400, 'INVALID_FIELD', `No such column '${f}' on entity '${type}'.`);
    }
    const terms = [];
    for (const t of where ? where.split(/\s+AND\s+/i) : []) {
        const tm = /^\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|[\w.:+-]+)\s*$/.exec(t);
        if (!tm) return sfError(res, 400, 'MALFORMED_QUERY', `unexpected token: '${t.trim()}'`);
        terms.push([tm[1], literal(tm[2])]);
    }
    let rows = [...fake.data.records.values()].filter((r) => r.attributes.type === type)
        .filter((r) => terms.every(([k, v]) => r[k] === v));
    if (limit) rows = rows.slice(0, Number(limit));
    const records = rows.map((r) => {
        const out = { attributes: r.attributes };
        for (const f of fields) out[f] = r[f] === undefined ? null : r[f];
        return out;
    });
    return send(res, 200, { totalSize: records.length, done: true, records });
}

function opportunity(fake, id, rec, res) {
    const r = fake.data.records.get(id);
    if (!r || r.attributes.type !== 'Opportunity')
        return sfError(res, 404, 'NOT_FOUND', 'The requested resource does not exist');
    if (rec.method === 'GET') {
        const fields = queryOf(rec).fields;
        if (!fields) return send(res, 200, r);
        const out = { attributes: r.attributes };
        for (const f of fields.split(',')) {
            if (f !== 'Id' && !FIELDS.Opportunity.includes(f))
                return sfError(res, 400, 'INVALID_FIELD', `No such column '${f}' on entity 'Opportunity'.`);
            out[f] = r[f];
        }
        return send(res, 200, out);
    }
    if (rec.method === 'PATCH') {
        const f = body(rec, res);
        if (!f || !checkFields('Opportunity', f, res)) return undefined;
        Object.assign(r, f);
        res.writeHead(204);
        res.end();
        return undefined;
    }
    return sfError(res, 405, 'METHOD_NOT_ALLOWED', `HTTP Method '${rec.method}' not allowed. Allowed are GET,PATCH,HEAD,DELETE`);
}

/* Parameterized search: whole words and prefixes (a trailing *) of the text fields. */
function search(fake, rec, res) {
    const b = body(rec, res);
    if (!b) return undefined;
    if (typeof b.q !== 'string' || b.q.trim().length < 2)
        return sfError(res, 400, 'INVALID_SEARCH', 'search term must be longer than one character');
    const want = (b.sobjects || Object.keys(FIELDS).map((name) => ({ name })));
    for (const s of want) {
        if (!FIELDS[s.name]) return sfError(res, 400, 'INVALID_TYPE', `sObject type '${s.name}' is not supported.`);
        for (const f of s.fields || b.fields || []) {
            if (f.toLowerCase() !== 'id' && !FIELDS[s.name].includes(f))
                return sfError(res, 400, 'INVALID_FIELD', `No such column '${f}' on entity '${s.name}'.`);
        }
    }
    const words = b.q.toLowerCase().split(/\s+/);
    const hit = (r) => words.every((w) => Object.values(r).some((v) => typeof v === 'string' &&
        v.toLowerCase().split(/[^a-z0-9@.]+/).some((t) => (w.endsWith('*') ? t.startsWith(w.slice(0, -1)) : t === w))));
    const out = [];
    for (const s of want) {
        const rows = [...fake.data.records.values()].filter((r) => r.attributes.type === s.name && hit(r))
            .slice(0, s.limit || 2000);
        for (const r of rows) {
            const o = { attributes: r.attributes, Id: r.Id };
            for (const f of s.fields || b.fields || []) if (f.toLowerCase() !== 'id') o[f] = r[f] ?? null;
            out.push(o);
        }
    }
    return send(res, 200, { searchRecords: out.slice(0, b.overallLimit || 2000) });
}

export function handle(fake, rec, res) {
    const p = rec.pathname;
    if (p === '/services/oauth2/token') return token(fake, rec, res);
    if (!p.startsWith('/services/data/')) return undefined;
    const tok = bearer(rec.headers);
    if (!tok || !fake.data.tokens.has(tok))
        return send(res, 401, [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }]);
    if (p === `${V}/query` && rec.method === 'GET') return soql(fake, rec, res);
    if (p === `${V}/parameterizedSearch/` && rec.method === 'POST') return search(fake, rec, res);
    let m = /^\/services\/data\/v60\.0\/sobjects\/Opportunity\/([A-Za-z0-9]{15,18})$/.exec(p);
    if (m) return opportunity(fake, m[1], rec, res);
    m = /^\/services\/data\/v60\.0\/sobjects\/(Task|Event|Opportunity)$/.exec(p);
    if (m && rec.method === 'POST') return create(fake, m[1], rec, res);
    return sfError(res, 404, 'NOT_FOUND', 'The requested resource does not exist');
}

const OPP = '006Dn00000A1b2cIAB';

export const cases = {
    soql_query: {
        args: { q: "SELECT Id, Name, StageName, Amount FROM Opportunity WHERE IsClosed = false LIMIT 50" },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `${V}/query`);
            assert.equal(queryOf(rec).q, "SELECT Id, Name, StageName, Amount FROM Opportunity WHERE IsClosed = false LIMIT 50");
            assert.match(rec.headers.authorization, /^Bearer 00DContractFake!/);
            const sc = result.structuredContent;
            assert.equal(sc.done, true);
            assert.deepEqual(sc.records.map((r) => r.Id), [OPP], 'only the open opportunity matches');
            assert.equal(sc.records[0].StageName, 'Prospecting');
        },
    },
    get_opportunity: {
        args: { id: OPP, fields: 'Name,StageName,Amount,CloseDate' },
        check(rec, result) {
            assert.equal(rec.method, 'GET');
            assert.equal(rec.pathname, `${V}/sobjects/Opportunity/${OPP}`);
            assert.equal(queryOf(rec).fields, 'Name,StageName,Amount,CloseDate');
            assert.equal(result.structuredContent.Name, 'Acme - 200 Widgets');
            assert.equal(result.structuredContent.Amount, 15000);
            assert.equal(result.structuredContent.Probability, undefined, 'only the fields asked for');
        },
    },
    update_opportunity: {
        args: { id: OPP, StageName: 'Negotiation/Review', Amount: 18500.5, NextStep: 'Send the revised quote' },
        check(rec, result, fake) {
            assert.equal(rec.method, 'PATCH');
            assert.equal(rec.pathname, `${V}/sobjects/Opportunity/${OPP}`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { StageName: 'Negotiation/Review', Amount: 18500.5, NextStep: 'Send the revised quote' },
                'the id stays in the path, not in the body');
            assert.match(result.content[0].text, /204/);
            assert.equal(fake.data.records.get(OPP).StageName, 'Negotiation/Review');
        },
    },
    log_activity: {
        args: {
            Subject: 'Call with Jane Doe: pricing follow-up', Description: 'She wants a 3-year term.', WhatId: OPP,
            WhoId: '003Dn00000Jd0eAIAR', ActivityDate: '2025-03-14', Status: 'Completed', TaskSubtype: 'Call',
        },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `${V}/sobjects/Task`);
            const b = JSON.parse(rec.body);
            assert.equal(b.Subject, 'Call with Jane Doe: pricing follow-up');
            assert.equal(b.TaskSubtype, 'Call');
            assert.equal(b.WhatId, OPP);
            const sc = result.structuredContent;
            assert.equal(sc.success, true);
            assert.match(sc.id, /^00T/);
            assert.equal(fake.data.records.get(sc.id).Status, 'Completed');
        },
    },
    search: {
        args: { q: 'Acme', sobjects: [{ name: 'Opportunity', fields: ['Id', 'Name', 'StageName'], limit: 10 }, { name: 'Account', fields: ['Name'] }] },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `${V}/parameterizedSearch/`);
            assert.equal(mediaType(rec.headers), 'application/json');
            const b = JSON.parse(rec.body);
            assert.equal(b.q, 'Acme');
            assert.equal(b.sobjects[0].name, 'Opportunity');
            const got = result.structuredContent.searchRecords.map((r) => `${r.attributes.type}:${r.Id}`);
            assert.deepEqual(got, [`Opportunity:${OPP}`, 'Account:001Dn00000Xy1zAIAR'], 'Globex does not match');
        },
    },
    create_opportunity: {
        args: { Name: 'Acme - Expansion', StageName: 'Qualification', CloseDate: '2025-09-30', AccountId: '001Dn00000Xy1zAIAR', Amount: 30000 },
        check(rec, result, fake) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `${V}/sobjects/Opportunity`);
            assert.deepEqual(JSON.parse(rec.body), { Name: 'Acme - Expansion', StageName: 'Qualification', CloseDate: '2025-09-30', AccountId: '001Dn00000Xy1zAIAR', Amount: 30000 });
            assert.equal(result.structuredContent.success, true);
            assert.match(result.structuredContent.id, /^006/);
            assert.equal(fake.data.records.get(result.structuredContent.id).Name, 'Acme - Expansion');
        },
    },
    log_event: {
        args: { Subject: 'Demo with Acme', StartDateTime: '2025-03-20T15:00:00Z', DurationInMinutes: 45, WhatId: OPP, Location: 'Zoom' },
        check(rec, result) {
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `${V}/sobjects/Event`);
            const b = JSON.parse(rec.body);
            assert.equal(b.StartDateTime, '2025-03-20T15:00:00Z');
            assert.equal(b.DurationInMinutes, 45);
            assert.equal(result.structuredContent.success, true);
            assert.match(result.structuredContent.id, /^00U/);
        },
    },
};

export const errors = [
    { tool: 'get_opportunity', args: { id: '006Dn00000ZZZZZIAB' }, match: /^Salesforce API error: HTTP 404: NOT_FOUND: The requested resource does not exist$/ },
    { tool: 'update_opportunity', args: { id: OPP, StageName: 'Won' }, match: /HTTP 400: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Stage: bad value for restricted picklist field: Won/ },
    { tool: 'soql_query', args: { q: 'SELECT Id, Nmae FROM Opportunity' }, match: /HTTP 400: INVALID_FIELD: No such column 'Nmae' on entity 'Opportunity'/ },
    { tool: 'log_event', args: { Subject: 'Demo', StartDateTime: '2025-03-20T15:00:00Z' }, match: /HTTP 400: REQUIRED_FIELD_MISSING: Required fields are missing: \[DurationInMinutes\]/ },
];
