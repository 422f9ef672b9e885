// The admin API as the console calls it: same-origin fetches carrying the session cookie, the
// CSRF token on every change, and RFC 9457 problem details turned into ApiError. The CSRF
// token lives in this module's memory only (never in storage): a reload asks GET /session.

import { clearErrors, focusFirstError, formError, setFieldError } from './dom.js';

let csrf = '';

export function setCsrf(token) {
    csrf = token || '';
}

export class ApiError extends Error {
    constructor(status, problem) {
        super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
        this.status = status;
        this.problem = problem || {};
    }
}

/*
 * One request to /api/v1: method, path below it, optional JSON body; opts.ifMatch sends
 * If-Match. Resolves to the parsed body (null for 204); rejects with ApiError. A 401 outside
 * the session endpoints means the session ended: the app hears of it through the
 * "mandate:signed-out" event and shows the sign-in form.
 */
export async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
    if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
    let res;
    try {
        res = await fetch(`/api/v1${path}`, {
            method, headers, credentials: 'same-origin', cache: 'no-store',
            body: body === undefined ? undefined : JSON.stringify(body),
        });
    } catch {
        throw new ApiError(0, { detail: 'mandate cannot be reached; check the connection and try again.' });
    }
    const text = await res.text();
    let data = null;
    if (text) {
        try {
            data = JSON.parse(text);
        } catch {
            data = null;
        }
    }
    if (!res.ok) {
        if (res.status === 401 && !path.startsWith('/session')) {
            window.dispatchEvent(new CustomEvent('mandate:signed-out', { detail: data && data.detail }));
        }
        throw new ApiError(res.status, data);
    }
    return data;
}

/* A query string from an object, skipping empty values. */
export function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
    const s = u.toString();
    return s ? `?${s}` : '';
}

/* A SCIM filter string literal: the value quoted with its quotes and backslashes escaped. */
export function scimString(v) {
    return `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/*
 * Puts an API error next to the field it is about. fields maps a field's name in the form to
 * the words by which the server's detail names it: a quoted member name ("expires"), or a
 * regular expression. What matches no field goes in the form's error box. Returns the field
 * name used, or null.
 */
export function showApiError(form, err, fields = {}) {
    const detail = err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
    for (const [name, needles] of Object.entries(fields)) {
        for (const n of [].concat(needles)) {
            const hit = n instanceof RegExp ? n.test(detail) : detail.includes(`"${n}"`);
            if (hit && setFieldError(form, name, sentence(detail))) {
                focusFirstError(form);
                return name;
            }
        }
    }
    formError(form, sentence(detail));
    focusFirstError(form);
    return null;
}

/* The server's detail as a sentence: capitalised, ending with a full stop. */
function sentence(s) {
    const t = String(s || 'The request failed.').trim();
    const c = t.charAt(0).toUpperCase() + t.slice(1);
    return /[.!?]$/.test(c) ? c : `${c}.`;
}

/*
 * Runs a form's submission: clears old errors, runs check(form) (client-side validation that
 * returns {field: message} for what is wrong, before anything is sent), then send(); an
 * ApiError is shown with showApiError(fields). The submit button is disabled meanwhile.
 */
export async function submitForm(form, { check, send, fields }) {
    clearErrors(form);
    const problems = check ? check(form) : {};
    const names = Object.keys(problems || {});
    if (names.length) {
        for (const n of names) {
            if (!setFieldError(form, n, problems[n])) formError(form, problems[n]);
        }
        focusFirstError(form);
        return false;
    }
    const btn = form.querySelector('button[type="submit"]');
    if (btn) btn.disabled = true;
    try {
        await send();
        return true;
    } catch (err) {
        showApiError(form, err, fields);
        return false;
    } finally {
        if (btn) btn.disabled = false;
    }
}

/* The value of a form's control by name, trimmed for text. */
export function val(form, name) {
    const el = form.elements.namedItem(name);
    if (!el) return '';
    if (el.type === 'checkbox') return el.checked;
    return typeof el.value === 'string' ? el.value.trim() : el.value;
}
