#include "api/quantity.h"

#include <gtest/gtest.h>

namespace kumo::api {
namespace {

// Found by fuzz/fuzz_quantity: exponents and digit strings past a double's range gave inf, and
// "0e<huge>" gave NaN, which every comparison of a size or quota then let through.
TEST(QuantityRangeTest, ValuesPastADoubleAreRefused) {
  EXPECT_FALSE(ParseQuantity("0e" + std::string(80, '3')).ok());
  EXPECT_FALSE(ParseQuantity("1e999").ok());
  EXPECT_FALSE(ParseQuantity("-1e999").ok());
  EXPECT_FALSE(ParseQuantity(std::string(400, '9')).ok());
  EXPECT_FALSE(ParseQuantity(std::string(400, '9') + "Ei").ok());
  EXPECT_DOUBLE_EQ(*ParseQuantity("1e300"), 1e300);
  EXPECT_DOUBLE_EQ(*ParseQuantity("0e-99999"), 0);
  EXPECT_DOUBLE_EQ(*ParseQuantity("16Ei"), 16.0 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024);
}

}  // namespace
}  // namespace kumo::api
