/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "check.h"
#include "core/io/http.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

int main(void) {
  /* OpenAI's reset durations */
  CHECK(NEAR(ce_http_parse_duration("1s"), 1));
  CHECK(NEAR(ce_http_parse_duration("6m0s"), 360));
  CHECK(NEAR(ce_http_parse_duration("20ms"), 0.02));
  CHECK(NEAR(ce_http_parse_duration("1h2m3.5s"), 3723.5));
  CHECK(NEAR(ce_http_parse_duration("0.5"), 0.5));
  CHECK(ce_http_parse_duration("") < 0);
  CHECK(ce_http_parse_duration("soon") < 0);
  CHECK(ce_http_parse_duration(NULL) < 0);

  /* Anthropic's reset times, RFC 3339, relative to now */
  double now = 1795651200.0; /* 2026-11-26T00:00:00Z */
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T00:00:30Z", now), 30));
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T00:00:30.25Z", now), 30.25));
  CHECK(NEAR(ce_http_parse_reset("2026-11-26T01:00:30+01:00", now), 30));
  CHECK(NEAR(ce_http_parse_reset("2026-11-25T23:00:00Z", now), 0)); /* past: now */
  CHECK(NEAR(ce_http_parse_reset("250ms", now), 0.25));
  CHECK(ce_http_parse_reset("never", now) < 0);
  return check_report("test_http");
}
