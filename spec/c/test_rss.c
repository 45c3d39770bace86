/* SPDX-License-Identifier: MIT */
/* ce_rss_bytes counts what the process holds itself (anonymous pages), not
 * the file pages it maps: a run's map of a large data.mdb is page cache, and
 * counted as the process's memory it set off memory alerts and made the
 * memory tuning goal cut concurrency as the store grew. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "core/observe/profile.h"

#define MB (1024 * 1024)

int main(void) {
  CHECK(ce_rss_bytes() > 0);

  /* 64 MB of a file, mapped and read through: resident, but not ours */
  char path[] = "/tmp/ce_test_rss_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(ftruncate(fd, 64 * MB) == 0);
  const volatile unsigned char *p = mmap(NULL, 64 * MB, PROT_READ, MAP_SHARED, fd, 0);
  CHECK(p != MAP_FAILED);
  int64_t before = ce_rss_bytes();
  unsigned sum = 0;
  for (size_t i = 0; i < 64 * MB; i += 4096) sum += p[i];
  CHECK(sum == 0);
  int64_t after_file = ce_rss_bytes();
  /* under AddressSanitizer each byte read also touches its shadow byte:
   * an eighth of the file in anonymous pages */
  CHECK(after_file - before < 16 * MB);

  /* 64 MB of heap, written: counted */
  unsigned char *heap = malloc(64 * MB);
  CHECK(heap != NULL);
  memset(heap, 1, 64 * MB);
  int64_t after_heap = ce_rss_bytes();
  CHECK(after_heap - after_file > 48 * MB);

  free(heap);
  munmap((void *)p, 64 * MB);
  close(fd);
  unlink(path);
  return check_report("test_rss");
}
