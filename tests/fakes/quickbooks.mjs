// A fake of the QuickBooks Online Accounting API for the catalog's quickbooks tools: queries,
// invoices (read and create) and reports of one company, behind Intuit's OAuth 2.0 refresh-token
// grant.
//
// Shapes follow Intuit's developer documentation (https://developer.intuit.com/app/developer/qbo/docs/):
//   token               develop/authentication-and-authorization/oauth-2.0: POST
//                       https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer with HTTP Basic
//                       base64(client_id:client_secret), a form body grant_type=refresh_token&
//                       refresh_token=...; answers {token_type: "bearer", access_token,
//                       expires_in: 3600, refresh_token, x_refresh_token_expires_in}; a bad
//                       refresh token is 400 {"error": "invalid_grant"}
//   base URL            https://quickbooks.api.intuit.com/v3/company/<realmId>, JSON with
//                       Accept: application/json
//   query               develop/explore-the-quickbooks-online-api/data-queries: GET
//                       /v3/company/<realmId>/query?query=<statement> answering {QueryResponse:
//                       {<Entity>: [...], startPosition, maxResults}, time}
//   invoice             api/accounting/all-entities/invoice: GET .../invoice/<id> and POST
//                       .../invoice (CustomerRef and Line required) answering {Invoice, time}
//   reports             api/accounting/report-entities/profitandloss (and the other reports):
//                       GET .../reports/<ReportName>?start_date&end_date&accounting_method
//                       answering {Header, Columns, Rows}
//   errors              develop/troubleshooting/error-codes and handling-common-errors: the
//                       status and {"Fault": {"Error": [{Message, Detail, code, element}], type},
//                       time}, e.g. 400 ValidationFault code 610 "Object Not Found"; an expired
//                       access token is 401 with "AuthenticationFailed" and code 3200

import assert from 'node:assert/strict';

import { basic, bearer, formPairs, jsonBody, mediaType, send } from './lib.mjs';

export const connector = 'quickbooks';

const REALM = '9341453050119512';
export const basePath = `/v3/company/${REALM}`;
const CLIENT_ID = 'ABqbFakeClientIdFinance0123456789abcdefGHIJ';
const CLIENT_SECRET = 'qbFakeClientSecretFinance0123456789abcdef';
const REFRESH = 'AB11795964621FakeRefreshTokenFinance0123456789';
export const credential = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, refresh_token: REFRESH };
// Intuit's token endpoint (https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer), another host
// than the API: a run against this fake points the connector's token URL at this path of it.
export const tokenPath = '/oauth2/v1/tokens/bearer';

export function seed() {
    return {
        customers: [{ Id: '58', DisplayName: 'Acme Corp', Balance: 1250.5, Active: true }],
        items: [{ Id: '1', Name: 'Services', Type: 'Service', UnitPrice: 150 }],
        invoices: [{
            Id: '130', DocNumber: '1037', SyncToken: '0', TxnDate: '2025-02-01', DueDate: '2025-03-03',
            CustomerRef: { value: '58', name: 'Acme Corp' }, TotalAmt: 1250.5, Balance: 1250.5, EmailStatus: 'NotSet',
            Line: [{ Id: '1', LineNum: 1, Amount: 1250.5, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: '1', name: 'Services' } } }],
        }],
        nextInvoice: 131,
        accessTokens: new Set(),
        nextToken: 1,
    };
}

function fault(res, status, type, code, message, detail) {
    send(res, status, { Fault: { Error: [{ Message: message, Detail: detail, code: String(code), element: '' }], type }, time: '2025-03-05T10:00:00.000-08:00' });
}

/* The token endpoint (served by this fake at the path Intuit's token URL has). */
export function token(fake, rec, res) {
    const c = basic(rec.headers);
    if (rec.method !== 'POST' || mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
        send(res, 400, { error: 'invalid_request' });
        return;
    }
    if (!c || c.user !== CLIENT_ID || c.pass !== CLIENT_SECRET) {
        send(res, 401, { error: 'invalid_client' });
        return;
    }
    const form = Object.fromEntries(formPairs(rec.body));
    if (form.grant_type !== 'refresh_token' || form.refresh_token !== REFRESH) {
        send(res, 400, { error: 'invalid_grant' });
        return;
    }
    const t = `eyJlbmMiOiJBMTI4Q0JDLUhTMjU2.qbfake${fake.data.nextToken++}`;
    fake.data.accessTokens.add(t);
    send(res, 200, { token_type: 'bearer', access_token: t, expires_in: 3600, refresh_token: REFRESH, x_refresh_token_expires_in: 8726400 });
}

/* The statements this fake runs: SELECT * FROM <Entity> [WHERE <Field> > '<n>'] [MAXRESULTS n]. */
function runQuery(fake, q) {
    const m = /^\s*SELECT\s+\*\s+FROM\s+(Invoice|Customer|Item)(?:\s+WHERE\s+(\w+)\s*(>|=)\s*'([^']*)')?(?:\s+MAXRESULTS\s+(\d+))?\s*$/i.exec(q);
    if (!m) return null;
    const entity = m[1][0].toUpperCase() + m[1].slice(1).toLowerCase();
    let rows = { Invoice: fake.data.invoices, Customer: fake.data.customers, Item: fake.data.items }[entity];
    if (m[2]) rows = rows.filter((r) => (m[3] === '>' ? Number(r[m[2]]) > Number(m[4]) : String(r[m[2]]) === m[4]));
    const max = m[5] ? Number(m[5]) : 100;
    rows = rows.slice(0, max);
    return { entity, body: { QueryResponse: { [entity]: rows, startPosition: 1, maxResults: rows.length }, time: '2025-03-05T10:00:00.000-08:00' } };
}

export function handle(fake, rec, res) {
    const d = fake.data;
    // Intuit serves the token endpoint on oauth.platform.intuit.com, another host than the API; a
    // run against this fake points the connector's token URL here, under the base path or not.
    if (rec.pathname.endsWith('/oauth2/v1/tokens/bearer')) {
        token(fake, rec, res);
        return;
    }
    if (!rec.pathname.startsWith(basePath + '/')) {
        fault(res, 403, 'AuthorizationFault', 100, 'General Authorization Error', 'ApplicationAuthorizationFailed: The company in the URL is not the one the token was issued for.');
        return;
    }
    if (!d.accessTokens.has(bearer(rec.headers))) {
        fault(res, 401, 'AUTHENTICATION', 3200, 'message=AuthenticationFailed; errorCode=003200; statusCode=401', 'Token expired or invalid');
        return;
    }
    if (rec.headers.accept !== 'application/json') {
        // Without Accept: application/json the API answers XML, which the tools do not expect.
        fault(res, 400, 'ValidationFault', 4000, 'Unsupported Accept header', 'Ask for application/json');
        return;
    }
    const p = rec.pathname.slice(basePath.length);
    const q = new URLSearchParams(rec.query);
    let m;
    if (rec.method === 'GET' && p === '/query') {
        const r = q.get('query') ? runQuery(fake, q.get('query')) : null;
        if (!r) {
            fault(res, 400, 'ValidationFault', 4000, 'Error parsing query', `QueryParserError: Encountered an unexpected token in the query: ${q.get('query')}`);
            return;
        }
        send(res, 200, r.body);
    } else if (rec.method === 'GET' && (m = /^\/invoice\/(\d+)$/.exec(p))) {
        const inv = d.invoices.find((i) => i.Id === m[1]);
        if (!inv) {
            fault(res, 400, 'ValidationFault', 610, 'Object Not Found', `Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.`);
            return;
        }
        send(res, 200, { Invoice: inv, time: '2025-03-05T10:00:00.000-08:00' });
    } else if (rec.method === 'GET' && (m = /^\/reports\/(\w+)$/.exec(p))) {
        if (m[1] !== 'ProfitAndLoss') {
            fault(res, 400, 'ValidationFault', 2020, 'Report not supported by this fake', m[1]);
            return;
        }
        send(res, 200, {
            Header: { ReportName: 'ProfitAndLoss', StartPeriod: q.get('start_date'), EndPeriod: q.get('end_date'), ReportBasis: q.get('accounting_method') || 'Accrual', Currency: 'USD' },
            Columns: { Column: [{ ColTitle: '', ColType: 'Account' }, { ColTitle: 'Total', ColType: 'Money' }] },
            Rows: { Row: [
                { type: 'Section', group: 'Income', Header: { ColData: [{ value: 'Income' }, { value: '' }] }, Summary: { ColData: [{ value: 'Total Income' }, { value: '1250.50' }] } },
                { type: 'Section', group: 'NetIncome', Summary: { ColData: [{ value: 'Net Income' }, { value: '1250.50' }] } },
            ] },
        });
    } else if (rec.method === 'POST' && p === '/invoice') {
        const body = jsonBody(rec, res, { Fault: { Error: [{ Message: 'Request has invalid or unsupported property', Detail: 'Property Name:Can not parse JSON', code: '2010' }], type: 'ValidationFault' } });
        if (body === undefined) return;
        if (!body.CustomerRef?.value || !Array.isArray(body.Line) || body.Line.length === 0) {
            fault(res, 400, 'ValidationFault', 2020, 'Required param missing, need to supply the required value for the API', 'Required parameter Line and CustomerRef are missing in the request');
            return;
        }
        const cust = d.customers.find((c) => c.Id === body.CustomerRef.value);
        if (!cust) {
            fault(res, 400, 'ValidationFault', 610, 'Object Not Found', `Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.`);
            return;
        }
        const total = body.Line.reduce((s, l) => s + Number(l.Amount || 0), 0);
        const inv = {
            ...body, Id: String(d.nextInvoice), DocNumber: body.DocNumber || String(1000 + d.nextInvoice - 93), SyncToken: '0',
            CustomerRef: { value: cust.Id, name: cust.DisplayName }, TotalAmt: total, Balance: total, EmailStatus: 'NotSet',
        };
        d.nextInvoice += 1;
        d.invoices.push(inv);
        send(res, 200, { Invoice: inv, time: '2025-03-05T10:00:00.000-08:00' });
    } else {
        fault(res, 400, 'ValidationFault', 4000, 'Unsupported Operation', `Operation ${rec.method} ${p} is not supported.`);
    }
}

function apiRequest(rec, fake, method, path) {
    assert.ok(fake.data.accessTokens.has(bearer(rec.headers)), `Authorization: ${rec.headers.authorization}`);
    const token = fake.requests.find((r) => r.pathname.endsWith('/oauth2/v1/tokens/bearer'));
    if (token) {
        // The call that fetched the access token: the app in HTTP Basic, the refresh-token grant.
        assert.equal(token.headers.authorization, `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`);
        assert.deepEqual(Object.fromEntries(new URLSearchParams(token.body)), { grant_type: 'refresh_token', refresh_token: REFRESH });
    }
    assert.equal(rec.headers.accept, 'application/json');
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, `${basePath}${path}`);
}

export const cases = {
    query: {
        args: { query: "SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 10" },
        check(rec, result, fake) {
            apiRequest(rec, fake, 'GET', '/query');
            assert.equal(new URLSearchParams(rec.query).get('query'), "SELECT * FROM Invoice WHERE Balance > '0' MAXRESULTS 10");
            assert.deepEqual(result.structuredContent.QueryResponse.Invoice.map((i) => i.DocNumber), ['1037']);
        },
    },
    get_invoice: {
        args: { invoice_id: '130' },
        check(rec, result, fake) {
            apiRequest(rec, fake, 'GET', '/invoice/130');
            assert.equal(rec.query, '');
            assert.equal(result.structuredContent.Invoice.Balance, 1250.5);
        },
    },
    get_report: {
        args: { report: 'ProfitAndLoss', start_date: '2025-01-01', end_date: '2025-03-31', accounting_method: 'Cash' },
        check(rec, result, fake) {
            apiRequest(rec, fake, 'GET', '/reports/ProfitAndLoss');
            assert.equal(rec.query, 'start_date=2025-01-01&end_date=2025-03-31&accounting_method=Cash');
            assert.equal(result.structuredContent.Header.ReportBasis, 'Cash');
            assert.equal(result.structuredContent.Rows.Row.at(-1).Summary.ColData[1].value, '1250.50');
        },
    },
    create_invoice: {
        args: {
            CustomerRef: { value: '58' },
            Line: [{ DetailType: 'SalesItemLineDetail', Amount: 300, Description: 'March retainer', SalesItemLineDetail: { ItemRef: { value: '1' }, Qty: 2, UnitPrice: 150 } }],
            DueDate: '2025-04-15',
        },
        check(rec, result, fake) {
            apiRequest(rec, fake, 'POST', '/invoice');
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), {
                CustomerRef: { value: '58' },
                Line: [{ DetailType: 'SalesItemLineDetail', Amount: 300, Description: 'March retainer', SalesItemLineDetail: { ItemRef: { value: '1' }, Qty: 2, UnitPrice: 150 } }],
                DueDate: '2025-04-15',
            });
            const inv = result.structuredContent.Invoice;
            assert.equal(inv.TotalAmt, 300);
            assert.equal(inv.CustomerRef.name, 'Acme Corp');
            assert.ok(fake.data.invoices.some((i) => i.Id === inv.Id));
        },
    },
};

export const errors = [
    // Fault.Error[0]: its Detail repeats its Message and says more, so the Detail stands for both;
    // its code follows (the connector's response.error).
    {
        tool: 'get_invoice', args: { invoice_id: '999' },
        match: /^quickbooks API error: HTTP 400: Object Not Found : Something you're trying to use has been made inactive\. .* \(code 610\)$/,
    },
    {
        tool: 'create_invoice', args: { CustomerRef: { value: '404' }, Line: [{ DetailType: 'SalesItemLineDetail', Amount: 1, SalesItemLineDetail: { ItemRef: { value: '1' } } }] },
        match: /^quickbooks API error: HTTP 400: Object Not Found : .* \(code 610\)$/,
    },
    {
        tool: 'query', args: { query: 'SELECT Name FROM Vendor' },
        match: /^quickbooks API error: HTTP 400: Error parsing query: QueryParserError: Encountered an unexpected token in the query: SELECT Name FROM Vendor \(code 4000\)$/,
    },
];
