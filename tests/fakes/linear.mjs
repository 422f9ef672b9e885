// A fake of Linear's GraphQL API (https://api.linear.app/graphql) for the catalog's linear
// tools: teams with their workflow states and labels, issues (list with IssueFilter, get,
// create, update) and comments.
//
// What it checks, as Linear documents it (linear.app/developers/graphql, "Getting started"):
//   - POST /graphql with a JSON body {"query", "variables", "operationName"}; the operation
//     named by operationName must be the document's.
//   - "Authorization: <API_KEY>" for a personal API key (no Bearer prefix; "Bearer" is for
//     OAuth access tokens); otherwise 401 with an authentication error.
//   - Variables against the operation's declarations and the schema's input types
//     (IssueCreateInput, IssueUpdateInput, IssueFilter, PaginationOrderBy, from Linear's
//     published schema, github.com/linear/linear packages/sdk/src/schema.graphql): a missing
//     required variable or an unknown input field is refused as graphql-js words it.
//   - Only fields the schema has may be selected; the answer holds exactly the selected
//     fields, in the standard GraphQL response shape {"data": ...}.
// Errors are the standard GraphQL error format {"errors": [{"message", "path",
// "extensions": {"type", "userPresentableMessage"}}], "data": null} ("Error handling"), with
// HTTP 400 for a request that fails (validation, unknown entities) and 401 for authentication.

import assert from 'node:assert/strict';

import { jsonBody, mediaType, send } from './lib.mjs';

export const connector = 'linear';

const API_KEY = 'lin_api_FakeContractKey0123456789abcdefABCDEFGHIJ';
export const credential = { Authorization: API_KEY };

const TEAM = 'f4a9b5b0-3c1e-4e8a-9d8e-0b5d2f6c7a11';
const S_BACKLOG = '1a0e6e6b-64f7-4a32-8f6b-9e2b0c7d1f01';
const S_TODO = '1a0e6e6b-64f7-4a32-8f6b-9e2b0c7d1f02';
const S_PROGRESS = '1a0e6e6b-64f7-4a32-8f6b-9e2b0c7d1f03';
const S_DONE = '1a0e6e6b-64f7-4a32-8f6b-9e2b0c7d1f04';
const L_BUG = '7d2c9a40-1b3e-4f5a-8c6d-2e1f0a9b8c01';
const L_PERF = '7d2c9a40-1b3e-4f5a-8c6d-2e1f0a9b8c02';
const BOT = { id: 'c0ffee00-0000-4000-8000-000000000001', name: 'Mandate Agent', email: 'agent@example.com' };
const ANA = { id: 'c0ffee00-0000-4000-8000-000000000002', name: 'Ana Ortiz', email: 'ana@example.com' };

/* The input types' fields as the published schema defines them (IssueFilter: the top level). */
const INPUT_FIELDS = {
    IssueCreateInput: ['assigneeId', 'completedAt', 'createAsUser', 'createdAt', 'cycleId', 'delegateId', 'description', 'descriptionData',
        'displayIconUrl', 'dueDate', 'estimate', 'id', 'labelIds', 'lastAppliedTemplateId', 'parentId', 'preserveSortOrderOnCreate', 'priority',
        'prioritySortOrder', 'projectId', 'projectMilestoneId', 'referenceCommentId', 'slaBreachesAt', 'slaStartedAt', 'slaType', 'sortOrder',
        'sourceCommentId', 'sourcePullRequestCommentId', 'stateId', 'subIssueSortOrder', 'subscriberIds', 'teamId', 'templateId', 'title',
        'useDefaultTemplate'],
    IssueUpdateInput: ['addedLabelIds', 'assigneeId', 'autoClosedByParentClosing', 'cycleId', 'delegateId', 'description', 'descriptionData',
        'dueDate', 'estimate', 'labelIds', 'lastAppliedTemplateId', 'parentId', 'priority', 'prioritySortOrder', 'projectId',
        'projectMilestoneId', 'removedLabelIds', 'slaBreachesAt', 'slaStartedAt', 'slaType', 'snoozedById', 'snoozedUntilAt', 'sortOrder',
        'stateId', 'subIssueSortOrder', 'subscriberIds', 'teamId', 'title', 'trashed'],
    IssueFilter: ['addedToCycleAt', 'addedToCyclePeriod', 'ageTime', 'and', 'archivedAt', 'assignee', 'attachments', 'autoArchivedAt',
        'autoClosedAt', 'canceledAt', 'children', 'comments', 'completedAt', 'createdAt', 'creator', 'customerCount', 'customerImportantCount',
        'cycle', 'cycleTime', 'delegate', 'description', 'dueDate', 'estimate', 'hasBlockedByRelations', 'hasBlockingRelations',
        'hasDuplicateRelations', 'hasRelatedRelations', 'id', 'labels', 'lastAppliedTemplate', 'leadTime', 'needs', 'number', 'or', 'parent',
        'priority', 'project', 'projectMilestone', 'reactions', 'searchableContent', 'slaStatus', 'snoozedBy', 'snoozedUntilAt',
        'sourceMetadata', 'startedAt', 'state', 'subscribers', 'team', 'title', 'triageTime', 'triagedAt', 'updatedAt'],
};
const ENUMS = { PaginationOrderBy: ['createdAt', 'updatedAt'] };
const PRIORITY_LABELS = ['No priority', 'Urgent', 'High', 'Medium', 'Low'];

export function seed() {
    const states = [
        { id: S_BACKLOG, name: 'Backlog', type: 'backlog', position: 0 },
        { id: S_TODO, name: 'Todo', type: 'unstarted', position: 1 },
        { id: S_PROGRESS, name: 'In Progress', type: 'started', position: 2 },
        { id: S_DONE, name: 'Done', type: 'completed', position: 3 },
    ];
    const labels = [{ id: L_BUG, name: 'Bug' }, { id: L_PERF, name: 'Performance' }];
    const issue = (n, title, stateId, extra = {}) => ({
        id: `9b1d3c7e-0000-4000-8000-00000000000${n}`, number: n, title, stateId, priority: 3, estimate: null, dueDate: null,
        description: `Details of ENG-${n}.`, assignee: null, labelIds: [], project: null, parent: null,
        createdAt: `2024-06-0${n}T10:00:00.000Z`, updatedAt: `2024-06-0${n}T12:00:00.000Z`, comments: [], ...extra,
    });
    return {
        team: { id: TEAM, key: 'ENG', name: 'Engineering', states, labels },
        issues: [
            issue(1, 'Crash on login with SSO', S_TODO, { priority: 1, assignee: ANA, labelIds: [L_BUG],
                comments: [{ id: 'e1000000-0000-4000-8000-000000000001', body: 'Happens with Okta only.', createdAt: '2024-06-01T11:00:00.000Z', user: ANA }] }),
            issue(2, 'Slow search on large projects', S_PROGRESS, { labelIds: [L_PERF] }),
            issue(3, 'Old flaky test', S_DONE, { priority: 4 }),
        ],
        next: 4,
        nextComment: 100,
    };
}

/* ---- a small GraphQL reader: the operation, its variable definitions, selection sets ---- */

/* Parses the selection set at text[pos] === '{': [{name, args, sel}], and the position after it. */
function selection(text, pos) {
    const fields = [];
    assert.equal(text[pos], '{');
    pos++;
    for (;;) {
        while (/[\s,]/.test(text[pos])) pos++;
        if (text[pos] === '}') return [fields, pos + 1];
        const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(text.slice(pos));
        if (!m) throw new Error(`Syntax Error: Unexpected "${text[pos]}".`);
        const f = { name: m[0], args: '', sel: null };
        pos += m[0].length;
        while (/\s/.test(text[pos])) pos++;
        if (text[pos] === '(') {
            let depth = 0;
            const start = pos;
            do {
                if (text[pos] === '(') depth++;
                if (text[pos] === ')') depth--;
                pos++;
            } while (depth > 0 && pos < text.length);
            f.args = text.slice(start + 1, pos - 1);
            while (/\s/.test(text[pos])) pos++;
        }
        if (text[pos] === '{') [f.sel, pos] = selection(text, pos);
        fields.push(f);
    }
}

function parseOperation(doc) {
    const m = /^\s*(query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)\s*(?:\(([^)]*)\))?\s*(?=\{)/.exec(doc);
    if (!m) throw new Error('Syntax Error: Expected a named operation.');
    const vars = {};
    for (const d of (m[3] || '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const v = /^\$([_A-Za-z]\w*)\s*:\s*([_A-Za-z]\w*)(!?)$/.exec(d);
        if (!v) throw new Error(`Syntax Error: bad variable definition "${d}".`);
        vars[v[1]] = { type: v[2], required: v[3] === '!' };
    }
    const [root] = selection(doc, m[0].length);
    return { kind: m[1], name: m[2], vars, root };
}

/* The arguments of a field: name: $var pairs, and an input object literal {a: $x, ...}. */
function fieldArgs(raw, variables) {
    const out = {};
    const literal = /^\s*input\s*:\s*\{([^}]*)\}\s*$/.exec(raw);
    const pairs = literal ? literal[1] : raw;
    const target = literal ? (out.input = {}) : out;
    for (const p of pairs.matchAll(/([_A-Za-z]\w*)\s*:\s*\$([_A-Za-z]\w*)/g)) {
        // A variable that was not provided leaves its input field out (GraphQL spec 5.6.1).
        if (p[2] in variables) target[p[1]] = variables[p[2]];
    }
    return out;
}

class GqlError extends Error {
    constructor(message, status = 400, extensions = {}) {
        super(message);
        this.status = status;
        this.extensions = { type: 'invalid input', userError: true, userPresentableMessage: message, ...extensions };
    }
}

function checkVariables(op, variables) {
    for (const [name, d] of Object.entries(op.vars)) {
        const v = variables[name];
        if (v === undefined || v === null) {
            if (d.required) throw new GqlError(`Variable "$${name}" of required type "${d.type}!" was not provided.`);
            continue;
        }
        const bad = (why) => new GqlError(`Variable "$${name}" got invalid value ${JSON.stringify(v)}; ${why}`);
        if (d.type === 'String' && typeof v !== 'string') throw bad('String cannot represent a non string value.');
        if (d.type === 'Int' && !Number.isInteger(v)) throw bad('Int cannot represent non-integer value.');
        if (d.type === 'Boolean' && typeof v !== 'boolean') throw bad('Boolean cannot represent a non boolean value.');
        if (ENUMS[d.type] && !ENUMS[d.type].includes(v)) throw bad(`Value "${v}" does not exist in "${d.type}" enum.`);
        if (INPUT_FIELDS[d.type]) {
            if (typeof v !== 'object' || Array.isArray(v)) throw bad(`Expected type "${d.type}" to be an object.`);
            for (const k of Object.keys(v)) {
                if (!INPUT_FIELDS[d.type].includes(k)) throw bad(`Field "${k}" is not defined by type "${d.type}".`);
            }
        }
    }
    for (const name of Object.keys(variables)) {
        if (!(name in op.vars)) throw new GqlError(`Variable "$${name}" is not defined by operation "${op.name}".`);
    }
}

/* The selected fields of value, recursively; a field the type does not have is an error. */
function project(value, sel, type) {
    if (value === null || value === undefined || !sel) return value ?? null;
    if (Array.isArray(value)) return value.map((v) => project(v, sel, type));
    const out = {};
    for (const f of sel) {
        if (!(f.name in value)) throw new GqlError(`Cannot query field "${f.name}" on type "${type}".`, 400, { type: 'graphql error' });
        out[f.name] = project(value[f.name], f.sel, f.name);
    }
    return out;
}

/* ---- the resolvers ---- */

function stateOf(fake, id) {
    return fake.data.team.states.find((s) => s.id === id);
}

function issueNode(fake, i) {
    const t = fake.data.team;
    const identifier = `${t.key}-${i.number}`;
    return {
        id: i.id, identifier, title: i.title, url: `https://linear.app/acme/issue/${identifier}`, priority: i.priority,
        priorityLabel: PRIORITY_LABELS[i.priority], estimate: i.estimate, dueDate: i.dueDate, createdAt: i.createdAt, updatedAt: i.updatedAt,
        description: i.description, state: stateOf(fake, i.stateId), team: { id: t.id, key: t.key, name: t.name }, assignee: i.assignee,
        labels: { nodes: t.labels.filter((l) => i.labelIds.includes(l.id)) }, project: i.project,
        parent: i.parent ? issueNode(fake, fake.data.issues.find((x) => x.id === i.parent)) : null,
        comments: { nodes: i.comments },
    };
}

function findIssue(fake, id) {
    const i = fake.data.issues.find((x) => x.id === id || `${fake.data.team.key}-${x.number}` === id);
    if (!i) throw new GqlError('Entity not found: Issue', 400, { userPresentableMessage: 'Could not find referenced Issue.' });
    return i;
}

/* StringComparator, NumberComparator and the nested filters the catalog's examples use. */
function cmp(value, c) {
    for (const [op, want] of Object.entries(c)) {
        const ok = {
            eq: () => value === want, neq: () => value !== want, in: () => want.includes(value), nin: () => !want.includes(value),
            lt: () => value < want, lte: () => value <= want, gt: () => value > want, gte: () => value >= want,
            null: () => (value === null) === want,
            containsIgnoreCase: () => String(value).toLowerCase().includes(String(want).toLowerCase()),
        }[op];
        if (!ok) throw new Error(`fake linear: comparator ${op} is not modelled`);
        if (!ok()) return false;
    }
    return true;
}

function matches(fake, i, filter) {
    for (const [k, f] of Object.entries(filter)) {
        const node = issueNode(fake, i);
        const ok = {
            and: () => f.every((g) => matches(fake, i, g)),
            or: () => f.some((g) => matches(fake, i, g)),
            team: () => Object.entries(f).every(([tk, c]) => cmp(node.team[tk], c)),
            state: () => Object.entries(f).every(([sk, c]) => cmp(node.state[sk], c)),
            assignee: () => ('null' in f ? (node.assignee === null) === f.null
                : node.assignee !== null && Object.entries(f).every(([ak, c]) => (ak === 'isMe' ? cmp(node.assignee.id === BOT.id, c) : cmp(node.assignee[ak], c)))),
            title: () => cmp(node.title, f),
            priority: () => cmp(node.priority, f),
            updatedAt: () => cmp(node.updatedAt, f),
            createdAt: () => cmp(node.createdAt, f),
            labels: () => node.labels.nodes.some((l) => Object.entries(f.some || {}).every(([lk, c]) => cmp(l[lk], c))),
        }[k];
        if (!ok) throw new Error(`fake linear: IssueFilter.${k} is not modelled`);
        if (!ok()) return false;
    }
    return true;
}

/* A connection page: first (default 50) after a cursor, with pageInfo. */
function page(list, args) {
    const first = args.first ?? 50;
    if (first > 250) throw new GqlError('first must be at most 250');
    const start = args.after ? Number(Buffer.from(args.after, 'base64').toString()) : 0;
    const nodes = list.slice(start, start + first);
    return { nodes, pageInfo: { hasNextPage: start + first < list.length, endCursor: Buffer.from(String(start + nodes.length)).toString('base64') } };
}

function checkIssueRefs(fake, input) {
    const t = fake.data.team;
    if (input.stateId !== undefined && !stateOf(fake, input.stateId)) throw new GqlError('Entity not found: WorkflowState', 400, { userPresentableMessage: 'Could not find referenced WorkflowState.' });
    for (const l of [...(input.labelIds || []), ...(input.addedLabelIds || []), ...(input.removedLabelIds || [])]) {
        if (!t.labels.some((x) => x.id === l)) throw new GqlError('Entity not found: IssueLabel', 400, { userPresentableMessage: 'Could not find referenced IssueLabel.' });
    }
    if (input.priority !== undefined && (input.priority < 0 || input.priority > 4)) throw new GqlError('priority must not be greater than 4');
    if (input.assigneeId && ![BOT.id, ANA.id].includes(input.assigneeId)) throw new GqlError('Entity not found: User', 400, { userPresentableMessage: 'Could not find referenced User.' });
}

const ROOTS = {
    teams: (fake, a) => page([issueNodeTeam(fake)], a),
    issues: (fake, a) => {
        let list = fake.data.issues.filter((i) => matches(fake, i, a.filter || {}));
        const key = a.orderBy === 'updatedAt' ? 'updatedAt' : 'createdAt';
        list = list.sort((x, y) => (x[key] < y[key] ? 1 : -1)).map((i) => issueNode(fake, i));
        return page(list, a);
    },
    // A query field whose resolver fails is a field error (GraphQL spec, "Handling Field
    // Errors"): the response is still a well-formed GraphQL response, {"data": {"issue": null},
    // "errors": [...]}, which GraphQL over HTTP answers with 200 for application/json. The
    // mutations' input errors below stay 400, as Linear answers a request it refuses.
    issue: (fake, a) => {
        try {
            return issueNode(fake, findIssue(fake, a.id));
        } catch (e) {
            if (e instanceof GqlError) e.status = 200;
            throw e;
        }
    },
    issueCreate: (fake, a) => {
        const input = a.input;
        if (input.teamId !== fake.data.team.id) throw new GqlError('Entity not found: Team', 400, { userPresentableMessage: 'Could not find referenced Team.' });
        if (typeof input.title !== 'string' || !input.title) throw new GqlError('Argument Validation Error: title should not be empty');
        checkIssueRefs(fake, input);
        const i = {
            id: `9b1d3c7e-0000-4000-8000-0000000001${String(fake.data.next).padStart(2, '0')}`, number: fake.data.next++, title: input.title,
            stateId: input.stateId || S_BACKLOG, priority: input.priority ?? 0, estimate: input.estimate ?? null, dueDate: input.dueDate ?? null,
            description: input.description ?? null, assignee: [BOT, ANA].find((u) => u.id === input.assigneeId) || null,
            labelIds: input.labelIds || [], project: null, parent: input.parentId ? findIssue(fake, input.parentId).id : null,
            createdAt: '2024-06-10T08:00:00.000Z', updatedAt: '2024-06-10T08:00:00.000Z', comments: [],
        };
        fake.data.issues.push(i);
        return { success: true, issue: issueNode(fake, i) };
    },
    issueUpdate: (fake, a) => {
        const i = findIssue(fake, a.id);
        const input = a.input;
        checkIssueRefs(fake, input);
        for (const k of ['title', 'description', 'priority', 'stateId', 'estimate', 'dueDate']) if (k in input) i[k] = input[k];
        if ('assigneeId' in input) i.assignee = [BOT, ANA].find((u) => u.id === input.assigneeId) || null;
        if (input.labelIds) i.labelIds = [...input.labelIds];
        if (input.addedLabelIds) i.labelIds = [...new Set([...i.labelIds, ...input.addedLabelIds])];
        if (input.removedLabelIds) i.labelIds = i.labelIds.filter((l) => !input.removedLabelIds.includes(l));
        i.updatedAt = '2024-06-10T09:00:00.000Z';
        return { success: true, issue: issueNode(fake, i) };
    },
    commentCreate: (fake, a) => {
        const input = a.input;
        if (typeof input.body !== 'string' || !input.body) throw new GqlError('Argument Validation Error: body should not be empty');
        const i = fake.data.issues.find((x) => x.id === input.issueId);
        if (!i) throw new GqlError('Entity not found: Issue', 400, { userPresentableMessage: 'Could not find referenced Issue.' });
        if (input.parentId && !i.comments.some((c) => c.id === input.parentId)) throw new GqlError('Entity not found: Comment', 400, { userPresentableMessage: 'Could not find referenced Comment.' });
        const c = { id: `e1000000-0000-4000-8000-000000000${fake.data.nextComment++}`, body: input.body, createdAt: '2024-06-10T08:30:00.000Z', user: BOT };
        i.comments.push(c);
        return { success: true, comment: { ...c, url: `https://linear.app/acme/issue/ENG-${i.number}#comment-${c.id.slice(0, 8)}`,
            issue: { identifier: `ENG-${i.number}` } } };
    },
};

function issueNodeTeam(fake) {
    const t = fake.data.team;
    return { id: t.id, key: t.key, name: t.name, states: { nodes: t.states }, labels: { nodes: t.labels } };
}

function gqlError(res, e, path) {
    // A field error (200) keeps the data it could not resolve as null, beside the errors.
    send(res, e.status, { errors: [{ message: e.message, ...(path ? { path: [path] } : {}), extensions: e.extensions }],
        data: e.status === 200 && path ? { [path]: null } : null });
}

export function handle(fake, rec, res) {
    const auth = rec.headers.authorization || '';
    if (auth !== API_KEY)
        return gqlError(res, new GqlError('Authentication required, not authenticated', 401,
            { type: 'authentication error', userPresentableMessage: 'You need to authenticate to access this operation.' }));
    if (rec.pathname !== '/graphql') return send(res, 404, { errors: [{ message: 'Not found' }] });
    if (rec.method !== 'POST') return gqlError(res, new GqlError('Only POST is supported', 405));
    const b = jsonBody(rec, res, { errors: [{ message: 'Request body must be JSON', extensions: { type: 'invalid input' } }] });
    if (!b) return;
    let op;
    try {
        if (typeof b.query !== 'string') throw new GqlError('Must provide query string.');
        op = parseOperation(b.query);
        if (b.operationName !== undefined && b.operationName !== op.name) throw new GqlError(`Unknown operation named "${b.operationName}".`);
        checkVariables(op, b.variables || {});
    } catch (e) {
        return gqlError(res, e instanceof GqlError ? e : new GqlError(e.message, 400, { type: 'graphql error' }));
    }
    const data = {};
    for (const f of op.root) {
        const resolve = ROOTS[f.name];
        const mutation = /(Create|Update)$/.test(f.name);
        if (!resolve || mutation !== (op.kind === 'mutation'))
            return gqlError(res, new GqlError(`Cannot query field "${f.name}" on type "${op.kind === 'mutation' ? 'Mutation' : 'Query'}".`, 400, { type: 'graphql error' }));
        try {
            data[f.name] = project(resolve(fake, fieldArgs(f.args, b.variables || {})), f.sel, f.name);
        } catch (e) {
            if (!(e instanceof GqlError)) throw e;
            return gqlError(res, e, f.name);
        }
    }
    send(res, 200, { data });
}

/* ---- the contract cases ---- */

/* The GraphQL request the connector sent: its operation, checked against the catalog's. */
function sent(rec, operationName) {
    assert.equal(rec.method, 'POST');
    assert.equal(rec.pathname, '/graphql');
    assert.equal(rec.headers.authorization, API_KEY);
    assert.equal(mediaType(rec.headers), 'application/json');
    const b = JSON.parse(rec.body);
    assert.equal(b.operationName, operationName);
    assert.equal(parseOperation(b.query).name, operationName);
    return b;
}

export const cases = {
    list_teams: {
        args: { first: 10 },
        check(rec, res) {
            assert.deepEqual(sent(rec, 'ListTeams').variables, { first: 10 });
            const t = res.structuredContent.data.teams.nodes[0];
            assert.deepEqual([t.id, t.key], [TEAM, 'ENG']);
            assert.deepEqual(t.states.nodes.map((s) => s.type), ['backlog', 'unstarted', 'started', 'completed']);
            assert.equal(res.structuredContent.data.teams.pageInfo.hasNextPage, false);
        },
    },
    list_issues: {
        args: { filter: { team: { key: { eq: 'ENG' } }, state: { type: { nin: ['completed', 'canceled'] } } }, first: 1, orderBy: 'updatedAt' },
        check(rec, res) {
            const b = sent(rec, 'ListIssues');
            assert.deepEqual(b.variables, { filter: { team: { key: { eq: 'ENG' } }, state: { type: { nin: ['completed', 'canceled'] } } }, first: 1, orderBy: 'updatedAt' });
            const c = res.structuredContent.data.issues;
            assert.deepEqual(c.nodes.map((i) => i.identifier), ['ENG-2']);
            assert.equal(c.nodes[0].state.name, 'In Progress');
            assert.equal(c.pageInfo.hasNextPage, true);
            // Only the selected fields come back: the list does not select description.
            assert.equal('description' in c.nodes[0], false);
        },
    },
    get_issue: {
        args: { id: 'ENG-1' },
        check(rec, res) {
            assert.deepEqual(sent(rec, 'GetIssue').variables, { id: 'ENG-1' });
            const i = res.structuredContent.data.issue;
            assert.equal(i.title, 'Crash on login with SSO');
            assert.equal(i.priorityLabel, 'Urgent');
            assert.equal(i.comments.nodes[0].body, 'Happens with Okta only.');
        },
    },
    create_issue: {
        args: { input: { teamId: TEAM, title: 'Retry token refresh', description: 'Seen in **prod**.', priority: 2, labelIds: [L_BUG] } },
        check(rec, res, fake) {
            assert.deepEqual(sent(rec, 'CreateIssue').variables, { input: { teamId: TEAM, title: 'Retry token refresh', description: 'Seen in **prod**.', priority: 2, labelIds: [L_BUG] } });
            const p = res.structuredContent.data.issueCreate;
            assert.equal(p.success, true);
            assert.match(p.issue.identifier, /^ENG-\d+$/);
            assert.equal(p.issue.state.name, 'Backlog');
            assert.ok(fake.data.issues.some((i) => i.title === 'Retry token refresh'));
        },
    },
    update_issue: {
        args: { id: 'ENG-2', input: { stateId: S_DONE, assigneeId: ANA.id, addedLabelIds: [L_BUG] } },
        check(rec, res) {
            assert.deepEqual(sent(rec, 'UpdateIssue').variables, { id: 'ENG-2', input: { stateId: S_DONE, assigneeId: ANA.id, addedLabelIds: [L_BUG] } });
            const i = res.structuredContent.data.issueUpdate.issue;
            assert.equal(i.state.type, 'completed');
            assert.equal(i.assignee.name, 'Ana Ortiz');
            assert.deepEqual(i.labels.nodes.map((l) => l.name).sort(), ['Bug', 'Performance']);
        },
    },
    create_comment: {
        args: { issueId: '9b1d3c7e-0000-4000-8000-000000000001', body: 'Fixed by deploy **1.4.3**.', parentId: 'e1000000-0000-4000-8000-000000000001' },
        check(rec, res) {
            const b = sent(rec, 'CreateComment');
            assert.deepEqual(b.variables, { issueId: '9b1d3c7e-0000-4000-8000-000000000001', body: 'Fixed by deploy **1.4.3**.', parentId: 'e1000000-0000-4000-8000-000000000001' });
            const c = res.structuredContent.data.commentCreate;
            assert.equal(c.success, true);
            assert.equal(c.comment.body, 'Fixed by deploy **1.4.3**.');
            assert.equal(c.comment.issue.identifier, 'ENG-1');
        },
    },
};

export const errors = [
    // HTTP 200 with errors[] (a field error): the connector's rule {"pointer": "/errors",
    // "present": true} makes it a tool error, worded from errors[0].message and its
    // userPresentableMessage.
    { tool: 'get_issue', args: { id: 'ENG-404' }, match: /^linear API error: Entity not found: Issue: Could not find referenced Issue\.$/ },
    {
        tool: 'create_issue', args: { input: { teamId: '00000000-0000-4000-8000-000000000000', title: 'x' } },
        match: /^linear API error: HTTP 400: Entity not found: Team: Could not find referenced Team\.$/,
    },
    {
        tool: 'update_issue', args: { id: 'ENG-1', input: { stateId: 'no-such-state' } },
        match: /^linear API error: HTTP 400: Entity not found: WorkflowState: Could not find referenced WorkflowState\.$/,
    },
];
