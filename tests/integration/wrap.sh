# wrap.sh - sourced by the integration tests (lib.sh, test_agent.sh).
# With KF_WRAP_DIR set (`make memcheck`: scripts/memcheck.sh), the programs
# under test - KRBFLEET, KRBFLEETD, KF_AGENT_PROBE - are replaced by the
# wrappers of the same name in that directory (valgrind around the real
# binary). The variables stay exported, so helpers started from the test
# (tests/lab/fleet.sh starting krbfleetd) use the wrappers too.
if [ -n "${KF_WRAP_DIR:-}" ]; then
  for _kf_v in KRBFLEET KRBFLEETD KF_AGENT_PROBE; do
    _kf_b=${!_kf_v:-}
    if [ -n "$_kf_b" ] && [ "${_kf_b%/*}" != "$KF_WRAP_DIR" ] && [ -x "$KF_WRAP_DIR/${_kf_b##*/}" ]; then
      export "$_kf_v=$KF_WRAP_DIR/${_kf_b##*/}"
    fi
  done
  unset _kf_v _kf_b
fi
