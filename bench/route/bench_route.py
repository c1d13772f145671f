#!/usr/bin/env python3
"""bench/route: time from a VM reaching Running (as the API reports it) to its /32 route
appearing at the top-of-rack router, median over several VMs, in a two-node `kumo lab`.
Goal: under one second. A route that is already there when the VM turns Running counts as 0
(the node announces the /32 as soon as the tap exists, before QEMU starts).

Usage: bench/route/bench_route.py [--kumo build/kumo] [--vms 5]
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/lib"))
import kumo_harness  # noqa: E402
from kumo_harness import KumoLab, vm_manifest  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", default=os.environ.get("KUMO_BIN", "build/kumo"))
    ap.add_argument("--vms", type=int, default=5)
    args = ap.parse_args()
    kumo_harness.KUMO = os.path.abspath(args.kumo)
    lab = KumoLab(nodes=2, lab_id=8).up()
    try:
        lab.kubectl("create", "namespace", "bench")
        delays = []
        for i in range(args.vms):
            name = f"r{i}"
            vm = vm_manifest(name, namespace="bench", run_strategy="Always")
            vm["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": f"node{1 + i % 2}"}
            lab.kubectl("apply", "-f", "-", input=json.dumps(vm))
            running_at = route_at = None
            ip = ""
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and (running_at is None or route_at is None):
                out = lab.kubectl("get", "vmi", name, "-n", "bench", "-o",
                                  "jsonpath={.status.phase} {.metadata.annotations.kumo\\.io/ip}").stdout.split()
                now = time.monotonic()
                if len(out) == 2:
                    ip = out[1]
                    if out[0] == "Running" and running_at is None:
                        running_at = now
                if ip and route_at is None and lab.tor_route(ip):
                    route_at = time.monotonic()
                time.sleep(0.05)
            if running_at is None or route_at is None:
                raise RuntimeError(f"{name}: running={running_at} route={route_at}")
            delay = max(0.0, route_at - running_at)
            delays.append(delay)
            print(f"{name} ({ip}): route at the top of rack {delay:.3f} s after Running", flush=True)
        # VMs stay until the end so that every one has its own address and route.
        med = statistics.median(delays)
        print()
        print(f"median Running -> route at tor: {med:.3f} s (max {max(delays):.3f} s); "
              f"goal < 1 s: {'PASS' if med < 1.0 else 'FAIL'}")
    finally:
        lab.down()


if __name__ == "__main__":
    main()
