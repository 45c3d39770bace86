# SPDX-License-Identifier: MIT
# causal-eval as a service: `causal-eval serve` on 0.0.0.0:8000.
#
# Two stages on Debian 12 (bookworm):
#   builder  the -dev packages (tools/install-deps.sh, the same list CI uses),
#            a Release build of the binary, `cmake --install` into /out, and
#            the list of Debian packages holding the shared libraries the
#            binary links, dlopens or requires from Lua
#            (tools/container/runtime-packages.sh);
#   runtime  those packages only (pinned to the builder's versions) and
#            ca-certificates, the binary and share/causal-eval (lua,
#            benchmarks, adapters, configs), a non-root user, a HEALTHCHECK
#            on /healthz made by the binary itself (no curl in the image).
#
#   podman build --format docker -t causal-eval .     (docker format keeps HEALTHCHECK)
#   docker build -t causal-eval .
#   podman run -it --rm -v ce-data:/var/lib/causal-eval causal-eval serve adduser alice
#   podman run -d -p 8000:8000 -v ce-data:/var/lib/causal-eval causal-eval
#
# Where no registry is reachable, tools/container/build.sh makes the base
# image with debootstrap and passes it as BASE_IMAGE (docs/container.md).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BASE_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# the dependency layer is cached until install-deps.sh changes
COPY tools/install-deps.sh tools/install-deps.sh
# --no-browser: chromium is for the dashboard spec, which no image build runs
RUN tools/install-deps.sh --no-browser && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build --target causal-eval -j "$(nproc)" \
 && DESTDIR=/out cmake --install /build --strip \
 && install -D -m 0644 tools/container/healthcheck.lua /out/usr/local/share/causal-eval/container/healthcheck.lua \
 && install -D -m 0644 LICENSE /out/usr/local/share/doc/causal-eval/LICENSE \
 && mkdir -p /deps \
 && tools/container/runtime-packages.sh /out/usr/local/bin/causal-eval /out/usr/local/share/causal-eval \
      /deps/packages.txt /deps/sonames.txt \
 && /out/usr/local/bin/causal-eval version --verbose

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# shared libraries first: this layer is rebuilt only when the list changes
COPY --from=builder /deps/ /tmp/deps/
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends ca-certificates $(cat /tmp/deps/packages.txt) \
 && rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log \
 && for so in $(cat /tmp/deps/sonames.txt); do \
      ldconfig -p | grep -q "^[[:space:]]*$so " || { echo "runtime image lacks $so" >&2; exit 1; }; \
    done \
 && rm -rf /tmp/deps \
 && groupadd --gid 10001 causal-eval \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /var/lib/causal-eval \
      --shell /usr/sbin/nologin causal-eval \
 && install -d -m 0750 -o causal-eval -g causal-eval /var/lib/causal-eval

COPY --from=builder /out/usr/local/ /usr/local/
RUN causal-eval version --verbose && causal-eval version --json >/dev/null

ARG CE_REVISION=unknown
LABEL org.opencontainers.image.title="causal-eval" \
      org.opencontainers.image.description="Evaluates language models on causal reasoning; serves the HTTP API (causal-eval serve)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.revision="${CE_REVISION}"

USER causal-eval
# the results store (./causal-eval-data), the cache and the history live here: mount a volume on it
WORKDIR /var/lib/causal-eval
ENV HOME=/var/lib/causal-eval \
    XDG_CACHE_HOME=/var/lib/causal-eval/cache \
    XDG_STATE_HOME=/var/lib/causal-eval/state
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["causal-eval", "/usr/local/share/causal-eval/container/healthcheck.lua"]
ENTRYPOINT ["causal-eval"]
CMD ["serve", "--bind", "0.0.0.0", "--port", "8000"]
