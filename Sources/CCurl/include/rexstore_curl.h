#ifndef REXSTORE_CURL_H
#define REXSTORE_CURL_H

/// libcurl, loaded on first use with dlopen so that commands which never touch the network (every
/// SQLite command) pay nothing for it at start-up. The declarations come from curl.h; the calls go
/// through these wrappers, which also give Swift non-variadic forms of curl_easy_setopt/getinfo.

#include <curl/curl.h>
#include <stddef.h>

/// Loads libcurl.so.4 and initialises it once; 0 on success, otherwise -1 with a reason in `error`.
int rexstore_curl_load(char *error, size_t error_size);

CURL *rexstore_curl_easy_init(void);
void rexstore_curl_easy_cleanup(CURL *handle);
void rexstore_curl_easy_reset(CURL *handle);
CURLcode rexstore_curl_easy_perform(CURL *handle);
const char *rexstore_curl_easy_strerror(CURLcode code);

CURLcode rexstore_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode rexstore_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value);
CURLcode rexstore_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value);
CURLcode rexstore_curl_setopt_string(CURL *handle, CURLoption option, const char *value);

/// The callbacks Swift hands over as C function pointers (curl's prototypes, with void* user data).
typedef size_t (*rexstore_curl_data_callback)(char *data, size_t size, size_t count, void *user);
CURLcode rexstore_curl_setopt_write(CURL *handle, rexstore_curl_data_callback callback, void *user);
CURLcode rexstore_curl_setopt_header(CURL *handle, rexstore_curl_data_callback callback, void *user);
CURLcode rexstore_curl_setopt_read(CURL *handle, rexstore_curl_data_callback callback, void *user);

/// curl's CURLOPT_XFERINFOFUNCTION prototype (with void* user data); non-zero aborts the transfer.
typedef int (*rexstore_curl_progress_callback)(void *user, curl_off_t dltotal, curl_off_t dlnow,
                                               curl_off_t ultotal, curl_off_t ulnow);
/// Installs the progress callback and turns progress reporting on (CURLOPT_NOPROGRESS 0).
CURLcode rexstore_curl_setopt_progress(CURL *handle, rexstore_curl_progress_callback callback, void *user);

CURLcode rexstore_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);

struct curl_slist *rexstore_curl_slist_append(struct curl_slist *list, const char *text);
void rexstore_curl_slist_free_all(struct curl_slist *list);

#endif
