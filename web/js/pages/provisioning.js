// Settings > Provisioning: connecting the identity provider (Okta, Entra ID) over SCIM 2.0.
// The admin's path: copy the base URL, generate a token (shown once), enter both in the
// identity provider, press Test and push groups there, then see the groups arrive here.

import { api, submitForm, val } from '../api.js';
import { add, badge, copyLine, empty, field, fmtTime, h, secretPanel, table } from '../dom.js';

export async function render(view, ctx) {
    const [prov, groups] = await Promise.all([
        api('GET', '/provisioning'),
        api('GET', '/groups?count=25'),
    ]);
    add(view, 
        h('h1', {}, 'Settings'),
        h('nav', { class: 'tabs', 'aria-label': 'Settings' },
            h('a', { href: '#/provisioning', 'aria-current': 'page' }, 'Provisioning')),
        h('p', { class: 'lead' }, 'Your identity provider (Okta, Microsoft Entra ID) pushes users and groups to mandate over SCIM 2.0. Give groups their tools under Groups once they have arrived.'));

    add(view, h('h2', {}, '1. The SCIM base URL'),
        h('p', {}, 'Enter it in the identity provider\'s SCIM 2.0 app as the base URL (Okta: “SCIM connector base URL”; Entra ID: “Tenant URL”).'),
        copyLine('SCIM base URL', prov.scim_base_url || ctx.session.urls.scim));

    add(view, h('h2', {}, '2. A bearer token'), tokenForm(view, ctx), tokenList(prov.tokens, ctx));

    add(view, h('h2', {}, '3. In the identity provider'),
        h('ol', {},
            h('li', {}, 'Add a SCIM 2.0 app (Okta: an app integration with SCIM provisioning; Entra ID: an enterprise application, provisioning mode Automatic).'),
            h('li', {}, 'Enter the base URL and the token, authentication mode “HTTP header” / bearer token.'),
            h('li', {}, 'Press “Test connector configuration” (Okta) or “Test Connection” (Entra ID): the request shows up under Last SCIM activity below.'),
            h('li', {}, 'Assign and push the groups whose members should get tools.')));

    add(view, h('h2', {}, 'Last SCIM activity'), activity(prov));
    add(view, h('h2', {}, `Pushed groups (${groups.total})`), await pushedGroups(groups));
}

function tokenForm(view, ctx) {
    const slot = h('div', {});
    const form = h('form', { novalidate: true, 'aria-label': 'Generate a SCIM token' },
        field({ name: 'name', label: 'Token name', required: true, hint: 'What it is for, e.g. “okta-production”. At most 127 characters.', attrs: { maxlength: '200', autocomplete: 'off' } }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Generate token')));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        let created = null;
        const ok = await submitForm(form, {
            check: (f) => {
                const n = val(f, 'name');
                if (!n) return { name: 'Give the token a name, so that you can tell it from others later.' };
                if (new TextEncoder().encode(n).length > 127) return { name: 'The name is longer than 127 bytes.' };
                return {};
            },
            send: async () => {
                created = await api('POST', '/tokens', { kind: 'scim', name: val(form, 'name') });
            },
            fields: { name: 'name' },
        });
        if (ok && created) {
            form.reset();
            slot.replaceChildren(secretPanel(`SCIM token “${created.name}”`, 'SCIM bearer token', created.token,
                h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.navigate('#/provisioning') }, 'Done, I have copied it'))));
        }
    });
    return h('div', {}, form, slot);
}

function tokenList(tokens, ctx) {
    const live = tokens.filter((t) => !t.revoked);
    const revoked = tokens.length - live.length;
    if (!live.length) {
        return empty('No SCIM token is active.', 'Generate one above and enter it in your identity provider: without it, the identity provider cannot push users and groups.');
    }
    return h('div', {},
        table('SCIM tokens', [
            { label: 'Name', cell: (t) => t.name || '(unnamed)' },
            { label: 'Created', cell: (t) => fmtTime(t.created) },
            { label: 'Last used', cell: (t) => fmtTime(t.last_used) },
            { label: 'Action', cell: (t) => revokeButton(t, ctx) },
        ], live),
        revoked ? h('p', { class: 'hint' }, `${revoked} revoked token${revoked === 1 ? '' : 's'} not shown.`) : null);
}

/* Revoke, with a second press to confirm: a revoked identity provider stops provisioning. */
export function revokeButton(t, ctx, after = '#/provisioning') {
    const cell = h('div', { class: 'actions' });
    const ask = h('button', {
        type: 'button', class: 'danger', 'aria-label': `Revoke token ${t.name || t.id}`,
        onclick: () => {
            cell.replaceChildren(
                h('span', {}, 'Revoke it? Clients using it stop working at once. '),
                h('button', {
                    type: 'button', class: 'danger', 'aria-label': `Confirm: revoke token ${t.name || t.id}`,
                    onclick: async (ev) => {
                        ev.target.disabled = true;
                        try {
                            await api('DELETE', `/tokens/${encodeURIComponent(t.id)}`);
                            ctx.navigate(after);
                        } catch (err) {
                            cell.append(h('p', { class: 'error', role: 'alert' }, err.message));
                        }
                    },
                }, 'Confirm revoke'),
                h('button', { type: 'button', class: 'secondary', onclick: () => cell.replaceChildren(ask) }, 'Cancel'));
            cell.querySelector('button').focus();
        },
    }, 'Revoke');
    cell.append(ask);
    return cell;
}

function exchange(ev) {
    return h('span', {}, `${fmtTime(ev.time)}: `, h('code', {}, `${ev.method} ${ev.path}`), ' → ',
        badge(String(ev.status), ev.status < 400 ? 'ok' : 'bad'),
        ev.token ? ` with token “${ev.token.name || ev.token.id}”` : ' without a valid token',
        ev.detail ? ` — ${ev.detail}` : '');
}

function activity(prov) {
    const a = prov.activity;
    const box = h('div', {});
    box.append(h('dl', { class: 'kv' },
        h('dt', {}, 'Token last used'), h('dd', {}, fmtTime(prov.last_used)),
        h('dt', {}, 'Users'), h('dd', {}, String(prov.users)),
        h('dt', {}, 'Groups'), h('dd', {}, String(prov.groups))));
    if (!a || !a.requests) {
        box.append(empty('No SCIM request has reached this server since it started.',
            'Enter the base URL and a token in the identity provider, then press its Test button.'));
        return box;
    }
    box.append(h('p', {}, `Since ${fmtTime(a.since)}, this server answered ${a.requests} SCIM request${a.requests === 1 ? '' : 's'}, ${a.errors} with an error.`),
        h('p', {}, 'Last: ', exchange(a.last)));
    if (a.recent_errors.length) {
        box.append(h('h3', {}, 'Recent errors'),
            h('ul', {}, a.recent_errors.slice(0, 10).map((ev) => h('li', {}, exchange(ev)))));
    } else {
        box.append(h('p', {}, badge('no errors', 'ok')));
    }
    box.append(h('details', {}, h('summary', {}, 'Recent requests'),
        h('ul', {}, a.recent.map((ev) => h('li', {}, exchange(ev))))));
    return box;
}

async function pushedGroups(groups) {
    if (!groups.items.length) {
        return empty('No group has been pushed yet.',
            'In the identity provider, assign groups to the SCIM app and push them (Okta: Push Groups; Entra ID: assign the groups, then Provision on demand or wait for the next cycle).');
    }
    const members = await Promise.all(groups.items.map((g) =>
        api('GET', `/groups/${encodeURIComponent(g.id)}/members?count=10`).catch(() => null)));
    return h('ul', { class: 'pushed' }, groups.items.map((g, i) => {
        const m = members[i];
        const names = m ? m.items.map((x) => x.userName || x.display || x.id) : [];
        return h('li', {},
            h('a', { href: `#/groups/${encodeURIComponent(g.id)}` }, g.displayName || g.id),
            ` — ${g.members} member${g.members === 1 ? '' : 's'}`,
            names.length ? `: ${names.join(', ')}${m.total > names.length ? `, and ${m.total - names.length} more` : ''}` : '');
    }));
}
