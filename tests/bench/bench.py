#!/usr/bin/env python3
"""The benchmark of issue 11 (run it through tests/bench/run, which builds the binaries first).

On a local control plane, with the Admin API simulator and the operator's release binary, it
measures and prints one `name: value` line per figure, then a markdown table for the README:

  converge phase (latency 0, --users U in --customers C, operator running while kubectl applies):
    converge_0ms_s, converge_call_ratio, reconciles_per_resource, peak and settled RSS, the CPU
    seconds to converge (cpu_converge_1k_s), then one forced resync (the resync annotation on every resource): idle_resync_call_ratio,
    idle_resync_writes, and the operator's CPU seconds for all of it (cpu_1k_s or cpu_10k_s);
    apiserver_writes_per_resource: the API server's own count of writes meanwhile (kubectl's too);
  apply -> Ready (a converged cluster of 1,000 users): apply_ready_p50_ms, apply_ready_p99_ms;
  50 ms phase (1,000 users applied while the operator is stopped, then it starts; alone with
  --latency-only):
    converge_50ms_ratio = time to all Ready / (Admin API calls x 50 ms / concurrency);
    and what bounds it on this machine: the API server's writes meanwhile, the CPU of the control
    plane (etcd, API server, controller-manager), of the operator and of the simulator, and
    converge_50ms_cpu_floor_s = all of that CPU / the machine's cores, a time no schedule beats.

Model minimum of Admin API calls (P = page size): one login, ceil(M/P) customer lists,
sum ceil(n_i/P) user lists, one write per created object; an idle resync: the lists only.
Readiness is read off the operator's `corti_operator_resources` gauge while timing (a list of 10k
objects would load the API server beside the operator), then checked once by a full list.
"""

import argparse
import json
import math
import os
import shutil
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import Kube, ready  # noqa: E402

PAGE = 100  # the client's page size (MAX_PAGE_SIZE) and the simulator's default maximum
PROJECT, EMAIL, PASSWORD = "bench-project", "admin@bench.example", "bench-password-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_for(what, check, timeout, interval=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def metrics(port):
    """The operator's samples as {(name, frozenset(labels)): value}."""
    samples = {}
    for line in http_get(f"http://127.0.0.1:{port}/metrics").splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").split(",") if p)
        samples[(name, pairs)] = float(value)
    return samples


def metric_sum(samples, name, **labels):
    want = {(k, f'"{v}"') for k, v in labels.items()}
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def proc_cpu_s(pid):
    return sum(proc_cpu_split_s(pid))


def proc_cpu_split_s(pid):
    """(user, system) CPU seconds: utime and stime."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_mem_mib(pid):
    mem = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            mem[key] = int(value.split()[0]) / 1024
    return mem


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="corti-bench-")
        self.cp = os.path.join(self.work, "cp")
        self.kubeconfig = os.path.join(self.cp, "kubeconfig")
        self.children = []
        self.profilers = {}
        self.results = {}

    def kubectl(self, *args, check=True):
        return subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args],
                              check=check, capture_output=True, text=True)

    def spawn(self, name, argv, env=None):
        out = open(os.path.join(self.work, f"{name}.log"), "ab")
        # A session of its own, so that stopping it also stops what a wrapper started.
        child = subprocess.Popen(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})}, start_new_session=True)
        self.children.append(child)
        return child

    def stop(self, child):
        profiler = self.profilers.pop(child.pid, None)
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(child.pid, sig)  # the group outlives a wrapper that exited first
            except ProcessLookupError:
                break
            try:
                child.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        child.wait()

    def start_sim(self, name, latency_ms):
        port = free_port()
        child = self.spawn(name, [self.args.sim_bin, "--listen", f"127.0.0.1:{port}",
                                  "--project", PROJECT, "--account", f"{EMAIL}:{PASSWORD}:admin",
                                  "--latency-ms", str(latency_ms)], env={"RUST_LOG": "warn"})
        url = f"http://127.0.0.1:{port}"
        wait_for("the simulator", lambda: self._answers(f"{url}/_sim/healthz"), 30)
        return child, url

    def start_operator(self, name, namespace, sim_url):
        port = free_port()
        child = self.spawn(name, [
            *shlex.split(self.args.operator_wrapper), self.args.operator_bin, "run", "--admin-api-url", sim_url, "--namespaces", namespace,
            "--concurrency", str(self.args.concurrency), "--admin-api-rate-limit", "0",
            "--resync-period", "1h", "--health-addr", f"127.0.0.1:{port}",
            *shlex.split(self.args.operator_args)],
            env={"KUBECONFIG": self.kubeconfig})
        # /readyz answers 200 once both caches hold their first list.
        wait_for("the operator's /readyz",
                 lambda: self._answers(f"http://127.0.0.1:{port}/readyz"), 60)
        if self.args.perf:
            # Samples the operator's stacks on the CPU clock (VMs often lack hardware counters).
            os.makedirs(self.args.perf, exist_ok=True)
            self.profilers[child.pid] = subprocess.Popen(
                ["perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", str(child.pid),
                 "-o", os.path.join(self.args.perf, f"{name}.data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return child, port

    @staticmethod
    def _answers(url):
        try:
            http_get(url, timeout=1)
            return True
        except OSError:
            return False

    def apiserver_writes(self):
        """The API server's own count of writes so far, by resource and subresource."""
        text = self.kubectl("get", "--raw", "/metrics").stdout
        counts = {}
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            series, value = line.rsplit(" ", 1)
            labels = dict(p.split("=", 1) for p in series.split("{", 1)[1].rstrip("}").split(","))
            labels = {k: v.strip('"') for k, v in labels.items()}
            if labels.get("verb") not in ("POST", "PUT", "PATCH", "APPLY", "DELETE"):
                continue
            key = labels.get("resource", "") + (f"/{labels['subresource']}"
                                                 if labels.get("subresource") else "")
            counts[key] = counts.get(key, 0) + float(value)
        return counts

    def calls(self, sim_url):
        return json.loads(http_get(f"{sim_url}/_sim/calls"))["calls"]

    def reset_calls(self, sim_url):
        urllib.request.urlopen(urllib.request.Request(f"{sim_url}/_sim/calls", method="DELETE"))

    # ---- the cluster ---------------------------------------------------------------------------

    def control_plane_up(self):
        log("starting the control plane in", self.cp)
        subprocess.run([self.args.control_plane + "/up", self.cp], check=True,
                       stdout=subprocess.DEVNULL)
        self.kubectl("apply", "--server-side", "-f", self.args.crds)
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/customers.admin.corti.app", "crd/customerusers.admin.corti.app")
        self.kube = Kube(self.kubeconfig)

    def namespace(self, namespace):
        self.kubectl("create", "namespace", namespace)
        self.kubectl("-n", namespace, "create", "secret", "generic", "corti-admin",
                     f"--from-literal=email={EMAIL}", f"--from-literal=password={PASSWORD}",
                     f"--from-literal=projectId={PROJECT}")

    @staticmethod
    def sizes(users, customers):
        return [users // customers + (1 if i < users % customers else 0) for i in range(customers)]

    def apply(self, namespace, users, customers):
        """Creates the Customers, then the CustomerUsers, by `kubectl create` of JSON lists in
        chunks, two at a time. Returns the seconds it took."""
        def customer(i):
            return {"apiVersion": "admin.corti.app/v1alpha1", "kind": "Customer",
                    "metadata": {"name": f"c{i:03}", "namespace": namespace},
                    "spec": {"customerId": f"{namespace}-c{i:03}", "displayName": f"Clinic {i}",
                             "credentialsSecretRef": {"name": "corti-admin"}}}

        def user(i, j):
            return {"apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
                    "metadata": {"name": f"c{i:03}-u{j:04}", "namespace": namespace},
                    "spec": {"customerRef": {"name": f"c{i:03}"},
                             "email": f"u{j}@c{i}.bench.example", "firstName": "Bench",
                             "lastName": f"User {j}"}}
        objects = [customer(i) for i in range(customers)]
        objects += [user(i, j) for i, n in enumerate(self.sizes(users, customers))
                    for j in range(n)]
        chunk = 500
        files = []
        for k in range(0, len(objects), chunk):
            path = os.path.join(self.work, f"{namespace}-{k // chunk:03}.json")
            with open(path, "w") as f:
                json.dump({"apiVersion": "v1", "kind": "List", "items": objects[k:k + chunk]}, f)
            files.append(path)
        started = time.monotonic()
        # The customers' chunk first (alone), then the users' chunks two at a time.
        pending = list(files)
        self.kubectl("create", "-f", pending.pop(0))
        while pending:
            batch, pending = pending[:2], pending[2:]
            running = [subprocess.Popen(["kubectl", "--kubeconfig", self.kubeconfig, "create",
                                         "-f", f], stdout=subprocess.DEVNULL) for f in batch]
            if any(p.wait() != 0 for p in running):
                raise RuntimeError("kubectl create failed")
        return time.monotonic() - started

    def wait_all_ready(self, port, total):
        def done():
            samples = metrics(port)
            return metric_sum(samples, "corti_operator_resources", reason="Reconciled") >= total
        wait_for(f"{total} resources Reconciled", done, self.args.timeout, interval=0.2)

    def check_ready(self, namespace, total, resync=None):
        """Counts, by a full list, the resources Ready (and having acted on `resync`)."""
        items = (self.kube.list_all(namespace, "customers")
                 + self.kube.list_all(namespace, "customerusers"))
        good = sum(1 for o in items if ready(o) and (
            resync is None or (o.get("status") or {}).get("lastResync") == resync))
        return good == total == len(items)

    def settle(self, port, quiet=3.0):
        """Until no pass runs and the reconcile count has not moved for `quiet` seconds."""
        last, since = None, time.monotonic()
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            samples = metrics(port)
            count = metric_sum(samples, "corti_operator_reconciles_total")
            busy = metric_sum(samples, "corti_operator_reconciles_in_flight")
            if count != last or busy:
                last, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return count
            time.sleep(0.25)
        raise TimeoutError("the operator never settled")

    # ---- the figures ---------------------------------------------------------------------------

    def minimum_lists(self, users, customers):
        return math.ceil(customers / PAGE) + sum(math.ceil(n / PAGE)
                                                 for n in self.sizes(users, customers))

    @staticmethod
    def writes(calls):
        return sum(c["count"] for c in calls
                   if c["method"] in ("POST", "PATCH", "DELETE") and c["path"] != "/auth/token")

    def converge(self, users, customers, measure_resync):
        # measure_resync: the forced resync and the CPU figure too (both sizes measure it now).
        """Converge phase at latency 0 with the operator running while kubectl applies."""
        label = f"{users // 1000}k" if users % 1000 == 0 else str(users)
        namespace = f"bench-{label}"
        total = users + customers
        sim, sim_url = self.start_sim(f"sim-{label}", 0)
        self.namespace(namespace)
        operator, port = self.start_operator(f"operator-{label}", namespace, sim_url)
        self.reset_calls(sim_url)
        writes_before = self.apiserver_writes()
        control_before = self.control_plane_cpu_s()
        log(f"converging {users} users in {customers} customers (latency 0)")
        started = time.monotonic()
        apply_s = self.apply(namespace, users, customers)
        self.wait_all_ready(port, total)
        converge_s = time.monotonic() - started
        control = self.control_plane_cpu_s() - control_before
        calls = sum(c["count"] for c in self.calls(sim_url))
        peak = proc_mem_mib(operator.pid)["VmHWM"]
        reconciles = self.settle(port)
        assert self.check_ready(namespace, total), "not every resource is Ready"
        mem = proc_mem_mib(operator.pid)
        rss = mem["VmRSS"]
        converge_cpu = proc_cpu_s(operator.pid)
        minimum = 1 + self.minimum_lists(users, customers) + total
        out = {
            f"users_{label}": users, f"customers_{label}": customers,
            f"converge_0ms_s_{label}": round(converge_s, 1),
            f"apply_0ms_s_{label}": round(apply_s, 1),
            f"converge_calls_{label}": calls, f"converge_call_minimum_{label}": minimum,
            f"converge_call_ratio_{label}": round(calls / minimum, 3),
            f"reconciles_per_resource_{label}": round(reconciles / total, 2),
            f"rss_{label}_mib": round(rss, 1), f"peak_rss_{label}_mib": round(peak, 1),
            # RssFile: the binary's pages; RssAnon: the heap and stacks.
            f"rss_anon_{label}_mib": round(mem.get("RssAnon", 0), 1),
            f"rss_file_{label}_mib": round(mem.get("RssFile", 0), 1),
            f"cpu_converge_{label}_s": round(converge_cpu, 2),
            # The control plane's CPU meanwhile (kubectl's writes and the operator's), for scale.
            f"control_plane_cpu_converge_{label}_s": round(control, 1),
        }
        if measure_resync:
            out.update(self.forced_resync(namespace, label, sim_url, port, total,
                                          self.minimum_lists(users, customers)))
            out[f"cpu_{label}_s"] = round(proc_cpu_s(operator.pid), 2)
        # The kernel's share (system calls, wakeups) of all the CPU so far.
        out[f"cpu_system_{label}_s"] = round(proc_cpu_split_s(operator.pid)[1], 2)
        # Everything written to the API server meanwhile (kubectl's creates and annotations too),
        # by resource; kinds with fewer writes than a tenth of the resources (the Customers' own)
        # are left out of the figure, which is thus mostly the CustomerUsers'.
        after = self.apiserver_writes()
        delta = {k: v - writes_before.get(k, 0) for k, v in after.items()}
        delta = {k: int(v) for k, v in sorted(delta.items()) if v >= total / 10}
        log("API server writes by resource:", delta)
        out[f"apiserver_writes_per_resource_{label}"] = round(sum(delta.values()) / total, 2)
        return out, (operator, port, sim, sim_url, namespace)

    def forced_resync(self, namespace, label, sim_url, port, total, minimum):
        before = metric_sum(metrics(port), "corti_operator_reconciles_total")
        self.reset_calls(sim_url)
        log(f"forced resync of {total} resources")
        self.kubectl("-n", namespace, "annotate", "customers,customerusers", "--all",
                     "--overwrite", "admin.corti.app/resync=bench-1")
        wait_for("a pass per resource", lambda: metric_sum(
            metrics(port), "corti_operator_reconciles_total") >= before + total,
            self.args.timeout, interval=0.5)
        self.settle(port)
        wait_for("every resource acted on the resync",
                 lambda: self.check_ready(namespace, total, "bench-1"), self.args.timeout, 2)
        calls = self.calls(sim_url)
        count = sum(c["count"] for c in calls)
        return {f"idle_resync_calls_{label}": count, f"idle_resync_call_minimum_{label}": minimum,
                f"idle_resync_call_ratio_{label}": round(count / minimum, 3),
                f"idle_resync_writes_{label}": self.writes(calls)}

    def apply_ready(self, namespace, port, samples):
        """One CustomerUser created into the converged cluster, timed to Ready, `samples` times."""
        log(f"apply -> Ready, {samples} times")
        times = []
        for k in range(samples):
            name = f"latency-{k:03}"
            body = {"apiVersion": "admin.corti.app/v1alpha1", "kind": "CustomerUser",
                    "metadata": {"name": name},
                    "spec": {"customerRef": {"name": "c000"}, "email": f"{name}@bench.example",
                             "firstName": "Latency", "lastName": f"Probe {k}"}}
            started = time.perf_counter()
            created = self.kube.create(namespace, "customerusers", body)
            if not self.kube.watch_until(namespace, "customerusers", name,
                                         created["metadata"]["resourceVersion"], ready, 30):
                raise TimeoutError(f"{name} never became Ready")
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.2)  # one at a time: a lone change, not a burst
        cuts = statistics.quantiles(times, n=100, method="inclusive")
        return {"apply_ready_p50_ms": round(statistics.median(times)),
                "apply_ready_p99_ms": round(cuts[98]), "apply_ready_max_ms": round(max(times)),
                "apply_ready_samples": samples}

    def latency_50ms(self, users, customers):
        """The operator started on 1,000 users already applied, the simulator at 50 ms a call."""
        namespace, latency = "bench-50ms", 0.05
        total = users + customers
        sim, sim_url = self.start_sim("sim-50ms", int(latency * 1000))
        self.namespace(namespace)
        self.apply(namespace, users, customers)
        log(f"converging {users} users at 50 ms per Admin API call")
        writes_before = self.apiserver_writes()
        control_before = self.control_plane_cpu_s()
        sim_before = proc_cpu_s(sim.pid)
        started = time.monotonic()
        operator, port = self.start_operator("operator-50ms", namespace, sim_url)
        self.wait_all_ready(port, total)
        elapsed = time.monotonic() - started
        control = self.control_plane_cpu_s() - control_before
        operator_cpu = proc_cpu_s(operator.pid)
        sim_cpu = proc_cpu_s(sim.pid) - sim_before
        writes = sum(self.apiserver_writes().values()) - sum(writes_before.values())
        calls = sum(c["count"] for c in self.calls(sim_url))
        model = calls * latency / self.args.concurrency
        self.stop(operator)
        self.stop(sim)
        # What the machine allows: all the CPU the phase used, spread over every core, is a time
        # no schedule could beat on this machine.
        floor = (control + operator_cpu + sim_cpu) / os.cpu_count()
        return {"converge_50ms_s": round(elapsed, 1), "converge_50ms_calls": calls,
                "converge_50ms_model_s": round(model, 1),
                "converge_50ms_ratio": round(elapsed / model, 2),
                "converge_50ms_apiserver_writes": int(writes),
                "converge_50ms_control_plane_cpu_s": round(control, 1),
                "converge_50ms_control_plane_cpu_ms_per_write": round(control / writes * 1000, 1)
                if writes else None,
                "converge_50ms_operator_cpu_s": round(operator_cpu, 1),
                "converge_50ms_busy_cores": round(
                    (control + operator_cpu + sim_cpu) / elapsed, 2),
                "converge_50ms_cpu_floor_s": round(floor, 1),
                "converge_50ms_cpu_floor_ratio": round(floor / model, 2)}

    def control_plane_cpu_s(self):
        """CPU seconds of etcd, the API server and the controller-manager so far."""
        run = os.path.join(self.cp, "run")
        total = 0.0
        for name in os.listdir(run):
            if name.endswith(".pid"):
                with open(os.path.join(run, name)) as f:
                    pid = int(f.read().strip())
                try:
                    total += proc_cpu_s(pid)
                except FileNotFoundError:
                    log(f"{name[:-4]} (pid {pid}) is gone: its CPU is not counted")
        return total

    def run(self):
        a = self.args
        self.control_plane_up()
        small_users, small_customers = 1000, 10
        if a.latency_only:
            self.results.update(self.latency_50ms(small_users, small_customers))
            return
        if a.users != small_users or a.converge_only:
            out, (operator, _, sim, _, _) = self.converge(a.users, a.customers, True)
            self.results.update(out)
            self.stop(operator)
            self.stop(sim)
        if a.converge_only:
            return
        out, (operator, port, sim, _, namespace) = self.converge(
            small_users, small_customers, True)
        self.results.update(out)
        self.results.update(self.apply_ready(namespace, port, a.samples))
        self.stop(operator)
        self.stop(sim)
        self.results.update(self.latency_50ms(small_users, small_customers))

    def cleanup(self):
        for child in self.children:
            self.stop(child)
        subprocess.run([self.args.control_plane + "/down", self.cp], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if self.args.keep:
            log("kept", self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--customers", type=int, help="default: users / 100")
    parser.add_argument("--full", action="store_true", help="10,000 users in 100 customers")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--samples", type=int, default=50, help="apply -> Ready repetitions")
    parser.add_argument("--timeout", type=float, default=900, help="seconds, for each wait")
    parser.add_argument("--keep", action="store_true", help="keep logs and state")
    parser.add_argument("--converge-only", action="store_true",
                        help="only the converge phase of --users (with --perf: to profile it)")
    parser.add_argument("--latency-only", action="store_true",
                        help="only the 50 ms phase (converge_50ms_ratio)")
    parser.add_argument("--operator-args", default="",
                        help="more flags for each operator, e.g. '--worker-threads 2'")
    parser.add_argument("--operator-wrapper", default="",
                        help="a command the operator runs under, e.g. 'heaptrack -o DIR/heap'")
    parser.add_argument("--perf", metavar="DIR",
                        help="record each operator's stacks with `perf record` into DIR")
    parser.add_argument("--bin-dir", required=True, help="the release binaries")
    args = parser.parse_args()
    if args.full:
        args.users = 10000
    args.customers = args.customers or max(1, args.users // 100)
    args.operator_bin = os.path.join(args.bin_dir, "corti-operator")
    args.sim_bin = os.path.join(args.bin_dir, "corti-admin-sim")
    args.control_plane = os.path.join(root, "tests/control-plane")
    args.crds = os.path.join(root, "crds")
    bench = Bench(args)
    try:
        bench.run()
    finally:
        bench.cleanup()
    from report import report
    report(bench.results, args)


if __name__ == "__main__":
    main()
