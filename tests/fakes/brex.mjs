// A fake of Brex's REST APIs for the catalog's brex tools: settled card transactions
// (Transactions API), expenses and their memos (Expenses API), users and cards (Team API).
//
// Shapes follow Brex's API reference (https://developer.brex.com/openapi):
//   auth                a user token as "Authorization: Bearer <token>"
//   errors              https://developer.brex.com/docs/error_codes: the status code and
//                       {"type", "message", "code"?}, e.g. 401 {"type": "UNAUTHORIZED",
//                       "message": "PERMISSION_DENIED: Invalid or Revoked Token"} and 404
//                       {"type": "NOT_FOUND", "message": "Not Found", "code": "USER_NOT_FOUND"}
//   lists               {items: [...], next_cursor: string or null}, with cursor and limit
//   transactions        /openapi/transactions_api/transactions: GET /v2/transactions/card/primary
//                       (cursor, limit, user_ids, posted_at_start; example items from
//                       /docs/transactions_examples)
//   expenses            /openapi/expenses_api/expenses/listexpenses: GET /v1/expenses (array
//                       filters as repeated bracketed parameters: user_id[], expense_type[],
//                       status[], payment_status[], budget_id[], ...),
//                       GET /v1/expenses/{id}; /openapi/expenses_api/card-expenses/updateexpense:
//                       PUT /v1/expenses/card/{expense_id} with {"memo": ...}
//   users, cards        /openapi/team_api: GET /v2/users (cursor, limit, email), GET /v2/cards
//                       (user_id, cursor, limit), POST /v2/cards/{id}/lock with {reason,
//                       description}, reason one of CARD_DAMAGED, CARD_LOST, CARD_NOT_RECEIVED,
//                       DO_NOT_NEED_PHYSICAL_CARD, DO_NOT_NEED_VIRTUAL_CARD, FRAUD, OTHER

import assert from 'node:assert/strict';

import { bearer, jsonBody, mediaType, send } from './lib.mjs';

export const connector = 'brex';

const TOKEN = 'bxt_FinanceFakeUserToken0123456789abcdefABCDEF';
export const credential = { token: TOKEN };

const USER = 'cuuser_ckrz3m1fz013g01h5a2b3c4d5';
const CARD = 'ncard_ckrz3n9b9013i01h5hgdyz7jh';
const EXPENSE = 'expense_ckuwiblvv1tn101l3zvscxis8';
const REASONS = ['CARD_DAMAGED', 'CARD_LOST', 'CARD_NOT_RECEIVED', 'DO_NOT_NEED_PHYSICAL_CARD', 'DO_NOT_NEED_VIRTUAL_CARD', 'FRAUD', 'OTHER'];

export function seed() {
    return {
        transactions: [
            { id: 'pste_ckuxu8f0j07jn0ddg6bjofzde', description: 'Payment – Thank you!', amount: { amount: -63600, currency: 'USD' }, initiated_at_date: '2021-10-19', posted_at_date: '2021-10-19', type: 'COLLECTION' },
            { id: 'pste_ckuwiblvv1tn101l3zvscxis8', card_id: CARD, description: "Chili's", amount: { amount: 12900, currency: 'USD' }, initiated_at_date: '2021-10-17', posted_at_date: '2021-10-18', type: 'PURCHASE', merchant: { raw_descriptor: "CHILI'S #123", mcc: '5812', country: 'USA' } },
        ],
        // Which card each transaction was made on, so that user_ids can filter as Brex does.
        cardOwner: { [CARD]: USER },
        expenses: [{
            id: EXPENSE,
            memo: null,
            location_id: null,
            department_id: null,
            updated_at: '2021-10-18T15:00:00Z',
            category: 'RESTAURANTS',
            merchant_id: 'merchant_ckuwi0000000001',
            budget_id: null,
            payment_status: 'CLEARED',
            status: 'SUBMITTED',
            expense_type: 'CARD',
            original_amount: { amount: 12900, currency: 'USD' },
            billing_amount: { amount: 12900, currency: 'USD' },
            purchased_at: '2021-10-17T19:30:00Z',
            user_id: USER,
        }, {
            // Another user's out-of-pocket expense in the same month, for the filters to leave out.
            id: 'expense_ckuwiblvv1tn101l3zvscxis9',
            memo: 'Taxi to the airport',
            location_id: null,
            department_id: null,
            updated_at: '2021-10-20T09:00:00Z',
            category: 'TAXI',
            merchant_id: null,
            budget_id: null,
            payment_status: 'AWAITING_PAYMENT',
            status: 'OUT_OF_POLICY',
            expense_type: 'REIMBURSEMENT',
            original_amount: { amount: 4200, currency: 'USD' },
            billing_amount: { amount: 4200, currency: 'USD' },
            purchased_at: '2021-10-19T06:10:00Z',
            user_id: 'cuuser_ckrz3m1fz013g01h5zzzzzzzz',
        }],
        users: [{ id: USER, first_name: 'Jane', last_name: 'Doe', email: 'jane.doe@example.com', status: 'ACTIVE', manager_id: null, department_id: null, location_id: null }],
        cards: [{
            id: CARD, owner: { type: 'USER', user_id: USER }, status: 'ACTIVE', last_four: '4242', card_name: 'Jane Doe T&E',
            card_type: 'PHYSICAL', limit_type: 'USER', expiration_date: { month: 8, year: 2027 },
        }],
    };
}

function brexError(res, status, type, message, code) {
    send(res, status, code ? { type, message, code } : { type, message });
}

/* A page of items from cursor on (Brex's cursors are opaque; this fake uses offsets). */
function page(items, q) {
    const limit = q.has('limit') ? Number(q.get('limit')) : 100;
    const from = q.has('cursor') ? Number(Buffer.from(q.get('cursor'), 'base64').toString()) : 0;
    const next = from + limit < items.length ? Buffer.from(String(from + limit)).toString('base64') : null;
    return { next_cursor: next, items: items.slice(from, from + limit) };
}

/* The query, or null after a 400 for a parameter the endpoint does not take. */
function query(rec, res, known) {
    const q = new URLSearchParams(rec.query);
    for (const k of q.keys()) {
        if (!known.includes(k)) {
            brexError(res, 400, 'BAD_REQUEST', `Unknown query parameter: ${k}`);
            return null;
        }
    }
    if (q.has('limit') && !/^\d+$/.test(q.get('limit'))) {
        brexError(res, 400, 'BAD_REQUEST', 'limit must be an integer');
        return null;
    }
    return q;
}

export function handle(fake, rec, res) {
    const d = fake.data;
    const t = bearer(rec.headers);
    if (t !== TOKEN) {
        brexError(res, 401, 'UNAUTHORIZED', 'PERMISSION_DENIED: Invalid or Revoked Token');
        return;
    }
    const p = rec.pathname;
    let m;
    if (rec.method === 'GET' && p === '/v2/transactions/card/primary') {
        const q = query(rec, res, ['cursor', 'limit', 'user_ids', 'posted_at_start', 'expand[]']);
        if (!q) return;
        const users = q.getAll('user_ids');
        const start = q.get('posted_at_start');
        const items = d.transactions.filter((x) => (users.length === 0 || users.includes(d.cardOwner[x.card_id])) &&
            (!start || x.posted_at_date >= start.slice(0, 10)));
        send(res, 200, page(items, q));
    } else if (rec.method === 'GET' && p === '/v1/expenses') {
        const q = query(rec, res, ['cursor', 'limit', 'purchased_at_start', 'purchased_at_end', 'updated_at_start', 'updated_at_end',
            'expand[]', 'user_id[]', 'status[]', 'payment_status[]', 'expense_type[]', 'budget_id[]', 'parent_expense_id[]', 'spending_entity_id[]', 'load_custom_fields']);
        if (!q) return;
        const s = q.get('purchased_at_start');
        const e = q.get('purchased_at_end');
        // Each array filter keeps the expenses whose field is one of its values.
        const filters = [['user_id[]', 'user_id'], ['expense_type[]', 'expense_type'], ['status[]', 'status'], ['payment_status[]', 'payment_status']]
            .map(([param, field]) => [q.getAll(param), field]).filter(([vals]) => vals.length);
        send(res, 200, page(d.expenses.filter((x) => (!s || x.purchased_at >= s) && (!e || x.purchased_at <= e) &&
            filters.every(([vals, field]) => vals.includes(x[field]))), q));
    } else if (rec.method === 'GET' && (m = /^\/v1\/expenses\/([^/]+)$/.exec(p))) {
        const x = d.expenses.find((y) => y.id === decodeURIComponent(m[1]));
        if (x) send(res, 200, x);
        else brexError(res, 404, 'NOT_FOUND', 'Not Found', 'EXPENSE_NOT_FOUND');
    } else if (rec.method === 'PUT' && (m = /^\/v1\/expenses\/card\/([^/]+)$/.exec(p))) {
        const body = jsonBody(rec, res, { type: 'BAD_REQUEST', message: 'Malformed JSON body' });
        if (body === undefined) return;
        const extra = Object.keys(body).filter((k) => k !== 'memo');
        if (extra.length || (body.memo !== null && typeof body.memo !== 'string')) {
            brexError(res, 400, 'BAD_REQUEST', `Invalid request body: ${extra.join(', ') || 'memo'}`);
            return;
        }
        const x = d.expenses.find((y) => y.id === decodeURIComponent(m[1]) && y.expense_type === 'CARD');
        if (!x) {
            brexError(res, 404, 'NOT_FOUND', 'Not Found', 'EXPENSE_NOT_FOUND');
            return;
        }
        x.memo = body.memo;
        x.updated_at = '2025-03-05T12:00:00Z';
        send(res, 200, { id: x.id, memo: x.memo, location_id: x.location_id, department_id: x.department_id, updated_at: x.updated_at, category: x.category });
    } else if (rec.method === 'GET' && p === '/v2/users') {
        const q = query(rec, res, ['cursor', 'limit', 'email', 'remote_display_id', 'status[]', 'expand[]']);
        if (!q) return;
        send(res, 200, page(d.users.filter((u) => !q.has('email') || u.email === q.get('email')), q));
    } else if (rec.method === 'GET' && p === '/v2/cards') {
        const q = query(rec, res, ['cursor', 'limit', 'user_id']);
        if (!q) return;
        send(res, 200, page(d.cards.filter((c) => !q.has('user_id') || c.owner.user_id === q.get('user_id')), q));
    } else if (rec.method === 'POST' && (m = /^\/v2\/cards\/([^/]+)\/lock$/.exec(p))) {
        const body = jsonBody(rec, res, { type: 'BAD_REQUEST', message: 'Malformed JSON body' });
        if (body === undefined) return;
        if (!REASONS.includes(body.reason)) {
            brexError(res, 400, 'BAD_REQUEST', `reason must be one of ${REASONS.join(', ')}`);
            return;
        }
        const c = d.cards.find((y) => y.id === decodeURIComponent(m[1]));
        if (!c) {
            brexError(res, 404, 'NOT_FOUND', 'Not Found', 'CARD_NOT_FOUND');
            return;
        }
        c.status = 'LOCKED';
        send(res, 200, c);
    } else {
        brexError(res, 404, 'NOT_FOUND', 'Not Found');
    }
}

function getRequest(rec, path) {
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.method, 'GET');
    assert.equal(rec.pathname, path);
    assert.equal(rec.body, '');
}

export const cases = {
    list_card_transactions: {
        args: { user_ids: [USER, 'cuuser_ckrz3m1fz013g01h5zzzzzzzz'], posted_at_start: '2021-10-01T00:00:00Z', limit: 10 },
        check(rec, result) {
            getRequest(rec, '/v2/transactions/card/primary');
            // An array goes as the parameter repeated, as Brex's OpenAPI (explode) reads it.
            assert.deepEqual(new URLSearchParams(rec.query).getAll('user_ids'), [USER, 'cuuser_ckrz3m1fz013g01h5zzzzzzzz']);
            assert.equal(new URLSearchParams(rec.query).get('posted_at_start'), '2021-10-01T00:00:00Z');
            const sc = result.structuredContent;
            assert.deepEqual(sc.items.map((x) => x.id), ['pste_ckuwiblvv1tn101l3zvscxis8']);
            assert.deepEqual(sc.items[0].amount, { amount: 12900, currency: 'USD' });
            assert.equal(sc.next_cursor, null);
        },
    },
    list_expenses: {
        args: {
            user_ids: [USER], expense_types: ['CARD'], statuses: ['SUBMITTED', 'APPROVED'], payment_statuses: ['CLEARED'],
            purchased_at_start: '2021-10-01T00:00:00Z', purchased_at_end: '2021-10-31T23:59:59Z', limit: 50,
        },
        check(rec, result) {
            getRequest(rec, '/v1/expenses');
            // The filters' LLM-safe argument names go out as Brex's bracketed parameters, arrays
            // as the parameter repeated.
            assert.equal(rec.query, `user_id%5B%5D=${USER}&expense_type%5B%5D=CARD&status%5B%5D=SUBMITTED&status%5B%5D=APPROVED` +
                '&payment_status%5B%5D=CLEARED&purchased_at_start=2021-10-01T00%3A00%3A00Z&purchased_at_end=2021-10-31T23%3A59%3A59Z&limit=50');
            assert.deepEqual(new URLSearchParams(rec.query).getAll('status[]'), ['SUBMITTED', 'APPROVED']);
            assert.deepEqual(result.structuredContent.items.map((x) => x.id), [EXPENSE]);
        },
    },
    get_expense: {
        args: { id: EXPENSE },
        check(rec, result) {
            getRequest(rec, `/v1/expenses/${EXPENSE}`);
            assert.equal(result.structuredContent.status, 'SUBMITTED');
            assert.deepEqual(result.structuredContent.original_amount, { amount: 12900, currency: 'USD' });
        },
    },
    update_expense_memo: {
        args: { expense_id: EXPENSE, memo: 'Team lunch with the Denver customer' },
        check(rec, result, fake) {
            assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
            assert.equal(rec.method, 'PUT');
            assert.equal(rec.pathname, `/v1/expenses/card/${EXPENSE}`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { memo: 'Team lunch with the Denver customer' });
            assert.equal(result.structuredContent.memo, 'Team lunch with the Denver customer');
            assert.equal(fake.data.expenses[0].memo, 'Team lunch with the Denver customer');
        },
    },
    list_users: {
        args: { email: 'jane.doe@example.com' },
        check(rec, result) {
            getRequest(rec, '/v2/users');
            assert.equal(rec.query, 'email=jane.doe%40example.com');
            assert.deepEqual(result.structuredContent.items.map((u) => u.id), [USER]);
        },
    },
    list_cards: {
        args: { user_id: USER },
        check(rec, result) {
            getRequest(rec, '/v2/cards');
            assert.equal(rec.query, `user_id=${USER}`);
            assert.deepEqual(result.structuredContent.items.map((c) => c.last_four), ['4242']);
        },
    },
    lock_card: {
        args: { id: CARD, reason: 'FRAUD', description: 'Unrecognized charges reported on 2025-03-04' },
        check(rec, result, fake) {
            assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, `/v2/cards/${CARD}/lock`);
            assert.equal(mediaType(rec.headers), 'application/json');
            assert.deepEqual(JSON.parse(rec.body), { reason: 'FRAUD', description: 'Unrecognized charges reported on 2025-03-04' });
            assert.equal(result.structuredContent.status, 'LOCKED');
            assert.equal(fake.data.cards[0].status, 'LOCKED');
        },
    },
};

export const errors = [
    { tool: 'get_expense', args: { id: 'expense_doesnotexist' }, match: /^brex API error: HTTP 404: Not Found$/ },
    { tool: 'lock_card', args: { id: 'ncard_doesnotexist', reason: 'CARD_LOST' }, match: /^brex API error: HTTP 404: Not Found$/ },
];
