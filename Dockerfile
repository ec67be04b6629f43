# scep-lab container image: Debian bookworm, built from source, run as a
# non-root user. Configuration comes through the same SCEP_LAB_* environment
# variables as the native binary (README.md).
#
#   docker build --network host -t scep-lab .
#   docker run --rm -p 8080:8080 -v scep-lab-data:/data scep-lab
#
# BASE can name a locally imported bookworm image where no registry is
# reachable (scripts/docker-test.sh makes one with debootstrap).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
# The build packages come from the one list in scripts/deps.sh.
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh package && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt README.md ./
COPY docs docs
COPY pki pki
COPY config config
COPY server server
COPY peers peers
COPY client client
COPY cli cli
COPY scripts/package.sh scripts/package.sh
# The Debian package scripts/package.sh makes (a Release build in unity
# batches of 8, as scripts/build.sh: half the build time on 2 cores).
RUN scripts/package.sh /deb

FROM ${BASE}
# The package and the libraries it depends on (apt resolves them from the
# .deb's Depends, which dpkg-shlibdeps computed from what the binary links).
COPY --from=build /deb /deb
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /deb/scep-lab_*.deb \
 && rm -rf /var/lib/apt/lists/* /deb \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin scep-lab \
 && mkdir -p /data && chown scep-lab:scep-lab /data && chmod 0700 /data
USER scep-lab
WORKDIR /data
# Listen on all interfaces inside the container; the PKI and store live in /data.
# A port mapping makes the host a non-loopback client (172.17.0.1), so the
# admin API answers remote clients here; its token is still required
# (`docker exec <container> scep-lab admin-token`). The HTTPS certificate's
# names come from configuration, not from the container's random hostname
# (which would re-issue it for every new container): add the name devices use,
# e.g. -e SCEP_LAB_HTTPS_NAMES=localhost,127.0.0.1,::1,lab.example.
ENV SCEP_LAB_LISTEN=0.0.0.0 \
    SCEP_LAB_PORT=8080 \
    SCEP_LAB_HTTPS_PORT=8443 \
    SCEP_LAB_DATA_DIR=/data \
    SCEP_LAB_ADMIN_REMOTE=on \
    SCEP_LAB_HTTPS_NAMES=localhost,127.0.0.1,::1
VOLUME ["/data"]
EXPOSE 8080 8443
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["scep-lab", "health"]
ENTRYPOINT ["scep-lab"]
CMD ["serve"]
