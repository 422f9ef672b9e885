// docs/connectors.md lists every connector and tool of catalog/ with its level: the table is
// written by scripts/catalog-docs.mjs, and this test fails when someone changed the catalog
// without writing it again (or edited the table by hand).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { REPO } from './lib/server.mjs';

test('the catalog table in docs/connectors.md is current', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'catalog-docs.mjs'), '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
});

test('every shipped tool appears in the table with its level', () => {
    const doc = fs.readFileSync(path.join(REPO, 'docs', 'connectors.md'), 'utf8');
    const dir = path.join(REPO, 'catalog', 'connectors');
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json'))) {
        const c = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
        for (const t of c.tools) {
            assert.match(doc, new RegExp(`\\| \`${c.name}__${t.name}\` \\| ${t.level} \\|`), `${c.name}__${t.name}`);
        }
    }
});
