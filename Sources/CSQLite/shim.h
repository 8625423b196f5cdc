#include <sqlite3.h>

/// sqlite3_config is variadic, which Swift cannot call. Turns off SQLite's memory statistics, which
/// take a global mutex around every allocation (rexstore never reads them); must run before the
/// first connection opens (later it returns SQLITE_MISUSE and changes nothing).
static inline int rexstore_sqlite3_disable_memstatus(void) {
  return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
