// jemalloc's settings, linked into a binary that uses jemalloc
// (feed_ingest_use_allocator in CMakeLists.txt). jemalloc reads this symbol
// at its start; MALLOC_CONF in the environment still overrides it.
//
// Two arenas, not four per core: threads here hand memory from one to
// another (a gRPC worker allocates a batch, the producer thread's delivery
// reports end it), and every arena keeps its own free pages. Freed pages go
// back to the system within a second (a background thread does it, also
// when the process is idle), so what --memory-limit bounds is what RSS
// shows: the fault suite's outage flood peaks at about 290 MiB with these,
// 390 MiB with jemalloc's defaults.
extern "C" {
// NOLINTNEXTLINE: jemalloc looks this name up as it is.
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0,background_thread:true";
}
