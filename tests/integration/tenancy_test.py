"""Multi-tenancy against a real `kumo server`, driven by the real kubectl with each user's own
kubeconfig (issued by `kumo tenant add-user`).

Tenants: "a" (created with the CLI; alice member, vera viewer), "b" (created with kubectl apply;
bob admin, dedicated nodes through a nodeSelector) and "q" (tight quota; quinn member). The
isolation checks are modelled on the behavioural checks of the Kubernetes multi-tenancy
benchmark that apply to Kumo, one named test each (test_mtb_*)."""
import concurrent.futures
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from kumo_harness import (KUBECTL, KUMO, KumoServer, kubeconfig_request, patch_status,
                           vm_manifest, wait_for)

TENANT_B = """
apiVersion: kumo.io/v1alpha1
kind: Tenant
metadata:
  name: b
spec:
  quota:
    vms: 5
  nodeSelector:
    node-restriction.kumo.io/pool: b-nodes
  apiShare: 2
"""


class TenancyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.dir = tempfile.mkdtemp(prefix="kumo-tenancy-", dir=cls.server.data_dir)
        cls.kc = {}
        cls.tokens = {}
        cls.kumo("tenant", "create", "a", "--quota-vcpus", "8", "--quota-vms", "6")
        cls.admin_apply(TENANT_B)
        cls.kumo("tenant", "create", "q", "--quota-vcpus", "4", "--quota-memory", "1Gi",
                 "--quota-vms", "3", "--quota-ips", "3")
        wait_for(lambda: cls.server.kubectl("get", "ns", "b").returncode == 0, timeout=30,
                 what="tenant b's namespace")
        for tenant, user, role in [("a", "alice", "member"), ("a", "vera", "viewer"),
                                   ("b", "bob", "admin"), ("q", "quinn", "member")]:
            path = os.path.join(cls.dir, user + ".kubeconfig")
            out = cls.kumo("tenant", "add-user", tenant, user, "--role", role,
                           "--kubeconfig-out", path)
            assert f'"{user}"' in out, out
            cls.kc[user] = path
        # An address pool every tenant may use, for reservations.
        cls.admin_apply(json.dumps({"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool",
                                    "metadata": {"name": "shared"},
                                    "spec": {"cidr": "10.77.0.0/24"}}))
        # Tenant b's own objects, made by b's admin.
        cls.as_user("bob", "apply", "-f", "-", input=json.dumps(vm_manifest("b-vm", "b")), ok=True)
        cls.as_user("bob", "create", "secret", "generic", "b-secret", "--from-literal=k=v", ok=True)
        cls.as_user("bob", "apply", "-f", "-", ok=True, input=json.dumps(
            {"apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
             "metadata": {"name": "b-ips", "namespace": "b"}, "spec": {"count": 1}}))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    # --- helpers -------------------------------------------------------------------------------
    @classmethod
    def kumo(cls, *args, ok=True):
        r = subprocess.run([KUMO, "--kubeconfig", cls.server.kubeconfig] + list(args),
                           capture_output=True, text=True, timeout=60)
        if ok:
            assert r.returncode == 0, f"kumo {' '.join(args)} failed:\n{r.stdout}{r.stderr}"
        return r.stdout + r.stderr

    @classmethod
    def admin_apply(cls, text):
        r = cls.server.kubectl("apply", "-f", "-", input=text)
        assert r.returncode == 0, r.stderr

    @classmethod
    def as_user(cls, user, *args, input=None, ok=None, server=None):
        cmd = [KUBECTL, "--kubeconfig", cls.kc[user], "--cache-dir", cls.server.cache_dir + "-" + user]
        if server:
            cmd += ["--server", server]
        r = subprocess.run(cmd + list(args), input=input, capture_output=True, text=True, timeout=60)
        if ok is True:
            assert r.returncode == 0, f"kubectl as {user} {' '.join(args)} failed:\n{r.stderr}"
        return r

    def assertForbidden(self, r, fragment=""):
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("forbidden", r.stderr.lower())
        if fragment:
            self.assertIn(fragment, r.stderr)

    def token_of(self, user):
        if user in self.tokens:
            return self.tokens[user]
        out = subprocess.run([KUBECTL, "--kubeconfig", self.kc[user], "config", "view", "--raw",
                              "-o", "jsonpath={.users[0].user.token}"],
                             capture_output=True, text=True, check=True).stdout
        self.tokens[user] = out.strip()
        return self.tokens[user]

    def raw(self, user, method, path, body=None, content_type="application/json"):
        """(code, headers, parsed body) of a request with `user`'s token."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token_of(user))
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.server.ssl_context(), timeout=30) as resp:
                code, headers, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            code, headers, raw = e.code, dict(e.headers), e.read()
        try:
            return code, headers, json.loads(raw)
        except ValueError:
            return code, headers, raw.decode(errors="replace")

    def admin_get(self, *args):
        r = self.server.kubectl("get", *args, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    # --- multi-tenancy benchmark behavioural checks --------------------------------------------
    def test_mtb_block_access_to_cluster_resources(self):
        for args in (["get", "nodes"], ["get", "namespaces"], ["get", "ippools"],
                     ["get", "ipallocations"], ["get", "tenants"], ["get", "tenant", "b"],
                     ["get", "namespace", "b"], ["get", "bgppeers"]):
            self.assertForbidden(self.as_user("alice", *args), "alice")
        r = self.as_user("alice", "get", "nodes")
        self.assertIn('nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" '
                      'at the cluster scope', r.stderr)
        r = self.as_user("alice", "create", "namespace", "sneaky")
        self.assertForbidden(r)
        r = self.as_user("alice", "apply", "-f", "-", input=json.dumps(
            {"apiVersion": "kumo.io/v1alpha1", "kind": "Image", "metadata": {"name": "evil"},
             "spec": {"format": "raw", "source": {"builtin": "tiny"}}}))
        self.assertForbidden(r)
        # The catalog is readable: flavors and images.
        r = self.as_user("alice", "get", "virtualmachineclusterinstancetypes", ok=True)
        self.assertIn("u1.small", r.stdout)
        self.as_user("alice", "get", "images", ok=True)
        self.assertForbidden(self.as_user("alice", "delete", "vmcis", "u1.small"))

    def test_mtb_block_access_to_other_tenant_resources(self):
        for kind, name in (("vm", "b-vm"), ("secret", "b-secret"), ("ipreservation", "b-ips")):
            r = self.as_user("alice", "get", kind + "s" if kind != "vm" else "vms", "-n", "b")
            self.assertForbidden(r, 'User "alice" cannot list resource')
            self.assertIn('in the namespace "b"', r.stderr)
            self.assertForbidden(self.as_user("alice", "get", kind, name, "-n", "b"))
            self.assertForbidden(self.as_user("alice", "delete", kind, name, "-n", "b"))
            self.assertForbidden(self.as_user("alice", "label", kind, name, "-n", "b", "x=y"))
            self.assertForbidden(self.as_user("alice", "patch", kind, name, "-n", "b", "--type",
                                              "merge", "-p", '{"metadata":{"labels":{"x":"y"}}}'))
        r = self.as_user("alice", "get", "vms", "-n", "b")
        self.assertIn('virtualmachines.kubevirt.io is forbidden: User "alice" cannot list resource '
                      '"virtualmachines" in API group "kubevirt.io" in the namespace "b"', r.stderr)
        # Nothing of b's changed.
        self.assertIsNotNone(self.admin_get("vm", "b-vm", "-n", "b"))
        self.assertIsNotNone(self.admin_get("secret", "b-secret", "-n", "b"))
        self.assertIsNotNone(self.admin_get("ipreservation", "b-ips", "-n", "b"))
        self.assertNotIn("x", (self.admin_get("vm", "b-vm", "-n", "b")["metadata"].get("labels") or {}))

    def test_mtb_block_creating_in_other_tenant_namespace(self):
        r = self.as_user("alice", "apply", "-f", "-", input=json.dumps(vm_manifest("intruder", "b")))
        self.assertForbidden(r)
        r = self.as_user("alice", "create", "-f", "-", input=json.dumps(vm_manifest("intruder", "b")))
        self.assertForbidden(r, 'cannot create resource "virtualmachines"')
        self.assertIsNone(self.admin_get("vm", "intruder", "-n", "b"))
        self.assertForbidden(self.as_user("alice", "create", "secret", "generic", "s", "-n", "b",
                                          "--from-literal=a=b"))
        # Starting or stopping another tenant's VM is an update of it.
        code, _, body = self.raw("alice", "PUT",
                                 "/apis/subresources.kubevirt.io/v1/namespaces/b/virtualmachines/b-vm/start")
        self.assertEqual(code, 403, body)
        self.assertIn('cannot update resource "virtualmachines/start"', body["message"])

    def test_mtb_block_listing_across_namespaces(self):
        for kind in ("vms", "secrets", "events", "ipreservations", "vmis"):
            self.assertForbidden(self.as_user("alice", "get", kind, "-A"), "at the cluster scope")
        code, _, _ = self.raw("alice", "GET", "/apis/kubevirt.io/v1/virtualmachines?watch=true")
        self.assertEqual(code, 403)

    def test_mtb_block_access_to_other_tenant_events_and_system_namespaces(self):
        self.assertForbidden(self.as_user("alice", "get", "events", "-n", "b"))
        for ns in ("default", "kube-system", "kumo-system", "kube-node-lease"):
            self.assertForbidden(self.as_user("alice", "get", "secrets", "-n", ns))
        # Nobody can read the server's token records.
        self.assertForbidden(self.as_user("bob", "get", "secrets", "-n", "kumo-system"))

    def test_mtb_block_modification_of_resource_quotas(self):
        r = self.as_user("alice", "get", "tenant", "a", "-o", "json", ok=True)
        self.assertEqual(json.loads(r.stdout)["spec"]["quota"]["vms"], 6)
        r = self.as_user("alice", "patch", "tenant", "a", "--type", "merge", "-p",
                         '{"spec":{"quota":{"vms":1000}}}')
        self.assertForbidden(r, "read-only")
        tenant = json.loads(self.as_user("alice", "get", "tenant", "a", "-o", "json", ok=True).stdout)
        tenant["spec"]["quota"]["vcpus"] = 1000
        r = self.as_user("alice", "replace", "-f", "-", input=json.dumps(tenant))
        self.assertForbidden(r)
        self.assertForbidden(patch_status(self.kc["alice"], "/apis/kumo.io/v1alpha1/tenants/a",
                                          '{"status":{"usage":{"vms":0}}}'))
        self.assertForbidden(self.as_user("bob", "delete", "tenant", "b"))  # even b's admin
        self.assertForbidden(self.as_user("bob", "delete", "namespace", "b"))
        self.assertForbidden(self.as_user("bob", "patch", "tenant", "b", "--type", "merge", "-p",
                                          '{"spec":{"members":[{"user":"mallory","role":"admin"}]}}'))
        self.assertEqual(self.admin_get("tenant", "a")["spec"]["quota"]["vms"], 6)
        self.assertIsNotNone(self.admin_get("tenant", "b"))

    def test_mtb_block_node_selector_escape(self):
        vm = vm_manifest("escape", "b")
        vm["spec"]["template"]["spec"]["nodeSelector"] = {"node-restriction.kumo.io/pool": "a-nodes"}
        r = self.as_user("bob", "create", "-f", "-", input=json.dumps(vm))
        self.assertForbidden(r, "conflicts with the node selector of tenant \"b\"")
        vm = vm_manifest("escape", "b")
        vm["spec"]["template"]["spec"]["tolerations"] = [{"operator": "Exists"}]
        self.assertForbidden(self.as_user("bob", "create", "-f", "-", input=json.dumps(vm)))
        vm["spec"]["template"]["spec"]["tolerations"] = [
            {"key": "kumo.io/dedicated", "operator": "Equal", "value": "a", "effect": "NoSchedule"}]
        self.assertForbidden(self.as_user("bob", "create", "-f", "-", input=json.dumps(vm)))
        self.assertIsNone(self.admin_get("vm", "escape", "-n", "b"))
        # A VM without a selector gets the tenant's, and can't shed it later.
        got = self.admin_get("vm", "b-vm", "-n", "b")
        self.assertEqual(got["spec"]["template"]["spec"]["nodeSelector"], {"node-restriction.kumo.io/pool": "b-nodes"})
        r = self.as_user("bob", "patch", "vm", "b-vm", "--type", "json", "-p",
                         '[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]', ok=True)
        got = self.admin_get("vm", "b-vm", "-n", "b")
        self.assertEqual(got["spec"]["template"]["spec"]["nodeSelector"], {"node-restriction.kumo.io/pool": "b-nodes"})

    def test_mtb_block_status_writes(self):
        self.as_user("alice", "apply", "-f", "-", input=json.dumps(vm_manifest("st", "a")), ok=True)
        r = patch_status(self.kc["alice"], "/apis/kubevirt.io/v1/namespaces/a/virtualmachines/st",
                         '{"status":{"printableStatus":"Running"}}')
        self.assertForbidden(r, "controllers")

    # --- roles and self-service ----------------------------------------------------------------
    def test_member_works_in_own_namespace(self):
        r = self.as_user("alice", "apply", "-f", "-", input=json.dumps(vm_manifest("web", "a")), ok=True)
        self.assertIn("virtualmachine.kubevirt.io/web created", r.stdout)
        r = self.as_user("alice", "get", "vms", ok=True)  # the kubeconfig's namespace is "a"
        self.assertIn("web", r.stdout)
        self.assertNotIn("b-vm", r.stdout)
        self.as_user("alice", "create", "secret", "generic", "ssh", "--from-literal=key=x", ok=True)
        self.as_user("alice", "get", "secret", "ssh", ok=True)
        code, headers, body = self.raw("alice", "PUT",
                                       "/apis/subresources.kubevirt.io/v1/namespaces/a/virtualmachines/web/start")
        self.assertIn(code, (200, 202), body)
        self.as_user("alice", "delete", "secret", "ssh", ok=True)
        self.as_user("alice", "get", "events", ok=True)
        self.assertForbidden(self.as_user("alice", "create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "a"},
             "involvedObject": {"kind": "VirtualMachine", "name": "web", "namespace": "a"},
             "reason": "Test", "message": "members do not write events", "type": "Normal"})))

    def test_viewer_is_read_only(self):
        self.as_user("vera", "get", "vms", ok=True)
        self.assertForbidden(self.as_user("vera", "apply", "-f", "-",
                                          input=json.dumps(vm_manifest("vera-vm", "a"))))
        self.assertForbidden(self.as_user("vera", "get", "secrets"))
        self.assertForbidden(self.as_user("vera", "delete", "vm", "st", "--wait=false"))

    def test_auth_can_i_list_shows_each_roles_rules(self):
        def rules(user, *args):
            r = self.as_user(user, "auth", "can-i", "--list", *args, ok=True)
            return {line.split()[0]: line for line in r.stdout.splitlines()[1:] if line and not line[0].isspace()}
        vera, alice = rules("vera"), rules("alice")
        self.assertIn("[get list watch]", vera["virtualmachines.kubevirt.io"])
        self.assertNotIn("create", vera["virtualmachines.kubevirt.io"])
        self.assertNotIn("secrets", vera)
        self.assertIn("create", alice["virtualmachines.kubevirt.io"])
        self.assertIn("delete", alice["secrets"])
        self.assertIn("[a]", alice["tenants.kumo.io"])
        # Another tenant's namespace: only the public catalog.
        other = rules("alice", "-n", "b")
        self.assertNotIn("virtualmachines.kubevirt.io", other)
        self.assertIn("images.kumo.io", other)

    def test_consoles_are_for_members_of_the_vms_tenant(self):
        path = "/apis/subresources.kubevirt.io/v1/namespaces/{}/virtualmachineinstances/{}/console"
        # A viewer may read VMs but not type into them (as KubeVirt's view role).
        code, _, body = self.raw("vera", "GET", path.format("a", "web"))
        self.assertEqual(code, 403, body)
        self.assertIn("virtualmachineinstances/console", body["message"])
        # Another tenant's VM console is forbidden, not just missing.
        code, _, body = self.raw("alice", "GET", path.format("b", "b-vm"))
        self.assertEqual(code, 403, body)
        # A member gets past authorization: no instance is running, which the Status says.
        code, _, body = self.raw("alice", "GET", path.format("a", "nothing-here").replace("/console", "/consolelog"))
        self.assertEqual(code, 404, body)
        self.assertIn('"nothing-here" not found', body["message"])
        # The review RBAC-aware clients send before offering a console.
        for user, allowed in (("vera", False), ("alice", True)):
            code, _, review = self.raw(user, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
                "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": "a", "verb": "get", "group": "subresources.kubevirt.io",
                                                "resource": "virtualmachineinstances", "subresource": "console"}}})
            self.assertEqual(code, 201, review)
            self.assertEqual(review["status"]["allowed"], allowed, (user, review))

    def test_auth_can_i_answers_truthfully(self):
        def can(user, *args):
            r = self.as_user(user, "auth", "can-i", *args)
            answer = r.stdout.strip().split(" ")[0] if r.stdout.strip() else ""
            self.assertIn(answer, ("yes", "no"), r.stderr)  # "no - <reason>" when there is one
            self.assertEqual(r.returncode == 0, answer == "yes")
            return answer == "yes"
        self.assertTrue(can("alice", "create", "virtualmachines", "-n", "a"))
        self.assertTrue(can("alice", "delete", "secrets", "-n", "a"))
        self.assertFalse(can("alice", "list", "virtualmachines", "-n", "b"))
        self.assertFalse(can("alice", "get", "secrets", "-n", "b"))
        self.assertFalse(can("alice", "list", "virtualmachines", "--all-namespaces"))
        self.assertFalse(can("alice", "get", "nodes"))
        self.assertFalse(can("alice", "patch", "tenants/a"))
        self.assertTrue(can("alice", "get", "tenants/a"))
        self.assertFalse(can("alice", "get", "tenants/b"))
        self.assertFalse(can("alice", "create", "events", "-n", "a"))
        self.assertTrue(can("bob", "create", "events", "-n", "b"))
        self.assertFalse(can("vera", "create", "virtualmachines", "-n", "a"))
        self.assertTrue(can("vera", "list", "virtualmachines", "-n", "a"))
        self.assertFalse(can("vera", "get", "secrets", "-n", "a"))
        self.assertFalse(can("alice", "*", "*"))
        # kubectl's answer matches what the server then does.
        self.assertForbidden(self.as_user("vera", "create", "-f", "-",
                                          input=json.dumps(vm_manifest("vera2", "a"))))
        r = self.server.kubectl("auth", "can-i", "*", "*")
        self.assertEqual(r.stdout.strip(), "yes")

    def test_discovery_lists_authorization_group(self):
        code, body = self.server.request("GET", "/apis/authorization.k8s.io/v1")
        self.assertEqual(code, 200)
        self.assertEqual(body["resources"][0]["name"], "selfsubjectaccessreviews")
        code, body = self.server.request("GET", "/apis")
        self.assertIn("authorization.k8s.io", [g["name"] for g in body["groups"]])

    # --- quota -----------------------------------------------------------------------------------
    def test_quota_over_limit_create_fails_and_nothing_is_half_created(self):
        for name, cores in (("q1", 2), ("q2", 2)):
            vm = vm_manifest(name, "q")
            vm["spec"]["template"]["spec"]["domain"]["cpu"] = {"cores": cores}
            self.as_user("quinn", "create", "-f", "-", input=json.dumps(vm), ok=True)
        vm = vm_manifest("q3", "q", run_strategy="Always")
        r = self.as_user("quinn", "create", "-f", "-", input=json.dumps(vm))
        self.assertForbidden(r)
        self.assertIn('virtualmachines.kubevirt.io "q3" is forbidden: exceeded quota: q, requested: '
                      'vcpus=1', r.stderr)
        self.assertIn("used: vcpus=4", r.stderr)
        self.assertIn("limited: vcpus=4", r.stderr)
        # Nothing was created: no VM, no VMI, no address.
        self.assertIsNone(self.admin_get("vm", "q3", "-n", "q"))
        time.sleep(0.5)
        self.assertIsNone(self.admin_get("vmi", "q3", "-n", "q"))
        allocs = self.admin_get("ipallocations")["items"]
        self.assertFalse([a for a in allocs if a["spec"].get("vm") == "q3"])
        # Memory counts guest memory plus the per-VM overhead: 2 x (128Mi + 256Ki + 96Mi + 16Mi)
        # is 480.5Mi; a third VM of 512Mi does not fit in 1Gi even with vCPUs to spare.
        self.as_user("quinn", "delete", "vm", "q2", ok=True)
        big = vm_manifest("q4", "q")
        big["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = "800Mi"
        r = self.as_user("quinn", "create", "-f", "-", input=json.dumps(big))
        self.assertForbidden(r, "exceeded quota: q, requested: memory=")
        self.assertIn("limited: memory=1Gi", r.stderr)

    def test_quota_usage_in_tenant_status(self):
        vm = vm_manifest("u1", "q")
        self.as_user("quinn", "create", "-f", "-", input=json.dumps(vm), ok=True)

        def usage():
            t = self.admin_get("tenant", "q")
            names = {v["metadata"]["name"] for v in self.admin_get("vms", "-n", "q")["items"]}
            u = t.get("status", {}).get("usage", {})
            return u if u.get("vms") == len(names) and u.get("vcpus", -1) >= len(names) else None
        u = wait_for(usage, timeout=30, what="tenant q's usage to count its VMs")
        self.assertIn("memory", u)
        r = self.as_user("quinn", "get", "tenant", "q", ok=True)
        self.assertIn("VMS", r.stdout.upper())
        out = self.kumo("tenant", "show", "q")
        self.assertIn("vcpus", out)

    def test_quota_ips(self):
        # q may hold 3 addresses; its VMs claim one each.
        vms = len(self.admin_get("vms", "-n", "q")["items"])
        want = 4 - vms
        r = self.as_user("quinn", "create", "-f", "-", input=json.dumps(
            {"apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
             "metadata": {"name": "too-many", "namespace": "q"}, "spec": {"count": max(want, 1)}}))
        self.assertForbidden(r, "ips=")
        self.assertIsNone(self.admin_get("ipreservation", "too-many", "-n", "q"))

    # --- authentication, audit, flow control, events ----------------------------------------------
    def test_unknown_token_is_unauthorized(self):
        req = urllib.request.Request(self.server.url + "/api/v1/namespaces/a/secrets")
        req.add_header("Authorization", "Bearer " + "0" * 64)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, context=self.server.ssl_context(), timeout=10)
        self.assertEqual(e.exception.code, 401)

    def test_admin_keeps_full_access(self):
        for args in (["get", "vms", "-A"], ["get", "secrets", "-n", "kumo-system"], ["get", "nodes"],
                     ["get", "tenants"], ["get", "events", "-A"]):
            r = self.server.kubectl(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.server.kubectl("get", "tenants")
        for t in ("a", "b", "q"):
            self.assertIn(t, r.stdout)

    def test_flow_control_headers(self):
        code, headers, _ = self.raw("alice", "GET", "/apis/kubevirt.io/v1/namespaces/a/virtualmachines")
        self.assertEqual(code, 200)
        lower = {k.lower(): v for k, v in headers.items()}
        self.assertIn("x-kubernetes-pf-flowschema-uid", lower)
        self.assertIn("x-kubernetes-pf-prioritylevel-uid", lower)
        code, admin_headers = self._admin_headers()
        self.assertNotEqual(lower["x-kubernetes-pf-prioritylevel-uid"],
                            admin_headers["x-kubernetes-pf-prioritylevel-uid"])

    def _admin_headers(self):
        req = urllib.request.Request(self.server.url + "/api/v1/namespaces")
        req.add_header("Authorization", "Bearer " + self.server.token)
        with urllib.request.urlopen(req, context=self.server.ssl_context(), timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}

    def test_audit_log_records_who_did_what(self):
        self.as_user("alice", "create", "secret", "generic", "audited", "--from-literal=a=b", ok=True)
        self.assertForbidden(self.as_user("alice", "delete", "secret", "b-secret", "-n", "b"))
        path = os.path.join(self.server.data_dir, "audit.log")

        def lines():
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()]
        entries = wait_for(lambda: [e for e in lines() if e["user"] == "alice"
                                    and e["resource"] == "secrets"] or None, timeout=10,
                           what="alice's audit entries")
        created = [e for e in entries if e["verb"] == "create" and e["name"] == "audited"]
        self.assertTrue(created, entries)
        self.assertEqual(created[0]["code"], 201)
        self.assertEqual(created[0]["namespace"], "a")
        self.assertIn("time", created[0])
        self.assertIn("kumo:tenant-users", created[0]["groups"])
        denied = [e for e in entries if e["verb"] == "delete" and e["namespace"] == "b"]
        self.assertTrue(denied and denied[0]["code"] == 403, entries)
        # Reads are not audited.
        self.assertFalse([e for e in lines() if e["verb"] in ("get", "list", "watch")])

    def test_events_are_stored_apart_and_rate_capped(self):
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "events.db")))
        uid = self.admin_get("vm", "b-vm", "-n", "b")["metadata"]["uid"]
        self.token_of("bob")

        def post(i):
            return self.raw("bob", "POST", "/api/v1/namespaces/b/events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"flood-{i}", "namespace": "b"},
                "involvedObject": {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                   "name": "b-vm", "namespace": "b", "uid": uid},
                "reason": "Flood", "message": f"event {i}", "type": "Normal"})
        # 50 per second with bursts of 100: 400 events sent as fast as possible overflow it.
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(post, range(400)))
        codes = [code for code, _, _ in results]
        self.assertIn(201, codes)
        self.assertIn(429, codes)
        for code, headers, body in results:
            if code == 429 and "over the limit" in body.get("message", ""):
                self.assertIn("Retry-After", headers)
                break
        else:
            self.fail("no event was refused by the rate cap: %s" % sorted(set(codes)))
        r = self.as_user("bob", "get", "events", ok=True)
        self.assertIn("Flood", r.stdout)
        # kubectl describe still finds events about an object.
        r = self.as_user("bob", "describe", "vm", "b-vm", ok=True)
        self.assertIn("Flood", r.stdout)

    def test_tenant_deletion_removes_its_namespace_and_tokens(self):
        self.admin_apply(json.dumps({"apiVersion": "kumo.io/v1alpha1", "kind": "Tenant",
                                     "metadata": {"name": "tmp"}, "spec": {}}))
        wait_for(lambda: self.server.kubectl("get", "ns", "tmp").returncode == 0, timeout=30,
                 what="tmp's namespace")
        ns = self.admin_get("ns", "tmp")
        self.assertEqual(ns["metadata"]["labels"]["kumo.io/tenant"], "tmp")
        path = os.path.join(self.dir, "tim.kubeconfig")
        self.kumo("tenant", "add-user", "tmp", "tim", "--kubeconfig-out", path)
        self.kc["tim"] = path
        self.as_user("tim", "create", "secret", "generic", "x", "--from-literal=a=b", ok=True)
        r = self.server.kubectl("delete", "tenant", "tmp", timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotEqual(self.server.kubectl("get", "ns", "tmp").returncode, 0)
        self.assertIsNone(self.admin_get("secret", "x", "-n", "tmp"))
        r = self.as_user("tim", "get", "secrets")
        self.assertNotEqual(r.returncode, 0)
        # 401: the token went with the tenant (kubectl 1.20 words it "Unauthorized").
        self.assertRegex(r.stderr, "provide credentials|Unauthorized")

    def test_node_identity_changes_only_its_own_objects(self):
        path = os.path.join(self.dir, "n1.kubeconfig")
        self.kumo("node-kubeconfig", "n1", "--data-dir", self.server.data_dir, "--out", path)
        self.kc["node1"] = path

        def node(name):
            return json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        self.as_user("node1", "create", "-f", "-", input=node("n1"), ok=True)
        self.assertForbidden(self.as_user("node1", "create", "-f", "-", input=node("n2")),
                             'node "n1" may not create Node "n2"')
        self.admin_apply(node("n2"))
        self.as_user("node1", "label", "node", "n1", "seen=yes", ok=True)
        self.assertForbidden(self.as_user("node1", "label", "node", "n2", "seen=yes"))
        self.assertForbidden(self.as_user("node1", "delete", "node", "n1"))

        def lease(name):
            return json.dumps({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                               "metadata": {"name": name, "namespace": "kube-node-lease"},
                               "spec": {"holderIdentity": name}})
        self.as_user("node1", "create", "-f", "-", input=lease("n1"), ok=True)
        self.assertForbidden(self.as_user("node1", "create", "-f", "-", input=lease("n2")))
        # VMIs: only those bound to it.
        vmi = vm_manifest("pinned", "default")["spec"]["template"]
        vmi.update({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                    "metadata": {"name": "pinned", "namespace": "default"}})
        self.admin_apply(json.dumps(vmi))

        pinned = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/pinned"

        def bind(to):
            r = patch_status(self.server.kubeconfig, pinned, json.dumps({"status": {"nodeName": to}}))
            self.assertEqual(r.returncode, 0, r.stderr)
        bind("n2")
        running = '{"status":{"phase":"Running"}}'
        # Bound elsewhere, the VMI does not exist for n1 (as for a kubelet and another node's
        # pod), and a blind patch is refused by NodeRestriction.
        r = self.as_user("node1", "get", "vmi", "pinned", "-n", "default")
        self.assertIn("NotFound", r.stderr)
        code, body = kubeconfig_request(self.kc["node1"], "PATCH", pinned + "/status", running,
                                        "application/merge-patch+json")
        self.assertEqual(code, 403, body)
        self.assertIn('bound to "n2"', body["message"])
        bind("n1")
        r = patch_status(self.kc["node1"], pinned, running)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Reads what an agent needs, nothing more.
        self.as_user("node1", "get", "vmis", "-A", "--field-selector", "status.nodeName=n1", ok=True)
        self.as_user("node1", "get", "vmi", "pinned", "-n", "default", ok=True)
        # Not every tenant's VMIs, VMs (cloud-init user data) or reservations.
        self.assertForbidden(self.as_user("node1", "get", "vmis", "-A"), "status.nodeName=n1")
        self.assertForbidden(self.as_user("node1", "get", "vms", "-A"))
        self.assertForbidden(self.as_user("node1", "get", "ipreservations", "-A"))
        # Nor the labels tenants' dedicated-node selectors match.
        self.assertForbidden(self.as_user("node1", "label", "node", "n1",
                                          "node-restriction.kumo.io/pool=b-nodes"),
                             "node-restriction.kumo.io/")
        self.as_user("node1", "get", "images", ok=True)
        self.assertForbidden(self.as_user("node1", "get", "secrets", "-n", "a"))
        self.assertForbidden(self.as_user("node1", "get", "tenants"))
        self.server.kubectl("delete", "vmi", "pinned", "-n", "default", "--wait=false")

    def test_zz_tokens_survive_restart(self):
        self.server.stop()
        self.server.start()
        r = self.as_user("alice", "get", "vms", server=self.server.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertForbidden(self.as_user("alice", "get", "vms", "-n", "b", server=self.server.url))


if __name__ == "__main__":
    unittest.main()
