#!/usr/bin/env bash
# Installs the system packages the integration tests need (Debian, as root).
# Idempotent: does nothing (and touches no network) when everything is present.
# Never leaves a system sshd or PostgreSQL cluster running: the tests start
# their own throwaway instances on random ports.
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
    echo "install-system-deps: must run as root" >&2
    exit 1
fi

# sshd refuses to start without its privilege-separation directory, and
# /run is a tmpfs, so this is needed even when nothing has to be installed.
mkdir -p /run/sshd
chmod 0755 /run/sshd

missing=()
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
command -v sshpass >/dev/null 2>&1 || missing+=(sshpass)
# Become (run a job as another user) is tested through sudo.
[[ -x /usr/bin/sudo ]] || missing+=(sudo)
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
    missing+=(openssh-client)
fi
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot run here).
[[ -x /usr/bin/chromium ]] || missing+=(chromium fonts-dejavu-core)

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

# Debian postinst scripts start services through invoke-rc.d, which obeys
# policy-rc.d; exit code 101 means "action forbidden". An existing policy
# (e.g. Docker's) is left untouched; ours is removed again on exit.
policy=/usr/sbin/policy-rc.d
log=$(mktemp)
cleanup() {
    if [[ -n ${our_policy:-} ]]; then rm -f "${policy}"; fi
    rm -f "${log}"
}
trap cleanup EXIT
if [[ ! -e ${policy} ]]; then
    printf '#!/bin/sh\nexit 101\n' >"${policy}"
    chmod 0755 "${policy}"
    our_policy=1
fi

for pkg in "${missing[@]}"; do
    echo "install-system-deps: installing ${pkg}"
done
# apt output is kept quiet but shown in full if something goes wrong.
if ! apt-get update -q >"${log}" 2>&1 \
    || ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >>"${log}" 2>&1; then
    cat "${log}" >&2
    exit 1
fi

is_missing() {
    local want=$1 pkg
    for pkg in "${missing[@]}"; do
        [[ ${pkg} == "${want}" ]] && return 0
    done
    return 1
}

# Belt and braces for systems where policy-rc.d is not honoured, and because
# units enabled by deb-systemd-helper would start at the next boot: only
# services we just installed are stopped and disabled.
quiesce_units() {
    command -v systemctl >/dev/null 2>&1 || return 0
    # "disable" edits symlinks and works without a running systemd; "stop"
    # only makes sense (and only works) when systemd is PID 1.
    systemctl disable --quiet "$@" >/dev/null 2>&1 || true
    if [[ -d /run/systemd/system ]]; then
        systemctl stop "$@" >/dev/null 2>&1 || true
    fi
}
if is_missing openssh-server; then
    quiesce_units ssh.service ssh.socket
    if [[ -f /run/sshd.pid ]]; then
        kill "$(cat /run/sshd.pid)" 2>/dev/null || true
        rm -f /run/sshd.pid
    fi
fi
if is_missing postgresql; then
    quiesce_units postgresql.service
    # postgresql-common creates a "main" cluster on port 5432; make sure it
    # is down and will not come up by itself.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        while read -r version cluster _port status _rest; do
            [[ ${version} =~ ^[0-9]+$ ]] || continue
            if [[ ${status} == online* ]]; then
                pg_ctlcluster "${version}" "${cluster}" stop >/dev/null 2>&1 || true
            fi
            conf=/etc/postgresql/${version}/${cluster}/start.conf
            if [[ -f ${conf} ]]; then echo manual >"${conf}"; fi
        done < <(pg_lsclusters --no-header 2>/dev/null || true)
    fi
fi
