"""The benchmark's output: one `name: value` line per figure, then a markdown table for the
README's Benchmark section (a column per size; `--full` fills both)."""

import datetime
import platform


def label(users):
    return f"{users // 1000}k" if users % 1000 == 0 else str(users)


# (figure, per-size key, target, what, the detail shown beside the value)
PER_SIZE = [
    ("converge_0ms_s", "converge_0ms_s_{L}", "", "apply to all Ready, latency 0",
     "apply_0ms_s_{L}", "kubectl apply alone"),
    ("converge_call_ratio", "converge_call_ratio_{L}", "<= 1.02",
     "Admin API calls to converge / model minimum", "converge_calls_{L}", "calls"),
    ("idle_resync_call_ratio", "idle_resync_call_ratio_{L}", "1.00, 0 writes",
     "Admin API calls in one forced resync / minimum", "idle_resync_writes_{L}", "writes"),
    ("reconciles_per_resource", "reconciles_per_resource_{L}", "<= 2",
     "reconciles to converge / resources", None, None),
    ("cpu_s", "cpu_{L}_s", "< 15 at 10k",
     "operator CPU s (utime+stime): converge + one forced resync", "cpu_converge_{L}_s",
     "converge alone"),
    ("rss_mib", "rss_{L}_mib", "< 24 at 1k, < 48 at 10k",
     "operator RSS after convergence, MiB", "peak_rss_{L}_mib", "peak VmHWM"),
]
SINGLE = [
    ("converge_50ms_ratio", "<= 1.5", "1k users, latency 50 ms: time / (calls x 50 ms / concurrency)"),
    ("converge_50ms_busy_cores", "", "cores busy meanwhile: CPU of the control plane, operator and simulator / time"),
    ("converge_50ms_cpu_floor_ratio", "", "the machine's floor for that ratio: that CPU / cores, over the same model"),
    ("apply_ready_p50_ms", "", "one CustomerUser applied into a converged 1k cluster, to Ready"),
    ("apply_ready_p99_ms", "< 1000", "same, 99th percentile"),
]


def report(results, args):
    sizes = sorted({1000, args.users})
    main = label(max(sizes))
    print()
    # The figures by their issue names: the per-size ones at the largest size run.
    for name, key, *_ in PER_SIZE:
        if name in ("cpu_s", "rss_mib"):
            continue
        print(f"{name}: {results.get(key.format(L=main), 'not measured')}")
        if name == "idle_resync_call_ratio":
            print(f"idle_resync_writes: {results.get(f'idle_resync_writes_{main}')}")
    for size in ("1k", "10k"):
        print(f"cpu_{size}_s: {results.get(f'cpu_{size}_s', 'not measured (tests/bench/run --full)')}")
        print(f"rss_{size}_mib: {results.get(f'rss_{size}_mib', 'not measured (tests/bench/run --full)')}")
    for name, _, _ in SINGLE:
        print(f"{name}: {results.get(name)}")
    print()
    for key in sorted(results):  # every detail, for the record
        print(f"{key}: {results[key]}")

    columns = ["1k", "10k"]
    today = datetime.date.today().isoformat()
    print(f"\n<!-- tests/bench/run{' --full' if args.users != 1000 else ''}, {today}, "
          f"{platform.machine()}, concurrency {args.concurrency} -->")
    print("| figure | 1,000 users (10 customers) | 10,000 users (100 customers) | target |")
    print("|---|---|---|---|")
    for name, key, target, what, detail, detail_name in PER_SIZE:
        cells = []
        for size in columns:
            value = results.get(key.format(L=size))
            if value is None:
                cells.append("—")
            elif detail:
                cells.append(f"{value} ({detail_name} {results.get(detail.format(L=size))})")
            else:
                cells.append(str(value))
        print(f"| `{name}`: {what} | {cells[0]} | {cells[1]} | {target} |")
    for name, target, what in SINGLE:
        print(f"| `{name}`: {what} | {results.get(name, '—')} | — | {target} |")
