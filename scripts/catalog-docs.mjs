#!/usr/bin/env node
// Writes (or, with --check, checks) the catalog's table in docs/connectors.md: every connector of
// catalog/connectors with its auth scheme and every tool with its level, its title, the
// arguments the audit log redacts, and the example packs that offer it. The table sits between
// the markers below; everything else in the file is left alone.
//
//   node scripts/catalog-docs.mjs          rewrite the table
//   node scripts/catalog-docs.mjs --check  exit 1 (and say so) when the table is not current
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DOC = path.join(REPO, 'docs', 'connectors.md');
const START = '<!-- catalog-table:start (scripts/catalog-docs.mjs writes this part) -->';
const END = '<!-- catalog-table:end -->';
const LEVELS = ['read', 'write', 'destructive'];

function load(dir) {
    return fs.readdirSync(path.join(REPO, 'catalog', dir)).filter((f) => f.endsWith('.json')).sort()
        .map((f) => JSON.parse(fs.readFileSync(path.join(REPO, 'catalog', dir, f), 'utf8')));
}

/* The packs that offer a tool at its level (an entry names it or its connector, ceiling enough). */
function packsOf(packs, connector, tool) {
    const full = `${connector}__${tool.name}`;
    return packs.filter((p) => p.tools.some((e) => (e.tool === full || e.tool === `${connector}__*`) &&
        LEVELS.indexOf(tool.level) <= LEVELS.indexOf(e.level))).map((p) => p.name);
}

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function table() {
    const connectors = load('connectors');
    const packs = load('packs');
    const out = [START, ''];
    const total = connectors.reduce((n, c) => n + c.tools.length, 0);
    out.push(`${connectors.length} connectors, ${total} tools. Levels: read (no side effects), write, ` +
        'destructive (deletes, money, messages to outsiders, irreversible). "Redacted" arguments are ' +
        'recorded as `"[redacted]"` in the audit log. "Packs" are the example packs of `catalog/packs` ' +
        'that offer the tool.', '');
    out.push('| connector | auth | tools (read / write / destructive) |', '|---|---|---|');
    for (const c of connectors) {
        const n = LEVELS.map((l) => c.tools.filter((t) => t.level === l).length).join(' / ');
        out.push(`| [${cell(c.title)}](#${c.name}) (\`${c.name}\`) | \`${c.auth?.type || 'none'}\` | ${n} |`);
    }
    for (const c of connectors) {
        out.push('', `### ${c.name}`, '', `${cell(c.title)}: base URL \`${c.base_url}\`, auth \`${c.auth?.type || 'none'}\`` +
            (c.docs ? `, [API reference](${c.docs})` : '') + '.', '');
        out.push('| tool | level | what it does | redacted | packs |', '|---|---|---|---|---|');
        for (const t of c.tools) {
            const red = (t.redact || []).map((r) => `\`${r}\``).join(', ');
            out.push(`| \`${c.name}__${t.name}\` | ${t.level} | ${cell(t.title)} | ${red} | ${packsOf(packs, c.name, t).join(', ')} |`);
        }
    }
    out.push('', END);
    return out.join('\n');
}

function main() {
    const doc = fs.readFileSync(DOC, 'utf8');
    const a = doc.indexOf(START);
    const b = doc.indexOf(END);
    if (a < 0 || b < a) {
        console.error(`catalog-docs: ${DOC} lacks the markers ${START} ... ${END}`);
        process.exit(1);
    }
    const next = doc.slice(0, a) + table() + doc.slice(b + END.length);
    if (process.argv.includes('--check')) {
        if (next !== doc) {
            console.error('catalog-docs: the catalog table in docs/connectors.md is not current: run node scripts/catalog-docs.mjs');
            process.exit(1);
        }
        return;
    }
    fs.writeFileSync(DOC, next);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
