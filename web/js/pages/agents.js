// Agents: the MCP URLs to paste into an agent, and agent tokens, each acting for one user
// (optionally limited to one pack): create one (shown once), see when it was last used,
// revoke it.

import { api, qs, submitForm, val } from '../api.js';
import { add, badge, copyLine, empty, field, fmtTime, h, secretPanel, table, uid } from '../dom.js';
import { revokeButton } from './provisioning.js';

export async function render(view, ctx) {
    const [tokens, packs, users] = await Promise.all([
        api('GET', '/tokens'),
        api('GET', '/packs'),
        api('GET', `/users${qs({ count: 200 })}`),
    ]);
    const userFilter = ctx.query.get('user') || '';
    const mcp = ctx.session.urls.mcp;
    const byId = new Map(users.items.map((u) => [u.id, u.userName]));
    // Tokens of users beyond the first page of users are named by a lookup of their own.
    const unknown = [...new Set(tokens.items.filter((t) => t.kind === 'agent' && !byId.has(t.user_id)).map((t) => t.user_id))];
    await Promise.all(unknown.slice(0, 50).map(async (id) => {
        try {
            const u = await api('GET', `/users/${encodeURIComponent(id)}`);
            byId.set(id, u.userName);
        } catch {
            byId.set(id, `(deleted user ${id})`);
        }
    }));

    add(view, h('h1', {}, 'Agents'),
        h('p', { class: 'lead' }, 'An AI agent connects to mandate over MCP with an agent token that acts for one employee. It sees only the tools that employee may use.'));

    add(view, h('h2', {}, 'MCP URLs'),
        copyLine('Every tool the user may use', mcp),
        packs.items.length ? h('details', {}, h('summary', {}, 'One pack\'s tools only'),
            packs.items.map((p) => copyLine(`Pack ${p.title}`, `${mcp}/packs/${p.name}`))) : null);

    const slot = h('div', {});
    add(view, h('h2', {}, 'Create an agent token'), createForm(users, packs, mcp, slot, ctx, userFilter), slot);

    let agents = tokens.items.filter((t) => t.kind === 'agent' && !t.revoked);
    if (userFilter) {
        const want = userFilter.toLowerCase();
        agents = agents.filter((t) => (byId.get(t.user_id) || '').toLowerCase() === want || t.user_id === userFilter);
    }
    add(view, h('h2', {}, userFilter ? `Agent tokens of ${userFilter}` : 'Agent tokens'),
        userFilter ? h('p', {}, h('a', { href: '#/agents' }, 'Show every user\'s tokens')) : null,
        table('Agent tokens', [
            { label: 'Name', cell: (t) => t.name || '(unnamed)' },
            { label: 'Acts for', cell: (t) => h('a', { href: `#/users/${encodeURIComponent(t.user_id)}` }, byId.get(t.user_id) || t.user_id) },
            { label: 'Pack', cell: (t) => (t.pack ? h('code', {}, t.pack) : badge('all tools', 'muted')) },
            { label: 'Created', cell: (t) => fmtTime(t.created) },
            { label: 'Last used', cell: (t) => fmtTime(t.last_used) },
            { label: 'Action', cell: (t) => revokeButton(t, ctx, `#/agents${qs({ user: userFilter })}`) },
        ], agents, empty(userFilter ? `${userFilter} has no agent token.` : 'No agent token exists yet.',
            'Create one above for an employee, then paste the MCP URL and the token into their agent.')));
}

function createForm(users, packs, mcp, slot, ctx, userFilter) {
    const listId = uid('users');
    const form = h('form', { novalidate: true, 'aria-label': 'Create an agent token' },
        h('datalist', { id: listId }, users.items.map((u) => h('option', { value: u.userName }, u.displayName || ''))),
        field({ name: 'user', label: 'Acts for (userName)', required: true, value: userFilter, hint: 'The employee whose tools the agent may use, e.g. ann@example.com.', attrs: { list: listId, autocomplete: 'off', spellcheck: 'false' } }),
        field({ name: 'name', label: 'Token name', hint: 'Optional, e.g. “Ann\'s Claude Code”.', attrs: { autocomplete: 'off' } }),
        field({ name: 'pack', label: 'Limit to a pack', type: 'select', options: [{ value: '', label: 'No: every tool the user may use' }, ...packs.items.map((p) => ({ value: p.name, label: p.title }))] }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create agent token')));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        let created = null;
        const ok = await submitForm(form, {
            check: () => {
                const p = {};
                if (!val(form, 'user')) p.user = 'Enter the userName of the employee the agent acts for.';
                if (new TextEncoder().encode(val(form, 'name')).length > 127) p.name = 'The name is longer than 127 bytes.';
                return p;
            },
            send: async () => {
                const body = { kind: 'agent', user: val(form, 'user') };
                if (val(form, 'name')) body.name = val(form, 'name');
                if (val(form, 'pack')) body.pack = val(form, 'pack');
                created = await api('POST', '/tokens', body);
            },
            fields: { user: ['user'], name: ['name'], pack: ['pack'] },
        });
        if (ok && created) {
            const url = created.pack ? `${mcp}/packs/${created.pack}` : mcp;
            form.reset();
            slot.replaceChildren(secretPanel(`Agent token “${created.name || 'unnamed'}” for ${val(form, 'user') || created.user_id}`, 'Agent token', created.token,
                copyLine('MCP URL', url),
                copyLine('Claude Code command', `claude mcp add --transport http mandate ${url} --header "Authorization: Bearer ${created.token}"`),
                h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => ctx.navigate(`#/agents${qs({ user: userFilter })}`) }, 'Done, I have copied it'))));
        }
    });
    return form;
}

