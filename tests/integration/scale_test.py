"""Hollow nodes and the scheduler's incremental view, through the real server: `kumo hollow`
registers simulated nodes with their own identities, which report VMs Running with their IPAM
address and release deleted ones; placements spread over the nodes and respect capacity; the
metrics an operator's dashboards read are served under Kubernetes' names."""
import os
import signal
import subprocess
import time
import unittest

from kumo_harness import KUMO, KumoServer, vm_manifest, wait_for

NS = "scale"
NODES = 6


class HollowNodesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        s = cls.server
        assert s.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": NS}})[0] == 201
        code, body = s.request("POST", "/apis/kumo.io/v1alpha1/ippools",
                               {"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool",
                                "metadata": {"name": "p"}, "spec": {"cidr": "10.90.0.0/22"}})
        assert code == 201, body
        cls.hollow_log = os.path.join(s.data_dir, "hollow.log")
        cls.hollow_out = open(cls.hollow_log, "w")
        # 2 CPUs per node: twenty 1-vCPU VMs each at the default allocation ratio of 10.
        cls.hollow = subprocess.Popen([KUMO, "hollow", "--nodes", str(NODES), "--data-dir", s.data_dir,
                                       "--cpus", "2", "--memory", "64Gi"],
                                      stdout=cls.hollow_out, stderr=subprocess.STDOUT)
        def ready():
            with open(cls.hollow_log) as f:
                return "hollow nodes are Ready" in f.read()
        wait_for(ready, 60,
                 what="hollow nodes registered")

    @classmethod
    def tearDownClass(cls):
        if cls.hollow.poll() is None:
            cls.hollow.send_signal(signal.SIGINT)
            cls.hollow.wait(30)
        cls.hollow_out.close()
        cls.server.cleanup()

    def vmis(self):
        return self.server.request("GET", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances")[1]["items"]

    def test_01_nodes_register_with_their_own_identity_and_lease(self):
        nodes = self.server.request("GET", "/api/v1/nodes?labelSelector=kumo.io%2Fhollow%3Dtrue")[1]["items"]
        self.assertEqual(len(nodes), NODES)
        for n in nodes:
            ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
            self.assertEqual(ready[0]["status"], "True")
            self.assertEqual(n["status"]["allocatable"]["cpu"], "2")
        lease = self.server.request("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/hollow-00000")[1]
        self.assertEqual(lease["spec"]["holderIdentity"], "hollow-00000")

    def test_02_vms_run_spread_over_nodes_with_their_addresses_and_are_released(self):
        for i in range(30):
            code, body = self.server.request("POST", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines",
                                             vm_manifest(f"vm{i}", namespace=NS, run_strategy="Always"))
            self.assertEqual(code, 201, body)
        wait_for(lambda: sum(1 for v in self.vmis() if v.get("status", {}).get("phase") == "Running") == 30, 60,
                 what="30 VMIs Running on hollow nodes")
        per_node = {}
        for v in self.vmis():
            per_node[v["status"]["nodeName"]] = per_node.get(v["status"]["nodeName"], 0) + 1
            ip = v["metadata"]["annotations"]["kumo.io/ip"]
            self.assertTrue(ip.startswith("10.90."), ip)
            self.assertEqual(v["status"]["interfaces"][0]["ipAddress"], ip)
        self.assertEqual(len(per_node), NODES, per_node)  # least allocated spreads them
        self.assertLessEqual(max(per_node.values()), 20)
        # Delete one: the hollow node releases it (the finalizer) as an agent would.
        self.server.request("DELETE", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/vm0")
        wait_for(lambda: all(v["metadata"]["name"] != "vm0" for v in self.vmis()), 30, what="vm0's VMI gone")

    def test_03_capacity_is_respected_and_freed_room_is_used(self):
        # 6 nodes x 20 = 120 fit; 29 run. 100 more: 91 fit, 9 stay Pending (Unschedulable).
        for i in range(100, 200):
            self.server.request("POST", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines",
                                vm_manifest(f"vm{i}", namespace=NS, run_strategy="Always"))
        def full():
            vmis = self.vmis()
            return len(vmis) == 129 and sum(1 for v in vmis if v.get("status", {}).get("phase") == "Running") == 120
        wait_for(full, 90, what="129 VMIs, 120 Running: the cluster is full")
        pending = [v for v in self.vmis() if v.get("status", {}).get("phase") != "Running"]
        self.assertEqual(len(pending), 9)
        cond = [c for c in pending[0]["status"].get("conditions", []) if c["type"] == "PodScheduled"]
        self.assertIn("Insufficient cpu", cond[0].get("message", ""))
        # Deleting 9 running VMs makes room for the pending ones.
        running = [v["metadata"]["name"] for v in self.vmis() if v.get("status", {}).get("phase") == "Running"]
        for name in running[:9]:
            self.server.request("DELETE", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/{name}")
        wait_for(lambda: sum(1 for v in self.vmis() if v.get("status", {}).get("phase") == "Running") == 120 and
                 len(self.vmis()) == 120, 90, what="the pending VMIs placed in the freed room")

    def test_04_metrics_under_kubernetes_names(self):
        out = self.server.kubectl("get", "--raw", "/metrics", check=True).stdout
        for name in ['scheduler_schedule_attempts_total{result="scheduled"}',
                     'scheduler_scheduling_attempt_duration_seconds_count',
                     'scheduler_pending_pods{queue="unschedulable"}',
                     'workqueue_depth{name="scheduler"}', 'workqueue_adds_total{name="vm-controller"}',
                     'workqueue_queue_duration_seconds_count{name="scheduler"}',
                     'apiserver_storage_objects{resource="virtualmachines.kubevirt.io"}',
                     'apiserver_storage_objects{resource="nodes"}',
                     'apiserver_registered_watchers{kind="virtualmachineinstances"}',
                     'process_resident_memory_bytes']:
            self.assertIn(name, out)
        vms = [l for l in out.splitlines() if l.startswith('apiserver_storage_objects{resource="virtualmachines.kubevirt.io"}')]
        self.assertEqual(vms[0].split()[-1], "120")
        nodes = [l for l in out.splitlines() if l.startswith('apiserver_storage_objects{resource="nodes"}')]
        self.assertEqual(nodes[0].split()[-1], str(NODES))
        # Each hollow node watches its VMIs (and incoming migrations) through the indexed path.
        watchers = [l for l in out.splitlines() if l.startswith('apiserver_registered_watchers{kind="virtualmachineinstances"}')]
        self.assertGreaterEqual(int(watchers[0].split()[-1]), 2 * NODES)


if __name__ == "__main__":
    unittest.main()
