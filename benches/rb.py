"""redis-benchmark's output (RB.txt) as "rps p50 p99 p99.9", latencies in µs."""
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().replace("\r", "\n")
rps = float(re.search(r"throughput summary: ([\d.]+) requests per second", text).group(1))
lines = text.split("\n")
i = next(k for k, l in enumerate(lines) if "latency summary" in l)
summary = dict(zip(lines[i + 1].split(), (float(x) for x in lines[i + 2].split())))
p999, dist = None, False
for l in lines:
    if l.startswith("Latency by percentile distribution"):
        dist = True
        continue
    m = re.match(r"\s*([\d.]+)% <= ([\d.]+) milliseconds", l) if dist else None
    if m and float(m.group(1)) >= 99.9:
        p999 = float(m.group(2))
        break
print("%.0f %.0f %.0f %.0f" % (rps, summary["p50"] * 1000, summary["p99"] * 1000, p999 * 1000))
