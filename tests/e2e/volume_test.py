"""Disks that persist, with real QEMU guests: a VM on a persistent root volume (a DataVolume
from the tiny image) keeps what its guest wrote across stop/start, restart and a live migration
between two nodes on shared storage; a VM on an ephemeral containerDisk does not. A second VM
naming an attached claim is refused; deleting a VM removes the volumes of its
dataVolumeTemplates and keeps the claims it only named; a volume whose file is gone is never
replaced by an empty disk.

The guest counts its boots in a file on its root disk (the tiny image's FAT boot disk) and
prints KUMO-BOOTS=<n> on its console."""
import json
import os
import tempfile
import unittest

from kumo_harness import KumoAgent, KumoServer, build_tiny_image, vm_manifest, wait_for

NS = "vol"

# cloud-init user data: count the boots on the root disk (vda, a FAT superfloppy).
BOOT_COUNTER = """#!/bin/sh
mkdir -p /mnt/root
mount -t vfat /dev/vda /mnt/root || { echo KUMO-BOOTS=mount-failed; exit 1; }
n=$(cat /mnt/root/boots 2>/dev/null || echo 0)
n=$((n+1))
echo $n > /mnt/root/boots
sync
echo KUMO-BOOTS=$n
"""


def persistent_vm(name, size="64Mi", storage_class=None, run_strategy="Always"):
    vm = vm_manifest(name, namespace=NS, run_strategy=run_strategy)
    storage = {"resources": {"requests": {"storage": size}}}
    if storage_class:
        storage["storageClassName"] = storage_class
    vm["spec"]["dataVolumeTemplates"] = [{
        "metadata": {"name": f"{name}-root"},
        "spec": {"source": {"registry": {"url": "docker://kumo/tiny"}}, "storage": storage},
    }]
    tmpl = vm["spec"]["template"]["spec"]
    tmpl["volumes"] = [{"name": "rootdisk", "dataVolume": {"name": f"{name}-root"}}]
    add_counter(tmpl)
    return vm


def add_counter(tmpl):
    tmpl["domain"]["devices"]["disks"].append({"name": "cloudinit", "disk": {"bus": "virtio"}})
    tmpl["volumes"].append({"name": "cloudinit", "cloudInitNoCloud": {"userData": BOOT_COUNTER}})


class VolumeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.shared = tempfile.mkdtemp(prefix="kumo-shared-")
        cls.server = KumoServer(extra_args=["--shared-storage-dir", cls.shared]).start()
        build_tiny_image(cls.server)
        cls.node1 = KumoAgent(cls.server, "node1").start()
        cls.node2 = None
        cls.server.kubectl("create", "namespace", NS, check=True)

    @classmethod
    def tearDownClass(cls):
        for a in (cls.node1, cls.node2):
            if a:
                a.cleanup()
        cls.server.cleanup()

    # --- helpers -------------------------------------------------------------------------------
    def k(self, *args, ok=True, input=None):
        r = self.server.kubectl(*args, input=input)
        if ok:
            self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)}: {r.stderr}")
        return r

    def get(self, kind, name, path, ns=NS):
        args = ["get", kind, name, "-o", f"jsonpath={{{path}}}"]
        if ns:
            args += ["-n", ns]
        return self.server.kubectl(*args).stdout

    def apply(self, obj, ok=True):
        return self.k("apply", "-f", "-", ok=ok, input=json.dumps(obj))

    def subresource(self, name, action, body=b"", ok=True):
        code, out = self.server.request(
            "PUT", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/{name}/{action}",
            body)
        if ok:
            self.assertLess(code, 300, out)

    def node_of(self, name):
        node = self.get("vmi", name, ".status.nodeName")
        return {"node1": self.node1, "node2": self.node2}[node]

    def console(self, name):
        """The console log of the VMI `name` on its node ("" while it has none)."""
        node = self.get("vmi", name, ".status.nodeName")
        agent = {"node1": self.node1, "node2": self.node2}.get(node)
        return agent.console_log(NS, name) if agent else ""

    def wait_boots(self, name, n, timeout=240):
        """Waits for the VMI to run and its guest to report boot number `n`; returns the node."""
        wait_for(lambda: self.get("vmi", name, ".status.phase") == "Running", timeout,
                 what=f"VMI {name} Running")
        agent = self.node_of(name)
        wait_for(lambda: "KUMO-BOOTS=" in agent.console_log(NS, name), timeout,
                 what=f"boot counter of {name}")
        log = agent.console_log(NS, name)
        self.assertIn(f"KUMO-BOOTS={n}\n", log.replace("\r", ""), log[-1500:])
        return agent

    def wait_stopped(self, name):
        wait_for(lambda: self.server.kubectl("get", "vmi", name, "-n", NS).returncode != 0, 120,
                 what=f"VMI {name} gone")

    # --- tests ---------------------------------------------------------------------------------
    def test_01_persistent_root_keeps_what_the_guest_wrote(self):
        self.apply(persistent_vm("db"))
        self.wait_boots("db", 1)
        self.assertEqual(self.get("pvc", "db-root", ".status.phase"), "Bound")
        pv = self.get("pvc", "db-root", ".spec.volumeName")
        self.assertTrue(pv.startswith("pvc-"), pv)
        self.assertEqual(self.get("pv", pv, ".spec.claimRef.name", ns=None), "db-root")
        self.assertEqual(self.get("pv", pv, ".spec.csi.volumeAttributes.node", ns=None), "node1")
        wait_for(lambda: self.get("dv", "db-root", ".status.phase") == "Succeeded", 30,
                 what="DataVolume db-root Succeeded")
        table = self.k("get", "pvc", "-n", NS).stdout
        self.assertIn("db-root", table)
        self.assertIn("RWO", table)
        self.assertIn("local", table)

        # Stop, start: the guest finds its counter.
        self.subresource("db", "stop")
        self.wait_stopped("db")
        self.subresource("db", "start")
        self.wait_boots("db", 2)
        # Restart: again.
        self.subresource("db", "restart")
        wait_for(lambda: "KUMO-BOOTS=3" in self.node1.console_log(NS, "db"), 240,
                 what="third boot of db")

    def test_02_ephemeral_root_forgets(self):
        vm = vm_manifest("scratch", namespace=NS, run_strategy="Always")
        add_counter(vm["spec"]["template"]["spec"])
        self.apply(vm)
        self.wait_boots("scratch", 1)
        self.subresource("scratch", "stop")
        self.wait_stopped("scratch")
        self.subresource("scratch", "start")
        self.wait_boots("scratch", 1)
        self.k("delete", "vm", "scratch", "-n", NS)

    def test_03_a_held_volume_is_refused_to_a_second_vm(self):
        wait_for(lambda: self.get("vmi", "db", ".status.phase") == "Running", 240, what="db running")
        thief = vm_manifest("thief", namespace=NS, run_strategy="Always")
        thief["spec"]["template"]["spec"]["volumes"] = [
            {"name": "rootdisk", "persistentVolumeClaim": {"claimName": "db-root"}}]
        r = self.apply(thief, ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("in use by VirtualMachineInstance vol/db", r.stderr)
        self.assertIn("one VM at a time", r.stderr)
        # Halted it is admitted, and starting it fails with the same reason while db runs.
        thief["spec"]["runStrategy"] = "Halted"
        self.apply(thief)
        self.subresource("thief", "start")
        wait_for(lambda: "in use by" in self.get("vm", "thief", ".status.conditions[?(@.type==\"Failure\")].message"),
                 60, what="thief's start refused")
        self.assertNotEqual(self.server.kubectl("get", "vmi", "thief", "-n", NS).returncode, 0)
        self.k("delete", "vm", "thief", "-n", NS)

    def test_04_volume_commands_and_rules(self):
        # A claim's class and modes are fixed; it grows but never shrinks.
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "data", "namespace": NS},
               "spec": {"accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "32Mi"}}}}
        self.apply(pvc)
        wait_for(lambda: self.get("pvc", "data", ".status.phase") == "Bound", 30, what="data Bound")
        self.assertEqual(self.get("pvc", "data", ".spec.storageClassName"), "local")
        r = self.k("patch", "pvc", "data", "-n", NS, "--type=merge", "-p",
                   '{"spec":{"resources":{"requests":{"storage":"16Mi"}}}}', ok=False)
        self.assertIn("cannot shrink", r.stderr)
        r = self.k("patch", "pvc", "data", "-n", NS, "--type=merge", "-p",
                   '{"spec":{"storageClassName":"shared"}}', ok=False)
        self.assertIn("immutable", r.stderr)
        r = self.k("patch", "pvc", "data", "-n", NS, "--type=merge", "-p",
                   '{"spec":{"volumeName":"pvc-someone-elses"}}', ok=False)
        self.assertIn("binds a claim", r.stderr)
        self.k("patch", "pvc", "data", "-n", NS, "--type=merge", "-p",
               '{"spec":{"resources":{"requests":{"storage":"48Mi"}}}}')
        pv = self.get("pvc", "data", ".spec.volumeName")
        wait_for(lambda: self.get("pv", pv, ".spec.capacity.storage", ns=None) == "48Mi", 30,
                 what="the volume grows")
        # A claim nobody wrote is deleted with its volume.
        self.k("delete", "pvc", "data", "-n", NS, "--wait=false")
        wait_for(lambda: self.server.kubectl("get", "pv", pv).returncode != 0, 30,
                 what="the released volume is deleted")

    def test_05_deleting_a_vm_removes_its_template_volumes_only(self):
        # db's root came from its dataVolumeTemplates: it goes with the VM, data and all.
        pv = self.get("pvc", "db-root", ".spec.volumeName")
        path = os.path.join(self.node1.data_dir, "volumes", pv + ".qcow2")
        self.assertTrue(os.path.exists(path), path)
        # A claim the VM only names stays.
        keep = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "keep", "namespace": NS},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "16Mi"}}}}
        self.apply(keep)
        self.k("delete", "vm", "db", "-n", NS)
        wait_for(lambda: self.server.kubectl("get", "pvc", "db-root", "-n", NS).returncode != 0, 120,
                 what="db-root deleted with its VM")
        wait_for(lambda: not os.path.exists(path), 60, what="the volume's file removed by its node")
        wait_for(lambda: self.server.kubectl("get", "pv", pv).returncode != 0, 60,
                 what="the PersistentVolume deleted")
        self.assertEqual(self.get("pvc", "keep", ".status.phase"), "Bound")

    def test_06_shared_volume_survives_a_live_migration(self):
        if self.node2 is None:
            type(self).node2 = KumoAgent(self.server, "node2").start()
        self.apply(persistent_vm("mover", storage_class="shared"))
        first = self.wait_boots("mover", 1)
        pv = self.get("pvc", "mover-root", ".spec.volumeName")
        self.assertTrue(os.path.exists(os.path.join(self.shared, pv + ".qcow2")))
        mig = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
               "metadata": {"name": "move-mover", "namespace": NS}, "spec": {"vmiName": "mover"}}
        self.apply(mig)
        wait_for(lambda: self.get("vmim", "move-mover", ".status.phase") in ("Succeeded", "Failed"),
                 240, what="migration finished")
        self.assertEqual(self.get("vmim", "move-mover", ".status.phase"), "Succeeded",
                         self.k("get", "vmim", "move-mover", "-n", NS, "-o", "yaml").stdout)
        second = self.node_of("mover")
        self.assertIsNot(first, second)
        self.assertEqual(self.get("pv", pv, ".spec.csi.volumeAttributes.node", ns=None),
                         second.node_name)
        # A restart after the move still finds the counter, on the shared file.
        self.subresource("mover", "restart")
        wait_for(lambda: "KUMO-BOOTS=2" in self.console("mover"), 240,
                 what="second boot of mover")
        self.k("delete", "vm", "mover", "-n", NS)

    def test_07_a_lost_file_is_never_replaced_by_an_empty_disk(self):
        self.apply(persistent_vm("fragile", run_strategy="Always"))
        agent = self.wait_boots("fragile", 1)
        pv = self.get("pvc", "fragile-root", ".spec.volumeName")
        wait_for(lambda: self.get("pv", pv, ".metadata.annotations.kumo\\.io/populated", ns=None) == "true",
                 30, what="volume marked populated")
        self.subresource("fragile", "stop")
        self.wait_stopped("fragile")
        path = os.path.join(agent.data_dir, "volumes", pv + ".qcow2")
        os.rename(path, path + ".away")
        self.subresource("fragile", "start")
        wait_for(lambda: "is missing on this node" in self.k(
            "get", "events", "-n", NS, "--field-selector",
            "involvedObject.name=fragile,reason=FailedAttachVolume").stdout, 120,
                 what="the start fails on the missing file")
        self.assertFalse(os.path.exists(path), "no fresh disk was made")
        os.rename(path + ".away", path)
        self.subresource("fragile", "stop", ok=False)
        self.wait_stopped("fragile")
        self.subresource("fragile", "start")
        wait_for(lambda: "KUMO-BOOTS=2" in agent.console_log(NS, "fragile"), 300,
                 what="the VM boots again on its own data")
        self.k("delete", "vm", "fragile", "-n", NS)

    def test_08_snapshot_and_restore(self):
        self.apply(persistent_vm("snappy"))
        agent = self.wait_boots("snappy", 1)
        snap = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "snap1", "namespace": NS},
                "spec": {"source": {"persistentVolumeClaimName": "snappy-root"}}}
        self.apply(snap)
        # While the VM runs on it, the copy waits (no online snapshots yet) and says why.
        wait_for(lambda: "in use by VirtualMachineInstance vol/snappy" in
                 self.get("vs", "snap1", ".status.error.message"), 30, what="snapshot waits")
        self.assertNotEqual(self.get("vs", "snap1", ".status.readyToUse"), "true")
        self.subresource("snappy", "stop")
        self.wait_stopped("snappy")
        wait_for(lambda: self.get("vs", "snap1", ".status.readyToUse") == "true", 120,
                 what="snapshot ready")
        content = self.get("vs", "snap1", ".status.boundVolumeSnapshotContentName")
        copy = os.path.join(agent.data_dir, "volumes", content + ".qcow2")
        self.assertTrue(os.path.exists(copy), copy)
        # The VM goes on from its own disk (boot 2); a volume restored from the snapshot starts
        # from the snapshot's state (boot 1 recorded, so it counts 2 too, on its own file).
        self.subresource("snappy", "start")
        self.wait_boots("snappy", 2)
        self.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "restored", "namespace": NS},
                    "spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "64Mi"}},
                             "dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io",
                                               "kind": "VolumeSnapshot", "name": "snap1"}}})
        vm = vm_manifest("restored-vm", namespace=NS, run_strategy="Always")
        tmpl = vm["spec"]["template"]["spec"]
        tmpl["volumes"] = [{"name": "rootdisk", "persistentVolumeClaim": {"claimName": "restored"}}]
        add_counter(tmpl)
        self.apply(vm)
        self.wait_boots("restored-vm", 2)
        self.subresource("snappy", "restart")
        wait_for(lambda: "KUMO-BOOTS=3" in self.console("snappy"), 240,
                 what="third boot of snappy (the restore did not touch it)")
        # Deleting the snapshot removes its copy.
        self.k("delete", "vs", "snap1", "-n", NS)
        wait_for(lambda: not os.path.exists(copy), 60, what="the snapshot's copy removed")
        wait_for(lambda: self.server.kubectl("get", "vsc", content).returncode != 0, 60,
                 what="the content deleted")
        for name in ("snappy", "restored-vm"):
            self.k("delete", "vm", name, "-n", NS)

    def test_09_local_volume_moves_with_a_live_migration(self):
        if self.node2 is None:
            type(self).node2 = KumoAgent(self.server, "node2").start()
        self.apply(persistent_vm("local-mover"))  # class local: the file lives on one node
        first = self.wait_boots("local-mover", 1)
        pv = self.get("pvc", "local-mover-root", ".spec.volumeName")
        old_copy = os.path.join(first.data_dir, "volumes", pv + ".qcow2")
        self.assertTrue(os.path.exists(old_copy))
        uid = self.get("vmi", "local-mover", ".metadata.uid")
        mig = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
               "metadata": {"name": "move-local", "namespace": NS},
               "spec": {"vmiName": "local-mover"}}
        self.apply(mig)
        wait_for(lambda: self.get("vmim", "move-local", ".status.phase") in ("Succeeded", "Failed"),
                 240, what="migration finished")
        self.assertEqual(self.get("vmim", "move-local", ".status.phase"), "Succeeded",
                         self.k("get", "vmim", "move-local", "-n", NS, "-o", "yaml").stdout)
        second = self.node_of("local-mover")
        self.assertIsNot(first, second)
        self.assertEqual(self.get("vmi", "local-mover", ".metadata.uid"), uid)  # the same instance
        # The volume lives on the new node now, and the old node's stale copy goes.
        wait_for(lambda: self.get("pv", pv, ".spec.csi.volumeAttributes.node", ns=None) ==
                 second.node_name, 30, what="the volume's node moves")
        self.assertTrue(os.path.exists(os.path.join(second.data_dir, "volumes", pv + ".qcow2")))
        wait_for(lambda: not os.path.exists(old_copy), 60, what="the old node's copy removed")
        # A restart finds what the guest wrote before the move, on the new node.
        self.subresource("local-mover", "restart")
        wait_for(lambda: self.get("vmi", "local-mover", ".metadata.uid") not in ("", uid) and
                 "KUMO-BOOTS=2" in second.console_log(NS, "local-mover"), 240,
                 what="second boot of local-mover on " + second.node_name)
        self.assertEqual(self.node_of("local-mover"), second)
        self.k("delete", "vm", "local-mover", "-n", NS)


if __name__ == "__main__":
    unittest.main()
