/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "core/util/json.h"

static const char *enc(ce_buf *b, const char *s, size_t n) {
  b->len = 0;
  ce_json_write_string(b, s, n);
  return b->data;
}
#define ENC(b, lit) enc(b, lit, sizeof lit - 1)

/* Written apart from the encoder: decodes s as UTF-8 and checks every code
 * point (shortest form, no surrogates, at most U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + (size_t)len > n) return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += (size_t)len;
  }
  return 1;
}

int main(void) {
  ce_buf b;
  ce_buf_init(&b);
  /* what JSON needs escaped, and well-formed UTF-8 as it is */
  CHECK_STR(ENC(&b, "a\"b\\c\n\x01\x7f"), "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
  CHECK_STR(ENC(&b, "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
            "\"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
  /* each maximal ill-formed subpart becomes one U+FFFD (Unicode 3.9) */
#define R "\xef\xbf\xbd"
  CHECK_STR(ENC(&b, "a\xffz"), "\"a" R "z\"");
  CHECK_STR(ENC(&b, "\xe2\x82x"), "\"" R "x\"");                   /* cut short */
  CHECK_STR(ENC(&b, "\xf0\x9f\x98"), "\"" R "\"");                 /* cut short at the end */
  CHECK_STR(ENC(&b, "\xc0\x80"), "\"" R R "\"");                   /* overlong */
  CHECK_STR(ENC(&b, "\xe0\x80\x80"), "\"" R R R "\"");             /* overlong */
  CHECK_STR(ENC(&b, "\xed\xa0\x80"), "\"" R R R "\"");             /* a surrogate */
  CHECK_STR(ENC(&b, "\xf4\x90\x80\x80"), "\"" R R R R "\"");       /* above U+10FFFF */
  CHECK_STR(ENC(&b, "\x80\xbf"), "\"" R R "\"");                   /* stray continuations */
  CHECK_STR(ENC(&b, "\xe2\x86\xe2\x86\x92"), "\"" R "\xe2\x86\x92\""); /* a good one right after */
#undef R
  /* whatever the bytes, the output is UTF-8 */
  static const unsigned char pool[] = {'a', '"', 0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed,
                                       0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x9f, 0xa0, 0x8f, 0x90};
  uint64_t x = 88172645463325252ull;
  int all_valid = 1;
  for (int round = 0; round < 20000; round++) {
    unsigned char s[12];
    for (size_t i = 0; i < sizeof s; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      s[i] = pool[x % sizeof pool];
    }
    size_t n = (size_t)(x >> 40) % (sizeof s + 1);
    enc(&b, (const char *)s, n);
    if (b.oom || !valid_utf8((const unsigned char *)b.data, b.len)) all_valid = 0;
  }
  CHECK(all_valid);
  /* a byte that needs escaping is caught in every lane of the 8-byte scan,
   * and its neighbours in value pass as they are */
  static const unsigned char probe[] = {0x00, 0x01, 0x1f, 0x20, 0x21, '"', 0x23, '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xc3};
  int lanes_ok = 1;
  for (size_t k = 0; k < sizeof probe; k++) {
    char one[1] = {(char)probe[k]};
    enc(&b, one, 1);
    char esc[16];
    size_t elen = b.len - 2;
    memcpy(esc, b.data + 1, elen);
    for (size_t pos = 0; pos < 40; pos++) {
      char s[40], want[64];
      memset(s, 'a', sizeof s);
      s[pos] = (char)probe[k];
      size_t w = 0;
      want[w++] = '"';
      memset(want + w, 'a', pos), w += pos;
      memcpy(want + w, esc, elen), w += elen;
      memset(want + w, 'a', sizeof s - pos - 1), w += sizeof s - pos - 1;
      want[w++] = '"';
      enc(&b, s, sizeof s);
      if (b.len != w || memcmp(b.data, want, w) != 0) lanes_ok = 0;
    }
  }
  CHECK(lanes_ok);
  ce_buf_free(&b);
  return check_report("test_json");
}
