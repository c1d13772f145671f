#include "controller/ipam.h"

#include <gtest/gtest.h>

#include "api/object.h"
#include "api/resource.h"
#include "controller_fixture.h"

namespace kumo::controller {
namespace {

class IpamTest : public testing::ControllerFixture {
 protected:
  IpamTest()
      : ControllerFixture([](const json::value& parsed, store::CachedObject& obj) {
          obj.fields.emplace_back("metadata.name", GetString(parsed, {"metadata", "name"}));
          for (auto f : {"spec.pool", "spec.namespace", "spec.vm", "spec.reservation"}) {
            obj.fields.emplace_back(f, api::FieldValue(parsed, f));
          }
        }) {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ControllerFixture::SetUp());
    ipam_ = std::make_unique<Ipam>(*store_, *cache_);
  }
  void AddPool(const std::string& name, const std::string& cidr, json::array namespaces = {}) {
    json::value p = json::object{{"apiVersion", "kumo.io/v1alpha1"}, {"kind", "IPPool"},
                                 {"metadata", json::object{{"name", name}}},
                                 {"spec", json::object{{"cidr", cidr}, {"namespaces", namespaces}}}};
    auto& r = *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "ippools");
    ASSERT_TRUE(store_->Create(r.Key("", name), api::SerializeForStore(p)).ok());
    Sync();
  }
  void AddReservation(const std::string& ns, const std::string& name) {
    json::value p = json::object{{"apiVersion", "kumo.io/v1alpha1"}, {"kind", "IPReservation"},
                                 {"metadata", json::object{{"name", name}, {"namespace", ns}}},
                                 {"spec", json::object{{"count", 1}}}};
    auto& r = *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "ipreservations");
    ASSERT_TRUE(store_->Create(r.Key(ns, name), api::SerializeForStore(p)).ok());
  }

  std::unique_ptr<Ipam> ipam_;
};

TEST_F(IpamTest, ExhaustionAndRelease) {
  AddPool("small", "10.1.0.0/30");  // two usable addresses
  auto a = ipam_->AddressForVm("t", "vm1", "", "");
  ASSERT_TRUE(a.ok() && a->has_value());
  Sync();
  auto b = ipam_->AddressForVm("t", "vm2", "", "");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_NE(**a, **b);
  Sync();
  auto c = ipam_->AddressForVm("t", "vm3", "", "");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  EXPECT_NE(c.status().message().find("no free address"), std::string::npos);
  // The same VM asking again keeps its address (restarts, rescheduling).
  auto again = ipam_->AddressForVm("t", "vm1", "", "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(**again, **a);
  // Releasing a VM frees its address for the next one.
  ASSERT_TRUE(ipam_->ReleaseVm("t", "vm1").ok());
  Sync();
  auto d = ipam_->AddressForVm("t", "vm3", "", "");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(**d, **a);
}

TEST_F(IpamTest, NoPoolMeansNoAddress) {
  auto a = ipam_->AddressForVm("t", "vm1", "", "");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->has_value());
}

TEST_F(IpamTest, PoolsAreLimitedToTheirTenants) {
  AddPool("a-only", "10.2.0.0/29", json::array{"tenant-a"});
  EXPECT_TRUE(ipam_->AddressForVm("tenant-a", "vm", "", "")->has_value());
  EXPECT_FALSE(ipam_->AddressForVm("tenant-b", "vm", "", "")->has_value());
  auto outside = ipam_->Claim("10.2.0.3", Allocation{"", "", "tenant-b", "vm2", ""});
  EXPECT_EQ(outside.code(), Code::kInvalid);
  EXPECT_NE(outside.message().find("outside every IP pool tenant tenant-b may use"), std::string::npos);
}

TEST_F(IpamTest, FixedAddressesConflictAcrossVms) {
  AddPool("p", "10.3.0.0/24");
  auto a = ipam_->AddressForVm("t", "vm1", "10.3.0.5", "");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Sync();
  auto b = ipam_->AddressForVm("t", "vm2", "10.3.0.5", "");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kConflict);
  EXPECT_NE(b.status().message().find("in use by VM t/vm1"), std::string::npos);
  auto other_tenant = ipam_->AddressForVm("u", "vm1", "10.3.0.5", "");
  EXPECT_EQ(other_tenant.status().code(), Code::kConflict);
}

TEST_F(IpamTest, ReservationsOutliveVms) {
  AddPool("p", "10.4.0.0/24");
  AddReservation("t", "web");
  ASSERT_TRUE(ipam_->Claim("10.4.0.10", Allocation{"", "", "t", "", "web"}).ok());
  Sync();
  // A VM of the same tenant that asks for the reserved address by value uses it through the
  // reservation.
  auto stray = ipam_->AddressForVm("t", "other", "10.4.0.10", "");
  ASSERT_TRUE(stray.ok()) << stray.status().ToString();
  Sync();
  EXPECT_EQ(ipam_->Get("10.4.0.10")->vm, "other");
  ASSERT_TRUE(ipam_->ReleaseVm("t", "other").ok());
  Sync();
  // The VM is gone; the reservation still holds the address.
  auto held = ipam_->Get("10.4.0.10");
  ASSERT_TRUE(held);
  EXPECT_EQ(held->reservation, "web");
  EXPECT_EQ(held->vm, "");
  auto via = ipam_->AddressForVm("t", "web1", "", "web");
  ASSERT_TRUE(via.ok()) << via.status().ToString();
  EXPECT_EQ(**via, "10.4.0.10");
  Sync();
  auto full = ipam_->AddressForVm("t", "web2", "", "web");
  EXPECT_EQ(full.status().code(), Code::kConflict);
  EXPECT_NE(full.status().message().find("has no free address"), std::string::npos);
  // Deleting the reservation leaves the address with its VM until the VM goes.
  ASSERT_TRUE(ipam_->ReleaseReservation("t", "web").ok());
  Sync();
  EXPECT_EQ(ipam_->Get("10.4.0.10")->vm, "web1");
  ASSERT_TRUE(ipam_->ReleaseVm("t", "web1").ok());
  Sync();
  EXPECT_FALSE(ipam_->Get("10.4.0.10"));
}

}  // namespace
}  // namespace kumo::controller

namespace kumo::controller {
namespace {

// Issue 10: a Tenant's spec.ipPools limits every address its namespace gets, not only the pools
// it names: automatic, explicit (Claim) and fixed.
TEST_F(IpamTest, TenantIpPoolsLimitEveryAddress) {
  AddPool("shared", "10.5.0.0/29");
  AddPool("mine", "10.6.0.0/29");
  json::value t = *ParseJson(R"({"apiVersion":"kumo.io/v1alpha1","kind":"Tenant",
      "metadata":{"name":"t"},"spec":{"ipPools":["mine"]}})");
  auto& tenants = *api::DefaultRegistry().Find("kumo.io", "v1alpha1", "tenants");
  ASSERT_TRUE(store_->Create(tenants.Key("", "t"), api::SerializeForStore(t)).ok());
  Sync();
  auto a = ipam_->AddressForVm("t", "vm1", "", "");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->rfind("10.6.0.", 0), 0u) << **a;
  auto fixed = ipam_->AddressForVm("t", "vm2", "10.5.0.3", "");
  EXPECT_EQ(fixed.status().code(), Code::kInvalid);
  EXPECT_EQ(ipam_->Claim("10.5.0.4", Allocation{"", "", "t", "", "r"}).code(), Code::kInvalid);
  // Another namespace without such a tenant still uses the shared pool.
  EXPECT_TRUE(ipam_->AddressForVm("u", "vm1", "10.5.0.3", "").ok());
}

// Issue 10: naming a reservation together with a fixed address takes the address from that
// reservation or fails; it never gives the VM an address no quota counts.
TEST_F(IpamTest, FixedAddressWithAReservationMustBeInIt) {
  AddPool("p", "10.7.0.0/24");
  AddReservation("t", "web");
  ASSERT_TRUE(ipam_->Claim("10.7.0.10", Allocation{"", "", "t", "", "web"}).ok());
  Sync();
  auto outside = ipam_->AddressForVm("t", "vm", "10.7.0.99", "web");
  EXPECT_EQ(outside.status().code(), Code::kInvalid);
  auto ghost = ipam_->AddressForVm("t", "vm", "10.7.0.98", "no-such-reservation");
  EXPECT_EQ(ghost.status().code(), Code::kInvalid);
  EXPECT_FALSE(ipam_->Get("10.7.0.99").has_value());
  auto inside = ipam_->AddressForVm("t", "vm", "10.7.0.10", "web");
  ASSERT_TRUE(inside.ok()) << inside.status().ToString();
  EXPECT_EQ(ipam_->Get("10.7.0.10")->reservation, "web");
}

}  // namespace
}  // namespace kumo::controller
