#include "common/random.h"

#include <cstdio>
#include <mutex>
#include <random>

namespace kumo {

namespace {
std::mutex rng_mu;
std::mt19937_64& Rng() {
  static std::mt19937_64 rng{std::random_device{}()};
  return rng;
}
}  // namespace

std::string NewUid() {
  uint64_t a, b;
  {
    std::lock_guard lock(rng_mu);
    a = Rng()();
    b = Rng()();
  }
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  char buf[40];
  snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
           static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
           static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string RandomSuffix(int n) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string out;
  std::lock_guard lock(rng_mu);
  for (int i = 0; i < n; ++i) out.push_back(kAlphabet[Rng()() % (sizeof(kAlphabet) - 1)]);
  return out;
}

}  // namespace kumo
