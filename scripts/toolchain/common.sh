# Shared by the toolchain build scripts (sourced): logging, timing and running a logged step.
log() { echo "[toolchain] $*" >&2; }
die() { echo "[toolchain] ERROR: $*" >&2; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# run_logged LOGFILE WHAT cmd... : run, keep output in LOGFILE, on failure show its tail and
# name the modules the proxy refused, if any.
run_logged() {
  local logfile="$1" what="$2"; shift 2
  if ! "$@" >"$logfile" 2>&1; then
    tail -n 40 "$logfile" >&2
    local refused
    refused="$(grep -oE '([a-z0-9.-]+/[^ :@]+)@v[^ :]+: (reading|verifying|not found|invalid)[^\n]*' "$logfile" | head -n 5 || true)"
    [[ -n "$refused" ]] && echo "[toolchain] module errors:" >&2 && echo "$refused" >&2
    die "${what} failed (full log: ${logfile})"
  fi
}
