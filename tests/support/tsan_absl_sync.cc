// absl::Mutex and absl::CondVar made visible to ThreadSanitizer, linked into
// every executable of a ThreadSanitizer build (FEED_INGEST_SANITIZE=thread)
// and nowhere else.
//
// Debian's abseil is built without TSan, so its Mutex synchronises through
// raw futex calls TSan never sees: every hand-over guarded by an absl::Mutex
// would be reported as a race. The entry points below, defined in the
// executable, take precedence over the library's (for gRPC and abseil's own
// callers too); each calls the library's function and tells TSan what it did:
// a lock acquires the mutex's happens-before edge, an unlock releases it, a
// wait does both. That hides no race between threads that hold the same
// mutex and shows every race between threads that do not. Conditions are
// wrapped so that they, too, run after the acquire.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"

#if !ABSL_OPTION_USE_INLINE_NAMESPACE
#error "expects abseil's inline namespace (Debian's abseil has one)"
#endif

namespace {

#define FEED_STR2(x) #x
#define FEED_STR(x) FEED_STR2(x)

// The library's own definition of `absl::<inline namespace>::<tail>`, by its
// mangled name.
void* Next(const char* tail) {
  const std::string ns = FEED_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = "_ZN4absl" + std::to_string(ns.size()) + ns + tail;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found\n", name.c_str());
    std::abort();
  }
  return fn;
}

template <typename Fn>
Fn Real(const char* tail) {
  return reinterpret_cast<Fn>(Next(tail));
}

void Acquired(const void* mu) { __tsan_acquire(const_cast<void*>(mu)); }
void Releasing(const void* mu) { __tsan_release(const_cast<void*>(mu)); }

// An unlock evaluates the conditions of threads waiting on the mutex; as in
// abseil's own TSan build (EvalConditionIgnored), reads made then are not
// checked: the waiter wrote its condition before blocking, through
// synchronisation TSan cannot see.
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);

template <typename Fn>
void UnlockIgnoringReads(Fn real, absl::Mutex* mu) {
  Releasing(mu);
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
  real(mu);
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
}

// A condition abseil evaluates while holding `mu` -- in the waiting thread
// after it re-takes the mutex, or in the thread unlocking it -- is evaluated
// after acquiring `mu`'s edge, as the caller's code would be.
struct Guarded {
  const absl::Condition* cond;
  const absl::Mutex* mu;
};
bool EvalGuarded(Guarded* g) {
  Acquired(g->mu);
  const bool met = g->cond->Eval();
  Releasing(g->mu);  // The waiter may block next: its reads come before the next holder's writes.
  return met;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  real(this);
  Acquired(this);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  real(this);
  Acquired(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Acquired(this);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  UnlockIgnoringReads(real, this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  UnlockIgnoringReads(real, this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  real(this, Condition(&EvalGuarded, &guarded));
  Acquired(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  real(this, Condition(&EvalGuarded, &guarded));
  Acquired(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded guarded{&cond, this};
  const bool met = real(this, Condition(&EvalGuarded, &guarded), timeout);
  Acquired(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded guarded{&cond, this};
  const bool met = real(this, Condition(&EvalGuarded, &guarded), deadline);
  Acquired(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  Guarded guarded{&cond, this};
  const Condition wrapped(&EvalGuarded, &guarded);
  Releasing(this);  // After the writes above, which the unlocking thread reads.
  real(this, wrapped);
  Acquired(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Guarded guarded{&cond, this};
  const Condition wrapped(&EvalGuarded, &guarded);
  Releasing(this);
  const bool met = real(this, wrapped, timeout);
  Acquired(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Guarded guarded{&cond, this};
  const Condition wrapped(&EvalGuarded, &guarded);
  Releasing(this);
  const bool met = real(this, wrapped, deadline);
  Acquired(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  Releasing(mu);
  real(this, mu);
  Acquired(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Releasing(mu);
  const bool timed_out = real(this, mu, timeout);
  Acquired(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Releasing(mu);
  const bool timed_out = real(this, mu, deadline);
  Acquired(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
