/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the request bodies of `causal-eval serve`: the depth
 * check the server makes in C, then the parsers of POST /auth/login,
 * /evaluate/single and /evaluate/batch (lua/stdlib/causal_eval/serve/
 * request.lua) in a Lua state of the host, as a worker runs them, without
 * the network. Any Lua error is a crash: a parser must answer every body
 * with a value or a 400 that names what is wrong, and the answer must
 * encode as JSON. Build with -DCE_FUZZ=ON (clang); tools/fuzz/request.sh
 * runs it. */
#include <lauxlib.h>
#include <lua.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/serve/limits.h"
#include "runtime.h"

/* what the server refuses before a worker sees the body (api.max_json_depth's default) */
#define MAX_DEPTH 32

static lua_State *L;
static int check_ref;

static const char HARNESS[] =
  "local req = require 'causal_eval.serve.request'\n"
  "local json = require 'causal_eval.json'\n"
  "local function answer_of(v, err)\n"
  "  if v ~= nil then assert(err == nil, 'a value and an error') return json.encode(v) end\n"
  "  assert(type(err) == 'table', 'an error that is not a table')\n"
  "  assert(err.status == 400 or err.status == 413, 'status ' .. tostring(err.status))\n"
  "  assert(type(err.code) == 'string' and err.code ~= '', 'no code')\n"
  "  assert(type(err.message) == 'string' and err.message ~= '', 'no message')\n"
  "  return json.encode({ error = { code = err.code, message = err.message } })\n"
  "end\n"
  "return function(body)\n"
  "  answer_of(req.login(body))\n"
  "  answer_of(req.single(body))\n"
  "  local b, err = req.batch(body, 100)\n"
  "  if b then\n"
  "    for _, item in ipairs(b.items) do if item.error then answer_of(nil, item.error) end end\n"
  "  else answer_of(nil, err) end\n"
  "  answer_of(req.query_int({ limit = body:sub(1, 24) }, 'limit', 20, 1, 1000))\n"
  "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  ce_runtime_opts opts = {(*argv)[0], 1};
  (void)argc;
  L = ce_runtime_new(&opts);
  if (!L || luaL_loadbufferx(L, HARNESS, sizeof HARNESS - 1, "=fuzz_request", "t") != LUA_OK ||
      ce_runtime_pcall_thread(L, 0, 1) != LUA_OK) {
    fprintf(stderr, "fuzz_request: %s\n", L ? lua_tostring(L, -1) : "no Lua state");
    abort();
  }
  check_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ce_json_too_deep((const char *)data, size, MAX_DEPTH)) return 0; /* answered 400 by the server */
  lua_rawgeti(L, LUA_REGISTRYINDEX, check_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (ce_runtime_pcall_thread(L, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_request: a parser raised: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  return 0;
}
