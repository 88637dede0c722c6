// ThreadSanitizer builds only (ops/setup.sh test --tsan): included once, by kafka.cc, so that
// every executable using librdkafka defines these.
//
// librdkafka starts its threads and takes its locks through C11 <threads.h> (thrd_create,
// mtx_lock, cnd_wait...). glibc 2.34+ implements those by calling its pthread internals
// directly, not pthread_create or pthread_mutex_lock, so g++ 12's TSan, which intercepts only
// the pthread functions, never learns of librdkafka's threads (it crashes in the first one,
// reading thread state it never set up) nor of its locking (every hand-over between its threads
// looks like a race). Defined in the executable, these take librdkafka's calls and forward
// them to the pthread functions TSan intercepts, exactly as glibc's own versions do.
#pragma once

#if !defined(__SANITIZE_THREAD__)
#error "tsan_c11_threads.h is for -fsanitize=thread builds only"
#endif

#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

namespace careledger::tsan_c11 {

struct ThreadStart {
  thrd_start_t func;
  void* arg;
};

inline void* RunThreadStart(void* p) {
  ThreadStart start = *static_cast<ThreadStart*>(p);
  delete static_cast<ThreadStart*>(p);
  // As glibc: the thread's int result travels as pthread's void* (thrd_join casts it back).
  return reinterpret_cast<void*>(intptr_t(start.func(start.arg)));
}

inline int Result(int rc) {
  switch (rc) {
    case 0:
      return thrd_success;
    case ENOMEM:
      return thrd_nomem;
    case EBUSY:
      return thrd_busy;
    case ETIMEDOUT:
      return thrd_timedout;
    default:
      return thrd_error;
  }
}

// C11's types are glibc's pthread types under another name (same size and layout).
inline pthread_mutex_t* Native(mtx_t* m) {
  return reinterpret_cast<pthread_mutex_t*>(m);
}
inline pthread_cond_t* Native(cnd_t* c) {
  return reinterpret_cast<pthread_cond_t*>(c);
}
static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) && sizeof(cnd_t) == sizeof(pthread_cond_t));

}  // namespace careledger::tsan_c11

extern "C" {

int thrd_create(thrd_t* thread, thrd_start_t func, void* arg) {
  using careledger::tsan_c11::ThreadStart;
  auto* start = new (std::nothrow) ThreadStart{func, arg};
  if (!start) return thrd_nomem;
  int rc = pthread_create(thread, nullptr, careledger::tsan_c11::RunThreadStart, start);
  if (rc != 0) delete start;
  return rc == EAGAIN ? thrd_nomem : careledger::tsan_c11::Result(rc);
}

int thrd_join(thrd_t thread, int* result) {
  void* value = nullptr;
  int rc = pthread_join(thread, &value);
  if (rc == 0 && result) *result = int(reinterpret_cast<intptr_t>(value));
  return careledger::tsan_c11::Result(rc);
}

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init(careledger::tsan_c11::Native(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return careledger::tsan_c11::Result(rc);
}
int mtx_lock(mtx_t* m) {
  return careledger::tsan_c11::Result(pthread_mutex_lock(careledger::tsan_c11::Native(m)));
}
int mtx_trylock(mtx_t* m) {
  return careledger::tsan_c11::Result(pthread_mutex_trylock(careledger::tsan_c11::Native(m)));
}
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict until) {
  return careledger::tsan_c11::Result(
      pthread_mutex_timedlock(careledger::tsan_c11::Native(m), until));
}
int mtx_unlock(mtx_t* m) {
  return careledger::tsan_c11::Result(pthread_mutex_unlock(careledger::tsan_c11::Native(m)));
}
void mtx_destroy(mtx_t* m) {
  pthread_mutex_destroy(careledger::tsan_c11::Native(m));
}

int cnd_init(cnd_t* c) {
  return careledger::tsan_c11::Result(pthread_cond_init(careledger::tsan_c11::Native(c), nullptr));
}
int cnd_signal(cnd_t* c) {
  return careledger::tsan_c11::Result(pthread_cond_signal(careledger::tsan_c11::Native(c)));
}
int cnd_broadcast(cnd_t* c) {
  return careledger::tsan_c11::Result(pthread_cond_broadcast(careledger::tsan_c11::Native(c)));
}
int cnd_wait(cnd_t* c, mtx_t* m) {
  return careledger::tsan_c11::Result(
      pthread_cond_wait(careledger::tsan_c11::Native(c), careledger::tsan_c11::Native(m)));
}
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m,
                  const struct timespec* __restrict until) {
  return careledger::tsan_c11::Result(pthread_cond_timedwait(
      careledger::tsan_c11::Native(c), careledger::tsan_c11::Native(m), until));
}
void cnd_destroy(cnd_t* c) {
  pthread_cond_destroy(careledger::tsan_c11::Native(c));
}

void call_once(once_flag* flag, void (*func)(void)) {
  // glibc's once_flag is a struct around pthread_once_t.
  static_assert(sizeof(once_flag) == sizeof(pthread_once_t));
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
