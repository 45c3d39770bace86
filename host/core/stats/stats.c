/* SPDX-License-Identifier: MIT */
#include "core/stats/stats.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/clock.h"
#include "core/stats/philox.h"
#include "core/util/thread_name.h"

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

uint32_t ce_stats_draw(uint64_t seed, uint32_t b, uint32_t i, uint32_t n) {
  ce_philox_ctr c = {{i / 4, b, CE_STATS_TAG_RESAMPLE, 0}};
  ce_philox_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  ce_philox_ctr o = ce_philox4x32_10(c, k);
  return (uint32_t)(((uint64_t)o.v[i % 4] * n) >> 32);
}

/* ---- the hot loop: one resample's sum, 16 Philox blocks (64 draws) at a time ---- */

#define M0 0xD2511F53u
#define M1 0xCD9E8D57u
#define W0 0x9E3779B9u
#define W1 0xBB67AE85u
#define LANES 16

/* The sum of one resample, as defined for every backend: 64 partial sums
 * (draw i goes to partial i % 64), then added pairwise, as a balanced tree
 * over partials 0..63. Independent partials let the loads overlap. */
static double tree64(double *p) {
  for (int width = 64; width > 1; width /= 2)
    for (int i = 0; i < width / 2; i++) p[i] = p[2 * i] + p[2 * i + 1];
  return p[0];
}

static inline void philox_block(uint32_t c[4], uint32_t ka, uint32_t kb) {
  for (int r = 0; r < 10; r++) {
    uint64_t p0 = (uint64_t)M0 * c[0], p1 = (uint64_t)M1 * c[2];
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ ka;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ kb;
    c[1] = (uint32_t)p1;
    c[3] = (uint32_t)p0;
    c[0] = n0;
    c[2] = n2;
    ka += W0;
    kb += W1;
  }
}

static double resample_sum_scalar(const double *x, uint32_t n, uint32_t b, uint32_t k0, uint32_t k1) {
  double part[64] = {0};
  uint32_t blocks = (n + 3) / 4;
  for (uint32_t j = 0; j < blocks; j++) {
    uint32_t c[4] = {j, b, CE_STATS_TAG_RESAMPLE, 0};
    philox_block(c, k0, k1);
    for (uint32_t q = 0; q < 4 && j * 4 + q < n; q++)
      part[(j * 4 + q) % 64] += x[((uint64_t)c[q] * n) >> 32];
  }
  return tree64(part);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* 16 lanes: hi and lo 32 bits of a * m for each 32-bit lane */
__attribute__((target("avx512f"))) static inline void mulhilo16(__m512i a, __m512i m, __m512i *hi, __m512i *lo) {
  __m512i even = _mm512_mul_epu32(a, m);
  __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(m, 32));
  *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

__attribute__((target("avx512f"))) static double resample_sum_avx512(const double *x, uint32_t n, uint32_t b,
                                                                      uint32_t k0, uint32_t k1) {
  __m512d acc[8]; /* acc[q * 2 + h], lane l: partial (h * 8 + l) * 4 + q */
  for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_pd();
  double tail[64] = {0};
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i m0 = _mm512_set1_epi32((int)M0), m1 = _mm512_set1_epi32((int)M1);
  const __m512i vn = _mm512_set1_epi32((int)n);
  uint32_t blocks = (n + 3) / 4, full = n / 64; /* groups of 16 blocks with all 64 draws inside n */
  uint32_t g = 0;
  /* two groups at a time while both are whole: their rounds interleave and
   * hide the multiplier's latency (the additions keep the same order) */
  {
    for (; g + 1 < full; g += 2) {
      __m512i a0 = _mm512_add_epi32(_mm512_set1_epi32((int)(g * 16)), lane);
      __m512i b0 = _mm512_add_epi32(_mm512_set1_epi32((int)(g * 16 + 16)), lane);
      __m512i a1 = _mm512_set1_epi32((int)b), b1 = a1;
      __m512i a2 = _mm512_set1_epi32((int)CE_STATS_TAG_RESAMPLE), b2 = a2;
      __m512i a3 = _mm512_setzero_si512(), b3 = a3;
      uint32_t ka = k0, kb = k1;
      for (int r = 0; r < 10; r++) {
        __m512i hia0, loa0, hia1, loa1, hib0, lob0, hib1, lob1;
        mulhilo16(a0, m0, &hia0, &loa0);
        mulhilo16(b0, m0, &hib0, &lob0);
        mulhilo16(a2, m1, &hia1, &loa1);
        mulhilo16(b2, m1, &hib1, &lob1);
        __m512i vka = _mm512_set1_epi32((int)ka), vkb = _mm512_set1_epi32((int)kb);
        __m512i na0 = _mm512_xor_si512(_mm512_xor_si512(hia1, a1), vka);
        __m512i nb0 = _mm512_xor_si512(_mm512_xor_si512(hib1, b1), vka);
        __m512i na2 = _mm512_xor_si512(_mm512_xor_si512(hia0, a3), vkb);
        __m512i nb2 = _mm512_xor_si512(_mm512_xor_si512(hib0, b3), vkb);
        a1 = loa1;
        b1 = lob1;
        a3 = loa0;
        b3 = lob0;
        a0 = na0;
        b0 = nb0;
        a2 = na2;
        b2 = nb2;
        ka += W0;
        kb += W1;
      }
      __m512i wa[4] = {a0, a1, a2, a3}, wb[4] = {b0, b1, b2, b3};
      for (int q = 0; q < 4; q++) {
        __m512i hi, lo, hj, lj;
        mulhilo16(wa[q], vn, &hi, &lo);
        mulhilo16(wb[q], vn, &hj, &lj);
        if (!x) { /* the probe of the generator alone */
          acc[q * 2] = _mm512_add_pd(acc[q * 2], _mm512_cvtepu32_pd(_mm512_castsi512_si256(_mm512_xor_si512(hi, hj))));
          continue;
        }
        acc[q * 2] = _mm512_add_pd(acc[q * 2], _mm512_i32gather_pd(_mm512_castsi512_si256(hi), x, 8));
        acc[q * 2 + 1] = _mm512_add_pd(acc[q * 2 + 1], _mm512_i32gather_pd(_mm512_extracti64x4_epi64(hi, 1), x, 8));
        acc[q * 2] = _mm512_add_pd(acc[q * 2], _mm512_i32gather_pd(_mm512_castsi512_si256(hj), x, 8));
        acc[q * 2 + 1] = _mm512_add_pd(acc[q * 2 + 1], _mm512_i32gather_pd(_mm512_extracti64x4_epi64(hj, 1), x, 8));
      }
    }
  }
  for (; g * 16 < blocks; g++) {
    __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32((int)(g * 16)), lane);
    __m512i c1 = _mm512_set1_epi32((int)b), c2 = _mm512_set1_epi32((int)CE_STATS_TAG_RESAMPLE);
    __m512i c3 = _mm512_setzero_si512();
    uint32_t ka = k0, kb = k1;
    for (int r = 0; r < 10; r++) {
      __m512i hi0, lo0, hi1, lo1;
      mulhilo16(c0, m0, &hi0, &lo0);
      mulhilo16(c2, m1, &hi1, &lo1);
      __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32((int)ka));
      __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32((int)kb));
      c1 = lo1;
      c3 = lo0;
      c0 = n0;
      c2 = n2;
      ka += W0;
      kb += W1;
    }
    __m512i words[4] = {c0, c1, c2, c3}, idx[4];
    for (int q = 0; q < 4; q++) {
      __m512i hi, lo;
      mulhilo16(words[q], vn, &hi, &lo);
      idx[q] = hi;
    }
    if (!x) { /* the probe of the generator alone: no loads */
      for (int q = 0; q < 4; q++) acc[q * 2] = _mm512_add_pd(acc[q * 2], _mm512_cvtepu32_pd(_mm512_castsi512_si256(idx[q])));
    } else if (g < full) {
      for (int q = 0; q < 4; q++) {
        acc[q * 2] = _mm512_add_pd(acc[q * 2], _mm512_i32gather_pd(_mm512_castsi512_si256(idx[q]), x, 8));
        acc[q * 2 + 1] = _mm512_add_pd(acc[q * 2 + 1],
                                       _mm512_i32gather_pd(_mm512_extracti64x4_epi64(idx[q], 1), x, 8));
      }
    } else {
      uint32_t ix[4][16];
      for (int q = 0; q < 4; q++) _mm512_storeu_si512((void *)ix[q], idx[q]);
      for (uint32_t l = 0; l < 16; l++)
        for (uint32_t q = 0; q < 4; q++) {
          uint32_t i = (g * 16 + l) * 4 + q;
          if (i < n) tail[i % 64] += x[ix[q][l]];
        }
    }
  }
  double part[64];
  for (int q = 0; q < 4; q++)
    for (int h = 0; h < 2; h++) {
      double v[8];
      _mm512_storeu_pd(v, acc[q * 2 + h]);
      for (int l = 0; l < 8; l++) part[(h * 8 + l) * 4 + q] = v[l];
    }
  for (int i = 0; i < 64; i++) part[i] += tail[i];
  return tree64(part);
}
#endif

static double resample_sum(const double *x, uint32_t n, uint32_t b, uint32_t k0, uint32_t k1) {
#if defined(__x86_64__) && defined(__GNUC__)
  static int avx512 = -1;
  if (avx512 < 0) avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
  if (avx512 && getenv("CAUSAL_EVAL_STATS_SCALAR") == NULL) return resample_sum_avx512(x, n, b, k0, k1);
#endif
  return resample_sum_scalar(x, n, b, k0, k1);
}

/* ---- the two-value reduction ---- */

/* CDF of Binomial(n, p) at 0..n, computed in logs (stable for large n). */
static double *binomial_cdf(int n, double p) {
  double *cdf = malloc((size_t)(n + 1) * sizeof *cdf);
  if (!cdf) return NULL;
  double lp = log(p), lq = log1p(-p), acc = 0;
  for (int k = 0; k <= n; k++) {
    double lpmf = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * lp + (n - k) * lq;
    acc += exp(lpmf);
    cdf[k] = acc;
  }
  cdf[n] = 1.0;
  return cdf;
}

double *ce_stats_two_value_cdf(const double *x, int n, double *v0, double *v1) {
  double a = x[0], b = x[0];
  for (int i = 0; i < n; i++)
    if (x[i] != a) {
      if (b == a) b = x[i];
      else if (x[i] != b) return NULL; /* a third value */
    }
  if (a == b) return NULL;
  if (b < a) {
    double t = a;
    a = b;
    b = t;
  }
  long k1 = 0;
  for (int i = 0; i < n; i++) k1 += x[i] == b;
  *v0 = a;
  *v1 = b;
  return binomial_cdf(n, (double)k1 / n);
}

static double reduced_mean(const double *cdf, int n, double v0, double v1, uint64_t seed, uint32_t b) {
  ce_philox_ctr c = {{0, b, CE_STATS_TAG_REDUCE, 0}};
  ce_philox_key k = {{(uint32_t)seed, (uint32_t)(seed >> 32)}};
  ce_philox_ctr o = ce_philox4x32_10(c, k);
  double u = (double)((((uint64_t)o.v[1] << 32) | o.v[0]) >> 11) * 0x1.0p-53;
  int lo = 0, hi = n; /* the smallest k with cdf[k] > u */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return ((double)lo * v1 + (double)(n - lo) * v0) / n;
}

/* ---- threads ---- */

typedef struct {
  const double *x;
  int n;
  uint64_t seed;
  int from, to;
  double *out;
  const double *cdf;
  double v0, v1;
  const double *d; /* sign flips */
  double obs;
  long extreme;
} job;

static void *run_resamples(void *arg) {
  job *j = arg;
  for (int b = j->from; b < j->to; b++) {
    if (j->cdf) j->out[b] = reduced_mean(j->cdf, j->n, j->v0, j->v1, j->seed, (uint32_t)b);
    else j->out[b] = resample_sum(j->x, (uint32_t)j->n, (uint32_t)b, (uint32_t)j->seed, (uint32_t)(j->seed >> 32)) / j->n;
  }
  return NULL;
}

static void parallel(job *proto, int iters, int threads, void *(*fn)(void *), job *jobs) {
  if (threads <= 0) threads = cores();
  if (threads > 64) threads = 64;
  if (threads > iters) threads = iters > 0 ? iters : 1;
  pthread_t t[64];
  for (int i = 0; i < threads; i++) {
    jobs[i] = *proto;
    jobs[i].from = (int)((long)iters * i / threads);
    jobs[i].to = (int)((long)iters * (i + 1) / threads);
    if (i > 0 && pthread_create(&t[i], NULL, fn, &jobs[i]) == 0) ce_thread_name_indexed(t[i], "stats", i);
  }
  fn(&jobs[0]);
  for (int i = 1; i < threads; i++) pthread_join(t[i], NULL);
}

static int check_input(const double *x, int n, int iters, ce_err *err) {
  if (n <= 0) {
    ce_err_setf(err, 1, "stats", 0, 0, "no scores: at least one is needed");
    return -1;
  }
  if (iters <= 0) {
    ce_err_setf(err, 1, "stats", 0, 0, "iterations must be positive, got %d", iters);
    return -1;
  }
  for (int i = 0; i < n; i++)
    if (!isfinite(x[i])) {
      ce_err_setf(err, 1, "stats", 0, 0, "score %d is %s", i + 1, isnan(x[i]) ? "NaN" : "infinite");
      return -1;
    }
  return 0;
}

int ce_stats_boot_means(const double *x, int n, uint64_t seed, int iters, int threads, int reduce, double *out,
                        ce_err *err) {
  ce_err_clear(err);
  if (check_input(x, n, iters, err)) return -1;
  job proto;
  memset(&proto, 0, sizeof proto);
  proto.x = x;
  proto.n = n;
  proto.seed = seed;
  proto.out = out;
  int reduced = 0;
  double *cdf = NULL;
  if (reduce) {
    double v0, v1;
    cdf = ce_stats_two_value_cdf(x, n, &v0, &v1);
    if (cdf) {
      proto.cdf = cdf;
      proto.v0 = v0;
      proto.v1 = v1;
      reduced = 1;
    }
  }
  job jobs[64];
  parallel(&proto, iters, threads, run_resamples, jobs);
  free(cdf);
  return reduced;
}

/* ---- intervals ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* the q-quantile of sorted values, interpolated (type 7) */
static double quantile(const double *s, int n, double q) {
  if (q <= 0) return s[0];
  if (q >= 1) return s[n - 1];
  double pos = q * (n - 1);
  int lo = (int)pos;
  double frac = pos - lo;
  return lo + 1 < n ? s[lo] + frac * (s[lo + 1] - s[lo]) : s[lo];
}

void ce_stats_percentile_ci(double *means, int iters, double level, double *lo, double *hi) {
  qsort(means, (size_t)iters, sizeof *means, cmp_double);
  double a = (1 - level) / 2;
  *lo = quantile(means, iters, a);
  *hi = quantile(means, iters, 1 - a);
}

static double norm_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* Acklam's rational approximation, refined by one Newton step on erfc. */
double ce_stats_norm_quantile(double p) {
  if (p <= 0) return -INFINITY;
  if (p >= 1) return INFINITY;
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  double q, r, x;
  if (p < 0.02425) {
    q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) {
    q = sqrt(-2 * log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    q = p - 0.5;
    r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  double e = norm_cdf(x) - p;
  double u = e * sqrt(2 * M_PI) * exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

void ce_stats_bca_ci(const double *x, int n, double *means, int iters, double level, double *lo, double *hi) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += x[i];
  double obs = sum / n;
  qsort(means, (size_t)iters, sizeof *means, cmp_double);
  /* bias: the share of resampled means below the estimate (ties count half) */
  long below = 0, ties = 0;
  for (int b = 0; b < iters; b++) {
    if (means[b] < obs) below++;
    else if (means[b] == obs) ties++;
  }
  double share = (below + 0.5 * ties) / iters;
  if (share <= 0) share = 0.5 / iters;
  if (share >= 1) share = 1 - 0.5 / iters;
  double z0 = ce_stats_norm_quantile(share);
  /* acceleration from the jackknife means (sum - x_i) / (n - 1) */
  double num = 0, den = 0;
  if (n > 1) {
    for (int i = 0; i < n; i++) {
      double dev = obs - (sum - x[i]) / (n - 1);
      num += dev * dev * dev;
      den += dev * dev;
    }
  }
  double acc = den > 0 ? num / (6 * pow(den, 1.5)) : 0;
  double alpha = (1 - level) / 2;
  double za = ce_stats_norm_quantile(alpha), zb = ce_stats_norm_quantile(1 - alpha);
  double a1 = norm_cdf(z0 + (z0 + za) / (1 - acc * (z0 + za)));
  double a2 = norm_cdf(z0 + (z0 + zb) / (1 - acc * (z0 + zb)));
  *lo = quantile(means, iters, a1);
  *hi = quantile(means, iters, a2);
}

/* ---- sign flips ---- */

static void *run_signs(void *arg) {
  job *j = arg;
  ce_philox_key k = {{(uint32_t)j->seed, (uint32_t)(j->seed >> 32)}};
  long extreme = 0;
  for (int b = j->from; b < j->to; b++) {
    double s = 0;
    for (int i0 = 0; i0 < j->n; i0 += 128) { /* 128 signs a block */
      ce_philox_ctr c = {{(uint32_t)(i0 / 128), (uint32_t)b, CE_STATS_TAG_SIGN, 0}};
      ce_philox_ctr o = ce_philox4x32_10(c, k);
      for (int i = i0; i < j->n && i < i0 + 128; i++) {
        int bit = (int)((o.v[(i - i0) / 32] >> ((i - i0) % 32)) & 1u);
        s += bit ? j->d[i] : -j->d[i];
      }
    }
    /* a tolerance for sums that equal the observed one in exact arithmetic */
    if (fabs(s / j->n) >= fabs(j->obs) - 1e-12 * (1 + fabs(j->obs))) extreme++;
  }
  j->extreme = extreme;
  return NULL;
}

double ce_stats_signflip_p(const double *d, int n, uint64_t seed, int iters, int threads) {
  if (n <= 0 || iters <= 0) return NAN;
  double sum = 0;
  for (int i = 0; i < n; i++) sum += d[i];
  job proto;
  memset(&proto, 0, sizeof proto);
  proto.d = d;
  proto.n = n;
  proto.seed = seed;
  proto.obs = sum / n;
  job jobs[64];
  int t = threads <= 0 ? cores() : threads;
  if (t > 64) t = 64;
  if (t > iters) t = iters;
  parallel(&proto, iters, t, run_signs, jobs);
  long extreme = 0;
  for (int i = 0; i < t; i++) extreme += jobs[i].extreme;
  return (1.0 + (double)extreme) / (iters + 1.0);
}

/* ---- McNemar ---- */

double ce_stats_mcnemar(long b, long c, int *exact, double *statistic) {
  long m = b + c;
  if (m == 0) {
    *exact = 1;
    *statistic = 0;
    return 1.0;
  }
  if (m < 25) {
    /* two-sided exact binomial: twice the smaller tail of Binomial(m, 1/2) */
    long k = b < c ? b : c;
    double tail = 0;
    for (long i = 0; i <= k; i++) tail += exp(lgamma(m + 1.0) - lgamma(i + 1.0) - lgamma(m - i + 1.0) - m * log(2.0));
    *exact = 1;
    *statistic = (double)k;
    double p = 2 * tail;
    return p > 1 ? 1 : p;
  }
  double diff = fabs((double)(b - c)) - 1;
  double chi2 = diff * diff / (double)m;
  *exact = 0;
  *statistic = chi2;
  return erfc(sqrt(chi2 / 2));
}

/* ---- what the machine allows ---- */

void ce_stats_limits(int n, int iters, double *rng_rate, double *gather_rate) {
  /* the generator and index computation alone, one thread */
  double t0 = ce_clock_mono(), sink = 0;
  for (int b = 0; b < iters; b++) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) sink += resample_sum_avx512(NULL, (uint32_t)n, (uint32_t)b, 1, 2);
    else
#endif
    {
      for (uint32_t j = 0; j < (uint32_t)(n + 3) / 4; j++) {
        uint32_t c[4] = {j, (uint32_t)b, CE_STATS_TAG_RESAMPLE, 0};
        philox_block(c, 1, 2);
        sink += c[0];
      }
    }
  }
  double t1 = ce_clock_mono();
  *rng_rate = (double)n * iters / (t1 - t0);
  /* random loads from the scores alone (indices precomputed), one thread */
  uint32_t *ix = malloc((size_t)n * 16 * sizeof *ix);
  double *x = malloc((size_t)n * sizeof *x);
  if (!ix || !x) {
    free(ix);
    free(x);
    *gather_rate = 0;
    return;
  }
  for (int i = 0; i < n; i++) x[i] = i;
  for (int i = 0; i < n * 16; i++) ix[i] = ce_stats_draw(5, 0, (uint32_t)i, (uint32_t)n);
  double part[8] = {0};
  double t2 = ce_clock_mono();
  int reps = iters / 16 > 0 ? iters / 16 : 1;
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < n * 16; i += 8)
      for (int q = 0; q < 8; q++) part[q] += x[ix[i + q]];
  double t3 = ce_clock_mono();
  *gather_rate = (double)n * 16 * reps / (t3 - t2);
  if (sink + part[0] == -1) *gather_rate += 1; /* keep the work */
  free(ix);
  free(x);
}

/* ---- bulk scoring ---- */

void ce_stats_score(const ce_stats_item *items, int n, double *score, int ngroups, long *group_n, double *group_sum) {
  for (int g = 0; g < ngroups; g++) {
    group_n[g] = 0;
    group_sum[g] = 0;
  }
  for (int i = 0; i < n; i++) {
    const ce_stats_item *it = &items[i];
    double s = 0;
    if (it->kind == 1) s = !isnan(it->number) && fabs(it->number - it->truth_number) <= it->tolerance + 1e-12;
    else s = it->label && it->truth_label && strcmp(it->label, it->truth_label) == 0;
    score[i] = s;
    if (it->group >= 0 && it->group < ngroups) {
      group_n[it->group]++;
      group_sum[it->group] += s;
    }
  }
}
