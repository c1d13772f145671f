"""Tenant networking end to end in a two-node `kumo lab`: a reserved IP reaches the outside host
over BGP through the top of rack; the same IP follows the VM to the other node; stopping the VM
withdraws its route; an automatically assigned IP survives a restart. And the user's view: from
the outside host (a workstation that reaches the API server and, through the top of rack, the
VMs), one `kumo vm create --wait` returns the IP once it answers, and the console log of a VM on
a lab node comes through the API server. Last, a node fails (its agent, BIRD and VMs killed):
its VM comes back on the other node with the same IP, reachable from outside, and the failed
node rejoins cleanly; a VM counting on a volume of the shared storage class goes on counting
on the other node from where it stopped; an image uploaded once boots on both nodes from their
own caches, and a corrupted cached copy is fetched again. And a live migration: `kumo vm migrate --wait` moves a running VM (the same
instance, never rebooted) to the other node, where its IP answers again."""
import json
import os
import subprocess
import tempfile
import time
import unittest

from kumo_harness import KUMO, KumoLab, vm_manifest, wait_for

NS = "tenant-a"
IP = "10.100.0.42"


class LabNetworkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lab = KumoLab(nodes=2, lab_id=7).up()
        r = cls.lab.kubectl("create", "namespace", NS)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.lab.down()

    def k(self, *args, input=None):
        r = self.lab.kubectl(*args, input=input)
        self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)}: {r.stderr}")
        return r.stdout

    def vm(self, name, node, reservation=None, strategy="Always"):
        vm = vm_manifest(name, namespace=NS, run_strategy=strategy)
        spec = vm["spec"]["template"]["spec"]
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
        spec["domain"]["devices"]["interfaces"] = [{"name": "default", "bridge": {}}]
        if reservation:
            vm["metadata"]["annotations"] = {"kumo.io/ip-reservation": reservation}
        self.k("apply", "-f", "-", input=json.dumps(vm))

    def vmi(self, name, path):
        return self.lab.kubectl("get", "vmi", name, "-n", NS, "-o", f"jsonpath={{{path}}}").stdout

    def test_reserved_ip_follows_the_vm_and_is_withdrawn_when_stopped(self):
        self.k("apply", "-f", "-", input=json.dumps({
            "apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
            "metadata": {"name": "web", "namespace": NS}, "spec": {"addresses": [IP]}}))
        self.vm("web", "node1", reservation="web")
        wait_for(lambda: self.vmi("web", ".status.phase") == "Running", 240, what="web Running on node1")
        self.assertEqual(self.vmi("web", ".status.interfaces[0].ipAddress"), IP)
        page = wait_for(lambda: self.lab.fetch(IP), 180, interval=1, what="outside reaches the VM")
        self.assertIn(IP, page)
        self.assertIn("10.250.1.2", self.lab.tor_route(IP))  # the route points at node1

        # Delete and create again on the other node: the same address answers from outside.
        self.k("delete", "vm", "web", "-n", NS)
        wait_for(lambda: self.lab.kubectl("get", "vmi", "web", "-n", NS).returncode != 0, 120,
                 what="VMI deleted")
        self.vm("web", "node2", reservation="web")
        wait_for(lambda: self.vmi("web", ".status.nodeName") == "node2", 60, what="web on node2")
        wait_for(lambda: "10.250.2.2" in self.lab.tor_route(IP), 180, interval=0.5,
                 what="top of rack routes the IP to node2")
        page = wait_for(lambda: self.lab.fetch(IP), 180, interval=1, what="outside reaches the VM on node2")
        self.assertIn(IP, page)

        # Stop: the route is withdrawn at the top of rack.
        self.k("patch", "vm", "web", "-n", NS, "--type", "merge", "-p", '{"spec":{"runStrategy":"Halted"}}')
        wait_for(lambda: self.lab.tor_route(IP) == "", 120, interval=0.5, what="route withdrawn")
        self.assertEqual(self.lab.fetch(IP), "")

    def test_automatic_ip_survives_restart(self):
        self.vm("auto", "node1")
        ip = wait_for(lambda: self.vmi("auto", ".status.interfaces[0].ipAddress"), 240, what="auto has an IP")
        wait_for(lambda: self.vmi("auto", ".status.phase") == "Running", 240, what="auto Running")
        self.assertTrue(ip.startswith("10.100.0."), ip)
        wait_for(lambda: self.lab.fetch(ip), 180, interval=1, what="outside reaches auto")
        uid = self.vmi("auto", ".metadata.uid")
        code = self.lab.kubectl("get", "--raw", "/version").returncode
        self.assertEqual(code, 0)
        # virtctl restart: a new instance with the same address.
        r = subprocess_put(self.lab, f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/auto/restart")
        self.assertEqual(r, 0)
        wait_for(lambda: self.vmi("auto", ".metadata.uid") not in ("", uid), 120, what="new instance")
        wait_for(lambda: self.vmi("auto", ".status.phase") == "Running", 240, what="auto Running again")
        self.assertEqual(self.vmi("auto", ".status.interfaces[0].ipAddress"), ip)
        wait_for(lambda: self.lab.fetch(ip), 180, interval=1, what="outside reaches auto after restart")

        # The agent routes only what IPAM gave the VM: once the address's IPAllocation is gone
        # (an object restored from an old backup looks the same to the agent), the route is
        # withdrawn at the top of rack and the VM is unreachable; given back, it returns.
        alloc = json.loads(self.k("get", "ipallocation", ip, "-o", "json"))
        self.k("delete", "ipallocation", ip)
        wait_for(lambda: self.lab.tor_route(ip) == "", 60, interval=0.5,
                 what="the route of an address IPAM did not allocate is withdrawn")
        self.assertEqual(self.lab.fetch(ip), "")
        events = self.k("get", "events", "-n", NS, "--field-selector",
                        "involvedObject.name=auto,reason=AddressNotAllocated", "-o", "name")
        self.assertTrue(events.strip(), "an AddressNotAllocated event explains it")
        for field in ("resourceVersion", "uid", "creationTimestamp"):
            alloc["metadata"].pop(field, None)
        self.k("create", "-f", "-", input=json.dumps(alloc))
        wait_for(lambda: self.lab.fetch(ip), 120, interval=1, what="reachable again once allocated")

    def test_kumo_cli_from_the_outside_host(self):
        home = tempfile.mkdtemp(prefix="kumo-outside-home-")
        commands = 0

        def kumo(*args, timeout=60):
            nonlocal commands
            commands += 1
            return self.lab.exec("outside", "env", f"KUBECONFIG={self.lab.kubeconfig}", f"HOME={home}",
                                 KUMO, "-n", NS, *args, timeout=timeout)

        # The lab built the tiny image, so the user needs one command for a reachable VM.
        r = kumo("vm", "create", "cli1", "--image", "tiny", "--wait", "--timeout", "300", timeout=400)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ip = r.stdout.strip()
        self.assertTrue(ip.startswith("10.100.0."), r.stdout + r.stderr)
        self.assertIn(f"{ip} answers", r.stderr)
        self.assertLessEqual(commands, 3)
        self.assertIn(ip, self.lab.fetch(ip))
        print(f"\n  from the outside host: a VM answering on {ip} after {commands} kumo command(s)")
        # Console log and console come from the VM's node through the API server.
        r = kumo("vm", "log", "cli1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("KUMO-BOOT-OK", r.stdout)
        r = kumo("vm", "delete", "cli1", "--wait", timeout=200)
        self.assertEqual(r.returncode, 0, r.stderr)

    def running_vm_with_reserved_ip(self, name, ip):
        """A VM (runStrategy Always, no node selector) holding `ip` through a reservation."""
        self.k("apply", "-f", "-", input=json.dumps({
            "apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
            "metadata": {"name": name, "namespace": NS}, "spec": {"addresses": [ip]}}))
        vm = vm_manifest(name, namespace=NS, run_strategy="Always")
        vm["metadata"]["annotations"] = {"kumo.io/ip-reservation": name}
        vm["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"] = [{"name": "default", "bridge": {}}]
        self.k("apply", "-f", "-", input=json.dumps(vm))
        wait_for(lambda: self.vmi(name, ".status.phase") == "Running", 240, what=f"{name} Running")

    def test_live_migration_keeps_the_vm_and_its_ip(self):
        ip = "10.100.0.88"
        self.running_vm_with_reserved_ip("mig", ip)
        source = self.vmi("mig", ".status.nodeName")
        target = "node2" if source == "node1" else "node1"
        wait_for(lambda: "KUMO-BOOT-OK" in self.lab.console_log(source, NS, "mig"), 240, what="mig booted")
        wait_for(lambda: self.lab.fetch(ip), 180, interval=1, what="outside reaches mig")
        uid = self.vmi("mig", ".metadata.uid")

        started = time.time()
        r = subprocess.run([KUMO, "--kubeconfig", self.lab.kubeconfig, "-n", NS, "vm", "migrate", "mig",
                            "--wait", "--timeout", "240"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(f"now running on {target}", r.stderr)
        # The same instance (not a restart) runs on the other node with the same IP.
        self.assertEqual(self.vmi("mig", ".status.nodeName"), target)
        self.assertEqual(self.vmi("mig", ".metadata.uid"), uid)
        self.assertEqual(self.vmi("mig", ".status.phase"), "Running")
        self.assertEqual(self.vmi("mig", ".status.interfaces[0].ipAddress"), ip)
        self.assertEqual(self.vmi("mig", ".status.migrationState.completed"), "true")
        self.assertNotIn("KUMO-BOOT-OK", self.lab.console_log(target, NS, "mig"))  # it never booted there
        phases = self.k("get", "vmim", "-n", NS, "-o", "jsonpath={.items[*].status.phase}")
        self.assertIn("Succeeded", phases)
        target_ip = "10.250.2.2" if target == "node2" else "10.250.1.2"
        wait_for(lambda: target_ip in self.lab.tor_route(ip), 120, interval=0.5,
                 what=f"top of rack routes {ip} to {target}")
        self.assertIn(ip, wait_for(lambda: self.lab.fetch(ip), 60, interval=1, what="outside reaches mig"))
        print(f"\n  mig migrated live {source} -> {target} in {time.time() - started:.1f}s; {ip} answers")
        self.k("delete", "vm", "mig", "-n", NS)

    def node(self, name):
        r = self.lab.kubectl("get", "node", name, "-o", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_uploaded_image_reaches_each_node_by_checksum(self):
        # The lab's own image directory holds the tiny image; upload a copy of it once. Each
        # node's cache (<lab>/<node>/images) is its own: nothing is shared between them.
        tiny = self.lab.kubectl("get", "image", "tiny", "-o", "jsonpath={.status.path}").stdout
        r = subprocess.run([KUMO, "--kubeconfig", self.lab.kubeconfig, "image", "upload", tiny,
                            "--name", "carried"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        checksum = self.lab.kubectl("get", "image", "carried", "-o",
                                    "jsonpath={.status.checksum}").stdout
        self.assertTrue(checksum.startswith("sha256:"), checksum)
        digest = checksum[len("sha256:"):]
        for node in ("node1", "node2"):
            vm = vm_manifest(f"carried-{node}", namespace=NS, run_strategy="Always")
            spec = vm["spec"]["template"]["spec"]
            spec["volumes"][0]["containerDisk"]["image"] = "carried"
            spec["nodeSelector"] = {"kubernetes.io/hostname": node}
            self.k("apply", "-f", "-", input=json.dumps(vm))
        for node in ("node1", "node2"):
            wait_for(lambda node=node: "KUMO-BOOT-OK" in self.lab.console_log(node, NS, f"carried-{node}"),
                     240, what=f"carried-{node} booted")
            cached = os.path.join(self.lab.data_dir, node, "images", digest)
            self.assertTrue(os.path.exists(cached), cached)
        wait_for(lambda: self.lab.kubectl("get", "image", "carried", "-o",
                                          "jsonpath={.status.nodes}").stdout == '["node1","node2"]',
                 60, what="the Image lists both nodes")
        self.assertIn("node1,node2", self.k("get", "images"))

        # Corrupt node1's copy: the next start there finds it by its checksum and fetches again.
        cached = os.path.join(self.lab.data_dir, "node1", "images", digest)
        with open(cached, "r+b") as f:
            f.seek(65536)
            f.write(b"bit rot!")
        first_uid = self.vmi("carried-node1", ".metadata.uid")
        r = subprocess.run([KUMO, "--kubeconfig", self.lab.kubeconfig, "-n", NS, "vm", "restart",
                            "carried-node1"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: "ImageCorrupted" in self.k("get", "events", "-n", NS, "--field-selector",
                                                     "involvedObject.name=carried-node1"),
                 120, what="the corrupted copy reported")
        wait_for(lambda: self.vmi("carried-node1", ".metadata.uid") not in ("", first_uid) and
                 self.vmi("carried-node1", ".status.phase") == "Running" and
                 "KUMO-BOOT-OK" in self.lab.console_log("node1", NS, "carried-node1"),
                 240, what="carried-node1 booted again")
        with open(cached, "rb") as f:
            import hashlib
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)
        for node in ("node1", "node2"):
            self.k("delete", "vm", f"carried-{node}", "-n", NS)

    def test_shared_volume_follows_the_vm_when_its_node_fails(self):
        # The guest counts on its data volume (class "shared": a directory both lab nodes
        # see, as they would see an NFS export) once a second, each count flushed (fsync) before
        # it is printed: what a guest flushed is what survives a power loss, as on any disk.
        counter = ("#!/bin/sh\n"
                   "n=$(head -c 20 /dev/vdb | tr -dc 0-9)\n"
                   "[ -n \"$n\" ] || n=0\n"
                   "echo KUMO-COUNTER-START=$n\n"
                   "while :; do\n"
                   "  n=$((n+1))\n"
                   "  printf '%-20s' $n | dd of=/dev/vdb conv=fsync 2>/dev/null\n"
                   "  echo KUMO-COUNTER=$n\n"
                   "  sleep 1\n"
                   "done\n")
        self.k("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "ledger", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "shared",
                     "resources": {"requests": {"storage": "16Mi"}}}}))
        vm = vm_manifest("counter", namespace=NS, run_strategy="Always")
        spec = vm["spec"]["template"]["spec"]
        spec["domain"]["devices"]["disks"] += [{"name": "ledger", "disk": {"bus": "virtio"}},
                                               {"name": "cloudinit", "disk": {"bus": "virtio"}}]
        spec["volumes"] += [{"name": "ledger", "persistentVolumeClaim": {"claimName": "ledger"}},
                            {"name": "cloudinit", "cloudInitNoCloud": {"userData": counter}}]
        self.k("apply", "-f", "-", input=json.dumps(vm))
        wait_for(lambda: self.vmi("counter", ".status.phase") == "Running", 240, what="counter Running")
        first = self.vmi("counter", ".status.nodeName")
        other = "node2" if first == "node1" else "node1"

        def counts(node):
            log = self.lab.console_log(node, NS, "counter").replace("\r", "")
            return [int(line.split("=")[1]) for line in log.splitlines()
                    if line.startswith("KUMO-COUNTER=") and line.split("=")[1].isdigit()]
        wait_for(lambda: len(counts(first)) >= 5, 240, what="counter counting on " + first)
        qemu = [int(p) for p in self.lab.exec(first, "pgrep", "-f", "tenant-a_counter").stdout.split()]
        self.assertTrue(qemu, "the VM's QEMU on " + first)

        # Pull the plug: agent, BIRD and QEMU of the node die at once.
        r = subprocess.run([KUMO, "lab", "fail", first, "--data-dir", self.lab.data_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        last_before = counts(first)[-1]
        wait_for(lambda: self.vmi("counter", ".status.nodeName") == other and
                 self.vmi("counter", ".status.phase") == "Running", 300, interval=1,
                 what=f"counter Running again on {other}")
        wait_for(lambda: len(counts(other)) >= 3, 240, what="counter counting on " + other)
        after = counts(other)
        # It continues from where it stopped: no earlier value (nothing lost), no gap beyond the
        # one write that may have reached the disk after its last console line, and one writer.
        self.assertIn(after[0] - last_before, (1, 2), f"before: ...{last_before}, after: {after[:5]}")
        self.assertEqual(after, list(range(after[0], after[0] + len(after))))
        self.assertEqual(counts(first)[-1], last_before, "the failed node wrote again")
        for pid in qemu:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"QEMU {pid} of the failed node lives")
        pv = self.lab.kubectl("get", "pvc", "ledger", "-n", NS, "-o", "jsonpath={.spec.volumeName}").stdout
        self.assertEqual(self.lab.kubectl("get", "pv", pv, "-o",
                                          "jsonpath={.spec.csi.volumeAttributes.node}").stdout, other)
        print(f"\n  {first} failed at count {last_before}; counter went on from {after[0]} on {other}")

        r = subprocess.run([KUMO, "lab", "recover", first, "--data-dir", self.lab.data_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.k("delete", "vm", "counter", "-n", NS)
        wait_for(lambda: self.lab.kubectl("get", "vmi", "counter", "-n", NS).returncode != 0, 120,
                 what="counter gone")
        self.k("delete", "pvc", "ledger", "-n", NS)

    def test_vm_comes_back_elsewhere_when_its_node_fails(self):
        ip = "10.100.0.77"
        self.running_vm_with_reserved_ip("ha", ip)
        first = self.vmi("ha", ".status.nodeName")
        other = "node2" if first == "node1" else "node1"
        wait_for(lambda: self.lab.fetch(ip), 180, interval=1, what="outside reaches ha")
        old_uid = self.vmi("ha", ".metadata.uid")

        failed_at = time.time()
        r = subprocess.run([KUMO, "lab", "fail", first, "--data-dir", self.lab.data_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The node is marked unreachable, the VMI fails, and a new one runs on the other node.
        wait_for(lambda: self.vmi("ha", ".status.nodeName") == other and
                 self.vmi("ha", ".status.phase") == "Running", 300, interval=1,
                 what=f"ha Running again on {other}")
        self.assertNotEqual(self.vmi("ha", ".metadata.uid"), old_uid)
        self.assertEqual(self.vmi("ha", ".status.interfaces[0].ipAddress"), ip)
        node = self.node(first)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        self.assertEqual(ready["status"], "Unknown")
        self.assertIn({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                      [{"key": t["key"], "effect": t["effect"]} for t in node["spec"].get("taints", [])])
        other_ip = "10.250.2.2" if other == "node2" else "10.250.1.2"
        wait_for(lambda: other_ip in self.lab.tor_route(ip), 120, interval=0.5,
                 what=f"top of rack routes {ip} to {other}")
        page = wait_for(lambda: self.lab.fetch(ip), 180, interval=1, what="outside reaches ha on the other node")
        self.assertIn(ip, page)
        print(f"\n  {first} failed; ha answered again on {ip} from {other} after "
              f"{time.time() - failed_at:.0f}s")
        events = self.k("get", "events", "-n", NS, "--field-selector", "involvedObject.name=ha")
        self.assertIn("NodeUnresponsive", events)

        # The failed node comes back: it is Ready and untainted again, and the VM stays put.
        r = subprocess.run([KUMO, "lab", "recover", first, "--data-dir", self.lab.data_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

        def healthy():
            n = self.node(first)
            ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
            return ready["status"] == "True" and not any(
                t["key"] == "node.kubernetes.io/unreachable" for t in n["spec"].get("taints", []))
        wait_for(healthy, 120, interval=1, what=f"{first} Ready again")
        time.sleep(3)
        self.assertEqual(self.vmi("ha", ".status.nodeName"), other)
        self.assertIn(other_ip, self.lab.tor_route(ip))
        self.assertIn(ip, self.lab.fetch(ip))


def subprocess_put(lab, path):
    """PUT through kubectl's raw access (virtctl's subresource call)."""
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write("{}")
        f.flush()
        r = lab.kubectl("replace", "--raw", path, "-f", f.name)
    return r.returncode


if __name__ == "__main__":
    unittest.main()
