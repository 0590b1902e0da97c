# Sourced by .ci/install-*.sh: install Debian packages non-interactively, as root.
#   apt_install <who> <package>...
apt_install() {
    local who="$1"
    shift
    if [ "$(id -u)" -ne 0 ]; then
        echo "$who: $* missing and not root; cannot install" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 900 apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@"
}
