/* SPDX-License-Identifier: MIT */
#define CL_TARGET_OPENCL_VERSION 120
#include "core/stats/stats_cl.h"

#include <CL/cl.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/stats/stats.h"

/* ---- the kernels: the definition in stats.h, word for word ---- */

static const char *const SOURCE =
  "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
  "#pragma OPENCL FP_CONTRACT OFF\n"
  "#define M0 0xD2511F53u\n#define M1 0xCD9E8D57u\n#define W0 0x9E3779B9u\n#define W1 0xBB67AE85u\n"
  "#define TAG_RESAMPLE 0x73747231u\n#define TAG_REDUCE 0x73747232u\n"
  "void philox(uint c[4], uint ka, uint kb) {\n"
  "  for (int r = 0; r < 10; r++) {\n"
  "    uint hi0 = mul_hi(M0, c[0]), lo0 = M0 * c[0], hi1 = mul_hi(M1, c[2]), lo1 = M1 * c[2];\n"
  "    uint n0 = hi1 ^ c[1] ^ ka, n2 = hi0 ^ c[3] ^ kb;\n"
  "    c[1] = lo1; c[3] = lo0; c[0] = n0; c[2] = n2; ka += W0; kb += W1;\n"
  "  }\n"
  "}\n"
  "double tree64(double p[64]) {\n"
  "  for (int w = 64; w > 1; w /= 2) for (int i = 0; i < w / 2; i++) p[i] = p[2 * i] + p[2 * i + 1];\n"
  "  return p[0];\n"
  "}\n"
  "__kernel void resample_means(__global const double *x, uint n, uint k0, uint k1, uint b0, __global double *out) {\n"
  "  uint b = b0 + get_global_id(0);\n"
  "  double part[64];\n"
  "  for (int i = 0; i < 64; i++) part[i] = 0.0;\n"
  "  uint blocks = (n + 3) / 4;\n"
  "  for (uint j = 0; j < blocks; j++) {\n"
  "    uint c[4] = {j, b, TAG_RESAMPLE, 0u};\n"
  "    philox(c, k0, k1);\n"
  "    for (uint q = 0; q < 4 && j * 4 + q < n; q++) part[(j * 4 + q) % 64] += x[mul_hi(c[q], n)];\n"
  "  }\n"
  "  out[get_global_id(0)] = tree64(part) / (double)n;\n"
  "}\n"
  "__kernel void reduced_means(__global const double *cdf, uint n, double v0, double v1, uint k0, uint k1, uint b0,\n"
  "                            __global double *out) {\n"
  "  uint b = b0 + get_global_id(0);\n"
  "  uint c[4] = {0u, b, TAG_REDUCE, 0u};\n"
  "  philox(c, k0, k1);\n"
  "  double u = (double)(((((ulong)c[1]) << 32) | (ulong)c[0]) >> 11) * 0x1.0p-53;\n"
  "  int lo = 0, hi = (int)n;\n"
  "  while (lo < hi) { int mid = (lo + hi) / 2; if (cdf[mid] > u) hi = mid; else lo = mid + 1; }\n"
  "  double a = (double)lo * v1, z = (double)((int)n - lo) * v0;\n"
  "  out[get_global_id(0)] = (a + z) / (double)n;\n"
  "}\n";

/* ---- libOpenCL, loaded on first use ---- */

static struct {
  cl_int (*GetPlatformIDs)(cl_uint, cl_platform_id *, cl_uint *);
  cl_int (*GetPlatformInfo)(cl_platform_id, cl_platform_info, size_t, void *, size_t *);
  cl_int (*GetDeviceIDs)(cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *);
  cl_int (*GetDeviceInfo)(cl_device_id, cl_device_info, size_t, void *, size_t *);
  cl_context (*CreateContext)(const cl_context_properties *, cl_uint, const cl_device_id *,
                              void (*)(const char *, const void *, size_t, void *), void *, cl_int *);
  cl_command_queue (*CreateCommandQueue)(cl_context, cl_device_id, cl_command_queue_properties, cl_int *);
  cl_program (*CreateProgramWithSource)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
  cl_int (*BuildProgram)(cl_program, cl_uint, const cl_device_id *, const char *, void (*)(cl_program, void *), void *);
  cl_int (*GetProgramBuildInfo)(cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *);
  cl_kernel (*CreateKernel)(cl_program, const char *, cl_int *);
  cl_mem (*CreateBuffer)(cl_context, cl_mem_flags, size_t, void *, cl_int *);
  cl_int (*SetKernelArg)(cl_kernel, cl_uint, size_t, const void *);
  cl_int (*EnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *,
                                 cl_uint, const cl_event *, cl_event *);
  cl_int (*EnqueueReadBuffer)(cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *,
                              cl_event *);
  cl_int (*Finish)(cl_command_queue);
  cl_int (*ReleaseMemObject)(cl_mem);
} cl;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ready;
static char device_name[512];
static cl_context ctx;
static cl_command_queue queue;
static cl_kernel k_resample, k_reduced;

static int load_library(ce_err *err) {
  static void *h;
  if (h) return 0;
  h = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) h = dlopen("libOpenCL.so", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    ce_err_setf(err, 1, "opencl", 0, 0, "no OpenCL library (install ocl-icd-libopencl1 and a driver, e.g. pocl-opencl-icd)");
    return -1;
  }
  struct {
    const char *name;
    void **slot;
  } syms[] = {
    {"clGetPlatformIDs", (void **)&cl.GetPlatformIDs}, {"clGetPlatformInfo", (void **)&cl.GetPlatformInfo},
    {"clGetDeviceIDs", (void **)&cl.GetDeviceIDs}, {"clGetDeviceInfo", (void **)&cl.GetDeviceInfo},
    {"clCreateContext", (void **)&cl.CreateContext}, {"clCreateCommandQueue", (void **)&cl.CreateCommandQueue},
    {"clCreateProgramWithSource", (void **)&cl.CreateProgramWithSource}, {"clBuildProgram", (void **)&cl.BuildProgram},
    {"clGetProgramBuildInfo", (void **)&cl.GetProgramBuildInfo}, {"clCreateKernel", (void **)&cl.CreateKernel},
    {"clCreateBuffer", (void **)&cl.CreateBuffer}, {"clSetKernelArg", (void **)&cl.SetKernelArg},
    {"clEnqueueNDRangeKernel", (void **)&cl.EnqueueNDRangeKernel}, {"clEnqueueReadBuffer", (void **)&cl.EnqueueReadBuffer},
    {"clFinish", (void **)&cl.Finish}, {"clReleaseMemObject", (void **)&cl.ReleaseMemObject},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(h, syms[i].name);
    if (!*syms[i].slot) {
      ce_err_setf(err, 1, "opencl", 0, 0, "the OpenCL library lacks %s", syms[i].name);
      dlclose(h);
      h = NULL;
      return -1;
    }
  }
  return 0;
}

const char *ce_stats_cl_device(void) { return device_name; }

int ce_stats_cl_init(const char *want, int gpu_only, ce_err *err) {
  ce_err_clear(err);
  pthread_mutex_lock(&lock);
  if (ready) {
    /* one device a process (its kernels are built once): another is an error */
    char *end;
    int numeric = want && *want && (strtol(want, &end, 10), *end == '\0');
    if (want && *want && !numeric && !strstr(device_name, want)) {
      ce_err_setf(err, 1, "opencl", 0, 0, "no OpenCL device with double precision matches '%s' (this process uses %s)",
                  want, device_name);
      pthread_mutex_unlock(&lock);
      return -1;
    }
    pthread_mutex_unlock(&lock);
    return 0;
  }
  if (load_library(err)) goto fail;
  cl_platform_id plats[16];
  cl_uint nplat = 0;
  if (cl.GetPlatformIDs(16, plats, &nplat) != CL_SUCCESS || nplat == 0) {
    ce_err_setf(err, 1, "opencl", 0, 0, "no OpenCL platform found (is a driver's .icd file in /etc/OpenCL/vendors?)");
    goto fail;
  }
  cl_device_id chosen = NULL, first_gpu = NULL, first_any = NULL;
  char chosen_name[512] = "", gpu_name[512] = "", any_name[512] = "";
  int index = 0, by_index = -1;
  if (want && *want) {
    char *end;
    long v = strtol(want, &end, 10);
    if (*end == '\0') by_index = (int)v;
  }
  for (cl_uint p = 0; p < nplat; p++) {
    cl_device_id devs[16];
    cl_uint ndev = 0;
    if (cl.GetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &ndev) != CL_SUCCESS) continue;
    char pname[200] = "";
    cl.GetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    for (cl_uint d = 0; d < ndev; d++, index++) {
      char dname[200] = "", full[512];
      cl.GetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof dname, dname, NULL);
      snprintf(full, sizeof full, "%s / %s", pname, dname);
      cl_device_type type = 0;
      cl.GetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
      cl_device_fp_config fp64 = 0;
      cl.GetDeviceInfo(devs[d], CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL);
      if (!fp64) continue; /* the kernels need doubles */
      if (!first_any) {
        first_any = devs[d];
        snprintf(any_name, sizeof any_name, "%s", full);
      }
      if ((type & CL_DEVICE_TYPE_GPU) && !first_gpu) {
        first_gpu = devs[d];
        snprintf(gpu_name, sizeof gpu_name, "%s", full);
      }
      if (!chosen && want && *want && ((by_index >= 0 && by_index == index) || (by_index < 0 && strstr(full, want)))) {
        chosen = devs[d];
        snprintf(chosen_name, sizeof chosen_name, "%s", full);
      }
    }
  }
  if (want && *want && !chosen) {
    ce_err_setf(err, 1, "opencl", 0, 0, "no OpenCL device with double precision matches '%s'", want);
    goto fail;
  }
  if (!chosen) {
    chosen = first_gpu ? first_gpu : (gpu_only ? NULL : first_any);
    snprintf(chosen_name, sizeof chosen_name, "%s", first_gpu ? gpu_name : any_name);
  }
  if (!chosen) {
    ce_err_setf(err, 1, "opencl", 0, 0, gpu_only ? "no OpenCL GPU with double precision" : "no OpenCL device with double precision");
    goto fail;
  }
  cl_int rc;
  ctx = cl.CreateContext(NULL, 1, &chosen, NULL, NULL, &rc);
  if (rc != CL_SUCCESS) {
    ce_err_setf(err, 1, "opencl", 0, 0, "%s: cannot create a context (error %d)", chosen_name, rc);
    goto fail;
  }
  queue = cl.CreateCommandQueue(ctx, chosen, 0, &rc);
  const char *src = SOURCE;
  cl_program prog = cl.CreateProgramWithSource(ctx, 1, &src, NULL, &rc);
  if (rc == CL_SUCCESS) rc = cl.BuildProgram(prog, 1, &chosen, "", NULL, NULL);
  if (rc != CL_SUCCESS) {
    char log[400] = "";
    cl.GetProgramBuildInfo(prog, chosen, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
    ce_err_setf(err, 1, "opencl", 0, 0, "%s: the kernels did not build (error %d): %s", chosen_name, rc, log);
    goto fail;
  }
  k_resample = cl.CreateKernel(prog, "resample_means", &rc);
  if (rc == CL_SUCCESS) k_reduced = cl.CreateKernel(prog, "reduced_means", &rc);
  if (rc != CL_SUCCESS) {
    ce_err_setf(err, 1, "opencl", 0, 0, "%s: cannot create the kernels (error %d)", chosen_name, rc);
    goto fail;
  }
  snprintf(device_name, sizeof device_name, "%s", chosen_name);
  ready = 1;
  pthread_mutex_unlock(&lock);
  return 0;
fail:
  pthread_mutex_unlock(&lock);
  return -1;
}

int ce_stats_cl_boot_means(const double *x, int n, uint64_t seed, int iters, int reduce, double *out, ce_err *err) {
  if (!ready && ce_stats_cl_init(NULL, 0, err)) return -1;
  double v0 = 0, v1 = 0;
  double *cdf = reduce ? ce_stats_two_value_cdf(x, n, &v0, &v1) : NULL; /* the C backend's very table */
  int two = cdf != NULL;
  cl_int rc;
  size_t in_bytes = two ? (size_t)(n + 1) * sizeof(double) : (size_t)n * sizeof(double);
  pthread_mutex_lock(&lock);
  cl_mem in = cl.CreateBuffer(ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, in_bytes, two ? (void *)cdf : (void *)x, &rc);
  cl_mem res = rc == CL_SUCCESS ? cl.CreateBuffer(ctx, CL_MEM_WRITE_ONLY, (size_t)iters * sizeof(double), NULL, &rc) : NULL;
  if (rc != CL_SUCCESS) {
    ce_err_setf(err, 1, "opencl", 0, 0, "%s: cannot allocate device buffers (error %d)", device_name, rc);
    goto done;
  }
  cl_uint un = (cl_uint)n, k0 = (cl_uint)seed, k1 = (cl_uint)(seed >> 32), b0 = 0;
  cl_kernel k = two ? k_reduced : k_resample;
  int a = 0;
  cl.SetKernelArg(k, a++, sizeof in, &in);
  cl.SetKernelArg(k, a++, sizeof un, &un);
  if (two) {
    cl.SetKernelArg(k, a++, sizeof v0, &v0);
    cl.SetKernelArg(k, a++, sizeof v1, &v1);
  }
  cl.SetKernelArg(k, a++, sizeof k0, &k0);
  cl.SetKernelArg(k, a++, sizeof k1, &k1);
  cl.SetKernelArg(k, a++, sizeof b0, &b0);
  cl.SetKernelArg(k, a++, sizeof res, &res);
  size_t global = (size_t)iters;
  rc = cl.EnqueueNDRangeKernel(queue, k, 1, NULL, &global, NULL, 0, NULL, NULL);
  if (rc == CL_SUCCESS) rc = cl.EnqueueReadBuffer(queue, res, CL_TRUE, 0, (size_t)iters * sizeof(double), out, 0, NULL, NULL);
  if (rc != CL_SUCCESS) ce_err_setf(err, 1, "opencl", 0, 0, "%s: the kernel failed (error %d)", device_name, rc);
done:
  if (in) cl.ReleaseMemObject(in);
  if (res) cl.ReleaseMemObject(res);
  pthread_mutex_unlock(&lock);
  free(cdf);
  return rc == CL_SUCCESS ? two : -1;
}
