// The console's shell: sign-in, the navigation, and a router over the URL's hash
// (#/users/ID), so that every page has an address, the back button works, and the server
// serves one index.html for all of them.

import { api, setCsrf, submitForm, val } from './api.js';
import { announce, clear, field, h } from './dom.js';
import * as agents from './pages/agents.js';
import * as audit from './pages/audit.js';
import * as connectors from './pages/connectors.js';
import * as decisions from './pages/decisions.js';
import * as groups from './pages/groups.js';
import * as packs from './pages/packs.js';
import * as provisioning from './pages/provisioning.js';
import * as users from './pages/users.js';

/* The pages in navigation order: [hash prefix, nav label, module]. */
const PAGES = [
    ['provisioning', 'Provisioning', provisioning, 'Settings'],
    ['users', 'Users', users, 'Directory'],
    ['groups', 'Groups', groups],
    ['packs', 'Tool packs', packs, 'Access'],
    ['connectors', 'Connectors', connectors],
    ['agents', 'Agents', agents],
    ['decisions', 'Decision explorer', decisions],
    ['audit', 'Audit', audit, 'Oversight'],
];

const state = { session: null, renderSeq: 0 };

const $ = (id) => document.getElementById(id);

function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, query] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { page: parts[0] || 'provisioning', args: parts.slice(1), query: new URLSearchParams(query || '') };
}

export function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
}

function renderNav(current) {
    const nav = $('nav');
    clear(nav);
    const list = h('ul', {});
    for (const [key, label, , section] of PAGES) {
        if (section) list.append(h('li', { class: 'group-label', 'aria-hidden': 'true' }, section));
        list.append(h('li', {}, h('a', { href: `#/${key}`, 'aria-current': key === current ? 'page' : false }, label)));
    }
    nav.append(list);
    nav.hidden = false;
}

async function route() {
    if (!state.session) return;
    const { page, args, query } = parseHash();
    const entry = PAGES.find((p) => p[0] === page);
    const main = $('main');
    const seq = ++state.renderSeq;
    renderNav(entry ? page : '');
    foldMenu(true);
    clear(main);
    if (!entry) {
        main.append(h('h1', { tabindex: '-1' }, 'Page not found'),
            h('p', {}, 'There is no such page. ', h('a', { href: '#/provisioning' }, 'Go to Provisioning.')));
        focusTitle();
        return;
    }
    document.title = `${entry[1]} · mandate console`;
    main.append(h('p', { class: 'loading' }, 'Loading…'));
    const view = h('div', {});
    try {
        await entry[2].render(view, { args, query, session: state.session, navigate });
    } catch (err) {
        if (err && err.status === 401) return; // the sign-in form has taken over
        view.append(h('div', { class: 'form-error', role: 'alert' }, `This page could not be loaded: ${err.message || err}`));
    }
    if (seq !== state.renderSeq) return; // another navigation came first
    clear(main);
    main.append(view);
    focusTitle();
}

/* After a navigation, focus goes to the page's heading, and screen readers announce it. */
function focusTitle() {
    const h1 = $('main').querySelector('h1');
    if (h1) {
        h1.setAttribute('tabindex', '-1');
        h1.focus();
        announce(`${h1.textContent} page`);
    }
}

function foldMenu(fold) {
    const nav = $('nav');
    const toggle = $('menu-toggle');
    nav.classList.toggle('folded', fold);
    toggle.setAttribute('aria-expanded', String(!fold));
}

function showSignedIn(session) {
    state.session = session;
    setCsrf(session.csrf_token);
    const who = $('who');
    who.textContent = `Signed in with admin token “${session.admin_token.name || session.admin_token.id}”`;
    who.hidden = false;
    $('signout').hidden = false;
    $('menu-toggle').hidden = false;
    route();
}

function showSignIn(message) {
    state.session = null;
    setCsrf('');
    $('who').hidden = true;
    $('signout').hidden = true;
    $('menu-toggle').hidden = true;
    $('nav').hidden = true;
    document.title = 'Sign in · mandate console';
    const main = clear($('main'));
    const form = h('form', { class: 'signin', novalidate: true, 'aria-labelledby': 'signin-title' },
        h('h1', { id: 'signin-title' }, 'Sign in to mandate'),
        message ? h('p', { class: 'notice', role: 'status' }, message) : null,
        h('p', { class: 'lead' }, 'Use an admin token. The console keeps a session cookie instead; the token itself is not stored in the browser.'),
        field({ name: 'token', label: 'Admin token', type: 'password', required: true,
            hint: 'Starts with mdt_admin_. Create one on the server: mandate token create --kind admin --name you',
            attrs: { autocomplete: 'off', spellcheck: 'false' } }),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        let session = null;
        const ok = await submitForm(form, {
            check: (f) => {
                const t = val(f, 'token');
                if (!t) return { token: 'Enter an admin token.' };
                if (!/^mdt_admin_[A-Za-z0-9_-]+$/.test(t)) return { token: 'An admin token starts with mdt_admin_ and has no spaces.' };
                return {};
            },
            send: async () => {
                session = await api('POST', '/session', { token: val(form, 'token') });
            },
            fields: { token: [/token/i, /sign-in attempts/] },
        });
        if (ok && session) {
            form.reset();
            if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/provisioning';
            showSignedIn(session);
        }
    });
    main.append(form);
    form.querySelector('input').focus();
}

async function signOut() {
    try {
        await api('DELETE', '/session');
    } catch {
        /* the session may already be gone; the cookie is cleared either way */
    }
    showSignIn('You are signed out.');
}

async function start() {
    $('signout').addEventListener('click', signOut);
    $('menu-toggle').addEventListener('click', () => foldMenu(!$('nav').classList.contains('folded')));
    // Hashes that are not pages (#main, the skip link's target) are not routes.
    window.addEventListener('hashchange', () => {
        if (!location.hash || location.hash.startsWith('#/')) route();
    });
    document.querySelector('.skip').addEventListener('click', (ev) => {
        ev.preventDefault();
        $('main').focus();
    });
    // A link to the page already shown changes no hash: it reloads the page instead.
    document.addEventListener('click', (ev) => {
        const a = ev.target.closest && ev.target.closest('a[href^="#/"]');
        if (a && a.getAttribute('href') === location.hash && !ev.defaultPrevented) {
            ev.preventDefault();
            route();
        }
    });
    window.addEventListener('mandate:signed-out', (ev) => {
        if (state.session) showSignIn(`Your session ended (${ev.detail || 'signed out'}). Sign in again.`);
    });
    foldMenu(true);
    try {
        showSignedIn(await api('GET', '/session'));
    } catch {
        showSignIn();
    }
}

start();
