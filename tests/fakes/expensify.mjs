// A fake of Expensify's Integration Server for the catalog's expensify tools: the policy list
// and policy getter jobs.
//
// Shapes follow "Expensify Integrations" (https://integrations.expensify.com/Integration-Server/doc/):
//   request format      POST /Integration-Server/ExpensifyIntegrations,
//                       application/x-www-form-urlencoded, requestJobDescription=<JSON {"type",
//                       "credentials": {"partnerUserID", "partnerUserSecret"}, "inputSettings"}>
//   policy list getter  "type": "get", inputSettings {"type": "policyList", "adminOnly"}:
//                       {"policyList": [{name, id, type, role, owner, outputCurrency}],
//                       "responseCode": 200}
//   policy getter       "type": "get", inputSettings {"type": "policy", "fields": [categories,
//                       reportFields, tags, tax, employees], "policyIDList": [...]}:
//                       {"policyInfo": {<id>: {...}}, "responseCode": 200}
//   errors              HTTP 200 with {"responseMessage", "responseCode"}: 401 for credentials
//                       that are wrong, 410 for a job Expensify cannot read

import assert from 'node:assert/strict';

import { formPairs, mediaType, send } from './lib.mjs';

export const connector = 'expensify';

const CRED = { partnerUserID: 'aa_finance_fake_example_com', partnerUserSecret: 'ExpensifyFake"Secret\\0123456789abcdef' };
export const credential = CRED;

const POLICY = '0F28BE2B8AB5F1A3';

export function seed() {
    return {
        policies: [
            { name: 'Corporate Card Policy', id: POLICY, type: 'corporate', role: 'admin', owner: 'finance@example.com', outputCurrency: 'USD' },
            { name: 'Sales Team', id: '4C6722D4BD2BD941', type: 'corporate', role: 'auditor', owner: 'sales@example.com', outputCurrency: 'USD' },
        ],
        info: {
            [POLICY]: {
                categories: [{ name: 'Meals', enabled: true, glCode: '6200' }, { name: 'Lodging', enabled: true, glCode: '6300' }],
                tags: [{ name: 'Engineering', enabled: true, glCode: '' }],
                employees: [{ email: 'jane.doe@example.com', role: 'user', submitsTo: 'finance@example.com' }],
                reportFields: [],
                tax: {},
            },
        },
        jobs: [],
    };
}

export function handle(fake, rec, res) {
    if (rec.pathname !== '/Integration-Server/ExpensifyIntegrations' || rec.method !== 'POST') {
        res.writeHead(404, { 'Content-Type': 'text/html' });
        res.end('<html><head><title>404 Not Found</title></head></html>');
        return;
    }
    const fail = (code, message) => send(res, 200, { responseMessage: message, responseCode: code });
    if (mediaType(rec.headers) !== 'application/x-www-form-urlencoded') {
        fail(410, 'Missing requestJobDescription');
        return;
    }
    const form = Object.fromEntries(formPairs(rec.body));
    let job;
    try {
        job = JSON.parse(form.requestJobDescription);
    } catch {
        fail(410, 'Malformed requestJobDescription');
        return;
    }
    fake.data.jobs.push(job);
    const c = job.credentials || {};
    if (c.partnerUserID !== CRED.partnerUserID || c.partnerUserSecret !== CRED.partnerUserSecret) {
        fail(401, 'Incorrect partnerUserID or partnerUserSecret');
        return;
    }
    const s = job.inputSettings || {};
    if (job.type === 'get' && s.type === 'policyList') {
        const list = s.adminOnly === true ? fake.data.policies.filter((p) => p.role === 'admin') : fake.data.policies;
        send(res, 200, { policyList: list, responseCode: 200 });
    } else if (job.type === 'get' && s.type === 'policy') {
        if (!Array.isArray(s.policyIDList) || !Array.isArray(s.fields)) {
            fail(410, 'Missing policyIDList or fields');
            return;
        }
        const policyInfo = {};
        for (const id of s.policyIDList) {
            const p = fake.data.info[id];
            if (!p) {
                fail(404, `Policy ${id} not found or not accessible`);
                return;
            }
            policyInfo[id] = Object.fromEntries(s.fields.map((f) => [f, p[f]]));
        }
        send(res, 200, { policyInfo, responseCode: 200 });
    } else {
        fail(410, `Unsupported job type ${job.type}/${s.type}`);
    }
}

/* The job as Expensify reads it: one form field whose JSON carries the credentials. */
function jobOf(rec) {
    assert.equal(rec.method, 'POST');
    assert.equal(rec.pathname, '/Integration-Server/ExpensifyIntegrations');
    assert.equal(rec.headers['content-type'], 'application/x-www-form-urlencoded');
    const pairs = formPairs(rec.body);
    assert.deepEqual(pairs.map(([k]) => k), ['requestJobDescription']);
    const job = JSON.parse(pairs[0][1]);
    assert.deepEqual(job.credentials, CRED);
    return job;
}

export const cases = {
    list_policies: {
        args: { admin_only: true },
        check(rec, result) {
            const job = jobOf(rec);
            assert.equal(job.type, 'get');
            assert.deepEqual(job.inputSettings, { type: 'policyList', adminOnly: true });
            assert.equal(result.structuredContent.responseCode, 200);
            assert.deepEqual(result.structuredContent.policyList.map((p) => p.id), [POLICY]);
        },
    },
    get_policy: {
        args: { policy_ids: [POLICY], fields: ['categories', 'employees'] },
        check(rec, result) {
            const job = jobOf(rec);
            assert.deepEqual(job.inputSettings, { type: 'policy', fields: ['categories', 'employees'], policyIDList: [POLICY] });
            const info = result.structuredContent.policyInfo[POLICY];
            assert.deepEqual(info.categories.map((c) => c.name), ['Meals', 'Lodging']);
            assert.equal(info.tags, undefined);
        },
    },
};

export const errors = [
    // Expensify answers every job with HTTP 200 and a responseCode; the connector's response rule
    // (responseCode other than 200) makes this one an error, worded from responseMessage. The
    // refusal's code and wording are the fake's own.
    {
        tool: 'get_policy', args: { policy_ids: ['FFFFFFFFFFFFFFFF'], fields: ['tags'] },
        match: /^expensify API error: Policy FFFFFFFFFFFFFFFF not found or not accessible \(code 404\)$/,
    },
];
