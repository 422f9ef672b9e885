// A fake of Sage Intacct's XML API (the Web Services gateway) for the catalog's sage_intacct
// tools: readByQuery, readMore and read of one company's records.
//
// Shapes follow Sage Intacct's developer documentation (https://developer.intacct.com/web-services/):
//   requests            /web-services/requests/: POST /ia/xml/xmlgw.phtml, Content-Type
//                       application/xml, <request><control> with senderid, password, controlid,
//                       uniqueid, dtdversion 3.0, then <operation><authentication><login> with
//                       userid, companyid, password, and <content><function controlid>
//   responses           /web-services/responses/: HTTP 200, <response><control><status>,
//                       <operation><authentication><status>, <result><status>success</status>
//                       <function><controlid><data listtype count totalcount numremaining
//                       resultId> with one element per record
//   errors              /web-services/error-handling/: failures are HTTP 200 too, with
//                       <status>failure</status> and <errormessage><error><errorno>,
//                       <description>, <description2>, <correction> in the control section (XML
//                       and sender errors, e.g. XL03000006), the authentication section (sign-in)
//                       or the function's result (e.g. BL01001973 for a query Intacct cannot run)
//   functions           /web-services/functions/query-and-list-objects/ (readByQuery, readMore)
//                       and /web-services/functions/read-objects/ (read by keys)

import assert from 'node:assert/strict';

import { mediaType } from './lib.mjs';

export const connector = 'sage_intacct';

const CRED = {
    sender_id: 'mandate_fin_sender',
    sender_password: 'Sender&Fake<Passw0rd>',
    user_id: 'xml_gateway_fin',
    company_id: 'finance-sandbox-co',
    user_password: "User'Fake\"Passw0rd",
};
export const credential = CRED;

// A resultId issued earlier (valid for 30 minutes), for read_more's case: the second page of
// the posted bills, one per page.
const PREPARED = '7765623330WU1hA8CoA4QAAHxI9i8AAAA0';

export function seed() {
    const data = {
        APBILL: [
            { RECORDNO: '1291', RECORDID: 'INV-7781', VENDORID: 'V-0042', VENDORNAME: 'Acme Supplies', STATE: 'Posted', WHENDUE: '03/31/2025', TOTALDUE: '1200.00', CURRENCY: 'USD' },
            { RECORDNO: '1292', RECORDID: 'INV-7790', VENDORID: 'V-0042', VENDORNAME: 'Acme Supplies', STATE: 'Posted', WHENDUE: '04/30/2025', TOTALDUE: '310.50', CURRENCY: 'USD' },
            { RECORDNO: '1293', RECORDID: 'R-11', VENDORID: 'V-0051', VENDORNAME: 'Cloud Hosting Co', STATE: 'Paid', WHENDUE: '02/28/2025', TOTALDUE: '0.00', CURRENCY: 'USD' },
        ],
        results: new Map(),
        nextResult: 1,
    };
    const posted = data.APBILL.filter((r) => r.STATE === 'Posted');
    data.results.set(PREPARED, { obj: 'APBILL', rows: posted, fields: 'RECORDNO,VENDORNAME,TOTALDUE', size: 1, offset: 1 });
    return data;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const unesc = (s) => s && s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/* The text of the first <name> element in xml, unescaped, or null. */
function tag(xml, name) {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return m ? unesc(m[1]) : null;
}

function answer(res, xml) {
    res.writeHead(200, { 'Content-Type': 'text/xml; charset=UTF-8' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
}

function control(status) {
    return `<control><status>${status}</status><senderid>${esc(CRED.sender_id)}</senderid><controlid>mandate</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>`;
}

function error(no, d2, correction = '') {
    return `<errormessage><error><errorno>${no}</errorno><description></description><description2>${esc(d2)}</description2><correction>${esc(correction)}</correction></error></errormessage>`;
}

function authOk() {
    return `<authentication><status>success</status><userid>${esc(CRED.user_id)}</userid><companyid>${esc(CRED.company_id)}</companyid><locationid></locationid><sessiontimestamp>2025-03-05T10:00:00+00:00</sessiontimestamp></authentication>`;
}

function result(fn, status, inner) {
    return `<response>${control('success')}<operation>${authOk()}<result><status>${status}</status><function>${fn}</function><controlid>mandate</controlid>${inner}</result></operation></response>`;
}

function record(obj, r, fields) {
    const keys = fields === '*' ? Object.keys(r) : fields.split(',');
    return `<${obj}>${keys.map((k) => `<${k}>${esc(r[k] ?? '')}</${k}>`).join('')}</${obj}>`;
}

/* A page of rows from offset, and a resultId when more remain (readByQuery and readMore). */
function page(fake, obj, rows, fields, size, offset) {
    const items = rows.slice(offset, offset + size);
    const remaining = rows.length - offset - items.length;
    let id = '';
    if (remaining > 0) {
        id = `7765623330WU1hA8CoA4QAAHxI9i8AAAA${fake.data.nextResult++}`;
        fake.data.results.set(id, { obj, rows, fields, size, offset: offset + size });
    }
    return `<data listtype="${obj.toLowerCase()}" count="${items.length}" totalcount="${rows.length}" numremaining="${remaining}" resultId="${id}">${items.map((r) => record(obj, r, fields)).join('')}</data>`;
}

/* The queries this fake can run: empty, or FIELD = 'value' / FIELD < 'mm/dd/yyyy' joined by AND. */
function filter(rows, query) {
    if (!query.trim()) return rows;
    const conds = query.split(/\s+AND\s+/i).map((c) => /^\s*([A-Z0-9_]+)\s*(=|<)\s*'([^']*)'\s*$/.exec(c));
    if (conds.some((c) => !c)) return null;
    const date = (s) => { const [m, d, y] = s.split('/'); return `${y}${m}${d}`; };
    return rows.filter((r) => conds.every(([, f, op, v]) => (op === '=' ? r[f] === v : date(r[f]) < date(v))));
}

export function handle(fake, rec, res) {
    if (rec.pathname !== '/ia/xml/xmlgw.phtml' || rec.method !== 'POST') {
        res.writeHead(404, { 'Content-Type': 'text/html' });
        res.end('<html><head><title>404 Not Found</title></head><body>Not Found</body></html>');
        return;
    }
    const body = rec.body;
    if (mediaType(rec.headers) !== 'application/xml' || !body.startsWith('<?xml') || !body.includes('</request>')) {
        answer(res, `<response><control><status>failure</status></control>${error('XL03000003', 'XML Parse schema error: the request is not a well-formed request document.')}</response>`);
        return;
    }
    const ctl = body.slice(0, body.indexOf('</control>'));
    if (tag(ctl, 'senderid') !== CRED.sender_id || tag(ctl, 'password') !== CRED.sender_password || tag(ctl, 'dtdversion') !== '3.0') {
        answer(res, `<response><control><status>failure</status></control>${error('XL03000006', 'Incorrect Intacct XML Partner ID or password.')}</response>`);
        return;
    }
    const login = body.slice(body.indexOf('<login>'), body.indexOf('</login>'));
    if (tag(login, 'userid') !== CRED.user_id || tag(login, 'companyid') !== CRED.company_id || tag(login, 'password') !== CRED.user_password) {
        answer(res, `<response>${control('success')}<operation><authentication><status>failure</status><userid>${esc(tag(login, 'userid') || '')}</userid><companyid>${esc(tag(login, 'companyid') || '')}</companyid></authentication>${error('XL03000006', 'Sign-in information is incorrect')}</operation></response>`);
        return;
    }
    const fn = /<function controlid="[^"]*">([\s\S]*)<\/function>/.exec(body);
    const inner = fn ? fn[1] : '';
    let m;
    if ((m = /^<readByQuery>([\s\S]*)<\/readByQuery>$/.exec(inner))) {
        const obj = tag(m[1], 'object');
        const fields = tag(m[1], 'fields');
        const size = Number(tag(m[1], 'pagesize'));
        const rows = fake.data[obj];
        const hits = Array.isArray(rows) ? filter(rows, tag(m[1], 'query') ?? '') : null;
        if (!hits) {
            answer(res, result('readByQuery', 'failure', error('BL01001973', `Query Failed: could not run the query on ${obj}`, 'Check the query syntax and field names.')));
            return;
        }
        answer(res, result('readByQuery', 'success', page(fake, obj, hits, fields, size, 0)));
    } else if ((m = /^<readMore><resultId>([^<]*)<\/resultId><\/readMore>$/.exec(inner))) {
        const r = fake.data.results.get(unesc(m[1]));
        if (!r) {
            answer(res, result('readMore', 'failure', error('DL02000001', 'There was an error processing the request: the resultId is not valid or has expired.')));
            return;
        }
        fake.data.results.delete(unesc(m[1]));
        answer(res, result('readMore', 'success', page(fake, r.obj, r.rows, r.fields, r.size, r.offset)));
    } else if ((m = /^<read>([\s\S]*)<\/read>$/.exec(inner))) {
        const obj = tag(m[1], 'object');
        const keys = (tag(m[1], 'keys') || '').split(',');
        const rows = (fake.data[obj] || []).filter((r) => keys.includes(r.RECORDNO));
        answer(res, result('read', 'success', `<data listtype="${obj.toLowerCase()}" count="${rows.length}">${rows.map((r) => record(obj, r, tag(m[1], 'fields'))).join('')}</data>`));
    } else {
        answer(res, result('unknown', 'failure', error('XL03000009', 'The function is not supported by this fake.')));
    }
}

/* The request as the gateway requires it, with the credential only where it belongs. */
function gatewayRequest(rec, fnXml) {
    assert.equal(rec.method, 'POST');
    assert.equal(rec.pathname, '/ia/xml/xmlgw.phtml');
    assert.equal(rec.headers['content-type'], 'application/xml');
    assert.equal(rec.headers.authorization, undefined);
    assert.equal(tag(rec.body, 'senderid'), CRED.sender_id);
    assert.equal(tag(rec.body, 'companyid'), CRED.company_id);
    // The passwords hold XML's special characters; they arrive escaped, never as markup.
    assert.ok(rec.body.includes('<password>Sender&amp;Fake&lt;Passw0rd&gt;</password>'));
    assert.ok(rec.body.includes('<password>User&#39;Fake&quot;Passw0rd</password>'));
    assert.ok(rec.body.includes(`<content><function controlid="mandate">${fnXml}</function></content>`), rec.body);
}

export const cases = {
    query_records: {
        args: { object: 'APBILL', fields: 'RECORDNO,VENDORNAME,TOTALDUE,WHENDUE', query: "STATE = 'Posted'", pagesize: 1 },
        check(rec, result) {
            gatewayRequest(rec, "<readByQuery><object>APBILL</object><fields>RECORDNO,VENDORNAME,TOTALDUE,WHENDUE</fields><query>STATE = &#39;Posted&#39;</query><pagesize>1</pagesize></readByQuery>");
            const text = result.content[0].text;
            assert.match(text, /<result><status>success<\/status><function>readByQuery<\/function>/);
            assert.match(text, /<data listtype="apbill" count="1" totalcount="2" numremaining="1" resultId="7765623330WU1hA8CoA4QAAHxI9i8AAAA\d+">/);
            assert.match(text, /<APBILL><RECORDNO>1291<\/RECORDNO><VENDORNAME>Acme Supplies<\/VENDORNAME><TOTALDUE>1200.00<\/TOTALDUE>/);
            assert.ok(!text.includes(CRED.sender_password) && !text.includes(CRED.user_password));
        },
    },
    read_more: {
        args: { result_id: PREPARED },
        check(rec, result) {
            gatewayRequest(rec, '<readMore><resultId>7765623330WU1hA8CoA4QAAHxI9i8AAAA0</resultId></readMore>');
            assert.match(result.content[0].text, /<data listtype="apbill" count="1" totalcount="2" numremaining="0" resultId=""><APBILL><RECORDNO>1292<\/RECORDNO>/);
        },
    },
    read_records: {
        args: { object: 'APBILL', keys: '1291,1293', fields: 'RECORDNO,STATE' },
        check(rec, result) {
            gatewayRequest(rec, '<read><object>APBILL</object><keys>1291,1293</keys><fields>RECORDNO,STATE</fields></read>');
            assert.match(result.content[0].text, /<APBILL><RECORDNO>1291<\/RECORDNO><STATE>Posted<\/STATE><\/APBILL><APBILL><RECORDNO>1293<\/RECORDNO><STATE>Paid<\/STATE><\/APBILL>/);
        },
    },
};

export const errors = [
    // Intacct answers a query it cannot run with HTTP 200 and <status>failure</status> in the
    // function's result; the connector's response rules read it and its errormessage.
    {
        tool: 'query_records', args: { object: 'APBILL', fields: '*', query: 'NOT A QUERY', pagesize: 10 },
        match: /^sage_intacct API error: Query Failed: could not run the query on APBILL: Check the query syntax and field names\. \(code BL01001973\)$/,
    },
    // A resultId that expired (or was already read to the end) fails the same way.
    {
        tool: 'read_more', args: { result_id: '7765623330WU1hA8CoA4QAAHxI9i8AAAA9' },
        match: /^sage_intacct API error: There was an error processing the request: the resultId is not valid or has expired\. \(code DL02000001\)$/,
    },
];
