// A fake of the Jira Cloud platform REST API v3 for the catalog's jira tools: enhanced JQL
// search, issues, their transitions, and comments.
//
// What it checks, as Atlassian documents it (developer.atlassian.com/cloud/jira/platform/rest/v3/):
//   - HTTP basic auth with the account's email and an API token ("Basic auth for REST APIs");
//     otherwise 401 with Jira's error collection {"errorMessages": [...], "errors": {}}.
//   - JSON bodies with Content-Type application/json (else 415), and rich text (description,
//     comment bodies) as Atlassian Document Format documents: a plain string is refused with
//     400 {"errors": {"description": "Operation value must be an Atlassian Document (see the
//     Atlassian Document Format)"}} ("Atlassian Document Format", and the ADF note in
//     "Issues: Create issue").
//   - POST /rest/api/3/search/jql ("Issue search: Search for issues using JQL enhanced search"):
//     jql must be bounded, else 400 "Unbounded JQL queries are not allowed here..."; only ids
//     come back unless fields names fields; nextPageToken pages.
//   - GET/POST /rest/api/3/issue/{key}/transitions ("Issues: Get transitions", "Transition
//     issue"): a transition id that is not available is 400; success is 204 with no body.
//   - PUT /rest/api/3/issue/{key} ("Issues: Edit issue"): 204; fields not on the edit screen 400.
//   - POST /rest/api/3/issue (201 {id, key, self}) and POST .../comment (201, the comment).
// Errors are the ErrorCollection shape {"errorMessages": [...], "errors": {"field": "message"}}.

import assert from 'node:assert/strict';

import { basic, jsonBody, mediaType, queryOf, send } from './lib.mjs';

export const connector = 'jira';

const EMAIL = 'agent@example.com';
const API_TOKEN = 'ATATTFakeContractJiraToken0123456789';
export const credential = { username: EMAIL, password: API_TOKEN };

const BOT = { accountId: '5b10ac8d82e05b22cc7d4ef5', displayName: 'Mandate Agent', active: true, accountType: 'atlassian' };
const ANA = { accountId: '5b10a2844c20165700ede21g', displayName: 'Ana Ortiz', active: true, accountType: 'atlassian' };

const STATUS = {
    todo: { id: '10000', name: 'To Do', statusCategory: { id: 2, key: 'new', name: 'To Do' } },
    progress: { id: '3', name: 'In Progress', statusCategory: { id: 4, key: 'indeterminate', name: 'In Progress' } },
    done: { id: '10001', name: 'Done', statusCategory: { id: 3, key: 'done', name: 'Done' } },
};
const TRANSITIONS = [
    { id: '11', name: 'To Do', to: STATUS.todo },
    { id: '21', name: 'Start Progress', to: STATUS.progress },
    { id: '31', name: 'Done', to: STATUS.done, fields: { resolution: { required: false, name: 'Resolution' } } },
];

function adf(text) {
    return { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] };
}

export function seed() {
    const issue = (n, summary, status, extra = {}) => ({
        id: String(10000 + n), key: `ENG-${n}`,
        fields: {
            summary, status: STATUS[status], issuetype: { id: '10001', name: 'Bug' }, project: { id: '10000', key: 'ENG', name: 'Engineering' },
            priority: { id: '2', name: 'High' }, labels: [], assignee: null, reporter: ANA, description: adf(`Details of ENG-${n}.`),
            created: '2024-06-01T10:00:00.000+0000', updated: `2024-06-0${n}T10:00:00.000+0000`, resolution: null,
            comment: { comments: [], total: 0 }, ...extra,
        },
    });
    return {
        projects: { ENG: { id: '10000', key: 'ENG', issuetypes: ['Bug', 'Task', 'Story'] } },
        issues: [
            issue(1, 'Checkout times out', 'todo', { assignee: ANA, labels: ['checkout'] }),
            issue(2, 'Flaky login test', 'progress'),
            issue(3, 'Old crash', 'done'),
        ],
        next: 4,
        nextComment: 20000,
    };
}

function err(res, status, errorMessages, errors = {}) {
    send(res, status, { errorMessages, errors });
}

/* True when v is an ADF document: {"type": "doc", "version": 1, "content": [...]}. */
function isAdf(v) {
    return v && typeof v === 'object' && v.type === 'doc' && v.version === 1 && Array.isArray(v.content);
}

function self(fake, issue) {
    return `${fake.url}/rest/api/3/issue/${issue.id}`;
}

/* The issue with only the requested fields ("*all"/"*navigable" or absent: every one). */
function shape(fake, issue, fields) {
    let f = issue.fields;
    const list = Array.isArray(fields) ? fields : typeof fields === 'string' ? fields.split(',') : null;
    if (list && !list.includes('*all') && !list.includes('*navigable'))
        f = Object.fromEntries(Object.entries(f).filter(([k]) => list.includes(k)));
    return { expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations', id: issue.id, self: self(fake, issue), key: issue.key, fields: f };
}

function search(fake, rec, res) {
    const b = jsonBody(rec, res, { errorMessages: ['Unsupported Media Type'], errors: {} });
    if (!b) return;
    if (typeof b.jql !== 'string') return err(res, 400, ['The JQL query is required.']);
    // A bounded query restricts the issues somehow; an empty one or only an ORDER BY is not.
    const where = b.jql.replace(/ORDER\s+BY[\s\S]*$/i, '').trim();
    if (!where)
        return err(res, 400, ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.']);
    const proj = /project\s*=\s*"?([A-Za-z][A-Za-z0-9_]*)"?/i.exec(where);
    if (proj && !fake.data.projects[proj[1].toUpperCase()])
        return err(res, 400, [`The value '${proj[1]}' does not exist for the field 'project'.`]);
    const notDone = /status\s*!=\s*"?Done"?/i.test(where);
    const all = fake.data.issues.filter((i) => !notDone || i.fields.status.name !== 'Done')
        .sort((x, y) => (x.fields.updated < y.fields.updated ? 1 : -1));
    const max = b.maxResults ?? 50;
    const start = b.nextPageToken ? Number(Buffer.from(b.nextPageToken, 'base64').toString()) : 0;
    const page = all.slice(start, start + max);
    const out = {
        issues: page.map((i) => (b.fields ? shape(fake, i, b.fields) : { id: i.id })),
        isLast: start + max >= all.length,
    };
    if (!out.isLast) out.nextPageToken = Buffer.from(String(start + max)).toString('base64');
    send(res, 200, out);
}

function createIssue(fake, rec, res) {
    const b = jsonBody(rec, res, { errorMessages: ['Unsupported Media Type'], errors: {} });
    if (!b) return;
    const f = b.fields || {};
    const errors = {};
    const project = f.project && (fake.data.projects[f.project.key] ||
        Object.values(fake.data.projects).find((p) => p.id === f.project.id));
    if (!project) errors.project = 'valid project is required';
    else if (!f.issuetype || !project.issuetypes.includes(f.issuetype.name)) errors.issuetype = 'Specify a valid issue type';
    if (typeof f.summary !== 'string' || !f.summary) errors.summary = 'You must specify a summary of the issue.';
    if (f.description !== undefined && !isAdf(f.description))
        errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
    if (Object.keys(errors).length) return err(res, 400, [], errors);
    const n = fake.data.next++;
    const issue = {
        id: String(10000 + n), key: `${project.key}-${n}`,
        fields: { ...f, status: STATUS.todo, project: { id: project.id, key: project.key }, reporter: BOT,
            created: '2024-06-10T08:00:00.000+0000', updated: '2024-06-10T08:00:00.000+0000', comment: { comments: [], total: 0 } },
    };
    fake.data.issues.push(issue);
    send(res, 201, { id: issue.id, key: issue.key, self: self(fake, issue) });
}

/* Fields the edit screen of the fake's projects offers (editmeta). */
const EDITABLE = ['summary', 'description', 'labels', 'priority', 'assignee', 'duedate', 'components'];

function editIssue(fake, rec, res, issue) {
    const b = jsonBody(rec, res, { errorMessages: ['Unsupported Media Type'], errors: {} });
    if (!b) return;
    const q = queryOf(rec);
    if (q.notifyUsers !== undefined && !['true', 'false'].includes(q.notifyUsers))
        return err(res, 400, ["The value of 'notifyUsers' must be true or false."]);
    const errors = {};
    for (const [k, v] of Object.entries(b.fields || {})) {
        if (!EDITABLE.includes(k)) errors[k] = `Field '${k}' cannot be set. It is not on the appropriate screen, or unknown.`;
        else if (k === 'summary' && (typeof v !== 'string' || !v)) errors.summary = 'You must specify a summary of the issue.';
        else if (k === 'description' && v !== null && !isAdf(v)) errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
    }
    for (const k of Object.keys(b.update || {})) if (!EDITABLE.includes(k)) errors[k] = `Field '${k}' cannot be set. It is not on the appropriate screen, or unknown.`;
    if (Object.keys(errors).length) return err(res, 400, [], errors);
    Object.assign(issue.fields, b.fields || {});
    for (const op of (b.update || {}).labels || []) {
        if (op.add !== undefined) issue.fields.labels = [...new Set([...issue.fields.labels, op.add])];
        if (op.remove !== undefined) issue.fields.labels = issue.fields.labels.filter((l) => l !== op.remove);
    }
    issue.fields.updated = '2024-06-10T09:00:00.000+0000';
    res.writeHead(204);
    res.end();
}

function transitions(fake, rec, res, issue) {
    if (rec.method === 'GET') {
        const q = queryOf(rec);
        const expand = (q.expand || '').split(',').includes('transitions.fields');
        let list = TRANSITIONS.filter((t) => t.to.id !== issue.fields.status.id);
        if (q.transitionId) list = list.filter((t) => t.id === q.transitionId);
        return send(res, 200, {
            expand: 'transitions',
            transitions: list.map((t) => {
                const out = { id: t.id, name: t.name, to: t.to, hasScreen: !!t.fields, isGlobal: true, isInitial: false,
                    isAvailable: true, isConditional: false, isLooped: false };
                if (expand) out.fields = t.fields || {};
                return out;
            }),
        });
    }
    const b = jsonBody(rec, res, { errorMessages: ['Unsupported Media Type'], errors: {} });
    if (!b) return;
    const id = b.transition && b.transition.id;
    const t = TRANSITIONS.find((x) => x.id === id && x.to.id !== issue.fields.status.id);
    if (!t) return err(res, 400, [`Transition id '${id}' is not valid for this issue.`]);
    for (const c of ((b.update || {}).comment || [])) {
        if (!c.add || !isAdf(c.add.body)) return err(res, 400, [], { comment: 'Comment body can not be empty!' });
        issue.fields.comment.comments.push({ id: String(fake.data.nextComment++), author: BOT, body: c.add.body });
    }
    issue.fields.status = t.to;
    if (b.fields && b.fields.resolution) issue.fields.resolution = b.fields.resolution;
    res.writeHead(204);
    res.end();
}

function addComment(fake, rec, res, issue) {
    const b = jsonBody(rec, res, { errorMessages: ['Unsupported Media Type'], errors: {} });
    if (!b) return;
    if (!isAdf(b.body)) return err(res, 400, [], { comment: 'Comment body can not be empty!' });
    const c = { id: String(fake.data.nextComment++), author: BOT, updateAuthor: BOT, body: b.body,
        created: '2024-06-10T08:30:00.000+0000', updated: '2024-06-10T08:30:00.000+0000', jsdPublic: true };
    if (b.visibility) c.visibility = b.visibility;
    issue.fields.comment.comments.push(c);
    issue.fields.comment.total++;
    send(res, 201, { self: `${self(fake, issue)}/comment/${c.id}`, ...c });
}

export function handle(fake, rec, res) {
    const cred = basic(rec.headers);
    if (!cred || cred.user !== EMAIL || cred.pass !== API_TOKEN)
        return err(res, 401, ['You are not authenticated. Authentication required to perform this operation.']);
    if (['POST', 'PUT'].includes(rec.method) && mediaType(rec.headers) !== 'application/json')
        return err(res, 415, ['Unsupported Media Type']);

    if (rec.method === 'POST' && rec.pathname === '/rest/api/3/search/jql') return search(fake, rec, res);
    if (rec.method === 'POST' && rec.pathname === '/rest/api/3/issue') return createIssue(fake, rec, res);
    const m = /^\/rest\/api\/3\/issue\/([^/]+)(\/transitions|\/comment)?$/.exec(rec.pathname);
    if (!m) return err(res, 404, ['null for uri: ' + rec.pathname]);
    const key = decodeURIComponent(m[1]);
    const issue = fake.data.issues.find((i) => i.key === key.toUpperCase() || i.id === key);
    if (!issue) return err(res, 404, ['Issue does not exist or you do not have permission to see it.']);
    if (!m[2] && rec.method === 'GET') {
        const q = queryOf(rec);
        return send(res, 200, shape(fake, issue, q.fields));
    }
    if (!m[2] && rec.method === 'PUT') return editIssue(fake, rec, res, issue);
    if (m[2] === '/transitions' && ['GET', 'POST'].includes(rec.method)) return transitions(fake, rec, res, issue);
    if (m[2] === '/comment' && rec.method === 'POST') return addComment(fake, rec, res, issue);
    return err(res, 405, ['Method Not Allowed']);
}

/* ---- the contract cases ---- */

function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Basic ${Buffer.from(`${EMAIL}:${API_TOKEN}`).toString('base64')}`);
    assert.equal(rec.headers.accept, 'application/json');
}

function sentJson(rec) {
    assert.equal(mediaType(rec.headers), 'application/json');
    return JSON.parse(rec.body);
}

export const cases = {
    search_issues: {
        args: { jql: 'project = ENG AND status != Done ORDER BY updated DESC', fields: ['summary', 'status'], maxResults: 1 },
        check(rec, res) {
            common(rec, 'POST', '/rest/api/3/search/jql');
            assert.deepEqual(sentJson(rec), { jql: 'project = ENG AND status != Done ORDER BY updated DESC', fields: ['summary', 'status'], maxResults: 1 });
            const r = res.structuredContent;
            assert.equal(r.issues.length, 1);
            assert.equal(r.issues[0].key, 'ENG-2');
            assert.deepEqual(Object.keys(r.issues[0].fields).sort(), ['status', 'summary']);
            assert.equal(r.isLast, false);
            assert.equal(typeof r.nextPageToken, 'string');
        },
    },
    get_issue: {
        args: { issueIdOrKey: 'ENG-1', fields: 'summary,status,assignee' },
        check(rec, res) {
            common(rec, 'GET', '/rest/api/3/issue/ENG-1');
            assert.deepEqual(queryOf(rec), { fields: 'summary,status,assignee' });
            assert.equal(res.structuredContent.key, 'ENG-1');
            assert.equal(res.structuredContent.fields.assignee.displayName, 'Ana Ortiz');
            assert.equal(res.structuredContent.fields.description, undefined);
        },
    },
    list_transitions: {
        args: { issueIdOrKey: 'ENG-1', expand: 'transitions.fields' },
        check(rec, res) {
            common(rec, 'GET', '/rest/api/3/issue/ENG-1/transitions');
            assert.deepEqual(queryOf(rec), { expand: 'transitions.fields' });
            assert.deepEqual(res.structuredContent.transitions.map((t) => t.id), ['21', '31']);
            assert.ok(res.structuredContent.transitions[1].fields.resolution);
        },
    },
    create_issue: {
        args: { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'Add retries to the uploader', description: adf('Uploads fail on flaky networks.'), labels: ['uploader'] } },
        check(rec, res, fake) {
            common(rec, 'POST', '/rest/api/3/issue');
            assert.deepEqual(sentJson(rec), { fields: { project: { key: 'ENG' }, issuetype: { name: 'Task' }, summary: 'Add retries to the uploader', description: adf('Uploads fail on flaky networks.'), labels: ['uploader'] } });
            assert.match(res.structuredContent.key, /^ENG-\d+$/);
            assert.equal(fake.data.issues.find((i) => i.key === res.structuredContent.key).fields.summary, 'Add retries to the uploader');
        },
    },
    edit_issue: {
        args: { issueIdOrKey: 'ENG-2', fields: { priority: { name: 'Highest' }, assignee: { accountId: ANA.accountId } }, update: { labels: [{ add: 'flaky' }] }, notifyUsers: false },
        check(rec, res, fake) {
            common(rec, 'PUT', '/rest/api/3/issue/ENG-2');
            assert.deepEqual(queryOf(rec), { notifyUsers: 'false' });
            assert.deepEqual(sentJson(rec), { fields: { priority: { name: 'Highest' }, assignee: { accountId: ANA.accountId } }, update: { labels: [{ add: 'flaky' }] } });
            assert.equal(res.content[0].text, '(no content, HTTP 204)');
            const f = fake.data.issues.find((i) => i.key === 'ENG-2').fields;
            assert.deepEqual([f.priority.name, f.assignee.accountId, f.labels], ['Highest', ANA.accountId, ['flaky']]);
        },
    },
    transition_issue: {
        args: { issueIdOrKey: 'ENG-1', transition: { id: '21' }, update: { comment: [{ add: { body: adf('Picking this up.') } }] } },
        check(rec, res, fake) {
            common(rec, 'POST', '/rest/api/3/issue/ENG-1/transitions');
            assert.deepEqual(sentJson(rec), { transition: { id: '21' }, update: { comment: [{ add: { body: adf('Picking this up.') } }] } });
            assert.equal(res.content[0].text, '(no content, HTTP 204)');
            assert.equal(fake.data.issues.find((i) => i.key === 'ENG-1').fields.status.name, 'In Progress');
        },
    },
    add_comment: {
        args: { issueIdOrKey: 'ENG-3', body: adf('Seen again in 1.4.2.'), visibility: { type: 'role', value: 'Developers' } },
        check(rec, res) {
            common(rec, 'POST', '/rest/api/3/issue/ENG-3/comment');
            assert.deepEqual(sentJson(rec), { body: adf('Seen again in 1.4.2.'), visibility: { type: 'role', value: 'Developers' } });
            assert.deepEqual(res.structuredContent.body, adf('Seen again in 1.4.2.'));
            assert.equal(res.structuredContent.author.displayName, 'Mandate Agent');
        },
    },
};

export const errors = [
    {
        tool: 'search_issues', args: { jql: 'ORDER BY created DESC' },
        match: /^Jira API error: HTTP 400: Unbounded JQL queries are not allowed here\. Please add a search restriction to your query\.$/,
    },
    { tool: 'get_issue', args: { issueIdOrKey: 'ENG-999' }, match: /^Jira API error: HTTP 404: Issue does not exist or you do not have permission to see it\.$/ },
    {
        tool: 'create_issue', args: { fields: { project: { key: 'ENG' }, issuetype: { name: 'Epic' }, summary: 'x' } },
        match: /^Jira API error: HTTP 400: issuetype: Specify a valid issue type$/,
    },
    { tool: 'transition_issue', args: { issueIdOrKey: 'ENG-3', transition: { id: '99' } }, match: /^Jira API error: HTTP 400: Transition id '99' is not valid for this issue\.$/ },
];
