"""A KubeVirt VM that really runs: kubectl apply boots a QEMU guest through the real server and
agent; stop, start, crashes under each run strategy, an agent restart, deletion, and the errors a
user sees for a missing image or a QEMU that cannot start."""
import json
import os
import signal
import time
import unittest

from kumo_harness import (KumoAgent, KumoServer, build_tiny_image, qemu_pids, vm_manifest,
                          wait_for)

NS = "e2e"


class VmLifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        build_tiny_image(cls.server)
        cls.agent = KumoAgent(cls.server, "node1").start()
        cls.server.kubectl("create", "namespace", NS, check=True)

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()
        cls.server.cleanup()

    # --- helpers -------------------------------------------------------------------------------
    def k(self, *args, ok=True):
        r = self.server.kubectl(*args)
        if ok:
            self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)}: {r.stderr}")
        return r

    def apply_vm(self, name, strategy="Always", image="tiny"):
        vm = vm_manifest(name, namespace=NS, run_strategy=strategy)
        vm["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] = image
        r = self.server.kubectl("apply", "-f", "-", input=json.dumps(vm))
        self.assertEqual(r.returncode, 0, r.stderr)

    def vm_field(self, name, path):
        return self.server.kubectl("get", "vm", name, "-n", NS, "-o", f"jsonpath={{{path}}}").stdout

    def vmi_field(self, name, path):
        return self.server.kubectl("get", "vmi", name, "-n", NS, "-o", f"jsonpath={{{path}}}").stdout

    def pids(self, name):
        return qemu_pids(self.agent.data_dir, f"{NS}_{name}")

    def wait_running(self, name, timeout=240):
        wait_for(lambda: self.vmi_field(name, ".status.phase") == "Running", timeout,
                 what=f"VMI {name} Running")
        wait_for(lambda: "KUMO-BOOT-OK" in self.agent.console_log(NS, name), timeout,
                 what=f"boot marker of {name}")
        wait_for(lambda: self.vm_field(name, ".status.printableStatus") == "Running", 30,
                 what=f"VM {name} printableStatus Running")
        return self.pids(name)

    def put_subresource(self, name, action):
        code, body = self.server.request(
            "PUT", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/{name}/{action}", b"")
        self.assertLess(code, 300, body)

    def events(self, name):
        out = self.server.kubectl("get", "events", "-n", NS, "-o", "json").stdout
        return [e for e in json.loads(out)["items"] if e["involvedObject"]["name"] == name]

    # --- tests ---------------------------------------------------------------------------------
    def test_01_lifecycle(self):
        self.apply_vm("vm1")
        pids = self.wait_running("vm1")
        self.assertEqual(len(pids), 1, "exactly one QEMU named e2e_vm1")
        table = self.k("get", "vm", "vm1", "-n", NS).stdout
        self.assertIn("Running", table)
        self.assertIn("True", table)
        self.assertEqual(self.vmi_field("vm1", ".status.nodeName"), "node1")
        reasons = {e["reason"] for e in self.events("vm1")}
        self.assertIn("Scheduled", reasons)
        self.assertIn("Started", reasons)

        # Stop: Stopped, and no QEMU left.
        self.put_subresource("vm1", "stop")
        wait_for(lambda: self.vm_field("vm1", ".status.printableStatus") == "Stopped", 120, what="Stopped")
        wait_for(lambda: not self.pids("vm1"), 60, what="QEMU gone after stop")
        self.assertEqual(self.vm_field("vm1", ".spec.runStrategy"), "Halted")

        # Start again.
        self.put_subresource("vm1", "start")
        first = self.wait_running("vm1")[0]

        # Kill QEMU under Always: restarted (a new process).
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: self.pids("vm1") and self.pids("vm1")[0] != first, 240, what="QEMU restarted")
        second = self.wait_running("vm1")[0]

        # Kill and restart the agent: the VM keeps running and is still reported.
        self.agent.kill()
        time.sleep(2)
        self.assertIn(second, self.pids("vm1"))
        self.agent.start()
        time.sleep(8)
        self.assertEqual(self.pids("vm1"), [second])
        self.assertEqual(self.vmi_field("vm1", ".status.phase"), "Running")

        # Under Manual a killed QEMU stays down.
        self.k("patch", "vm", "vm1", "-n", NS, "--type", "merge", "-p", '{"spec":{"runStrategy":"Manual"}}')
        os.kill(second, signal.SIGKILL)
        wait_for(lambda: self.vmi_field("vm1", ".status.phase") == "Failed", 120, what="VMI Failed")
        time.sleep(5)
        self.assertEqual(self.pids("vm1"), [])
        self.assertEqual(self.vm_field("vm1", ".status.printableStatus"), "Stopped")

        # Delete: the process, overlay and sockets are gone.
        self.put_subresource("vm1", "start")
        self.wait_running("vm1")
        vm_dir = self.agent.vm_dir(NS, "vm1")
        self.assertTrue(os.path.isdir(vm_dir))
        self.k("delete", "vm", "vm1", "-n", NS)
        wait_for(lambda: self.k("get", "vmi", "vm1", "-n", NS, ok=False).returncode != 0, 120, what="VMI deleted")
        wait_for(lambda: not self.pids("vm1"), 60, what="QEMU gone after delete")
        wait_for(lambda: not os.path.exists(vm_dir), 30, what="VM directory removed")

    def test_02_missing_image(self):
        self.apply_vm("noimage", image="no-such-image")
        wait_for(lambda: self.vm_field("noimage", ".status.printableStatus") == "ErrImagePull", 120,
                 what="ErrImagePull")
        msgs = [e["message"] for e in self.events("noimage") if e["reason"] == "ErrImagePull"]
        self.assertTrue(msgs and "no-such-image" in msgs[0], msgs)
        self.k("delete", "vm", "noimage", "-n", NS)

    def test_03_qemu_failure_is_reported(self):
        bad = os.path.join(self.agent.data_dir, "broken.qcow2")
        with open(bad, "w") as f:
            f.write("this is not a disk image\n")
        image = {"apiVersion": "kumo.io/v1alpha1", "kind": "Image", "metadata": {"name": "broken"},
                 "spec": {"format": "qcow2", "source": {"file": bad}}}
        self.assertEqual(self.server.request("POST", "/apis/kumo.io/v1alpha1/images", image)[0], 201)
        code, body = self.server.request("PATCH", "/apis/kumo.io/v1alpha1/images/broken/status",
                                         {"status": {"phase": "Ready", "path": bad}},
                                         content_type="application/merge-patch+json")
        self.assertEqual(code, 200, body)
        self.apply_vm("broken", strategy="Once", image="broken")
        wait_for(lambda: self.vmi_field("broken", ".status.phase") == "Failed", 120, what="VMI Failed")
        failed = [e for e in self.events("broken") if e["type"] == "Warning"]
        self.assertTrue(failed, self.events("broken"))
        self.assertTrue(any("qcow2" in e["message"] or "qemu" in e["message"].lower() for e in failed),
                        [e["message"] for e in failed])
        self.assertEqual(self.pids("broken"), [])


if __name__ == "__main__":
    unittest.main()
