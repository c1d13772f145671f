"""Bad input gets a 4xx Status with a clear reason, never a crash or a 500, and damages nothing
stored."""
import json
import time
import unittest

from kumo_harness import KumoServer, StatusAssertions, vm_manifest

VMS = "/apis/kubevirt.io/v1/namespaces/demo/virtualmachines"


class BadInputTest(StatusAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.server.request("POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
        code, body = cls.server.request("POST", VMS, vm_manifest("keep"))
        assert code == 201, body
        # The VM controller writes the VM's status once; take the object after that.
        deadline = time.time() + 30
        while time.time() < deadline:
            code, body = cls.server.request("GET", VMS + "/keep")
            if body.get("status", {}).get("printableStatus") == "Stopped":
                break
            time.sleep(0.1)
        time.sleep(0.5)
        code, body = cls.server.request("GET", VMS + "/keep")
        cls.original = body

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()


    def tearDown(self):
        # Whatever the bad request was, the stored VM is unchanged and the server is healthy.
        code, body = self.server.request("GET", VMS + "/keep")
        self.assertEqual(code, 200)
        self.assertEqual(body["metadata"]["resourceVersion"], self.original["metadata"]["resourceVersion"])
        self.assertEqual(self.server.request("GET", "/healthz")[0], 200)

    def test_malformed_json(self):
        self.assertStatus(self.server.request("POST", VMS, '{"apiVersion": "kubevirt.io/v1", "kind":'),
                          400, "BadRequest")
        self.assertStatus(self.server.request("PUT", VMS + "/keep", "[1,2"), 400, "BadRequest")
        self.assertStatus(self.server.request("PATCH", VMS + "/keep", "{not json",
                                              content_type="application/merge-patch+json"), 400, "BadRequest")

    def test_malformed_yaml(self):
        self.assertStatus(self.server.request("POST", VMS, "kind: [unclosed\n  - x: :",
                                              content_type="application/yaml"), 400, "BadRequest")

    def test_wrong_kind_and_api_version(self):
        m = vm_manifest("x")
        m["kind"] = "Pod"
        body = self.assertStatus(self.server.request("POST", VMS, m), 400, "BadRequest")
        self.assertIn("Pod", body["message"])
        m = vm_manifest("x")
        m["apiVersion"] = "kubevirt.io/v2"
        self.assertStatus(self.server.request("POST", VMS, m), 400, "BadRequest")

    def test_body_too_large(self):
        m = vm_manifest("big")
        m["metadata"]["annotations"] = {"blob": "x" * (4 * 1024 * 1024)}
        self.assertStatus(self.server.request("POST", VMS, m), 413, "RequestEntityTooLarge")

    def test_bad_selectors(self):
        self.assertStatus(self.server.request("GET", VMS + "?labelSelector=a%20in%20(b"), 400, "BadRequest")
        body = self.assertStatus(self.server.request("GET", VMS + "?fieldSelector=spec.secret%3Dx"), 400, "BadRequest")
        self.assertIn("field label not supported", body["message"])
        self.assertStatus(self.server.request("GET", VMS + "?limit=-3"), 400, "BadRequest")
        self.assertStatus(self.server.request("GET", VMS + "?continue=zz"), 400, "BadRequest")

    def test_invalid_names_and_fields(self):
        body = self.assertStatus(self.server.request("POST", VMS, vm_manifest("Bad_Name")), 422, "Invalid")
        self.assertEqual(body["details"]["causes"][0]["field"], "metadata.name")
        body = self.assertStatus(self.server.request("POST", VMS, vm_manifest("x", run_strategy="Sometimes")),
                                 422, "Invalid")
        self.assertIn("spec.runStrategy", body["message"])
        m = vm_manifest("x")
        m["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = "lots"
        body = self.assertStatus(self.server.request("POST", VMS, m), 422, "Invalid")
        self.assertIn("spec.template.spec.domain.memory.guest", body["message"])
        m = vm_manifest("x")
        m["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]["name"] = "nope"
        self.assertStatus(self.server.request("POST", VMS, m), 422, "Invalid")
        m = vm_manifest("x", extra={"running": True})
        self.assertStatus(self.server.request("POST", VMS, m), 422, "Invalid")

    def test_conflicts(self):
        self.assertStatus(self.server.request("POST", VMS, vm_manifest("keep")), 409, "AlreadyExists")
        stale = dict(self.original)
        stale["metadata"] = dict(stale["metadata"], resourceVersion="1")
        self.assertStatus(self.server.request("PUT", VMS + "/keep", stale), 409, "Conflict")

    def test_not_found(self):
        body = self.assertStatus(self.server.request("GET", VMS + "/nope"), 404, "NotFound")
        self.assertEqual(body["details"]["name"], "nope")
        self.assertStatus(self.server.request("GET", "/apis/kubevirt.io/v1/namespaces/demo/unicorns"), 404, "NotFound")
        self.assertStatus(self.server.request("POST", "/apis/kubevirt.io/v1/namespaces/missing/virtualmachines",
                                              vm_manifest("x", namespace="missing")), 404, "NotFound")

    def test_bad_patches(self):
        self.assertStatus(self.server.request("PATCH", VMS + "/keep", '[{"op":"remove","path":"/spec/nothing"}]',
                                              content_type="application/json-patch+json"), 422, "Invalid")
        self.assertStatus(self.server.request("PATCH", VMS + "/keep", '{"spec":{"runStrategy":"Nope"}}',
                                              content_type="application/merge-patch+json"), 422, "Invalid")
        self.assertStatus(self.server.request("PATCH", VMS + "/keep", '{}', content_type="text/plain"),
                          415, "UnsupportedMediaType")

    def test_unauthenticated(self):
        self.assertStatus(self.server.request("GET", VMS, token=False), 401, "Unauthorized")
        self.assertStatus(self.server.request("GET", VMS, headers={"Authorization": "Bearer wrong"}, token=False),
                          401, "Unauthorized")

    def test_metrics(self):
        code, text = self.server.request("GET", "/metrics")
        self.assertEqual(code, 200)
        self.assertIn('apiserver_request_total{verb="GET",resource="virtualmachines"', text)
        self.assertIn("apiserver_request_duration_seconds_bucket", text)
        self.assertIn("kumo_store_operation_duration_seconds", text)


if __name__ == "__main__":
    unittest.main()
