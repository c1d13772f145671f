"""IP address management through the real server: pools, reservations (by address and by count),
fixed IPs with Calico's annotation, addresses that stay with a VM across restarts, reservations
that outlive VMs, clear errors, and 200 concurrent VM creates getting 200 distinct addresses."""
import concurrent.futures
import json
import time
import unittest

from kumo_harness import KumoServer, vm_manifest, wait_for

NS = "t1"
POOL = {"apiVersion": "kumo.io/v1alpha1", "kind": "IPPool", "metadata": {"name": "pool-a"},
        "spec": {"cidr": "10.77.0.0/24"}}


class IpamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        s = cls.server
        assert s.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": NS}})[0] == 201
        code, body = s.request("POST", "/apis/kumo.io/v1alpha1/ippools", POOL)
        assert code == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def reserve(self, name, **spec):
        return self.server.request("POST", f"/apis/kumo.io/v1alpha1/namespaces/{NS}/ipreservations",
                                   {"apiVersion": "kumo.io/v1alpha1", "kind": "IPReservation",
                                    "metadata": {"name": name}, "spec": spec})

    def reservation(self, name):
        return self.server.request("GET", f"/apis/kumo.io/v1alpha1/namespaces/{NS}/ipreservations/{name}")[1]

    def create_vm(self, name, annotations=None, template_annotations=None):
        vm = vm_manifest(name, namespace=NS, run_strategy="Always")
        if annotations:
            vm["metadata"]["annotations"] = annotations
        if template_annotations:
            vm["spec"]["template"]["metadata"]["annotations"] = template_annotations
        return self.server.request("POST", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines", vm)

    def vmi_ip(self, name):
        code, body = self.server.request("GET", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/{name}")
        if code != 200:
            return None
        return body["metadata"].get("annotations", {}).get("kumo.io/ip")

    def test_01_reservation_by_address_and_errors(self):
        code, body = self.reserve("r1", addresses=["10.77.0.10"])
        self.assertEqual(code, 201, body)
        wait_for(lambda: self.reservation("r1").get("status", {}).get("addresses") ==
                 [{"address": "10.77.0.10", "vm": ""}], 20, what="r1 holds 10.77.0.10")
        code, body = self.reserve("r2", addresses=["10.77.0.10"])
        self.assertEqual(code, 409, body)
        self.assertIn("10.77.0.10", body["message"])
        self.assertIn("reserved", body["message"])
        code, body = self.reserve("r3", addresses=["192.168.50.5"])
        self.assertEqual(code, 422, body)
        self.assertIn("outside every IP pool", body["message"])
        code, body = self.reserve("r4", count=300)
        self.assertEqual(code, 422, body)  # validation: at most 256
        code, body = self.reserve("r5", count=3)
        self.assertEqual(code, 201, body)
        wait_for(lambda: len(self.reservation("r5").get("status", {}).get("addresses", [])) == 3, 20,
                 what="r5 holds 3 addresses")
        # kubectl shows them.
        out = self.server.kubectl("get", "ipreservations", "-n", NS).stdout
        self.assertIn("10.77.0.10", out)

    def test_02_vm_takes_a_reserved_address_and_the_reservation_outlives_it(self):
        self.reserve("web", addresses=["10.77.0.20"])
        code, body = self.create_vm("web1", annotations={"kumo.io/ip-reservation": "web"})
        self.assertEqual(code, 201, body)
        wait_for(lambda: self.vmi_ip("web1") == "10.77.0.20", 30, what="web1 gets 10.77.0.20")
        wait_for(lambda: self.reservation("web")["status"]["addresses"] == [{"address": "10.77.0.20", "vm": "web1"}],
                 20, what="reservation shows web1")
        self.server.request("DELETE", f"/apis/kubevirt.io/v1/namespaces/{NS}/virtualmachines/web1")
        wait_for(lambda: self.reservation("web")["status"]["addresses"] == [{"address": "10.77.0.20", "vm": ""}],
                 30, what="address back in the reservation")
        # Another VM can now take it.
        self.create_vm("web2", annotations={"kumo.io/ip-reservation": "web"})
        wait_for(lambda: self.vmi_ip("web2") == "10.77.0.20", 30, what="web2 gets 10.77.0.20")

    def test_03_calico_fixed_ip(self):
        code, body = self.create_vm("fixed1", template_annotations={"cni.projectcalico.org/ipAddrs": '["10.77.0.50"]'})
        self.assertEqual(code, 201, body)
        wait_for(lambda: self.vmi_ip("fixed1") == "10.77.0.50", 30, what="fixed1 gets 10.77.0.50")
        code, body = self.create_vm("fixed2", template_annotations={"cni.projectcalico.org/ipAddrs": '["10.77.0.50"]'})
        self.assertEqual(code, 409, body)
        self.assertIn("in use by VM t1/fixed1", body["message"])
        code, body = self.create_vm("fixed3", template_annotations={"cni.projectcalico.org/ipAddrs": '["172.31.9.9"]'})
        self.assertEqual(code, 422, body)

    def test_04_automatic_address_survives_restart(self):
        self.create_vm("auto1")
        ip = wait_for(lambda: self.vmi_ip("auto1"), 30, what="auto1 gets an address")
        for action in ("stop", "start"):
            code, body = self.server.request(
                "PUT", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachines/auto1/{action}", b"")
            self.assertLess(code, 300, body)
            if action == "stop":
                wait_for(lambda: self.vmi_ip("auto1") is None, 30, what="auto1 stopped")
        self.assertEqual(wait_for(lambda: self.vmi_ip("auto1"), 30, what="auto1 restarted"), ip)

    def test_05_concurrent_creates_get_distinct_addresses(self):
        names = [f"c{i}" for i in range(200)]
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(lambda n: self.create_vm(n)[0], names))
        self.assertEqual(codes, [201] * 200)

        def all_ips():
            ips = [self.vmi_ip(n) for n in names]
            return ips if all(ips) else None
        ips = wait_for(all_ips, 180, interval=2, what="200 VMIs with addresses")
        self.assertEqual(len(set(ips)), 200, "two VMs got the same address")
        code, body = self.server.request("GET", "/apis/kumo.io/v1alpha1/ipallocations")
        held = [i["metadata"]["name"] for i in body["items"]]
        self.assertEqual(len(held), len(set(held)))
        for ip in ips:
            self.assertTrue(ip.startswith("10.77.0."), ip)


if __name__ == "__main__":
    unittest.main()
