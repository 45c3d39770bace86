/* SPDX-License-Identifier: MIT */
/* causal-eval: a lua-compatible interpreter (so busted and other Lua tools run
 * under it) whose first word may instead name a subcommand written in Lua
 * (lua/stdlib/causal_eval/cli/). Option handling follows lua.c closely. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime.h"

#define PROGNAME "causal-eval"

static const char *progname = PROGNAME;

/* bits of the value collectargs returns */
#define has_error 1
#define has_i 2
#define has_v 4
#define has_e 8
#define has_E 16

static void print_usage(const char *badoption) {
  if (badoption) {
    if (badoption[1] == 'e' || badoption[1] == 'l')
      fprintf(stderr, "%s: '%s' needs argument\n", progname, badoption);
    else
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, badoption);
  }
  fprintf(badoption ? stderr : stdout,
          "usage: %s [options] [script [args]]\n"
          "       %s COMMAND [args]     (see '%s help')\n"
          "Available options are:\n"
          "  -e stat   execute string 'stat'\n"
          "  -i        enter interactive mode after executing 'script'\n"
          "  -l mod    require library 'mod' into global 'mod'\n"
          "  -l g=mod  require library 'mod' into global 'g'\n"
          "  -v        show version information\n"
          "  -E        ignore environment variables\n"
          "  -W        turn warnings on\n"
          "  --        stop handling options\n"
          "  -         stop handling options and execute stdin\n"
          "  --version show version information and exit\n"
          "  --help    show this help and exit\n",
          progname, progname, progname);
  fflush(badoption ? stderr : stdout);
}

static void print_version(void) {
  printf("%s %s -- %s\n", PROGNAME, CE_VERSION, LUA_COPYRIGHT);
  fflush(stdout);
}

static int collectargs(char **argv, int *first) {
  int args = 0;
  int i;
  if (argv[0] == NULL) {
    *first = -1;
    return 0;
  }
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args; /* the script */
    switch (argv[i][1]) {
      case '-':
        if (argv[i][2] != '\0') return has_error;
        *first = argv[i + 1] ? i + 1 : 0;
        return args;
      case '\0': return args; /* '-' is the script: stdin */
      case 'E':
        if (argv[i][2] != '\0') return has_error;
        args |= has_E;
        break;
      case 'W':
        if (argv[i][2] != '\0') return has_error;
        break;
      case 'i': args |= has_i; /* -i implies -v */ /* FALLTHROUGH */
      case 'v':
        if (argv[i][2] != '\0') return has_error;
        args |= has_v;
        break;
      case 'e': args |= has_e; /* FALLTHROUGH */
      case 'l':
        if (argv[i][2] == '\0') {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') return has_error;
        }
        break;
      default: return has_error;
    }
  }
  *first = 0;
  return args;
}

/* arg[0] is the script; options before it go to negative indices. */
static void createargtable(lua_State *L, char **argv, int argc, int script) {
  int narg = argc - (script + 1);
  lua_createtable(L, narg > 0 ? narg : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = ce_runtime_pcall(L, 0, 0);
  return ce_runtime_report(L, status, progname);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod, -l g=mod; for "mod-1.2" the global is "mod" (as lua.c does) */
static int dolibrary(lua_State *L, const char *spec) {
  const char *eq = strchr(spec, '=');
  const char *modname = eq ? eq + 1 : spec;
  size_t glen = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
  lua_getglobal(L, "require");
  lua_pushstring(L, modname);
  int status = ce_runtime_pcall(L, 1, 1);
  if (status == LUA_OK) {
    lua_pushlstring(L, spec, glen);
    lua_insert(L, -2);                     /* name, module */
    lua_setglobal(L, lua_tostring(L, -2)); /* _G[name] = module */
    lua_pop(L, 1);                         /* name */
  }
  return ce_runtime_report(L, status, progname);
}

static int pushargs(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -n - 1);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL; /* stdin */
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = ce_runtime_pcall(L, n, LUA_MULTRET);
  }
  return ce_runtime_report(L, status, progname);
}

static int runargs(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    int option = argv[i][1];
    switch (option) {
      case 'e':
      case 'l': {
        char *extra = argv[i] + 2;
        if (*extra == '\0') extra = argv[++i];
        int status = option == 'e' ? dostring(L, extra, "=(command line)") : dolibrary(L, extra);
        if (status != LUA_OK) return 0;
        break;
      }
      case 'W': lua_warning(L, "@on", 0); break;
      default: break;
    }
  }
  return 1;
}

static int handle_luainit(lua_State *L) {
  const char *name = "=LUA_INIT_5_4";
  const char *init = getenv(name + 1);
  if (init == NULL) {
    name = "=LUA_INIT";
    init = getenv(name + 1);
  }
  if (init == NULL) return LUA_OK;
  if (init[0] == '@') return dochunk(L, luaL_loadfile(L, init + 1));
  return dostring(L, init, name);
}

/* The REPL is Lua (causal_eval.repl) on top of the lineedit native module. */
static int doREPL(lua_State *L, int banner) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "causal_eval.repl");
  int status = ce_runtime_pcall(L, 1, 1);
  if (status == LUA_OK) {
    lua_getfield(L, -1, "run");
    lua_remove(L, -2);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, banner);
    lua_setfield(L, -2, "banner");
    status = ce_runtime_pcall(L, 1, 0);
  }
  return ce_runtime_report(L, status, progname);
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script;
  int args = collectargs(argv, &script);
  int optlim = (script > 0) ? script : argc;
  luaL_checkversion(L);
  if (args == has_error) {
    print_usage(argv[script]);
    return 0;
  }
  if (args & has_v) print_version();
  createargtable(L, argv, argc, script > 0 ? script : 0);
  if (!(args & has_E) && handle_luainit(L) != LUA_OK) return 0;
  if (!runargs(L, argv, optlim)) return 0;
  if (script > 0 && handle_script(L, argv + script) != LUA_OK) return 0;
  if (args & has_i) {
    if (doREPL(L, 0) != LUA_OK) return 0;
  } else if (script < 1 && !(args & (has_e | has_v))) {
    if (isatty(STDIN_FILENO)) {
      if (doREPL(L, 1) != LUA_OK) return 0;
    } else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) {
      return 0;
    }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* Subcommand mode: arg = {[0]=progname, command, args...}; the exit status
 * is whatever causal_eval.cli.main returns. */
static int pcommand(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  createargtable(L, argv, argc, 0);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "causal_eval.cli");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "main");
  lua_getglobal(L, "arg");
  lua_call(L, 1, 1);
  lua_Integer code = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : (lua_toboolean(L, -1) ? 0 : 1);
  lua_pushinteger(L, code);
  return 1;
}

/* A first word like "help" or "config" is a subcommand unless a file of that
 * name exists (then it is a script, as for lua). A folder is no script: a
 * project's results/ or cache/, or /run, made `causal-eval results` fail
 * with "cannot read results: Is a directory". */
static int is_command(const char *s) {
  if (!s || !(*s >= 'a' && *s <= 'z')) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return 0;
  struct stat st;
  return stat(s, &st) != 0 || S_ISDIR(st.st_mode);
}

static int ignore_env_requested(char **argv) {
  for (int i = 1; argv[i] && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "-E") == 0) return 1;
    if (strcmp(argv[i], "--") == 0 || strcmp(argv[i], "-") == 0) break;
    if ((argv[i][1] == 'e' || argv[i][1] == 'l') && argv[i][2] == '\0') i++;
    if (!argv[i]) break;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argv[0] && argv[0][0]) progname = argv[0];
  if (argc == 2 && strcmp(argv[1], "--version") == 0) {
    print_version();
    return EXIT_SUCCESS;
  }
  if (argc == 2 && strcmp(argv[1], "--help") == 0) {
    print_usage(NULL);
    return EXIT_SUCCESS;
  }
  int command = argc > 1 && is_command(argv[1]);
  ce_runtime_opts opts = {argv[0], command ? 0 : ignore_env_requested(argv)};
  lua_State *L = ce_runtime_new(&opts);
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return EXIT_FAILURE;
  }
  int status, code;
  lua_pushcfunction(L, command ? pcommand : pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = ce_runtime_pcall(L, 2, 1);
  if (command) {
    code = status == LUA_OK ? (int)lua_tointeger(L, -1) : 1;
    if (status != LUA_OK) {
      fprintf(stderr, "%s: internal error: ", progname);
      ce_runtime_report(L, status, NULL);
    }
  } else {
    int result = lua_toboolean(L, -1);
    ce_runtime_report(L, status, progname);
    code = (result && status == LUA_OK) ? EXIT_SUCCESS : EXIT_FAILURE;
  }
  ce_runtime_close(L);
  /* A command whose output did not all reach standard output failed, as
   * coreutils' do: `results show > full-disk/x` said nothing and exited 0 */
  errno = 0;
  if (command && code == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
    fprintf(stderr, "%s: standard output: %s\n", progname, errno ? strerror(errno) : "write error");
    code = 1;
  }
  fflush(stdout);
  return code;
}
