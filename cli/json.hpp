#pragma once
// A tiny JSON object writer for `--json` output: one object per line, keys in insertion order.
#include <cmath>
#include <cstdio>
#include <string>

namespace msinr::cli {

class JsonLine {
 public:
  JsonLine& add(const std::string& key, const std::string& value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, const char* value) { return raw(key, quote(value)); }
  JsonLine& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonLine& add(const std::string& key, double value) {
    if (!std::isfinite(value)) return raw(key, "null");  // JSON has no infinity
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", value);
    return raw(key, buf);
  }
  JsonLine& add(const std::string& key, long long value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, int value) { return add(key, static_cast<long long>(value)); }
  JsonLine& add(const std::string& key, std::size_t value) { return add(key, static_cast<long long>(value)); }
  JsonLine& raw(const std::string& key, const std::string& json_value) {
    body_ += (body_.empty() ? "" : ", ") + quote(key) + ": " + json_value;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

  static std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    return out + "\"";
  }

 private:
  std::string body_;
};

}  // namespace msinr::cli
