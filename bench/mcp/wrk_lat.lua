-- The shared request script (WRK_BASE_LUA, ../shared/bench/lib/wrk_req.lua: method, body,
-- headers and token from the environment) plus a second result line with the latency
-- distribution in microseconds, for the overhead measurements where a millisecond with three
-- decimals is too coarse to subtract:
--   WRKLAT requests=.. mean_us=.. stdev_us=.. p50_us=.. p75_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
dofile(assert(os.getenv("WRK_BASE_LUA"), "set WRK_BASE_LUA to the shared wrk_req.lua"))

local shared_done = done
done = function(summary, latency, requests)
  shared_done(summary, latency, requests)
  io.write(string.format(
    "WRKLAT requests=%d mean_us=%.1f stdev_us=%.1f p50_us=%d p75_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
    summary.requests, latency.mean, latency.stdev, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
