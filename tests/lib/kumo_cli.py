"""Runs the user CLI (`kumo vm|ip|image|...`) the way a user would: KUBECONFIG pointing at a
test server and HOME in a temporary directory (templates, SSH keys), and checks manifests
against the OpenAPI schema the server serves."""
import json
import os
import shutil
import subprocess
import tempfile

from kumo_harness import KUMO


class KumoCli:
    """`kumo` commands against one server. Counts the commands it ran (self.count)."""

    def __init__(self, server, extra_env=None):
        self.server = server
        self.home = tempfile.mkdtemp(prefix="kumo-cli-home-")
        self.env = dict(os.environ)
        self.env.update({"KUBECONFIG": server.kubeconfig, "HOME": self.home})
        self.env.pop("KUMO_AGENT_DIR", None)
        self.env.update(extra_env or {})
        self.count = 0

    def run(self, *args, input=None, timeout=120, env=None):
        self.count += 1
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([KUMO] + list(args), input=input, capture_output=True, text=True,
                              timeout=timeout, env=e)

    def ok(self, testcase, *args, **kw):
        r = self.run(*args, **kw)
        testcase.assertEqual(r.returncode, 0, f"kumo {' '.join(args)}:\n{r.stdout}\n{r.stderr}")
        return r

    def fails(self, testcase, code, *args, **kw):
        """Runs a command that must fail with exit code `code`; returns its one-line error."""
        r = self.run(*args, **kw)
        testcase.assertEqual(r.returncode, code, f"kumo {' '.join(args)}:\n{r.stdout}\n{r.stderr}")
        errors = [l for l in r.stderr.splitlines() if l.startswith("Error: ")]
        testcase.assertEqual(len(errors), 1, f"one error line expected:\n{r.stderr}")
        return errors[0]

    def cleanup(self):
        shutil.rmtree(self.home, ignore_errors=True)


def resolve(doc, schema):
    while "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        schema = doc["components"]["schemas"][name]
    if "allOf" in schema and len(schema["allOf"]) == 1 and "properties" not in schema:
        schema = resolve(doc, schema["allOf"][0])
    return schema


def strict_errors(doc, schema, value, path="", free_maps=("labels", "annotations", "nodeSelector")):
    """Every field of `value` must be declared in `schema` with a matching type. Returns a list
    of problems (empty when the value conforms). Maps whose values the schema leaves open
    (additionalProperties) are checked value by value."""
    schema = resolve(doc, schema)
    problems = []
    t = schema.get("type")
    if isinstance(value, dict):
        if t not in (None, "object"):
            return [f"{path}: is an object, the schema says {t}"]
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None and extra is None:
            if schema.get("x-kubernetes-preserve-unknown-fields"):
                return []
            if not value:
                return []  # an empty object such as bridge: {}
            return [f"{path}: the schema declares no fields here but the value has {sorted(value)}"]
        for k, v in value.items():
            p = f"{path}.{k}" if path else k
            if props and k in props:
                problems += strict_errors(doc, props[k], v, p)
            elif isinstance(extra, dict):
                problems += strict_errors(doc, extra, v, p)
            elif extra is True:
                continue
            else:
                problems.append(f"{p}: not a field of the schema")
        for req in schema.get("required", []):
            if req not in value:
                problems.append(f"{path}.{req}: required by the schema but missing")
    elif isinstance(value, list):
        if t not in (None, "array"):
            return [f"{path}: is a list, the schema says {t}"]
        for i, item in enumerate(value):
            problems += strict_errors(doc, schema.get("items", {}), item, f"{path}[{i}]")
    elif isinstance(value, bool):
        if t not in (None, "boolean"):
            problems.append(f"{path}: is a boolean, the schema says {t}")
    elif isinstance(value, (int, float)):
        if t not in (None, "integer", "number") and not schema.get("x-kubernetes-int-or-string"):
            problems.append(f"{path}: is a number, the schema says {t}")
    elif isinstance(value, str):
        if t not in (None, "string") and not schema.get("x-kubernetes-int-or-string"):
            problems.append(f"{path}: is a string, the schema says {t}")
        if "enum" in schema and value not in schema["enum"]:
            problems.append(f"{path}: {value!r} is not one of {schema['enum']}")
    return problems


def schema_for_kind(doc, group, version, kind):
    for name, s in doc["components"]["schemas"].items():
        for gvk in s.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group") == group and gvk.get("version") == version and gvk.get("kind") == kind:
                return s
    raise KeyError(f"no schema for {group}/{version} {kind}")


def leaf_paths(value, path=""):
    """Dotted paths of every leaf (lists as [])."""
    if isinstance(value, dict) and value:
        out = []
        for k, v in value.items():
            out += leaf_paths(v, f"{path}.{k}" if path else k)
        return out
    if isinstance(value, list) and value:
        out = []
        for v in value:
            out += leaf_paths(v, f"{path}[]")
        return sorted(set(out))
    return [path]


def load_yaml_or_none(text):
    try:
        import yaml  # PyYAML, when installed
    except ImportError:
        return None
    return yaml.safe_load(text)


def parse_json(text):
    return json.loads(text)
