#pragma once
// PodName: the name of one row of a table (a pod, "<pod>/<container>", "<namespace>/<pod>", an
// external series' key) and the key of the pod-label index, interned process-wide.
//
// Contract:
// - Equal names share one immutable allocation while any PodName holds it, so the tables of every
//   metric, the pod-label index and the next round's tables hold each pod name once; the
//   allocation is freed with its last holder. A PodName is one pointer (8 bytes; "" holds none).
// - It reads as a std::string_view (implicit conversion, view()): the view stays valid while this
//   PodName (or another holding the same name) lives. Compares and hashes by content, so maps keyed
//   by PodName can be searched with a std::string_view (Hash, Eq are transparent).
// - Made from a std::string_view, std::string or C string (implicit: a name is assigned as a
//   string is). Making one takes a process-wide lock; copying and destroying one do not, except
//   when the last holder of a name lets go.
// - Thread-safe as a std::string is: distinct PodNames may be used from any thread concurrently.

#include <compare>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/hash/hash.h"

namespace aa::pipeline {

class PodName {
 public:
  PodName() = default;
  PodName(std::string_view name);   // NOLINT(google-explicit-constructor): assigned like a string
  PodName(const std::string& name)  // NOLINT(google-explicit-constructor)
      : PodName(std::string_view(name)) {}
  PodName(const char* name)  // NOLINT(google-explicit-constructor)
      : PodName(std::string_view(name)) {}
  PodName(const PodName& other);
  PodName(PodName&& other) noexcept : entry_(std::exchange(other.entry_, nullptr)) {}
  PodName& operator=(const PodName& other);
  PodName& operator=(PodName&& other) noexcept;
  ~PodName();

  std::string_view view() const;
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  operator std::string() const { return std::string(view()); }  // NOLINT

  bool empty() const { return entry_ == nullptr; }
  size_t size() const { return view().size(); }
  size_t find(char c, size_t pos = 0) const { return view().find(c, pos); }

  friend bool operator==(const PodName& a, const PodName& b) {
    return a.entry_ == b.entry_;  // interned: equal names share their entry
  }
  friend bool operator==(const PodName& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const PodName& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const PodName& a, const char* b) { return a.view() == b; }
  friend std::strong_ordering operator<=>(const PodName& a, const PodName& b) {
    return a.view().compare(b.view()) <=> 0;
  }
  friend std::strong_ordering operator<=>(const PodName& a, std::string_view b) {
    return a.view().compare(b) <=> 0;
  }
  friend std::strong_ordering operator<=>(const PodName& a, const std::string& b) {
    return a.view().compare(b) <=> 0;
  }
  friend std::strong_ordering operator<=>(const PodName& a, const char* b) {
    return a.view().compare(b) <=> 0;
  }
  friend std::ostream& operator<<(std::ostream& os, const PodName& n) { return os << n.view(); }
  template <typename H>
  friend H AbslHashValue(H h, const PodName& n) {
    return H::combine(std::move(h), n.view());
  }

  // Transparent hash and equality for maps keyed by PodName, searched by any string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>()(s); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };

  // How many distinct names are held now (for tests and self-metrics).
  static size_t Interned();

  struct Entry;

 private:
  Entry* entry_ = nullptr;
};

}  // namespace aa::pipeline
