# The planted bugs of the demo charms, for the benchmark scripts (sourced, not run).
# BUG-1..4 are in examples/charms/demo-k8s, M1..M3 in examples/charms/demo-machine, M4 in
# examples/charms/demo-snap; each
# charm's comments say what the bug is (`# PLANTED BUG-n`, `# BUG-Mn`).

# bug -> the demo charm it is planted in.
bug_charm() {
    case "$1" in
        BUG-[1-4]) echo demo-k8s ;;
        M[1-3]) echo demo-machine ;;
        M4) echo demo-snap ;;
        *) echo "unknown bug $1 (BUG-1..4, M1..M4)" >&2; return 1 ;;
    esac
}

# bug -> a piece of its findings' signature or title (what --only / CHARMFUZZ_ONLY take):
# the charm function the exception escapes from, or for M2 (raised by ops while it
# restores the deferred storage event) the error's words.
bug_pattern() {
    case "$1" in
        BUG-1) echo "src/charm.py:_on_web_pebble_ready|" ;;
        BUG-2) echo "src/charm.py:_on_db_relation_changed|" ;;
        BUG-3) echo "src/charm.py:_on_rotate_password_action|" ;;
        BUG-4) echo "src/charm.py:_on_get_status_action|" ;;
        M1) echo "src/charm.py:_on_restart_action|" ;;
        M2) echo "failed loading storage" ;;
        M3) echo "src/charm.py:_publish_cluster_state|" ;;
        M4) echo "src/charm.py:_running_revision|" ;;
        *) echo "unknown bug $1 (BUG-1..4, M1..M4)" >&2; return 1 ;;
    esac
}
