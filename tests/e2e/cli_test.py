"""The `kumo` CLI with the real server, agent and QEMU: from a fresh server to a booted VM in at
most three counted commands, the VM verbs on a running VM, the serial console driven in tmux
(prompt, a command, its output, detach) through the API server's console subresource, the
console log, and the errors around them. The console is also opened with an independent
WebSocket client (python3-websocket), the way virtctl opens it."""
import json
import os
import re
import ssl
import subprocess
import time
import unittest
import uuid

import websocket

from kumo_cli import KumoCli
from kumo_harness import IMAGE_DIR, KUMO, KumoAgent, KumoServer, qemu_pids, wait_for

NS = "default"


class CliE2ETest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = KumoServer().start()
        cls.agent = KumoAgent(cls.server, "node1").start()
        cls.cli = KumoCli(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.agent.cleanup()
        cls.server.cleanup()
        cls.cli.cleanup()

    def kumo(self, *args, **kw):
        return self.cli.ok(self, *args, **kw)

    def fails(self, code, *args, **kw):
        return self.cli.fails(self, code, *args, **kw)

    def vmi(self, name):
        r = self.server.kubectl("get", "vmi", name, "-n", NS, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    # --- from nothing to a booted VM ----------------------------------------------------------
    def test_01_booted_vm_in_at_most_three_commands(self):
        start = self.cli.count
        self.kumo("image", "build", "tiny", "--image-dir", IMAGE_DIR, timeout=900)
        r = self.kumo("vm", "create", "web1", "--image", "tiny", "--wait", timeout=400)
        commands = self.cli.count - start
        self.assertLessEqual(commands, 3)
        # Progress while waiting, then either the IP that answered or a note why it was not checked.
        self.assertIn("web1: Scheduling...", r.stderr)
        self.assertIn("web1: Running on node1", r.stderr)
        vmi = self.vmi("web1")
        self.assertEqual(vmi["status"]["phase"], "Running")
        wait_for(lambda: "KUMO-BOOT-OK" in self.agent.console_log(NS, "web1"), 240, what="boot marker")
        ip = vmi["status"]["interfaces"][0]["ipAddress"]
        if r.stdout.strip():
            self.assertEqual(r.stdout.strip(), ip)
            self.assertIn(f"{ip} answers", r.stderr)
        else:
            self.assertIn("note: skipping the reachability check", r.stderr)
        print(f"\n  booted web1 with {commands} kumo commands; --wait said: {r.stderr.strip().splitlines()[-1]}")

    # --- verbs on a running VM ----------------------------------------------------------------
    def test_02_list_show_log(self):
        rows = self.kumo("vm", "list").stdout.splitlines()
        row = next(l for l in rows if l.startswith("web1 ")).split()
        self.assertEqual(row[1], "Running")
        self.assertEqual(row[3:6], ["node1", "k1.tiny", "tiny"])
        shown = self.kumo("vm", "show", "web1").stdout
        self.assertIn("Node:", shown)
        self.assertIn("Events:", shown)
        nodes = self.kumo("node", "list").stdout
        node_row = next(l for l in nodes.splitlines() if l.startswith("node1 ")).split()
        self.assertEqual(node_row[1:3], ["Ready", "1"])
        self.assertIn("default/web1", self.kumo("node", "show", "node1").stdout)
        log = self.kumo("vm", "log", "web1").stdout
        self.assertIn("KUMO-BOOT-OK", log)
        tail = self.kumo("vm", "log", "web1", "--tail", "3").stdout
        self.assertLessEqual(len(tail.rstrip("\n").split("\n")), 3)
        self.assertTrue(log.endswith(tail), (tail, log[-300:]))
        self.assertIn('VM "nope" not found', self.fails(1, "vm", "log", "nope"))

    def test_03_console_in_tmux(self):
        sock = "kumo-test-" + uuid.uuid4().hex[:8]
        out = os.path.join(self.cli.home, "console-exit")
        env_prefix = " ".join(f"{k}={v}" for k, v in [("KUBECONFIG", self.server.kubeconfig),
                                                      ("HOME", self.cli.home)])
        cmd = f"env {env_prefix} {KUMO} vm console web1; echo \"exit=$?\" > {out}; sleep 30"
        tmux = ["tmux", "-L", sock]
        subprocess.run(tmux + ["new-session", "-d", "-s", "console", "-x", "160", "-y", "40", cmd], check=True)
        try:
            def pane():
                return subprocess.run(tmux + ["capture-pane", "-p", "-t", "console", "-S", "-200"],
                                      capture_output=True, text=True).stdout

            wait_for(lambda: "Ctrl-] detaches" in pane(), 30, what="console attached")
            # The guest's shell prompt ("# ") after Enter.
            def prompt():
                subprocess.run(tmux + ["send-keys", "-t", "console", "Enter"])
                time.sleep(1)
                return re.search(r"#\s*$", pane(), re.M)  # capture-pane drops the trailing space
            wait_for(prompt, 60, interval=1, what="the guest's prompt")
            subprocess.run(tmux + ["send-keys", "-t", "console", "-l", "echo hello-$((1+1))"], check=True)
            subprocess.run(tmux + ["send-keys", "-t", "console", "Enter"], check=True)
            wait_for(lambda: re.search(r"^hello-2\r?$", pane(), re.M), 30, what="hello-2 from the guest")
            subprocess.run(tmux + ["send-keys", "-t", "console", "C-]"], check=True)
            wait_for(lambda: os.path.exists(out), 15, what="kumo vm console to exit on Ctrl-]")
            with open(out) as f:
                self.assertEqual(f.read().strip(), "exit=0")
            self.assertIn("Detached from VM web1", pane())
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)
        # The VM kept running.
        self.assertEqual(self.vmi("web1")["status"]["phase"], "Running")

    def console_socket(self, token=None):
        ctx = ssl.create_default_context(cafile=self.server.ca_file)
        url = self.server.url.replace("https://", "wss://") + \
            f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/web1/console"
        return websocket.create_connection(
            url, sslopt={"context": ctx}, subprotocols=["plain.kubevirt.io"], timeout=30,
            header=[f"Authorization: Bearer {token or self.server.token}"])

    def test_03b_console_subresource_as_virtctl_opens_it(self):
        ws = self.console_socket()
        try:
            self.assertEqual(ws.getsubprotocol(), "plain.kubevirt.io")
            # A second session on the same VM is refused while the first is attached.
            with self.assertRaises(websocket.WebSocketBadStatusException) as refused:
                self.console_socket()
            self.assertEqual(refused.exception.status_code, 409)
            err = self.fails(1, "vm", "console", "web1")
            self.assertIn("in use by another session", err)
            # Raw serial bytes travel in binary frames both ways.
            ws.send_binary(b"echo ws-$((40+2))\r")
            seen = b""
            deadline = time.time() + 30
            while b"ws-42" not in seen.replace(b"$((40+2))", b"") and time.time() < deadline:
                op, data = ws.recv_data()
                self.assertEqual(op, websocket.ABNF.OPCODE_BINARY)
                seen += data
            self.assertIn(b"ws-42", seen.replace(b"$((40+2))", b""))
            # `kumo vm log -f` follows the console log while the session runs.
            follow = subprocess.Popen([KUMO, "vm", "log", "web1", "-f", "--tail", "0"],
                                      env=self.cli.env, stdout=subprocess.PIPE, text=True)
            try:
                time.sleep(1)
                ws.send_binary(b"echo followed-$((2*21))\r")
                deadline = time.time() + 30
                line = ""
                while "followed-42" not in line.replace("$((2*21))", "") and time.time() < deadline:
                    line = follow.stdout.readline()
                self.assertIn("followed-42", line.replace("$((2*21))", ""))
            finally:
                follow.terminate()
                follow.wait(10)
                follow.stdout.close()
        finally:
            ws.close()
        # Once detached, the console can be opened again.
        def reopened():
            try:
                self.console_socket().close()
                return True
            except websocket.WebSocketBadStatusException:
                return False
        wait_for(reopened, 15, what="the console to be free again")
        # A malformed tailLines is the client's mistake, explained.
        code, body = self.server.request(
            "GET", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/web1/consolelog?tailLines=abc")
        self.assertEqual(code, 400)
        self.assertIn("tailLines must be a non-negative integer", body["message"])
        # A plain GET (no WebSocket upgrade) gets a Status saying what to do.
        code, body = self.server.request(
            "GET", f"/apis/subresources.kubevirt.io/v1/namespaces/{NS}/virtualmachineinstances/web1/console")
        self.assertEqual(code, 400)
        self.assertIn("WebSocket", body["message"])

    def test_04_stop_start_restart(self):
        self.assertIn("cannot start VM \"web1\": VM is already running (Conflict)",
                      self.fails(1, "vm", "start", "web1"))
        # A console attached while the VM stops ends by itself and says why.
        attached = subprocess.Popen([KUMO, "vm", "console", "web1"], env=self.cli.env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(2)
            self.assertIsNone(attached.poll(), "the console should stay attached")
            r = self.kumo("vm", "stop", "web1", "--wait", timeout=200)
            self.assertIn("web1: Stopped", r.stderr)
            _, err = attached.communicate(timeout=60)
        finally:
            if attached.poll() is None:
                attached.kill()
                attached.communicate()
        self.assertEqual(attached.returncode, 0, err)
        self.assertIn("The console of VM web1 closed (the VM stopped?)", err)
        self.assertEqual(qemu_pids(self.agent.data_dir, f"{NS}_web1"), [])
        self.assertIn("VM \"web1\" has no console log (it is Stopped)", self.fails(1, "vm", "log", "web1"))
        self.assertIn("not running", self.fails(1, "vm", "console", "web1"))
        r = self.kumo("vm", "start", "web1", "--wait", timeout=300)
        self.assertIn("web1: Running on node1", r.stderr)
        old = self.vmi("web1")["metadata"]["uid"]
        r = self.kumo("vm", "restart", "web1", "--wait", timeout=300)
        self.assertIn("Running on node1", r.stderr)
        self.assertNotEqual(self.vmi("web1")["metadata"]["uid"], old)

    def test_05_ssh_needs_a_routable_ip(self):
        ip = self.vmi("web1")["status"]["interfaces"][0]["ipAddress"]
        if not ip.startswith("10.0.2."):
            self.skipTest(f"the VM has a routable IP ({ip}); ssh would really connect")
        err = self.fails(1, "vm", "ssh", "web1")
        self.assertIn("cannot ssh to VM \"web1\"", err)
        self.assertIn("kumo vm console web1", err)

    def test_06_errors_while_waiting(self):
        # A flavor too big for any node: --wait reports it instead of hanging.
        self.assertIn("image \"nope\" not found (NotFound)",
                      self.fails(1, "vm", "create", "bad", "--image", "nope", "--wait"))
        r = self.cli.run("vm", "create", "huge", "--image", "tiny", "--flavor", "u1.2xlarge", "--wait",
                         "--timeout", "15", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("Error: VM \"huge\" is not running after 15s", r.stderr)
        self.kumo("vm", "delete", "huge", "--wait")

    def test_07_delete(self):
        self.kumo("vm", "delete", "web1", "--wait", timeout=200)
        wait_for(lambda: not qemu_pids(self.agent.data_dir, f"{NS}_web1"), 60, what="QEMU gone")
        self.assertNotIn("web1", self.kumo("vm", "list").stdout)


if __name__ == "__main__":
    unittest.main()
