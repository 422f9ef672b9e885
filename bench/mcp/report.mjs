// The summary of one bench/mcp/run.sh results folder: every figure the README quotes, computed
// from the raw files (wrk's WRKRESULT / WRKLAT lines, the /proc snapshots, the in-flight client's
// INFLIGHT line, the samples), so that the README can be checked against the files.
//
//   node bench/mcp/report.mjs RESULTS_DIR      (run.sh writes its output to RESULTS_DIR/summary.txt)
import fs from "node:fs";
import path from "node:path";

const dir = process.argv[2];
if (!dir) { console.error("usage: node report.mjs RESULTS_DIR"); process.exit(2); }
const f = (...p) => path.join(dir, ...p);
const read = (...p) => { try { return fs.readFileSync(f(...p), "utf8"); } catch { return ""; } };
const kv = (line) => Object.fromEntries([...(line || "").matchAll(/(\w+)=([-\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
const wrk = (...p) => {
    const t = read(...p);
    return {...kv((t.match(/^WRKRESULT (.*)$/m) || [])[1]), ...kv((t.match(/^WRKLAT (.*)$/m) || [])[1])};
};
const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
const fmt = (x, d = 0) => Number.isFinite(x) ? x.toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d}) : "?";
const out = [];
// CPUs busy that are neither the server nor the upstream: the load generator, plus anything else
// running on the machine (a figure well above the load generator's own share flags a disturbed run).
const rest = (c) => (c.machine_cores - c.server_cores - c.upstream_cores).toFixed(2);
const say = (s = "") => out.push(s);

say(read("env.txt").trimEnd());
say();

// 1. ceiling
const ceil = [1, 2].map((r) => ({...wrk("upstream", `ceiling_${r}.txt`), cpu: kv(read("upstream", `ceiling_${r}_cpu.txt`))}));
say("## 1. Upstream directly (nginx return 200, keep-alive), wrk -t2 -c32");
for (const [i, c] of ceil.entries())
    say(`ceiling run ${i + 1}: ${fmt(c.rps)} req/s, p50 ${c.p50_us} us, p99 ${c.p99_us} us, non2xx ${c.non2xx}, ` +
        `sock_err ${c.sock_err}; nginx ${c.cpu.upstream_cores} cores, machine ${c.cpu.machine_cores} cores busy ` +
        `(rest = wrk and any other process ${rest(c.cpu)})`);
say();

// 2. concurrency 1
say("## 2. Concurrency 1 (wrk -t1 -c1, one keep-alive connection): latency in microseconds");
const lat = (name, r) => ({...wrk("latency", `${name}_c1_${r}.txt`), cpu: kv(read("latency", `${name}_c1_${r}_cpu.txt`))});
const up1 = [1, 2].map((r) => lat("upstream", r)), m1 = [1, 2].map((r) => lat("mandate", r)), p1 = lat("peer", 1);
const row = (label, w) => say(`${label.padEnd(24)} ${String(fmt(w.rps)).padStart(7)} req/s  p50 ${w.p50_us}  p75 ${w.p75_us}  ` +
    `p90 ${w.p90_us}  p99 ${w.p99_us}  p99.9 ${w.p999_us}  max ${w.max_us}  mean ${w.mean_us}  ` +
    `server CPU/call ${w.cpu.server_cpu_s ? fmt(w.cpu.server_cpu_s / w.requests * 1e6, 1) : "-"} us  ` +
    `(server ${w.cpu.server_cores} cores, upstream ${w.cpu.upstream_cores}, machine ${w.cpu.machine_cores}, ` +
    `rest = wrk and any other process ${rest(w.cpu)})`);
for (const r of [0, 1]) { row(`upstream direct ${r + 1}`, up1[r]); row(`mandate tools/call ${r + 1}`, m1[r]); }
row("peer (SDK) tools/call", p1);
const ov = (q) => [0, 1].map((r) => m1[r][q] - up1[r][q]);
for (const q of ["p50_us", "p90_us", "p99_us"])
    say(`overhead ${q.replace("_us", "")} (mandate - upstream, same pair): ${ov(q).join(" and ")} us`);
const ovp50 = ov("p50_us");
say(`overhead at p50: mean ${fmt(mean(ovp50), 1)} us; target < 200 us: ${Math.max(...ovp50) < 200 ? "MET" : "MISSED"} ` +
    `(worst pair ${Math.max(...ovp50)} us)`);
const cpuPerCall = m1.map((w) => w.cpu.server_cpu_s / w.requests * 1e6);
say(`mandate CPU per call at c1: ${cpuPerCall.map((x) => fmt(x, 1)).join(" and ")} us ` +
    `(the rest of the overhead is waiting: thread hand-offs, scheduling, the upstream hop's own syscalls)`);
say();

// 3. load with the shared script
say("## 3. Throughput: ../shared/bench/mcp_bench.sh, wrk -t2 -c32 -d10s, tools/call");
const load = (name, r) => ({...wrk("load", `${name}_${r}`, "wrk_tools_call_1.txt"), cpu: kv(read("load", `${name}_${r}_cpu.txt`))});
const ml = [1, 2].map((r) => load("mandate", r)), pl = [1, 2].map((r) => load("peer", r));
const lrow = (label, w) => say(`${label.padEnd(12)} ${String(fmt(w.rps)).padStart(7)} req/s  p50 ${w.p50_ms} ms  p90 ${w.p90_ms} ms  ` +
    `p99 ${w.p99_ms} ms  max ${w.max_ms} ms  non2xx ${w.non2xx}  sock_err ${w.sock_err}  | server ${w.cpu.server_cores} cores ` +
    `(${fmt(w.cpu.server_cpu_s / w.requests * 1e6, 1)} us CPU/call), upstream ${w.cpu.upstream_cores} cores, machine ` +
    `${w.cpu.machine_cores} cores (rest = wrk and any other process ${rest(w.cpu)}); threads ${w.cpu.threads} VmRSS ${fmt(w.cpu.VmRSS_kB / 1024, 1)} MiB VmHWM ${fmt(w.cpu.VmHWM_kB / 1024, 1)} MiB`);
for (const r of [0, 1]) { lrow(`mandate ${r + 1}`, ml[r]); lrow(`peer ${r + 1}`, pl[r]); }
const mR = mean(ml.map((w) => w.rps)), pR = mean(pl.map((w) => w.rps));
const ratios = ml.flatMap((m) => pl.map((p) => m.rps / p.rps));
say(`throughput mandate / peer: ${fmt(mR / pR, 1)}x on the means (${fmt(mR)} vs ${fmt(pR)} req/s; ` +
    `single-run pairings ${fmt(Math.min(...ratios), 1)}x-${fmt(Math.max(...ratios), 1)}x)`);
const mP = mean(ml.map((w) => w.p99_ms)), pP = mean(pl.map((w) => w.p99_ms));
say(`p99 mandate / peer: ${fmt(mP, 2)} vs ${fmt(pP, 2)} ms (${fmt(pP / mP, 1)}x shorter)`);
const mc = mean(ml.map((w) => w.cpu.server_cpu_s / w.requests * 1e6)), pc = mean(pl.map((w) => w.cpu.server_cpu_s / w.requests * 1e6));
say(`server CPU per call: mandate ${fmt(mc, 1)} us, peer ${fmt(pc, 1)} us (${fmt(pc / mc, 1)}x)`);
say(`mandate / upstream-direct ceiling (throughput): ${fmt(mR / mean(ceil.map((c) => c.rps)) * 100, 1)}%`);
say(`at c32, p50: mandate ${ml.map((w) => w.p50_ms).join(", ")} ms vs upstream directly ${ceil.map((c) => c.p50_us / 1000).join(", ")} ms ` +
    `(difference ${fmt((mean(ml.map((w) => w.p50_ms)) - mean(ceil.map((c) => c.p50_us / 1000))) * 1000)} us; at 32 in flight a p50 is mostly ` +
    `queueing, about 32 / throughput)`);
say();

// 4. in flight
say("## 4. Many calls in flight, upstream holding each request");
const inf = JSON.parse((read("inflight", "client.txt").match(/^INFLIGHT (.*)$/m) || [, "{}"])[1]);
const ups = JSON.parse(read("inflight", "upstream_stats_client.json") || "{}");
const upw = JSON.parse(read("inflight", "upstream_stats_wrk.json") || "{}");
say(`client: ${inf.conns} sockets x ${inf.rounds} rounds = ${inf.calls} calls: ok ${inf.ok}, http errors ${inf.http_error}, ` +
    `tool errors ${inf.tool_error}, wrong answers ${inf.wrong_answer}, socket errors ${inf.socket_error}: ` +
    `${inf.all_ok ? "ALL SUCCEEDED" : "NOT ALL SUCCEEDED"}`);
say(`  ${inf.elapsed_s} s, ${inf.calls_per_s} calls/s; rounds complete at ${(inf.round_end_s || []).join(", ")} s; ` +
    `latency ms min ${inf.lat_ms?.min} p50 ${inf.lat_ms?.p50} p90 ${inf.lat_ms?.p90} p99 ${inf.lat_ms?.p99} max ${inf.lat_ms?.max}`);
say(`  upstream saw: ${ups.requests} requests, peak ${ups.peak_inflight} in flight at once, peak ${ups.peak_sockets} connections`);
const icpu = kv(read("inflight", "client_cpu.txt"));
say(`  ${icpu.server_cores} cores of mandate during the client (${fmt(icpu.server_cpu_s / inf.calls * 1e6, 1)} us CPU per call), ` +
    `slow upstream ${icpu.upstream_cores} cores, machine ${icpu.machine_cores}`);
const w1k = wrk("inflight", "wrk_c1000.txt");
say(`wrk -t2 -c${inf.conns} -d10s --timeout 10s: ${w1k.requests} calls, ${fmt(w1k.rps, 1)} req/s, p50 ${w1k.p50_ms} ms, ` +
    `p99 ${w1k.p99_ms} ms, max ${w1k.max_ms} ms, non2xx ${w1k.non2xx}, sock_err ${w1k.sock_err}; ` +
    `upstream peak ${upw.peak_inflight} in flight`);
say("mandate's threads, descriptors and memory:");
for (const l of read("inflight", "mandate_mem.txt").trim().split("\n")) say(`  ${l}`);
const samples = read("mandate_samples.tsv").trim().split("\n").slice(1).map((l) => l.split("\t"));
const byPhase = {};
for (const s of samples) {
    const p = (byPhase[s[1]] ??= {n: 0, thr: [], fds: 0, rss: 0, hwm: 0});
    p.n++; p.thr.push(+s[2]); p.fds = Math.max(p.fds, +s[3]); p.rss = Math.max(p.rss, +s[4]); p.hwm = Math.max(p.hwm, +s[5]);
}
say("samples every 0.25 s (max per phase):");
for (const [ph, p] of Object.entries(byPhase))
    say(`  ${ph.padEnd(26)} samples ${String(p.n).padStart(4)}  threads ${Math.min(...p.thr)}-${Math.max(...p.thr)}  fds ${p.fds}  ` +
        `VmRSS ${fmt(p.rss / 1024, 1)} MiB  VmHWM ${fmt(p.hwm / 1024, 1)} MiB`);
say();

const sh = read("mandate_shutdown.txt").trim();
if (sh) { say("mandate's shutdown (SIGTERM):"); for (const l of sh.split("\n")) say(`  ${l}`); say(); }

// 5. profile
say("## 5. Profile (tools slow mandate down: shares and counts only)");
const dso = read("profile", "perf_dso.txt").trim();
if (dso) { say("perf, cpu-clock, wrk -t2 -c32 -d5s, self time by library:"); for (const l of dso.split("\n").slice(0, 10)) say(`  ${l.trim()}`); }
const self = read("profile", "perf_self.txt").trim();
if (self) { say("top symbols (self):"); for (const l of self.split("\n").slice(0, 25)) say(`  ${l.replace(/\s+-\s+-\s*$/, "").trim()}`); }
const idso = read("profile", "perf_inflight_dso.txt").trim();
if (idso) {
    const ic = kv(read("profile", "perf_inflight_cpu.txt"));
    say(`perf during ${inf.conns} x 3 calls in flight on the slow upstream (mandate ${ic.server_cores} cores), self time by library:`);
    for (const l of idso.split("\n").slice(0, 8)) say(`  ${l.trim()}`);
    say("top symbols (self):");
    for (const l of read("profile", "perf_inflight_self.txt").trim().split("\n").slice(0, 15)) say(`  ${l.replace(/\s+-\s+-\s*$/, "").trim()}`);
}
const st = read("profile", "strace_c1.txt"), stw = wrk("profile", "strace_wrk_c1.txt");
if (st && stw.requests) {
    say(`strace -c -f, wrk -t1 -c1 -d3s (${stw.requests} calls): syscalls per call:`);
    const rows = st.split("\n").filter((l) => /^\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+/.test(l));
    for (const l of rows.slice(0, 14)) {
        const c = l.trim().split(/\s+/);
        const calls = Number(c[3]), name = c[c.length - 1];
        say(`  ${name.padEnd(18)} ${fmt(calls / stw.requests, 2)}`);
    }
    const total = (st.match(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(\s+\d+)?\s+total/m) || [])[1];
    if (total) say(`  total              ${fmt(Number(total) / stw.requests, 1)}`);
}
const cg = read("profile", "callgrind_inclusive.txt"), cgCalls = Number(read("profile", "callgrind_calls.txt").trim());
if (cg && cgCalls) {
    const tot = Number(((cg.match(/^\s*([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS/m) || [])[1] || "0").replace(/,/g, ""));
    say(`callgrind, wrk -t1 -c1 (${cgCalls} tools/call, instrumented only while wrk ran): ${fmt(tot / cgCalls)} instructions per call, all ` +
        `threads; inclusive, top functions:`);
    const lines = cg.split("\n").filter((l) => /^\s*[\d,]+\s+\([\d.]+%\)\s+\S/.test(l) && !/PROGRAM TOTALS/.test(l));
    for (const l of lines.slice(0, 45)) {
        const m = l.match(/^\s*([\d,]+)\s+\(([\d.]+)%\)\s+(.*)$/);
        say(`  ${m[2].padStart(5)}%  ${fmt(Number(m[1].replace(/,/g, "")) / cgCalls).padStart(9)}/call  ${m[3].slice(0, 110)}`);
    }
}
console.log(out.join("\n"));
