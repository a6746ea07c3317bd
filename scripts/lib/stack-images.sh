# Sourced by scripts/image.sh: the stack's other images, built from what scripts/tools.sh builds or
# installs, with no registry and no base image.
#   localhost/bpm-consul:VERSION    FROM scratch: the consul binary, CA certificates, /tmp, user 65532
#   localhost/bpm-jaeger:VERSION    FROM scratch: the jaeger binary and containers/jaeger.yaml
#   localhost/bpm-postgres:MAJOR    a Debian root filesystem with postgresql (mmdebstrap) and
#                                   containers/postgres-entrypoint.sh
# Each image carries the digest of its inputs in the label io.bpm.inputs; an image whose inputs have not
# changed is kept, so a second run costs a few seconds. Expects $root, $podman (scripts/image.sh).

stack_log() { echo "image.sh: $*" >&2; }

# stack_inputs FILE…: one digest over the files' contents and this script.
stack_inputs() { cat "$@" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-32; }

# stack_current IMAGE DIGEST: true when IMAGE exists with that input digest.
stack_current() {
  [ "$("$podman" image inspect --format '{{index .Labels "io.bpm.inputs"}}' "$1" 2>/dev/null || true)" = "$2" ]
}

# stack_rootfs DIR BIN DEST: a FROM-scratch root in DIR: BIN at DEST plus the libraries ldd names (none
# for a static Go binary), CA certificates, /tmp, and root plus the user 65532 in /etc/passwd.
stack_rootfs() {
  local fs="$1" bin="$2" dest="$3" libs lib
  rm -rf "$fs"
  mkdir -p "$fs/etc/ssl/certs" "$fs/tmp" "$fs$(dirname "$dest")"
  install -m 0755 "$(readlink -f "$bin")" "$fs$dest"
  if ldd "$bin" >/dev/null 2>&1; then
    libs="$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')"
    for lib in $libs; do
      mkdir -p "$fs$(dirname "$lib")"
      install -m 0755 "$(readlink -f "$lib")" "$fs$lib"
    done
  fi
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$fs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:65532:65532:%s:/tmp:/sbin/nologin\n' "$4" "$4" >"$fs/etc/passwd"
  printf 'root:x:0:\n%s:x:65532:\n' "$4" >"$fs/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$fs/etc/nsswitch.conf"
  chmod 1777 "$fs/tmp"
}

# stack_tar DIR TAR [OWNED_PATH…]: DIR as TAR, root-owned except OWNED_PATHs (65532).
stack_tar() {
  local fs="$1" tar="$2" opts=(--sort=name --format=gnu --mtime=@0 --numeric-owner) excl=() p
  shift 2
  for p in "$@"; do excl+=("--exclude=.$p"); done
  tar -cf "$tar" "${opts[@]}" --owner=0 --group=0 "${excl[@]}" -C "$fs" .
  for p in "$@"; do tar -rf "$tar" "${opts[@]}" --owner=65532 --group=65532 -C "$fs" ".$p"; done
}

# stack_build IMAGE VERSION DIGEST CONTEXT: builds CONTEXT/Containerfile as IMAGE:VERSION and :latest.
stack_build() {
  "$podman" build --quiet --pull=never --format docker --layers=false --label "io.bpm.inputs=$3" \
    --tag "$1:$2" --tag "$1:latest" --file "$4/Containerfile" "$4" >/dev/null
  stack_log "$1:$2 built ($(("$(podman_size "$1:$2")" / 1000000)) MB)"
}
podman_size() { "$podman" image inspect --format '{{.Size}}' "$1"; }

stack_image_consul() {
  local bin version digest ctx="$BPM_CONTAINERS_STATE/context-consul" image=localhost/bpm-consul
  bin="$("$root/scripts/tools.sh" consul)"
  version="$("$bin" version | sed -n '1s/^Consul v\([0-9.]*\).*/\1/p')"
  digest="$(stack_inputs "$bin")"
  if stack_current "$image:$version" "$digest"; then stack_log "$image:$version is current"; return; fi
  stack_rootfs "$ctx/rootfs" "$bin" /bin/consul consul
  mkdir -p "$ctx/rootfs/consul/data"
  chmod 0750 "$ctx/rootfs/consul/data"
  stack_tar "$ctx/rootfs" "$ctx/rootfs.tar" /consul/data
  cat >"$ctx/Containerfile" <<CF
FROM scratch
ADD rootfs.tar /
LABEL org.opencontainers.image.title="bpm-consul" org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="Consul $version for bpm's stack, built from the Go module proxy"
USER 65532:65532
WORKDIR /consul/data
VOLUME ["/consul/data"]
ENTRYPOINT ["/bin/consul"]
CMD ["agent", "-dev", "-client=127.0.0.1"]
CF
  stack_build "$image" "$version" "$digest" "$ctx"
}

stack_image_jaeger() {
  local bin version digest ctx="$BPM_CONTAINERS_STATE/context-jaeger" image=localhost/bpm-jaeger
  bin="$("$root/scripts/tools.sh" jaeger)"
  # shellcheck source=../tools.d/jaeger.sh
  version="$(source "$root/scripts/tools.d/jaeger.sh" && echo "$JAEGER_VERSION")"
  digest="$(stack_inputs "$bin" "$root/containers/jaeger.yaml")"
  if stack_current "$image:$version" "$digest"; then stack_log "$image:$version is current"; return; fi
  stack_rootfs "$ctx/rootfs" "$bin" /bin/jaeger jaeger
  install -D -m 0644 "$root/containers/jaeger.yaml" "$ctx/rootfs/etc/jaeger/config.yaml"
  stack_tar "$ctx/rootfs" "$ctx/rootfs.tar"
  cat >"$ctx/Containerfile" <<CF
FROM scratch
ADD rootfs.tar /
LABEL org.opencontainers.image.title="bpm-jaeger" org.opencontainers.image.version="$version" \\
      org.opencontainers.image.description="Jaeger $version (OTLP/HTTP in, traces in memory, query API and UI) for bpm's stack"
ENV JAEGER_LISTEN=127.0.0.1 JAEGER_OTLP_HTTP_PORT=4318 JAEGER_UI_PORT=16686 JAEGER_QUERY_GRPC_PORT=16685
USER 65532:65532
ENTRYPOINT ["/bin/jaeger", "--config", "/etc/jaeger/config.yaml"]
CF
  stack_build "$image" "$version" "$digest" "$ctx"
}

stack_image_postgres() {
  local tarball base major digest uid ctx="$BPM_CONTAINERS_STATE/context-postgres" image=localhost/bpm-postgres
  tarball="$("$root/scripts/tools.sh" postgres-rootfs)"
  major="$(tar -tf "$tarball" | sed -n 's|^\./usr/lib/postgresql/\([0-9]*\)/bin/postgres$|\1|p' | head -1)"
  [ -n "$major" ] || { echo "image.sh: no usr/lib/postgresql/*/bin/postgres in $tarball" >&2; exit 1; }
  # the root filesystem as an image of its own, once per tarball (importing ~300 MB is the slow part)
  base="localhost/bpm-postgres-rootfs:$(basename "$tarball" .tar | sed 's/^postgres-rootfs-//')"
  if ! "$podman" image exists "$base"; then
    "$podman" import --quiet "$tarball" "$base" >/dev/null
    stack_log "$base imported from $tarball"
  fi
  digest="$(stack_inputs "$tarball" "$root/containers/postgres-entrypoint.sh")"
  if stack_current "$image:$major" "$digest"; then stack_log "$image:$major is current"; return; fi
  uid="$(tar -xOf "$tarball" ./etc/passwd | awk -F: '$1 == "postgres" { print $3 ":" $4 }')"
  [ -n "$uid" ] || { echo "image.sh: no postgres user in $tarball" >&2; exit 1; }
  rm -rf "$ctx" && mkdir -p "$ctx/fs/usr/local/bin" "$ctx/fs/var/lib/postgresql/data"
  install -m 0755 "$root/containers/postgres-entrypoint.sh" "$ctx/fs/usr/local/bin/bpm-postgres"
  chmod 0700 "$ctx/fs/var/lib/postgresql/data"
  local opts=(--sort=name --format=gnu --mtime=@0 --numeric-owner)
  tar -cf "$ctx/add.tar" "${opts[@]}" --owner=0 --group=0 -C "$ctx/fs" ./usr
  tar -rf "$ctx/add.tar" "${opts[@]}" --owner="${uid%%:*}" --group="${uid##*:}" -C "$ctx/fs" ./var/lib/postgresql
  cat >"$ctx/Containerfile" <<CF
FROM $base
ADD add.tar /
LABEL org.opencontainers.image.title="bpm-postgres" org.opencontainers.image.version="$major" \\
      org.opencontainers.image.description="PostgreSQL $major from Debian's packages for bpm's stack"
ENV PGDATA=/var/lib/postgresql/data PGPORT=5432 POSTGRES_USER=bpm POSTGRES_LISTEN=127.0.0.1 LANG=C.UTF-8
USER $uid
VOLUME ["/var/lib/postgresql/data"]
# fast shutdown: SIGTERM (smart) would wait for every pooled client to leave
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["/usr/local/bin/bpm-postgres", "ready"]
ENTRYPOINT ["/usr/local/bin/bpm-postgres"]
CF
  stack_build "$image" "$major" "$digest" "$ctx"
}
