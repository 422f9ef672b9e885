// Audit: the hash-chained audit log (docs/audit.md) as an investigator uses it. Three tabs:
//
//   #/audit?filter=F&since=T&until=T&before=N|after=N   search the events, newest first
//   #/audit/SEQ                                        one event, whole, with its hashes
//   #/audit/chain                                      the writer's state; verify the chain now
//   #/audit/access-at?time=T&tool=X                    who could use a tool at a past time
//
// The search lives in the page's address, so that a search can be reloaded, bookmarked and
// sent to a colleague, and the back button returns to it from an event. A search is sent to
// the API before the address changes: a filter or a time the API refuses is answered next to
// its field with the API's own message, and the page stays as it was.

import { api, qs, scimString, showApiError, submitForm, val } from '../api.js';
import { add, announce, badge, empty, field, h, table, uid } from '../dom.js';
import { explain } from './decisions.js';

const PAGE = 50;

/* Which field of the search form an API error is about, by the words of its detail. */
const SEARCH_FIELDS = { filter: [/filter/i], since: ['since'], until: ['until'] };

/* The access-at form's fields; "time ..." starts every message about the time. */
const ACCESS_FIELDS = { time: [/^time\b/i], tool: [/tool/i] };

const TYPES = {
    'tool.call': 'tool call',
    'tool.denied': 'denied call',
    'scim.change': 'SCIM change',
    'admin.change': 'admin change',
    'auth.failure': 'refused credential',
    'audit.checkpoint': 'checkpoint',
    'audit.pruned': 'pruned',
};

/* The ready-made filters: [button label, SCIM filter]. */
const READY = [
    ['Denied calls', 'type eq "tool.denied"'],
    ['Tool calls', 'type eq "tool.call"'],
    ['Changes by SCIM', 'type eq "scim.change"'],
    ['Admin changes', 'type eq "admin.change"'],
    ['Refused credentials', 'type eq "auth.failure"'],
];

/* The ready-made time ranges: [button label, how far back in ms, 0 for no limit]. */
const RANGES = [
    ['Last hour', 3600e3],
    ['Last 24 hours', 86400e3],
    ['Last 7 days', 7 * 86400e3],
    ['Any time', 0],
];

/* A user's tool calls and denials, by userName (as an admin types it; matched case-insensitively). */
export function userCallsFilter(userName) {
    return `user.userName eq ${scimString(userName)} and type sw "tool."`;
}

/*
 * Every event about one user, by SCIM id: their agents' calls, SCIM changes to them and to
 * groups they joined or left, agent tokens made for them and grants given to them directly.
 * Three-level paths (changes.members.id) are not in the SCIM filter grammar, so members are
 * matched with a value filter (changes[members.id eq ...]).
 */
export function userEventsFilter(id) {
    const v = scimString(id);
    return `user.id eq ${v} or changes.id eq ${v} or changes[members.id eq ${v}] or after.user_id eq ${v} ` +
        `or after[subject.id eq ${v}] or before[subject.id eq ${v}]`;
}

/* A search that has just been answered, handed from the form to the render it navigates to. */
let answered = null;

function take(key) {
    const a = answered;
    answered = null;
    return a && a.key === key ? a.value : null;
}

export async function render(view, ctx) {
    const sub = ctx.args[0];
    if (sub === 'chain') return renderChain(view);
    if (sub === 'access-at') return renderAccessAt(view, ctx);
    if (sub !== undefined) return renderEvent(view, ctx, sub);
    return renderEvents(view, ctx);
}

function tabs(current) {
    return h('nav', { class: 'tabs', 'aria-label': 'Audit' },
        [['', 'Events'], ['chain', 'Chain status'], ['access-at', 'Who could use a tool']].map(([k, label]) =>
            h('a', { href: k ? `#/audit/${k}` : '#/audit', 'aria-current': k === current ? 'page' : false }, label)));
}

/* ---- time ---- */

/* "2026-11-28 17:53:08 UTC": audit events are compared to the second, so seconds are shown. */
function fmtSec(iso) {
    const d = new Date(iso);
    if (!iso || Number.isNaN(d.getTime())) return iso || '—';
    return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/* The API's phrase as a sentence: capitalised, with a full stop. */
function sentence(s) {
    const t = String(s).trim();
    const c = t.charAt(0).toUpperCase() + t.slice(1);
    return /[.!?]$/.test(c) ? c : `${c}.`;
}

/* Now (or ms ago) as RFC 3339 in UTC to the second, the form the API takes. */
function isoAgo(ms = 0) {
    return `${new Date(Date.now() - ms).toISOString().slice(0, 19)}Z`;
}

/* ---- one event in words ---- */

function userLink(u) {
    if (!u) return 'unknown user';
    const name = u.userName || u.id || 'unknown user';
    if (!u.id || u.exists === false) return name;
    return h('a', { href: `#/users/${encodeURIComponent(u.id)}` }, name);
}

/* Who acted: the employee behind an agent, a SCIM or admin token (by name), or a client address. */
function who(ev, tokenNames) {
    const a = ev.actor || {};
    const tokenName = (id, name) => name || tokenNames.get(id) || id || 'unknown';
    switch (ev.type) {
    case 'tool.call':
    case 'tool.denied':
        return h('span', {}, userLink(ev.user),
            ev.agent ? h('span', { class: 'sub' }, `agent token “${tokenName(ev.agent.token_id, ev.agent.token_name)}”`) : null);
    case 'scim.change':
        return `SCIM token “${tokenName(a.token_id, a.token_name)}”`;
    case 'admin.change':
        return `admin token “${tokenName(a.token_id, a.token_name)}”`;
    case 'auth.failure':
        return h('span', {}, a.address || 'unknown address', h('span', { class: 'sub' }, `wanted a${ev.wanted === 'admin' || ev.wanted === 'agent' ? 'n' : ''} ${ev.wanted || ''} token`));
    default:
        return 'mandate';
    }
}

const VERBS = { create: 'created', replace: 'replaced', patch: 'changed', delete: 'deleted' };

function scimChange(c) {
    const what = (c.after && (c.after.userName || c.after.displayName)) || c.id;
    const members = c.members || [];
    const added = members.filter((m) => m.op === 'add').length;
    const removed = members.filter((m) => m.op === 'remove').length;
    const parts = [];
    if (members.some((m) => m.op === 'clear')) parts.push('members cleared');
    if (added) parts.push(`${added} member${added === 1 ? '' : 's'} added`);
    if (removed) parts.push(`${removed} member${removed === 1 ? '' : 's'} removed`);
    return `${VERBS[c.op] || c.op} ${c.resource} ${what}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/* The tool called, or the change made, in a few words. */
function what(ev) {
    switch (ev.type) {
    case 'tool.call':
    case 'tool.denied':
        return h('code', {}, ev.tool || '—');
    case 'scim.change': {
        const cs = ev.changes || [];
        const shown = cs.slice(0, 3).map(scimChange);
        if (cs.length > 3) shown.push(`and ${cs.length - 3} more`);
        return h('span', {}, h('code', {}, `${ev.method} ${ev.path}`), shown.length ? h('span', { class: 'sub' }, shown.join('; ')) : null);
    }
    case 'admin.change': {
        // What the change was about, when its answer names it: a grant's pack or tool, or a token's, pack's or connector's name.
        const o = ev.after && typeof ev.after === 'object' ? ev.after : ev.before && typeof ev.before === 'object' ? ev.before : {};
        const name = o.pack ? `pack ${o.pack}` : o.tool && typeof o.tool === 'string' ? `tool ${o.tool}` : o.name || o.connector;
        return h('span', {}, h('code', {}, `${ev.method} ${ev.path}`), name ? h('span', { class: 'sub' }, String(name)) : null);
    }
    case 'auth.failure':
        return h('span', {}, h('code', {}, `${ev.method} ${ev.path}`), h('span', { class: 'sub' }, ev.reason || ''));
    case 'audit.checkpoint':
        return ev.checkpoint ? `vouches for events up to ${ev.checkpoint.seq}` : 'checkpoint';
    case 'audit.pruned':
        return `events before ${ev.below_seq} removed`;
    default:
        return '—';
    }
}

function outcome(ev) {
    switch (ev.type) {
    case 'tool.call':
        return h('span', {}, badge(ev.outcome || '?', ev.outcome === 'ok' ? 'ok' : 'bad'),
            ev.upstream && ev.upstream.status ? ` upstream ${ev.upstream.status}` : '');
    case 'tool.denied':
        return h('span', {}, badge('denied', 'bad'), ev.decision && ev.decision.reason ? h('span', { class: 'sub' }, ev.decision.reason) : null);
    case 'scim.change':
    case 'admin.change':
        return badge(String(ev.status), ev.status < 400 ? 'ok' : 'bad');
    case 'auth.failure':
        return h('span', {}, badge('refused', 'bad'), ev.suppressed ? h('span', { class: 'sub' }, `${ev.suppressed} more not recorded`) : null);
    default:
        return '—';
    }
}

/* Admin token names by id, for admin changes (their events carry only the id). */
async function tokenNames() {
    try {
        const t = await api('GET', '/tokens');
        return new Map(t.items.map((x) => [x.id, x.name]));
    } catch (err) {
        if (err.status === 401) throw err;
        return new Map();
    }
}

/* ---- the events ---- */

function searchOf(query) {
    return { filter: query.get('filter') || '', since: query.get('since') || '', until: query.get('until') || '' };
}

/* The page of the search: newest first before seq `before`, or the page just after seq `after`. */
function apiPath(s, pos = {}) {
    return `/audit${qs({
        filter: s.filter, since: s.since, until: s.until, count: PAGE,
        cursor: pos.after || pos.before, order: pos.after ? 'asc' : undefined,
    })}`;
}

function hashOf(s, pos = {}) {
    return `#/audit${qs({ filter: s.filter, since: s.since, until: s.until, before: pos.before, after: pos.after })}`;
}

async function renderEvents(view, ctx) {
    const s = searchOf(ctx.query);
    const pos = { before: ctx.query.get('before') || '', after: ctx.query.get('after') || '' };
    const key = hashOf(s, pos);
    const [names, users] = await Promise.all([tokenNames(), api('GET', '/users?count=200').catch((e) => {
        if (e.status === 401) throw e;
        return { items: [] };
    })]);
    let page = take(key);
    let refused = null;
    if (!page) {
        try {
            page = await api('GET', apiPath(s, pos));
        } catch (err) {
            if (err.status !== 400) throw err;
            refused = err;
        }
    }
    const form = searchForm(ctx, s, users.items);
    add(view, h('h1', {}, 'Audit'), tabs(''),
        h('p', { class: 'lead' }, 'Every tool call and denial, every SCIM and admin change and every refused credential, in one hash-chained log. Search it with a filter over the events\' fields.'),
        form);
    if (refused) {
        // An address with a search the API refuses (typed, or from an old bookmark).
        showApiError(form, refused, SEARCH_FIELDS);
        add(view, empty('This search cannot be run.', 'Correct the field marked above, or choose a ready-made filter.'));
        return;
    }
    // A page after `after` comes oldest first: shown newest first like the others.
    const events = pos.after ? page.events.slice().reverse() : page.events;
    const searching = Boolean(s.filter || s.since || s.until);
    const paged = Boolean(pos.before || pos.after);
    let none;
    if (paged) none = empty('No more events this way.', h('a', { href: hashOf(s) }, 'Go to the newest events.'));
    else if (searching) none = empty('No event matches this search.', 'Widen the time range, try a ready-made filter, or clear the search.');
    else {
        none = empty('The audit log has no event yet.',
            h('span', {}, 'It records every tool call and denial, every SCIM and admin change and every refused credential. Give a group access under ',
                h('a', { href: '#/groups' }, 'Groups'), ' and connect an agent under ', h('a', { href: '#/agents' }, 'Agents'), ': their calls appear here.'));
    }
    add(view, h('h2', {}, searching ? 'Matching events' : 'Events'),
        events.length ? h('p', { class: 'hint' }, `${events.length} event${events.length === 1 ? '' : 's'}, events ${events[0].seq} to ${events[events.length - 1].seq}, newest first.`) : null,
        table('Audit events', [
            { label: 'Event', cell: (e) => h('a', { href: `#/audit/${e.seq}${qs({ ...s, before: pos.before, after: pos.after })}`, 'aria-label': `Event ${e.seq}` }, String(e.seq)) },
            { label: 'Time', cell: (e) => h('span', { class: 'nowrap' }, fmtSec(e.time)) },
            { label: 'Type', cell: (e) => TYPES[e.type] || e.type },
            { label: 'Who', cell: (e) => who(e, names) },
            { label: 'Tool or change', cell: (e) => what(e) },
            { label: 'Outcome', cell: (e) => outcome(e) },
        ], events, none, { stack: true }),
        pager(s, pos, page, events));
}

/* Newest, newer and older pages. The API pages by seq: older before the last seq shown, newer after the first. */
function pager(s, pos, page, events) {
    const paged = Boolean(pos.before || pos.after);
    // Going newer, next_cursor says whether still newer events exist; going older, whether older ones do.
    const newer = pos.before || (pos.after && page.next_cursor);
    const older = pos.after ? true : Boolean(page.next_cursor);
    if (!paged && !older) return null;
    return h('nav', { class: 'actions', 'aria-label': 'Pages of events' },
        paged ? h('a', { href: hashOf(s) }, 'Newest') : null,
        newer && events.length ? h('a', { href: hashOf(s, { after: String(events[0].seq) }) }, 'Newer') : null,
        older && events.length ? h('a', { href: hashOf(s, { before: String(events[events.length - 1].seq) }) }, 'Older') : null);
}

function searchForm(ctx, s, users) {
    const usersId = uid('audit-users');
    const form = h('form', { role: 'search', 'aria-label': 'Search the audit log', novalidate: true },
        field({ name: 'filter', label: 'Filter', value: s.filter,
            hint: 'The SCIM filter syntax over event fields, e.g. tool sw "stripe__" and outcome eq "ok". Fields: type, tool, level, outcome, user.userName, user.id, decision.reason, actor.token_id, method, path, status. Empty: every event.',
            attrs: { class: 'mono', autocomplete: 'off', spellcheck: 'false' } }),
        h('fieldset', {},
            h('legend', {}, 'Ready-made filters'),
            h('div', { class: 'actions presets' },
                READY.map(([label, f]) => h('button', { type: 'button', class: 'secondary', onclick: () => run({ filter: f }) }, label))),
            h('datalist', { id: usersId }, users.map((u) => h('option', { value: u.userName }, u.displayName || ''))),
            h('div', { class: 'inline' },
                field({ name: 'user', label: 'User', hint: 'A userName, for “This user\'s calls”.', attrs: { list: usersId, autocomplete: 'off', spellcheck: 'false' } }),
                h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => runUser() }, 'This user\'s calls')))),
        h('fieldset', {},
            h('legend', {}, 'Time range'),
            h('div', { class: 'inline' },
                field({ name: 'since', label: 'From', value: s.since, hint: 'RFC 3339, UTC unless an offset is given: 2026-11-28 or 2026-11-28T09:00:00Z.', attrs: { autocomplete: 'off', spellcheck: 'false' } }),
                field({ name: 'until', label: 'Until', value: s.until, hint: 'The same form; events before this time.', attrs: { autocomplete: 'off', spellcheck: 'false' } })),
            h('div', { class: 'actions presets' },
                RANGES.map(([label, ms]) => h('button', { type: 'button', class: 'secondary', onclick: () => run({ since: ms ? isoAgo(ms) : '', until: '' }) }, label)))),
        h('div', { class: 'actions' },
            h('button', { type: 'submit' }, 'Search'),
            h('a', { href: '#/audit' }, 'Clear the search')));

    const input = (name) => form.elements.namedItem(name);
    /* Runs the search of the form with `change` written into it first (a ready-made filter or range). */
    async function run(change = {}, check) {
        for (const [k, v] of Object.entries(change)) input(k).value = v;
        const next = { filter: val(form, 'filter'), since: val(form, 'since'), until: val(form, 'until') };
        await submitForm(form, {
            check,
            send: async () => {
                const page = await api('GET', apiPath(next));
                const key = hashOf(next);
                answered = { key, value: page };
                ctx.navigate(key);
            },
            fields: SEARCH_FIELDS,
        });
    }
    function runUser() {
        const u = val(form, 'user');
        return run(u ? { filter: userCallsFilter(u) } : {},
            () => (u ? {} : { user: 'Enter the userName whose calls to show, e.g. ann@example.com.' }));
    }
    form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        // Enter in the User field means that user's calls; anywhere else, the search as typed.
        if (document.activeElement === input('user')) runUser();
        else run();
    });
    return form;
}

/* ---- one event ---- */

/* A before/after comparison of an admin change, member by member: what the change changed. */
function changedFields(before, after) {
    if (!before || !after || typeof before !== 'object' || typeof after !== 'object') return [];
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    const text = (v) => (v === undefined ? '(none)' : JSON.stringify(v));
    return keys.filter((k) => k !== 'modified' && k !== 'version' && JSON.stringify(before[k]) !== JSON.stringify(after[k]))
        .map((k) => ({ key: k, before: text(before[k]), after: text(after[k]) }));
}

function summary(ev, names) {
    const a = ev.actor || {};
    switch (ev.type) {
    case 'tool.call':
        return `An agent acting for ${ev.user ? ev.user.userName : 'an unknown user'} called ${ev.tool}: ${ev.outcome}` +
            `${ev.upstream && ev.upstream.status ? `, the upstream answered ${ev.upstream.status} in ${ev.upstream.ms} ms` : ''}.`;
    case 'tool.denied':
        return `An agent acting for ${ev.user ? ev.user.userName : 'an unknown user'} was refused ${ev.tool}` +
            `${ev.decision && ev.decision.message ? `: ${ev.decision.message.replace(/^denied: /, '')}` : ''}.`;
    case 'scim.change':
        return `The identity provider (SCIM token “${a.token_name || names.get(a.token_id) || a.token_id}”) sent ${ev.method} ${ev.path}, answered ${ev.status}: ${(ev.changes || []).map(scimChange).join('; ') || 'no change'}.`;
    case 'admin.change':
        return `An admin (token “${names.get(a.token_id) || a.token_id}”) sent ${ev.method} ${ev.path}, answered ${ev.status}.`;
    case 'auth.failure':
        return `${a.address || 'A client'} was refused on ${ev.method} ${ev.path}: ${ev.reason}.`;
    case 'audit.checkpoint':
        return ev.checkpoint ? `A checkpoint: a MAC over event ${ev.checkpoint.seq}'s hash, under a key kept outside the database.` : 'A checkpoint.';
    case 'audit.pruned':
        return `Events before ${ev.below_seq} were removed; this event vouches for the last one removed.`;
    default:
        return '';
    }
}

/* What an investigator asks first about a call: the employee's groups then, the level, the arguments. */
function toolRows(ev) {
    if (ev.type !== 'tool.call' && ev.type !== 'tool.denied') return null;
    const groups = ev.groups || [];
    const client = ev.agent && ev.agent.client;
    return [
        h('dt', {}, 'Level'), h('dd', {}, ev.level || '—'),
        h('dt', {}, 'Groups then'), h('dd', {}, groups.length
            ? groups.map((g, i) => [i ? ', ' : '', h('a', { href: `#/groups/${encodeURIComponent(g.id)}` }, g.display || g.id), g.direct ? '' : ' (nested)'])
            : 'none'),
        h('dt', {}, 'Endpoint'), h('dd', {}, h('code', {}, ev.endpoint || '—'), ev.pack ? ` (pack ${ev.pack})` : ''),
        client && client.name ? [h('dt', {}, 'Agent'), h('dd', {}, `${client.name}${client.version ? ` ${client.version}` : ''}`)] : null,
        ev.decision && ev.decision.grant ? [h('dt', {}, 'Allowed by grant'), h('dd', { class: 'mono' }, ev.decision.grant)] : null,
        h('dt', {}, 'Arguments'), h('dd', {}, h('code', {}, JSON.stringify(ev.arguments ?? {})),
            h('span', { class: 'sub' }, 'Values a connector marks sensitive are recorded as “[redacted]”; arguments_sha256 below proves what was sent.')),
    ];
}

async function renderEvent(view, ctx, seqArg) {
    const back = `#/audit${qs({ filter: ctx.query.get('filter'), since: ctx.query.get('since'), until: ctx.query.get('until'), before: ctx.query.get('before'), after: ctx.query.get('after') })}`;
    const seq = Number(seqArg);
    let ev;
    try {
        if (!Number.isSafeInteger(seq) || seq < 1) throw Object.assign(new Error(`no audit event ${seqArg}: events are numbered 1, 2, 3...`), { status: 404 });
        ev = await api('GET', `/audit/${seq}`);
    } catch (err) {
        if (err.status !== 404) throw err;
        add(view, h('p', {}, h('a', { href: back }, '← Events')),
            h('h1', {}, 'Event not found'),
            empty(sentence(err.message), 'It may never have been written, or it was pruned. Search the events for what you are after.'));
        return;
    }
    // The events just before and after this one, which need not be seq ± 1 after a prune.
    const [names, older, newer] = await Promise.all([
        tokenNames(),
        api('GET', `/audit${qs({ count: 1, cursor: seq })}`),
        api('GET', `/audit${qs({ count: 1, cursor: seq, order: 'asc' })}`),
    ]);
    const keep = qs({ filter: ctx.query.get('filter'), since: ctx.query.get('since'), until: ctx.query.get('until') });
    add(view, h('p', {}, h('a', { href: back }, '← Events')),
        h('h1', {}, `Event ${ev.seq}: ${TYPES[ev.type] || ev.type}`),
        h('p', { class: 'lead' }, summary(ev, names)),
        h('dl', { class: 'kv' },
            h('dt', {}, 'Seq'), h('dd', {}, String(ev.seq)),
            h('dt', {}, 'Time'), h('dd', {}, ev.time),
            h('dt', {}, 'Type'), h('dd', {}, h('code', {}, ev.type)),
            h('dt', {}, 'Who'), h('dd', {}, who(ev, names)),
            h('dt', {}, 'Tool or change'), h('dd', {}, what(ev)),
            h('dt', {}, 'Outcome'), h('dd', {}, outcome(ev)),
            toolRows(ev),
            h('dt', {}, 'Event id'), h('dd', { class: 'mono' }, ev.id),
            ev.request_id ? [h('dt', {}, 'Request id'), h('dd', { class: 'mono' }, ev.request_id)] : null,
            h('dt', {}, 'Hash'), h('dd', { class: 'mono' }, ev.hash),
            h('dt', {}, 'Previous hash'), h('dd', { class: 'mono' }, ev.prev_hash || '(none: the first event)')),
        h('p', { class: 'hint' }, 'The hash is SHA-256 over the previous event\'s hash and this event\'s document; verifying the chain recomputes every one (Chain status).'));
    if (ev.user && ev.user.id) {
        add(view, h('p', {}, h('a', { href: `#/audit${qs({ filter: userEventsFilter(ev.user.id) })}` }, `Every event about ${ev.user.userName || ev.user.id}`)));
    }
    if (ev.type === 'tool.denied' && ev.decision) add(view, explain(ev.decision));
    if (ev.type === 'admin.change' && ev.before) {
        const rows = changedFields(ev.before, ev.after);
        add(view, h('h2', {}, 'What changed'),
            table('What changed', [
                { label: 'Field', cell: (r) => h('code', {}, r.key) },
                { label: 'Before', cell: (r) => h('code', {}, r.before) },
                { label: 'After', cell: (r) => h('code', {}, r.after) },
            ], rows, empty('No field differs between before and after.', 'The whole event below has both.')));
    }
    add(view, h('h2', {}, 'The whole event'),
        h('pre', { class: 'event', tabindex: '0', role: 'region', 'aria-label': 'The whole event as JSON' }, JSON.stringify(ev, null, 2)),
        h('nav', { class: 'actions', 'aria-label': 'Neighbouring events' },
            older.events.length ? h('a', { href: `#/audit/${older.events[0].seq}${keep}` }, `← Older: event ${older.events[0].seq}`) : null,
            newer.events.length ? h('a', { href: `#/audit/${newer.events[0].seq}${keep}` }, `Newer: event ${newer.events[0].seq} →`) : null));
}

/* ---- the chain ---- */

async function renderChain(view) {
    // The log's newest event, as the writer's counters start again with every server start.
    const [st, newest] = await Promise.all([api('GET', '/audit/status'), api('GET', '/audit?count=1')]);
    const w = st.writer || {};
    const lastSeq = newest.events.length ? newest.events[0].seq : 0;
    const cp = st.last_checkpoint;
    const result = h('section', { 'aria-label': 'Verification', 'aria-live': 'polite' });
    const btn = h('button', { type: 'button', onclick: () => verify(btn, result) }, 'Verify now');
    add(view, h('h1', {}, 'Audit'), tabs('chain'),
        h('p', { class: 'lead' }, 'Each event carries the hash of the one before it, and every 1,000 events (and every minute with new events) a checkpoint vouches for the chain with a key kept outside the database. Verifying walks the whole chain and names the first event that was altered, removed, inserted or cut off.'),
        h('h2', {}, 'Status'),
        h('dl', { class: 'kv' },
            h('dt', {}, 'Last event'), h('dd', {}, lastSeq ? h('a', { href: `#/audit/${lastSeq}` }, `event ${lastSeq}`) : 'none yet'),
            h('dt', {}, 'Last checkpoint'),
            h('dd', {}, cp
                ? h('span', {}, h('a', { href: `#/audit/${cp.seq}` }, `event ${cp.seq}`), `, ${fmtSec(cp.time)}, vouching for events up to ${cp.checkpoint ? cp.checkpoint.seq : '?'}`)
                : 'none yet: one is written every 1,000 events, every minute with new events, and when the server stops cleanly'),
            h('dt', {}, 'Since this server started'),
            h('dd', {}, `${w.recorded ?? 0} recorded, ${w.stored ?? 0} stored in ${w.batches ?? 0} batches`),
            h('dt', {}, 'Waiting to be stored'),
            h('dd', {}, w.queued ? badge(`${w.queued} queued: the database is not taking writes fast enough`, 'warn') : badge('none', 'ok')),
            h('dt', {}, 'Write failures'),
            h('dd', {}, w.failures ? badge(`${w.failures}: see the server's log (event=audit_store_failed)`, 'bad') : badge('none', 'ok'))),
        h('h2', {}, 'Verify the chain'),
        h('p', {}, 'Reads every event and checkpoint, as mandate audit verify does, with this server\'s key and anchor file. A long log takes a while.'),
        h('div', { class: 'actions' }, btn),
        result);
}

async function verify(btn, result) {
    btn.disabled = true;
    btn.textContent = 'Verifying…';
    result.replaceChildren(h('p', { class: 'loading' }, 'Walking the chain…'));
    try {
        const r = await api('GET', '/audit/verify');
        const range = r.events ? ` (${r.first_seq} to ${r.last_seq})` : '';
        if (r.ok) {
            result.replaceChildren(h('div', { class: 'panel' },
                h('p', { class: 'verdict allowed' }, `Intact: ${r.events} event${r.events === 1 ? '' : 's'}${range}, ${r.checkpoints} checkpoint${r.checkpoints === 1 ? '' : 's'} verified.`),
                r.warning ? h('p', {}, sentence(r.warning)) : null));
            announce(`The chain is intact: ${r.events} events.`);
        } else {
            result.replaceChildren(h('div', { class: 'panel' },
                h('p', { class: 'verdict denied' }, r.bad_seq ? `Broken at event ${r.bad_seq}.` : 'Broken.'),
                h('p', {}, sentence(r.problem || 'the chain does not verify')),
                r.bad_seq ? h('p', {}, h('a', { href: `#/audit/${r.bad_seq}` }, `Open event ${r.bad_seq}`)) : null,
                h('p', { class: 'hint' }, `The walk stopped there, after ${r.events} event${r.events === 1 ? '' : 's'}${range}. Keep a copy of the database as it is for the investigation, and compare it with the copy your SIEM holds.`)));
            announce(`The chain is broken at event ${r.bad_seq}.`);
        }
    } catch (err) {
        if (err.status === 401) return;
        result.replaceChildren(h('div', { class: 'form-error', role: 'alert' }, `The chain could not be verified: ${err.message}`));
    } finally {
        btn.disabled = false;
        btn.textContent = 'Verify now';
    }
}

/* ---- who could use a tool at a time ---- */

async function renderAccessAt(view, ctx) {
    const time = ctx.query.get('time') || '';
    const tool = ctx.query.get('tool') || '';
    const key = `#/audit/access-at${qs({ time, tool })}`;
    const connectors = await api('GET', '/connectors');
    let answer = take(key);
    let refused = null;
    if (!answer && time && tool) {
        try {
            answer = await api('GET', `/access-at${qs({ time, tool })}`);
        } catch (err) {
            if (err.status !== 400) throw err;
            refused = err;
        }
    }
    const toolsId = uid('tools');
    const form = h('form', { novalidate: true, 'aria-label': 'Who could use a tool at a time' },
        h('datalist', { id: toolsId }, connectors.items.flatMap((c) => c.tools.map((t) => h('option', { value: t.full_name }, t.title)))),
        h('div', { class: 'inline' },
            field({ name: 'time', label: 'Time', required: true, value: time || isoAgo(), hint: 'RFC 3339, UTC unless an offset is given, not in the future: 2026-03-14T09:00:00Z.', attrs: { autocomplete: 'off', spellcheck: 'false' } }),
            field({ name: 'tool', label: 'Tool', required: true, value: tool, hint: 'A full tool name, e.g. stripe__create_refund.', attrs: { list: toolsId, autocomplete: 'off', spellcheck: 'false' } })),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Ask')));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const next = { time: val(form, 'time'), tool: val(form, 'tool') };
        await submitForm(form, {
            check: () => {
                const p = {};
                if (!next.time) p.time = 'Enter the time to ask about, e.g. 2026-03-14T09:00:00Z.';
                if (!next.tool) p.tool = 'Enter the tool, e.g. stripe__create_refund.';
                return p;
            },
            send: async () => {
                const a = await api('GET', `/access-at${qs(next)}`);
                const k = `#/audit/access-at${qs(next)}`;
                answered = { key: k, value: a };
                ctx.navigate(k);
            },
            fields: ACCESS_FIELDS,
        });
    });
    add(view, h('h1', {}, 'Audit'), tabs('access-at'),
        h('p', { class: 'lead' }, 'Which users were entitled to a tool at a past time, and through which grant: mandate replays the SCIM and admin changes of the audit log up to that time and asks the access engine, as it would have decided then. Nothing is changed or recorded.'),
        form);
    if (refused) {
        showApiError(form, refused, ACCESS_FIELDS);
        return;
    }
    if (answer) add(view, accessAnswer(answer));
}

function grantItem(g) {
    const s = g.subject || {};
    const to = s.type === 'everyone' ? 'everyone'
        : s.type === 'group' ? h('span', {}, 'group ', h('a', { href: `#/groups/${encodeURIComponent(s.id)}` }, s.display || s.id), s.nested ? ' (nested)' : '')
            : 'the user directly';
    return h('li', {},
        g.pack ? h('span', {}, 'pack ', h('a', { href: `#/packs/${encodeURIComponent(g.pack)}` }, g.pack)) : 'the tool itself',
        ' via ', to,
        g.via && g.via.length ? h('span', {}, ' (through ', g.via.map((v, i) => [i ? ', ' : '', v.displayName || v.id]), ')') : '',
        g.ceiling ? `, ceiling ${g.ceiling}` : '',
        g.condition ? h('span', {}, ', only when ', h('code', {}, g.condition)) : '',
        g.expires ? `, until ${fmtSec(g.expires)}` : '');
}

function accessAnswer(a) {
    const out = h('section', { 'aria-label': 'Answer' });
    add(out, h('h2', {}, `Who could use ${a.tool} at ${fmtSec(a.time)}`),
        h('dl', { class: 'kv' },
            h('dt', {}, 'Tool level then'), h('dd', {}, a.level || '—'),
            h('dt', {}, 'The log begins'), h('dd', {}, a.history_starts ? fmtSec(a.history_starts) : 'the log is empty'),
            h('dt', {}, 'Changes replayed'), h('dd', {}, String(a.events_replayed)),
            h('dt', {}, 'Complete'), h('dd', {}, a.complete ? badge('yes: the log tells everything about that time', 'ok') : badge('no: see the notes', 'warn'))));
    const notes = [...(a.notes || [])];
    if (a.pruned && a.pruned.note) notes.push(a.pruned.note);
    if (a.unknown && a.unknown.note) notes.push(`${a.unknown.count} user${a.unknown.count === 1 ? '' : 's'} or group${a.unknown.count === 1 ? '' : 's'}: ${a.unknown.note}`);
    if (notes.length) add(out, h('div', { class: 'notice warn' }, h('p', {}, h('strong', {}, 'Notes')), h('ul', {}, notes.map((n) => h('li', {}, n)))));
    add(out, table('Users who could use the tool', [
        { label: 'User', cell: (u) => h('a', { href: `#/users/${encodeURIComponent(u.id)}` }, u.userName || u.id) },
        { label: 'Through', cell: (u) => h('ul', {}, (u.grants || []).map(grantItem)) },
    ], a.users, empty(`No one could use ${a.tool} then.`,
        a.complete ? 'No active user held a grant that reached the tool at that time.' : 'As far as the log tells; the notes above say what it cannot.'), { stack: true }));
    return out;
}
