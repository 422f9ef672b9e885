// Tool packs: bundles of tools for a job, each entry with a level ceiling. An entry is a whole
// connector (github__*) or one tool (stripe__create_refund). Editing keeps the version it read
// (If-Match), so that two admins cannot silently overwrite each other.

import { api, submitForm, val } from '../api.js';
import { add, empty, field, h, level, table, uid } from '../dom.js';

const LEVELS = ['read', 'write', 'destructive'];

export async function render(view, ctx) {
    const name = ctx.args[0];
    if (name) return renderEditor(view, ctx, name === 'new' ? null : name);
    const packs = await api('GET', '/packs');
    add(view, h('h1', {}, 'Tool packs'),
        h('p', { class: 'lead' }, 'A pack bundles the tools a job needs, each with a level ceiling. Give packs to groups under Groups.'),
        h('p', {}, h('a', { class: 'button', href: '#/packs/new' }, 'Create a pack')),
        table('Tool packs', [
            { label: 'Pack', cell: (p) => h('span', {}, h('a', { href: `#/packs/${encodeURIComponent(p.name)}` }, p.title), h('br'), h('code', {}, p.name)) },
            { label: 'Entries', cell: (p) => h('ul', {}, p.tools.map((t) => h('li', {}, h('code', {}, t.tool), ' up to ', level(t.level)))) },
            { label: 'Description', cell: (p) => p.description || '—' },
        ], packs.items, empty('No tool pack exists yet.', 'Create one for a job, e.g. “Support”: Zendesk up to write, Sentry read-only.')));
}

async function renderEditor(view, ctx, name) {
    let pack = null;
    let etag = null;
    if (name) {
        try {
            pack = await api('GET', `/packs/${encodeURIComponent(name)}`);
            etag = `W/"${pack.version}"`;
        } catch (err) {
            if (err.status !== 404) throw err;
            add(view, h('h1', {}, 'Pack not found'), empty(`No pack is named “${name}”.`, h('a', { href: '#/packs' }, 'Back to Tool packs')));
            return;
        }
    }
    const connectors = await api('GET', '/connectors');
    const entries = new Map((pack ? pack.tools : []).map((t) => [t.tool, t.level]));
    add(view, h('p', {}, h('a', { href: '#/packs' }, '← Tool packs')),
        h('h1', {}, pack ? `Edit pack ${pack.title}` : 'Create a tool pack'));

    const form = h('form', { novalidate: true, 'aria-label': pack ? 'Edit pack' : 'Create pack' },
        pack ? h('p', {}, 'Name: ', h('code', {}, pack.name), ' (used in /mcp/packs/', pack.name, ')')
            : field({ name: 'name', label: 'Name', required: true, hint: '1 to 63 characters of a-z, 0-9, - and _; used in URLs (/mcp/packs/NAME).', attrs: { autocomplete: 'off', spellcheck: 'false' } }),
        field({ name: 'title', label: 'Title', required: true, value: pack ? pack.title : '', hint: 'Shown to admins, e.g. “Customer Support”.' }),
        field({ name: 'description', label: 'Description', type: 'textarea', value: pack ? pack.description || '' : '', hint: 'Optional: the intent of the pack.' }),
        h('h2', {}, 'Tools'),
        h('p', { class: 'hint' }, 'Tick a whole connector, or single tools; each entry has a level ceiling: a tool above it is not in the pack.'),
        h('div', { dataset: { field: 'tools' } }, h('p', { class: 'error', id: 'pack-tools-err', role: 'alert' })),
        connectors.items.map((c) => connectorBlock(c, entries)),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, pack ? 'Save pack' : 'Create pack')));

    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const tools = [];
        for (const cb of form.querySelectorAll('input[type="checkbox"][data-tool]')) {
            if (!cb.checked) continue;
            const lvl = form.querySelector(`select[data-level-for="${CSS.escape(cb.dataset.tool)}"]`).value;
            tools.push({ tool: cb.dataset.tool, level: lvl });
        }
        const body = { title: val(form, 'title'), tools };
        if (val(form, 'description')) body.description = val(form, 'description');
        await submitForm(form, {
            check: () => {
                const p = {};
                if (!pack) {
                    const n = val(form, 'name');
                    if (!n) p.name = 'Give the pack a name.';
                    else if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(n)) p.name = 'Use 1 to 63 characters of a-z, 0-9, - and _, starting with a letter or digit.';
                }
                if (!body.title) p.title = 'Give the pack a title.';
                if (!tools.length) p.tools = 'Tick at least one connector or tool.';
                return p;
            },
            send: async () => {
                let saved;
                if (pack) saved = await api('PUT', `/packs/${encodeURIComponent(pack.name)}`, { name: pack.name, ...body }, { ifMatch: etag });
                else saved = await api('POST', '/packs', { name: val(form, 'name'), ...body });
                ctx.navigate(`#/packs/${encodeURIComponent(saved.name)}`);
            },
            fields: { name: ['name', /already exists|exists/], title: ['title'], description: ['description'], tools: ['tools', /tool/i] },
        });
    });
    add(view, form);

    if (pack) {
        const del = h('div', { class: 'actions' });
        const ask = h('button', {
            type: 'button', class: 'danger',
            onclick: () => {
                del.replaceChildren(h('span', {}, `Delete pack ${pack.name}? `),
                    h('button', {
                        type: 'button', class: 'danger', onclick: async () => {
                            try {
                                await api('DELETE', `/packs/${encodeURIComponent(pack.name)}`);
                                ctx.navigate('#/packs');
                            } catch (err) {
                                del.append(h('p', { class: 'error', role: 'alert' }, err.message));
                            }
                        },
                    }, 'Confirm delete'),
                    h('button', { type: 'button', class: 'secondary', onclick: () => del.replaceChildren(ask) }, 'Cancel'));
                del.querySelector('button').focus();
            },
        }, 'Delete this pack');
        del.append(ask);
        add(view, h('h2', {}, 'Delete'), h('p', { class: 'hint' }, 'A pack that grants still give cannot be deleted; remove those grants first.'), del);
    }
}

/* One connector: a "whole connector" entry and one entry per tool, each with its ceiling. */
function connectorBlock(c, entries) {
    const all = `${c.name}__*`;
    const inPack = [all, ...c.tools.map((t) => t.full_name)].some((t) => entries.has(t));
    return h('details', { open: inPack },
        h('summary', {}, `${c.title} (${c.tools.length} tools)`),
        h('div', { class: 'panel' },
            entry(all, `All ${c.title} tools`, entries.get(all) || 'read', entries.has(all)),
            c.tools.map((t) => entry(t.full_name, `${t.title} — ${t.full_name} (${t.level})`, entries.get(t.full_name) || t.level, entries.has(t.full_name)))));
}

function entry(tool, label, lvl, checked) {
    const id = uid('entry');
    const sel = uid('lvl');
    return h('div', { class: 'inline' },
        h('div', { class: 'check' },
            h('input', { type: 'checkbox', id, checked, dataset: { tool } }),
            h('label', { for: id }, label)),
        h('div', { class: 'check' },
            h('span', { 'aria-hidden': 'true' }, 'up to'),
            h('select', { id: sel, 'aria-label': `Ceiling for ${tool}`, dataset: { levelFor: tool } }, LEVELS.map((l) => h('option', { value: l, selected: l === lvl }, l)))));
}
