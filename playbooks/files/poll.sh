# NewRemora: long-poll one job's output (bash + coreutils only; run by the `raw` module right after start.sh,
# in the job's until loop).
# usage: poll.sh JOB_ID TOKEN STDOUT_OFFSET STDERR_OFFSET WAIT_MS MAX_BYTES ATTEMPT
# Waits up to WAIT_MS for new bytes or the exit, then prints:
#   NRPOLL <stdout offset> <stderr offset>   where the chunks below start
#   NROUT <base64 of new stdout bytes>
#   NRERR <base64 of new stderr bytes>
#   NRDONE <exit code> <reason> <began> <ended>   once the job has exited and everything was sent (the times
#                                            of its start and end on this host's clock, or - when unknown)
# or NRGONE when nothing is known of the job.
# Ansible does not re-template task arguments between retries, so what was sent in this run is kept here,
# in a file named after the run's token; the offsets given on the command line are the controller's own.
# Once everything was sent, the newest claim of the job replaces its directory by a one-line tombstone
# (exit code, reason, stream sizes), so that no separate clean-up round trip is needed and a controller that
# died before storing the last answer still learns the exit code (start.sh removes tombstones after an hour).
set -u
umask 077
job_id=$1 token=$2 out=$3 err=$4 wait_ms=$5 max=$6 attempt=${7:-1}
dir="$HOME/.newremora/jobs/$job_id"
# Every job pays for each process this script starts, on its target: bash builtins wherever they do the work.

newest_attempt() {
    newest=0
    [ -s "$dir/attempt" ] && read -r newest < "$dir/attempt"
}

forget() {  # exit_code reason stdout_size stderr_size began ended
    newest_attempt
    if [ "$newest" -le "$attempt" ]; then
        # One short write: the tombstone is read only once the directory is gone.
        echo "$1 $2 $3 $4 $5 $6" > "$dir.done" && rm -rf -- "$dir"
    fi
}

if [ ! -d "$dir" ]; then
    if [ -f "$dir.done" ]; then
        read -r rc reason out_size err_size began ended < "$dir.done"
        # Collected before: the sizes tell the controller whether it holds everything.
        printf 'NRPOLL %s %s\nNROUT \nNRERR \nNRDONE %s %s %s %s\n' "$out_size" "$err_size" "$rc" "$reason" \
            "${began:--}" "${ended:--}"
    else
        echo "NRGONE"
    fi
    exit 0
fi
if [ -f "$dir/canceled" ] && [ ! -s "$dir/pgid" ]; then
    # Canceled before it started: it never ran.
    printf 'NRPOLL %s %s\nNROUT \nNRERR \nNRDONE 143 canceled - -\n' "$out" "$err"
    forget 143 canceled "$out" "$err" - -
    exit 0
fi
# The newest claim polling this job (an older one then leaves the directory alone).
newest_attempt
if [ "$newest" -lt "$attempt" ]; then
    echo "$attempt" > "$dir/attempt"
fi
# Per claim: a claim that lost its connection may not have received what the last poll sent; the next claim
# resumes from the offsets the controller stored.
state="$dir/sent.$token.$attempt"
checks=$(( wait_ms / 50 ))
if [ -s "$state" ]; then
    read -r out err < "$state"
elif [ "$checks" -gt 5 ]; then
    # This claim's first poll answers within 250 ms: the controller then knows the job runs (it shows it
    # running, and re-attaches rather than starts it after a crash). A short job has ended by then: one answer.
    checks=5
fi
while :; do
    # Exit first, sizes second: once the exit file is written the sizes read after it are final.
    done=0
    [ -s "$dir/exit" ] && done=1
    { read -r out_size; read -r err_size; } < <(stat -c %s "$dir/stdout" "$dir/stderr")
    if [ "$out_size" -gt "$out" ] || [ "$err_size" -gt "$err" ] || [ "$done" = 1 ] || [ "$checks" -le 0 ]; then
        break
    fi
    checks=$(( checks - 1 ))
    sleep 0.05
done
out_len=$(( out_size - out )); [ "$out_len" -gt "$max" ] && out_len=$max
err_len=$(( err_size - err )); [ "$err_len" -gt "$max" ] && err_len=$max
echo "NRPOLL $out $err"
printf 'NROUT '
[ "$out_len" -gt 0 ] && tail -c +"$(( out + 1 ))" "$dir/stdout" | head -c "$out_len" | base64 -w0
echo
printf 'NRERR '
[ "$err_len" -gt 0 ] && tail -c +"$(( err + 1 ))" "$dir/stderr" | head -c "$err_len" | base64 -w0
echo
out=$(( out + out_len ))
err=$(( err + err_len ))
echo "$out $err" > "$state"
if [ "$done" = 1 ] && [ "$out" -ge "$out_size" ] && [ "$err" -ge "$err_size" ]; then
    read -r rc < "$dir/exit"
    reason=- began=- ended=-
    [ -s "$dir/reason" ] && read -r reason < "$dir/reason"
    [ -s "$dir/times" ] && read -r began ended < "$dir/times"
    echo "NRDONE $rc $reason $began $ended"
    forget "$rc" "$reason" "$out" "$err" "$began" "$ended"
fi
exit 0
