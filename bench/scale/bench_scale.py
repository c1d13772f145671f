#!/usr/bin/env python3
"""The control plane at a cloud's size: hollow nodes (`kumo hollow`) and many VMs.

Starts a durable `kumo server` and `kumo hollow --nodes N` (simulated nodes over the real API),
fills the cluster with VirtualMachines in batches, and prints:
  - placements/s over the fill, and the ratio of the last 10% to the first 10% (goal >= 0.8:
    placement cost independent of the cluster's size), from the scheduler's own metrics;
  - at full size with churn (creates + deletes per second): create -> Running p50/p99, mutating
    API p99, the list of one tenant's 1,000 VMs, a full list of every VM, nodes NotReady;
  - server memory per VM (RSS / VMs) and per object;
  - a server restart: time until it serves again, and whether the nodes' watches resume
    without listing again.
Everything runs on this machine: server, hollow nodes and this load generator share the CPUs.
Usage: bench/scale/bench_scale.py --kumo build/kumo --nodes 2600 --vms 26000
"""
import argparse, base64, http.client, json, os, re, shutil, signal, ssl, subprocess, sys, tempfile
import socket, threading, time

def log(*a):
    print(*a, file=sys.stderr, flush=True)

class Api:
    """One keep-alive HTTPS connection per thread to the server, with the admin token."""
    def __init__(self, kubeconfig):
        text = open(kubeconfig).read()
        self.server = re.search(r'server: "?https://([^":]+):(\d+)', text)
        self.host, self.port = self.server.group(1), int(self.server.group(2))
        ca = base64.b64decode(re.search(r'certificate-authority-data: "?([A-Za-z0-9+/=]+)', text).group(1))
        self.token = re.search(r'token: "?([0-9a-f]+)', text).group(1)
        self.ctx = ssl.create_default_context(cadata=ca.decode())
        self.local = threading.local()

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=120)
            self.local.c = c
        return c

    def req(self, method, path, body=None, ctype="application/json"):
        for attempt in range(3):
            c = self.conn()
            try:
                headers = {"Authorization": "Bearer " + self.token}
                if body is not None:
                    headers["Content-Type"] = ctype
                c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                r = c.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                c.close()
                self.local.c = None
                if attempt == 2:
                    raise
                time.sleep(0.5)

def vm_manifest(ns, name):
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": "scale"}},
            "spec": {"runStrategy": "Always", "template": {
                "metadata": {"labels": {"app": "scale"}},
                "spec": {"domain": {"cpu": {"cores": 1}, "memory": {"guest": "1Gi"},
                                    "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}},
                         "volumes": [{"name": "root", "containerDisk": {"image": "tiny"}}]}}}}

def metrics(api):
    st, body = api.req("GET", "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        k, _, v = line.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out

def scheduled(api):
    return metrics(api).get('scheduler_schedule_attempts_total{result="scheduled"}', 0)

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def parallel(n_threads, items, fn):
    """Runs fn(item) on n_threads threads; returns (latencies in s, errors)."""
    lat, errs, lock, it = [], [], threading.Lock(), iter(items)
    def work():
        while True:
            with lock:
                try:
                    item = next(it)
                except StopIteration:
                    return
            t0 = time.monotonic()
            try:
                ok = fn(item)
            except Exception as e:  # a benchmark counts failures, it does not stop on them
                ok = str(e)
            dt = time.monotonic() - t0
            with lock:
                if ok is True:
                    lat.append(dt)
                else:
                    errs.append(ok)
    ts = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    return lat, errs

def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kumo", default=os.path.join(os.path.dirname(__file__), "../../build/kumo"))
    ap.add_argument("--nodes", type=int, default=2600)
    ap.add_argument("--vms", type=int, default=26000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--churn-seconds", type=int, default=60)
    ap.add_argument("--churn-rate", type=int, default=20, help="creates + deletes per second")
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    a = ap.parse_args()
    kumo = os.path.abspath(a.kumo)
    tmp = tempfile.mkdtemp(prefix="kumo-scale-")
    data = os.path.join(tmp, "server")
    procs = {}
    # One port for both server runs: the nodes reconnect to it after the restart.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def start_server():
        p = subprocess.Popen([kumo, "server", "--data-dir", data, "--listen", f"127.0.0.1:{port}"],
                             stdout=open(os.path.join(tmp, "server.log"), "a"), stderr=subprocess.STDOUT)
        procs["server"] = p
        return p

    def stop(name, sig=signal.SIGTERM):
        p = procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    try:
        t0 = time.monotonic()
        server = start_server()
        kc = os.path.join(data, "kubeconfig.yaml")
        while not os.path.exists(kc):
            if server.poll() is not None:
                raise SystemExit("the server exited; see " + tmp + "/server.log")
            time.sleep(0.2)
        time.sleep(0.5)
        api = Api(kc)
        log(f"server up at {api.host}:{api.port} ({time.monotonic() - t0:.1f} s)")
        api.req("POST", "/apis/kumo.io/v1alpha1/ippools",
                {"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool", "metadata": {"name": "scale"},
                 "spec": {"cidr": "10.128.0.0/12"}})
        t0 = time.monotonic()
        hollow = subprocess.Popen([kumo, "hollow", "--nodes", str(a.nodes), "--data-dir", data,
                                   "--server", f"https://{api.host}:{api.port}"],
                                  stdout=open(os.path.join(tmp, "hollow.log"), "a"), stderr=subprocess.STDOUT)
        procs["hollow"] = hollow
        while "hollow nodes are Ready" not in open(os.path.join(tmp, "hollow.log")).read():
            if hollow.poll() is not None:
                raise SystemExit("kumo hollow exited; see " + tmp + "/hollow.log")
            time.sleep(0.5)
        log(f"{a.nodes} hollow nodes registered in {time.monotonic() - t0:.1f} s")

        # Fill: namespaces of 1,000 VMs (one tenant each), created in batches.
        per_ns = 1000
        namespaces = set()
        batches = []  # (VMs in the cluster after the batch, placements/s of the batch)
        fill_start = time.monotonic()
        created = 0
        while created < a.vms:
            n = min(a.batch, a.vms - created)
            items = [(f"scale-{(created + i) // per_ns}", f"vm-{created + i}") for i in range(n)]
            for ns in {ns for ns, _ in items} - namespaces:
                api.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                namespaces.add(ns)
            before = scheduled(api)
            b0 = time.monotonic()
            lat, errs = parallel(a.clients, items, lambda it: api.req(
                "POST", f"/apis/kubevirt.io/v1/namespaces/{it[0]}/virtualmachines", vm_manifest(*it))[0] == 201 or "create failed")
            if errs:
                log(f"  {len(errs)} creates failed: {errs[0]}")
            target = before + n - len(errs)
            while scheduled(api) < target:
                time.sleep(0.2)
            dt = time.monotonic() - b0
            created += n - len(errs)
            batches.append((created, (n - len(errs)) / dt))
            log(f"  {created} VMs: batch placed at {batches[-1][1]:.0f}/s (create p99 {pct(lat, 0.99)*1000:.0f} ms)")
        fill_s = time.monotonic() - fill_start
        # Every VM Running (reported by its hollow node).
        r0 = time.monotonic()
        while True:
            st, body = api.req("GET", "/apis/kubevirt.io/v1/virtualmachineinstances?limit=1&fieldSelector=status.phase!%3DRunning")
            if st == 200 and not json.loads(body)["items"]:
                break
            if time.monotonic() - r0 > 600:
                log("  some VMIs are still not Running after 10 minutes")
                break
            time.sleep(1)
        all_running_s = time.monotonic() - fill_start
        k = max(1, len(batches) // 10)
        first = sum(r for _, r in batches[:k]) / k
        last = sum(r for _, r in batches[-k:]) / k

        # Memory at full size.
        m = metrics(api)
        rss = rss_kb(server.pid) * 1024
        objects = sum(v for key, v in m.items() if key.startswith("apiserver_storage_objects"))

        # Churn at full size: creates and deletes, create -> Running seen by polling the namespace.
        api.req("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "churn"}})
        running_at, created_at, mut_lat = {}, {}, []
        stop_poll = threading.Event()
        def poll():
            while not stop_poll.is_set():
                st, body = api.req("GET", "/apis/kubevirt.io/v1/namespaces/churn/virtualmachineinstances")
                now = time.monotonic()
                if st == 200:
                    for item in json.loads(body)["items"]:
                        name = item["metadata"]["name"]
                        if item.get("status", {}).get("phase") == "Running" and name not in running_at:
                            running_at[name] = now
                time.sleep(0.1)
        poller = threading.Thread(target=poll)
        poller.start()
        per_tick = max(1, a.churn_rate // 2)
        c0 = time.monotonic()
        i = 0
        churn_api = api
        while time.monotonic() - c0 < a.churn_seconds:
            tick = time.monotonic()
            names = [f"c-{i + j}" for j in range(per_tick)]
            for name in names:
                t = time.monotonic()
                st, _ = churn_api.req("POST", "/apis/kubevirt.io/v1/namespaces/churn/virtualmachines", vm_manifest("churn", name))
                mut_lat.append(time.monotonic() - t)
                created_at[name] = t
            # Delete as many of the fill's VMs.
            for j in range(per_tick):
                victim = f"vm-{(i + j) % created}"
                t = time.monotonic()
                churn_api.req("DELETE", f"/apis/kubevirt.io/v1/namespaces/scale-{((i + j) % created) // per_ns}/virtualmachines/{victim}")
                mut_lat.append(time.monotonic() - t)
            i += per_tick
            time.sleep(max(0, 1 - (time.monotonic() - tick)))
        time.sleep(6)
        stop_poll.set()
        poller.join()
        to_running = [running_at[n] - created_at[n] for n in created_at if n in running_at]
        not_running = len(created_at) - len(to_running)
        # Lists at full size.
        t = time.monotonic(); st, body = api.req("GET", "/apis/kubevirt.io/v1/namespaces/scale-0/virtualmachines"); tenant_list = time.monotonic() - t
        tenant_count = len(json.loads(body)["items"]) if st == 200 else 0
        t = time.monotonic(); st, body = api.req("GET", "/apis/kubevirt.io/v1/virtualmachines"); full_list = time.monotonic() - t
        full_count = len(json.loads(body)["items"]) if st == 200 else 0
        full_mb = len(body) / 1e6
        st, body = api.req("GET", "/api/v1/nodes")
        not_ready = sum(1 for n in json.loads(body)["items"]
                        if not any(c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])))

        # Restart at full size.
        lists_before = sum(v for key, v in metrics(api).items() if key.startswith("apiserver_request_total{verb=\"LIST\""))
        stop("server")
        t = time.monotonic()
        server = start_server()
        api = Api(kc)
        while True:
            try:
                st, _ = api.req("GET", "/api/v1/namespaces?limit=1")
                if st == 200:
                    break
            except Exception:
                pass
            time.sleep(0.2)
        restart_s = time.monotonic() - t
        time.sleep(20)  # the nodes' watches reconnect
        m2 = metrics(api)
        relists = sum(v for key, v in m2.items() if key.startswith("apiserver_request_total{verb=\"LIST\""))
        watches = sum(v for key, v in m2.items() if key.startswith("apiserver_registered_watchers"))

        cpus = os.cpu_count()
        print(f"machine: {cpus} CPUs, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; server, hollow nodes and load generator on it")
        print(f"cluster: {a.nodes} hollow nodes, {created} VMs (+ churn), batches of {a.batch}, {a.clients} clients")
        print(f"fill: {fill_s:.0f} s, {created / fill_s:.0f} placements/s overall; all Running after {all_running_s:.0f} s")
        print(f"placements/s first 10%: {first:.0f}, last 10%: {last:.0f}, ratio last/first: {last / first:.2f} (goal >= 0.8)")
        print(f"server memory: RSS {rss / 2**20:.0f} MiB, {rss / max(created, 1) / 1024:.1f} KiB per VM (goal <= 8), "
              f"{rss / max(objects, 1) / 1024:.1f} KiB per stored object ({objects:.0f} objects)")
        print(f"churn {a.churn_rate}/s for {a.churn_seconds} s: create->Running p50 {pct(to_running, 0.5):.2f} s, "
              f"p99 {pct(to_running, 0.99):.2f} s (goal <= 5), {not_running} not Running; mutating API p99 "
              f"{pct(mut_lat, 0.99) * 1000:.0f} ms (goal <= 1000)")
        print(f"list one tenant's VMs ({tenant_count}): {tenant_list * 1000:.0f} ms (goal <= 1000); "
              f"full list ({full_count} VMs, {full_mb:.0f} MB): {full_list:.2f} s (goal <= 5)")
        print(f"nodes not Ready at the end: {not_ready} of {a.nodes}")
        print(f"restart: serving after {restart_s:.1f} s (goal <= 30); 20 s later {watches:.0f} watches open, "
              f"{relists:.0f} LIST requests since the restart (before it: {lists_before:.0f} in the whole run)")
    finally:
        for name in list(procs):
            stop(name, signal.SIGINT if name == "hollow" else signal.SIGTERM)
        if a.keep:
            log("data kept in " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
