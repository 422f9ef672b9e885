// A fake of Ramp's Developer API for the catalog's ramp tools: card transactions,
// reimbursements, users and transaction memos, behind Ramp's OAuth 2.0 client-credentials token.
//
// Shapes follow Ramp's Developer API documentation (https://docs.ramp.com/developer-api/v1):
//   token               /developer-api/v1/authorization and the quickstart
//                       (/developer-api/v1/getting-started): POST /developer/v1/token with
//                       HTTP Basic base64(client_id:client_secret), a form body
//                       grant_type=client_credentials&scope=...; answers {access_token,
//                       token_type: "Bearer", expires_in, scope}
//   pagination          /developer-api/v1/pagination: {data: [...], page: {next: URL or null}};
//                       start is the id of the last item of the previous page, page_size 2 to 100
//   errors              /developer-api/v1/error-handling: {"error_v2": {error_code,
//                       additional_info, notes, message}, "error": {...}} with the HTTP status
//                       (401 bad token, 404 missing, 422 validation). The page documents only
//                       the code DEVELOPER_7001 (validation); the codes this fake gives a 401
//                       and a 404 are stand-ins in the same shape
//   endpoints           the Developer API reference: GET /developer/v1/transactions,
//                       /transactions/{transaction_id}, /reimbursements,
//                       /reimbursements/{reimbursement_id}, /users, and
//                       POST /developer/v1/memos/{transaction_id} with {"memo": ...} (scope
//                       memos:write, memo at most 255 characters)

import assert from 'node:assert/strict';

import { basic, bearer, formPairs, jsonBody, mediaType, send } from './lib.mjs';

export const connector = 'ramp';

const CLIENT_ID = 'ramp_id_FinanceFakeClient01';
const CLIENT_SECRET = 'ramp_sec_FinanceFakeSecret0123456789abcdef';
export const credential = { client_id: CLIENT_ID, client_secret: CLIENT_SECRET };

const SCOPES = ['transactions:read', 'reimbursements:read', 'users:read', 'memos:write'];
const TXN = '3a5b1f62-988f-4190-bf31-b7ae87c5df42';
const TXN_2 = '9c2d7e10-5b44-4d8e-a1f3-0e6f4b7a2c91';
const USER = 'd8135cfe-0396-4b2d-b2cf-ad809fb04731';
const REIMB = '7979392e-8d41-4f97-815b-ccd7584802bf';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function txn(id, amount, merchant, time, memo) {
    return {
        id,
        amount,
        currency_code: 'USD',
        original_transaction_amount: { amount: Math.round(amount * 100), currency_code: 'USD' },
        merchant_id: 'f1e2d3c4-b5a6-4789-8abc-def012345678',
        merchant_name: merchant,
        card_id: 'c0ffee00-1111-4222-8333-444455556666',
        card_holder: { user_id: USER, first_name: 'Jane', last_name: 'Doe', department_name: 'Finance', location_name: 'New York' },
        state: 'CLEARED',
        memo,
        receipts: [],
        sk_category_name: 'Restaurants',
        user_transaction_time: time,
        settlement_date: time,
    };
}

export function seed() {
    return {
        transactions: [
            txn(TXN, 182.4, 'Chez Panisse', '2025-03-03T20:15:00+00:00', null),
            txn(TXN_2, 59.99, 'Figma', '2025-03-01T09:00:00+00:00', 'Design seat'),
        ],
        reimbursements: [{
            id: REIMB,
            amount: 42.5,
            currency: 'USD',
            merchant: 'Taxi',
            memo: 'Airport to client office',
            state: 'APPROVED',
            type: 'OUT_OF_POCKET',
            user_id: USER,
            user_full_name: 'Jane Doe',
            transaction_date: '2025-02-20',
            created_at: '2025-02-21T10:00:00+00:00',
            receipts: [],
        }],
        users: [{
            id: USER, first_name: 'Jane', last_name: 'Doe', email: 'jane.doe@example.com', role: 'BUSINESS_USER',
            status: 'USER_ACTIVE', department_id: null, location_id: null, manager_id: null, employee_id: 'E-1001',
        }],
        tokens: new Set(),
        nextToken: 1,
    };
}

function rampError(res, status, code, message, info = {}) {
    send(res, status, { error_v2: { error_code: code, additional_info: info, notes: '', message }, error: info });
}

/* POST /developer/v1/token: the client-credentials grant with the client in HTTP Basic. */
function token(fake, rec, res) {
    const c = basic(rec.headers);
    if (rec.method !== 'POST' || mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
        send(res, 400, { error: 'invalid_request', error_description: 'POST a form-encoded body' });
        return;
    }
    if (!c || c.user !== CLIENT_ID || c.pass !== CLIENT_SECRET) {
        send(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
        return;
    }
    const form = Object.fromEntries(formPairs(rec.body));
    if (form.grant_type !== 'client_credentials') {
        send(res, 400, { error: 'unsupported_grant_type' });
        return;
    }
    const asked = (form.scope || '').split(' ').filter(Boolean);
    if (asked.length === 0 || asked.some((s) => !SCOPES.includes(s))) {
        send(res, 400, { error: 'invalid_scope', error_description: `The app may not request: ${form.scope || '(none)'}` });
        return;
    }
    const t = `ramp_tok_${fake.data.nextToken++}_FinanceFake`;
    fake.data.tokens.add(t);
    send(res, 200, { access_token: t, token_type: 'Bearer', expires_in: 864000, scope: asked.join(' ') });
}

/* A page of items after the one whose id is start, with page.next as Ramp builds it. */
function page(fake, rec, items) {
    const q = new URLSearchParams(rec.query);
    const size = q.has('page_size') ? Number(q.get('page_size')) : 20;
    let from = 0;
    if (q.has('start')) from = items.findIndex((x) => x.id === q.get('start')) + 1;
    const data = items.slice(from, from + size);
    const more = from + size < items.length;
    return {
        data,
        page: { next: more ? `${fake.url}${rec.pathname}?page_size=${size}&start=${data.at(-1).id}` : null },
    };
}

/* The query, or null after answering 422 as Ramp validates it (page_size 2 to 100, ids UUIDs). */
function query(rec, res, known) {
    const q = new URLSearchParams(rec.query);
    for (const k of q.keys()) {
        if (!known.includes(k)) {
            rampError(res, 422, 'DEVELOPER_7001', `Unknown field: ${k}`, { [k]: ['Unknown field.'] });
            return null;
        }
    }
    const size = q.get('page_size');
    if (size !== null && !(Number(size) >= 2 && Number(size) <= 100)) {
        rampError(res, 422, 'DEVELOPER_7001', 'Value must be between 2 and 100', { page_size: ['Value must be between 2 and 100'] });
        return null;
    }
    for (const k of ['user_id']) {
        if (q.has(k) && !UUID_RE.test(q.get(k))) {
            rampError(res, 422, 'DEVELOPER_7001', 'Not a valid UUID.', { [k]: ['Not a valid UUID.'] });
            return null;
        }
    }
    return q;
}

export function handle(fake, rec, res) {
    const d = fake.data;
    if (rec.pathname === '/developer/v1/token') {
        token(fake, rec, res);
        return;
    }
    const t = bearer(rec.headers);
    if (!t || !d.tokens.has(t)) {
        rampError(res, 401, 'DEVELOPER_7004', 'Invalid or expired access token');
        return;
    }
    let m;
    const p = rec.pathname;
    if (rec.method === 'GET' && p === '/developer/v1/transactions') {
        const q = query(rec, res, ['from_date', 'to_date', 'user_id', 'state', 'min_amount', 'max_amount', 'requires_memo',
            'sync_status', 'order_by_date_desc', 'order_by_date_asc', 'start', 'page_size']);
        if (!q) return;
        let items = d.transactions.filter((x) => (!q.has('user_id') || x.card_holder.user_id === q.get('user_id')) &&
            (!q.has('min_amount') || x.amount > Number(q.get('min_amount'))) &&
            (!q.has('from_date') || x.user_transaction_time > q.get('from_date')) &&
            (q.get('requires_memo') !== 'true' || !x.memo));
        if (q.get('order_by_date_desc') === 'true') items = [...items].sort((a, b) => b.user_transaction_time.localeCompare(a.user_transaction_time));
        send(res, 200, page(fake, rec, items));
    } else if (rec.method === 'GET' && (m = /^\/developer\/v1\/transactions\/([^/]+)$/.exec(p))) {
        const x = d.transactions.find((y) => y.id === decodeURIComponent(m[1]));
        if (x) send(res, 200, x);
        else rampError(res, 404, 'DEVELOPER_7002', 'Transaction not found');
    } else if (rec.method === 'GET' && p === '/developer/v1/reimbursements') {
        const q = query(rec, res, ['user_id', 'from_date', 'to_date', 'sync_status', 'start', 'page_size']);
        if (!q) return;
        send(res, 200, page(fake, rec, d.reimbursements.filter((r) => !q.has('user_id') || r.user_id === q.get('user_id'))));
    } else if (rec.method === 'GET' && (m = /^\/developer\/v1\/reimbursements\/([^/]+)$/.exec(p))) {
        const r = d.reimbursements.find((y) => y.id === decodeURIComponent(m[1]));
        if (r) send(res, 200, r);
        else rampError(res, 404, 'DEVELOPER_7002', 'Reimbursement not found');
    } else if (rec.method === 'GET' && p === '/developer/v1/users') {
        const q = query(rec, res, ['email', 'employee_id', 'role', 'department_id', 'location_id', 'entity_id', 'start', 'page_size']);
        if (!q) return;
        send(res, 200, page(fake, rec, d.users.filter((u) => (!q.has('email') || u.email === q.get('email')) &&
            (!q.has('role') || u.role === q.get('role')))));
    } else if (rec.method === 'POST' && (m = /^\/developer\/v1\/memos\/([^/]+)$/.exec(p))) {
        const id = decodeURIComponent(m[1]);
        if (!UUID_RE.test(id)) {
            rampError(res, 422, 'DEVELOPER_7001', 'Not a valid UUID.', { transaction_id: ['Not a valid UUID.'] });
            return;
        }
        const body = jsonBody(rec, res, { error_v2: { error_code: 'DEVELOPER_7001', additional_info: {}, notes: '', message: 'Invalid JSON body' } });
        if (body === undefined) return;
        if (typeof body.memo !== 'string' || body.memo.length === 0 || body.memo.length > 255) {
            rampError(res, 422, 'DEVELOPER_7001', 'memo: Length must be between 1 and 255.', { memo: ['Length must be between 1 and 255.'] });
            return;
        }
        const x = d.transactions.find((y) => y.id === id);
        if (!x) {
            rampError(res, 404, 'DEVELOPER_7002', 'Transaction not found');
            return;
        }
        x.memo = body.memo;
        send(res, 200, { id: x.id, memo: x.memo });
    } else {
        rampError(res, 404, 'DEVELOPER_7002', `No route for ${rec.method} ${p}`);
    }
}

/* Every API call carries a token that the fake's token endpoint issued, never the client secret. */
function authed(rec, fake) {
    const t = bearer(rec.headers);
    assert.ok(t && fake.data.tokens.has(t), `Authorization: ${rec.headers.authorization}`);
    const token = fake.requests.find((r) => r.pathname === '/developer/v1/token');
    if (token) {
        // The first call of the run fetched the token: Basic client auth and the connector's scopes.
        assert.equal(token.headers.authorization, `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`);
        const form = new URLSearchParams(token.body);
        assert.equal(form.get('grant_type'), 'client_credentials');
        assert.deepEqual(form.get('scope').split(' ').sort(), [...SCOPES].sort());
    }
}

function getRequest(rec, fake, path) {
    authed(rec, fake);
    assert.equal(rec.method, 'GET');
    assert.equal(rec.pathname, path);
    assert.equal(rec.body, '');
}

export const cases = {
    list_transactions: {
        args: { requires_memo: true, min_amount: 100, from_date: '2025-03-01T00:00:00Z', page_size: 2 },
        check(rec, result, fake) {
            getRequest(rec, fake, '/developer/v1/transactions');
            assert.deepEqual(Object.fromEntries(new URLSearchParams(rec.query)), {
                from_date: '2025-03-01T00:00:00Z', min_amount: '100', requires_memo: 'true', page_size: '2',
            });
            const sc = result.structuredContent;
            assert.deepEqual(sc.data.map((x) => x.id), [TXN]);
            assert.equal(sc.data[0].merchant_name, 'Chez Panisse');
            assert.equal(sc.page.next, null);
        },
    },
    get_transaction: {
        args: { transaction_id: TXN_2 },
        check(rec, result, fake) {
            getRequest(rec, fake, `/developer/v1/transactions/${TXN_2}`);
            assert.equal(result.structuredContent.id, TXN_2);
            assert.equal(result.structuredContent.original_transaction_amount.amount, 5999);
        },
    },
    list_reimbursements: {
        args: { user_id: USER },
        check(rec, result, fake) {
            getRequest(rec, fake, '/developer/v1/reimbursements');
            assert.equal(rec.query, `user_id=${USER}`);
            assert.deepEqual(result.structuredContent.data.map((r) => r.id), [REIMB]);
        },
    },
    get_reimbursement: {
        args: { reimbursement_id: REIMB },
        check(rec, result, fake) {
            getRequest(rec, fake, `/developer/v1/reimbursements/${REIMB}`);
            assert.equal(result.structuredContent.amount, 42.5);
            assert.equal(result.structuredContent.state, 'APPROVED');
        },
    },
    list_users: {
        args: { email: 'jane.doe@example.com' },
        check(rec, result, fake) {
            getRequest(rec, fake, '/developer/v1/users');
            assert.equal(rec.query, 'email=jane.doe%40example.com');
            assert.deepEqual(result.structuredContent.data.map((u) => u.id), [USER]);
        },
    },
    add_transaction_memo: {
        args: { transaction_id: TXN, memo: 'Team dinner after the Q3 planning offsite' },
        check(rec, result, fake) {
            authed(rec, fake);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `/developer/v1/memos/${TXN}`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { memo: 'Team dinner after the Q3 planning offsite' });
            assert.deepEqual(result.structuredContent, { id: TXN, memo: 'Team dinner after the Q3 planning offsite' });
            assert.equal(fake.data.transactions.find((x) => x.id === TXN).memo, 'Team dinner after the Q3 planning offsite');
        },
    },
};

export const errors = [
    // Ramp validates the path's UUID and answers 422 in its error_v2 shape.
    {
        tool: 'add_transaction_memo',
        args: { transaction_id: 'not-a-uuid', memo: 'x' },
        match: /^ramp API error: HTTP 422: Not a valid UUID\. \(code DEVELOPER_7001\)$/,
    },
    {
        tool: 'get_transaction',
        args: { transaction_id: '00000000-0000-4000-8000-000000000000' },
        match: /^ramp API error: HTTP 404: Transaction not found \(code DEVELOPER_7002\)$/,
    },
];
