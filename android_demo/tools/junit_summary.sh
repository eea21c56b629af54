# Sourced by test_core.sh and test_host.sh: turn a JUnit 5 console launcher run into the plain
# "N passed, N failed" line CI reads, and the exit status.
#
# junit_summary LOG STATUS: LOG is the launcher's output, STATUS its exit status. Prints the line;
# returns 1 when a test failed or was aborted, when none passed, or when the launcher failed
# without a test failing (an engine error).
junit_summary() {
    local log="$1" status="$2" passed failed aborted
    count() {  # the number on JUnit's summary line "[   N tests <what>   ]"
        sed -n "s/^\[ *\([0-9][0-9]*\) tests $1 *\]$/\1/p" "$log" | tail -n 1
    }
    passed="$(count successful)"
    failed="$(count failed)"
    aborted="$(count aborted)"
    passed="${passed:-0}"
    failed=$(( ${failed:-0} + ${aborted:-0} ))
    if [[ "$status" != 0 && "$failed" == 0 ]]; then
        failed=1
    fi
    echo "$passed passed, $failed failed"
    [[ "$failed" == 0 && "$passed" != 0 ]]
}
