# NewRemora: long-poll one job's output (bash + coreutils only; run by the `raw` module in an until loop).
# usage: poll.sh JOB_ID TOKEN STDOUT_OFFSET STDERR_OFFSET WAIT_S MAX_BYTES ATTEMPT
# Waits up to WAIT_S for new bytes or the exit, then prints:
#   NRPOLL <stdout offset> <stderr offset>   where the chunks below start
#   NROUT <base64 of new stdout bytes>
#   NRERR <base64 of new stderr bytes>
#   NRDONE <exit code> <reason>              once the job has exited and everything was sent
# Ansible does not re-template task arguments between retries, so what was sent in this run is kept here,
# in a file named after the run's token; the offsets given on the command line are the controller's own.
set -u
umask 077
job_id=$1 token=$2 out=$3 err=$4 wait_s=$5 max=$6 attempt=${7:-1}
dir="$HOME/.newremora/jobs/$job_id"
if [ ! -d "$dir" ]; then
    echo "NRGONE"
    exit 0
fi
if [ -f "$dir/canceled" ] && [ ! -f "$dir/pgid" ]; then
    # Canceled before it started: it never ran.
    printf 'NRPOLL %s %s\nNROUT \nNRERR \nNRDONE 143 canceled\n' "$out" "$err"
    exit 0
fi
# The newest claim polling this job (the clean-up task of an older one then leaves the directory alone).
if [ "$(cat "$dir/attempt" 2>/dev/null || echo 0)" -lt "$attempt" ]; then
    echo "$attempt" > "$dir/attempt"
fi
state="$dir/sent.$token"
[ -f "$state" ] && read -r out err < "$state"
deadline=$(( SECONDS + wait_s ))
while :; do
    # Exit first, sizes second: once the exit file exists the sizes read after it are final.
    done=0
    [ -f "$dir/exit" ] && done=1
    out_size=$(stat -c %s "$dir/stdout")
    err_size=$(stat -c %s "$dir/stderr")
    if [ "$out_size" -gt "$out" ] || [ "$err_size" -gt "$err" ] || [ "$done" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
        break
    fi
    sleep 0.05
done
out_len=$(( out_size - out )); [ "$out_len" -gt "$max" ] && out_len=$max
err_len=$(( err_size - err )); [ "$err_len" -gt "$max" ] && err_len=$max
echo "NRPOLL $out $err"
printf 'NROUT '; tail -c +"$(( out + 1 ))" "$dir/stdout" | head -c "$out_len" | base64 -w0; echo
printf 'NRERR '; tail -c +"$(( err + 1 ))" "$dir/stderr" | head -c "$err_len" | base64 -w0; echo
out=$(( out + out_len ))
err=$(( err + err_len ))
echo "$out $err" > "$state"
if [ "$done" = 1 ] && [ "$out" -ge "$out_size" ] && [ "$err" -ge "$err_size" ]; then
    echo "NRDONE $(cat "$dir/exit") $(cat "$dir/reason" 2>/dev/null || echo -)"
fi
