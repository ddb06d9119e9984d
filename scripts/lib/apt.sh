# shellcheck shell=bash
# Sourced, not run: `apt_install PKG…` installs the Debian packages that are missing, once
# per shell (one `apt-get update`), and fails saying which packages when it cannot.
# The packages' maintainer scripts must not start system-wide daemons (there is no
# systemd here, and the project runs its own instances), so that is forbidden for the
# install only.

APT_UPDATED=0
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) != 0 ]]; then
        echo "apt: need root to install ${missing[*]} (or install them yourself)" >&2
        return 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "apt: no apt-get: install ${missing[*]} by hand" >&2
        return 1
    fi
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    if ((APT_UPDATED == 0)); then
        echo "apt: apt-get update" >&2
        apt-get update -qq >&2
        APT_UPDATED=1
    fi
    echo "apt: installing ${missing[*]}" >&2
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
    ((own_policy == 0)) || rm -f "$policy"
    if ((rc != 0)); then
        echo "apt: apt-get install ${missing[*]} failed" >&2
        return 1
    fi
}
