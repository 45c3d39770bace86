/* SPDX-License-Identifier: MIT */
/* Compiles the stdlib to Lua bytecode at build time, for
 * cmake/embed_stdlib.cmake to embed:
 *
 *   stdlib_compile SRC OUT FILE...
 *
 * FILE is a path under SRC (lua/stdlib/causal_eval/x.lua); OUT/FILE.bc gets
 * its chunk as lua_dump writes it, line information kept and named
 * "@FILE", as the runtime named the source it compiled: tracebacks and
 * profiles read the same. Compiling the embedded source was a third of
 * the instructions of starting a run. The bytecode is this build's Lua's
 * (the same static library as the program), so the two always agree. */
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/paths.h"

static int put(lua_State *L, const void *p, size_t n, void *ud) {
  (void)L;
  return fwrite(p, 1, n, ud) == n ? 0 : 1;
}

/* the folder a file goes in, made as needed */
static int make_folder(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0;
  *slash = '\0';
  ce_err err;
  if (ce_mkdirs(dir, 0755, &err) == 0) return 0;
  fprintf(stderr, "stdlib_compile: %s\n", err.msg);
  return -1;
}

static int compile(lua_State *L, const char *src, const char *out, const char *file) {
  char in[4096], dst[4096], name[4096];
  if (snprintf(in, sizeof in, "%s/%s", src, file) >= (int)sizeof in ||
      snprintf(dst, sizeof dst, "%s/%s.bc", out, file) >= (int)sizeof dst ||
      snprintf(name, sizeof name, "@%s", file) >= (int)sizeof name) {
    fprintf(stderr, "stdlib_compile: %s: path too long\n", file);
    return -1;
  }
  FILE *f = fopen(in, "rb");
  if (!f) {
    fprintf(stderr, "stdlib_compile: %s: %s\n", in, strerror(errno));
    return -1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
  int read_err = ferror(f);
  fclose(f);
  luaL_pushresult(&b);
  if (read_err) {
    fprintf(stderr, "stdlib_compile: %s: read error\n", in);
    return -1;
  }
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  if (luaL_loadbufferx(L, text, len, name, "t") != LUA_OK) {
    fprintf(stderr, "stdlib_compile: %s\n", lua_tostring(L, -1));
    return -1;
  }
  if (make_folder(dst) != 0) return -1;
  FILE *o = fopen(dst, "wb");
  if (!o) {
    fprintf(stderr, "stdlib_compile: %s: %s\n", dst, strerror(errno));
    return -1;
  }
  int bad = lua_dump(L, put, o, 0) != 0;
  bad |= fclose(o) != 0;
  if (bad) fprintf(stderr, "stdlib_compile: %s: write error\n", dst);
  lua_pop(L, 2);
  return bad ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: stdlib_compile SRC OUT FILE...\n");
    return 2;
  }
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  int rc = 0;
  for (int i = 3; i < argc && rc == 0; i++) rc = compile(L, argv[1], argv[2], argv[i]);
  lua_close(L);
  return rc == 0 ? 0 : 1;
}
