"""Tenant isolation against a hostile tenant (issue 10), on a real `kumo server` with the real
kubectl and raw HTTPS. One test per class of attack; each asserts that the attack is refused with
a Kubernetes Status and that nothing was stored or changed.

Classes: addresses outside IPAM; volumes (another tenant's claims and volumes, forged volume
placements, volume quota, a node's reach over volumes); VM sizes that quota, scheduler and agent would read differently
(overflow, number vs string, a VMI named like a VM); IP quota and pools; a node identity's reach;
user names shared across tenants; connection set-up (deadline, resumption)."""
import json
import os
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from kumo_harness import (KUBECTL, KUMO, KumoServer, StatusAssertions, kubeconfig_request,
                           vm_manifest, wait_for)

POOL = "10.88.0.0/24"        # every tenant's
MALLORY_POOL = "10.89.0.0/24"  # the only pool tenant m may use (Tenant spec.ipPools)


class IsolationTest(StatusAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.dir = tempfile.mkdtemp(prefix="kumo-security-", dir=cls.server.data_dir)
        cls.kc = {}
        cls.admin_apply({"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool",
                         "metadata": {"name": "shared"}, "spec": {"cidr": POOL}})
        cls.admin_apply({"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool",
                         "metadata": {"name": "m-pool"}, "spec": {"cidr": MALLORY_POOL}})
        # Mallory's tenant m (quota: 4 vCPUs, 4Gi, 5 IPs, only m-pool); victim tenant v.
        cls.admin_apply({"apiVersion": "kumo.io/v1alpha1", "kind": "Tenant",
                         "metadata": {"name": "m"},
                         "spec": {"quota": {"vcpus": 4, "memory": "4Gi", "ips": 5, "vms": 10},
                                  "ipPools": ["m-pool"]}})
        cls.admin_apply({"apiVersion": "kumo.io/v1alpha1", "kind": "Tenant",
                         "metadata": {"name": "v"}, "spec": {}})
        for ns in ("m", "v"):
            wait_for(lambda ns=ns: cls.server.kubectl("get", "ns", ns).returncode == 0, 30,
                     what=f"namespace {ns}")
        for tenant, user in (("m", "mallory"), ("v", "victor"), ("m", "sam"), ("v", "sam")):
            path = os.path.join(cls.dir, f"{user}-{tenant}.kubeconfig")
            cls.kumo("tenant", "add-user", tenant, user, "--role", "admin" if user == "victor"
                     else "member", "--kubeconfig-out", path)
            cls.kc[f"{user}@{tenant}"] = path
        cls.kc["mallory"] = cls.kc["mallory@m"]
        # The victim's VM holds an address.
        cls.admin_apply({"apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
                         "metadata": {"name": "v-ips", "namespace": "v"},
                         "spec": {"addresses": ["10.88.0.50"]}})

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    # --- helpers -------------------------------------------------------------------------------
    @classmethod
    def kumo(cls, *args):
        r = subprocess.run([KUMO, "--kubeconfig", cls.server.kubeconfig] + list(args),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"kumo {' '.join(args)}: {r.stdout}{r.stderr}"
        return r.stdout

    @classmethod
    def admin_apply(cls, obj):
        r = cls.server.kubectl("apply", "-f", "-", input=json.dumps(obj))
        assert r.returncode == 0, r.stderr

    def req(self, who, method, path, body=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        return kubeconfig_request(self.kc[who], method, path, body, ctype)

    def assertAbsent(self, path):
        code, body = self.server.request("GET", path)
        self.assertEqual(code, 404, f"{path} was stored: {body}")

    def vmi(self, name, ns="m", annotations=None, cores=1, memory="128Mi"):
        spec = vm_manifest(name, ns)["spec"]["template"]["spec"]
        spec["domain"]["cpu"] = {"cores": cores}
        spec["domain"]["memory"] = {"guest": memory}
        meta = {"name": name, "namespace": ns}
        if annotations:
            meta["annotations"] = annotations
        return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "metadata": meta, "spec": spec}

    VMIS = "/apis/kubevirt.io/v1/namespaces/{}/virtualmachineinstances"
    VMS = "/apis/kubevirt.io/v1/namespaces/{}/virtualmachines"

    # --- addresses outside IPAM ----------------------------------------------------------------
    def test_address_annotation_cannot_be_written(self):
        theirs = {"kumo.io/ip": "10.88.0.50"}
        # On a VMI create, in a VM template, by kubectl and by raw HTTPS.
        self.assertStatus(self.req("mallory", "POST", self.VMIS.format("m"),
                                   self.vmi("steal", annotations=theirs)), 422, fragment="kumo.io/ip")
        self.assertAbsent(self.VMIS.format("m") + "/steal")
        vm = vm_manifest("steal-vm", "m")
        vm["spec"]["template"]["metadata"]["annotations"] = theirs
        self.assertStatus(self.req("mallory", "POST", self.VMS.format("m"), vm), 422,
                          fragment="assigned by IPAM")
        self.assertAbsent(self.VMS.format("m") + "/steal-vm")
        r = subprocess.run([KUBECTL, "--kubeconfig", self.kc["mallory"], "apply", "-f", "-"],
                           input=json.dumps(vm), capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("kumo.io/ip", r.stderr)
        # On an existing VMI: merge, JSON and strategic patches, and a PUT.
        self.assertEqual(self.req("mallory", "POST", self.VMIS.format("m"),
                                  self.vmi("mine"))[0], 201)
        path = self.VMIS.format("m") + "/mine"
        for ctype, patch in (
                ("application/merge-patch+json", {"metadata": {"annotations": theirs}}),
                ("application/json-patch+json",
                 [{"op": "add", "path": "/metadata/annotations", "value": theirs}]),
                ("application/strategic-merge-patch+json", {"metadata": {"annotations": theirs}})):
            got = self.req("mallory", "PATCH", path, patch, ctype)
            self.assertIn(got[0], (415, 422), got)  # strategic merge is for built-in kinds
        code, stored = self.req("mallory", "GET", path)
        self.assertNotIn("kumo.io/ip", stored["metadata"].get("annotations", {}))
        stored["metadata"]["annotations"] = theirs
        self.assertStatus(self.req("mallory", "PUT", path, stored), 422)
        # Even a cluster admin cannot route an address around IPAM.
        self.assertStatus(self.server.request("POST", self.VMIS.format("v"),
                                              self.vmi("admin-steal", "v", theirs)), 422)

    def test_vmi_spec_and_owner_are_immutable(self):
        self.assertEqual(self.req("mallory", "POST", self.VMIS.format("m"),
                                  self.vmi("fixed"))[0], 201)
        path = self.VMIS.format("m") + "/fixed"
        self.assertStatus(self.req("mallory", "PATCH", path,
                                   {"spec": {"domain": {"cpu": {"cores": 64}}}},
                                   "application/merge-patch+json"), 422, fragment="spec")
        code, stored = self.req("mallory", "GET", path)
        self.assertEqual(stored["spec"]["domain"]["cpu"]["cores"], 1)
        # A forged VirtualMachine owner would hide the VMI from quota.
        owned = self.vmi("owned")
        owned["metadata"]["ownerReferences"] = [{"apiVersion": "kubevirt.io/v1",
                                                 "kind": "VirtualMachine", "name": "owned",
                                                 "uid": "0000", "controller": True}]
        self.assertStatus(self.req("mallory", "POST", self.VMIS.format("m"), owned), 422,
                          fragment="ownerReferences")
        self.assertAbsent(self.VMIS.format("m") + "/owned")

    # --- sizes ---------------------------------------------------------------------------------
    def test_sizes_that_overflow_or_disagree_are_refused(self):
        def vm(name, domain):
            v = vm_manifest(name, "m")
            v["spec"]["template"]["spec"]["domain"].update(domain)
            return v
        attacks = {
            # sockets x cores x threads past 64 bits (it used to be a negative claim).
            "overflow": ({"cpu": {"sockets": 4294967296, "cores": 4294967296, "threads": 2}}, 422),
            "too-many": ({"cpu": {"sockets": 64, "cores": 64}}, 422),
            "huge-int": ({"cpu": {"cores": 18446744073709551615}}, 422),
            "inf-memory": ({"memory": {"guest": 1e300}}, 422),
            "17ti": ({"memory": {"guest": "17Ti"}}, 422),
            # A JSON number is memory too, and is counted: 64Gi is over the 4Gi quota.
            "number": ({"memory": {"guest": 68719476736}}, 403),
            # Guest memory wins over the request, for quota as for QEMU: 64Gi requested
            # through resources alone is over quota as well.
            "requests": ({"memory": None, "resources": {"requests": {"memory": "64Gi"}}}, 403),
        }
        for name, (domain, code) in attacks.items():
            body = vm(name, domain)
            if domain.get("memory", "") is None:
                del body["spec"]["template"]["spec"]["domain"]["memory"]
            got = self.req("mallory", "POST", self.VMS.format("m"), body)
            self.assertStatus(got, code)
            self.assertAbsent(self.VMS.format("m") + "/" + name)
        code, tenant = self.server.request("GET", "/apis/kumo.io/v1alpha1/tenants/m")
        used = tenant.get("status", {}).get("usage", {})
        self.assertGreaterEqual(used.get("vcpus", 0), 0, tenant)  # never negative

    def test_vmi_named_like_a_vm_is_counted(self):
        self.assertEqual(self.req("mallory", "POST", self.VMS.format("m"),
                                  vm_manifest("twin", "m"))[0], 201)
        # A standalone VMI of the same name with 64 vCPUs is its own claim, over the quota.
        got = self.req("mallory", "POST", self.VMIS.format("m"), self.vmi("twin", cores=64))
        self.assertStatus(got, 403, fragment="exceeded quota")
        self.assertAbsent(self.VMIS.format("m") + "/twin")

    # --- IP quota and pools --------------------------------------------------------------------
    def test_reservation_that_does_not_exist_gives_no_address(self):
        vm = vm_manifest("ghost", "m")
        vm["metadata"]["annotations"] = {"kumo.io/ip-reservation": "no-such"}
        vm["spec"]["template"]["metadata"]["annotations"] = {
            "cni.projectcalico.org/ipAddrs": '["10.89.0.7"]'}
        self.assertStatus(self.req("mallory", "POST", self.VMS.format("m"), vm), 422, fragment="no-such")
        self.assertAbsent(self.VMS.format("m") + "/ghost")
        self.assertAbsent("/apis/kumo.io/v1alpha1/ipallocations/10.89.0.7")

    def test_tenant_ip_pools_bound_every_address(self):
        for name, ann, obj in (
                ("calico", {"cni.projectcalico.org/ipAddrs": '["10.88.0.9"]'}, "vm"),
                ("resv", None, "reservation")):
            if obj == "vm":
                vm = vm_manifest(name, "m")
                vm["spec"]["template"]["metadata"]["annotations"] = ann
                got = self.req("mallory", "POST", self.VMS.format("m"), vm)
                path = self.VMS.format("m") + "/" + name
            else:
                got = self.req("mallory", "POST",
                               "/apis/kumo.io/v1alpha1/namespaces/m/ipreservations",
                               {"apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
                                "metadata": {"name": name, "namespace": "m"},
                                "spec": {"addresses": ["10.88.0.10"]}})
                path = "/apis/kumo.io/v1alpha1/namespaces/m/ipreservations/" + name
            self.assertIn(got[0], (403, 422), got)
            self.assertEqual(got[1].get("kind"), "Status")
            self.assertAbsent(path)
        # The victim's reserved address, by value: refused too.
        vm = vm_manifest("grab", "m")
        vm["spec"]["template"]["metadata"]["annotations"] = {
            "cni.projectcalico.org/ipAddrs": '["10.88.0.50"]'}
        got = self.req("mallory", "POST", self.VMS.format("m"), vm)
        self.assertIn(got[0], (409, 422), got)
        self.assertAbsent(self.VMS.format("m") + "/grab")

    # --- a node's reach ------------------------------------------------------------------------
    def test_node_identity_reads_only_what_is_bound_to_it(self):
        path = os.path.join(self.dir, "n9.kubeconfig")
        subprocess.run([KUMO, "node-kubeconfig", "n9", "--data-dir", self.server.data_dir,
                        "--out", path], check=True, capture_output=True)
        self.kc["n9"] = path
        self.assertEqual(self.req("n9", "POST", "/api/v1/nodes",
                                  {"apiVersion": "v1", "kind": "Node",
                                   "metadata": {"name": "n9"}})[0], 201)
        self.assertEqual(self.req("victor@v", "POST", self.VMS.format("v"),
                                  vm_manifest("secret-vm", "v"))[0], 201)
        self.assertEqual(self.req("victor@v", "POST", self.VMIS.format("v"),
                                  self.vmi("loose", "v"))[0], 201)
        for path in ("/apis/kubevirt.io/v1/virtualmachineinstances",
                     "/apis/kubevirt.io/v1/virtualmachines",
                     self.VMS.format("v") + "/secret-vm",
                     "/apis/kumo.io/v1alpha1/ipreservations",
                     "/apis/kumo.io/v1alpha1/ipallocations",
                     "/api/v1/namespaces"):
            self.assertStatus(self.req("n9", "GET", path), 403)
        self.assertStatus(self.req("n9", "GET", self.VMIS.format("v") + "/loose"), 404)
        code, body = self.req("n9", "GET", "/apis/kubevirt.io/v1/virtualmachineinstances"
                                            "?fieldSelector=status.nodeName%3Dn9")
        self.assertEqual(code, 200, body)
        self.assertEqual(body["items"], [])
        # It cannot give itself the labels dedicated-node selectors use, nor drop its taints.
        got = self.req("n9", "PATCH", "/api/v1/nodes/n9",
                       {"metadata": {"labels": {"node-restriction.kumo.io/pool": "v"}}},
                       "application/merge-patch+json")
        self.assertStatus(got, 403, fragment="node-restriction.kumo.io/")
        code, node = self.server.request("GET", "/api/v1/nodes/n9")
        self.assertNotIn("node-restriction.kumo.io/pool", node["metadata"].get("labels", {}))
        # And a Tenant's dedicated-node selector must use those labels.
        got = self.server.request("POST", "/apis/kumo.io/v1alpha1/tenants",
                                  {"apiVersion": "kumo.io/v1alpha1", "kind": "Tenant",
                                   "metadata": {"name": "weak"},
                                   "spec": {"nodeSelector": {"pool": "weak"}}})
        self.assertStatus(got, 422, fragment="node-restriction.kumo.io/")

    # --- volumes -------------------------------------------------------------------------------
    PVCS = "/api/v1/namespaces/{}/persistentvolumeclaims"
    DVS = "/apis/cdi.kubevirt.io/v1beta1/namespaces/{}/datavolumes"

    def claim(self, name, ns, size="16Mi", **spec):
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": size}}}}
        body["spec"].update(spec)
        return body

    def test_volumes_of_another_tenant_are_out_of_reach(self):
        self.assertEqual(self.req("victor@v", "POST", self.PVCS.format("v"),
                                  self.claim("v-data", "v"))[0], 201)
        wait_for(lambda: self.server.request("GET", self.PVCS.format("v") + "/v-data")[1]
                 .get("spec", {}).get("volumeName"), 30, what="v-data bound")
        their_pv = self.server.request("GET", self.PVCS.format("v") + "/v-data")[1]["spec"]["volumeName"]
        # Reading or listing volumes (cluster-scoped) or the other tenant's claims.
        for path in ("/api/v1/persistentvolumes", "/api/v1/persistentvolumes/" + their_pv,
                     self.PVCS.format("v"), self.PVCS.format("v") + "/v-data"):
            self.assertStatus(self.req("mallory", "GET", path), 403)
        # Binding a claim to their volume, on create and by a patch.
        self.assertStatus(self.req("mallory", "POST", self.PVCS.format("m"),
                                   self.claim("grab", "m", volumeName=their_pv)),
                          422, fragment="binds a claim")
        self.assertAbsent(self.PVCS.format("m") + "/grab")
        self.assertEqual(self.req("mallory", "POST", self.PVCS.format("m"),
                                  self.claim("mine", "m"))[0], 201)
        got = self.req("mallory", "PATCH", self.PVCS.format("m") + "/mine",
                       {"spec": {"volumeName": their_pv}}, "application/merge-patch+json")
        self.assertStatus(got, 422, fragment="binds a claim")
        # Copying their data: a clone source, a DataVolume source, in another namespace.
        src = {"kind": "PersistentVolumeClaim", "name": "v-data", "namespace": "v"}
        self.assertStatus(self.req("mallory", "POST", self.PVCS.format("m"),
                                   self.claim("copy", "m", dataSourceRef=src)),
                          422, fragment="own namespace")
        self.assertStatus(self.req("mallory", "POST", self.PVCS.format("m"),
                                   self.claim("copy", "m", dataSource={"kind": "PersistentVolumeClaim",
                                                                       "name": "v-data"})),
                          404, fragment="not found in namespace m")
        dv = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
              "metadata": {"name": "copy", "namespace": "m"},
              "spec": {"source": {"pvc": {"namespace": "v", "name": "v-data"}},
                       "storage": {"resources": {"requests": {"storage": "16Mi"}}}}}
        self.assertStatus(self.req("mallory", "POST", self.DVS.format("m"), dv), 422,
                          fragment="own namespace")
        self.assertAbsent(self.DVS.format("m") + "/copy")
        # A VMI naming their claim (same name in its own namespace) finds nothing; one that
        # writes where volumes live itself is refused.
        vmi = self.vmi("peek")
        vmi["spec"]["volumes"] = [{"name": "rootdisk",
                                   "persistentVolumeClaim": {"claimName": "v-data"}}]
        self.assertStatus(self.req("mallory", "POST", self.VMIS.format("m"), vmi), 404,
                          fragment="not found in namespace m")
        self.assertAbsent(self.VMIS.format("m") + "/peek")
        forged = [{"volume": "rootdisk", "claim": "v-data", "pv": their_pv,
                   "driver": "local.kumo.io", "sizeBytes": 16777216, "populated": True}]
        vmi = self.vmi("forge", annotations={"kumo.io/volumes": json.dumps(forged)})
        self.assertStatus(self.req("mallory", "POST", self.VMIS.format("m"), vmi), 422,
                          fragment="kumo.io/volumes")
        self.assertAbsent(self.VMIS.format("m") + "/forge")
        # The same placement smuggled through a VM template's annotations.
        vm = vm_manifest("forge-vm", "m")
        vm["spec"]["template"]["metadata"]["annotations"] = {"kumo.io/volumes": json.dumps(forged)}
        self.assertStatus(self.req("mallory", "POST", self.VMS.format("m"), vm), 422,
                          fragment="kumo.io/volumes")
        self.assertAbsent(self.VMS.format("m") + "/forge-vm")
        # A snapshot that names another snapshot's copy in its own status gets no status.
        snap = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "forged-snap", "namespace": "m"},
                "spec": {"source": {"persistentVolumeClaimName": "mine"}},
                "status": {"boundVolumeSnapshotContentName": "snapcontent-victim", "readyToUse": True}}
        code, body = self.req("mallory", "POST",
                              "/apis/snapshot.storage.k8s.io/v1/namespaces/m/volumesnapshots", snap)
        self.assertEqual(code, 201, body)
        self.assertNotIn("snapcontent-victim", json.dumps(body))
        code, pv = self.server.request("GET", "/api/v1/persistentvolumes/" + their_pv)
        self.assertEqual(pv["spec"]["claimRef"]["namespace"], "v")
        self.assertNotIn("kumo.io/attached-to", pv["metadata"].get("annotations", {}))

    def test_volume_quota_counts_claims_data_volumes_and_templates(self):
        self.server.request("PATCH", "/apis/kumo.io/v1alpha1/tenants/m",
                            {"spec": {"quota": {"vcpus": 4, "memory": "4Gi", "ips": 5, "vms": 10,
                                                "volumes": 3, "storage": "100Mi"}}},
                            "application/merge-patch+json")
        wait_for(lambda: self.req("mallory", "POST", self.PVCS.format("m"),
                                  self.claim("huge", "m", size="1Gi"))[0] == 403, 30,
                 what="the storage quota in force")
        self.assertStatus(self.req("mallory", "POST", self.PVCS.format("m"),
                                   self.claim("huge", "m", size="1Gi")),
                          403, fragment="exceeded quota: m, requested: storage=1Gi")
        # A claim that pretends a DataVolume owns it (owned claims count with their owner).
        dodge = self.claim("dodge", "m", size="64Mi")
        dodge["metadata"]["ownerReferences"] = [{"apiVersion": "cdi.kubevirt.io/v1beta1",
                                                 "kind": "DataVolume", "name": "x", "uid": "1"}]
        self.assertStatus(self.req("mallory", "POST", self.PVCS.format("m"), dodge), 422,
                          fragment="ownerReferences")
        # A VM's templates count with the VM.
        vm = vm_manifest("fat", "m")
        vm["spec"]["dataVolumeTemplates"] = [{"metadata": {"name": "fat-root"},
                                              "spec": {"source": {"blank": {}},
                                                       "storage": {"resources": {"requests": {"storage": "2Gi"}}}}}]
        self.assertStatus(self.req("mallory", "POST", self.VMS.format("m"), vm), 403,
                          fragment="storage=2Gi")
        self.assertAbsent(self.VMS.format("m") + "/fat")
        # Snapshots take storage too: copies of a claim cannot exceed the quota.
        self.assertEqual(self.req("mallory", "POST", self.PVCS.format("m"),
                                  self.claim("base", "m", size="64Mi"))[0], 201)
        snap = {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "copy1", "namespace": "m"},
                "spec": {"source": {"persistentVolumeClaimName": "base"}}}
        self.assertStatus(self.req("mallory", "POST",
                                   "/apis/snapshot.storage.k8s.io/v1/namespaces/m/volumesnapshots", snap),
                          403, fragment="requested: storage=64Mi")

    def test_node_touches_only_its_own_volumes(self):
        path = os.path.join(self.dir, "n8.kubeconfig")
        subprocess.run([KUMO, "node-kubeconfig", "n8", "--data-dir", self.server.data_dir,
                        "--out", path], check=True, capture_output=True)
        self.kc["n8"] = path
        self.assertEqual(self.req("victor@v", "POST", self.PVCS.format("v"),
                                  self.claim("v-other", "v"))[0], 201)
        wait_for(lambda: self.server.request("GET", self.PVCS.format("v") + "/v-other")[1]
                 .get("spec", {}).get("volumeName"), 30, what="v-other bound")
        pv = self.server.request("GET", self.PVCS.format("v") + "/v-other")[1]["spec"]["volumeName"]
        self.assertStatus(self.req("n8", "GET", "/api/v1/persistentvolumes"), 403)
        self.assertStatus(self.req("n8", "GET", "/api/v1/persistentvolumes/" + pv), 403)
        self.assertStatus(self.req("n8", "GET", "/api/v1/persistentvolumes?fieldSelector="
                                   "spec.csi.volumeAttributes.node%3Dn9"), 403)
        code, body = self.req("n8", "GET", "/api/v1/persistentvolumes?fieldSelector="
                                           "spec.csi.volumeAttributes.node%3Dn8")
        self.assertEqual((code, body["items"]), (200, []))
        # Not its volume: no change at all, not even dropping the cleanup finalizer.
        got = self.req("n8", "PATCH", "/api/v1/persistentvolumes/" + pv,
                       {"metadata": {"finalizers": None}}, "application/merge-patch+json")
        self.assertStatus(got, 403)
        self.assertIn("kumo.io/volume-cleanup",
                      self.server.request("GET", "/api/v1/persistentvolumes/" + pv)[1]["metadata"]["finalizers"])
        # Its volume: only the finalizer, never where the data lives.
        self.server.request("PATCH", "/api/v1/persistentvolumes/" + pv,
                            {"spec": {"csi": {"volumeAttributes": {"node": "n8"}}}},
                            "application/merge-patch+json")
        got = self.req("n8", "PATCH", "/api/v1/persistentvolumes/" + pv,
                       {"spec": {"csi": {"volumeAttributes": {"location": "/etc"}}}},
                       "application/merge-patch+json")
        self.assertStatus(got, 403, fragment="cleanup finalizer")

    def test_only_admins_upload_image_bytes(self):
        image = {"apiVersion": "kumo.io/v1alpha1", "kind": "Image", "metadata": {"name": "up"},
                 "spec": {"format": "raw", "source": {"upload": {}}}}
        self.assertEqual(self.server.request("POST", "/apis/kumo.io/v1alpha1/images", image)[0], 201)
        data = "/apis/kumo.io/v1alpha1/images/up/data"
        self.assertStatus(self.req("mallory", "PUT", data + "?offset=0", "evil", "application/octet-stream"), 403)
        code, _ = self.server.request("PUT", data + "?offset=0", b"good bytes", "application/octet-stream")
        self.assertEqual(code, 200)
        # Out of order, and a commit whose checksum does not match: refused, nothing Ready.
        self.assertStatus(self.server.request("PUT", data + "?offset=99", b"x", "application/octet-stream"),
                          409, fragment="send offset 10")
        self.assertStatus(self.server.request("PUT", data + "?commit=" + "0" * 64, b"",
                                              "application/octet-stream"), 422, fragment="upload it again")
        code, img = self.server.request("GET", "/apis/kumo.io/v1alpha1/images/up")
        self.assertNotEqual(img.get("status", {}).get("phase"), "Ready")
        self.assertStatus(self.server.request("GET", data), 404, fragment="not been uploaded")

    # --- user names ----------------------------------------------------------------------------
    def test_same_user_name_in_two_tenants_is_two_people(self):
        # sam@m and sam@v share a name; each token works in its own tenant only.
        self.assertEqual(self.req("sam@m", "GET", self.VMS.format("m"))[0], 200)
        self.assertEqual(self.req("sam@v", "GET", self.VMS.format("v"))[0], 200)
        self.assertStatus(self.req("sam@m", "GET", self.VMS.format("v")), 403)
        self.assertStatus(self.req("sam@v", "POST", self.VMS.format("m"),
                                   vm_manifest("by-other-sam", "m")), 403)
        self.assertAbsent(self.VMS.format("m") + "/by-other-sam")

    # --- connections ---------------------------------------------------------------------------
    def server_address(self):
        host_port = self.server.url.split("://", 1)[1]
        host, port = host_port.rsplit(":", 1)
        return host, int(port)

    def test_silent_connection_is_closed_before_authentication(self):
        s = socket.create_connection(self.server_address(), timeout=60)
        started = time.monotonic()
        try:
            self.assertEqual(s.recv(1), b"")  # closed by the server, nothing sent
        except ConnectionResetError:
            pass
        finally:
            s.close()
        # Well before the keep-alive idle timeout (300 s): the handshake deadline (10 s).
        self.assertLess(time.monotonic() - started, 60)

    def test_tls_sessions_resume(self):
        ctx = self.server.ssl_context()
        host, port = self.server_address()

        def request(session=None):
            with socket.create_connection((host, port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=host, session=session) as s:
                    s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                    self.assertIn(b"200 OK", data.split(b"\r\n", 1)[0])
                    return s.session, s.session_reused
        session, reused = request()
        self.assertFalse(reused)
        _, reused = request(session)
        self.assertTrue(reused, "a returning client resumes its TLS session")


if __name__ == "__main__":
    unittest.main()
