#include "rexstore_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static struct {
  CURLcode (*global_init)(long);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  void (*easy_reset)(CURL *);
  CURLcode (*easy_perform)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

#define RESOLVE(field, symbol)                                                            \
  do {                                                                                    \
    *(void **)(&api.field) = dlsym(library, symbol);                                      \
    if (api.field == NULL) {                                                              \
      snprintf(load_error, sizeof load_error, "libcurl lacks %s", symbol);                \
      return;                                                                             \
    }                                                                                     \
  } while (0)

static void load(void) {
  void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    const char *reason = dlerror();
    snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4 (install libcurl4): %s",
             reason ? reason : "unknown error");
    return;
  }
  RESOLVE(global_init, "curl_global_init");
  RESOLVE(easy_init, "curl_easy_init");
  RESOLVE(easy_cleanup, "curl_easy_cleanup");
  RESOLVE(easy_reset, "curl_easy_reset");
  RESOLVE(easy_perform, "curl_easy_perform");
  RESOLVE(easy_strerror, "curl_easy_strerror");
  RESOLVE(easy_setopt, "curl_easy_setopt");
  RESOLVE(easy_getinfo, "curl_easy_getinfo");
  RESOLVE(slist_append, "curl_slist_append");
  RESOLVE(slist_free_all, "curl_slist_free_all");
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(load_error, sizeof load_error, "curl_global_init failed");
    api.easy_init = NULL;
  }
}

int rexstore_curl_load(char *error, size_t error_size) {
  pthread_once(&once, load);
  if (api.easy_init != NULL && load_error[0] == 0) return 0;
  if (error != NULL && error_size > 0) snprintf(error, error_size, "%s", load_error);
  return -1;
}

CURL *rexstore_curl_easy_init(void) { return api.easy_init(); }
void rexstore_curl_easy_cleanup(CURL *handle) { api.easy_cleanup(handle); }
void rexstore_curl_easy_reset(CURL *handle) { api.easy_reset(handle); }
CURLcode rexstore_curl_easy_perform(CURL *handle) { return api.easy_perform(handle); }
const char *rexstore_curl_easy_strerror(CURLcode code) { return api.easy_strerror(code); }

CURLcode rexstore_curl_setopt_long(CURL *handle, CURLoption option, long value) {
  return api.easy_setopt(handle, option, value);
}
CURLcode rexstore_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
  return api.easy_setopt(handle, option, value);
}
CURLcode rexstore_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
  return api.easy_setopt(handle, option, value);
}
CURLcode rexstore_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
  return api.easy_setopt(handle, option, value);
}

CURLcode rexstore_curl_setopt_write(CURL *handle, rexstore_curl_data_callback callback, void *user) {
  CURLcode code = api.easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
  return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_WRITEDATA, user);
}
CURLcode rexstore_curl_setopt_header(CURL *handle, rexstore_curl_data_callback callback, void *user) {
  CURLcode code = api.easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
  return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_HEADERDATA, user);
}
CURLcode rexstore_curl_setopt_read(CURL *handle, rexstore_curl_data_callback callback, void *user) {
  CURLcode code = api.easy_setopt(handle, CURLOPT_READFUNCTION, callback);
  return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_READDATA, user);
}

CURLcode rexstore_curl_setopt_progress(CURL *handle, rexstore_curl_progress_callback callback, void *user) {
  CURLcode code = api.easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
  if (code == CURLE_OK) code = api.easy_setopt(handle, CURLOPT_XFERINFODATA, user);
  return code != CURLE_OK ? code : api.easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
}

CURLcode rexstore_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
  return api.easy_getinfo(handle, info, value);
}

struct curl_slist *rexstore_curl_slist_append(struct curl_slist *list, const char *text) {
  return api.slist_append(list, text);
}
void rexstore_curl_slist_free_all(struct curl_slist *list) {
  if (list != NULL) api.slist_free_all(list);
}
