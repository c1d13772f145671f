"""Starts a real `kumo server` for integration tests and talks to it.

The server runs on a free port (--listen 127.0.0.1:0) with a temporary data dir; the test
reads the URL from the kubeconfig the server writes.
"""
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

KUMO = os.environ.get("KUMO_BIN", os.path.join(os.path.dirname(__file__), "../../build/kumo"))
# KUBECTL picks another kubectl (the suites also run with Debian's 1.20, the oldest supported).
KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl") or "/usr/bin/kubectl"


class KumoServer:
    """One server process; start(), stop(), kill() (SIGKILL), restart on the same data dir."""

    def __init__(self, data_dir=None, extra_args=()):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="kumo-it-")
        self.extra_args = list(extra_args)
        self.proc = None
        self.url = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        self.cache_dir = tempfile.mkdtemp(prefix="kubectl-cache-")

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "kubeconfig.yaml")

    def start(self, timeout=30):
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [KUMO, "server", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0"]
                + self.extra_args,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kumo server exited: " + self.log()[-2000:])
            if os.path.exists(self.kubeconfig) and "ready" in self.log():
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("kumo server did not become ready: " + self.log()[-2000:])
        cfg = self._read_kubeconfig()
        self.url = cfg["server"]
        self.token = cfg["token"]
        self.ca_file = os.path.join(self.data_dir, "pki", "ca.crt")
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def _read_kubeconfig(self):
        out = subprocess.run(
            [KUBECTL, "--kubeconfig", self.kubeconfig, "config", "view", "--raw", "-o", "json"],
            check=True, capture_output=True, text=True).stdout
        cfg = json.loads(out)
        return {"server": cfg["clusters"][0]["cluster"]["server"],
                "token": cfg["users"][0]["user"]["token"]}

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL: a crash, no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    # --- clients -----------------------------------------------------------------------------
    def kubectl(self, *args, input=None, check=False, timeout=60):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                              check=check)

    def kubectl_popen(self, *args):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + list(args)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca_file)

    def request(self, method, path, body=None, content_type="application/json", headers=None,
                token=True, timeout=30):
        """Returns (status code, parsed JSON or text body)."""
        data = body if isinstance(body, (bytes, type(None))) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", "Bearer " + self.token)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        return send(req, self.ssl_context(), timeout)


def send(req, ctx, timeout=30):
    """(code, parsed JSON or text body) of a urllib request; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
            code, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        code, raw = e.code, e.read()
    try:
        return code, json.loads(raw)
    except ValueError:
        return code, raw.decode(errors="replace")


class StatusAssertions:
    """For unittest.TestCase subclasses. assertStatus: `result` is (code, body) of a request; the
    body must be a Kubernetes Status with that code, with `reason` (and a message) when given,
    and with `fragment` in its message when given. Returns the body."""

    def assertStatus(self, result, code, reason=None, fragment=""):
        got_code, body = result
        self.assertEqual(got_code, code, str(body)[:2000])
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("kind"), "Status", body)
        self.assertEqual(body.get("code"), code, body)
        if reason is not None:
            self.assertEqual(body.get("reason"), reason, body)
            self.assertTrue(body.get("message"))
        if fragment:
            self.assertIn(fragment, body.get("message", ""))
        return body


def kubectl_minor():
    """The minor version of the kubectl the tests use (20 for Debian's 1.20)."""
    if not hasattr(kubectl_minor, "value"):
        out = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True,
                             text=True, check=True).stdout
        minor = json.loads(out)["clientVersion"]["minor"]
        kubectl_minor.value = int("".join(c for c in minor if c.isdigit()))
    return kubectl_minor.value


def kubeconfig_request(kubeconfig, method, path, body=None,
                       content_type="application/json"):
    """(code, parsed body) of a request made with the credentials of `kubeconfig`: its bearer
    token or its client certificate, as kubectl would send them."""
    cfg = json.loads(subprocess.run(
        [KUBECTL, "--kubeconfig", kubeconfig, "config", "view", "--raw", "--minify", "-o",
         "json"], capture_output=True, text=True, check=True).stdout)
    cluster, user = cfg["clusters"][0]["cluster"], cfg["users"][0]["user"]
    with tempfile.TemporaryDirectory() as d:
        ca = os.path.join(d, "ca.crt")
        with open(ca, "wb") as f:
            f.write(base64.b64decode(cluster["certificate-authority-data"]))
        ctx = ssl.create_default_context(cafile=ca)
        if "client-certificate-data" in user:
            cert, key = os.path.join(d, "c.crt"), os.path.join(d, "c.key")
            for path_, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                with open(path_, "wb") as f:
                    f.write(base64.b64decode(user[field]))
            ctx.load_cert_chain(cert, key)
        data = None if body is None else (body if isinstance(body, str) else
                                          json.dumps(body)).encode()
        req = urllib.request.Request(cluster["server"] + path, data=data, method=method)
        if "token" in user:
            req.add_header("Authorization", "Bearer " + user["token"])
        if data is not None:
            req.add_header("Content-Type", content_type)
        return send(req, ctx)


def patch_status(kubeconfig, path, patch):
    """`kubectl patch --subresource status --type merge` of the object at API `path`, for every
    kubectl: --subresource came with 1.24, so older ones send the same request by hand. Returns
    a CompletedProcess whose stderr reads like kubectl's."""
    if kubectl_minor() >= 24:
        parts = path.strip("/").split("/")
        name, plural = parts[-1], parts[-2]
        group = "" if parts[0] == "api" else parts[1]
        resource = plural + ("." + group if group else "")
        args = [KUBECTL, "--kubeconfig", kubeconfig, "patch", resource, name, "--subresource",
                "status", "--type", "merge", "-p", patch]
        if "namespaces" in parts:
            args += ["-n", parts[parts.index("namespaces") + 1]]
        return subprocess.run(args, capture_output=True, text=True, timeout=60)
    code, body = kubeconfig_request(kubeconfig, "PATCH", path + "/status", patch,
                                    "application/merge-patch+json")
    if code < 300:
        return subprocess.CompletedProcess(path, 0, stdout="patched\n", stderr="")
    reason = body.get("reason", "") if isinstance(body, dict) else ""
    message = body.get("message", body) if isinstance(body, dict) else body
    return subprocess.CompletedProcess(path, 1, stdout="",
                                       stderr=f"Error from server ({reason}): {message}\n")


def vm_manifest(name, namespace="demo", run_strategy="Halted", labels=None, extra=None):
    vm = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "web"}},
        "spec": {
            "runStrategy": run_strategy,
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": name}},
                "spec": {
                    "domain": {
                        "cpu": {"cores": 1},
                        "memory": {"guest": "128Mi"},
                        "devices": {
                            "disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}],
                            "interfaces": [{"name": "default", "masquerade": {}}],
                        },
                    },
                    "networks": [{"name": "default", "pod": {}}],
                    "volumes": [{"name": "rootdisk",
                                 "containerDisk": {"image": "tiny"}}],
                },
            },
        },
    }
    if extra:
        vm["spec"].update(extra)
    return vm


class KumoAgent:
    """A real `kumo agent` process for one node, talking to `server`."""

    def __init__(self, server, node_name="node1", data_dir=None, extra_args=()):
        self.server = server
        self.node_name = node_name
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=f"kumo-agent-{node_name}-")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "agent.log")

    def start(self, timeout=60):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [KUMO, "agent", "--kubeconfig", self.server.kubeconfig, "--node-name", self.node_name,
                 "--data-dir", self.data_dir, "--accel", "tcg", "--listen", "127.0.0.1:0"]
                + self.extra_args,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kumo agent exited: " + self.log()[-2000:])
            if "kumo agent ready" in self.log():
                return self
            time.sleep(0.1)
        raise RuntimeError("kumo agent did not become ready: " + self.log()[-2000:])

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def vm_dir(self, namespace, name):
        return os.path.join(self.data_dir, "vms", f"{namespace}_{name}")

    def console_log(self, namespace, name):
        try:
            with open(os.path.join(self.vm_dir(namespace, name), "console.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        """Stops the agent and every QEMU it started (by pid), then removes its data dir."""
        self.stop()
        for pid in qemu_pids(self.data_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.data_dir, ignore_errors=True)


def qemu_pids(path_fragment, vm_name=None):
    """Pids of QEMU processes whose command line mentions `path_fragment` (and `-name vm_name`)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if not args or b"qemu-system" not in args[0]:
            continue
        cmd = b" ".join(args).decode(errors="replace")
        if path_fragment not in cmd:
            continue
        if vm_name is not None:
            try:
                if args[args.index(b"-name") + 1].decode().split(",")[0] != vm_name:
                    continue
            except (ValueError, IndexError):
                continue
        pids.append(int(entry))
    return pids


def wait_for(predicate, timeout=180, interval=0.5, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


IMAGE_DIR = os.environ.get("KUMO_TEST_IMAGE_DIR", "/var/tmp/kumo-test-images")


def build_tiny_image(server):
    """Builds (or reuses) the tiny image and registers it with `server`."""
    r = subprocess.run([KUMO, "image", "build", "tiny", "--kubeconfig", server.kubeconfig,
                        "--image-dir", IMAGE_DIR], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise RuntimeError("kumo image build tiny failed:\n" + r.stdout + r.stderr)


class KumoLab:
    """A real `kumo lab` (network namespaces, BIRD top of rack, agents) for end-to-end tests."""

    def __init__(self, nodes=2, lab_id=7):
        self.data_dir = tempfile.mkdtemp(prefix="kumo-lab-")
        self.nodes = nodes
        self.lab_id = lab_id
        self.cache_dir = tempfile.mkdtemp(prefix="kubectl-cache-")

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "server", "kubeconfig.yaml")

    def up(self):
        # The lab builds its own copy of the tiny image; reuse the shared cache when present.
        shared = os.path.join(IMAGE_DIR, ".cache")
        if os.path.isdir(shared):
            os.makedirs(os.path.join(self.data_dir, "images"), exist_ok=True)
            subprocess.run(["cp", "-a", shared, os.path.join(self.data_dir, "images", ".cache")])
        r = subprocess.run([KUMO, "lab", "up", "--nodes", str(self.nodes), "--id", str(self.lab_id),
                            "--data-dir", self.data_dir], capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise RuntimeError("kumo lab up failed:\n" + r.stdout + r.stderr)
        return self

    def down(self):
        subprocess.run([KUMO, "lab", "down", "--data-dir", self.data_dir], capture_output=True, timeout=300)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    def exec(self, host, *cmd, timeout=30):
        return subprocess.run([KUMO, "lab", "exec", host, "--data-dir", self.data_dir, "--"] + list(cmd),
                              capture_output=True, text=True, timeout=timeout)

    def kubectl(self, *args, input=None, timeout=60):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)

    def tor_route(self, ip):
        """The top of rack's route to `ip` ("" when it has none)."""
        r = self.exec("tor", "ip", "route", "show", ip + "/32")
        return r.stdout.strip()

    def fetch(self, ip):
        """The VM's HTTP page as seen from the outside host ("" when it does not answer)."""
        r = self.exec("outside", "curl", "-s", "-m", "3", f"http://{ip}/", timeout=15)
        return r.stdout if r.returncode == 0 else ""

    def console_log(self, node, namespace, name):
        try:
            with open(os.path.join(self.data_dir, node, "vms", f"{namespace}_{name}", "console.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""
