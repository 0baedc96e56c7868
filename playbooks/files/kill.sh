# NewRemora: stop one job's process group: TERM, then KILL after the grace period (bash + coreutils only).
# usage: kill.sh JOB_ID GRACE_S
set -u
umask 077
job_id=$1 grace_s=$2
dir="$HOME/.newremora/jobs/$job_id"
# Finished and collected (poll.sh left only its tombstone): nothing to stop, nothing to mark.
[ -f "$dir.done" ] && { echo "NRKILL already-exited"; exit 0; }
if [ ! -s "$dir/pgid" ]; then
    # Not started yet: leave a mark that stops the start (start.sh checks it once the job has a group).
    mkdir -p "$dir" && : > "$dir/canceled"
    echo "NRKILL before-start"
    exit 0
fi
[ -s "$dir/exit" ] && { echo "NRKILL already-exited"; exit 0; }
read -r pgid < "$dir/pgid"
: > "$dir/canceled"
kill -TERM -- "-$pgid" 2>/dev/null
deadline=$(( SECONDS + grace_s ))
while [ ! -s "$dir/exit" ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.05
done
if [ ! -s "$dir/exit" ]; then
    kill -KILL -- "-$pgid" 2>/dev/null
    echo "NRKILL killed"
else
    echo "NRKILL terminated"
fi
