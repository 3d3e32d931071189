#include "pipeline/pod_name.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"

namespace aa::pipeline {

// One interned name: its holders' count, then its characters (allocated together).
struct PodName::Entry {
  std::atomic<uint32_t> refs;
  uint32_t size;

  std::string_view view() const { return {reinterpret_cast<const char*>(this + 1), size}; }
};

namespace {

using Entry = PodName::Entry;

struct EntryHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>()(s); }
  size_t operator()(const Entry* e) const { return (*this)(e->view()); }
};
struct EntryEq {
  using is_transparent = void;
  static std::string_view View(std::string_view s) { return s; }
  static std::string_view View(const Entry* e) { return e->view(); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a) == View(b);
  }
};

// Every name held. An entry's count only goes from 1 to 0 under the lock, which also removes it,
// so a name found under the lock is never being freed.
struct Interner {
  absl::Mutex mu;
  absl::flat_hash_set<Entry*, EntryHash, EntryEq> names ABSL_GUARDED_BY(mu);
};

Interner& Names() {
  static auto* interner = new Interner;  // never destroyed: PodNames may outlive static objects
  return *interner;
}

void Acquire(Entry* e) {
  if (e != nullptr) e->refs.fetch_add(1, std::memory_order_relaxed);
}

void Release(Entry* e) {
  if (e == nullptr) return;
  uint32_t refs = e->refs.load(std::memory_order_relaxed);
  while (refs > 1) {
    if (e->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel)) return;
  }
  // Perhaps the last holder: decide under the lock (a lookup may take a new hold meanwhile).
  Interner& in = Names();
  absl::MutexLock lock(&in.mu);
  if (e->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  in.names.erase(e);
  e->~Entry();
  ::operator delete(e);
}

}  // namespace

PodName::PodName(std::string_view name) {
  if (name.empty()) return;
  Interner& in = Names();
  absl::MutexLock lock(&in.mu);
  auto it = in.names.find(name);
  if (it != in.names.end()) {
    entry_ = *it;
    Acquire(entry_);
    return;
  }
  void* memory = ::operator new(sizeof(Entry) + name.size());
  entry_ = new (memory) Entry{{1}, static_cast<uint32_t>(name.size())};
  std::memcpy(static_cast<char*>(memory) + sizeof(Entry), name.data(), name.size());
  in.names.insert(entry_);
}

PodName::PodName(const PodName& other) : entry_(other.entry_) { Acquire(entry_); }

PodName& PodName::operator=(const PodName& other) {
  if (this == &other) return *this;
  Acquire(other.entry_);  // before Release: both may hold the same entry
  Release(entry_);
  entry_ = other.entry_;
  return *this;
}

PodName& PodName::operator=(PodName&& other) noexcept {
  if (this != &other) {
    Release(entry_);
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

PodName::~PodName() { Release(entry_); }

std::string_view PodName::view() const {
  return entry_ == nullptr ? std::string_view() : entry_->view();
}

size_t PodName::Interned() {
  Interner& in = Names();
  absl::MutexLock lock(&in.mu);
  return in.names.size();
}

}  // namespace aa::pipeline
