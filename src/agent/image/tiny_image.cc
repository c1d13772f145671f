#include "agent/image/tiny_image.h"

#include <elf.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "agent/image/cpio.h"
#include "agent/image/tiny_image_scripts.h"
#include "agent/runtime/subprocess.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/json.h"
#include "common/log.h"

namespace kumo::agent {
namespace {

namespace fs = std::filesystem;

// Bump when the recipe changes so that cached images are rebuilt.
constexpr char kRecipeVersion[] = "kumo-tiny-3";
constexpr char kKernelMeta[] = "linux-image-amd64";
constexpr int64_t kResolveTtlSeconds = 6 * 3600;
// Fixed timestamps and ids make the image reproducible.
constexpr char kEpoch[] = "946684800";  // 2000-01-01
constexpr char kVolumeId[] = "4B554D4F";

using Progress = std::function<void(const std::string&)>;

void Say(const Progress& progress, const std::string& msg) {
  spdlog::info("tiny image: {}", msg);
  if (progress) progress(msg);
}

// Holds an exclusive flock on a file for its lifetime.
class FileLock {
 public:
  static StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path) {
    int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return Internal("cannot open lock file " + path + ": " + strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        close(fd);
        return Internal("cannot lock " + path + ": " + strerror(errno));
      }
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { close(fd_); }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create directory " + dir + ": " + ec.message());
  return Status::Ok();
}

// True when `path` is an ELF executable without an interpreter (statically linked), so it runs
// in an initramfs that has no libc.
bool IsStaticElf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof eh)) return false;
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof ph)) return false;
    if (ph.p_type == PT_INTERP) return false;
  }
  return true;
}

// The versioned kernel package that linux-image-amd64 depends on, e.g.
// linux-image-6.1.0-57-amd64.
StatusOr<std::string> ResolveKernelPackage() {
  KUMO_ASSIGN_OR_RETURN(ProcessResult r,
                        RunChecked({"apt-cache", "depends", kKernelMeta},
                                   {.timeout_ms = 60000, .env = {{"LC_ALL", "C"}}}));
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto pos = line.find("Depends: ");
    if (pos == std::string::npos) continue;
    std::string pkg = line.substr(pos + 9);
    while (!pkg.empty() && (pkg.back() == ' ' || pkg.back() == '\r')) pkg.pop_back();
    if (pkg.rfind("linux-image-", 0) == 0 && pkg.size() > 18 && isdigit(pkg[12]) &&
        pkg.find("-amd64") != std::string::npos && pkg.find('<') == std::string::npos) {
      return pkg;
    }
  }
  return Status(Code::kUnavailable, "apt-cache depends " + std::string(kKernelMeta) +
                                        " names no versioned kernel package; run apt-get update");
}

// Downloads `package` with apt-get into `dir` and unpacks it into dir/root.
Status DownloadAndUnpack(const std::string& package, const std::string& dir) {
  std::vector<std::string> argv = {"apt-get", "download", "-q"};
  // As root, apt drops to the _apt user, which cannot write into our cache directory.
  if (geteuid() == 0) argv.insert(argv.begin() + 1, {"-o", "APT::Sandbox::User=root"});
  argv.push_back(package);
  KUMO_RETURN_IF_ERROR(RunChecked(argv, {.timeout_ms = 600000, .cwd = dir}).status());
  std::string deb;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  if (deb.empty()) return Internal("apt-get download " + package + " left no .deb in " + dir);
  KUMO_RETURN_IF_ERROR(
      RunChecked({"dpkg-deb", "-x", deb, dir + "/root"}, {.timeout_ms = 600000}).status());
  fs::remove(deb);
  return Status::Ok();
}

// Copies a kernel module to dst as a plain .ko, decompressing .ko.xz/.ko.zst/.ko.gz.
Status CopyModule(const fs::path& src, const std::string& dst) {
  std::string name = src.filename().string();
  auto ends = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::vector<std::string> tool;
  if (ends(".ko.xz")) tool = {"xz", "-dc"};
  if (ends(".ko.zst")) tool = {"zstd", "-dcq"};
  if (ends(".ko.gz")) tool = {"gzip", "-dc"};
  if (tool.empty()) {
    std::error_code ec;
    fs::copy_file(src, dst, fs::copy_options::overwrite_existing, ec);
    if (ec) return Internal("cannot copy " + src.string() + ": " + ec.message());
    return Status::Ok();
  }
  tool.push_back(src.string());
  return RunChecked(tool, {.timeout_ms = 60000, .stdout_path = dst}).status();
}

struct KernelFiles {
  std::string package;
  std::string vmlinuz;
  std::string modules_dir;  // <module>.ko files, uncompressed
};

// Makes sure cache_dir/kernel/<package> holds vmlinuz and the modules the image needs.
StatusOr<KernelFiles> EnsureKernel(const std::string& cache_dir, const Progress& progress) {
  const std::string kernels = cache_dir + "/kernel";
  KUMO_RETURN_IF_ERROR(MakeDirs(kernels));
  // apt-cache takes seconds on a busy machine; its answer is reused for a few hours.
  const std::string resolved_path = kernels + "/resolved";
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  if (auto text = ReadFileToString(resolved_path); text.ok()) {
    std::istringstream in(*text);
    std::string pkg;
    int64_t when = 0;
    if (in >> pkg >> when && now - when >= 0 && now - when < kResolveTtlSeconds &&
        fs::exists(kernels + "/" + pkg + "/.complete")) {
      Say(progress, "kernel " + pkg + " is cached");
      return KernelFiles{pkg, kernels + "/" + pkg + "/vmlinuz", kernels + "/" + pkg + "/modules"};
    }
  }
  auto resolved = ResolveKernelPackage();
  std::string package;
  if (resolved.ok()) {
    package = *resolved;
    (void)WriteFileAtomic(resolved_path, package + " " + std::to_string(now) + "\n", 0644);
  } else {
    // Offline and apt lists gone: use a kernel cached earlier, if any.
    for (const auto& e : fs::directory_iterator(kernels)) {
      if (fs::exists(e.path() / ".complete")) package = e.path().filename().string();
    }
    if (package.empty()) return resolved.status();
    Say(progress,
        "apt-cache failed (" + resolved.status().message() + "); using cached " + package);
  }
  KernelFiles k{package, kernels + "/" + package + "/vmlinuz",
                kernels + "/" + package + "/modules"};
  if (fs::exists(kernels + "/" + package + "/.complete")) {
    Say(progress, "kernel " + package + " is cached");
    return k;
  }

  Say(progress, "downloading " + package + " with apt-get");
  const std::string tmp = kernels + "/." + package + ".tmp";
  fs::remove_all(tmp);
  KUMO_RETURN_IF_ERROR(MakeDirs(tmp));
  KUMO_RETURN_IF_ERROR(DownloadAndUnpack(package, tmp));
  Say(progress,
      "extracting the kernel and " + std::to_string(std::size(kTinyModules)) + " modules");

  const std::string out = tmp + "/out";
  KUMO_RETURN_IF_ERROR(MakeDirs(out + "/modules"));
  std::string vmlinuz;
  for (const auto& e : fs::directory_iterator(tmp + "/root/boot")) {
    if (e.path().filename().string().rfind("vmlinuz-", 0) == 0) vmlinuz = e.path().string();
  }
  if (vmlinuz.empty()) return Internal(package + " contains no /boot/vmlinuz-*");
  fs::copy_file(vmlinuz, out + "/vmlinuz");

  std::map<std::string, fs::path> found;  // module name -> file
  for (const auto& e : fs::recursive_directory_iterator(tmp + "/root/lib/modules")) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    auto dot = name.find(".ko");
    if (dot == std::string::npos) continue;
    found.emplace(name.substr(0, dot), e.path());
  }
  for (const char* m : kTinyModules) {
    auto it = found.find(m);
    if (it == found.end()) return Internal(package + " has no kernel module " + m);
    KUMO_RETURN_IF_ERROR(CopyModule(it->second, out + "/modules/" + m + ".ko"));
  }
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(out + "/.complete", package + "\n", 0644));

  const std::string final_dir = kernels + "/" + package;
  fs::remove_all(final_dir);
  fs::rename(out, final_dir);
  fs::remove_all(tmp);
  return k;
}

// A statically linked busybox: the host's (busybox-static), else unpacked from the package.
StatusOr<std::string> EnsureBusybox(const std::string& cache_dir, const Progress& progress) {
  for (const char* p : {"/bin/busybox", "/usr/bin/busybox"}) {
    if (IsStaticElf(p)) return std::string(p);
  }
  const std::string dir = cache_dir + "/busybox-static";
  const std::string bin = dir + "/root/bin/busybox";
  if (IsStaticElf(bin)) return bin;
  Say(progress, "downloading busybox-static with apt-get");
  fs::remove_all(dir);
  KUMO_RETURN_IF_ERROR(MakeDirs(dir));
  KUMO_RETURN_IF_ERROR(DownloadAndUnpack("busybox-static", dir));
  if (!IsStaticElf(bin)) return Internal("busybox-static did not provide a static " + bin);
  return bin;
}

// The gzip'd initramfs: busybox with its applet links, /init, scripts and modules.
StatusOr<std::string> BuildInitramfs(const std::string& busybox, const KernelFiles& kernel,
                                     const std::string& work) {
  KUMO_ASSIGN_OR_RETURN(ProcessResult list, RunChecked({busybox, "--list"}));
  KUMO_ASSIGN_OR_RETURN(std::string busybox_bin, ReadFileToString(busybox));

  CpioWriter cpio;
  for (const char* d : {"bin", "dev", "etc", "etc/udhcpc", "etc/acpi", "etc/acpi/PWRF", "lib",
                        "lib/modules", "mnt", "proc", "root", "run", "sys", "tmp", "usr", "var"}) {
    cpio.AddDirectory(d, std::string(d) == "tmp" ? 01777 : 0755);
  }
  cpio.AddSymlink("sbin", "bin");
  cpio.AddSymlink("usr/bin", "../bin");
  cpio.AddSymlink("usr/sbin", "../bin");
  // The kernel opens /dev/console for PID 1 before devtmpfs is mounted.
  cpio.AddCharDevice("dev/console", 5, 1);
  cpio.AddFile("bin/busybox", busybox_bin, 0755);
  std::istringstream applets(list.out);
  std::string applet;
  while (applets >> applet) {
    if (applet != "busybox" && applet.find('/') == std::string::npos) {
      cpio.AddSymlink("bin/" + applet, "busybox");
    }
  }
  cpio.AddFile("init", kTinyInitScript, 0755);
  cpio.AddFile("etc/udhcpc/default.script", kTinyUdhcpcScript, 0755);
  cpio.AddFile("etc/acpi/PWRF/00000080", kTinyPowerButtonScript, 0755);
  cpio.AddFile("etc/profile", kTinyProfile, 0644);
  cpio.AddFile("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644);
  cpio.AddFile("etc/group", "root:x:0:\n", 0644);
  std::string modules_list;
  for (const char* m : kTinyModules) {
    KUMO_ASSIGN_OR_RETURN(std::string ko, ReadFileToString(kernel.modules_dir + "/" + m + ".ko"));
    cpio.AddFile(std::string("lib/modules/") + m + ".ko", ko, 0644);
    modules_list += std::string(m) + "\n";
  }
  cpio.AddFile("etc/modules", modules_list, 0644);

  const std::string raw = work + "/initrd.cpio";
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(raw, cpio.Finish(), 0644));
  const std::string gz = work + "/initrd.gz";
  KUMO_RETURN_IF_ERROR(
      RunChecked({"gzip", "-9", "-n", "-c", raw}, {.timeout_ms = 120000, .stdout_path = gz})
          .status());
  fs::remove(raw);
  return gz;
}

// A FAT "superfloppy" (no partition table) with SYSLINUX, the kernel, initrd and config,
// built with mtools only (no loop mounts), then converted to qcow2 at `qcow2_path`.
Status BuildDisk(const std::string& vmlinuz, const std::string& initrd, const std::string& work,
                 const std::string& qcow2_path) {
  const std::string cfg = work + "/syslinux.cfg";
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(cfg, kTinySyslinuxCfg, 0644));
  const std::string kernel_copy = work + "/vmlinuz";
  fs::copy_file(vmlinuz, kernel_copy, fs::copy_options::overwrite_existing);

  const auto payload = fs::file_size(vmlinuz) + fs::file_size(initrd);
  const uint64_t mib = 1 << 20;
  uint64_t size = std::max<uint64_t>(16 * mib, (payload + 4 * mib + mib - 1) / mib * mib);
  const std::string img = work + "/disk.img";
  fs::remove(img);

  RunOptions opt{
      .timeout_ms = 120000,
      .env = {{"SOURCE_DATE_EPOCH", kEpoch}, {"MTOOLS_SKIP_CHECK", "1"}, {"LC_ALL", "C"}}};
  KUMO_RETURN_IF_ERROR(RunChecked({"mkfs.vfat", "--invariant", "-i", kVolumeId, "-n", "KUMOTINY",
                                   "-C", img, std::to_string(size / 1024)},
                                  opt)
                           .status());
  KUMO_RETURN_IF_ERROR(RunChecked({"syslinux", "--install", img}, opt).status());
  // mcopy -m keeps the (fixed) modification times, for a reproducible image.
  const auto epoch = std::chrono::file_clock::from_sys(
      std::chrono::sys_seconds(std::chrono::seconds(std::stoll(kEpoch))));
  for (const auto& f : {kernel_copy, initrd, cfg}) fs::last_write_time(f, epoch);
  KUMO_RETURN_IF_ERROR(
      RunChecked({"mcopy", "-m", "-i", img, kernel_copy, initrd, cfg, "::"}, opt).status());
  KUMO_RETURN_IF_ERROR(
      RunChecked({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", img, qcow2_path}, opt)
          .status());
  fs::remove(img);
  fs::remove(kernel_copy);
  return Status::Ok();
}

}  // namespace

StatusOr<TinyImage> BuildTinyImage(const std::string& out_dir, const std::string& cache_dir,
                                   const std::function<void(const std::string&)>& progress) {
  for (const char* tool : {"mkfs.vfat", "syslinux", "mcopy", "qemu-img", "gzip", "dpkg-deb"}) {
    if (FindProgram(tool).empty()) {
      return Status(Code::kUnavailable, std::string("tiny image: '") + tool +
                                            "' is not installed; run scripts/install-deps");
    }
  }
  KUMO_RETURN_IF_ERROR(MakeDirs(out_dir));
  KUMO_RETURN_IF_ERROR(MakeDirs(cache_dir));
  // Lock order: cache, then output.
  KUMO_ASSIGN_OR_RETURN(auto cache_lock, FileLock::Acquire(cache_dir + "/.kumo-cache.lock"));
  KUMO_ASSIGN_OR_RETURN(auto out_lock, FileLock::Acquire(out_dir + "/.tiny.lock"));

  KUMO_ASSIGN_OR_RETURN(KernelFiles kernel, EnsureKernel(cache_dir, progress));
  KUMO_ASSIGN_OR_RETURN(std::string busybox, EnsureBusybox(cache_dir, progress));
  KUMO_ASSIGN_OR_RETURN(std::string busybox_sha, Sha256File(busybox));

  // Everything the image is made from; a match means the image on disk is current.
  std::string recipe = std::string(kRecipeVersion) + "\n" + kernel.package + "\n" + busybox_sha +
                       "\n" + kTinyInitScript + kTinyUdhcpcScript + kTinyPowerButtonScript +
                       kTinyProfile + kTinySyslinuxCfg;
  for (const char* m : kTinyModules) recipe += std::string(m) + "\n";
  const std::string key = Sha256Hex(recipe);

  const std::string disk = out_dir + "/tiny.qcow2";
  const std::string manifest_path = out_dir + "/tiny.json";
  if (auto text = ReadFileToString(manifest_path); text.ok() && fs::exists(disk)) {
    auto manifest = ParseJson(*text);
    if (manifest.ok() && GetString(*manifest, {"key"}) == key) {
      std::error_code ec;
      auto size = static_cast<int64_t>(fs::file_size(disk, ec));
      const json::value* want = Find(*manifest, {"size_bytes"});
      if (!ec && want && want->is_int64() && want->as_int64() == size) {
        Say(progress, "tiny image is up to date: " + disk);
        return TinyImage{disk, "qcow2", size, GetString(*manifest, {"sha256"})};
      }
    }
  }

  const std::string work = out_dir + "/.tiny-build";
  fs::remove_all(work);
  KUMO_RETURN_IF_ERROR(MakeDirs(work));
  Say(progress, "building the initramfs (busybox, /init, " +
                    std::to_string(std::size(kTinyModules)) + " modules)");
  KUMO_ASSIGN_OR_RETURN(std::string initrd, BuildInitramfs(busybox, kernel, work));
  Say(progress, "building the boot disk (FAT + SYSLINUX) and converting it to qcow2");
  const std::string tmp_disk = work + "/tiny.qcow2";
  KUMO_RETURN_IF_ERROR(BuildDisk(kernel.vmlinuz, initrd, work, tmp_disk));
  KUMO_ASSIGN_OR_RETURN(std::string sha, Sha256File(tmp_disk));
  auto size = static_cast<int64_t>(fs::file_size(tmp_disk));
  std::error_code ec;
  fs::rename(tmp_disk, disk, ec);
  if (ec) return Internal("cannot move the image to " + disk + ": " + ec.message());
  fs::remove_all(work);

  json::object manifest{{"key", key},
                        {"sha256", sha},
                        {"size_bytes", size},
                        {"format", "qcow2"},
                        {"kernel", kernel.package},
                        {"recipe", kRecipeVersion}};
  KUMO_RETURN_IF_ERROR(WriteFileAtomic(manifest_path, ToJson(manifest) + "\n", 0644));
  Say(progress, "tiny image ready: " + disk + " (" + std::to_string(size) + " bytes)");
  return TinyImage{disk, "qcow2", size, sha};
}

}  // namespace kumo::agent
