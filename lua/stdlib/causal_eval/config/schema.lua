-- SPDX-License-Identifier: MIT
-- Every configuration key the program knows: its type, default and meaning.
-- A key not listed here is an error wherever it appears (file, environment
-- variable, --set), so a typo never silently does nothing. Later subsystems
-- add their sections here.
local function leaf(kind, default, spec)
  spec = spec or {}
  spec.__leaf = true
  spec.type = kind
  spec.default = default
  return spec
end

-- libpq's own parser (loaded for it), so that what passes here connects there
local function pg_url(v)
  if v == "" then return true end
  return require("causal_eval.store_core").check_url(v)
end

-- the parser the cache itself uses, so that what passes here opens there
local function redis_url(v)
  if v == "" then return true end
  return require("causal_eval.cache_core").parse_redis_url(v)
end

return {
  evaluation = {
    batch_size = leaf("integer", 10, { min = 1, help = "questions handed to a worker at a time" }),
    max_workers = leaf("integer", 2, { min = 1, max = 1024, help = "worker threads (one Lua state each)" }),
    cache_ttl = leaf("integer", 3600, { min = 0, help = "seconds a cached model response stays valid" }),
    enable_gpu = leaf("boolean", false, { help = "use an OpenCL GPU for statistics when one is present" }),
  },
  api = {
    bind = leaf("string", "127.0.0.1", { help = "address the API and metrics listeners bind to" }),
    port = leaf("integer", 8000, { min = 0, max = 65535, help = "API listener port of `serve` (0: any free port)" }),
    -- the server (serve/worker.lua, host/core/serve)
    worker_count = leaf("integer", 1, { min = 1, max = 256, help = "worker threads of `serve`, one Lua state each" }),
    worker_class = leaf("string", "async", { choices = { "async", "sync" },
      help = "async: a worker serves many requests at once, each a coroutine that yields on model calls; sync: one at a time" }),
    max_requests = leaf("integer", 100, { min = 0,
      help = "requests a worker's Lua state serves before it is replaced by a fresh one (0: never)" }),
    max_requests_jitter = leaf("integer", 0, { min = 0,
      help = "up to this many more requests, drawn per worker, so workers are not all replaced at once" }),
    reload = leaf("boolean", false, { help = "replace a worker's Lua state when a Lua file it loaded changes (development)" }),
    debug = leaf("boolean", false, { help = "a 500 answer carries the Lua traceback (development; never in production)" }),
    max_batch = leaf("integer", 100, { min = 1, help = "questions in one POST /evaluate/batch" }),
    max_body_kb = leaf("integer", 1024, { min = 1, help = "largest request body in KiB (larger: 413)" }),
    max_header_kb = leaf("integer", 16, { min = 1, max = 1024, help = "largest request line and headers in KiB (larger: 431)" }),
    max_json_depth = leaf("integer", 32, { min = 1, max = 10000, help = "deepest nesting of a JSON request body (deeper: 400)" }),
    timeout = leaf("number", 30, { min = 0.001,
      help = "seconds a model call of a request may take, and a client may stay silent before it is disconnected" }),
    queue_size = leaf("integer", 1024, { min = 1, help = "requests waiting for a worker (more: 503 with Retry-After)" }),
    max_connections = leaf("integer", 1024, { min = 1, max = 100000, help = "open client connections at once" }),
    io_threads = leaf("integer", 1, { min = 1, max = 64, help = "threads reading and writing the sockets (answers are the workers')" }),
    shutdown_grace = leaf("number", 30, { min = 0, help = "seconds SIGTERM waits for requests in progress before answering 503" }),
    score_cache_mb = leaf("integer", 16, { min = 0,
      help = "memory for answers to scoring-only requests, answered again from it (0: none; model answers use the cache section)" }),
    metrics_public = leaf("boolean", false,
      { help = "GET /metrics without a token (answered by the server thread itself, for a Prometheus on a trusted network)" }),
    -- security (serve/security.lua)
    users_file = leaf("string", "./causal-eval-users.yaml", {
      help = "YAML file of API users and argon2id password hashes (`causal-eval serve adduser NAME` writes it)" }),
    token_ttl = leaf("integer", 3600, { min = 1, help = "seconds a login's token stays valid" }),
    max_tokens_per_user = leaf("integer", 10000, { min = 1,
      help = "live tokens a user may hold; a login beyond it retires that user's oldest" }),
    rate_limit_per_minute = leaf("integer", 600, { min = 0,
      help = "requests per token per minute, a token bucket that refills evenly (0: no limit)" }),
    login_attempts_per_minute = leaf("integer", 10, { min = 0,
      help = "failed logins per user name and per client address per minute (0: no limit)" }),
    password_strength = leaf("string", "interactive", { choices = { "interactive", "moderate", "sensitive" },
      help = "argon2id cost of new password hashes: 64 MiB x 2 passes, 256 MiB x 3, 1 GiB x 4" }),
  },
  run = {
    suite = leaf("string", "all", { help = "benchmark families `run` evaluates by default (comma-separated, or all)" }),
    n = leaf("integer", 20, { min = 1, help = "questions per family when --n is not given" }),
    concurrency = leaf("integer", 64, { min = 1, max = 65536, help = "model requests in flight, all workers together" }),
    rate = leaf("number", 0, { min = 0, help = "requests per second cap (0: none)" }),
    timeout = leaf("number", 120, { min = 0.001, help = "seconds one model request may take" }),
    connect_timeout = leaf("number", 10, { min = 0.001, help = "seconds to connect to a model server" }),
    max_attempts = leaf("integer", 5, { min = 1, max = 100, help = "tries per question for retryable failures" }),
    retry_base = leaf("number", 0.5, { min = 0, help = "first retry delay in seconds (doubles per attempt, with jitter)" }),
    retry_cap = leaf("number", 30, { min = 0, help = "longest retry delay in seconds" }),
    max_response_mb = leaf("number", 4, { min = 0.001, max = 4096,
      help = "largest model reply in MiB; a larger one is cut off while it arrives and stored as error too_large" }),
  },
  cache = {
    mode = leaf("string", "readwrite", { choices = { "readwrite", "read", "write", "off" },
                                       help = "model calls: look up and store (readwrite), only look up, only store, or off" }),
    ttl = leaf("integer", -1, { min = -1, help = "seconds an entry stays valid (-1: evaluation.cache_ttl, 0: forever)" }),
    memory = {
      max_size_mb = leaf("integer", 256, { min = 0, help = "memory layer bound (0: no memory layer)" }),
    },
    disk = {
      path = leaf("string", "", { help = "disk layer folder, shared by all runs (empty: $XDG_CACHE_HOME/causal-eval/cache)" }),
      max_size_gb = leaf("number", 4, { min = 0, help = "disk layer bound (0: no disk layer)" }),
    },
    redis = {
      url = leaf("string", "", { check = redis_url,
        help = "redis://[:password@]host[:port][/db] (or $CAUSAL_EVAL_REDIS_URL); empty: no Redis layer" }),
      host = leaf("string", "", { help = "Redis host, when no url is given" }),
      port = leaf("integer", 6379, { min = 1, max = 65535, help = "Redis port" }),
      password = leaf("string", "", { help = "Redis password" }),
      db = leaf("integer", 0, { min = 0, help = "Redis database number" }),
      timeout = leaf("number", 0.25, { min = 0.001, help = "Redis connect and command timeout, seconds" }),
    },
  },
  store = {
    path = leaf("string", "./causal-eval-data", {
      help = "folder of the results store (LMDB); with store.url, of its journal and run locks" }),
    url = leaf("string", "", { check = pg_url,
      help = "postgresql://[user[:password]@]host[:port]/database: results in PostgreSQL instead of LMDB (or --store URL)" }),
    read_url = leaf("string", "", { check = pg_url,
      help = "a read replica of store.url: results, compare and serve's /results/* read from it" }),
    map_size_mb = leaf("integer", 1024, { min = 1, help = "largest size the store may grow to" }),
    batch_size = leaf("integer", 2048, { min = 1,
      help = "most values written per transaction (an answer is two: its record and its score line); the writer commits sooner once 150 ms pass in a run, 5 ms in serve and queue workers" }),
    sync = leaf("boolean", true, { help = "flush each transaction to disk before counting its records" }),
  },
  -- the PostgreSQL store (store.url): its pool of connections, shared by
  -- the threads of a process, and its writer (host/core/store/pg.h)
  database = {
    pool_size = leaf("integer", 5, { min = 1, max = 10000, help = "connections kept open per server" }),
    max_overflow = leaf("integer", 10, { min = 0, max = 10000,
      help = "connections opened beyond pool_size under load, closed when given back" }),
    pool_timeout = leaf("number", 30, { min = 0, help = "seconds to wait for a free connection before failing" }),
    pool_recycle = leaf("number", 3600, { min = -1, help = "seconds after which a connection is replaced (-1: never)" }),
    statement_timeout = leaf("number", 30, { min = 0, help = "seconds a statement may run on the server (0: no limit)" }),
    connect_timeout = leaf("number", 10, { min = 0, help = "seconds to connect to the server (0: no limit)" }),
    batch_size = leaf("integer", 1000, { min = 1, max = 100000, help = "answers written per COPY and transaction" }),
    writers = leaf("integer", 2, { min = 1, max = 8,
      help = "batches written side by side, each on a connection of the pool (a process's writes; reads share the pool)" }),
    retry_for = leaf("number", 60, { min = 0,
      help = "seconds a lost server is retried (with growing pauses) before a run stops, resumable" }),
    buffer_mb = leaf("integer", 64, { min = 1, max = 64,
      help = "answers kept in memory (and in the journal) while the server cannot be reached (then workers wait)" }),
  },
  -- the work queue on Redis Streams: `run --queue`, `worker` (docs/queue.md)
  queue = {
    url = leaf("string", "", { check = redis_url,
      help = "redis://[:password@]host[:port][/db] of the queue `worker` serves when --queue is not given" }),
    claim_after = leaf("number", 30, { min = 0.05, max = 86400,
      help = "seconds a question taken by a worker may go without a sign of life before another worker takes it over" }),
  },
  -- the page of `serve` at GET / (serve/dashboard.lua)
  dashboard = {
    refresh_interval = leaf("number", 5, { min = 1, max = 3600, help = "seconds between the dashboard's updates" }),
    thresholds = {
      error_rate = leaf("number", 0.05, { min = 0, max = 1,
        help = "share of POST /evaluate/* answered with status 400 or more above which the dashboard shows it red" }),
      latency_p95 = leaf("number", 10, { min = 0, help = "seconds of p95 latency of POST /evaluate/* above which the dashboard shows it red" }),
      memory_usage_gb = leaf("number", 8, { min = 0, help = "GiB of anonymous resident memory above which the dashboard shows it red" }),
    },
  },
}
