# Carrier's container image: the carrier server and client, and the
# carrier-operator, as static binaries on an empty base. What is in it and
# why: docs/container-image.md.
#
# Build here with ./scripts/image.sh (buildah, no Docker engine needed). With
# Docker: docker build --build-arg VERSION=... --build-arg REVISION=... .
# (scripts/build.sh --print-version prints both; without them the binaries
# say 0.1.0-dev, since the build context has no .git).

# The build stage's base: any image with Go 1.26 at /usr/local/go, a shell
# and coreutils. scripts/image.sh passes a stand-in made from the local Go
# toolchain where this one cannot be pulled.
ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION
ARG REVISION
RUN VERSION="$VERSION" REVISION="$REVISION" ./scripts/build.sh /out \
    && mkdir -p /empty

FROM scratch
ARG VERSION=0.1.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="carrier" \
      org.opencontainers.image.description="Carrier: a clustered message queue that remembers what each consumer missed; the server and client (/carrier) and the Kubernetes operator (/carrier-operator)" \
      org.opencontainers.image.source="https://github.com/carriermq/carrier" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="NOASSERTION"
COPY --from=build /out/carrier /out/carrier-operator /
# The data directory, owned by the user the server runs as (a volume is
# usually mounted here; the server's data goes to its data/ subdirectory,
# as the operator sets it, since a volume's root may hold lost+found). /var/lib
# first, so that its directories stay root's.
COPY --from=build /empty /var/lib
COPY --from=build --chown=65532:65532 /empty /var/lib/carrier
USER 65532:65532
EXPOSE 7420 7421 7422 7422/udp
ENTRYPOINT ["/carrier"]
# A single node reachable from outside the container; the operator passes
# its own arguments for a cluster.
CMD ["serve", "--data=/var/lib/carrier/data", "--listen=0.0.0.0:7420"]
