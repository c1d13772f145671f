"""Expansion bombs and bytes that are not text: small requests that would cost the server far
more than they weigh, or store what it cannot read back. Each gets a Kubernetes Status
(413 RequestEntityTooLarge or 422 Invalid), the server keeps answering, and nothing stored
changes."""
import base64
import json
import unittest

from kumo_harness import KumoServer, StatusAssertions

NS = "sec"
SECRETS = "/api/v1/namespaces/%s/secrets" % NS
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
MAX_OBJECT_BYTES = 1536 * 1024  # kMaxObjectBytes in src/common/json.h


def alias_bomb(levels=9, fanout=9):
    """YAML whose aliases expand to fanout**levels values (9**9 = 387 million)."""
    lines = ["a0: &a0 [" + ", ".join(["x"] * fanout) + "]"]
    for level in range(1, levels + 1):
        lines.append("a%d: &a%d [%s]" % (level, level, ", ".join(["*a%d" % (level - 1)] * fanout)))
    return "\n".join(lines) + "\n"


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def secret_protobuf(name, labels):
    """A v1 Secret as kubectl sends it: b'k8s\\0' + runtime.Unknown{typeMeta=1, raw=2}."""
    meta = field(1, name.encode())
    for k, v in labels.items():
        meta += field(11, field(1, k) + field(2, v))
    secret = field(1, meta) + field(2, field(1, b"key") + field(2, b"value"))
    type_meta = field(1, b"v1") + field(2, b"Secret")
    return b"k8s\x00" + field(1, type_meta) + field(2, secret)


class ExpansionTest(StatusAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        code, body = cls.server.request("POST", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        assert code == 201, body
        code, body = cls.server.request("POST", SECRETS, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "keep", "labels": {"app": "x"}},
            "data": {"small": base64.b64encode(b"hello").decode()}})
        assert code == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.kept = self.get("keep")

    def tearDown(self):
        # Whatever was sent, the server is alive and answering (a bomb used to stop it for good;
        # the bound is loose for loaded CI machines), and "keep" is unchanged.
        self.assertIsNone(self.server.proc.poll(), "the server exited")
        code, _ = self.server.request("GET", "/healthz", timeout=30)
        self.assertEqual(code, 200)
        self.assertEqual(self.get("keep"), self.kept)

    def get(self, name):
        code, body = self.server.request("GET", SECRETS + "/" + name)
        return body if code == 200 else code


    def test_yaml_alias_bomb_create(self):
        doc = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: bomb\n"
               "stringData:\n  k: v\n") + alias_bomb()
        self.assertLess(len(doc), 1000)
        self.assertStatus(self.server.request("POST", SECRETS, doc, content_type="application/yaml"),
                          413, "RequestEntityTooLarge")
        self.assertEqual(self.get("bomb"), 404)

    def test_yaml_alias_bomb_access_review(self):
        doc = ("apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\n"
               "spec:\n  resourceAttributes: {verb: get, resource: secrets, namespace: sec}\n"
               ) + alias_bomb()
        self.assertStatus(self.server.request("POST", SSAR, doc, content_type="application/yaml"),
                          413, "RequestEntityTooLarge")
        # The review reads YAML whatever the content type says.
        self.assertStatus(self.server.request("POST", SSAR, doc), 413, "RequestEntityTooLarge")

    def test_json_patch_of_doubling_copies(self):
        ops = [{"op": "copy", "from": "", "path": "/copy%d" % i} for i in range(40)]
        self.assertStatus(self.server.request("PATCH", SECRETS + "/keep", ops,
                                              content_type="application/json-patch+json"),
                          413, "RequestEntityTooLarge")

    def test_json_patch_with_too_many_operations(self):
        ops = [{"op": "test", "path": "/kind", "value": "Secret"}] * 10001
        body = self.assertStatus(self.server.request("PATCH", SECRETS + "/keep", ops,
                                                     content_type="application/json-patch+json"),
                                 413, "RequestEntityTooLarge")
        self.assertIn("10000", body["message"])

    def test_merge_patch_growing_past_the_object_limit(self):
        # Each patch fits in a request body; together they would pass the object limit.
        chunk = base64.b64encode(b"\0" * (MAX_OBJECT_BYTES // 2)).decode()
        code, body = self.server.request("POST", SECRETS, {
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "grow"}, "data": {"a": chunk}})
        self.assertEqual(code, 201, str(body)[:500])
        before = self.get("grow")
        for ct in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            self.assertStatus(self.server.request("PATCH", SECRETS + "/grow", {"data": {"b": chunk}},
                                                  content_type=ct), 413, "RequestEntityTooLarge")
        # A single create or replace of that size is refused the same way.
        big = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "big"},
               "data": {"a": chunk, "b": chunk}}
        self.assertStatus(self.server.request("POST", SECRETS, big), 413, "RequestEntityTooLarge")
        self.assertEqual(self.get("big"), 404)
        replaced = dict(before, data={"a": chunk, "b": chunk})
        self.assertStatus(self.server.request("PUT", SECRETS + "/grow", replaced),
                          413, "RequestEntityTooLarge")
        self.assertEqual(self.get("grow"), before)

    def test_deep_nesting_patch(self):
        # Copy a map into itself, one level deeper each time: past 64 levels the stored object
        # could never be parsed (read, listed or deleted) again.
        path = "/nest"
        ops = [{"op": "add", "path": path, "value": {}}]
        for _ in range(70):
            ops.append({"op": "copy", "from": "/nest", "path": path + "/n"})
            path += "/n"
        body = self.assertStatus(self.server.request("PATCH", SECRETS + "/keep", ops,
                                                     content_type="application/json-patch+json"),
                                 422, "Invalid")
        self.assertIn("64 levels", body["message"])
        # A body nested that deep is refused as it is read.
        deep = "x: " + "[" * 70 + "]" * 70 + "\n"
        doc = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: deep\n" + deep
        self.assertStatus(self.server.request("POST", SECRETS, doc, content_type="application/yaml"),
                          400, "BadRequest")
        self.assertEqual(self.get("deep"), 404)

    def test_invalid_utf8_in_yaml_label(self):
        doc = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: latin1\n  labels:\n    app: caf\xe9\n"
        body = self.assertStatus(self.server.request("POST", SECRETS, doc, content_type="application/yaml"),
                                 422, "Invalid")
        self.assertEqual(body["details"]["causes"][0]["field"], "metadata.labels.app")
        self.assertEqual(self.get("latin1"), 404)
        # As a patch too (apply patches are YAML).
        patch = b"metadata:\n  labels:\n    app: caf\xe9\n"
        self.assertStatus(self.server.request("PATCH", SECRETS + "/keep", patch,
                                              content_type="application/apply-patch+yaml"),
                          422, "Invalid")

    def test_invalid_utf8_in_json(self):
        doc = b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"j","labels":{"app":"caf\xe9"}}}'
        body = self.assertStatus(self.server.request("POST", SECRETS, doc), 422, "Invalid")
        self.assertEqual(body["details"]["causes"][0]["field"], "metadata.labels.app")
        self.assertEqual(self.get("j"), 404)

    def test_invalid_utf8_in_protobuf_secret(self):
        ok = secret_protobuf("proto-ok", {b"app": b"caf\xc3\xa9"})
        code, body = self.server.request("POST", SECRETS, ok,
                                         content_type="application/vnd.kubernetes.protobuf")
        self.assertEqual(code, 201, body)
        self.assertEqual(self.get("proto-ok")["metadata"]["labels"]["app"], "caf\u00e9")
        bad = secret_protobuf("proto-bad", {b"app": b"caf\xe9"})
        body = self.assertStatus(self.server.request("POST", SECRETS, bad,
                                                     content_type="application/vnd.kubernetes.protobuf"),
                                 422, "Invalid")
        self.assertEqual(body["details"]["causes"][0]["field"], "metadata.labels.app")
        self.assertEqual(self.get("proto-bad"), 404)
        # The list of secrets still reads back.
        code, body = self.server.request("GET", SECRETS)
        self.assertEqual(code, 200)
        names = [i["metadata"]["name"] for i in body["items"]]
        self.assertIn("proto-ok", names)
        self.assertNotIn("proto-bad", names)


if __name__ == "__main__":
    unittest.main()
