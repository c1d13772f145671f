// The benchmark's baseline: the cheapest durable way to store the same objects, raw SQLite
// inserts of the same serialized JSON into a table shaped like the server's kv table, with the
// server's durability (WAL, synchronous=FULL) and one transaction per row, as one acknowledged
// create each.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "workload.h"

namespace kumo::bench {

struct Row {
  std::string key;    // "/registry/kubevirt.io/virtualmachines/ns/name"
  std::string value;  // the object's JSON
};

// Creates the table (rev INTEGER PRIMARY KEY, key, created, deleted, value, prev_rev) and its
// (key, rev) index in the database at `path` when missing.
Status InitBaseline(const std::string& path);

// Inserts `rows` with `threads` threads, each with its own connection (busy_timeout 10 s) and
// one BEGIN IMMEDIATE ... COMMIT per row. With `queue`, the threads take turns through an
// in-process mutex instead of SQLite's busy handler, which sleeps and retries.
RunResult RunBaseline(const std::string& path, const std::vector<Row>& rows, int threads,
                      bool queue = false);

}  // namespace kumo::bench
