#include "kube/pod.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "kube/json_fields.h"

namespace aa::kube {
namespace {

std::string Str(const nlohmann::json& obj, const char* key) { return JsonString(obj, key); }

const nlohmann::json* Child(const nlohmann::json& obj, const char* key) {
  return JsonField(obj, key);
}

}  // namespace

absl::StatusOr<double> ParseQuantity(std::string_view text) {
  std::string_view s = text;
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("not a resource quantity: \"", ToAbsl(text), "\""));
  };
  if (s.empty()) return bad();
  // The number: optional sign, digits, optional fraction.
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t digits = 0;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return bad();
  double number = 0;
  if (!absl::SimpleAtod(ToAbsl(s.substr(0, i)), &number)) return bad();
  std::string_view suffix = s.substr(i);
  // Decimal SI suffixes; "E" alone is exa, "E" or "e" with digits an exponent.
  static constexpr std::pair<std::string_view, double> kDecimal[] = {
      {"", 1},    {"n", 1e-9}, {"u", 1e-6}, {"m", 1e-3}, {"k", 1e3},
      {"M", 1e6}, {"G", 1e9},  {"T", 1e12}, {"P", 1e15}, {"E", 1e18}};
  for (const auto& [name, scale] : kDecimal) {
    if (suffix == name) return number * scale;
  }
  if (suffix.size() == 2 && suffix[1] == 'i') {
    static constexpr std::string_view kBinary = "KMGTPE";
    size_t pos = kBinary.find(suffix[0]);
    if (pos == std::string_view::npos) return bad();
    return number * std::ldexp(1.0, 10 * static_cast<int>(pos + 1));
  }
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    int exp = 0;
    if (!absl::SimpleAtoi(ToAbsl(suffix.substr(1)), &exp) || exp < -30 || exp > 30) return bad();
    return number * std::pow(10.0, exp);
  }
  return bad();
}

absl::StatusOr<absl::Time> ParseKubeTime(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &t, &err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 time: \"", ToAbsl(text), "\": ", err));
  }
  return t;
}

absl::StatusOr<PodInfo> ParsePod(const nlohmann::json& pod) {
  const nlohmann::json* md = Child(pod, "metadata");
  if (md == nullptr || !md->is_object()) return absl::InvalidArgumentError("pod without metadata");
  PodInfo info;
  info.name = Str(*md, "name");
  info.ns = Str(*md, "namespace");
  if (info.name.empty() || info.ns.empty()) {
    return absl::InvalidArgumentError("pod without metadata.name or metadata.namespace");
  }
  info.resource_version = Str(*md, "resourceVersion");
  if (const nlohmann::json* labels = Child(*md, "labels");
      labels != nullptr && labels->is_object()) {
    for (const auto& [k, v] : labels->items()) {
      if (v.is_string()) info.labels[k] = v.get<std::string>();
    }
  }
  if (const nlohmann::json* del = Child(*md, "deletionTimestamp");
      del != nullptr && !del->is_null()) {
    info.terminating = true;
  }
  if (const nlohmann::json* status = Child(pod, "status");
      status != nullptr && status->is_object()) {
    info.phase = Str(*status, "phase");
    if (std::string start = Str(*status, "startTime"); !start.empty()) {
      auto t = ParseKubeTime(start);
      if (t.ok()) info.start_time = *t;
    }
    if (const nlohmann::json* conds = Child(*status, "conditions"); conds && conds->is_array()) {
      for (const auto& c : *conds) {
        if (c.is_object() && Str(c, "type") == "Ready") info.ready = Str(c, "status") == "True";
      }
    }
  }
  const nlohmann::json* spec = Child(pod, "spec");
  const nlohmann::json* containers = spec ? Child(*spec, "containers") : nullptr;
  if (containers != nullptr && containers->is_array() && !containers->empty()) {
    info.cpu_request_complete = true;
    for (const auto& c : *containers) {
      const nlohmann::json* res = Child(c, "resources");
      const nlohmann::json* req = res ? Child(*res, "requests") : nullptr;
      const nlohmann::json* cpu = req ? Child(*req, "cpu") : nullptr;
      if (cpu == nullptr || !cpu->is_string()) {
        info.cpu_request_complete = false;
        continue;
      }
      auto cores = ParseQuantity(cpu->get<std::string>());
      if (!cores.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("pod ", info.ns, "/", info.name, ", container ", Str(c, "name"),
                         ": cpu request: ", cores.status().message()));
      }
      info.cpu_request_cores += *cores;
    }
  }
  return info;
}

}  // namespace aa::kube
