// Reads the checks.json files that the conformance suite wrote under OUT/<revision>/ and
// prints one line per scenario run, the failed checks, and the closing "N passed, N failed".
//
//   node report.mjs OUT scenarios.json
//
// A check counts as passed when its status is SUCCESS, failed when FAILURE or WARNING (the
// suite's baseline mode is as strict), and neither when INFO or SKIPPED. A failed check listed
// under not_testable in scenarios.json is counted as "not testable" instead, with its reason;
// such an entry that passes is reported, so that the list is kept true. A scenario that was to
// run but left no checks.json (the suite crashed, or the scenario id is unknown) fails.
// Exit status 0 when nothing failed, 1 otherwise.

import fs from 'node:fs';
import path from 'node:path';

const [out, listFile] = process.argv.slice(2);
const spec = JSON.parse(fs.readFileSync(listFile, 'utf8'));
const notTestable = spec.not_testable || {};

let passed = 0;
let failed = 0;
let untestable = 0;
const lines = [];
const stale = [];

/* The newest result directory of scenario under dir (the suite names them server-NAME-TIME). */
function resultDir(dir, scenario) {
    if (!fs.existsSync(dir)) return null;
    const re = new RegExp(`^server-${scenario.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d\\d-\\d\\dT`);
    const hits = fs.readdirSync(dir).filter((d) => re.test(d)).sort();
    return hits.length ? path.join(dir, hits[hits.length - 1]) : null;
}

for (const [rev, scenarios] of Object.entries(spec.runs)) {
    for (const scenario of scenarios) {
        const dir = resultDir(path.join(out, rev), scenario);
        const file = dir && path.join(dir, 'checks.json');
        if (!file || !fs.existsSync(file)) {
            failed += 1;
            lines.push(`${rev} ${scenario}: 0 passed, 1 failed (no checks.json: see ${path.join(out, rev)}/${scenario}.log)`);
            continue;
        }
        const checks = JSON.parse(fs.readFileSync(file, 'utf8'));
        let p = 0;
        let f = 0;
        let u = 0;
        const detail = [];
        for (const c of checks) {
            const key = `${scenario}:${c.id}`;
            if (c.status === 'SUCCESS') {
                p += 1;
                if (key in notTestable) stale.push(`${rev} ${key} passed: remove it from not_testable`);
            } else if (c.status === 'FAILURE' || c.status === 'WARNING') {
                if (key in notTestable) {
                    u += 1;
                } else {
                    f += 1;
                    const msg = (c.errorMessage || c.description || '').replace(/\s+/g, ' ').slice(0, 300);
                    detail.push(`    ${c.status} ${c.id}: ${msg}`);
                }
            }
        }
        passed += p;
        failed += f;
        untestable += u;
        lines.push(`${rev} ${scenario}: ${p} passed, ${f} failed${u ? `, ${u} not testable` : ''}`);
        lines.push(...detail);
    }
}

for (const l of lines) console.log(l);
for (const s of stale) console.log(`note: ${s}`);
if (untestable) console.log(`(${untestable} checks not testable on a tools-only gateway: tests/it/mcp-conformance/README.md)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
