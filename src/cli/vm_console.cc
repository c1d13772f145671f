// `kumo vm console`, `kumo vm log` and `kumo vm ssh`.
//
// The serial console lives on the VM's node: the agent's QEMU keeps a console socket and a
// console log under <agent data dir>/vms/<ns>_<name>/. The API server has no console
// subresource yet, so console and log reach VMs on this host only, through the agent's data
// dir (--agent-dir, $KUMO_AGENT_DIR, the `kumo up` layout next to the kubeconfig, or
// /var/lib/kumo-agent), and say so plainly for VMs elsewhere.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/vm_command.h"
#include "cli/vm_wait.h"

namespace kumo::cli {

namespace {

namespace fs = std::filesystem;

constexpr char kDetachKey = 0x1d;  // Ctrl-]

struct ConsoleFlags {
  std::string name;
  std::string agent_dir;
  int tail = -1;
  bool follow = false;
};

bool IsSocket(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Where a local agent may keep its VMs, most specific first.
std::vector<std::string> AgentDirs(Cli& cli, const std::string& flag) {
  std::vector<std::string> dirs;
  if (!flag.empty()) return {flag};
  if (const char* env = std::getenv("KUMO_AGENT_DIR"); env && *env) dirs.push_back(env);
  std::string kc = cli.session.KubeconfigPath();
  if (!kc.empty()) {
    // `kumo up --data-dir D` writes D/server/kubeconfig.yaml and runs its agent in D/agent.
    fs::path up = fs::path(kc).parent_path().parent_path() / "agent";
    dirs.push_back(up.string());
  }
  dirs.push_back("/var/lib/kumo-agent");
  return dirs;
}

// The running VMI `name`, or an error a user can act on.
StatusOr<json::value> RunningVmi(Cli& cli, const std::string& ns, const std::string& name) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  auto vmi = client->Get(VmiPath(ns, name));
  if (vmi.ok()) return vmi;
  if (vmi.status().code() != Code::kNotFound) return vmi.status();
  auto vm = client->Get(VmPath(ns, name));
  if (!vm.ok()) return WithHint(Explain(vm.status(), "VM", name, ns), "see 'kumo vm list'");
  return WithHint(
      Status(Code::kConflict, "VM \"" + name + "\" is " +
                                  GetString(*vm, {"status", "printableStatus"}, "Stopped") +
                                  ", not running"),
      "start it with 'kumo vm start " + name + " --wait'");
}

// The VM's directory on this host, holding `file` (console.sock or console.log).
StatusOr<std::string> LocalVmFile(Cli& cli, const ConsoleFlags& f, const std::string& file,
                                  bool socket) {
  std::string ns = cli.session.Namespace();
  KUMO_ASSIGN_OR_RETURN(json::value vmi, RunningVmi(cli, ns, f.name));
  std::string node = GetString(vmi, {"status", "nodeName"});
  std::string looked;
  for (const auto& dir : AgentDirs(cli, f.agent_dir)) {
    std::string p = dir + "/vms/" + ns + "_" + f.name + "/" + file;
    if (socket ? IsSocket(p) : fs::exists(p)) return p;
    looked += (looked.empty() ? "" : ", ") + dir;
  }
  if (node.empty()) {
    return WithHint(
        Status(Code::kConflict, "VM \"" + f.name + "\" has not been started on a node yet"),
        "wait with 'kumo vm start " + f.name + " --wait'");
  }
  return WithHint(
      Status(Code::kUnavailable, "the console of VM \"" + f.name + "\" is on node " + node +
                                     ", not on this host (looked in the agent dirs " + looked +
                                     "); the API server has no console endpoint yet"),
      "run this on " + node + ", or pass --agent-dir with that agent's --data-dir");
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
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

Status RunConsole(Cli& cli, const ConsoleFlags& f) {
  KUMO_ASSIGN_OR_RETURN(std::string path, LocalVmFile(cli, f, "console.sock", true));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Internal("console socket path too long: " + path);
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string err = std::strerror(errno);
    if (fd >= 0) close(fd);
    return Status(Code::kUnavailable,
                  "cannot connect to the console of VM \"" + f.name + "\" (" + path + "): " + err);
  }
  std::cerr << "Connected to the serial console of VM " << f.name
            << ". Press Enter for a prompt; Ctrl-] detaches.\r\n";
  bool detached = false, vm_closed = false;
  {
    RawTerminal term;
    bool stdin_open = true;
    char buf[4096];
    while (!detached) {
      pollfd fds[2] = {{fd, POLLIN, 0},
                       {STDIN_FILENO, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
      int r = poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
          vm_closed = true;
          break;
        }
        if (!WriteAll(STDOUT_FILENO, buf, static_cast<size_t>(n))) break;
      }
      if (stdin_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n <= 0) {
          stdin_open = false;  // input ended (a pipe): keep showing output until the VM closes
          if (!term.active()) break;
          continue;
        }
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[i] == kDetachKey) {
            n = i;
            detached = true;
            break;
          }
        }
        if (n > 0 && !WriteAll(fd, buf, static_cast<size_t>(n))) {
          vm_closed = true;
          break;
        }
      }
    }
  }
  close(fd);
  if (vm_closed) {
    std::cerr << "\nThe console of VM " << f.name << " closed (the VM stopped?).\n";
  } else {
    std::cerr << "\nDetached from VM " << f.name << ".\n";
  }
  return Status::Ok();
}

Status RunLog(Cli& cli, const ConsoleFlags& f) {
  KUMO_ASSIGN_OR_RETURN(std::string path, LocalVmFile(cli, f, "console.log", false));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal("cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (f.tail >= 0) {
    size_t pos = text.size();
    size_t search = text.size();
    if (search > 0 && text[search - 1] == '\n') --search;  // the last line's own newline
    for (int lines = 0; lines < f.tail; ++lines) {
      size_t nl = search == 0 ? std::string::npos : text.rfind('\n', search - 1);
      if (nl == std::string::npos) {
        pos = 0;
        break;
      }
      pos = nl + 1;
      search = nl;
    }
    text = text.substr(pos);
  }
  std::cout << text << std::flush;
  if (!f.follow) return Status::Ok();
  auto offset = static_cast<std::streamoff>(fs::file_size(path));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::error_code ec;
    auto size = static_cast<std::streamoff>(fs::file_size(path, ec));
    if (ec) {
      std::cerr << "\nThe console log of VM " << f.name << " is gone (the VM stopped).\n";
      return Status::Ok();
    }
    if (size < offset) offset = 0;  // a new instance started a new log
    if (size == offset) continue;
    std::ifstream more(path, std::ios::binary);
    more.seekg(offset);
    std::string chunk(static_cast<size_t>(size - offset), '\0');
    more.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    chunk.resize(static_cast<size_t>(more.gcount()));
    offset += static_cast<std::streamoff>(chunk.size());
    std::cout << chunk << std::flush;
  }
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
  console->add_option("--agent-dir", cf->agent_dir,
                      "Data dir of the node agent running the VM (default: found on this host)");
  Examples(console,
           "  kumo vm console web1\n  kumo vm console web1 --agent-dir /var/lib/kumo-agent");
  OnRun(console, cli, [&cli, cf] { return RunConsole(cli, *cf); });

  auto lf = std::make_shared<ConsoleFlags>();
  CLI::App* log = vm.add_subcommand("log", "Print a VM's serial console log (its boot messages)");
  log->alias("logs");
  log->add_option("name", lf->name, "VM name")->required();
  log->add_option("--tail", lf->tail, "Only the last N lines");
  log->add_flag("-f,--follow", lf->follow, "Keep printing new output (Ctrl-C ends)");
  log->add_option("--agent-dir", lf->agent_dir,
                  "Data dir of the node agent running the VM (default: found on this host)");
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
