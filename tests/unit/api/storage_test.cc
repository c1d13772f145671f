#include "api/storage.h"

#include <gtest/gtest.h>

#include "api/validation.h"

namespace kumo::api {
namespace {

json::value Parse(const char* text) { return *ParseJson(text); }

TEST(StorageTest, ClaimsOfNamesPvcAndDataVolumeVolumes) {
  auto spec = Parse(R"({"volumes":[
      {"name":"root","dataVolume":{"name":"db-root"}},
      {"name":"ci","cloudInitNoCloud":{"userData":"x"}},
      {"name":"data","persistentVolumeClaim":{"claimName":"data"}},
      {"name":"img","containerDisk":{"image":"tiny"}}]})");
  auto claims = ClaimsOf(spec);
  ASSERT_EQ(claims.size(), 2u);
  EXPECT_EQ(claims[0].volume, "root");
  EXPECT_EQ(claims[0].claim, "db-root");
  EXPECT_EQ(claims[1].volume, "data");
  EXPECT_EQ(claims[1].claim, "data");
  EXPECT_TRUE(ClaimsOf(Parse(R"({"volumes":"nonsense"})")).empty());
}

TEST(StorageTest, RequestedStorageRoundsUpToMiBAndIsBounded) {
  auto size = [](const char* q) {
    return RequestedStorage(*ParseJson(std::string(R"({"resources":{"requests":{"storage":)") + q + "}}}"));
  };
  EXPECT_EQ(*size(R"("1Gi")"), 1LL << 30);
  EXPECT_EQ(*size(R"("1")"), 1LL << 20);  // one byte asks for a whole MiB
  EXPECT_EQ(*size(R"("1.5Mi")"), 2LL << 20);
  EXPECT_EQ(*size("1048576"), 1LL << 20);
  EXPECT_EQ(*size(R"("64Ti")"), kMaxVolumeBytes);
  EXPECT_EQ(size(R"("65Ti")").status().code(), Code::kInvalid);
  EXPECT_EQ(size(R"("1e30")").status().code(), Code::kInvalid);
  EXPECT_EQ(size(R"("0")").status().code(), Code::kInvalid);
  EXPECT_EQ(size(R"("-1Gi")").status().code(), Code::kInvalid);
  EXPECT_EQ(size(R"("lots")").status().code(), Code::kInvalid);
  EXPECT_EQ(size("true").status().code(), Code::kInvalid);
  EXPECT_EQ(RequestedStorage(Parse("{}")).status().code(), Code::kInvalid);
}

TEST(StorageTest, DisksRoundTripThroughTheAnnotation) {
  VolumeDisk a{.volume = "root", .claim = "db-root", .pv = "pvc-1234", .driver = kLocalDriver,
               .size_bytes = 1 << 30, .populated = true, .source = "image",
               .image_path = "/images/tiny.qcow2", .image_format = "qcow2"};
  VolumeDisk b{.volume = "data", .claim = "data", .pv = "pvc-5678", .driver = kSharedDirDriver,
               .location = "/mnt/shared", .size_bytes = 64 << 20, .source = "clone",
               .clone_pv = "pvc-9", .clone_driver = kSharedDirDriver, .clone_location = "/mnt/shared"};
  json::value vmi = json::object{
      {"metadata", json::object{{"annotations", json::object{{kVmiVolumesAnnotation,
                                                              json::serialize(DisksToJson({a, b}))}}}}}};
  auto disks = DisksOf(vmi);
  ASSERT_TRUE(disks.ok()) << disks.status().ToString();
  ASSERT_EQ(disks->size(), 2u);
  EXPECT_EQ((*disks)[0].image_path, "/images/tiny.qcow2");
  EXPECT_TRUE((*disks)[0].populated);
  EXPECT_EQ((*disks)[1].location, "/mnt/shared");
  EXPECT_EQ((*disks)[1].clone_pv, "pvc-9");
  EXPECT_TRUE(DisksOf(Parse("{}"))->empty());
}

TEST(StorageTest, DisksWithNamesKumoDoesNotMakeAreRefused) {
  for (const char* pv : {"../../etc/passwd", "pvc-../x", "pvc-A", "other", "pvc-"}) {
    json::array list{json::object{{"volume", "root"}, {"pv", pv}, {"sizeBytes", 1}}};
    json::value vmi = json::object{
        {"metadata", json::object{{"annotations", json::object{{kVmiVolumesAnnotation,
                                                                json::serialize(list)}}}}}};
    EXPECT_EQ(DisksOf(vmi).status().code(), Code::kInvalid) << pv;
  }
  json::value junk = json::object{
      {"metadata", json::object{{"annotations", json::object{{kVmiVolumesAnnotation, "{"}}}}}};
  EXPECT_EQ(DisksOf(junk).status().code(), Code::kInvalid);
  EXPECT_TRUE(ValidPvName("pvc-0f3c-a9"));
}

TEST(StorageTest, AccessModesAreAbbreviatedAsKubectlPrintsThem) {
  auto modes = Parse(R"(["ReadWriteOnce","ReadWriteMany","ReadOnlyMany","ReadWriteOncePod"])");
  EXPECT_EQ(AccessModesShort(&modes), "RWO,RWX,ROX,RWOP");
  EXPECT_EQ(AccessModesShort(nullptr), "");
}

json::value Claim(const char* spec) {
  return *ParseJson(std::string(R"({"apiVersion":"v1","kind":"PersistentVolumeClaim",
      "metadata":{"name":"data","namespace":"t"},"spec":)") + spec + "}");
}

TEST(StorageValidationTest, Claims) {
  EXPECT_TRUE(ValidatePersistentVolumeClaim(
                  Claim(R"({"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}})"))
                  .ok());
  EXPECT_TRUE(ValidatePersistentVolumeClaim(Claim(R"({"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}},
      "dataSourceRef":{"apiGroup":"kumo.io","kind":"Image","name":"tiny"}})"))
                  .ok());
  Status st = ValidatePersistentVolumeClaim(Claim(R"({"resources":{"requests":{}}})"));
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("spec.accessModes"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("spec.resources.requests.storage"), std::string::npos);
  st = ValidatePersistentVolumeClaim(Claim(R"({"accessModes":["Sometimes"],
      "resources":{"requests":{"storage":"1Gi"}}})"));
  EXPECT_NE(st.message().find("Unsupported value: \"Sometimes\""), std::string::npos) << st.message();
  st = ValidatePersistentVolumeClaim(Claim(R"({"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}},
      "dataSourceRef":{"kind":"PersistentVolumeClaim","name":"x","namespace":"other"}})"));
  EXPECT_NE(st.message().find("own namespace"), std::string::npos) << st.message();
  st = ValidatePersistentVolumeClaim(Claim(R"({"accessModes":["ReadWriteOnce"],
      "resources":{"requests":{"storage":"1Gi"}},
      "dataSource":{"kind":"Secret","name":"x"}})"));
  EXPECT_NE(st.message().find("spec.dataSource.kind"), std::string::npos) << st.message();
}

TEST(StorageValidationTest, StorageClasses) {
  auto sc = [](const char* rest) {
    return *ParseJson(std::string(R"({"apiVersion":"storage.k8s.io/v1","kind":"StorageClass",
        "metadata":{"name":"c"},)") + rest + "}");
  };
  EXPECT_TRUE(ValidateStorageClass(sc(R"("provisioner":"kumo.io/local")")).ok());
  EXPECT_TRUE(ValidateStorageClass(
                  sc(R"("provisioner":"kumo.io/shared-dir","parameters":{"path":"/mnt/nfs"})"))
                  .ok());
  for (const char* bad : {R"("provisioner":"kumo.io/shared-dir")",
                          R"("provisioner":"kumo.io/shared-dir","parameters":{"path":"relative"})",
                          R"("provisioner":"kumo.io/shared-dir","parameters":{"path":"/a/../etc"})",
                          R"("provisioner":"kumo.io/shared-dir","parameters":{"path":"/a,b"})",
                          R"("provisioner":"ebs.csi.aws.com")",
                          R"("provisioner":"kumo.io/local","reclaimPolicy":"Recycle")"}) {
    EXPECT_EQ(ValidateStorageClass(sc(bad)).code(), Code::kInvalid) << bad;
  }
}

TEST(StorageValidationTest, DataVolumes) {
  auto dv = [](const char* spec) {
    return *ParseJson(std::string(R"({"apiVersion":"cdi.kubevirt.io/v1beta1","kind":"DataVolume",
        "metadata":{"name":"d","namespace":"t"},"spec":)") + spec + "}");
  };
  EXPECT_TRUE(ValidateDataVolume(dv(R"({"source":{"registry":{"url":"docker://kumo/tiny"}},
      "storage":{"resources":{"requests":{"storage":"1Gi"}}}})"))
                  .ok());
  EXPECT_TRUE(ValidateDataVolume(dv(R"({"source":{"blank":{}},
      "pvc":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}})"))
                  .ok());
  for (const char* bad :
       {R"({"source":{"blank":{}}})",
        R"({"source":{"blank":{},"pvc":{"name":"x"}},"storage":{"resources":{"requests":{"storage":"1Gi"}}}})",
        R"({"source":{"http":{"url":"http://x/y.img"}},"storage":{"resources":{"requests":{"storage":"1Gi"}}}})",
        R"({"source":{"pvc":{"name":"x","namespace":"other"}},"storage":{"resources":{"requests":{"storage":"1Gi"}}}})",
        R"({"source":{"registry":{}},"storage":{"resources":{"requests":{"storage":"1Gi"}}}})"}) {
    EXPECT_EQ(ValidateDataVolume(dv(bad)).code(), Code::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace kumo::api
