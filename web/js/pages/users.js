// Users: what the identity provider pushed, searchable; one user's status, groups and
// effective tools, each with the grant behind it. Users are changed in the identity provider,
// never here, so that it stays the source of truth.

import { api, qs, scimString } from '../api.js';
import { add, badge, empty, field, fmtTime, h, level, table } from '../dom.js';
import { userEventsFilter } from './audit.js';

const PAGE = 50;

export async function render(view, ctx) {
    if (ctx.args[0] && ctx.args[1] === 'history') return renderHistory(view, ctx, ctx.args[0]);
    if (ctx.args[0]) return renderUser(view, ctx, ctx.args[0]);
    const q = ctx.query.get('q') || '';
    const start = Math.max(1, Number(ctx.query.get('start')) || 1);
    const filter = q ? `userName co ${scimString(q)} or displayName co ${scimString(q)}` : '';
    const list = await api('GET', `/users${qs({ filter, startIndex: start, count: PAGE })}`);
    add(view, h('h1', {}, 'Users'),
        h('p', { class: 'lead' }, 'People your identity provider has provisioned. Select one to see their groups and the tools their agents may use.'),
        searchForm(ctx, q, 'users', 'Search users', 'Part of a userName or display name'));
    const rows = list.items;
    add(view, table('Users', [
        { label: 'User', cell: (u) => h('a', { href: `#/users/${encodeURIComponent(u.id)}` }, u.userName) },
        { label: 'Name', cell: (u) => u.displayName || '—' },
        { label: 'Status', cell: (u) => (u.active ? badge('active', 'ok') : badge('deactivated', 'bad')) },
    ], rows, q
        ? empty(`No user matches “${q}”.`, 'Try part of the email address, or clear the search.')
        : empty('No user has been provisioned yet.', h('span', {}, 'Connect your identity provider under ', h('a', { href: '#/provisioning' }, 'Provisioning'), ' and assign people to the SCIM app.'))));
    add(view, pager(list, start, (s) => `#/users${qs({ q, start: s }).replace('?', '?')}`));
}

export function searchForm(ctx, q, page, label, hint) {
    const form = h('form', { role: 'search', 'aria-label': `${label} form`, novalidate: true },
        h('div', { class: 'inline' },
            field({ name: 'q', label, type: 'search', value: q, hint }),
            h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Search'))));
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const v = form.elements.namedItem('q').value.trim();
        ctx.navigate(`#/${page}${qs({ q: v })}`);
    });
    return form;
}

export function pager(list, start, href) {
    if (list.total <= list.count && start === 1) return null;
    const end = start + list.count - 1;
    return h('nav', { class: 'actions', 'aria-label': 'Pages' },
        h('span', {}, `${list.count ? `${start}–${end}` : 0} of ${list.total}`),
        start > 1 ? h('a', { href: href(Math.max(1, start - PAGE)) }, 'Previous') : null,
        end < list.total ? h('a', { href: href(end + 1) }, 'Next') : null);
}

function grantLine(g) {
    const who = g.subject.type === 'everyone' ? 'everyone'
        : g.subject.type === 'group'
            ? h('a', { href: `#/groups/${encodeURIComponent(g.subject.id)}` }, `group ${g.subject.display || g.subject.id}`)
            : `this user directly`;
    return h('li', {},
        g.pack ? h('span', {}, 'pack ', h('a', { href: `#/packs/${encodeURIComponent(g.pack)}` }, g.pack)) : 'the tool itself',
        ' via ', who,
        g.subject.nested ? ' (nested group)' : '',
        `, ceiling ${g.ceiling}`,
        g.condition ? h('span', {}, ', only when ', h('code', {}, g.condition)) : '',
        g.expires ? `, until ${fmtTime(g.expires)}` : '');
}

async function renderUser(view, ctx, id) {
    let u;
    try {
        u = await api('GET', `/users/${encodeURIComponent(id)}`);
    } catch (err) {
        if (err.status !== 404) throw err;
        add(view, h('h1', {}, 'User not found'),
            empty('No user has this id.', h('a', { href: '#/users' }, 'Back to Users')));
        return;
    }
    add(view, h('p', {}, h('a', { href: '#/users' }, '← Users')),
        h('h1', {}, u.displayName ? `${u.displayName} (${u.userName})` : u.userName),
        h('dl', { class: 'kv' },
            h('dt', {}, 'Status'), h('dd', {}, u.active ? badge('active', 'ok') : badge('deactivated: every decision denies', 'bad')),
            h('dt', {}, 'userName'), h('dd', {}, u.userName),
            h('dt', {}, 'SCIM id'), h('dd', { class: 'mono' }, u.id),
            u.externalId ? [h('dt', {}, 'externalId'), h('dd', { class: 'mono' }, u.externalId)] : null,
            h('dt', {}, 'Last change'), h('dd', {}, fmtTime(u.modified))));
    add(view, h('h2', {}, 'Groups'),
        u.groups.length
            ? h('ul', {}, u.groups.map((g) => h('li', {}, h('a', { href: `#/groups/${encodeURIComponent(g.id)}` }, g.displayName || g.id), g.direct ? '' : ' (through a nested group)')))
            : empty('Not in any group.', 'Add the user to a group in the identity provider; groups carry access.'));
    add(view, h('h2', {}, `Effective tools (${u.entitlements.length})`),
        h('p', { class: 'lead' }, 'What this user\'s agents may call now, and the grant behind each. Conditions are checked on every call; try one in the ',
            h('a', { href: `#/decisions?user=${encodeURIComponent(u.userName)}` }, 'Decision explorer'), '.'),
        table('Effective tools', [
            { label: 'Tool', cell: (t) => h('span', {}, h('code', {}, t.name), h('br'), t.title || '') },
            { label: 'Level', cell: (t) => level(t.level) },
            { label: 'Granted by', cell: (t) => h('ul', {}, t.grants.map(grantLine)) },
        ], u.entitlements, empty('This user may use no tool.',
            u.active ? h('span', {}, 'Give one of their groups a pack under ', h('a', { href: '#/groups' }, 'Groups'), '.') : 'The user is deactivated in the identity provider.')));
    add(view, h('h2', {}, 'Agents'),
        h('p', {}, h('a', { href: `#/agents?user=${encodeURIComponent(u.userName)}` }, 'Agent tokens for this user')));
    add(view, h('h2', {}, 'Audit'),
        h('ul', {},
            h('li', {}, h('a', { href: `#/users/${encodeURIComponent(u.id)}/history` }, 'Group history'), ': when they joined and left which group, and were created, renamed or deactivated.'),
            h('li', {}, h('a', { href: `#/audit${qs({ filter: `user.id eq ${scimString(u.id)} and type sw "tool."` })}` }, 'Their agents\' calls'), ': every tool call and denial.'),
            h('li', {}, h('a', { href: `#/audit${qs({ filter: userEventsFilter(u.id) })}` }, 'All their audit events'), ': calls, SCIM changes to them and their groups, their agent tokens and direct grants.')));
}

/* One entry of a user's history in words, with the group linked. */
function historyChange(e) {
    const group = e.group ? h('a', { href: `#/groups/${encodeURIComponent(e.group.id)}` }, e.group.displayName || e.group.id) : null;
    switch (e.change) {
    case 'created': return h('span', {}, 'created as ', h('code', {}, e.userName || ''), e.active === false ? ', deactivated' : '');
    case 'first_seen': return h('span', {}, 'first seen in the log as ', h('code', {}, e.userName || ''), ' (created before the log began)');
    case 'renamed': return h('span', {}, 'renamed from ', h('code', {}, e.from || ''), ' to ', h('code', {}, e.userName || ''));
    case 'activated': return badge('activated', 'ok');
    case 'deactivated': return badge('deactivated', 'bad');
    case 'joined': return h('span', {}, 'joined group ', group);
    case 'left': return h('span', {}, 'left group ', group, e.group_deleted ? ' (the group was deleted)' : '');
    case 'deleted': return badge('deleted', 'bad');
    default: return e.change;
    }
}

/* A user's group history from the audit log: GET /users/{id}/history (also for deleted users). */
async function renderHistory(view, ctx, id) {
    const start = Math.max(1, Number(ctx.query.get('start')) || 1);
    let hist;
    try {
        hist = await api('GET', `/users/${encodeURIComponent(id)}/history${qs({ startIndex: start, count: PAGE })}`);
    } catch (err) {
        if (err.status !== 404) throw err;
        add(view, h('p', {}, h('a', { href: '#/users' }, '← Users')), h('h1', {}, 'History not found'),
            empty(`${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`, h('a', { href: '#/users' }, 'Back to Users')));
        return;
    }
    const u = hist.user;
    const name = u.userName || u.id;
    add(view, h('p', {}, h('a', { href: `#/users/${encodeURIComponent(u.id)}` }, `← ${name}`)),
        h('h1', {}, `Group history of ${name}`),
        h('p', { class: 'lead' }, 'From the SCIM changes in the audit log, newest first. Direct memberships only: a group nested in another is that group\'s history.'),
        h('dl', { class: 'kv' },
            h('dt', {}, 'The log begins'), h('dd', {}, fmtTime(hist.history_starts, 'the log is empty')),
            h('dt', {}, 'Complete'), h('dd', {}, hist.complete ? badge('yes', 'ok') : badge('no', 'warn'))),
        hist.note ? h('p', { class: 'notice warn' }, hist.note) : null,
        table('Group history', [
            { label: 'Time', cell: (e) => fmtTime(e.time) },
            { label: 'Change', cell: historyChange },
            { label: 'Event', cell: (e) => h('a', { href: `#/audit/${e.seq}`, 'aria-label': `Event ${e.seq}` }, String(e.seq)) },
        ], hist.items, empty('The audit log holds no change to this user.', 'Changes appear here as the identity provider makes them.')),
        pager(hist, start, (s) => `#/users/${encodeURIComponent(u.id)}/history${qs({ start: s })}`),
        h('p', {}, h('a', { href: `#/audit${qs({ filter: userEventsFilter(u.id) })}` }, 'All their audit events')));
}
