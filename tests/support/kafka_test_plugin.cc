// A librdkafka plugin for Kafka-boundary tests. Given in a producer's
// configuration as `plugin.library.paths=<this .so>`, it records every
// client librdkafka creates from that configuration (and from its copies:
// the producer is rebuilt from a copy after a fatal error), so a test can do
// to the live producer what only a client handle allows, such as
// rd_kafka_test_fatal_error(). The test reaches it with dlopen(RTLD_NOLOAD)
// and dlsym("feed_kafka_test_last_client").
//
// librdkafka copies plugins, not interceptors, when a configuration is
// duplicated; conf_init runs again for each copy, so every copy records too.
#include <mutex>

#include "librdkafka/rdkafka.h"

namespace {

std::mutex g_mu;
rd_kafka_t* g_last = nullptr;
int g_created = 0;

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* /*conf*/, void* /*ic_opaque*/,
                          char* /*errstr*/, size_t /*errstr_size*/) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_last = rk;
  ++g_created;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnDestroy(rd_kafka_t* rk, void* /*ic_opaque*/) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_last == rk) g_last = nullptr;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf);

rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf, const rd_kafka_conf_t* /*old_conf*/,
                              size_t /*filter_cnt*/, const char** /*filter*/, void* /*ic_opaque*/) {
  return AddInterceptors(new_conf);
}

rd_kafka_resp_err_t OnNewAddDestroy(rd_kafka_t* rk, const rd_kafka_conf_t* /*conf*/,
                                    void* /*ic_opaque*/, char* /*errstr*/, size_t /*errstr_size*/) {
  return rd_kafka_interceptor_add_on_destroy(rk, "feed-kafka-test", OnDestroy, nullptr);
}

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf) {
  // A second registration of the same method is refused with __CONFLICT:
  // harmless, the first one stands.
  rd_kafka_conf_interceptor_add_on_new(conf, "feed-kafka-test", OnNew, nullptr);
  rd_kafka_conf_interceptor_add_on_new(conf, "feed-kafka-test-destroy", OnNewAddDestroy, nullptr);
  rd_kafka_conf_interceptor_add_on_conf_dup(conf, "feed-kafka-test", OnConfDup, nullptr);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace

extern "C" {

// librdkafka's plugin entry point.
__attribute__((visibility("default"))) rd_kafka_resp_err_t conf_init(rd_kafka_conf_t* conf,
                                                                     void** plug_opaquep,
                                                                     char* /*errstr*/,
                                                                     size_t /*errstr_size*/) {
  *plug_opaquep = nullptr;
  return AddInterceptors(conf);
}

// The most recently created client still alive, or null.
__attribute__((visibility("default"))) rd_kafka_t* feed_kafka_test_last_client() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_last;
}

// How many clients were created since the plugin was loaded.
__attribute__((visibility("default"))) int feed_kafka_test_clients_created() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_created;
}

}  // extern "C"
