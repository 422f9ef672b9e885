// A fake of the GitHub REST API (v3, version 2022-11-28) for the catalog's github tools: pull
// requests, their files, reviews and merges, and issues with their comments.
//
// What it checks, as GitHub documents it:
//   - "Authorization: Bearer <token>" (docs.github.com/en/rest/authentication/authenticating-to-the-rest-api);
//     a missing or wrong token is 401 {"message": "Bad credentials"}.
//   - A User-Agent header on every request, else 403
//     (docs.github.com/en/rest/using-the-rest-api/getting-started-with-the-rest-api#user-agent).
//   - X-GitHub-Api-Version, when sent, names a supported version, else 400
//     (docs.github.com/en/rest/about-the-rest-api/api-versions).
//   - Bodies of POST, PATCH and PUT are JSON; invalid fields are 422 {"message": "Validation
//     Failed", "errors": [{"resource", "field", "code"}]} or {"code": "custom", "message"}
//     (docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api and "Client errors").
//   - Lists page with per_page (at most 100) and page, and link the next page in a Link header
//     (docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api).
// Shapes per endpoint: docs.github.com/en/rest/pulls/pulls, /pulls/reviews, /issues/issues,
// /issues/comments. Unknown repositories, pull requests and issues are 404 {"message": "Not Found"}.

import assert from 'node:assert/strict';

import { bearer, jsonBody, queryOf, send } from './lib.mjs';

export const connector = 'github';

const TOKEN = 'ghp_FakeContractToken0123456789abcdefGHIJ';
export const credential = { token: TOKEN };

const API_VERSIONS = ['2022-11-28', '2026-03-10'];
const DOCS = 'https://docs.github.com/rest';
const BOT = { login: 'mandate-bot', id: 9001, type: 'User' };
const OWNER = 'octocat';
const REPO = 'hello-world';
const HEAD_SHA = '6dcb09b5b57875f334f61aebed695e2e4193db5e';
const MERGE_SHA = 'e5bd3914e2e596debea16f433f57875b5b90bcd6';

function user(login, id) {
    return { login, id, node_id: `MDQ6VXNlcj${id}`, type: 'User', site_admin: false,
        html_url: `https://github.com/${login}` };
}

function label(name, id) {
    return { id, node_id: `MDU6TGFiZWw${id}`, name, color: 'd73a4a', default: false, description: null };
}

export function seed() {
    const octo = user('octocat', 1);
    const issue = (number, title, state, extra = {}) => ({
        number, title, state, state_reason: state === 'closed' ? 'completed' : null,
        body: `Body of #${number}.`, user: octo, labels: [], assignees: [], milestone: null,
        comments: 0, created_at: `2024-06-0${number % 9 + 1}T10:00:00Z`, updated_at: `2024-06-0${number % 9 + 1}T12:00:00Z`,
        closed_at: state === 'closed' ? '2024-06-05T09:00:00Z' : null, locked: false, author_association: 'OWNER',
        ...extra,
    });
    return {
        branches: { main: MERGE_SHA, 'feature-x': HEAD_SHA, 'fix-typo': 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' },
        // Pull requests and issues share one numbering, as on GitHub.
        issues: [
            issue(7, 'Login fails on Safari', 'open', { labels: [label('bug', 208045946)], assignees: [octo], comments: 2 }),
            issue(8, 'Typo in README', 'closed'),
            issue(42, 'Add retry to the uploader', 'open', { pull_request: {} }),
            issue(43, 'Fix a typo', 'open', { pull_request: {} }),
        ],
        pulls: {
            42: { title: 'Add retry to the uploader', head: 'feature-x', base: 'main', state: 'open', draft: false,
                mergeable: true, merged: false, body: 'Retries failed uploads three times.' },
            43: { title: 'Fix a typo', head: 'fix-typo', base: 'main', state: 'open', draft: false,
                mergeable: true, merged: false, body: null },
        },
        files: {
            42: [
                { filename: 'src/upload.c', status: 'modified', additions: 12, deletions: 2,
                    patch: '@@ -10,6 +10,16 @@ int upload(struct req *r)\n-    return send_once(r);\n+    for (int i = 0; i < 3; i++)\n+        if (send_once(r) == 0)\n+            return 0;' },
                { filename: 'tests/upload_test.c', status: 'added', additions: 40, deletions: 0,
                    patch: '@@ -0,0 +1,40 @@\n+#include "upload.h"' },
            ],
        },
        comments: {
            7: [
                { id: 1001, body: 'I can reproduce this on Safari 17.', user: octo, created_at: '2024-06-02T09:00:00Z' },
                { id: 1002, body: 'Same on iOS.', user: user('hubot', 2), created_at: '2024-06-02T10:00:00Z' },
            ],
        },
        nextIssue: 44,
        nextId: 5000,
    };
}

function base(fake) {
    return `${fake.url}/repos/${OWNER}/${REPO}`;
}

function err(res, status, message, extra = {}) {
    send(res, status, { message, documentation_url: DOCS, status: String(status), ...extra });
}

function validation(res, errors) {
    err(res, 422, 'Validation Failed', { errors });
}

function issueJson(fake, i) {
    const url = `${base(fake)}/issues/${i.number}`;
    const out = {
        id: 100000 + i.number, node_id: `I_kwDO${i.number}`, url, html_url: `https://github.com/${OWNER}/${REPO}/issues/${i.number}`,
        repository_url: base(fake), comments_url: `${url}/comments`, ...i,
        assignee: i.assignees[0] || null,
    };
    if (i.pull_request) out.pull_request = { url: `${base(fake)}/pulls/${i.number}`, html_url: `https://github.com/${OWNER}/${REPO}/pull/${i.number}` };
    return out;
}

function branchRef(fake, name) {
    return { label: `${OWNER}:${name}`, ref: name, sha: fake.data.branches[name], user: user('octocat', 1),
        repo: { id: 1296269, name: REPO, full_name: `${OWNER}/${REPO}` } };
}

/* A pull request; simple is the "pull request simple" shape that the list returns. */
function pullJson(fake, n, simple) {
    const p = fake.data.pulls[n];
    const i = fake.data.issues.find((x) => x.number === n);
    const out = {
        url: `${base(fake)}/pulls/${n}`, id: 200000 + n, node_id: `PR_kwDO${n}`, number: n,
        html_url: `https://github.com/${OWNER}/${REPO}/pull/${n}`,
        diff_url: `https://github.com/${OWNER}/${REPO}/pull/${n}.diff`, issue_url: `${base(fake)}/issues/${n}`,
        state: p.state, locked: false, title: p.title, user: i.user, body: p.body, labels: i.labels,
        assignees: i.assignees, draft: p.draft, created_at: i.created_at, updated_at: i.updated_at,
        closed_at: p.state === 'closed' ? i.closed_at : null, merged_at: p.merged ? p.merged_at : null,
        head: branchRef(fake, p.head), base: branchRef(fake, p.base), author_association: 'OWNER',
    };
    if (simple) return out;
    const files = fake.data.files[n] || [];
    return {
        ...out, merged: p.merged, mergeable: p.state === 'open' ? p.mergeable : null,
        mergeable_state: p.state === 'open' ? 'clean' : 'unknown', merge_commit_sha: p.merged ? p.merge_sha : null,
        comments: i.comments, review_comments: 0, commits: 1, maintainer_can_modify: false,
        additions: files.reduce((a, f) => a + f.additions, 0), deletions: files.reduce((a, f) => a + f.deletions, 0),
        changed_files: files.length,
    };
}

/*
 * Answers one page of items (per_page default 30, at most 100; page from 1) and, when more
 * remain, a Link header with rel="next" that keeps the request's other query parameters.
 */
function sendPage(fake, rec, res, items) {
    const q = queryOf(rec);
    const perPage = Math.min(Number(q.per_page || 30), 100);
    const page = Number(q.page || 1);
    if (!Number.isInteger(perPage) || perPage < 1 || !Number.isInteger(page) || page < 1)
        return validation(res, [{ resource: 'Search', field: 'per_page', code: 'invalid' }]);
    const headers = {};
    if (page * perPage < items.length) {
        const next = new URLSearchParams(rec.query);
        next.set('page', String(page + 1));
        headers.Link = `<${fake.url}${rec.pathname}?${next}>; rel="next"`;
    }
    send(res, 200, items.slice((page - 1) * perPage, page * perPage), headers);
}

function isString(v) {
    return typeof v === 'string';
}

function listPulls(fake, rec, res) {
    const q = queryOf(rec);
    const state = q.state || 'open';
    if (!['open', 'closed', 'all'].includes(state))
        return validation(res, [{ resource: 'PullRequest', field: 'state', code: 'invalid' }]);
    let nums = Object.keys(fake.data.pulls).map(Number).sort((a, b) => b - a);
    nums = nums.filter((n) => {
        const p = fake.data.pulls[n];
        if (state !== 'all' && p.state !== state) return false;
        if (q.base && p.base !== q.base) return false;
        if (q.head && `${OWNER}:${p.head}` !== q.head) return false;
        return true;
    });
    if (q.direction === 'asc') nums.reverse();
    sendPage(fake, rec, res, nums.map((n) => pullJson(fake, n, true)));
}

function createPull(fake, rec, res) {
    const b = jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS });
    if (!b) return;
    const missing = ['title', 'head', 'base'].filter((k) => !isString(b[k]));
    if (missing.length)
        return validation(res, missing.map((field) => ({ resource: 'PullRequest', field, code: 'missing_field' })));
    const head = b.head.includes(':') ? b.head.split(':')[1] : b.head;
    if (!(b.base in fake.data.branches))
        return validation(res, [{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    if (!(head in fake.data.branches))
        return validation(res, [{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
    if (head === b.base)
        return validation(res, [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${b.base} and ${head}` }]);
    const n = fake.data.nextIssue++;
    fake.data.issues.push({ number: n, title: b.title, state: 'open', state_reason: null, body: b.body ?? null,
        user: BOT, labels: [], assignees: [], milestone: null, comments: 0, created_at: '2024-06-10T08:00:00Z',
        updated_at: '2024-06-10T08:00:00Z', closed_at: null, locked: false, author_association: 'MEMBER', pull_request: {} });
    fake.data.pulls[n] = { title: b.title, head, base: b.base, state: 'open', draft: b.draft === true,
        mergeable: null, merged: false, body: b.body ?? null };
    send(res, 201, pullJson(fake, n, false), { Location: `${base(fake)}/pulls/${n}` });
}

const REVIEW_STATES = { APPROVE: 'APPROVED', REQUEST_CHANGES: 'CHANGES_REQUESTED', COMMENT: 'COMMENTED' };

function createReview(fake, rec, res, n) {
    const b = jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS });
    if (!b) return;
    if (b.event !== undefined && !(b.event in REVIEW_STATES))
        return validation(res, [{ resource: 'PullRequestReview', field: 'event', code: 'invalid' }]);
    // "body: Required when using REQUEST_CHANGES or COMMENT for the event parameter."
    if ((b.event === 'REQUEST_CHANGES' || b.event === 'COMMENT') && !(isString(b.body) && b.body))
        return validation(res, [{ resource: 'PullRequestReview', field: 'body', code: 'missing_field' }]);
    const paths = (fake.data.files[n] || []).map((f) => f.filename);
    for (const c of b.comments || []) {
        if (!isString(c.path) || !isString(c.body))
            return validation(res, [{ resource: 'PullRequestReviewComment', field: 'path', code: 'missing_field' }]);
        if (!paths.includes(c.path))
            return err(res, 422, 'Unprocessable Entity', { errors: ['Path could not be resolved'] });
    }
    const state = b.event ? REVIEW_STATES[b.event] : 'PENDING';
    const id = fake.data.nextId++;
    const review = {
        id, node_id: `PRR_kwDO${id}`, user: BOT, body: b.body || '', state,
        html_url: `https://github.com/${OWNER}/${REPO}/pull/${n}#pullrequestreview-${id}`,
        pull_request_url: `${base(fake)}/pulls/${n}`, commit_id: b.commit_id || HEAD_SHA, author_association: 'MEMBER',
    };
    if (state !== 'PENDING') review.submitted_at = '2024-06-10T09:00:00Z';
    send(res, 200, review);
}

function mergePull(fake, rec, res, n) {
    const p = fake.data.pulls[n];
    const b = rec.body ? jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS }) : {};
    if (!b) return;
    if (b.merge_method !== undefined && !['merge', 'squash', 'rebase'].includes(b.merge_method))
        return validation(res, [{ resource: 'PullRequest', field: 'merge_method', code: 'invalid' }]);
    if (p.state !== 'open' || !p.mergeable) return err(res, 405, 'Pull Request is not mergeable');
    if (b.sha !== undefined && b.sha !== fake.data.branches[p.head])
        return err(res, 409, 'Head branch was modified. Review and try the merge again.');
    p.state = 'closed';
    p.merged = true;
    p.merged_at = '2024-06-10T10:00:00Z';
    p.merge_sha = 'f00dfeed00000000000000000000000000000001';
    const i = fake.data.issues.find((x) => x.number === n);
    i.state = 'closed';
    send(res, 200, { sha: p.merge_sha, merged: true, message: 'Pull Request successfully merged' });
}

function listIssues(fake, rec, res) {
    const q = queryOf(rec);
    const state = q.state || 'open';
    if (!['open', 'closed', 'all'].includes(state))
        return validation(res, [{ resource: 'Issue', field: 'state', code: 'invalid' }]);
    const labels = q.labels ? q.labels.split(',').map((s) => s.trim()) : [];
    let items = fake.data.issues.filter((i) => {
        if (state !== 'all' && i.state !== state) return false;
        if (!labels.every((l) => i.labels.some((x) => x.name === l))) return false;
        if (q.assignee === 'none' && i.assignees.length) return false;
        if (q.assignee === '*' && !i.assignees.length) return false;
        if (q.assignee && !['none', '*'].includes(q.assignee) && !i.assignees.some((a) => a.login === q.assignee)) return false;
        if (q.creator && i.user.login !== q.creator) return false;
        if (q.since && i.updated_at < q.since) return false;
        return true;
    });
    const key = q.sort === 'updated' ? 'updated_at' : q.sort === 'comments' ? 'comments' : 'created_at';
    items = items.sort((a, b) => (a[key] < b[key] ? 1 : a[key] > b[key] ? -1 : b.number - a.number));
    if (q.direction === 'asc') items.reverse();
    sendPage(fake, rec, res, items.map((i) => issueJson(fake, i)));
}

function createIssue(fake, rec, res) {
    const b = jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS });
    if (!b) return;
    if (!isString(b.title) || !b.title)
        return validation(res, [{ resource: 'Issue', field: 'title', code: 'missing_field' }]);
    const i = {
        number: fake.data.nextIssue++, title: b.title, state: 'open', state_reason: null, body: b.body ?? null,
        user: BOT, labels: (b.labels || []).map((l, k) => label(l, 300 + k)),
        assignees: (b.assignees || []).map((l, k) => user(l, 400 + k)), milestone: b.milestone ? { number: b.milestone } : null,
        comments: 0, created_at: '2024-06-10T08:00:00Z', updated_at: '2024-06-10T08:00:00Z', closed_at: null,
        locked: false, author_association: 'MEMBER',
    };
    fake.data.issues.push(i);
    send(res, 201, issueJson(fake, i), { Location: `${base(fake)}/issues/${i.number}` });
}

function updateIssue(fake, rec, res, i) {
    const b = jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS });
    if (!b) return;
    if (b.state !== undefined && !['open', 'closed'].includes(b.state))
        return validation(res, [{ resource: 'Issue', field: 'state', code: 'invalid' }]);
    if (b.state_reason !== undefined && !['completed', 'not_planned', 'duplicate', 'reopened', null].includes(b.state_reason))
        return validation(res, [{ resource: 'Issue', field: 'state_reason', code: 'invalid' }]);
    if (b.title !== undefined) i.title = b.title;
    if (b.body !== undefined) i.body = b.body;
    if (b.labels !== undefined) i.labels = b.labels.map((l, k) => label(l, 500 + k));
    if (b.assignees !== undefined) i.assignees = b.assignees.map((l, k) => user(l, 600 + k));
    if (b.milestone !== undefined) i.milestone = b.milestone === null ? null : { number: b.milestone };
    if (b.state !== undefined && b.state !== i.state) {
        i.state = b.state;
        i.closed_at = b.state === 'closed' ? '2024-06-10T11:00:00Z' : null;
        i.state_reason = b.state === 'closed' ? (b.state_reason || 'completed') : 'reopened';
    }
    i.updated_at = '2024-06-10T11:00:00Z';
    send(res, 200, issueJson(fake, i));
}

function comments(fake, rec, res, i) {
    const list = fake.data.comments[i.number] || (fake.data.comments[i.number] = []);
    const shape = (c) => ({ ...c, node_id: `IC_kwDO${c.id}`, url: `${base(fake)}/issues/comments/${c.id}`,
        html_url: `https://github.com/${OWNER}/${REPO}/issues/${i.number}#issuecomment-${c.id}`,
        issue_url: `${base(fake)}/issues/${i.number}`, updated_at: c.created_at, author_association: 'MEMBER' });
    if (rec.method === 'GET') {
        const q = queryOf(rec);
        return sendPage(fake, rec, res, list.filter((c) => !q.since || c.created_at >= q.since).map(shape));
    }
    const b = jsonBody(rec, res, { message: 'Problems parsing JSON', documentation_url: DOCS });
    if (!b) return;
    if (!isString(b.body) || !b.body)
        return validation(res, [{ resource: 'IssueComment', field: 'body', code: 'missing_field' }]);
    const c = { id: fake.data.nextId++, body: b.body, user: BOT, created_at: '2024-06-10T08:30:00Z' };
    list.push(c);
    i.comments++;
    send(res, 201, shape(c), { Location: `${base(fake)}/issues/comments/${c.id}` });
}

export function handle(fake, rec, res) {
    if (!rec.headers['user-agent'])
        return err(res, 403, 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.');
    const version = rec.headers['x-github-api-version'];
    if (version !== undefined && !API_VERSIONS.includes(version))
        return err(res, 400, `API version ${version} is not supported.`);
    if (bearer(rec.headers) !== TOKEN) return err(res, 401, 'Bad credentials');

    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(rec.pathname);
    // Owner and repository names are not case sensitive on GitHub.
    if (!m || m[1].toLowerCase() !== OWNER || m[2].toLowerCase() !== REPO) return err(res, 404, 'Not Found');
    const rest = m[3] || '';
    const route = `${rec.method} ${rest.replace(/\/\d+(?=\/|$)/g, '/:n')}`;
    const n = Number((/\/(\d+)/.exec(rest) || [])[1]);
    const pull = fake.data.pulls[n];
    const issue = fake.data.issues.find((x) => x.number === n);

    switch (route) {
    case 'GET /pulls': return listPulls(fake, rec, res);
    case 'POST /pulls': return createPull(fake, rec, res);
    case 'GET /pulls/:n': return pull ? send(res, 200, pullJson(fake, n, false)) : err(res, 404, 'Not Found');
    case 'GET /pulls/:n/files':
        if (!pull) return err(res, 404, 'Not Found');
        return sendPage(fake, rec, res, (fake.data.files[n] || []).map((f, k) => ({
            sha: `bbcd538c8e72b8c175046e27cc8f907076331${k}01`, ...f, changes: f.additions + f.deletions,
            blob_url: `https://github.com/${OWNER}/${REPO}/blob/${HEAD_SHA}/${f.filename}`,
            raw_url: `https://github.com/${OWNER}/${REPO}/raw/${HEAD_SHA}/${f.filename}`,
        })));
    case 'POST /pulls/:n/reviews': return pull ? createReview(fake, rec, res, n) : err(res, 404, 'Not Found');
    case 'PUT /pulls/:n/merge': return pull ? mergePull(fake, rec, res, n) : err(res, 404, 'Not Found');
    case 'GET /issues': return listIssues(fake, rec, res);
    case 'POST /issues': return createIssue(fake, rec, res);
    case 'GET /issues/:n': return issue ? send(res, 200, issueJson(fake, issue)) : err(res, 404, 'Not Found');
    case 'PATCH /issues/:n': return issue ? updateIssue(fake, rec, res, issue) : err(res, 404, 'Not Found');
    case 'GET /issues/:n/comments':
    case 'POST /issues/:n/comments': return issue ? comments(fake, rec, res, issue) : err(res, 404, 'Not Found');
    default: return err(res, 404, 'Not Found');
    }
}

/* ---- the contract cases ---- */

const REPO_ARGS = { owner: OWNER, repo: REPO };

/* What every request must carry: the token, and the media type and version the connector pins. */
function common(rec, method, path) {
    assert.equal(rec.method, method);
    assert.equal(rec.pathname, path);
    assert.equal(rec.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(rec.headers.accept, 'application/vnd.github+json');
    assert.equal(rec.headers['x-github-api-version'], '2022-11-28');
}

function sentJson(rec) {
    assert.match(rec.headers['content-type'], /^application\/json\b/);
    return JSON.parse(rec.body);
}

export const cases = {
    list_pull_requests: {
        args: { ...REPO_ARGS, state: 'open', base: 'main', per_page: 1 },
        check(rec, res, fake) {
            common(rec, 'GET', '/repos/octocat/hello-world/pulls');
            assert.deepEqual(queryOf(rec), { state: 'open', base: 'main', per_page: '1' });
            const list = res.structuredContent.result;
            assert.equal(list.length, 1);
            assert.ok(list[0].number >= 42 && list[0].state === 'open', JSON.stringify(list[0]));
            // Two open pull requests against main, one per page: the Link header's next page.
            assert.deepEqual(res.structuredContent.next_page, { state: 'open', base: 'main', per_page: '1', page: '2' });
            assert.ok(fake.data.pulls[42]);
        },
    },
    get_pull_request: {
        args: { ...REPO_ARGS, pull_number: 42 },
        check(rec, res) {
            common(rec, 'GET', '/repos/octocat/hello-world/pulls/42');
            assert.equal(rec.query, '');
            const pr = res.structuredContent;
            assert.equal(pr.number, 42);
            assert.equal(pr.head.sha, HEAD_SHA);
            assert.equal(pr.changed_files, 2);
        },
    },
    list_pull_request_files: {
        args: { ...REPO_ARGS, pull_number: 42, per_page: 100 },
        check(rec, res) {
            common(rec, 'GET', '/repos/octocat/hello-world/pulls/42/files');
            assert.deepEqual(queryOf(rec), { per_page: '100' });
            const files = res.structuredContent.result;
            assert.deepEqual(files.map((f) => f.filename), ['src/upload.c', 'tests/upload_test.c']);
            assert.match(files[0].patch, /^@@ /);
            assert.equal(res.structuredContent.next_page, undefined);
        },
    },
    create_pull_request: {
        args: { ...REPO_ARGS, title: 'Retry uploads', head: 'feature-x', base: 'main', body: 'Fixes #7.', draft: true },
        check(rec, res) {
            common(rec, 'POST', '/repos/octocat/hello-world/pulls');
            assert.deepEqual(sentJson(rec), { title: 'Retry uploads', head: 'feature-x', base: 'main', body: 'Fixes #7.', draft: true });
            assert.equal(res.structuredContent.title, 'Retry uploads');
            assert.equal(res.structuredContent.draft, true);
            assert.ok(res.structuredContent.number >= 44);
        },
    },
    create_pull_request_review: {
        args: {
            ...REPO_ARGS, pull_number: 42, event: 'REQUEST_CHANGES', body: 'One question inline.', commit_id: HEAD_SHA,
            comments: [{ path: 'src/upload.c', line: 12, side: 'RIGHT', body: 'Should this back off between tries?' }],
        },
        check(rec, res) {
            common(rec, 'POST', '/repos/octocat/hello-world/pulls/42/reviews');
            assert.deepEqual(sentJson(rec), {
                event: 'REQUEST_CHANGES', body: 'One question inline.', commit_id: HEAD_SHA,
                comments: [{ path: 'src/upload.c', line: 12, side: 'RIGHT', body: 'Should this back off between tries?' }],
            });
            assert.equal(res.structuredContent.state, 'CHANGES_REQUESTED');
            assert.equal(res.structuredContent.commit_id, HEAD_SHA);
        },
    },
    merge_pull_request: {
        args: { ...REPO_ARGS, pull_number: 43, merge_method: 'squash', sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' },
        check(rec, res, fake) {
            common(rec, 'PUT', '/repos/octocat/hello-world/pulls/43/merge');
            assert.deepEqual(sentJson(rec), { merge_method: 'squash', sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' });
            assert.equal(res.structuredContent.merged, true);
            assert.equal(fake.data.pulls[43].merged, true);
        },
    },
    list_issues: {
        args: { ...REPO_ARGS, state: 'open', labels: 'bug', assignee: 'octocat' },
        check(rec, res) {
            common(rec, 'GET', '/repos/octocat/hello-world/issues');
            assert.deepEqual(queryOf(rec), { state: 'open', labels: 'bug', assignee: 'octocat' });
            assert.deepEqual(res.structuredContent.result.map((i) => i.number), [7]);
        },
    },
    get_issue: {
        args: { ...REPO_ARGS, issue_number: 7 },
        check(rec, res) {
            common(rec, 'GET', '/repos/octocat/hello-world/issues/7');
            assert.equal(res.structuredContent.title, 'Login fails on Safari');
            assert.equal(res.structuredContent.labels[0].name, 'bug');
        },
    },
    list_issue_comments: {
        args: { ...REPO_ARGS, issue_number: 7, since: '2024-06-02T09:30:00Z' },
        check(rec, res) {
            common(rec, 'GET', '/repos/octocat/hello-world/issues/7/comments');
            assert.deepEqual(queryOf(rec), { since: '2024-06-02T09:30:00Z' });
            assert.deepEqual(res.structuredContent.result.map((c) => c.body), ['Same on iOS.']);
        },
    },
    create_issue: {
        args: { ...REPO_ARGS, title: 'Uploader gives up too early', body: 'Seen in prod logs.', labels: ['bug'], assignees: ['octocat'] },
        check(rec, res) {
            common(rec, 'POST', '/repos/octocat/hello-world/issues');
            assert.deepEqual(sentJson(rec), { title: 'Uploader gives up too early', body: 'Seen in prod logs.', labels: ['bug'], assignees: ['octocat'] });
            assert.equal(res.structuredContent.state, 'open');
            assert.equal(res.structuredContent.labels[0].name, 'bug');
            assert.ok(res.structuredContent.number >= 44);
        },
    },
    update_issue: {
        args: { ...REPO_ARGS, issue_number: 7, state: 'closed', state_reason: 'not_planned', milestone: null },
        check(rec, res, fake) {
            common(rec, 'PATCH', '/repos/octocat/hello-world/issues/7');
            assert.deepEqual(sentJson(rec), { state: 'closed', state_reason: 'not_planned', milestone: null });
            assert.equal(res.structuredContent.state, 'closed');
            assert.equal(res.structuredContent.state_reason, 'not_planned');
            assert.equal(fake.data.issues.find((i) => i.number === 7).state, 'closed');
        },
    },
    create_issue_comment: {
        args: { ...REPO_ARGS, issue_number: 8, body: 'Fixed by #42.' },
        check(rec, res) {
            common(rec, 'POST', '/repos/octocat/hello-world/issues/8/comments');
            assert.deepEqual(sentJson(rec), { body: 'Fixed by #42.' });
            assert.equal(res.structuredContent.body, 'Fixed by #42.');
            assert.equal(res.structuredContent.user.login, 'mandate-bot');
        },
    },
};

export const errors = [
    { tool: 'get_issue', args: { ...REPO_ARGS, issue_number: 99999 }, match: /^GitHub API error: HTTP 404: Not Found$/ },
    {
        tool: 'create_pull_request',
        args: { ...REPO_ARGS, title: 'Nothing to merge', head: 'main', base: 'main' },
        match: /^GitHub API error: HTTP 422: Validation Failed \(No commits between main and main\)$/,
    },
    {
        tool: 'create_pull_request',
        args: { ...REPO_ARGS, title: 'Unknown branch', head: 'no-such-branch', base: 'main' },
        match: /^GitHub API error: HTTP 422: Validation Failed \(PullRequest\.head: invalid\)$/,
    },
    {
        tool: 'merge_pull_request',
        args: { ...REPO_ARGS, pull_number: 42, sha: '0000000000000000000000000000000000000000' },
        match: /^GitHub API error: HTTP 409: Head branch was modified\. Review and try the merge again\.$/,
    },
];
