#!/usr/bin/env python3
"""bench/boot: time from VM create to the guest's boot marker through Kumo, beside booting the
same image with a bare qemu-system-x86_64 command in the same run. Prints the ratio (goal: at
most 1.15).

Usage: bench/boot/bench_boot.py [--kumo build/kumo] [--runs 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tests/lib"))
import kumo_harness  # noqa: E402
from kumo_harness import KumoAgent, KumoServer, build_tiny_image, qemu_pids, vm_manifest, wait_for  # noqa: E402

MARKER = "KUMO-BOOT-OK"


def bare_qemu_boot(image, accel):
    """Seconds from starting a bare QEMU on an overlay of `image` to the boot marker."""
    work = tempfile.mkdtemp(prefix="bench-boot-")
    overlay = os.path.join(work, "overlay.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image, overlay], check=True)
    log = os.path.join(work, "console.log")
    start = time.monotonic()
    proc = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", accel, "-machine", "q35", "-m", "128", "-smp", "1",
         "-nodefaults", "-display", "none", "-drive", f"file={overlay},if=virtio",
         "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
         "-chardev", f"file,id=ser0,path={log}", "-serial", "chardev:ser0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.monotonic() - start < 300:
            try:
                with open(log, errors="replace") as f:
                    if MARKER in f.read():
                        return time.monotonic() - start
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise RuntimeError("bare QEMU did not print the boot marker")
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["rm", "-rf", work])


def kumo_boot(server, agent, name):
    vm = vm_manifest(name, namespace="bench", run_strategy="Always")
    start = time.monotonic()
    r = server.kubectl("apply", "-f", "-", input=json.dumps(vm))
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    while time.monotonic() - start < 300:
        if MARKER in agent.console_log("bench", name):
            elapsed = time.monotonic() - start
            server.kubectl("delete", "vm", name, "-n", "bench", "--wait=true")
            wait_for(lambda: not qemu_pids(agent.data_dir, f"bench_{name}"), 120, what="QEMU gone")
            return elapsed
        time.sleep(0.02)
    raise RuntimeError(f"VM {name} did not boot")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", default=os.environ.get("KUMO_BIN", "build/kumo"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    kumo_harness.KUMO = os.path.abspath(args.kumo)

    server = KumoServer().start()
    agent = None
    try:
        build_tiny_image(server)
        image = os.path.join(kumo_harness.IMAGE_DIR, "tiny.qcow2")
        agent = KumoAgent(server, "bench-node").start()
        accel = "kvm" if "(KVM)" in agent.log() or "KVM)" in agent.log() else "tcg"
        server.kubectl("create", "namespace", "bench", check=True)
        bare, kumo = [], []
        for i in range(args.runs):
            # Interleave the two so machine noise hits both alike.
            bare.append(bare_qemu_boot(image, accel))
            kumo.append(kumo_boot(server, agent, f"boot{i}"))
            print(f"run {i + 1}: bare QEMU {bare[-1]:.2f} s, Kumo create-to-marker {kumo[-1]:.2f} s",
                  flush=True)
        b, k = statistics.median(bare), statistics.median(kumo)
        ratio = k / b
        print()
        print(f"accelerator:                 {accel}")
        print(f"bare qemu boot (median):     {b:.2f} s")
        print(f"kumo create-to-boot (median):{k:.2f} s")
        print(f"ratio kumo/bare:             {ratio:.3f}  (goal <= 1.15: {'PASS' if ratio <= 1.15 else 'FAIL'})")
    finally:
        if agent:
            agent.cleanup()
        server.cleanup()


if __name__ == "__main__":
    main()
