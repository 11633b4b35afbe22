/*
 * malloc_trim(3) for JavaScript: gives the C heap's free pages back to the system.
 *
 * V8's optimizing compilers run on worker threads and take their working memory from malloc,
 * a few KiB at a time; when a compile ends it is freed, and glibc keeps it in its arena: free(3)
 * returns only the top of the heap. malloc_trim returns every whole free page of every arena
 * (since glibc 2.8, by madvise(MADV_DONTNEED)), and is safe to call from any thread.
 *
 * Built by scripts/native.mjs against the running Node.js's own headers (Node-API, so one build
 * loads in every later Node.js release); loaded by src/server/memory-trim.ts.
 */
#include <malloc.h>
#include <node_api.h>

static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  if (napi_get_boolean(env, malloc_trim(0) == 1, &released) != napi_ok) return NULL;
  return released;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
