// Time source behind an interface so tests can use a fake clock instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kumo {

// Thread-safe. Implementations must be usable from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixSeconds() const = 0;
  virtual int64_t NowMonotonicMicros() const = 0;
};

class RealClock : public Clock {
 public:
  int64_t NowUnixSeconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t NowMonotonicMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  // Process-wide instance; never destroyed.
  static Clock& Get();
};

// A clock tests advance by hand.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t unix_seconds = 1700000000) : secs_(unix_seconds) {}
  int64_t NowUnixSeconds() const override { return secs_.load(); }
  int64_t NowMonotonicMicros() const override { return micros_.load(); }
  void Advance(int64_t seconds) {
    secs_ += seconds;
    micros_ += seconds * 1000000;
  }

 private:
  std::atomic<int64_t> secs_;
  std::atomic<int64_t> micros_{0};
};

}  // namespace kumo
