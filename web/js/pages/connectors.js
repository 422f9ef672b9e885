// Connectors: the catalog of upstream APIs, each one's base URL (a deployment may point it at
// a sandbox), its credential (set and rotated here, never shown: the API itself cannot read it
// back) and a "test connection" that calls the upstream once with that credential.

import { api, submitForm, val } from '../api.js';
import { add, badge, empty, field, fmtTime, h, level, table } from '../dom.js';

/* What each auth scheme's secret holds (docs/connectors.md, "Authentication and credentials"). */
function secretFields(auth) {
    switch (auth && auth.type) {
    case 'bearer': return [{ name: 'token', label: 'Token' }];
    case 'basic': return [{ name: 'username', label: 'Username', plain: true }, { name: 'password', label: 'Password or API token' }];
    case 'api_key': return (auth.headers || []).map((hd) => ({ name: hd, label: `${hd} header value` }));
    case 'oauth2_client_credentials': return [{ name: 'client_id', label: 'Client id', plain: true }, { name: 'client_secret', label: 'Client secret' }];
    default: return [];
    }
}

export async function render(view, ctx) {
    if (ctx.args[0]) return renderConnector(view, ctx, ctx.args[0]);
    const list = await api('GET', '/connectors');
    const creds = await Promise.all(list.items.map((c) => credential(c.name)));
    add(view, h('h1', {}, 'Connectors'),
        h('p', { class: 'lead' }, 'The business tools mandate calls for agents. Each needs its base URL and, for most, a credential that agents never see.'),
        table('Connectors', [
            { label: 'Connector', cell: (c) => h('span', {}, h('a', { href: `#/connectors/${encodeURIComponent(c.name)}` }, c.title), h('br'), h('code', {}, c.name)) },
            { label: 'Base URL', cell: (c) => h('code', {}, c.base_url) },
            { label: 'Credential', cell: (c, i = list.items.indexOf(c)) => credBadge(c, creds[i]) },
            { label: 'Tools', cell: (c) => String(c.tools.length) },
        ], list.items, empty('No connector is loaded.', 'Load the catalog on the server: mandate catalog load.')));
}

/* The credential's public facts, null when none is set, undefined when unknown (no vault). */
async function credential(name) {
    try {
        return await api('GET', `/connectors/${encodeURIComponent(name)}/credential`);
    } catch (err) {
        if (err.status === 404) return null;
        return undefined;
    }
}

function credBadge(c, cred) {
    if (!secretFields(c.auth).length) return badge('none needed', 'muted');
    if (cred === undefined) return badge('unknown: no vault key', 'warn');
    return cred ? badge(`set ${fmtTime(cred.set_at)}`, 'ok') : badge('not set', 'bad');
}

async function renderConnector(view, ctx, name) {
    let c;
    try {
        c = await api('GET', `/connectors/${encodeURIComponent(name)}`);
    } catch (err) {
        if (err.status !== 404) throw err;
        add(view, h('h1', {}, 'Connector not found'), empty(`No connector is named “${name}”.`, h('a', { href: '#/connectors' }, 'Back to Connectors')));
        return;
    }
    const cred = await credential(c.name);
    const here = `#/connectors/${encodeURIComponent(c.name)}`;
    add(view, h('p', {}, h('a', { href: '#/connectors' }, '← Connectors')),
        h('h1', {}, c.title),
        c.description ? h('p', { class: 'lead' }, c.description) : null,
        c.docs ? h('p', {}, 'Vendor API reference: ', h('a', { href: c.docs, rel: 'noreferrer noopener', target: '_blank' }, c.docs)) : null);

    // Base URL.
    const defined = c.overrides && c.overrides.base_url ? 'overridden for this deployment' : 'as the connector defines it';
    const urlForm = h('form', { novalidate: true, 'aria-label': 'Change the base URL' },
        field({ name: 'base_url', label: 'Base URL', type: 'url', value: c.base_url, hint: `Now ${defined}. Point it at a sandbox, e.g. https://sandbox.example.com (no trailing /).`, attrs: { spellcheck: 'false' } }),
        h('div', { class: 'actions' },
            h('button', { type: 'submit' }, 'Save base URL'),
            c.overrides && c.overrides.base_url ? h('button', {
                type: 'button', class: 'secondary', onclick: async () => {
                    await submitForm(urlForm, { send: async () => { await api('PATCH', `/connectors/${encodeURIComponent(c.name)}`, { base_url: null }); ctx.navigate(here); } });
                },
            }, 'Use the defined base URL') : null));
    urlForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        await submitForm(urlForm, {
            check: () => {
                const u = val(urlForm, 'base_url');
                if (!u) return { base_url: 'Enter the base URL.' };
                if (!/^https?:\/\/[^\s/]+/.test(u)) return { base_url: 'A base URL starts with https:// and names a host.' };
                if (u.endsWith('/')) return { base_url: 'Leave out the trailing /.' };
                return {};
            },
            send: async () => {
                await api('PATCH', `/connectors/${encodeURIComponent(c.name)}`, { base_url: val(urlForm, 'base_url') });
                ctx.navigate(here);
            },
            fields: { base_url: ['base_url', /url/i] },
        });
    });
    add(view, h('h2', {}, 'Base URL'), urlForm);

    // Credential.
    add(view, h('h2', {}, 'Credential'));
    const fields = secretFields(c.auth);
    if (!fields.length) {
        add(view, h('p', {}, 'This connector needs no credential.'));
    } else {
        add(view, cred === undefined
            ? h('p', { class: 'form-error' }, 'This server has no vault key (MANDATE_VAULT_KEY or --vault-key-file), so it keeps no credentials.')
            : cred
                ? h('dl', { class: 'kv' },
                    h('dt', {}, 'Status'), h('dd', {}, badge('set', 'ok')),
                    h('dt', {}, 'Fields'), h('dd', {}, cred.fields.join(', ')),
                    h('dt', {}, 'Set'), h('dd', {}, `${fmtTime(cred.set_at)} by token ${cred.set_by}`))
                : empty('No credential is set.', 'Agents\' calls to this connector fail until one is. Enter it below; it is sealed in the vault and never shown again.'));
        const credForm = h('form', { novalidate: true, 'aria-label': 'Set the credential', autocomplete: 'off' },
            fields.map((f) => field({ name: `secret_${f.name}`, label: f.label, type: f.plain ? 'text' : 'password', required: true, attrs: { autocomplete: f.plain ? 'off' : 'new-password', spellcheck: 'false' } })),
            h('div', { class: 'actions' }, h('button', { type: 'submit' }, cred ? 'Rotate credential' : 'Set credential')));
        credForm.addEventListener('submit', async (ev) => {
            ev.preventDefault();
            const secret = {};
            for (const f of fields) secret[f.name] = credForm.elements.namedItem(`secret_${f.name}`).value;
            await submitForm(credForm, {
                check: () => {
                    const p = {};
                    for (const f of fields) if (!secret[f.name].trim()) p[`secret_${f.name}`] = `Enter the ${f.label.toLowerCase()}.`;
                    return p;
                },
                send: async () => {
                    await api('PUT', `/connectors/${encodeURIComponent(c.name)}/credential`, secret);
                    credForm.reset();
                    ctx.navigate(here);
                },
                fields: Object.fromEntries(fields.map((f) => [`secret_${f.name}`, [f.name]])),
            });
        });
        add(view, credForm);
    }

    // Test connection.
    const result = h('div', { role: 'status', 'aria-live': 'polite' });
    const testBtn = h('button', {
        type: 'button', class: 'secondary', onclick: async () => {
            testBtn.disabled = true;
            result.replaceChildren(h('p', {}, 'Calling the upstream…'));
            try {
                const r = await api('POST', `/connectors/${encodeURIComponent(c.name)}/test`);
                result.replaceChildren(h('div', { class: r.ok ? 'notice' : 'form-error' },
                    h('p', {}, h('strong', {}, r.ok ? 'Connection works. ' : 'Connection failed. '), r.message),
                    h('p', {}, 'Request: ', h('code', {}, `GET ${r.request.path}`), r.request.tool ? ` (tool ${r.request.tool})` : ' (the base URL)', r.status ? `; HTTP ${r.status} in ${r.ms} ms.` : '.')));
            } catch (err) {
                result.replaceChildren(h('p', { class: 'form-error' }, err.message));
            } finally {
                testBtn.disabled = false;
            }
        },
    }, 'Test connection');
    add(view, h('h2', {}, 'Test connection'),
        h('p', { class: 'hint' }, 'Calls the upstream once, as an agent\'s read call would, with the credential above.'),
        h('div', { class: 'actions' }, testBtn), result);

    // Tools.
    add(view, h('h2', {}, `Tools (${c.tools.length})`),
        table('Tools', [
            { label: 'Tool', cell: (t) => h('span', {}, h('code', {}, t.full_name), h('br'), t.title) },
            { label: 'Level', cell: (t) => h('span', {}, level(t.level), t.level !== t.defined_level ? ` (defined: ${t.defined_level})` : '') },
            { label: 'What it does', cell: (t) => t.description },
        ], c.tools));
}
