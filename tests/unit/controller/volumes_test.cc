#include "controller/volumes.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "api/resource.h"
#include "controller_fixture.h"

namespace kumo::controller {
namespace {

const api::ResourceInfo& Kind(std::string_view group, std::string_view version,
                              std::string_view plural) {
  return *api::DefaultRegistry().Find(group, version, plural);
}

// Fills the selectable fields as the server's cache does (the scheduler reads the PV's node).
void Index(const json::value& parsed, store::CachedObject& obj) {
  for (const auto& r : api::DefaultRegistry().resources()) {
    if (obj.key.rfind(r.KeyPrefix(), 0) != 0) continue;
    for (const auto& f : r.selectable_fields) obj.fields.emplace_back(f, api::FieldValue(parsed, f));
  }
}

class VolumesTest : public testing::ControllerFixture {
 protected:
  VolumesTest() : ControllerFixture(Index) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    volumes_ = std::make_unique<Volumes>(*store_, *cache_, clock_);
    Put(Kind("storage.k8s.io", "v1", "storageclasses"), "", *ParseJson(R"({
        "apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
        "metadata":{"name":"local","annotations":{"storageclass.kubernetes.io/is-default-class":"true"}},
        "provisioner":"kumo.io/local","reclaimPolicy":"Delete"})"));
    Put(Kind("storage.k8s.io", "v1", "storageclasses"), "", *ParseJson(R"({
        "apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"shared"},
        "provisioner":"kumo.io/shared-dir","parameters":{"path":"/mnt/shared"}})"));
  }

  void Put(const api::ResourceInfo& r, const std::string& ns, json::value obj) {
    json::object& meta = obj.get_object()["metadata"].get_object();
    if (!meta.contains("uid")) meta["uid"] = "uid-" + GetString(obj, {"metadata", "name"});
    auto kv = store_->Create(r.Key(ns, GetString(obj, {"metadata", "name"})), api::SerializeForStore(obj));
    ASSERT_TRUE(kv.ok()) << kv.status().ToString();
    Sync();
  }

  void Claim(const std::string& name, const std::string& cls, const std::string& source = "") {
    json::value pvc = *ParseJson(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
        "metadata":{"namespace":"t"},"spec":{"accessModes":["ReadWriteOnce"],
        "resources":{"requests":{"storage":"1Gi"}}}})");
    pvc.get_object()["metadata"].get_object()["name"] = name;
    pvc.get_object()["spec"].get_object()["storageClassName"] = cls;
    if (!source.empty()) {
      pvc.get_object()["spec"].get_object()["dataSourceRef"] =
          json::object{{"kind", "PersistentVolumeClaim"}, {"name", source}};
    }
    Put(Kind("", "v1", "persistentvolumeclaims"), "t", std::move(pvc));
  }

  json::value SpecNaming(const std::string& claim) {
    return json::object{{"volumes", json::array{json::object{
                                        {"name", "root"},
                                        {"persistentVolumeClaim", json::object{{"claimName", claim}}}}}}};
  }

  // A VMI as the VM controller stores it, with the disks Attach returned.
  void StoreVmi(const std::string& name, const std::string& uid,
                const std::vector<api::VolumeDisk>& disks) {
    Put(Kind("kubevirt.io", "v1", "virtualmachineinstances"), "t",
        json::object{{"apiVersion", "kubevirt.io/v1"},
                     {"kind", "VirtualMachineInstance"},
                     {"metadata", json::object{{"name", name}, {"namespace", "t"}, {"uid", uid},
                                               {"annotations", json::object{{api::kVmiVolumesAnnotation,
                                                                              json::serialize(api::DisksToJson(disks))}}}}},
                     {"spec", SpecNaming(disks.empty() ? "" : disks[0].claim)}});
  }

  std::unique_ptr<Volumes> volumes_;
};

TEST_F(VolumesTest, BindingMakesOneVolumePerClaim) {
  Claim("data", "shared");
  auto bound = volumes_->EnsureBound("t", "data");
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(GetString(*bound, {"spec", "volumeName"}), "pvc-uid-data");
  EXPECT_EQ(GetString(*bound, {"status", "phase"}), "Bound");
  auto pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-data"));
  ASSERT_TRUE(pv);
  EXPECT_EQ(GetString(*pv, {"spec", "claimRef", "namespace"}), "t");
  EXPECT_EQ(GetString(*pv, {"spec", "csi", "driver"}), api::kSharedDirDriver);
  EXPECT_EQ(GetString(*pv, {"spec", "csi", "volumeAttributes", "location"}), "/mnt/shared");
  // Again: the same volume, no second one.
  EXPECT_EQ(GetString(*volumes_->EnsureBound("t", "data"), {"spec", "volumeName"}), "pvc-uid-data");
  EXPECT_EQ(volumes_->EnsureBound("t", "nope").status().code(), Code::kNotFound);
  EXPECT_EQ(volumes_->DefaultClass(), "local");
}

TEST_F(VolumesTest, AVolumeHasOneHolderUntilThatInstanceIsGone) {
  Claim("data", "shared");
  auto first = volumes_->Attach("t", "a", "uid-a", SpecNaming("data"), false);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].pv, "pvc-uid-data");
  EXPECT_FALSE((*first)[0].populated);
  StoreVmi("a", "uid-a", *first);

  auto second = volumes_->Attach("t", "b", "uid-b", SpecNaming("data"), false);
  EXPECT_EQ(second.status().code(), Code::kConflict);
  EXPECT_NE(second.status().message().find("in use by VirtualMachineInstance t/a"), std::string::npos);
  EXPECT_EQ(volumes_->CheckAvailable("t", "b", SpecNaming("data")).code(), Code::kConflict);
  EXPECT_TRUE(volumes_->CheckAvailable("t", "a", SpecNaming("data")).ok());
  // Attaching the same instance again is fine (the VM controller retries).
  EXPECT_TRUE(volumes_->Attach("t", "a", "uid-a", SpecNaming("data"), false).ok());

  // The holder's object goes (its node stopped it): the volume is free, at once for a new
  // instance of the same VM, for others once the attachment is older than the time the VM
  // controller needs to store an instance it attached.
  ASSERT_TRUE(store_->Delete(Kind("kubevirt.io", "v1", "virtualmachineinstances").Key("t", "a"), 0).ok());
  Sync();
  EXPECT_TRUE(volumes_->Attach("t", "a", "uid-a2", SpecNaming("data"), false).ok());
  EXPECT_EQ(volumes_->Attach("t", "b", "uid-b", SpecNaming("data"), false).status().code(),
            Code::kConflict);  // a2 is being stored right now
  clock_.Advance(31);
  auto pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-data"));
  EXPECT_EQ(volumes_->HolderOf(*pv), "");
  EXPECT_TRUE(volumes_->Attach("t", "b", "uid-b", SpecNaming("data"), false).ok());
  // A dry run attaches nothing.
  clock_.Advance(31);
  EXPECT_TRUE(volumes_->Attach("t", "c", "uid-c", SpecNaming("data"), true).ok());
  pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-data"));
  EXPECT_TRUE(GetString(*pv, {"metadata", "annotations", api::kAttachedToAnnotation})
                  .starts_with("t/b/uid-b/"));
}

TEST_F(VolumesTest, TheStoredInstanceOfARacedNameHoldsTheVolume) {
  Claim("data", "shared");
  // Two creates of instance "a" raced: the record names the loser, the store holds the winner.
  auto loser = volumes_->Attach("t", "a", "uid-loser", SpecNaming("data"), false);
  ASSERT_TRUE(loser.ok()) << loser.status().ToString();
  StoreVmi("a", "uid-winner", *loser);
  clock_.Advance(31);
  auto pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-data"));
  EXPECT_EQ(volumes_->HolderOf(*pv), "VirtualMachineInstance t/a");
  EXPECT_EQ(volumes_->Attach("t", "b", "uid-b", SpecNaming("data"), false).status().code(),
            Code::kConflict);
}

TEST_F(VolumesTest, LocalVolumesPinTheirVmsAndClonesToTheirNode) {
  Claim("data", "local");
  auto disks = volumes_->Attach("t", "a", "uid-a", SpecNaming("data"), false);
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  StoreVmi("a", "uid-a", *disks);
  auto vmi = Get(Kind("kubevirt.io", "v1", "virtualmachineinstances").Key("t", "a"));
  EXPECT_FALSE(*volumes_->RequiredNode(*vmi));  // not placed yet: any node
  ASSERT_TRUE(volumes_->PlaceVolumes(*vmi, "n1").ok());
  Sync();
  EXPECT_EQ(volumes_->RequiredNode(*vmi)->value_or(""), "n1");
  EXPECT_EQ(volumes_->PlaceVolumes(*vmi, "n2").code(), Code::kConflict);
  auto pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-data"));
  EXPECT_EQ(api::FieldValue(*pv, api::kPvNodeField), "n1");

  // A clone of a local volume stays on its node; a shared clone of it is refused.
  Claim("copy", "local", "data");
  auto copy = volumes_->EnsureBound("t", "copy");
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  auto copy_pv = Get(Kind("", "v1", "persistentvolumes").Key("", "pvc-uid-copy"));
  EXPECT_EQ(api::FieldValue(*copy_pv, api::kPvNodeField), "n1");
  Claim("far", "shared", "data");
  EXPECT_EQ(volumes_->EnsureBound("t", "far").status().code(), Code::kInvalid);
}

}  // namespace
}  // namespace kumo::controller
