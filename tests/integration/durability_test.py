"""State survives restarts and crashes: after a clean restart every object is there with the
same resourceVersion; after kill -9 during a burst of concurrent creates, every create that got
201 is there."""
import concurrent.futures
import json
import threading
import time
import unittest

from kumo_harness import KumoServer, vm_manifest


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.server = KumoServer().start()
        code, _ = self.server.request("POST", "/api/v1/namespaces",
                                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        self.assertEqual(code, 201)

    def tearDown(self):
        self.server.cleanup()

    def list_versions(self):
        code, body = self.server.request("GET", "/apis/kubevirt.io/v1/virtualmachines")
        self.assertEqual(code, 200, body)
        return {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in body["items"]}

    def test_restart_keeps_objects_and_versions(self):
        for i in range(20):
            code, body = self.server.request("POST", "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines",
                                             vm_manifest(f"vm{i}"))
            self.assertEqual(code, 201, body)
        self.server.request("PATCH", "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/vm3",
                            {"metadata": {"labels": {"changed": "yes"}}},
                            content_type="application/merge-patch+json")
        # Let the VM controller finish writing each VM's status before taking the snapshot.
        deadline = time.time() + 30
        while time.time() < deadline:
            code, body = self.server.request("GET", "/apis/kubevirt.io/v1/virtualmachines")
            if all(i.get("status", {}).get("printableStatus") for i in body["items"]):
                break
            time.sleep(0.1)
        time.sleep(1)
        before = self.list_versions()
        self.assertEqual(len(before), 20)
        self.server.stop()
        self.server.start()
        after = self.list_versions()
        self.assertEqual(before, after)
        # The revision counter continues after the restart: a new write gets a newer version.
        code, body = self.server.request("POST", "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines",
                                         vm_manifest("vm-new"))
        self.assertEqual(code, 201)
        self.assertGreater(int(body["metadata"]["resourceVersion"]), max(int(v) for v in after.values()))
        r = self.server.kubectl("get", "vm", "vm3", "-n", "demo", "-o", "jsonpath={.metadata.labels.changed}")
        self.assertEqual(r.stdout, "yes")

    def test_kill9_during_burst_loses_no_acknowledged_create(self):
        acknowledged = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(worker):
            n = 0
            while not stop.is_set() and n < 2000:
                name = f"w{worker}-{n}"
                n += 1
                try:
                    code, _ = self.server.request(
                        "POST", "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines",
                        vm_manifest(name), timeout=10)
                except Exception:
                    return  # the server died under us
                if code == 201:
                    with lock:
                        acknowledged.append(name)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(writer, w) for w in range(16)]
            deadline = time.time() + 30
            while time.time() < deadline:
                with lock:
                    if len(acknowledged) >= 200:
                        break
                time.sleep(0.05)
            self.server.kill()  # SIGKILL in the middle of the burst
            stop.set()
            for f in futures:
                f.result()
        self.assertGreater(len(acknowledged), 50)
        self.server.start()
        present = set(self.list_versions())
        missing = [n for n in acknowledged if n not in present]
        self.assertEqual(missing, [], f"{len(missing)} acknowledged creates lost")


if __name__ == "__main__":
    unittest.main()
