// Groups: what the identity provider pushed, with their members, and their access: the packs
// and tools granted to each group, at a level, with conditions and an expiry. Membership is
// the identity provider's; access is decided here.

import { api, qs, scimString, submitForm, val } from '../api.js';
import { add, badge, empty, field, fmtTime, h, level, table, uid } from '../dom.js';
import { pager, searchForm } from './users.js';

const PAGE = 50;

export async function render(view, ctx) {
    if (ctx.args[0]) return renderGroup(view, ctx, ctx.args[0]);
    const q = ctx.query.get('q') || '';
    const start = Math.max(1, Number(ctx.query.get('start')) || 1);
    const filter = q ? `displayName co ${scimString(q)}` : '';
    const list = await api('GET', `/groups${qs({ filter, startIndex: start, count: PAGE })}`);
    add(view, h('h1', {}, 'Groups'),
        h('p', { class: 'lead' }, 'Groups pushed by your identity provider. Give a group a tool pack, and every member\'s agents get those tools.'),
        searchForm(ctx, q, 'groups', 'Search groups', 'Part of a group name'),
        table('Groups', [
            { label: 'Group', cell: (g) => h('a', { href: `#/groups/${encodeURIComponent(g.id)}` }, g.displayName || g.id) },
            { label: 'Members', cell: (g) => String(g.members) },
        ], list.items, q
            ? empty(`No group matches “${q}”.`, 'Clear the search to see every group.')
            : empty('No group has been pushed yet.', h('span', {}, 'Push groups from your identity provider; ', h('a', { href: '#/provisioning' }, 'Provisioning'), ' shows how.'))),
        pager(list, start, (s) => `#/groups${qs({ q, start: s })}`));
}

async function renderGroup(view, ctx, id) {
    let g;
    try {
        g = await api('GET', `/groups/${encodeURIComponent(id)}`);
    } catch (err) {
        if (err.status !== 404) throw err;
        add(view, h('h1', {}, 'Group not found'), empty('No group has this id.', h('a', { href: '#/groups' }, 'Back to Groups')));
        return;
    }
    const [members, packs, connectors] = await Promise.all([
        api('GET', `/groups/${encodeURIComponent(id)}/members?count=200`),
        api('GET', '/packs'),
        api('GET', '/connectors'),
    ]);
    const tools = connectors.items.flatMap((c) => c.tools.map((t) => ({ name: t.full_name, title: t.title, level: t.level })));
    add(view, h('p', {}, h('a', { href: '#/groups' }, '← Groups')),
        h('h1', {}, g.displayName || g.id),
        h('dl', { class: 'kv' },
            h('dt', {}, 'SCIM id'), h('dd', { class: 'mono' }, g.id),
            g.externalId ? [h('dt', {}, 'externalId'), h('dd', { class: 'mono' }, g.externalId)] : null,
            h('dt', {}, 'Last change'), h('dd', {}, fmtTime(g.modified))));

    add(view, h('h2', {}, `Members (${members.total})`),
        table('Members', [
            { label: 'Member', cell: (m) => (m.type === 'User'
                ? h('a', { href: `#/users/${encodeURIComponent(m.id)}` }, m.userName || m.display || m.id)
                : h('a', { href: `#/groups/${encodeURIComponent(m.id)}` }, `group ${m.display || m.id}`)) },
            { label: 'Name', cell: (m) => (m.type === 'User' ? m.display || '—' : 'nested group: its members belong here too') },
            { label: 'Status', cell: (m) => (m.type !== 'User' ? '—' : m.active === false ? badge('deactivated', 'bad') : badge('active', 'ok')) },
        ], members.items, empty('This group has no members yet.', 'Add people to it in the identity provider; they appear here on the next push.')),
        members.total > members.items.length ? h('p', { class: 'hint' }, `The first ${members.items.length} of ${members.total} are shown.`) : null);

    add(view, h('h2', {}, 'Access'),
        grantsTable(g, ctx, (grant) => editor.edit(grant)));
    const editor = grantForm(g, packs.items, tools, ctx);
    add(view, editor.node);
}

function grantsTable(g, ctx, onEdit) {
    return table('Grants of this group', [
        { label: 'Gives', cell: (x) => (x.pack ? h('span', {}, 'pack ', h('a', { href: `#/packs/${encodeURIComponent(x.pack)}` }, x.pack)) : h('span', {}, 'tool ', h('code', {}, x.tool))) },
        { label: 'Level ceiling', cell: (x) => (x.level ? level(x.level) : 'as the pack says') },
        { label: 'Conditions', cell: (x) => (x.conditions && Object.keys(x.conditions).length
            ? h('ul', {}, Object.entries(x.conditions).map(([t, c]) => h('li', {}, h('code', {}, t), ': ', h('code', {}, c))))
            : 'none') },
        { label: 'Expires', cell: (x) => (x.expires ? (Date.parse(x.expires) < Date.now() ? badge(`expired ${fmtTime(x.expires)}`, 'bad') : fmtTime(x.expires)) : 'never') },
        { label: 'Reason', cell: (x) => x.reason || '—' },
        { label: 'Actions', cell: (x) => grantActions(x, ctx, onEdit, g) },
    ], g.grants, empty('This group has no access yet.', 'Give it a tool pack below: its members\' agents then see those tools.'));
}

function grantActions(x, ctx, onEdit, g) {
    const what = x.pack ? `pack ${x.pack}` : `tool ${x.tool}`;
    const cell = h('div', { class: 'actions' });
    const edit = h('button', { type: 'button', class: 'secondary', 'aria-label': `Edit the grant of ${what}`, onclick: () => onEdit(x) }, 'Edit');
    const remove = h('button', {
        type: 'button', class: 'danger', 'aria-label': `Remove the grant of ${what}`,
        onclick: () => {
            cell.replaceChildren(h('span', {}, 'Remove this access? '),
                h('button', {
                    type: 'button', class: 'danger', 'aria-label': `Confirm: remove the grant of ${what}`,
                    onclick: async () => {
                        try {
                            await api('DELETE', `/grants/${encodeURIComponent(x.id)}`);
                            ctx.navigate(`#/groups/${encodeURIComponent(g.id)}`);
                        } catch (err) {
                            cell.append(h('p', { class: 'error', role: 'alert' }, err.message));
                        }
                    },
                }, 'Confirm remove'),
                h('button', { type: 'button', class: 'secondary', onclick: () => cell.replaceChildren(edit, remove) }, 'Cancel'));
            cell.querySelector('button').focus();
        },
    }, 'Remove');
    cell.append(edit, remove);
    return cell;
}

/* datetime-local value (local time) for an RFC 3339 time, and back. */
function toLocalInput(iso) {
    const d = new Date(iso);
    const pad = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function grantForm(g, packs, tools, ctx) {
    const toolList = uid('tools');
    const datalist = h('datalist', { id: toolList }, tools.map((t) => h('option', { value: t.name }, `${t.title} (${t.level})`)));
    let editing = null; // the grant being edited, or null for a new one
    let condRows = 0;

    const title = h('h3', {}, 'Give access');
    const modePack = uid('mode');
    const modeTool = uid('mode');
    const modeSet = h('fieldset', {},
        h('legend', {}, 'What to give'),
        h('div', { class: 'check' }, h('input', { type: 'radio', name: 'mode', id: modePack, value: 'pack', checked: true }), h('label', { for: modePack }, 'A tool pack')),
        h('div', { class: 'check' }, h('input', { type: 'radio', name: 'mode', id: modeTool, value: 'tool' }), h('label', { for: modeTool }, 'One tool')));
    const packField = field({ name: 'pack', label: 'Tool pack', type: 'select', options: [{ value: '', label: 'Choose a pack…' }, ...packs.map((p) => ({ value: p.name, label: `${p.title} (${p.name})` }))] });
    const toolField = field({ name: 'tool', label: 'Tool', hint: 'A full tool name, e.g. stripe__create_refund.', attrs: { list: toolList, autocomplete: 'off', spellcheck: 'false' } });
    toolField.hidden = true;
    const levelField = field({ name: 'level', label: 'Level ceiling', type: 'select', hint: 'An extra limit on top of the pack\'s own ceilings.',
        options: [{ value: '', label: 'No extra limit' }, { value: 'read', label: 'read: no side effects' }, { value: 'write', label: 'write: changes that can be undone' }, { value: 'destructive', label: 'destructive: deletes, money, irreversible' }] });
    const conds = h('div', {});
    const addCond = h('button', { type: 'button', class: 'secondary', onclick: () => condRow() }, 'Add a condition');
    const condSet = h('fieldset', {},
        h('legend', {}, 'Conditions'),
        h('p', { class: 'hint' }, 'Optional, per tool: a SCIM filter over the call\'s arguments, e.g. amount le 50000 and currency eq "usd". A call is allowed only when it holds.'),
        conds, addCond);
    const expiresField = field({ name: 'expires', label: 'Expires', type: 'datetime-local', hint: 'Optional, in your local time. After it, the grant allows nothing.' });
    const reasonField = field({ name: 'reason', label: 'Reason', hint: 'Optional: why, e.g. a ticket number.', attrs: { maxlength: '500' } });
    const submit = h('button', { type: 'submit' }, 'Give access');
    const cancel = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => reset() }, 'Cancel editing');
    const form = h('form', { novalidate: true, 'aria-label': 'Give access' }, datalist, modeSet, packField, toolField, levelField, condSet, expiresField, reasonField,
        h('div', { class: 'actions' }, submit, cancel));

    function condRow(tool = '', cond = '') {
        const i = condRows++;
        const row = h('div', { class: 'inline', dataset: { row: String(i) } },
            field({ name: `cond_tool_${i}`, label: 'Tool', value: tool, attrs: { list: toolList, autocomplete: 'off', spellcheck: 'false' } }),
            field({ name: `cond_${i}`, label: 'Condition', value: cond, attrs: { autocomplete: 'off', spellcheck: 'false' } }),
            h('div', { class: 'actions' }, h('button', { type: 'button', class: 'link', 'aria-label': `Remove condition ${i + 1}`, onclick: () => row.remove() }, 'Remove')));
        conds.append(row);
        return row;
    }
    function mode() {
        return form.querySelector('input[name="mode"]:checked').value;
    }
    function syncMode() {
        packField.hidden = mode() !== 'pack';
        toolField.hidden = mode() !== 'tool';
    }
    for (const r of modeSet.querySelectorAll('input')) r.addEventListener('change', syncMode);
    function reset() {
        editing = null;
        form.reset();
        conds.replaceChildren();
        condRow();
        syncMode();
        title.textContent = 'Give access';
        submit.textContent = 'Give access';
        cancel.hidden = true;
    }
    reset();

    function rows() {
        return [...conds.querySelectorAll('[data-row]')].map((r) => ({
            i: r.dataset.row,
            tool: val(form, `cond_tool_${r.dataset.row}`),
            cond: val(form, `cond_${r.dataset.row}`),
        }));
    }

    function body() {
        const b = { subject: { type: 'group', id: g.id } };
        if (mode() === 'pack') b.pack = val(form, 'pack');
        else b.tool = val(form, 'tool');
        if (val(form, 'level')) b.level = val(form, 'level');
        const c = {};
        for (const r of rows()) if (r.tool || r.cond) c[r.tool] = r.cond;
        if (Object.keys(c).length) b.conditions = c;
        if (val(form, 'expires')) b.expires = new Date(val(form, 'expires')).toISOString();
        if (val(form, 'reason')) b.reason = val(form, 'reason');
        return b;
    }

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const fields = { pack: ['pack', /no pack is named/], tool: ['tool', /no connector defines|unknown tool/i], level: ['level'], expires: ['expires'], reason: ['reason'] };
        for (const r of rows()) {
            if (r.tool) fields[`cond_${r.i}`] = new RegExp(`condition on ${r.tool.replace(/[^a-z0-9_]/g, '')}\\b|${r.tool.replace(/[^a-z0-9_]/g, '')}\\b.*condition|condition.*${r.tool.replace(/[^a-z0-9_]/g, '')}\\b`);
        }
        fields.conditions = [/condition/i];
        await submitForm(form, {
            check: () => {
                const p = {};
                if (mode() === 'pack' && !val(form, 'pack')) p.pack = 'Choose the pack to give.';
                if (mode() === 'tool') {
                    const t = val(form, 'tool');
                    if (!t) p.tool = 'Enter the tool to give.';
                    else if (!/^[a-z][a-z0-9_]*__[a-z0-9_]+$/.test(t)) p.tool = 'A tool is named connector__tool, in lowercase letters, digits and underscores.';
                }
                const seen = new Set();
                for (const r of rows()) {
                    if (r.cond && !r.tool) p[`cond_tool_${r.i}`] = 'Name the tool this condition applies to.';
                    if (r.tool && !r.cond) p[`cond_${r.i}`] = 'Write the condition, or remove this row.';
                    if (r.tool && seen.has(r.tool)) p[`cond_tool_${r.i}`] = 'This tool already has a condition above; combine them with and.';
                    seen.add(r.tool);
                }
                const e = val(form, 'expires');
                if (e) {
                    const t = new Date(e).getTime();
                    if (Number.isNaN(t)) p.expires = 'Enter a date and time.';
                    else if (t <= Date.now()) p.expires = 'The expiry lies in the past: choose a later time, or leave it empty.';
                }
                return p;
            },
            send: async () => {
                if (editing) await api('PUT', `/grants/${encodeURIComponent(editing.id)}`, body(), { ifMatch: `W/"${editing.version}"` });
                else await api('POST', '/grants', body());
                ctx.navigate(`#/groups/${encodeURIComponent(g.id)}`);
            },
            fields,
        });
    });

    function edit(grant) {
        reset();
        editing = grant;
        form.querySelector(`input[value="${grant.pack ? 'pack' : 'tool'}"]`).checked = true;
        syncMode();
        form.elements.namedItem('pack').value = grant.pack || '';
        form.elements.namedItem('tool').value = grant.tool || '';
        form.elements.namedItem('level').value = grant.level || '';
        form.elements.namedItem('expires').value = grant.expires ? toLocalInput(grant.expires) : '';
        form.elements.namedItem('reason').value = grant.reason || '';
        conds.replaceChildren();
        const c = Object.entries(grant.conditions || {});
        if (c.length) for (const [t, x] of c) condRow(t, x);
        else condRow();
        title.textContent = `Edit the grant of ${grant.pack ? `pack ${grant.pack}` : `tool ${grant.tool}`}`;
        submit.textContent = 'Save changes';
        cancel.hidden = false;
        title.setAttribute('tabindex', '-1');
        title.focus();
    }

    return { node: h('section', { 'aria-label': 'Give access' }, title, form), edit };
}
