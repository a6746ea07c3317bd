# PostgreSQL server binaries from Debian's packages; prints the bin dir holding initdb, postgres, pg_ctl.
# Pinned by the Debian release (bookworm: 15); BPM_PG_MAJOR=N installs postgresql-N instead.
# Debian's archive keeps only the current point release, so an exact version pin would break on updates.
install_postgres() {
  local pkg="postgresql" dir
  [ -n "${BPM_PG_MAJOR:-}" ] && pkg="postgresql-$BPM_PG_MAJOR"
  if [ -n "${BPM_PG_MAJOR:-}" ]; then
    dir="/usr/lib/postgresql/$BPM_PG_MAJOR/bin"
  else
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/postgres" ]; then
    apt_install "$pkg"
    [ -n "${BPM_PG_MAJOR:-}" ] || dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  fi
  [ -x "$dir/initdb" ] || { echo "tools.sh: $pkg installed but no initdb under /usr/lib/postgresql/*/bin" >&2; exit 1; }
  echo "$dir"
}
