# A Debian root filesystem holding PostgreSQL's server, as a tarball for `scripts/image.sh` to turn into
# the local image bpm-postgres. Built with mmdebstrap from Debian's packages (the mirror apt uses here),
# once per machine; prints the tarball's path. Pinned by the Debian release and PostgreSQL major:
# Debian's archive keeps only the current point release, so an exact version pin would break on updates.
PG_ROOTFS_SUITE="${PG_ROOTFS_SUITE:-bookworm}"
PG_ROOTFS_MAJOR="${PG_ROOTFS_MAJOR:-15}"
# shellcheck source=lib/go.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/go.sh"   # tool_lock

install_postgres_rootfs() {
  local tar="$BPM_TOOLS/postgres-rootfs-$PG_ROOTFS_SUITE-$PG_ROOTFS_MAJOR.tar"
  [ -s "$tar" ] || tool_lock postgres-rootfs
  if [ ! -s "$tar" ]; then
    apt_install mmdebstrap
    local t0=$SECONDS
    log "building a $PG_ROOTFS_SUITE root filesystem with postgresql-$PG_ROOTFS_MAJOR (first time only)"
    # Essential packages plus the server; no docs, man pages or translations. JIT (LLVM, ~100 MB) is
    # removed: postgres runs without it when llvmjit.so is absent.
    mmdebstrap --quiet --format=tar --variant=essential --include="postgresql-$PG_ROOTFS_MAJOR" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook="rm -rf \"\$1\"/usr/lib/postgresql/$PG_ROOTFS_MAJOR/lib/llvmjit* \"\$1\"/usr/lib/postgresql/$PG_ROOTFS_MAJOR/lib/bitcode \"\$1\"/usr/lib/x86_64-linux-gnu/libLLVM-*" \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/lib/postgresql/*/main "$1"/etc/postgresql/*/main' \
      "$PG_ROOTFS_SUITE" "$tar.tmp" >&2
    mv "$tar.tmp" "$tar"
    log "built $(basename "$tar") ($(( $(stat -c %s "$tar") / 1000000 )) MB) in $((SECONDS - t0)) s"
  fi
  echo "$tar"
}
