// Gives a fresh mandate what the conformance suite needs to see tools: one SCIM user in one
// SCIM group, a grant of a pack to the group (admin API), and an agent token for the user,
// which it prints on stdout. Every connector's base_url is first pointed at DEAD_ORIGIN, a
// loopback port where nothing listens: some scenarios call the first listed tool (e.g. the
// http-header-validation whitespace case), and no such call may leave the machine.
//
//   node provision.mjs BASE_URL SCIM_TOKEN ADMIN_TOKEN DEAD_ORIGIN [PACK]   (PACK: engineering)

const [base, scimToken, adminToken, dead, pack = 'engineering'] = process.argv.slice(2);
if (!base || !scimToken || !adminToken || !/^http:\/\/127\.0\.0\.1:\d+$/.test(dead || '')) {
    console.error('usage: node provision.mjs BASE_URL SCIM_TOKEN ADMIN_TOKEN http://127.0.0.1:PORT [PACK]');
    process.exit(2);
}

async function send(method, url, token, body, type) {
    const res = await fetch(url, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': type }) },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return JSON.parse(text);
}

const scim = (p, body) => send('POST', `${base}/scim/v2${p}`, scimToken, body, 'application/scim+json');
const api = (p, body, method = 'POST') => send(method, `${base}/api/v1${p}`, adminToken, body, 'application/json');

try {
    const connectors = await api('/connectors', undefined, 'GET');
    for (const c of connectors.items) await api(`/connectors/${c.name}`, { base_url: dead }, 'PATCH');
    const user = await scim('/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: 'conformance.agent@example.com',
        name: { givenName: 'Conformance', familyName: 'Agent' },
        emails: [{ value: 'conformance.agent@example.com', type: 'work', primary: true }],
        active: true,
    });
    const group = await scim('/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        displayName: 'Conformance',
        members: [{ value: user.id }],
    });
    await api('/grants', { subject: { type: 'group', id: group.id }, pack });
    const t = await api('/tokens', { kind: 'agent', name: 'mcp-conformance', user: user.id });
    process.stdout.write(`${t.token}\n`);
} catch (err) {
    console.error(`provision: ${err.message}`);
    process.exit(1);
}
