# NewRemora: start one job detached on this host (bash + coreutils only; run by the `raw` module).
# usage: start.sh JOB_ID KIND SHELL_B64 TIMEOUT GRACE PAYLOAD_B64
# The job runs under coreutils `timeout`, the leader of its own process group, so that the timeout and a
# cancel reach every process of the job. Its stdout, stderr, exit code and process group live in a 0700
# directory of the remote user until the controller has collected them.
# Every job pays for each process this script starts, on its target: bash builtins wherever they do the work.
set -u
job_id=$1 kind=$2 shell_b64=$3 timeout_s=$4 grace_s=$5 payload_b64=$6
umask 077
jobs_dir="$HOME/.newremora/jobs"
dir="$jobs_dir/$job_id"
# Every poll of the job's task runs this script again first (one command per task): a started or collected
# job returns at once, and never runs twice.
if [ -d "$dir" ] || [ -f "$dir.done" ]; then
    exit 0
fi
if [ ! -d "$jobs_dir" ]; then
    mkdir -p "$jobs_dir" || exit 90
    chmod 700 "$HOME/.newremora" "$jobs_dir"
fi
if ! mkdir "$dir" 2>/dev/null; then
    exit 0  # started meanwhile by another claim of the job
fi
# Tombstones of collected jobs (see poll.sh) are only needed by a controller that re-attaches soon after;
# looking for old ones at one start in 16 is often enough.
if [ $(( RANDOM % 16 )) -eq 0 ]; then
    find "$jobs_dir" -maxdepth 1 -name '*.done' -mmin +60 -delete 2>/dev/null
fi
: > "$dir/stdout"
: > "$dir/stderr"
if [ "$kind" = script ]; then
    printf %s "$payload_b64" | base64 -d > "$dir/payload" || exit 91
    interpreter=$(printf %s "$shell_b64" | base64 -d)
    set -- "$interpreter" "$dir/payload"
else
    command=$(printf %s "$payload_b64" | base64 -d) || exit 91
    set -- /bin/sh -c "$command"
fi
# Files another script reads while they may be being written (pgid, reason, exit) are written in one short
# write each; readers wait until they are not empty.
setsid bash -c '
    dir=$1 timeout_s=$2 grace_s=$3
    shift 3
    # How long the job ran, measured here (one clock; bash 5 has EPOCHREALTIME, older ones leave it empty).
    began=${EPOCHREALTIME:--}
    timeout --kill-after="$grace_s" "$timeout_s" "$@" < /dev/null > "$dir/stdout" 2> "$dir/stderr" &
    leader=$!
    echo "$leader" > "$dir/pgid"
    wait "$leader"
    rc=$?
    echo "$began ${EPOCHREALTIME:--}" > "$dir/times"
    if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$SECONDS" -ge "$timeout_s" ]; then
        echo timeout > "$dir/reason"
    fi
    echo "$rc" > "$dir/exit"
' nr-job "$dir" "$timeout_s" "$grace_s" "$@" < /dev/null > /dev/null 2>&1 &
# Wait until the process group is known, so that a cancel right after the start can find it.
pgid=
for (( i = 0; i < 400; i++ )); do
    [ -s "$dir/pgid" ] && read -r pgid < "$dir/pgid" && break
    sleep 0.005
done
if [ -f "$dir/canceled" ] && [ -n "$pgid" ]; then
    # A cancel arrived while the job was starting.
    kill -TERM -- "-$pgid" 2>/dev/null
fi
exit 0
