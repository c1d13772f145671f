#include "agent/runtime/cloud_init.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "agent/runtime/subprocess.h"
#include "common/file_util.h"

namespace kumo::agent {

namespace fs = std::filesystem;

std::string DefaultMetaData(const std::string& instance_id, const std::string& hostname) {
  return "instance-id: " + instance_id + "\nlocal-hostname: " + hostname + "\n";
}

Status WriteNoCloudSeed(const std::string& path, const NoCloudSeed& seed) {
  // Staging files live next to the image so that concurrent writers never share names.
  const std::string staging = path + ".d";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) return Internal("cannot create " + staging + ": " + ec.message());

  std::vector<std::pair<std::string, const std::string*>> files = {{"meta-data", &seed.meta_data},
                                                                   {"user-data", &seed.user_data}};
  if (!seed.network_config.empty()) files.emplace_back("network-config", &seed.network_config);
  size_t payload = 0;
  // The same inputs always give the same bytes: a live-migration target builds its own seed,
  // and the guest must find the disk it booted from (volume id, timestamps) unchanged.
  const timespec kFixedTime[2] = {{946684800, 0}, {946684800, 0}};  // 2000-01-01 UTC
  for (const auto& [name, data] : files) {
    const std::string file = staging + "/" + name;
    KUMO_RETURN_IF_ERROR(WriteFileAtomic(file, *data, 0600));
    utimensat(AT_FDCWD, file.c_str(), kFixedTime, 0);
    payload += data->size();
  }
  // FAT12 needs a little room for its tables; 1 MiB covers typical seeds.
  const size_t kib = std::max<size_t>(1024, (payload * 2) / 1024 + 512);
  const std::string tmp = path + ".tmp";
  fs::remove(tmp, ec);
  RunOptions opt{.timeout_ms = 30000,
                 .env = {{"MTOOLS_SKIP_CHECK", "1"}, {"LC_ALL", "C"}, {"TZ", "UTC"}}};
  Status st =
      RunChecked({"mkfs.vfat", "--invariant", "-n", "CIDATA", "-C", tmp, std::to_string(kib)}, opt)
          .status();
  for (size_t i = 0; st.ok() && i < files.size(); ++i) {
    st = RunChecked(
             {"mcopy", "-m", "-i", tmp, staging + "/" + files[i].first, "::" + files[i].first}, opt)
             .status();
  }
  fs::remove_all(staging, ec);
  if (!st.ok()) {
    fs::remove(tmp, ec);
    return Internal("cannot build the cloud-init seed " + path + ": " + st.message());
  }
  fs::rename(tmp, path, ec);
  if (ec) return Internal("cannot move the seed to " + path + ": " + ec.message());
  return Status::Ok();
}

}  // namespace kumo::agent
