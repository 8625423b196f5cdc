// CRC-32C for object checksums (GCS's `crc32c` field). SSE4.2's crc32 instruction where the CPU has
// it (several GB/s, so hashing never limits a local copy), else slicing-by-8 tables.
#include "csupport.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

static uint32_t table[8][256];
// The tables are built once, on first use, by whichever thread gets there first: pthread_once makes
// the others wait for it and publishes the finished tables to them (a plain "ready" flag was a data
// race: a second thread could read half-built tables, and the thread sanitizer reports it).
static pthread_once_t once = PTHREAD_ONCE_INIT;
#if defined(__x86_64__)
static int hardware;
#endif

static void init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int t = 1; t < 8; t++) table[t][n] = (table[t - 1][n] >> 8) ^ table[0][table[t - 1][n] & 0xFF];
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  hardware = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t software(uint32_t crc, const uint8_t *p, size_t n) {
  while (n && ((uintptr_t)p & 7)) { crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8); n--; }
  while (n >= 8) {
    uint64_t word;
    __builtin_memcpy(&word, p, 8);
    word ^= crc;
    crc = table[7][word & 0xFF] ^ table[6][(word >> 8) & 0xFF] ^ table[5][(word >> 16) & 0xFF] ^
          table[4][(word >> 24) & 0xFF] ^ table[3][(word >> 32) & 0xFF] ^ table[2][(word >> 40) & 0xFF] ^
          table[1][(word >> 48) & 0xFF] ^ table[0][word >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t accelerated(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  while (n && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); n--; }
  while (n >= 8) {
    uint64_t word;
    __builtin_memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return (uint32_t)c;
}
#endif

uint32_t rexstore_crc32c_extend(uint32_t crc, const void *bytes, size_t length) {
  pthread_once(&once, init);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (hardware) return ~accelerated(c, (const uint8_t *)bytes, length);
#endif
  return ~software(c, (const uint8_t *)bytes, length);
}

// CRC-32C of A followed by B from the CRCs of A and B and B's length, without the bytes: appending
// len2 zero bytes to A's CRC is a linear map over GF(2), applied as repeated squarings of the
// one-zero-bit operator (log2(len2) 32x32 matrix products), then B's CRC is added (xor).
static uint32_t gf2_apply(const uint32_t *matrix, uint32_t vector) {
  uint32_t sum = 0;
  for (int i = 0; vector != 0; i++, vector >>= 1) {
    if (vector & 1) sum ^= matrix[i];
  }
  return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *matrix) {
  for (int i = 0; i < 32; i++) square[i] = gf2_apply(matrix, matrix[i]);
}

uint32_t rexstore_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t length2) {
  if (length2 == 0) return crc1;
  uint32_t a[32], b[32];
  // The operator for one zero bit: shift right, folding in the reflected polynomial.
  a[0] = 0x82F63B78u;
  for (int i = 1; i < 32; i++) a[i] = 1u << (i - 1);
  gf2_square(b, a);  // two zero bits
  gf2_square(a, b);  // four zero bits
  // Each round squares the operator (8, 16, 32... zero bits = 1, 2, 4... zero bytes) and applies it
  // where length2 has a one bit.
  uint32_t *op = a, *next = b;
  do {
    gf2_square(next, op);
    uint32_t *t = op;
    op = next;
    next = t;
    if (length2 & 1) crc1 = gf2_apply(op, crc1);
    length2 >>= 1;
  } while (length2 != 0);
  return crc1 ^ crc2;
}
