// Decision explorer: "may Ann call stripe__create_refund with these arguments? why?". It asks
// the decision engine exactly what an agent's call would be decided as (POST /decisions),
// without calling anything, and shows the grant that allowed it or why each candidate failed.

import { api, submitForm, val } from '../api.js';
import { add, badge, field, fmtTime, h, level, table, uid } from '../dom.js';

const RESULTS = {
    expired: 'the grant has expired',
    level_above_ceiling: 'the tool\'s level is above the grant\'s or the pack\'s ceiling',
    condition_false: 'the condition does not hold for these arguments',
    condition_error: 'the condition cannot be evaluated on these arguments',
};

export async function render(view, ctx) {
    const [users, connectors] = await Promise.all([api('GET', '/users?count=200'), api('GET', '/connectors')]);
    const usersId = uid('users');
    const toolsId = uid('tools');
    const result = h('section', { 'aria-label': 'Decision', 'aria-live': 'polite' });
    const form = h('form', { novalidate: true, 'aria-label': 'Check a decision' },
        h('datalist', { id: usersId }, users.items.map((u) => h('option', { value: u.userName }, u.displayName || ''))),
        h('datalist', { id: toolsId }, connectors.items.flatMap((c) => c.tools.map((t) => h('option', { value: t.full_name }, t.title)))),
        field({ name: 'user', label: 'User', required: true, value: ctx.query.get('user') || '', hint: 'A userName or SCIM id, e.g. ann@example.com.', attrs: { list: usersId, autocomplete: 'off', spellcheck: 'false' } }),
        field({ name: 'tool', label: 'Tool', required: true, value: ctx.query.get('tool') || '', hint: 'A full tool name, e.g. stripe__create_refund.', attrs: { list: toolsId, autocomplete: 'off', spellcheck: 'false' } }),
        field({ name: 'arguments', label: 'Arguments (JSON object)', type: 'textarea', value: '{}', hint: 'What the agent would send, e.g. {"charge": "ch_1", "amount": 1200}.', attrs: { spellcheck: 'false' } }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Check')));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        let args;
        await submitForm(form, {
            check: () => {
                const p = {};
                if (!val(form, 'user')) p.user = 'Enter the user to decide for.';
                if (!val(form, 'tool')) p.tool = 'Enter the tool the agent would call.';
                const raw = val(form, 'arguments') || '{}';
                try {
                    args = JSON.parse(raw);
                    if (args === null || typeof args !== 'object' || Array.isArray(args)) p.arguments = 'The arguments must be a JSON object: {"name": value, ...}.';
                } catch (err) {
                    p.arguments = `This is not valid JSON: ${err.message}`;
                }
                return p;
            },
            send: async () => {
                const d = await api('POST', '/decisions', { user: val(form, 'user'), tool: val(form, 'tool'), arguments: args });
                result.replaceChildren(explain(d));
            },
            fields: { user: ['user'], tool: ['tool'], arguments: ['arguments'] },
        });
    });
    add(view, h('h1', {}, 'Decision explorer'),
        h('p', { class: 'lead' }, 'Would an agent acting for this user be allowed this call, and why? Nothing is sent to the tool.'),
        form, result);
}

function subject(s) {
    if (!s) return '—';
    if (s.type === 'everyone') return 'everyone';
    if (s.type === 'group') return h('a', { href: `#/groups/${encodeURIComponent(s.id)}` }, `group ${s.display || s.id}${s.nested ? ' (nested)' : ''}`);
    return h('a', { href: `#/users/${encodeURIComponent(s.id)}` }, `user ${s.display || s.id}`);
}

/* The decision explained: the verdict, the grant that allowed it, or why each candidate failed. Also used for audited denials. */
export function explain(d) {
    const who = d.user ? d.user.userName || d.user.id : 'this user';
    const out = h('div', { class: 'panel' },
        h('h2', {}, 'Decision'),
        h('p', { class: `verdict ${d.allowed ? 'allowed' : 'denied'}` }, d.allowed ? `Allowed: ${who} may call ${d.tool}.` : `Denied: ${who} may not make this call.`),
        h('p', {}, d.message),
        h('dl', { class: 'kv' },
            h('dt', {}, 'Reason'), h('dd', {}, h('code', {}, d.reason)),
            h('dt', {}, 'Tool level'), h('dd', {}, level(d.level))));
    if (d.grant) {
        out.append(h('h3', {}, 'Allowed by'),
            h('dl', { class: 'kv' },
                h('dt', {}, 'Grant'), h('dd', { class: 'mono' }, d.grant.id || d.grant.grant || ''),
                h('dt', {}, 'To'), h('dd', {}, subject(d.grant.subject)),
                d.grant.pack ? [h('dt', {}, 'Pack'), h('dd', {}, h('a', { href: `#/packs/${encodeURIComponent(d.grant.pack)}` }, d.grant.pack))] : null,
                d.grant.ceiling ? [h('dt', {}, 'Ceiling'), h('dd', {}, level(d.grant.ceiling))] : null,
                d.grant.condition ? [h('dt', {}, 'Condition'), h('dd', {}, h('code', {}, d.grant.condition))] : null,
                d.grant.expires ? [h('dt', {}, 'Expires'), h('dd', {}, fmtTime(d.grant.expires))] : null));
    }
    if (d.candidates && d.candidates.length) {
        out.append(h('h3', {}, 'Grants that reach this tool'),
            table('Candidate grants', [
                { label: 'Grant to', cell: (c) => subject(c.subject) },
                { label: 'Pack', cell: (c) => c.pack || '—' },
                { label: 'Ceiling', cell: (c) => level(c.ceiling) },
                { label: 'Result', cell: (c) => h('span', {}, c.result === 'allowed' ? badge('allows', 'ok') : badge(RESULTS[c.result] || c.result, 'bad'), c.detail ? h('br') : null, c.detail || '') },
            ], d.candidates, null, { stack: true }));
    }
    return out;
}
