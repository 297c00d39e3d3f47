# ThreadSanitizer builds (make test-tsan): librdkafka's C11 threads and
# abseil's Mutex made visible to TSan (tsan_c11_threads.cc, tsan_absl_sync.cc),
# linked into every target defined after this is included — the server the
# integration tests start included.
add_library(feed_tsan_shims OBJECT
  ${CMAKE_CURRENT_LIST_DIR}/tsan_c11_threads.cc
  ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_sync.cc)
target_link_libraries(feed_tsan_shims PRIVATE absl::synchronization)
link_libraries(feed_tsan_shims ${CMAKE_DL_LIBS})
