#!/usr/bin/env python3
"""bench/disk: disk throughput inside a VM on a local and on a shared volume, as a ratio against
the same test run on the host against a file in the same directory, in the same run.

The tiny image has busybox and no fio, so the tests are busybox dd with direct I/O (the page
cache of neither the guest nor the host counts): sequential 1 MiB writes and reads, sequential
4 KiB writes and reads (one request in flight: latency-bound), and random 4 KiB writes and reads
(one dd per request, as a shell loop; it also measures process start-up, on both sides alike).
The guest times itself with /proc/uptime (10 ms resolution); the host runs the same script with
the host's busybox against a raw file.

Ratio = host time / guest time (1.0: the VM's disk is as fast as the host's file). Under TCG
emulation (this machine: nested KVM does not run guests) the guest's CPU cost dominates and the
ratios are far below what KVM gives; the number is for comparing Kumo versions on one machine.

Usage: bench/disk/bench_disk.py [--kumo build/kumo] [--mib 64] [--random-ops 256]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/lib"))
import kumo_harness  # noqa: E402
from kumo_harness import KumoAgent, KumoServer, build_tiny_image, vm_manifest, wait_for  # noqa: E402

TESTS = ["seqwrite1m", "seqread1m", "write4k", "read4k", "randwrite4k", "randread4k"]


def script(devices, mib, random_ops):
    """A busybox sh script that runs every test on each device and prints
    'BENCH <device> <test> <centiseconds>' lines, then BENCH-DONE."""
    blocks4k = mib * 256
    return f"""#!/bin/sh
cs() {{ read u _ < /proc/uptime; echo $(( ${{u%.*}} * 100 + 1${{u#*.}} - 100 )); }}
run() {{ s=$(cs); eval "$3" >/dev/null 2>&1; e=$(cs); echo "BENCH $1 $2 $((e - s))"; }}
for dev in {' '.join(devices)}; do
  run $dev seqwrite1m "dd if=/dev/zero of=$dev bs=1M count={mib} oflag=direct conv=notrunc"
  run $dev seqread1m "dd if=$dev of=/dev/null bs=1M count={mib} iflag=direct"
  run $dev write4k "dd if=/dev/zero of=$dev bs=4k count={blocks4k} oflag=direct conv=notrunc"
  run $dev read4k "dd if=$dev of=/dev/null bs=4k count={blocks4k} iflag=direct"
  run $dev randwrite4k 'i=0; while [ $i -lt {random_ops} ]; do dd if=/dev/zero of='$dev' bs=4k count=1 seek=$((RANDOM % {blocks4k})) oflag=direct conv=notrunc; i=$((i+1)); done'
  run $dev randread4k 'i=0; while [ $i -lt {random_ops} ]; do dd if='$dev' of=/dev/null bs=4k count=1 skip=$((RANDOM % {blocks4k})) iflag=direct; i=$((i+1)); done'
done
echo BENCH-DONE
"""


def parse(text):
    # A line may start with the console shell's prompt: match anywhere.
    return {(m.group(1), m.group(2)): int(m.group(3))
            for m in re.finditer(r"BENCH (\S+) (\S+) (\d+)", text)}


def host_run(directory, mib, random_ops):
    """The same tests with the host's busybox on a raw file in `directory` (centiseconds from
    Python's clock, which is finer than the guest's)."""
    path = os.path.join(directory, "bench-host.raw")
    subprocess.run(["truncate", "-s", f"{mib * 2}M", path], check=True)
    results = {}
    try:
        for test in TESTS:
            one = script([path], mib, random_ops)
            # Run just this test: keep the helper lines and the one `run` line.
            lines = [l for l in one.splitlines() if not l.strip().startswith("run ") or f" {test} " in l]
            body = "\n".join(lines)
            start = time.monotonic()
            subprocess.run(["busybox", "sh", "-c", body], check=True, capture_output=True)
            results[(path, test)] = max(1, round((time.monotonic() - start) * 100))
    finally:
        os.unlink(path)
    return {test: cs for (_, test), cs in results.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kumo", default=kumo_harness.KUMO)
    ap.add_argument("--mib", type=int, default=64, help="MiB per sequential test")
    ap.add_argument("--random-ops", type=int, default=256, help="requests per random test")
    args = ap.parse_args()
    kumo_harness.KUMO = args.kumo

    shared = tempfile.mkdtemp(prefix="bench-disk-shared-")
    server = KumoServer(extra_args=["--shared-storage-dir", shared]).start()
    agent = None
    try:
        build_tiny_image(server)
        agent = KumoAgent(server, "node1").start()
        server.kubectl("create", "namespace", "bench", check=True)
        size = f"{args.mib * 2 + 16}Mi"
        for name, cls in (("local-vol", "local"), ("shared-vol", "shared")):
            server.kubectl("apply", "-f", "-", check=True, input=json.dumps({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": "bench"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                         "resources": {"requests": {"storage": size}}}}))
        vm = vm_manifest("disk", namespace="bench", run_strategy="Always")
        spec = vm["spec"]["template"]["spec"]
        spec["domain"]["devices"]["disks"] += [{"name": n, "disk": {"bus": "virtio"}}
                                               for n in ("local", "shared", "cloudinit")]
        spec["volumes"] += [
            {"name": "local", "persistentVolumeClaim": {"claimName": "local-vol"}},
            {"name": "shared", "persistentVolumeClaim": {"claimName": "shared-vol"}},
            {"name": "cloudinit", "cloudInitNoCloud": {
                "userData": script(["/dev/vdb", "/dev/vdc"], args.mib, args.random_ops)}}]
        r = server.kubectl("apply", "-f", "-", input=json.dumps(vm))
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        print("running the tests in the guest (TCG: several minutes)...", file=sys.stderr)
        wait_for(lambda: "BENCH-DONE" in agent.console_log("bench", "disk"), 3600, interval=2,
                 what="the guest's disk tests")
        guest = parse(agent.console_log("bench", "disk"))
        accel = server.kubectl("get", "vmi", "disk", "-n", "bench", "-o",
                               "jsonpath={.status.qemuAccelerator}").stdout
        print("running the same tests on the host...", file=sys.stderr)
        host = {"/dev/vdb": host_run(os.path.join(agent.data_dir, "volumes"), args.mib, args.random_ops),
                "/dev/vdc": host_run(shared, args.mib, args.random_ops)}
        print(f"bench/disk: {args.mib} MiB sequential, {args.random_ops} random 4 KiB requests, "
              f"guest accelerator {accel or '?'}")
        print(f"{'volume':8} {'test':12} {'guest s':>8} {'host s':>8} {'ratio':>7}")
        for dev, label in (("/dev/vdb", "local"), ("/dev/vdc", "shared")):
            for test in TESTS:
                g = guest.get((dev, test))
                h = host[dev].get(test)
                if g is None or h is None:
                    print(f"{label:8} {test:12} {'-':>8} {'-':>8} {'-':>7}")
                    continue
                print(f"{label:8} {test:12} {g / 100:8.2f} {h / 100:8.2f} {h / max(g, 1):7.3f}")
    finally:
        if agent:
            agent.cleanup()
        server.cleanup()
        shutil.rmtree(shared, ignore_errors=True)


if __name__ == "__main__":
    main()
