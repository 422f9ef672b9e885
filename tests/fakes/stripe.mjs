// A fake of Stripe's REST API for the catalog's stripe tools: charges, customers (retrieve and
// search) and refunds (list and create).
//
// Shapes follow Stripe's API reference (https://docs.stripe.com/api):
//   authentication      https://docs.stripe.com/api/authentication (a secret key as bearer)
//   errors              https://docs.stripe.com/api/errors ({"error": {type, code, message,
//                       param, doc_url}}; 400 invalid_request_error, 401 without a valid key,
//                       402 card_error, 404 resource_missing)
//   list objects        https://docs.stripe.com/api/pagination ({object: "list", url, has_more,
//                       data}); limit 1 to 100
//   search              https://docs.stripe.com/api/pagination/search ({object: "search_result",
//                       url, has_more, data, next_page})
//   charges             https://docs.stripe.com/api/charges/list, /api/charges/retrieve
//   customers           https://docs.stripe.com/api/customers/retrieve, /api/customers/search
//   refunds             https://docs.stripe.com/api/refunds/list, /api/refunds/create
//                       (application/x-www-form-urlencoded, charge or payment_intent)

import assert from 'node:assert/strict';

import { bearer, formPairs, mediaType, send } from './lib.mjs';

export const connector = 'stripe';

const KEY = 'rk_test_51FinanceFakeRestrictedKey0123456789';
export const credential = { token: KEY };

const CHARGE = 'ch_3MmlLrLkdIwHu7ix0snN0B15';
const CHARGE_2 = 'ch_3MmlQcLkdIwHu7ix1FkxK9qW';
const CUSTOMER = 'cus_NffrFeUfNV2Hib';

function charge(id, amount, currency, customer, created, refunded = 0) {
    return {
        id,
        object: 'charge',
        amount,
        amount_captured: amount,
        amount_refunded: refunded,
        balance_transaction: `txn_${id.slice(3)}`,
        captured: true,
        created,
        currency,
        customer,
        description: 'Subscription update',
        disputed: false,
        livemode: false,
        metadata: {},
        outcome: { network_status: 'approved_by_network', risk_level: 'normal', risk_score: 32, seller_message: 'Payment complete.', type: 'authorized' },
        paid: true,
        payment_intent: `pi_${id.slice(3)}`,
        payment_method_details: { card: { brand: 'visa', last4: '4242', exp_month: 8, exp_year: 2027 }, type: 'card' },
        receipt_email: 'jenny.rosen@example.com',
        refunded: refunded >= amount,
        status: 'succeeded',
        transfer_group: null,
    };
}

export function seed() {
    const charges = new Map();
    for (const c of [
        charge(CHARGE, 5000, 'usd', CUSTOMER, 1679090539),
        charge(CHARGE_2, 12000, 'usd', CUSTOMER, 1679190539, 2000),
        charge('ch_3MmlZZLkdIwHu7ix0aaaBBBB', 900, 'eur', 'cus_OtherCustomer01', 1679290539),
    ]) charges.set(c.id, c);
    const customers = new Map([[CUSTOMER, {
        id: CUSTOMER,
        object: 'customer',
        address: null,
        balance: 0,
        created: 1680893993,
        currency: 'usd',
        delinquent: false,
        description: null,
        email: 'jennyrosen@example.com',
        livemode: false,
        metadata: { crm_id: '0015e00000AbcDe' },
        name: 'Jenny Rosen',
        phone: null,
    }]]);
    const refunds = [{
        id: 're_3MmlQcLkdIwHu7ix0B1wRefd',
        object: 'refund',
        amount: 2000,
        charge: CHARGE_2,
        created: 1679200000,
        currency: 'usd',
        metadata: {},
        payment_intent: `pi_${CHARGE_2.slice(3)}`,
        reason: 'requested_by_customer',
        status: 'succeeded',
    }];
    return { charges, customers, refunds, nextRefund: 1 };
}

function stripeError(res, status, error) {
    const doc = error.code ? { doc_url: `https://stripe.com/docs/error-codes/${error.code.replace(/_/g, '-')}` } : {};
    send(res, status, { error: { ...error, ...doc } }, { 'Request-Id': `req_${Math.random().toString(36).slice(2, 16)}` });
}

function missing(res, kind, id, param = 'id') {
    stripeError(res, 404, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${kind}: '${id}'` });
}

/* The query's parameters, or null after answering 400 for one this endpoint does not know. */
function queryParams(rec, res, known) {
    const out = {};
    for (const [k, v] of new URLSearchParams(rec.query)) {
        if (!known.includes(k)) {
            stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_unknown', param: k, message: `Received unknown parameter: ${k}` });
            return null;
        }
        out[k] = v;
    }
    if (out.limit !== undefined && !(/^\d+$/.test(out.limit) && Number(out.limit) >= 1 && Number(out.limit) <= 100)) {
        stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_invalid_integer', param: 'limit', message: 'This value must be greater than or equal to 1 and less than or equal to 100.' });
        return null;
    }
    return out;
}

/* A list object as Stripe pages it: newest first, starting_after / ending_before cursors. */
function list(url, items, q) {
    let data = [...items].sort((a, b) => b.created - a.created);
    if (q.starting_after) data = data.slice(data.findIndex((x) => x.id === q.starting_after) + 1);
    const limit = q.limit ? Number(q.limit) : 10;
    return { object: 'list', data: data.slice(0, limit), has_more: data.length > limit, url };
}

/* Stripe's search query language, only as far as the cases use it: field:'value' and name~'sub'. */
function searchMatch(customer, query) {
    const m = /^\s*(email|name|phone)\s*([:~])\s*'([^']*)'\s*$/.exec(query);
    if (!m) return null;
    const v = String(customer[m[1]] || '');
    return m[2] === ':' ? v === m[3] : v.toLowerCase().includes(m[3].toLowerCase());
}

function createRefund(fake, rec, res) {
    if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
        stripeError(res, 400, { type: 'invalid_request_error', message: `Invalid request: unsupported Content-Type ${rec.headers['content-type'] || ''}. If error persists and you need assistance, please contact support@stripe.com.` });
        return;
    }
    const known = ['amount', 'charge', 'payment_intent', 'reason', 'metadata', 'expand', 'instructions_email', 'origin', 'refund_application_fee', 'reverse_transfer'];
    const p = {};
    const metadata = {};
    for (const [k, v] of formPairs(rec.body)) {
        const mm = /^metadata\[([^\][]+)\]$/.exec(k);
        if (mm) {
            metadata[mm[1]] = v;
        } else if (!known.includes(k.replace(/\[.*$/, ''))) {
            stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_unknown', param: k, message: `Received unknown parameter: ${k}` });
            return;
        } else {
            p[k] = v;
        }
    }
    if (!p.charge && !p.payment_intent) {
        stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_missing', message: 'One of the following params should be provided for this request: payment_intent or charge.' });
        return;
    }
    const ch = p.charge ? fake.data.charges.get(p.charge)
        : [...fake.data.charges.values()].find((c) => c.payment_intent === p.payment_intent);
    if (!ch) {
        const param = p.charge ? 'charge' : 'payment_intent';
        stripeError(res, 400, { type: 'invalid_request_error', code: 'resource_missing', param, message: `No such ${param}: '${p[param]}'` });
        return;
    }
    if (p.reason && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(p.reason)) {
        stripeError(res, 400, { type: 'invalid_request_error', param: 'reason', message: `Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer` });
        return;
    }
    const left = ch.amount - ch.amount_refunded;
    const amount = p.amount === undefined ? left : Number(p.amount);
    if (left <= 0) {
        stripeError(res, 400, { type: 'invalid_request_error', code: 'charge_already_refunded', message: `Charge ${ch.id} has already been refunded.` });
        return;
    }
    if (!Number.isInteger(amount) || amount < 1 || amount > left) {
        const fmt = (n) => `$${(n / 100).toFixed(2)}`;
        stripeError(res, 400, { type: 'invalid_request_error', code: 'amount_too_large', param: 'amount', message: `Refund amount (${fmt(amount)}) is greater than unrefunded amount on charge (${fmt(left)})` });
        return;
    }
    ch.amount_refunded += amount;
    ch.refunded = ch.amount_refunded >= ch.amount;
    const n = fake.data.nextRefund++;
    const refund = {
        id: `re_3FinanceFakeRefund${String(n).padStart(6, '0')}`,
        object: 'refund',
        amount,
        balance_transaction: `txn_3FinanceFake${String(n).padStart(6, '0')}`,
        charge: ch.id,
        created: 1700000000 + n,
        currency: ch.currency,
        metadata,
        payment_intent: ch.payment_intent,
        reason: p.reason || null,
        receipt_number: null,
        status: 'succeeded',
    };
    fake.data.refunds.push(refund);
    send(res, 200, refund);
}

export function handle(fake, rec, res) {
    const key = bearer(rec.headers);
    if (!key) {
        stripeError(res, 401, { type: 'invalid_request_error', message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')." });
        return;
    }
    if (key !== KEY) {
        stripeError(res, 401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(key.length - 12, 0))}${key.slice(-4)}` });
        return;
    }
    const d = fake.data;
    const path = rec.pathname;
    let m;
    if (rec.method === 'GET' && path === '/v1/charges') {
        const q = queryParams(rec, res, ['customer', 'payment_intent', 'transfer_group', 'limit', 'starting_after', 'ending_before', 'created']);
        if (!q) return;
        const items = [...d.charges.values()].filter((c) => (!q.customer || c.customer === q.customer) &&
            (!q.payment_intent || c.payment_intent === q.payment_intent));
        send(res, 200, list('/v1/charges', items, q));
    } else if (rec.method === 'GET' && (m = /^\/v1\/charges\/([^/]+)$/.exec(path))) {
        const id = decodeURIComponent(m[1]);
        const c = d.charges.get(id);
        if (c) send(res, 200, c);
        else missing(res, 'charge', id);
    } else if (rec.method === 'GET' && path === '/v1/customers/search') {
        const q = queryParams(rec, res, ['query', 'limit', 'page', 'expand']);
        if (!q) return;
        if (!q.query) {
            stripeError(res, 400, { type: 'invalid_request_error', code: 'parameter_missing', param: 'query', message: 'Missing required param: query.' });
            return;
        }
        const hits = [];
        for (const c of d.customers.values()) {
            const ok = searchMatch(c, q.query);
            if (ok === null) {
                stripeError(res, 400, { type: 'invalid_request_error', param: 'query', message: `Invalid search query: ${q.query}` });
                return;
            }
            if (ok) hits.push(c);
        }
        send(res, 200, { object: 'search_result', url: '/v1/customers/search', has_more: false, data: hits, next_page: null });
    } else if (rec.method === 'GET' && (m = /^\/v1\/customers\/([^/]+)$/.exec(path))) {
        const id = decodeURIComponent(m[1]);
        const c = d.customers.get(id);
        if (c) send(res, 200, c);
        else missing(res, 'customer', id);
    } else if (rec.method === 'GET' && path === '/v1/refunds') {
        const q = queryParams(rec, res, ['charge', 'payment_intent', 'limit', 'starting_after', 'ending_before', 'created']);
        if (!q) return;
        const items = d.refunds.filter((r) => (!q.charge || r.charge === q.charge) &&
            (!q.payment_intent || r.payment_intent === q.payment_intent));
        send(res, 200, list('/v1/refunds', items, q));
    } else if (rec.method === 'POST' && path === '/v1/refunds') {
        createRefund(fake, rec, res);
    } else {
        stripeError(res, 404, { type: 'invalid_request_error', message: `Unrecognized request URL (${rec.method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` });
    }
}

/* What every call must carry: the restricted key as bearer, nothing in the body of a GET. */
function authed(rec) {
    assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
}

function getRequest(rec, path) {
    authed(rec);
    assert.equal(rec.method, 'GET');
    assert.equal(rec.pathname, path);
    assert.equal(rec.body, '');
}

export const cases = {
    list_charges: {
        args: { customer: CUSTOMER, limit: 1 },
        check(rec, result) {
            getRequest(rec, '/v1/charges');
            assert.equal(rec.query, `customer=${CUSTOMER}&limit=1`);
            const sc = result.structuredContent;
            assert.equal(sc.object, 'list');
            assert.equal(sc.data.length, 1);
            assert.equal(sc.data[0].id, CHARGE_2, 'newest first');
            assert.equal(sc.has_more, true);
        },
    },
    retrieve_charge: {
        args: { charge: CHARGE },
        check(rec, result) {
            getRequest(rec, `/v1/charges/${CHARGE}`);
            assert.equal(rec.query, '');
            assert.equal(result.structuredContent.id, CHARGE);
            assert.equal(result.structuredContent.amount, 5000);
            assert.equal(result.structuredContent.payment_method_details.card.last4, '4242');
        },
    },
    retrieve_customer: {
        args: { customer: CUSTOMER },
        check(rec, result) {
            getRequest(rec, `/v1/customers/${CUSTOMER}`);
            assert.equal(result.structuredContent.object, 'customer');
            assert.equal(result.structuredContent.email, 'jennyrosen@example.com');
        },
    },
    search_customers: {
        args: { query: "email:'jennyrosen@example.com'", limit: 5 },
        check(rec, result) {
            getRequest(rec, '/v1/customers/search');
            const q = new URLSearchParams(rec.query);
            assert.equal(q.get('query'), "email:'jennyrosen@example.com'");
            assert.equal(q.get('limit'), '5');
            assert.equal(result.structuredContent.object, 'search_result');
            assert.deepEqual(result.structuredContent.data.map((c) => c.id), [CUSTOMER]);
        },
    },
    list_refunds: {
        args: { charge: CHARGE_2 },
        check(rec, result) {
            getRequest(rec, '/v1/refunds');
            assert.equal(rec.query, `charge=${CHARGE_2}`);
            assert.deepEqual(result.structuredContent.data.map((r) => r.amount), [2000]);
        },
    },
    create_refund: {
        args: { charge: CHARGE, amount: 1500, reason: 'requested_by_customer', metadata: { zendesk_ticket: '12345' } },
        check(rec, result, fake) {
            authed(rec);
            assert.equal(rec.method, 'POST');
            assert.equal(rec.pathname, '/v1/refunds');
            assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
            assert.deepEqual(formPairs(rec.body), [
                ['charge', CHARGE], ['amount', '1500'], ['reason', 'requested_by_customer'],
                ['metadata[zendesk_ticket]', '12345'],
            ]);
            const r = result.structuredContent;
            assert.equal(r.object, 'refund');
            assert.equal(r.amount, 1500);
            assert.equal(r.currency, 'usd');
            assert.equal(r.status, 'succeeded');
            assert.equal(fake.data.charges.get(CHARGE).amount_refunded, 1500);
        },
    },
};

export const errors = [
    // More than is left on the charge: 12000 charged, 2000 already refunded.
    {
        tool: 'create_refund',
        args: { charge: CHARGE_2, amount: 10001 },
        match: /^Stripe API error: HTTP 400: Refund amount \(\$100\.01\) is greater than unrefunded amount on charge \(\$100\.00\) \(amount_too_large, param amount\)$/,
    },
    {
        tool: 'retrieve_charge',
        args: { charge: 'ch_NoSuchCharge000000000000' },
        match: /^Stripe API error: HTTP 404: No such charge: 'ch_NoSuchCharge000000000000' \(resource_missing, param id\)$/,
    },
];
