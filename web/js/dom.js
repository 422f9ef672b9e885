// DOM helpers. Everything the console shows is built as elements and text nodes, never as
// HTML strings, so that a userName or a group name pushed by an identity provider can never
// become markup (and the Content-Security-Policy forbids inline script anyway).

let seq = 0;

/* A unique id for labels, hints and errors to point at. */
export function uid(prefix = 'f') {
    seq += 1;
    return `${prefix}-${seq}`;
}

/*
 * h('button', {class: 'x', onclick: fn, type: 'button'}, 'text', child...): an element.
 * Props: class, text, dataset (object), on* (listeners), hidden and boolean attributes,
 * everything else as an attribute. Children: strings, nodes, arrays, null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'value') el.value = v;
        else if (k === 'checked') {
            // The attribute too, so that form.reset() comes back to it.
            el.defaultChecked = Boolean(v);
            el.checked = Boolean(v);
        }
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
}

function append(el, children) {
    for (const c of children) {
        if (c === null || c === undefined || c === false) continue;
        if (Array.isArray(c)) append(el, c);
        else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
}

/* Appends children to el as h() does: null, undefined and false are skipped, arrays flattened. */
export function add(el, ...children) {
    append(el, children);
    return el;
}

export function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
}

/* Says msg to screen readers through the page's polite live region. */
export function announce(msg) {
    const s = document.getElementById('status');
    if (!s) return;
    s.textContent = '';
    // A fresh text node after a tick, so that the same message twice is read twice.
    setTimeout(() => { s.textContent = msg; }, 30);
}

/* "2026-11-28 17:53 UTC" for an RFC 3339 time, or the fallback for none. */
export function fmtTime(iso, none = 'never') {
    if (!iso) return none;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/*
 * A labelled form field: {name, label, type ('text', 'password', 'select', 'textarea',
 * 'datetime-local', 'search'), hint, required, value, options ([{value, label}]), attrs}.
 * The input is named `name`; its error paragraph is tied to it by aria-describedby, so a
 * screen reader reads the error with the field.
 */
export function field(spec) {
    const id = uid(spec.name || 'field');
    const hintId = spec.hint ? `${id}-hint` : null;
    const errId = `${id}-err`;
    const describedBy = [hintId, errId].filter(Boolean).join(' ');
    const common = { id, name: spec.name, 'aria-describedby': describedBy, required: spec.required || false, ...(spec.attrs || {}) };
    let input;
    if (spec.type === 'select') {
        input = h('select', common, (spec.options || []).map((o) =>
            h('option', { value: o.value, selected: o.value === spec.value }, o.label)));
    } else if (spec.type === 'textarea') {
        input = h('textarea', common);
        if (spec.value !== undefined) input.value = spec.value;
    } else {
        input = h('input', { type: spec.type || 'text', ...common, value: spec.value ?? '' });
    }
    const wrap = h('div', { class: 'field', dataset: { field: spec.name } },
        // A required field says so through its required attribute, which screen readers read.
        h('label', { for: id }, spec.label),
        spec.hint ? h('span', { class: 'hint', id: hintId }, spec.hint) : null,
        input,
        h('p', { class: 'error', id: errId }));
    return wrap;
}

/* Shows msg under the field named name in form (and marks the input invalid). */
export function setFieldError(form, name, msg) {
    const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!wrap) return false;
    const input = wrap.querySelector('input, select, textarea');
    const err = wrap.querySelector('.error');
    err.textContent = msg;
    if (input) input.setAttribute('aria-invalid', 'true');
    return true;
}

/* The form-wide error box (role=alert), created on first use at the top of the form. */
export function formError(form, msg) {
    let box = form.querySelector(':scope > .form-error');
    if (!box) {
        box = h('div', { class: 'form-error', role: 'alert' });
        form.prepend(box);
    }
    box.textContent = msg || '';
}

export function clearErrors(form) {
    for (const e of form.querySelectorAll('.error')) e.textContent = '';
    for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
    formError(form, '');
}

/* Moves focus to the first field with an error, so that a keyboard user lands on it. */
export function focusFirstError(form) {
    const bad = form.querySelector('[aria-invalid="true"]');
    if (bad) bad.focus();
    else {
        const box = form.querySelector('.form-error');
        if (box && box.textContent) {
            box.setAttribute('tabindex', '-1');
            box.focus();
        }
    }
}

/*
 * A table: columns [{label, cell(row) -> node|string}], rows; empty: a node shown instead
 * when there are no rows. The wrapper scrolls sideways on narrow screens and can be focused,
 * so that keyboard users can scroll it too. opts.stack: on a narrow screen each row becomes a
 * card of "label: value" lines instead (for tables too wide to scroll comfortably); the roles
 * are then set explicitly, as some browsers drop a table's semantics once its display changes.
 */
export function table(caption, columns, rows, empty, opts = {}) {
    if (!rows.length && empty) return empty;
    const role = (r) => (opts.stack ? r : false);
    return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
        h('table', { class: opts.stack ? 'stack' : false, role: role('table') },
            h('caption', { class: 'visually-hidden' }, caption),
            h('thead', { role: role('rowgroup') }, h('tr', { role: role('row') }, columns.map((c) => h('th', { scope: 'col', role: role('columnheader') }, c.label)))),
            h('tbody', { role: role('rowgroup') }, rows.map((r) => h('tr', { role: role('row') },
                columns.map((c) => h('td', { role: role('cell'), 'data-label': opts.stack ? c.label : false }, c.cell(r))))))));
}

/* An empty state: what is missing and what to do next. */
export function empty(title, ...next) {
    return h('div', { class: 'empty' }, h('p', {}, h('strong', {}, title)), next.map((n) => h('p', {}, n)));
}

export function badge(text, kind = 'muted') {
    return h('span', { class: `badge ${kind}` }, text);
}

export function level(l) {
    return l ? h('span', { class: `level-${l}` }, l) : '—';
}

/* Copies text to the clipboard and says so; falls back to selecting an input's text. */
export async function copy(text, input) {
    try {
        await navigator.clipboard.writeText(text);
        announce('Copied to the clipboard.');
        return true;
    } catch {
        if (input) {
            input.focus();
            input.select();
        }
        announce('Select the text and copy it with Ctrl+C.');
        return false;
    }
}

/* A read-only value with a Copy button, both labelled for screen readers. */
export function copyLine(label, value, { secret = false } = {}) {
    const id = uid('copy');
    const input = h('input', { id, type: 'text', readonly: true, value, class: 'mono', spellcheck: 'false', autocomplete: 'off' });
    const btn = h('button', {
        type: 'button', class: 'secondary', 'aria-label': `Copy ${label}`,
        onclick: async () => {
            if (await copy(value, input)) btn.textContent = 'Copied';
        },
    }, 'Copy');
    return h('div', { class: 'field' },
        h('label', { for: id }, label),
        h('div', { class: 'copyline' }, input, btn),
        secret ? h('p', { class: 'hint' }, 'Shown once. mandate keeps only its SHA-256 hash.') : null);
}

/* A panel holding a secret shown once, with a copy button; focus goes to it. */
export function secretPanel(title, label, value, ...more) {
    const panel = h('section', { class: 'secret', 'aria-label': title, tabindex: '-1' },
        h('h3', {}, title),
        h('p', {}, 'Copy it now: it is shown this once and cannot be shown again.'),
        copyLine(label, value, { secret: true }),
        more);
    setTimeout(() => panel.focus(), 0);
    return panel;
}
