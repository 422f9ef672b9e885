// Audit: the place for the audit log's page (issue 6: search, filter, event detail, chain
// status). The audit log's API (GET /api/v1/audit) is not in this release yet; when it lands,
// this module renders it. Until then the page says so, and what to use meanwhile.
//
// TODO(issue 6): search with a SCIM filter over event fields, a time range and paging
// (GET /api/v1/audit), event detail (GET /api/v1/audit/{seq}), and the chain's status.

import { add, empty, h } from '../dom.js';

export async function render(view) {
    add(view, h('h1', {}, 'Audit'),
        empty('The audit log is not in this release yet.',
            'It will record every tool call, denial, SCIM change and admin change, tamper-evident. Meanwhile, each request is one key=value line in the server\'s log (stderr), and the Decision explorer explains any decision.'));
}
