// `kumo vm console`, `kumo vm log` and `kumo vm ssh`.
//
// Console and log go through the API server, which proxies them to the agent of the VM's node:
// the console is KubeVirt's `console` subresource (a WebSocket, as virtctl uses it), the log
// Kumo's `consolelog` subresource. They work from any host that can reach the API server.
#include <unistd.h>
#include <termios.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/vm_command.h"
#include "cli/vm_wait.h"
#include "http/websocket.h"

namespace kumo::cli {

namespace {

constexpr char kDetachKey = 0x1d;  // Ctrl-]

struct ConsoleFlags {
  std::string name;
  int tail = -1;
  bool follow = false;
};

std::string VmiSubresourcePath(const std::string& ns, const std::string& name,
                               const std::string& subresource) {
  return client::ResourcePath("subresources.kubevirt.io", "v1", "virtualmachineinstances", ns,
                              name, subresource);
}

// The running VMI `name`, or an error a user can act on.
StatusOr<json::value> RunningVmi(Cli& cli, const std::string& ns, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto vmi = client->Get(VmiPath(ns, name));
  if (vmi.ok() && GetString(*vmi, {"status", "phase"}) == "Running") return vmi;
  if (!vmi.ok() && vmi.status().code() != Code::kNotFound) return vmi.status();
  auto vm = client->Get(VmPath(ns, name));
  if (!vm.ok()) return WithHint(Explain(vm.status(), "VM", name, ns), "see 'kumo vm list'");
  return WithHint(
      Status(Code::kConflict, "VM \"" + name + "\" is " +
                                  GetString(*vm, {"status", "printableStatus"}, "Stopped") +
                                  ", not running"),
      "start it with 'kumo vm start " + name + " --wait'");
}

// Restores the terminal mode on every exit path. Owned by the console loop.
class RawTerminal {
 public:
  RawTerminal() {
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      cfmakeraw(&raw);
      active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

// The terminal as a message pipe: keystrokes up to the detach key go to the VM, the VM's
// output goes to stdout.
class TerminalPipe final : public http::FdPipe {
 public:
  TerminalPipe() : FdPipe(STDIN_FILENO, STDOUT_FILENO) {}
  StatusOr<std::optional<std::string>> Receive() override {
    if (detached_) return std::optional<std::string>();
    KUMO_ASSIGN_OR_RETURN(std::optional<std::string> keys, FdPipe::Receive());
    if (!keys) {
      input_ended_ = true;
      return keys;
    }
    if (size_t at = keys->find(kDetachKey); at != std::string::npos) {
      detached_ = true;
      keys->resize(at);
      if (keys->empty()) return std::optional<std::string>();
    }
    return keys;
  }
  bool Pending() const override { return detached_; }  // deliver the end right away
  bool detached() const { return detached_; }
  bool input_ended() const { return input_ended_; }

 private:
  bool detached_ = false;
  bool input_ended_ = false;
};

Status RunConsole(Cli& cli, const ConsoleFlags& f) {
  const std::string ns = cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_RETURN_IF_ERROR(RunningVmi(cli, ns, f.name).status());
  auto ws = client->OpenWebSocket(VmiSubresourcePath(ns, f.name, "console"),
                                  {std::string(http::kPlainKubevirtProtocol)});
  if (!ws.ok()) {
    if (ws.status().code() == Code::kConflict) return ws.status();  // says what to do
    return WithHint(Explain(ws.status(), "VM", f.name, ns), "see 'kumo vm show " + f.name + "'");
  }
  std::cerr << "Connected to the serial console of VM " << f.name
            << ". Press Enter for a prompt; Ctrl-] detaches.\r\n";
  TerminalPipe terminal;
  Status st;
  {
    RawTerminal raw;
    st = http::Splice(**ws, terminal);
  }
  (*ws)->Close(1000, "detached");
  if (terminal.detached() || terminal.input_ended()) {
    std::cerr << "\nDetached from VM " << f.name << ".\n";
  } else {
    std::cerr << "\nThe console of VM " << f.name << " closed (the VM stopped?).\n";
  }
  if (!st.ok()) std::cerr << "kumo: the console connection failed: " << st.message() << "\n";
  return Status::Ok();
}

Status RunLog(Cli& cli, const ConsoleFlags& f) {
  const std::string ns = cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string path = VmiSubresourcePath(ns, f.name, "consolelog");
  std::string query;
  if (f.tail >= 0) query += "tailLines=" + std::to_string(f.tail);
  if (f.follow) query += std::string(query.empty() ? "" : "&") + "follow=true";
  if (!query.empty()) path += "?" + query;
  auto explain = [&](const Status& st) -> Status {
    if (st.code() != Code::kNotFound) return Explain(st, "VM", f.name, ns);
    auto vm = client->Get(VmPath(ns, f.name));
    if (!vm.ok()) return WithHint(Explain(vm.status(), "VM", f.name, ns), "see 'kumo vm list'");
    return WithHint(Status(Code::kNotFound, "VM \"" + f.name + "\" has no console log (it is " +
                                                GetString(*vm, {"status", "printableStatus"},
                                                          "Stopped") +
                                                ")"),
                    "start it with 'kumo vm start " + f.name + "'");
  };
  if (!f.follow) {
    KUMO_ASSIGN_OR_RETURN(client::RestResponse resp, client->Do("GET", path, {}, {}, "text/plain"));
    if (resp.code != 200) {
      return explain(client::StatusFromResponse(resp.code, resp.body, resp.Header("retry-after")));
    }
    std::cout << resp.body << std::flush;
    return Status::Ok();
  }
  Status st = client->StreamLines(
      path,
      [](std::string_view line) {
        std::cout << line << "\n" << std::flush;
        return true;
      },
      nullptr);
  if (!st.ok()) return explain(st);
  std::cerr << "\nThe console log of VM " << f.name << " ended (the VM stopped).\n";
  return Status::Ok();
}

struct SshFlags {
  std::string name;
  std::string user;
  std::string identity;
  int port = 22;
  std::vector<std::string> args;
};

Status RunSsh(Cli& cli, const SshFlags& f) {
  std::string ns = cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value vmi, RunningVmi(cli, ns, f.name));
  std::string ip = VmiIp(vmi);
  std::string why;
  if (!RoutableAddress(ip, &why)) {
    return WithHint(Status(Code::kUnavailable, "cannot ssh to VM \"" + f.name + "\": " + why),
                    "use 'kumo vm console " + f.name + "'");
  }
  std::vector<std::string> argv{"ssh"};
  if (!f.user.empty()) argv.insert(argv.end(), {"-l", f.user});
  if (!f.identity.empty()) argv.insert(argv.end(), {"-i", f.identity});
  if (f.port != 22) argv.insert(argv.end(), {"-p", std::to_string(f.port)});
  argv.push_back(ip);
  argv.insert(argv.end(), f.args.begin(), f.args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::cout.flush();
  execvp("ssh", cargv.data());
  return Status(Code::kUnavailable, std::string("cannot run ssh: ") + std::strerror(errno) +
                                        "; install an OpenSSH client");
}

}  // namespace

void AddVmConsoleCommands(CLI::App& vm, Cli& cli) {
  auto cf = std::make_shared<ConsoleFlags>();
  CLI::App* console = vm.add_subcommand(
      "console", "Attach to a VM's serial console (Ctrl-] detaches; the VM keeps running)");
  console->add_option("name", cf->name, "VM name")->required();
  Examples(console, "  kumo vm console web1\n  kumo -n team-a vm console db1");
  OnRun(console, cli, [&cli, cf] { return RunConsole(cli, *cf); });

  auto lf = std::make_shared<ConsoleFlags>();
  CLI::App* log = vm.add_subcommand("log", "Print a VM's serial console log (its boot messages)");
  log->alias("logs");
  log->add_option("name", lf->name, "VM name")->required();
  log->add_option("--tail", lf->tail, "Only the last N lines");
  log->add_flag("-f,--follow", lf->follow, "Keep printing new output (Ctrl-C ends)");
  Examples(log, "  kumo vm log web1\n  kumo vm log web1 --tail 20 -f");
  OnRun(log, cli, [&cli, lf] { return RunLog(cli, *lf); });

  auto sf = std::make_shared<SshFlags>();
  CLI::App* ssh = vm.add_subcommand("ssh", "Run ssh to a VM's IP (arguments after -- go to ssh)");
  ssh->add_option("name", sf->name, "VM name")->required();
  ssh->add_option("-l,--user", sf->user, "Login user (default: ssh's)");
  ssh->add_option("-i,--identity", sf->identity, "Private key file");
  ssh->add_option("-p,--port", sf->port, "SSH port")->capture_default_str();
  ssh->add_option("args", sf->args, "Command and ssh arguments (after --)");
  Examples(ssh, "  kumo vm ssh db1 -l debian\n  kumo vm ssh db1 -l debian -- uptime");
  OnRun(ssh, cli, [&cli, sf] { return RunSsh(cli, *sf); });
}

}  // namespace kumo::cli
