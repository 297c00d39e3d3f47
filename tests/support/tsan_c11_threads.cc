// C11 threads over the pthread functions, linked into every executable of a
// ThreadSanitizer build (FEED_INGEST_SANITIZE=thread) and nowhere else.
//
// Debian's librdkafka uses glibc's C11 threads. glibc implements thrd_create,
// mtx_lock, cnd_wait and the rest by calling its pthread internals directly,
// past the interceptors ThreadSanitizer puts on pthread_create and friends:
// librdkafka's threads would be unknown to TSan (GCC's runtime crashes on
// them) and its locks invisible (every hand-over through them a false race).
// Defined in the executable, these take precedence over glibc's for
// librdkafka too, and go through the intercepted pthread functions.
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>
#include <ctime>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* Trampoline(void* p) {
  const Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

int Result(int error) {
  switch (error) {
    case 0:
      return thrd_success;
    case ENOMEM:
      return thrd_nomem;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    default:
      return thrd_error;
  }
}

// librdkafka publishes the objects holding its mutexes and conditions
// through its own (uninstrumented) atomics, so TSan would take a lock in one
// thread as racing with the init in another: creation and destruction are
// not recorded as writes.
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);

template <typename Fn>
int Unrecorded(Fn fn) {
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  const int result = fn();
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  return result;
}

pthread_mutex_t* Mutex(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* Cond(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread mutex");
static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread condition");
static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new Start{func, arg};
  const int error = pthread_create(thr, nullptr, Trampoline, start);
  if (error != 0) delete start;
  return Result(error);
}

int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  const int error = pthread_join(thr, &value);
  if (error == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return Result(error);
}

int thrd_detach(thrd_t thr) { return Result(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int error = Unrecorded([&] { return pthread_mutex_init(Mutex(m), &attr); });
  pthread_mutexattr_destroy(&attr);
  return Result(error);
}
int mtx_lock(mtx_t* m) { return Result(pthread_mutex_lock(Mutex(m))); }
int mtx_trylock(mtx_t* m) { return Result(pthread_mutex_trylock(Mutex(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict at) {
  return Result(pthread_mutex_timedlock(Mutex(m), at));
}
int mtx_unlock(mtx_t* m) { return Result(pthread_mutex_unlock(Mutex(m))); }
void mtx_destroy(mtx_t* m) {
  Unrecorded([&] { return pthread_mutex_destroy(Mutex(m)); });
}

int cnd_init(cnd_t* c) {
  return Result(Unrecorded([&] { return pthread_cond_init(Cond(c), nullptr); }));
}
int cnd_signal(cnd_t* c) { return Result(pthread_cond_signal(Cond(c))); }
int cnd_broadcast(cnd_t* c) { return Result(pthread_cond_broadcast(Cond(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return Result(pthread_cond_wait(Cond(c), Mutex(m))); }
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict at) {
  return Result(pthread_cond_timedwait(Cond(c), Mutex(m), at));
}
void cnd_destroy(cnd_t* c) {
  Unrecorded([&] { return pthread_cond_destroy(Cond(c)); });
}

void call_once(once_flag* flag, void (*func)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
