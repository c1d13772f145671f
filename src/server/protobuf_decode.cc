#include "server/protobuf_decode.h"

#include <cstdint>
#include <functional>

#include "common/base64.h"

namespace kumo::server {

namespace {

// A protobuf wire-format reader over a byte range.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  bool ok() const { return ok_; }

  // Reads the next field key; false at the end or on error.
  bool Next(uint32_t& field, uint32_t& wire_type) {
    if (done() || !ok_) return false;
    uint64_t key = Varint();
    field = static_cast<uint32_t>(key >> 3);
    wire_type = static_cast<uint32_t>(key & 7);
    return ok_;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) {
        ok_ = false;
        return 0;
      }
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }
  std::string_view Bytes() {
    uint64_t n = Varint();
    if (!ok_ || n > data_.size() - pos_) {
      ok_ = false;
      return {};
    }
    std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  void Skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0: Varint(); break;
      case 1: pos_ += 8; break;
      case 2: Bytes(); break;
      case 5: pos_ += 4; break;
      default: ok_ = false;
    }
    if (pos_ > data_.size()) ok_ = false;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Calls `on_field(field, wire_type, reader)` for each field; the callback consumes the value or
// returns false to have it skipped.
bool ForEachField(std::string_view msg,
                  const std::function<bool(uint32_t, uint32_t, Reader&)>& on_field) {
  Reader r(msg);
  uint32_t field, wt;
  while (r.Next(field, wt)) {
    if (!on_field(field, wt, r)) r.Skip(wt);
  }
  return r.ok();
}

// map<string, string|bytes> entry: key = 1, value = 2.
bool MapEntry(std::string_view entry, json::object& into, bool bytes_value) {
  std::string key, value;
  bool ok = ForEachField(entry, [&](uint32_t f, uint32_t wt, Reader& r) {
    if (wt != 2) return false;
    if (f == 1) key = std::string(r.Bytes());
    else if (f == 2) value = std::string(r.Bytes());
    else return false;
    return true;
  });
  into[key] = bytes_value ? Base64Encode(value) : value;
  return ok;
}

bool DecodeObjectMetaFields(std::string_view msg, json::object& meta) {
  return ForEachField(msg, [&](uint32_t f, uint32_t wt, Reader& r) {
    if (wt == 2) {
      switch (f) {
        case 1: meta["name"] = std::string(r.Bytes()); return true;
        case 2: meta["generateName"] = std::string(r.Bytes()); return true;
        case 3: meta["namespace"] = std::string(r.Bytes()); return true;
        case 5: meta["uid"] = std::string(r.Bytes()); return true;
        case 6: meta["resourceVersion"] = std::string(r.Bytes()); return true;
        case 11: {
          json::value& labels = meta["labels"];
          if (!labels.is_object()) labels = json::object();
          return MapEntry(r.Bytes(), labels.get_object(), false);
        }
        case 12: {
          json::value& ann = meta["annotations"];
          if (!ann.is_object()) ann = json::object();
          return MapEntry(r.Bytes(), ann.get_object(), false);
        }
        case 14: {
          json::value& fin = meta["finalizers"];
          if (!fin.is_array()) fin = json::array();
          fin.get_array().push_back(json::value(std::string(r.Bytes())));
          return true;
        }
        default: return false;  // selfLink, times, owner references, managed fields
      }
    }
    return false;
  });
}

bool DecodeObjectMeta(std::string_view msg, json::object& meta) {
  bool ok = DecodeObjectMetaFields(msg, meta);
  // Generated Kubernetes protobuf writes empty strings; JSON clients omit them.
  for (auto it = meta.begin(); it != meta.end();) {
    if (it->value().is_string() && it->value().get_string().empty()) it = meta.erase(it);
    else ++it;
  }
  return ok;
}

bool DecodeNamespace(std::string_view msg, json::object& obj) {
  return ForEachField(msg, [&](uint32_t f, uint32_t wt, Reader& r) {
    if (wt != 2) return false;
    if (f == 1) return DecodeObjectMeta(r.Bytes(), obj["metadata"].emplace_object());
    if (f == 2) {
      json::array finalizers;
      bool ok = ForEachField(r.Bytes(), [&](uint32_t sf, uint32_t swt, Reader& sr) {
        if (sf != 1 || swt != 2) return false;
        finalizers.push_back(json::value(std::string(sr.Bytes())));
        return true;
      });
      if (!finalizers.empty()) obj["spec"] = json::object{{"finalizers", finalizers}};
      return ok;
    }
    return false;
  });
}

bool DecodeSecret(std::string_view msg, json::object& obj) {
  return ForEachField(msg, [&](uint32_t f, uint32_t wt, Reader& r) {
    if (f == 5 && wt == 0) {
      obj["immutable"] = r.Varint() != 0;
      return true;
    }
    if (wt != 2) return false;
    switch (f) {
      case 1: return DecodeObjectMeta(r.Bytes(), obj["metadata"].emplace_object());
      case 2: {
        json::value& data = obj["data"];
        if (!data.is_object()) data = json::object();
        return MapEntry(r.Bytes(), data.get_object(), true);
      }
      case 3: obj["type"] = std::string(r.Bytes()); return true;
      case 4: {
        json::value& data = obj["stringData"];
        if (!data.is_object()) data = json::object();
        return MapEntry(r.Bytes(), data.get_object(), false);
      }
      default: return false;
    }
  });
}

}  // namespace

StatusOr<json::value> DecodeKubernetesProtobuf(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) {
    return BadRequest("the protobuf body does not start with the Kubernetes magic prefix");
  }
  std::string api_version, kind;
  std::string_view raw;
  bool ok = ForEachField(body.substr(4), [&](uint32_t f, uint32_t wt, Reader& r) {
    if (wt != 2) return false;
    if (f == 1) {  // TypeMeta
      return ForEachField(r.Bytes(), [&](uint32_t tf, uint32_t twt, Reader& tr) {
        if (twt != 2) return false;
        if (tf == 1) api_version = std::string(tr.Bytes());
        else if (tf == 2) kind = std::string(tr.Bytes());
        else return false;
        return true;
      });
    }
    if (f == 2) {
      raw = r.Bytes();
      return true;
    }
    return false;
  });
  if (!ok) return BadRequest("the protobuf body is malformed");
  json::object obj{{"apiVersion", api_version}, {"kind", kind}};
  bool decoded = false;
  if (api_version == "v1" && kind == "Namespace") decoded = DecodeNamespace(raw, obj);
  else if (api_version == "v1" && kind == "Secret") decoded = DecodeSecret(raw, obj);
  else {
    return Status(Code::kUnsupportedMediaType,
                  "Kumo accepts protobuf bodies only for Namespace and Secret; send " + kind +
                      " as application/json");
  }
  if (!decoded) return BadRequest("the protobuf body of the " + kind + " is malformed");
  json::value out(std::move(obj));
  // Protobuf strings arrive as raw bytes; JSON (and so the store) only holds UTF-8.
  KUMO_RETURN_IF_ERROR(CheckUtf8(out));
  return out;
}

}  // namespace kumo::server
