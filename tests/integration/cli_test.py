"""The `kumo` user CLI against a real `kumo server` (no agent: the verbs that need no running
VM): flavors, images (import from a file and from a URL), IP reservations, VMs that stay
halted, apply, templates, the --dry-run manifest checked against the served KubeVirt schema,
output formats, errors in one line with the server's reason, exit codes, completion, help."""
import functools
import http.server
import json
import time
import re
import os
import subprocess
import tempfile
import threading
import unittest

from kumo_cli import (KumoCli, leaf_paths, load_yaml_or_none, schema_for_kind, strict_errors)
from kumo_harness import KUBECTL, KUMO, KumoServer, kubectl_minor, wait_for

NS = "default"


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.cli = KumoCli(cls.server)
        cls.tmp = tempfile.mkdtemp(prefix="kumo-cli-it-")
        cls.image_dir = os.path.join(cls.tmp, "images")
        # A tiny raw disk to import, standing in for a cloud image.
        cls.disk = os.path.join(cls.tmp, "Small_Disk.raw")
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", cls.disk, "1M"], check=True)
        pool = {"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool", "metadata": {"name": "test-pool"},
                "spec": {"cidr": "10.77.0.0/24"}}
        cls.server.kubectl("apply", "-f", "-", input=json.dumps(pool), check=True)

    @classmethod
    def tearDownClass(cls):
        cls.cli.cleanup()
        cls.server.cleanup()
        subprocess.run(["rm", "-rf", cls.tmp])

    def kumo(self, *args, **kw):
        return self.cli.ok(self, *args, **kw)

    def fails(self, code, *args, **kw):
        return self.cli.fails(self, code, *args, **kw)

    def import_image(self, name):
        self.kumo("image", "import", self.disk, "--name", name, "--image-dir", self.image_dir)

    # --- flavors, nodes, help ------------------------------------------------------------------
    def test_flavors(self):
        out = self.kumo("flavor", "list").stdout
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "VCPUS", "MEMORY", "DESCRIPTION"])
        tiny = next(l for l in lines if l.startswith("k1.tiny "))
        self.assertEqual(tiny.split()[:3], ["k1.tiny", "1", "128Mi"])
        # Columns line up: every row starts its second column where the header does.
        col = lines[0].index("VCPUS")
        for l in lines[1:]:
            self.assertEqual(l[col - 3:col], "   ", l)
            self.assertNotEqual(l[col], " ", l)
        names = [f["metadata"]["name"] for f in json.loads(self.kumo("flavor", "list", "-o", "json").stdout)["items"]]
        self.assertIn("u1.small", names)
        self.assertIn("u1.small", self.kumo("flavor", "show", "u1.small").stdout)
        self.assertEqual(self.fails(1, "flavor", "show", "nope"),
                         "Error: flavor \"nope\" not found (NotFound); see 'kumo flavor list'")
        self.assertEqual(self.kumo("flavor", "list", "-o", "name").stdout.splitlines()[0].split("/")[0],
                         "virtualmachineclusterinstancetype.instancetype.kubevirt.io")

    def test_nodes_without_agents(self):
        r = self.kumo("node", "list")
        self.assertIn("No nodes yet", r.stderr)
        self.assertIn("node \"ghost\" not found (NotFound)", self.fails(1, "node", "show", "ghost"))

    def test_help_has_examples_for_every_command(self):
        commands = [[], ["vm"], ["vm", "create"], ["vm", "list"], ["vm", "show"], ["vm", "start"],
                    ["vm", "stop"], ["vm", "restart"], ["vm", "delete"], ["vm", "console"],
                    ["vm", "log"], ["vm", "ssh"], ["ip"], ["ip", "reserve"], ["ip", "list"],
                    ["ip", "release"], ["image"], ["image", "list"], ["image", "build"],
                    ["image", "import"], ["image", "delete"], ["flavor"], ["flavor", "list"],
                    ["flavor", "show"], ["node"], ["node", "list"], ["node", "show"], ["template"],
                    ["template", "list"], ["template", "show"], ["apply"], ["completion"]]
        for c in commands:
            r = self.cli.run(*c, "--help")
            self.assertEqual(r.returncode, 0, c)
            self.assertIn("Example", r.stdout, f"kumo {' '.join(c)} --help has no examples")

    def test_usage_errors_exit_2(self):
        self.assertIn("A subcommand is required", self.fails(2, "vm") + " ")
        self.fails(2, "vm", "create")  # no name
        self.fails(2, "vm", "create", "x", "--image", "tiny", "--run-strategy", "Sometimes")
        self.fails(2, "vm", "list", "-o", "xml")
        self.fails(2, "vm", "frobnicate", "x")
        self.assertIn("--image is required", self.fails(2, "vm", "create", "x"))
        self.assertIn("--node-selector wants KEY=VALUE", self.fails(2, "vm", "create", "x", "--image", "tiny",
                                                                   "--node-selector", "zone", "--dry-run"))
        script = os.path.join(self.tmp, "script.sh")
        key = os.path.join(self.tmp, "key.pub")
        with open(script, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        with open(key, "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample test@kumo\n")
        self.assertIn("a script", self.fails(2, "vm", "create", "x", "--image", "tiny", "--user-data", script,
                                             "--ssh-key", key, "--dry-run"))
        self.assertIn("either --count or --address", self.fails(2, "ip", "reserve", "r", "--count", "2",
                                                                "--address", "10.77.0.9"))

    def test_cannot_reach_server(self):
        bad = os.path.join(self.tmp, "bad-kubeconfig")
        with open(self.server.kubeconfig) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace(self.server.url, "https://127.0.0.1:1"))
        err = self.fails(1, "vm", "list", "--kubeconfig", bad)
        self.assertIn("127.0.0.1:1", err)
        self.assertIn("(ServiceUnavailable)", err)
        err = self.fails(1, "vm", "list", "--context", "nope")
        self.assertIn("nope", err)

    # --- images --------------------------------------------------------------------------------
    def test_image_import_list_delete(self):
        r = self.kumo("image", "import", self.disk, "--image-dir", self.image_dir)
        self.assertIn("image/small-disk imported", r.stdout)
        self.assertIn("Converting raw to qcow2", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.image_dir, "small-disk.qcow2")))
        table = self.kumo("image", "list").stdout
        row = next(l for l in table.splitlines() if l.startswith("small-disk "))
        self.assertEqual(row.split()[1:3], ["qcow2", "Ready"])
        img = json.loads(self.server.kubectl("get", "image", "small-disk", "-o", "json").stdout)
        self.assertEqual(img["status"]["phase"], "Ready")
        self.assertTrue(img["status"]["checksum"].startswith("sha256:"))
        self.assertEqual(img["spec"]["source"]["file"], self.disk)
        self.assertIn("image \"small-disk\" already exists (AlreadyExists)",
                      self.fails(1, "image", "import", self.disk, "--image-dir", self.image_dir))
        self.assertIn("no such file", self.fails(1, "image", "import", "/nonexistent/x.qcow2"))
        notdisk = os.path.join(self.tmp, "empty.qcow2")
        open(notdisk, "w").close()
        self.kumo("image", "delete", "small-disk", "--purge")
        self.assertFalse(os.path.exists(os.path.join(self.image_dir, "small-disk.qcow2")))
        self.assertEqual(self.fails(1, "image", "delete", "small-disk"),
                         "Error: image \"small-disk\" not found (NotFound); see 'kumo image list'")

    def test_image_import_from_url(self):
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=self.tmp)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{httpd.server_address[1]}/Small_Disk.raw"
            r = self.kumo("image", "import", url, "--name", "from-url", "--image-dir", self.image_dir)
            self.assertIn("image/from-url imported", r.stdout)
            img = json.loads(self.server.kubectl("get", "image", "from-url", "-o", "json").stdout)
            self.assertEqual(img["spec"]["source"]["url"], url)
            err = self.fails(1, "image", "import", url + ".missing", "--name", "missing",
                             "--image-dir", self.image_dir)
            self.assertIn("cannot download", err)
        finally:
            httpd.shutdown()
            httpd.server_close()
        self.kumo("image", "delete", "from-url", "--purge")

    # --- VMs that need no agent ---------------------------------------------------------------
    def test_vm_create_checks_image_flavor_and_ip(self):
        self.import_image("vmcheck")
        self.assertEqual(self.fails(1, "vm", "create", "a", "--image", "nope"),
                         "Error: image \"nope\" not found (NotFound); build it with 'kumo image build tiny' "
                         "or import it with 'kumo image import'")
        self.assertIn("flavor \"x9.huge\" not found (NotFound)",
                      self.fails(1, "vm", "create", "a", "--image", "vmcheck", "--flavor", "x9.huge"))
        err = self.fails(1, "vm", "create", "a", "--image", "vmcheck", "--ip", "no-such-reservation")
        self.assertIn("neither an IPv4 address nor an IP reservation in tenant \"default\"", err)
        self.assertIn("kumo ip reserve no-such-reservation", err)
        for verb in ("show", "start", "stop", "restart", "delete", "log", "console"):
            self.assertIn("VM \"ghost\" not found in tenant \"default\" (NotFound)",
                          self.fails(1, "vm", verb, "ghost"), verb)
        self.assertEqual(self.server.kubectl("get", "vm", "a").returncode, 1)  # nothing was created
        self.kumo("image", "delete", "vmcheck")

    def test_vm_lifecycle_without_running_it(self):
        self.import_image("halted-img")
        r = self.kumo("vm", "create", "h1", "--image", "halted-img", "--run-strategy", "Halted",
                      "--flavor", "u1.nano", "--no-ssh-key")
        self.assertEqual(r.stdout, "vm/h1 created (image halted-img, flavor u1.nano)\n")
        self.assertIn("already exists in tenant \"default\" (AlreadyExists)",
                      self.fails(1, "vm", "create", "h1", "--image", "halted-img"))
        table = self.kumo("vm", "list").stdout.splitlines()
        self.assertEqual(table[0].split(), ["NAME", "STATUS", "IP", "NODE", "FLAVOR", "IMAGE", "AGE"])
        row = next(l for l in table if l.startswith("h1 ")).split()
        self.assertEqual(row[2:6], ["<none>", "<none>", "u1.nano", "halted-img"])
        wide = self.kumo("vm", "list", "-o", "wide").stdout
        self.assertIn("Halted", wide)
        self.assertIn("virtualmachine.kubevirt.io/h1\n", self.kumo("vm", "list", "-o", "name").stdout)
        vm = json.loads(self.kumo("vm", "show", "h1", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["instancetype"]["name"], "u1.nano")
        shown = self.kumo("vm", "show", "h1").stdout
        self.assertIn("Flavor:", shown)
        self.assertIn("u1.nano (1 vCPU, 512Mi)", shown)
        # The image cannot go while a VM uses it.
        self.assertIn("image \"halted-img\" is used by VM default/h1 (Conflict)",
                      self.fails(1, "image", "delete", "halted-img"))
        # Every tenant at once.
        self.server.kubectl("create", "namespace", "other")
        self.kumo("vm", "create", "h2", "-n", "other", "--image", "halted-img", "--run-strategy", "Halted")
        all_rows = self.kumo("vm", "list", "-A").stdout.splitlines()
        self.assertEqual(all_rows[0].split()[0], "TENANT")
        self.assertTrue(any(l.split()[:2] == ["other", "h2"] for l in all_rows), all_rows)
        self.assertNotIn("h2", self.kumo("vm", "list").stdout)
        # Stopping a halted VM is an error the user can read.
        self.assertIn("cannot stop VM \"h1\"", self.fails(1, "vm", "stop", "h1"))
        self.kumo("vm", "delete", "h1", "--wait")
        self.kumo("vm", "delete", "h2", "-n", "other")
        self.assertIn("VM \"h1\" not found", self.fails(1, "vm", "delete", "h1"))
        self.kumo("image", "delete", "halted-img")

    def test_context_namespace_is_the_default_tenant(self):
        kc = os.path.join(self.tmp, "team-kubeconfig")
        with open(self.server.kubeconfig) as f, open(kc, "w") as out:
            out.write(f.read())
        self.server.kubectl("create", "namespace", "team-a")
        subprocess.run([KUBECTL, "--kubeconfig", kc, "config", "set-context", "--current",
                        "--namespace", "team-a"], check=True, capture_output=True)
        self.import_image("ctx-img")
        self.kumo("vm", "create", "ctx", "--image", "ctx-img", "--run-strategy", "Halted", env={"KUBECONFIG": kc})
        self.assertEqual(self.server.kubectl("get", "vm", "ctx", "-n", "team-a").returncode, 0)
        self.assertIn("ctx", self.kumo("vm", "list", "--kubeconfig", kc).stdout)
        self.assertNotIn("ctx", self.kumo("vm", "list", "--kubeconfig", kc, "-n", "default").stdout)
        self.kumo("vm", "delete", "ctx", "--tenant", "team-a")
        self.kumo("image", "delete", "ctx-img")

    # --- IP reservations ----------------------------------------------------------------------
    def reservation(self, name):
        r = self.server.kubectl("get", "ipreservation", name, "-n", NS, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else {}

    def test_ip_reserve_list_release(self):
        r = self.kumo("ip", "reserve", "web-ips", "--count", "2", "--pool", "test-pool")
        self.assertRegex(r.stdout, r"^ipreservation/web-ips reserved 10\.77\.0\.\d+,10\.77\.0\.\d+\n$")
        self.assertEqual(self.reservation("web-ips")["spec"], {"count": 2, "pool": "test-pool"})
        self.assertIn("IP reservation \"web-ips\" already exists in tenant \"default\" (AlreadyExists)",
                      self.fails(1, "ip", "reserve", "web-ips"))
        self.assertIn("is not an IPv4 address", self.fails(2, "ip", "reserve", "bad", "--address", "10.77.0"))
        err = self.fails(1, "ip", "reserve", "outside", "--address", "192.168.50.5")
        self.assertIn("cannot reserve \"outside\"", err)
        self.assertIn("192.168.50.5", err)
        self.assertEqual(self.kumo("ip", "reserve", "db-ip", "--address", "10.77.0.50").stdout,
                         "ipreservation/db-ip reserved 10.77.0.50\n")
        err = self.fails(1, "ip", "reserve", "db-ip-2", "--address", "10.77.0.50")
        self.assertIn("10.77.0.50", err)
        self.assertIn("(Conflict)", err)
        listed = self.kumo("ip", "list").stdout
        self.assertIn("web-ips", listed)
        # A VM takes the reserved address (the IPAM controller records it in the reservation).
        self.import_image("ip-img")
        self.kumo("vm", "create", "db1", "--image", "ip-img", "--ip", "db-ip")
        wait_for(lambda: self.reservation("db-ip").get("status", {}).get("addresses") ==
                 [{"address": "10.77.0.50", "vm": "db1"}], 30, what="db-ip used by db1")
        row = next(l for l in self.kumo("ip", "list").stdout.splitlines() if l.startswith("db-ip "))
        self.assertEqual(row.split()[1:4], ["10.77.0.50", "db1", "test-pool"])
        self.assertIn("reservation db-ip", self.kumo("vm", "list", "-o", "wide").stdout)
        err = self.fails(1, "vm", "create", "db2", "--image", "ip-img", "--ip", "db-ip")
        self.assertIn("IP reservation \"db-ip\" has no free address: 10.77.0.50 by VM \"db1\"", err)
        err = self.fails(1, "vm", "create", "db2", "--image", "ip-img", "--ip", "10.77.0.50")
        self.assertIn("address 10.77.0.50 (reservation db-ip) is already used by VM \"db1\" (Conflict)", err)
        err = self.fails(1, "ip", "release", "db-ip")
        self.assertIn("IP reservation \"db-ip\" (10.77.0.50) is in use by VM db1 (Conflict)", err)
        # The reservation outlives the VM.
        self.kumo("vm", "delete", "db1", "--wait")
        wait_for(lambda: self.reservation("db-ip").get("status", {}).get("addresses") ==
                 [{"address": "10.77.0.50", "vm": ""}], 30, what="10.77.0.50 back in db-ip")
        self.assertEqual(self.kumo("ip", "release", "db-ip").stdout, "ipreservation/db-ip released (10.77.0.50)\n")
        self.kumo("ip", "release", "web-ips")
        self.assertIn("IP reservation \"web-ips\" not found in tenant \"default\" (NotFound)",
                      self.fails(1, "ip", "release", "web-ips"))
        self.kumo("image", "delete", "ip-img")

    # --- dry run, templates, apply ------------------------------------------------------------
    def dry_run(self, *extra, fmt="json"):
        r = self.kumo("vm", "create", "web1", "--image", "tiny", "--dry-run", "-o", fmt, *extra)
        return r.stdout

    def test_volumes(self):
        classes = self.kumo("volume", "classes").stdout
        self.assertRegex(classes, r"local\s+yes\s+local \(the VM stays on the volume's node\)")
        self.assertEqual(self.kumo("volume", "create", "vdata", "--size", "32Mi").stdout,
                         "volume/vdata created (32Mi, class local, from blank)\n")
        self.assertIn("already exists", self.fails(1, "volume", "create", "vdata", "--size", "1Gi"))
        self.assertIn("--size", self.fails(2, "volume", "create", "nosize"))
        self.assertIn("give one of --image, --from and --snapshot",
                      self.fails(2, "volume", "create", "two", "--size", "1Gi", "--image", "a",
                                 "--from", "vdata"))
        self.assertIn("not found", self.fails(1, "volume", "create", "ghost-copy", "--size", "1Gi",
                                              "--from", "ghost"))
        self.assertIn("cannot shrink", self.fails(1, "volume", "resize", "vdata", "--size", "16Mi"))
        self.assertIn("resized to 64Mi", self.kumo("volume", "resize", "vdata", "--size", "64Mi").stdout)
        wait_for(lambda: "64Mi" in next(l for l in self.kumo("volume", "list").stdout.splitlines()
                                        if l.startswith("vdata ")) and
                 "growing" not in self.kumo("volume", "list").stdout, 30, what="vdata grown")
        # A VM that boots from a persistent volume and attaches vdata; its manifest is KubeVirt's.
        self.import_image("vol-img")
        out = self.kumo("vm", "create", "vvm", "--image", "vol-img", "--volume-size", "2Gi",
                        "--volume", "vdata", "--run-strategy", "Halted")
        self.assertIn("Root disk: persistent volume vvm-root (2Gi, class default; deleted with the VM)",
                      out.stderr)
        vm = json.loads(self.server.kubectl("get", "vm", "vvm", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"],
                         {"registry": {"url": "docker://vol-img"}})
        self.assertIn({"name": "vol-vdata", "persistentVolumeClaim": {"claimName": "vdata"}},
                      vm["spec"]["template"]["spec"]["volumes"])
        self.assertIn("Root disk:     persistent volume vvm-root", self.kumo("vm", "show", "vvm").stdout)
        wait_for(lambda: "vvm-root" in self.kumo("volume", "list").stdout, 30, what="vvm-root")
        self.assertIn("Root disk: ephemeral", self.kumo("vm", "create", "evm", "--image", "vol-img",
                                                        "--run-strategy", "Halted").stderr)
        # Snapshots of an idle volume nobody wrote are empty and ready at once.
        self.assertIn("volumesnapshot/vsnap created", self.kumo("volume", "snapshot", "vdata", "--name", "vsnap").stdout)
        wait_for(lambda: re.search(r"vsnap\s+vdata\s+yes", self.kumo("volume", "snapshots").stdout), 30,
                 what="vsnap ready")
        self.kumo("volume", "create", "vback", "--size", "64Mi", "--snapshot", "vsnap")
        self.assertIn("snapshot vsnap", self.kumo("volume", "list").stdout)
        self.kumo("volume", "delete-snapshot", "vsnap")
        # vback has not been filled from it yet (no VM ran on it): the snapshot waits for it.
        time.sleep(1)
        self.assertEqual(self.server.kubectl("get", "vs", "vsnap").returncode, 0)
        # Deleting the VM takes its root volume, not the one it only named.
        self.kumo("vm", "delete", "vvm")
        wait_for(lambda: "vvm-root" not in self.kumo("volume", "list").stdout, 60, what="vvm-root deleted")
        self.assertIn("vdata", self.kumo("volume", "list").stdout)
        self.assertIn("volume/vdata deleted", self.kumo("volume", "delete", "vdata", "vback").stdout)
        wait_for(lambda: self.server.kubectl("get", "vs", "vsnap").returncode != 0, 30,
                 what="vsnap gone once nothing restores from it")
        self.kumo("vm", "delete", "evm")

    def test_dry_run_manifest_matches_the_kubevirt_schema(self):
        user_data = os.path.join(self.tmp, "user-data")
        with open(user_data, "w") as f:
            f.write("#cloud-config\npackages: [nginx]\n")
        key = os.path.join(self.tmp, "id.pub")
        with open(key, "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample test@kumo\n")
        variants = [
            (),
            ("--ip", "10.77.0.5", "--user-data", user_data, "--ssh-key", key, "--node-selector", "zone=a",
             "--run-strategy", "RerunOnFailure", "--flavor", "u1.small"),
            ("--ip", "web-ips", "--template", "tiny-web"),
        ]
        code, openapi = self.server.request("GET", "/openapi/v3/apis/kubevirt.io/v1")
        self.assertEqual(code, 200)
        vm_schema = schema_for_kind(openapi, "kubevirt.io", "v1", "VirtualMachine")
        used = set()
        for extra in variants:
            vm = json.loads(self.dry_run(*extra))
            problems = strict_errors(openapi, vm_schema, vm)
            self.assertEqual(problems, [], f"{extra}: {json.dumps(vm, indent=1)}")
            used.update(leaf_paths(vm))
            yaml_text = self.dry_run(*extra, fmt="yaml")
            parsed = load_yaml_or_none(yaml_text)
            if parsed is not None:
                self.assertEqual(parsed, vm, yaml_text)
        # Only standard KubeVirt fields (names as in KubeVirt's v1 API types).
        allowed = {
            "apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels.kumo.io/template",
            "spec.runStrategy", "spec.instancetype.kind", "spec.instancetype.name",
            "spec.template.metadata.labels.kubevirt.io/vm",
            "spec.template.metadata.annotations.cni.projectcalico.org/ipAddrs",
            "spec.template.metadata.annotations.kumo.io/ip-reservation",
            "spec.template.spec.domain.devices.disks[].name", "spec.template.spec.domain.devices.disks[].disk.bus",
            "spec.template.spec.domain.devices.interfaces[].name",
            "spec.template.spec.domain.devices.interfaces[].bridge",
            "spec.template.spec.networks[].name", "spec.template.spec.networks[].pod",
            "spec.template.spec.volumes[].name", "spec.template.spec.volumes[].containerDisk.image",
            "spec.template.spec.volumes[].cloudInitNoCloud.userData",
            "spec.template.spec.nodeSelector.zone",
        }
        self.assertEqual(used - allowed, set())
        vm = json.loads(self.dry_run("--ip", "10.77.0.5"))
        self.assertEqual(vm["spec"]["template"]["metadata"]["annotations"],
                         {"cni.projectcalico.org/ipAddrs": "[\"10.77.0.5\"]"})
        self.assertNotIn("namespace", vm["metadata"])
        self.assertEqual(json.loads(self.dry_run("-n", "team-x"))["metadata"]["namespace"], "team-x")
        yaml_text = self.dry_run("--ip", "10.77.0.5", fmt="yaml")
        self.assertIn("cni.projectcalico.org/ipAddrs: '[\"10.77.0.5\"]'", yaml_text)
        # The manifest is accepted by kubectl's strict validation against the served schema
        # (kubectl before 1.25 knows only --validate=true: client-side, against /openapi/v2).
        strict = "--validate=strict" if kubectl_minor() >= 25 else "--validate=true"
        r = self.server.kubectl("apply", "--dry-run=server", strict, "-f", "-", input=yaml_text)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Without -o a dry run prints YAML.
        plain = self.kumo("vm", "create", "web1", "--image", "tiny", "--dry-run").stdout
        self.assertTrue(plain.startswith("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"), plain)

    def test_templates(self):
        table = self.kumo("template", "list").stdout
        for name in ("tiny", "tiny-web", "small-linux"):
            self.assertIn(name, table)
        shown = self.kumo("template", "show", "tiny-web").stdout
        self.assertIn("userData: |", shown)
        tdir = os.path.join(self.cli.home, ".kumo", "templates")
        os.makedirs(tdir, exist_ok=True)
        # What `template show` prints is a template file: saved under a new name, it is that template.
        with open(os.path.join(tdir, "my-copy.yaml"), "w") as f:
            f.write(shown)
        vm = json.loads(self.kumo("vm", "create", "c", "--template", "my-copy", "--dry-run", "-o", "json").stdout)
        self.assertEqual(vm["metadata"]["labels"], {"kumo.io/template": "my-copy"})
        self.assertIn("tiny-web: serving", vm["spec"]["template"]["spec"]["volumes"][1]["cloudInitNoCloud"]["userData"])
        with open(os.path.join(tdir, "my-web.yaml"), "w") as f:
            f.write("description: my web\nimage: tiny\nflavor: u1.micro\nnodeSelector: {disk: ssd}\n"
                    "userData: |\n  #!/bin/sh\n  echo mine\n")
        self.assertIn("my-web", self.kumo("template", "list").stdout)
        vm = json.loads(self.kumo("vm", "create", "t1", "--template", "my-web", "--dry-run", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["instancetype"]["name"], "u1.micro")
        self.assertEqual(vm["spec"]["template"]["spec"]["nodeSelector"], {"disk": "ssd"})
        self.assertEqual(vm["spec"]["template"]["spec"]["volumes"][1]["cloudInitNoCloud"]["userData"],
                         "#!/bin/sh\necho mine\n")
        self.assertEqual(vm["metadata"]["labels"], {"kumo.io/template": "my-web"})
        # Flags win over the template.
        vm = json.loads(self.kumo("vm", "create", "t1", "--template", "my-web", "--flavor", "u1.large",
                                  "--dry-run", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["instancetype"]["name"], "u1.large")
        # A template file given by path.
        path = os.path.join(self.tmp, "file-template.yaml")
        with open(path, "w") as f:
            f.write("image: tiny\nrunStrategy: Manual\n")
        vm = json.loads(self.kumo("vm", "create", "t2", "--template", path, "--dry-run", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["runStrategy"], "Manual")
        self.assertIn("template \"nope\" not found", self.fails(1, "vm", "create", "t3", "--template", "nope"))
        with open(os.path.join(tdir, "broken.yaml"), "w") as f:
            f.write("image: tiny\nflavour: typo\n")
        r = self.kumo("template", "list")
        self.assertIn("unknown key \"flavour\"", r.stderr)

    def test_default_ssh_key_for_cloud_images(self):
        ssh_dir = os.path.join(self.cli.home, ".ssh")
        os.makedirs(ssh_dir, exist_ok=True)
        with open(os.path.join(ssh_dir, "id_ed25519.pub"), "w") as f:
            f.write("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMine me@laptop\n")
        vm = json.loads(self.kumo("vm", "create", "c1", "--image", "debian-12", "--dry-run", "-o", "json").stdout)
        ud = vm["spec"]["template"]["spec"]["volumes"][1]["cloudInitNoCloud"]["userData"]
        self.assertEqual(ud, "#cloud-config\nssh_authorized_keys:\n  - \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMine me@laptop\"\n")
        self.assertEqual(vm["spec"]["instancetype"]["name"], "u1.small")
        vm = json.loads(self.kumo("vm", "create", "c1", "--image", "debian-12", "--no-ssh-key", "--dry-run",
                                  "-o", "json").stdout)
        self.assertEqual(len(vm["spec"]["template"]["spec"]["volumes"]), 1)
        os.unlink(os.path.join(ssh_dir, "id_ed25519.pub"))

    def test_apply_creates_updates_and_leaves_alone(self):
        manifest = self.kumo("vm", "create", "applied", "--image", "tiny", "--run-strategy", "Halted",
                             "--dry-run").stdout
        reservation = "apiVersion: kumo.io/v1alpha1\nkind: IPReservation\nmetadata:\n  name: applied-ip\n" \
                      "spec:\n  count: 1\n  pool: test-pool\n"
        stream = manifest + "---\n" + reservation
        out = self.kumo("apply", "-f", "-", input=stream).stdout
        self.assertEqual(out, "virtualmachine.kubevirt.io/applied created\n"
                              "ipreservation.kumo.io/applied-ip created\n")
        out = self.kumo("apply", "-f", "-", input=stream).stdout
        self.assertEqual(out, "virtualmachine.kubevirt.io/applied unchanged\n"
                              "ipreservation.kumo.io/applied-ip unchanged\n")
        changed = manifest.replace("runStrategy: Halted", "runStrategy: Manual")
        path = os.path.join(self.tmp, "applied.yaml")
        with open(path, "w") as f:
            f.write(changed)
        self.assertEqual(self.kumo("apply", "-f", path).stdout, "virtualmachine.kubevirt.io/applied configured\n")
        vm = json.loads(self.server.kubectl("get", "vm", "applied", "-o", "json").stdout)
        self.assertEqual(vm["spec"]["runStrategy"], "Manual")
        # kubectl apply takes over from the same last-applied annotation.
        r = self.server.kubectl("apply", "-f", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("unchanged", r.stdout)
        bad = "apiVersion: kumo.io/v1alpha1\nkind: Gizmo\nmetadata:\n  name: g\n"
        err = self.fails(1, "apply", "-f", "-", input=bad)
        self.assertIn("does not serve kind Gizmo", err)
        pinned = os.path.join(self.tmp, "pinned.yaml")
        with open(pinned, "w") as f:
            f.write(changed.replace("metadata:\n", "metadata:\n  namespace: default\n", 1))
        self.assertIn("is for tenant \"default\", not \"elsewhere\"",
                      self.fails(2, "apply", "-f", pinned, "-n", "elsewhere"))
        self.kumo("vm", "delete", "applied")
        self.kumo("ip", "release", "applied-ip")

    # --- completion ---------------------------------------------------------------------------
    def complete(self, *words):
        script = self.kumo("completion", "bash").stdout
        path = os.path.join(self.tmp, "kumo-completion.bash")
        with open(path, "w") as f:
            f.write(script)
        kumo = KUMO
        words_literal = " ".join("'" + w + "'" for w in words)
        cmd = (f"source {path}; kumo() {{ {kumo} \"$@\"; }}; COMP_WORDS=({words_literal}); "
               f"COMP_CWORD={len(words) - 1}; _kumo; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=self.cli.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def test_completion(self):
        self.assertIn("create", self.complete("kumo", "vm", "cr"))
        self.assertEqual(self.complete("kumo", "fla"), ["flavor"])
        self.assertIn("--image", self.complete("kumo", "vm", "create", "x", "--im"))
        self.assertIn("--tenant", self.complete("kumo", "vm", "list", "--te"))
        self.assertIn("u1.small", self.complete("kumo", "vm", "create", "x", "--flavor", "u1.s"))
        self.assertIn("tiny-web", self.complete("kumo", "vm", "create", "x", "--template", "tiny-"))
        self.import_image("comp-img")
        self.kumo("vm", "create", "comp-vm", "--image", "comp-img", "--run-strategy", "Halted")
        self.assertEqual(self.complete("kumo", "vm", "show", "comp-"), ["comp-vm"])
        self.kumo("vm", "delete", "comp-vm")
        self.kumo("image", "delete", "comp-img")
        zsh = self.kumo("completion", "zsh").stdout
        self.assertTrue(zsh.startswith("#compdef kumo\n"))
        self.assertIn("bashcompinit", zsh)


if __name__ == "__main__":
    unittest.main()
