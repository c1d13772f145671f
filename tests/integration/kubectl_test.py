"""A stock kubectl against a real `kumo server`: apply, get, describe, patch, apply again,
watch, delete, explain, and the server's validation messages."""
import json
import os
import time
import unittest

from kumo_harness import kubectl_minor, patch_status, wait_for, KumoServer


# kubectl before 1.27 validates client-side from /openapi/v2 and refuses fields the schema does
# not name; newer ones leave it to the server (fieldValidation), which keeps unknown fields.
CLIENT_SIDE_VALIDATION = kubectl_minor() < 27

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: testvm
  namespace: demo
  labels:
    app: web
    tier: {tier}
spec:
  runStrategy: Halted
  template:
    metadata:
      labels:
        kubevirt.io/vm: testvm
    spec:
      domain:
        cpu:
          cores: {cores}
        memory:
          guest: 128Mi
        devices:
          disks:
          - name: rootdisk
            disk:
              bus: virtio
          interfaces:
          - name: default
            masquerade: {{}}
      networks:
      - name: default
        pod: {{}}
      volumes:
      - name: rootdisk
        containerDisk:
          image: tiny
{future}"""
FUTURE_FIELD = "      someFutureField:\n        keep: me\n"


def manifest(tier, cores):
    return MANIFEST.format(tier=tier, cores=cores,
                           future="" if CLIENT_SIDE_VALIDATION else FUTURE_FIELD)


class KubectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.manifest_path = os.path.join(cls.server.data_dir, "vm.yaml")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def k(self, *args, ok=True, **kw):
        r = self.server.kubectl(*args, **kw)
        if ok:
            self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)} failed:\n{r.stderr}")
        return r

    def apply_manifest(self, tier="frontend", cores=1):
        with open(self.manifest_path, "w") as f:
            f.write(manifest(tier=tier, cores=cores))
        return self.k("apply", "-f", self.manifest_path)

    def test_01_apply_get_describe(self):
        r = self.apply_manifest()
        self.assertIn("namespace/demo created", r.stdout)
        self.assertIn("virtualmachine.kubevirt.io/testvm created", r.stdout)

        table = self.k("get", "vm", "-n", "demo").stdout
        header = table.splitlines()[0].split()
        self.assertEqual(header, ["NAME", "AGE", "STATUS", "READY"])
        self.assertTrue(table.splitlines()[1].startswith("testvm"))

        vm_yaml = self.k("get", "virtualmachine", "testvm", "-n", "demo", "-o", "yaml").stdout
        self.assertIn("runStrategy: Halted", vm_yaml)
        if not CLIENT_SIDE_VALIDATION:
            self.assertIn("someFutureField", vm_yaml)  # unknown fields survive the round trip
        self.assertIn("uid:", vm_yaml)
        self.assertIn("creationTimestamp:", vm_yaml)

        self.assertEqual(self.k("get", "vms", "testvm", "-n", "demo", "-o",
                                "jsonpath={.spec.runStrategy}").stdout, "Halted")
        self.assertIn("testvm", self.k("get", "vm", "-n", "demo", "-l", "app=web").stdout)
        none = self.k("get", "vm", "-n", "demo", "-l", "app=db")
        self.assertIn("No resources found", none.stderr)
        self.assertIn("testvm", self.k("get", "vm", "-A", "-l", "tier in (frontend,backend)").stdout)

        described = self.k("describe", "vm", "testvm", "-n", "demo").stdout
        self.assertIn("Name:", described)
        self.assertIn("testvm", described)
        self.assertIn("Run Strategy:", described)

    def test_01b_unknown_fields(self):
        text = MANIFEST.format(tier="x", cores=1, future=FUTURE_FIELD).replace(
            "name: testvm\n  namespace", "name: future\n  namespace")
        if CLIENT_SIDE_VALIDATION:
            # Old kubectl refuses a field the v2 schema does not name, before sending anything.
            r = self.k("apply", "-f", "-", input=text, ok=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn('unknown field "someFutureField"', r.stderr)
            self.assertIn("NotFound", self.k("get", "vm", "future", "-n", "demo", ok=False).stderr)
            # Without client-side validation the server keeps it.
            self.k("apply", "--validate=false", "-f", "-", input=text)
        else:
            self.k("apply", "-f", "-", input=text)
        vm_yaml = self.k("get", "vm", "future", "-n", "demo", "-o", "yaml").stdout
        self.assertIn("someFutureField", vm_yaml)
        self.k("delete", "vm", "future", "-n", "demo")

    def test_02_patch_and_reapply_three_way(self):
        self.apply_manifest()
        r = self.k("patch", "vm", "testvm", "-n", "demo", "--type", "merge", "-p",
                   '{"spec":{"runStrategy":"Manual"}}')
        self.assertIn("patched", r.stdout)
        self.assertEqual(self.k("get", "vm", "testvm", "-n", "demo", "-o",
                                "jsonpath={.spec.runStrategy}").stdout, "Manual")
        self.k("patch", "vm", "testvm", "-n", "demo", "--type", "json", "-p",
               '[{"op":"add","path":"/metadata/labels/owner","value":"ops"}]')
        # Edit the manifest (change tier and cores) and apply again: a three-way merge keeps the
        # label added by someone else and takes the manifest's changes.
        r = self.apply_manifest(tier="backend", cores=2)
        self.assertIn("virtualmachine.kubevirt.io/testvm configured", r.stdout)
        vm = json.loads(self.k("get", "vm", "testvm", "-n", "demo", "-o", "json").stdout)
        self.assertEqual(vm["metadata"]["labels"]["tier"], "backend")
        self.assertEqual(vm["metadata"]["labels"]["owner"], "ops")
        self.assertEqual(vm["spec"]["template"]["spec"]["domain"]["cpu"]["cores"], 2)
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", vm["metadata"]["annotations"])
        self.assertGreaterEqual(vm["metadata"]["generation"], 2)
        # A field the manifest names is brought back to the manifest's value.
        self.assertEqual(vm["spec"]["runStrategy"], "Halted")

    def test_03_watch_sees_change(self):
        self.apply_manifest()
        watcher = self.server.kubectl_popen("get", "vm", "-n", "demo", "-w", "--output-watch-events")
        try:
            time.sleep(2)
            self.k("label", "vm", "testvm", "-n", "demo", "watched=yes", "--overwrite")
            lines = []
            deadline = time.time() + 20
            os.set_blocking(watcher.stdout.fileno(), False)
            while time.time() < deadline and not any("MODIFIED" in l for l in lines):
                chunk = watcher.stdout.readline()
                if chunk:
                    lines.append(chunk)
                else:
                    time.sleep(0.1)
            self.assertTrue(any("ADDED" in l and "testvm" in l for l in lines), lines)
            self.assertTrue(any("MODIFIED" in l and "testvm" in l for l in lines), lines)
        finally:
            watcher.terminate()
            watcher.wait()

    def test_04_explain(self):
        r = self.k("explain", "virtualmachine.spec.runStrategy")
        self.assertIn("runStrategy", r.stdout)
        self.assertIn("Always", r.stdout)
        self.assertIn("Halted", r.stdout)

    def test_05_invalid_manifest_shows_server_message(self):
        bad = manifest(tier="x", cores=1).replace("runStrategy: Halted", "runStrategy: Sometimes")
        bad = bad.replace("name: testvm\n  namespace", "name: badvm\n  namespace")
        r = self.k("apply", "-f", "-", input=bad, ok=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("spec.runStrategy", r.stderr)
        self.assertIn('Unsupported value: "Sometimes"', r.stderr)
        bad_disk = manifest(tier="x", cores=1).replace("name: testvm\n  namespace", "name: nodisk\n  namespace")
        bad_disk = bad_disk.replace("- name: rootdisk\n        containerDisk", "- name: otherdisk\n        containerDisk")
        r = self.k("apply", "-f", "-", input=bad_disk, ok=False)
        self.assertIn("has no matching volume", r.stderr)
        got = self.k("get", "vm", "badvm", "-n", "demo", ok=False)
        self.assertIn("NotFound", got.stderr)

    def test_05b_migrations_are_validated_and_listed(self):
        no_vmi = ("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\n"
                  "metadata: {name: m0, namespace: demo}\nspec: {}\n")
        r = self.k("apply", "-f", "-", input=no_vmi, ok=False)
        self.assertNotEqual(r.returncode, 0)
        # The server's message names spec.vmiName; kubectl 1.20's own validation says
        # 'missing required field "vmiName"'.
        self.assertIn("vmiName", r.stderr)
        # A migration of a VMI that does not run is accepted, then fails and says why.
        self.k("apply", "-f", "-", input=no_vmi.replace("spec: {}", "spec: {vmiName: ghost}").replace("m0", "m1"))
        wait_for(lambda: "Failed" in self.k("get", "vmim", "m1", "-n", "demo").stdout, 30,
                 what="migration m1 failed")
        table = self.k("get", "vmim", "-n", "demo").stdout
        self.assertRegex(table, r"NAME\s+PHASE\s+VMI\s+TARGET\s+AGE")
        self.assertIn("ghost", table)
        msg = self.k("get", "vmim", "m1", "-n", "demo", "-o", "jsonpath={.status.conditions[0].message}").stdout
        self.assertEqual(msg, 'VMI "ghost" does not exist')
        # virtctl migrate on a stopped VM: a Conflict in words.
        code, body = self.server.request(
            "PUT", "/apis/subresources.kubevirt.io/v1/namespaces/demo/virtualmachines/testvm/migrate", body={})
        self.assertEqual(code, 409, body)
        self.assertIn("only a running VM migrates", body["message"])

    def test_06_flavors_and_short_names(self):
        out = self.k("get", "vmcis").stdout
        self.assertIn("u1.small", out)
        self.assertIn("k1.tiny", out)
        self.assertIn("VirtualMachineInstance", self.k("api-resources", "--api-group", "kubevirt.io").stdout)

    def test_07_status_subresource(self):
        self.apply_manifest()
        r = patch_status(self.server.kubeconfig,
                         "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/testvm",
                         '{"status":{"printableStatus":"Stopped"}}')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Stopped", self.k("get", "vm", "testvm", "-n", "demo").stdout)
        # A spec change through /status is ignored; a status change through the main resource too.
        self.k("patch", "vm", "testvm", "-n", "demo", "--type", "merge",
               "-p", '{"status":{"printableStatus":"Running"}}')
        self.assertEqual(self.k("get", "vm", "testvm", "-n", "demo", "-o",
                                "jsonpath={.status.printableStatus}").stdout, "Stopped")

    def test_08_finalizers(self):
        self.k("create", "namespace", "fin")
        self.k("create", "secret", "generic", "s1", "-n", "fin", "--from-literal=a=b")
        self.k("patch", "secret", "s1", "-n", "fin", "--type", "merge",
               "-p", '{"metadata":{"finalizers":["example.com/hold"]}}')
        r = self.k("delete", "secret", "s1", "-n", "fin", "--wait=false")
        self.assertIn("deleted", r.stdout)
        s = json.loads(self.k("get", "secret", "s1", "-n", "fin", "-o", "json").stdout)
        self.assertIn("deletionTimestamp", s["metadata"])
        self.k("patch", "secret", "s1", "-n", "fin", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
        self.assertIn("NotFound", self.k("get", "secret", "s1", "-n", "fin", ok=False).stderr)

    def test_09_delete(self):
        self.apply_manifest()
        r = self.k("delete", "vm", "testvm", "-n", "demo", timeout=60)
        self.assertIn('virtualmachine.kubevirt.io "testvm" deleted', r.stdout)
        r = self.k("get", "vm", "testvm", "-n", "demo", ok=False)
        self.assertIn("NotFound", r.stderr)
        self.k("create", "namespace", "gone")
        self.k("create", "secret", "generic", "s", "-n", "gone", "--from-literal=a=b")
        self.k("delete", "namespace", "gone", timeout=60)
        self.assertIn("NotFound", self.k("get", "secret", "s", "-n", "gone", ok=False).stderr)
        self.assertIn("NotFound", self.k("get", "namespace", "gone", ok=False).stderr)


if __name__ == "__main__":
    unittest.main()
