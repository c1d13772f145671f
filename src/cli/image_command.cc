#include "cli/image_command.h"

#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "agent/runtime/subprocess.h"
#include "agent/image/image_registry.h"
#include "common/sha256.h"

namespace kumo::cli {

namespace {

namespace fs = std::filesystem;

constexpr char kDefaultImageDir[] = "/var/lib/kumo/images";

// $KUMO_IMAGE_DIR, else the `kumo up` layout next to the kubeconfig (D/server/kubeconfig.yaml
// → D/images), else /var/lib/kumo/images.
std::string DefaultImageDir(Cli& cli) {
  if (const char* env = std::getenv("KUMO_IMAGE_DIR"); env && *env) return env;
  std::string kc = cli.session.KubeconfigPath();
  if (!kc.empty()) {
    fs::path server_dir = fs::path(kc).parent_path();
    fs::path images = server_dir.parent_path() / "images";
    std::error_code ec;
    if (server_dir.filename() == "server" && fs::is_directory(images, ec)) return images.string();
  }
  return kDefaultImageDir;
}

bool IsUrl(const std::string& s) {
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0;
}

// Runs argv with its output (progress bars) on our stderr; returns its exit code.
StatusOr<int> RunWithProgress(const std::vector<std::string>& argv) {
  std::string path = agent::FindProgram(argv[0]);
  if (path.empty()) return Status(Code::kUnavailable, argv[0] + " is not installed");
  pid_t pid = fork();
  if (pid < 0) return Internal("fork failed");
  if (pid == 0) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(path.c_str(), cargv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string SourceOf(const json::value& img) {
  const json::value* src = Find(img, {"spec", "source"});
  if (!src || !src->is_object()) return "";
  for (const char* k : {"builtin", "url", "file"}) {
    std::string v = GetString(*src, {k});
    if (!v.empty()) return std::string(k) + ":" + v;
  }
  return "";
}

int64_t SizeOf(const json::value& img) {
  const json::value* s = Find(img, {"status", "size"});
  if (s && s->is_int64()) return s->get_int64();
  if (s && s->is_uint64()) return static_cast<int64_t>(s->get_uint64());
  return -1;
}

// --- list ---------------------------------------------------------------------------------

Status RunList(Cli& cli) {
  KUMO_ASSIGN_OR_RETURN(Format format, cli.session.OutputFormat());
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  KUMO_ASSIGN_OR_RETURN(json::value list, client->List(ImagePath()));
  json::array items = ItemsOf(list);
  if (format != Format::kTable && format != Format::kWide) {
    Print(RenderList(items, format, "image.kumo.io"));
    return Status::Ok();
  }
  if (items.empty()) {
    std::cerr
        << "No images yet. Build the tiny one with 'kumo image build tiny' or import one with "
           "'kumo image import FILE|URL'.\n";
    return Status::Ok();
  }
  Table t;
  for (const char* h : {"Name", "Format", "Phase", "Size", "Source", "Age"})
    t.columns.push_back({h});
  t.columns.push_back({"Path", true});
  t.columns.push_back({"Checksum", true});
  for (const auto& img : items) {
    int64_t size = SizeOf(img);
    t.AddRow({GetString(img, {"metadata", "name"}), GetString(img, {"spec", "format"}),
              GetString(img, {"status", "phase"}, "Pending"), size >= 0 ? HumanBytes(size) : "",
              SourceOf(img), AgeOf(GetString(img, {"metadata", "creationTimestamp"})),
              GetString(img, {"status", "path"}), GetString(img, {"status", "checksum"})});
  }
  Print(RenderTable(t, format == Format::kWide));
  return Status::Ok();
}

// --- build --------------------------------------------------------------------------------

struct BuildFlags {
  std::string what;
  std::string image_dir;
};

Status RunBuild(Cli& cli, const BuildFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  std::string dir = f.image_dir.empty() ? DefaultImageDir(cli) : f.image_dir;
  std::cerr << "Building the tiny image in " << dir << " (reused when it is already there)\n";
  KUMO_RETURN_IF_ERROR(agent::BuildAndRegisterTiny(*client, dir));
  Print("image/tiny ready\n");
  return Status::Ok();
}

// --- import -------------------------------------------------------------------------------

struct ImportFlags {
  std::string source;
  std::string name;
  std::string image_dir;
  bool replace = false;
};

Status RunImport(Cli& cli, const ImportFlags& f) {
  std::string name = f.name.empty() ? ImageNameFromSource(f.source) : f.name;
  if (name.empty())
    return UsageError("cannot derive an image name from " + f.source + "; pass --name");
  bool url = IsUrl(f.source);
  if (!url && !fs::exists(f.source)) {
    return Status(Code::kNotFound, "cannot import " + f.source + ": no such file");
  }
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  if (auto existing = client->Get(ImagePath(name)); existing.ok() && !f.replace) {
    return WithHint(Status(Code::kAlreadyExists, "image \"" + name + "\" already exists"),
                    "pass --replace to overwrite it, or --name to pick another name");
  } else if (!existing.ok() && existing.status().code() != Code::kNotFound) {
    return existing.status();
  }
  std::string dir = f.image_dir.empty() ? DefaultImageDir(cli) : f.image_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    return Internal("cannot create the image dir " + dir + ": " + ec.message() +
                    " (use --image-dir)");

  std::string input = f.source;
  std::string download = dir + "/." + name + ".download";
  if (url) {
    std::cerr << "Downloading " << f.source << "\n";
    KUMO_ASSIGN_OR_RETURN(
        int rc, RunWithProgress({"curl", "-fL", "--progress-bar", "-o", download, f.source}));
    if (rc != 0) {
      fs::remove(download, ec);
      return Status(Code::kUnavailable,
                    "cannot download " + f.source + " (curl exit code " + std::to_string(rc) + ")");
    }
    input = download;
  }
  auto info = agent::RunChecked({"qemu-img", "info", "--output=json", input});
  if (!info.ok()) {
    fs::remove(download, ec);
    return Status(Code::kBadRequest,
                  f.source + " is not a disk image qemu-img can read: " + info.status().message());
  }
  std::string src_format = "raw";
  if (auto parsed = ParseJson(info->out); parsed.ok())
    src_format = GetString(*parsed, {"format"}, "raw");
  std::string final_path = dir + "/" + name + ".qcow2";
  std::string tmp = dir + "/." + name + ".qcow2.tmp";
  std::cerr << "Converting " << src_format << " to qcow2 in " << final_path << "\n";
  KUMO_ASSIGN_OR_RETURN(int rc, RunWithProgress({"qemu-img", "convert", "-p", "-f", src_format,
                                                 "-O", "qcow2", input, tmp}));
  fs::remove(download, ec);
  if (rc != 0) {
    fs::remove(tmp, ec);
    return Internal("qemu-img convert failed for " + f.source);
  }
  fs::rename(tmp, final_path, ec);
  if (ec) return Internal("cannot move the image to " + final_path + ": " + ec.message());
  KUMO_ASSIGN_OR_RETURN(std::string sha, Sha256File(final_path));
  int64_t size = static_cast<int64_t>(fs::file_size(final_path, ec));
  json::object source;
  if (url)
    source["url"] = f.source;
  else
    source["file"] = fs::absolute(f.source).string();
  KUMO_RETURN_IF_ERROR(agent::RegisterImage(*client, name, "qcow2", source, final_path, size, sha));
  Print("image/" + name + " imported (" + HumanBytes(size) + ")\n");
  std::cerr << "Boot it with 'kumo vm create NAME --image " << name << "'\n";
  return Status::Ok();
}

// --- delete -------------------------------------------------------------------------------

struct DeleteFlags {
  std::vector<std::string> names;
  bool force = false;
  bool purge = false;
};

Status DeleteOne(client::RestClient& client, const std::string& name, const DeleteFlags& f) {
  auto img = client.Get(ImagePath(name));
  if (!img.ok()) return WithHint(Explain(img.status(), "image", name), "see 'kumo image list'");
  if (!f.force) {
    std::string users;
    if (auto vms = client.List(VmPath("")); vms.ok()) {
      for (const auto& vm : ItemsOf(*vms)) {
        const json::value* vols = Find(vm, {"spec", "template", "spec", "volumes"});
        if (!vols || !vols->is_array()) continue;
        for (const auto& v : vols->get_array()) {
          std::string ref = GetString(v, {"containerDisk", "image"});
          std::string base =
              ref.substr(ref.rfind('/') == std::string::npos ? 0 : ref.rfind('/') + 1);
          base = base.substr(0, base.find_first_of(":@"));
          if (!ref.empty() && base == name) {
            users += (users.empty() ? "" : ", ") + GetString(vm, {"metadata", "namespace"}) + "/" +
                     GetString(vm, {"metadata", "name"});
          }
        }
      }
    }
    if (!users.empty()) {
      return WithHint(Status(Code::kConflict, "image \"" + name + "\" is used by VM " + users),
                      "delete those VMs first, or pass --force");
    }
  }
  auto deleted = client.Delete(ImagePath(name));
  if (!deleted.ok()) return Explain(deleted.status(), "image", name);
  std::string path = GetString(*img, {"status", "path"});
  if (f.purge && !path.empty()) {
    std::error_code ec;
    fs::remove(path, ec);
    if (ec) std::cerr << "Warning: cannot remove " << path << ": " << ec.message() << "\n";
  }
  Print("image/" + name + " deleted" + (f.purge && !path.empty() ? " (removed " + path + ")" : "") +
        "\n");
  return Status::Ok();
}

Status RunDelete(Cli& cli, const DeleteFlags& f) {
  KUMO_ASSIGN_OR_RETURN(client::RestClient * client, cli.session.Client());
  Status result = Status::Ok();
  for (const auto& name : f.names) {
    Status st = DeleteOne(*client, name, f);
    if (!st.ok()) {
      ReportError(st);
      result = AlreadyReported(st.code());
    }
  }
  return result;
}

}  // namespace

std::string ImageNameFromSource(const std::string& source) {
  std::string s = source;
  size_t q = s.find_first_of("?#");
  if (IsUrl(s) && q != std::string::npos) s = s.substr(0, q);
  while (!s.empty() && s.back() == '/') s.pop_back();
  s = s.substr(s.rfind('/') == std::string::npos ? 0 : s.rfind('/') + 1);
  for (bool again = true; again;) {
    again = false;
    for (const char* ext :
         {".xz", ".gz", ".qcow2", ".qcow", ".img", ".raw", ".iso", ".vmdk", ".vdi"}) {
      std::string e = ext;
      if (s.size() > e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0) {
        s.resize(s.size() - e.size());
        again = true;
      }
    }
  }
  std::string out;
  for (char c : s) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '.';
    out.push_back(ok ? l : '-');
  }
  while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  if (out.size() > 63) out.resize(63);
  return out;
}

void AddImageCommands(CLI::App& app, Cli& cli) {
  CLI::App* image = app.add_subcommand("image", "Disk images that VMs boot from");
  image->require_subcommand(1);
  Examples(image,
           "  kumo image build tiny\n"
           "  kumo image import ./debian-12-genericcloud-amd64.qcow2 --name debian-12\n"
           "  kumo image list\n"
           "  kumo image delete debian-12");

  CLI::App* list = image->add_subcommand("list", "List images with their format, state and size");
  list->alias("ls");
  Examples(list, "  kumo image list\n  kumo image list -o wide");
  OnRun(list, cli, [&cli] { return RunList(cli); });

  auto bf = std::make_shared<BuildFlags>();
  CLI::App* build = image->add_subcommand(
      "build",
      "Build an image from Debian packages and register it (kept and reused when it exists)");
  build
      ->add_option("what", bf->what,
                   "What to build: tiny (a Debian kernel and a busybox initramfs)")
      ->required()
      ->check(CLI::IsMember({"tiny"}));
  build->add_option("--image-dir", bf->image_dir,
                    "Where the nodes find images (default: $KUMO_IMAGE_DIR, ~/.kumo/images for "
                    "`kumo up`, else /var/lib/kumo/images)");
  Examples(build, "  kumo image build tiny\n  kumo image build tiny --image-dir /srv/kumo/images");
  OnRun(build, cli, [&cli, bf] { return RunBuild(cli, *bf); });

  auto imf = std::make_shared<ImportFlags>();
  CLI::App* imp = image->add_subcommand(
      "import",
      "Import a disk image from a file or an http(s) URL: converted to qcow2 in the image dir\n"
      "with qemu-img (any format it reads), then registered");
  imp->add_option("source", imf->source, "File or URL")->required();
  imp->add_option("--name", imf->name, "Image name (default: from the file name)");
  imp->add_option("--image-dir", imf->image_dir, "Where the nodes find images (see 'image build')");
  imp->add_flag("--replace", imf->replace, "Overwrite an image of the same name");
  Examples(imp,
           "  kumo image import ./disk.raw --name mydisk\n"
           "  kumo image import https://cloud.debian.org/images/cloud/bookworm/latest/"
           "debian-12-genericcloud-amd64.qcow2 --name debian-12");
  OnRun(imp, cli, [&cli, imf] { return RunImport(cli, *imf); });

  AddImageUploadCommand(*image, cli);

  auto df = std::make_shared<DeleteFlags>();
  CLI::App* del = image->add_subcommand("delete", "Delete images (refused while VMs use them)");
  del->alias("rm");
  del->add_option("names", df->names, "Image names")->required();
  del->add_flag("--force", df->force, "Delete even when VMs use the image");
  del->add_flag("--purge", df->purge, "Also remove the image file (on this host)");
  Examples(del, "  kumo image delete debian-12\n  kumo image delete old --purge");
  OnRun(del, cli, [&cli, df] { return RunDelete(cli, *df); });
}

}  // namespace kumo::cli
