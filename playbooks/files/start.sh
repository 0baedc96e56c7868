# NewRemora: start one job detached on this host (bash + coreutils only; run by the `raw` module).
# usage: start.sh JOB_ID KIND SHELL_B64 TIMEOUT GRACE PAYLOAD_B64 [ENV [SECRET]]
# ENV: the job's environment variables as name=BASE64,name=BASE64 ("-": none). SECRET: not "-" when more of them,
# secret ones, arrive on stdin in the same form (one line): exported to the job's process only, never written.
# Their names are lower case ([a-z][a-z0-9_]*): this script's own variables that outlive the exports are upper
# case, so a parameter can neither change what the script does nor be changed by it.
# The job runs under coreutils `timeout`, the leader of its own process group, so that the timeout and a
# cancel reach every process of the job. Its stdout, stderr, exit code and process group live in a 0700
# directory of the remote user until the controller has collected them.
# Every job pays for each process this script starts, on its target: bash builtins wherever they do the work.
set -u
job_id=$1 kind=$2 shell_b64=$3 timeout_s=$4 grace_s=$5 payload_b64=$6 env_words=${7:--} secret=${8:--}
secret_words=-
if [ "$secret" != - ]; then
    # Read first: stdin holds them whether this start runs the job or returns at once.
    IFS= read -r secret_words || [ -n "$secret_words" ] || exit 92
fi
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
# Decoded before the job's directory exists, so that a bad word fails the start and not a started job. A value
# keeps a trailing newline (a command substitution would drop it: the x guards it).
NR_ENV=()
for NR_WORDS in "$env_words" "$secret_words"; do
    [ "$NR_WORDS" = - ] && continue
    # Split by expansion, not by a here-string (older bash writes those to a temporary file); base64 and the
    # names have no glob characters.
    IFS=,
    NR_PAIRS=($NR_WORDS)
    unset IFS
    for NR_PAIR in "${NR_PAIRS[@]}"; do
        NR_NAME=${NR_PAIR%%=*}
        [[ $NR_NAME =~ ^[a-z][a-z0-9_]{0,62}$ ]] || exit 93
        NR_VALUE=$(printf %s "${NR_PAIR#*=}" | base64 -d && printf x) || exit 93
        NR_ENV+=("$NR_NAME=${NR_VALUE%x}")
    done
done
unset NR_WORDS NR_PAIRS NR_PAIR NR_NAME NR_VALUE secret_words
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
# write each; readers wait until they are not empty. The parameters are exported in a subshell that then
# becomes the job's session (this shell's variables stay as they are); the job's wrapper names its own variables
# in upper case, so that none of them replaces a parameter's value before the job starts.
set -- "$dir" "$timeout_s" "$grace_s" "$@"
(
for NR_ONE in "${NR_ENV[@]}"; do
    export "$NR_ONE"
done
unset NR_ONE NR_ENV
exec setsid bash -c '
    DIR=$1 TIMEOUT_S=$2 GRACE_S=$3
    shift 3
    # How long the job ran, measured here (one clock; bash 5 has EPOCHREALTIME, older ones leave it empty).
    BEGAN=${EPOCHREALTIME:--}
    timeout --kill-after="$GRACE_S" "$TIMEOUT_S" "$@" < /dev/null > "$DIR/stdout" 2> "$DIR/stderr" &
    LEADER=$!
    echo "$LEADER" > "$DIR/pgid"
    wait "$LEADER"
    RC=$?
    echo "$BEGAN ${EPOCHREALTIME:--}" > "$DIR/times"
    if { [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; } && [ "$SECONDS" -ge "$TIMEOUT_S" ]; then
        echo timeout > "$DIR/reason"
    fi
    echo "$RC" > "$DIR/exit"
' nr-job "$@"
) < /dev/null > /dev/null 2>&1 &
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
