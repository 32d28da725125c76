#!/bin/sh
# Install what building and testing mod_memguard needs, if it is missing.
# Debian/Ubuntu: apt-get (one `apt-get update` first, or a fresh machine
# finds nothing); Fedora/RHEL: dnf. With everything present it installs
# nothing and says so.
set -eu

missing_deb() {
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
            echo "$p"
        fi
    done
}

missing_rpm() {
    for p in "$@"; do
        rpm -q "$p" >/dev/null 2>&1 || echo "$p"
    done
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

if command -v apt-get >/dev/null 2>&1; then
    # debhelper, dpkg-dev (make deb; dh_apache2 comes with apache2-dev up
    # to Debian 12, from dh-apache2 after), rpm, rpmlint (make srpm, the
    # spec's checks in make test)
    dh_apache2=""
    command -v dh_apache2 >/dev/null 2>&1 || dh_apache2=dh-apache2
    need=$(missing_deb apache2 apache2-dev libxml2-dev libcmocka-dev \
        libapache2-mod-wsgi-py3 python3-pytest python3-prometheus-client \
        build-essential clang-format cppcheck curl haproxy \
        debhelper dpkg-dev rpm rpmlint $dh_apache2)
    if [ -n "$need" ]; then
        echo "installing: $(echo $need)"
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
            --no-install-recommends $need
    else
        echo "dependencies: all present"
    fi
elif command -v dnf >/dev/null 2>&1; then
    need=$(missing_rpm httpd httpd-devel libxml2-devel libcmocka-devel \
        python3-mod_wsgi python3-pytest python3-prometheus_client gcc make \
        clang-tools-extra cppcheck curl haproxy rpm-build rpmlint)
    if [ -n "$need" ]; then
        echo "installing: $(echo $need)"
        $SUDO dnf install -y $need
    else
        echo "dependencies: all present"
    fi
else
    echo "neither apt-get nor dnf found: install apache2-dev (httpd-devel)," \
        "libxml2, cmocka, mod_wsgi for Python 3 and pytest by hand" >&2
    exit 1
fi
