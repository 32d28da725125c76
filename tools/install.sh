#!/bin/sh
# make install: the module through apxs (honouring DESTDIR), and the conf
# snippets where the platform keeps them (Debian: mods-available for
# a2enmod; Fedora: conf.modules.d and conf.d).
set -eu
APXS=$1
DESTDIR=${2:-}
libexec=$($APXS -q LIBEXECDIR)
sysconf=$($APXS -q SYSCONFDIR)

mkdir -p "$DESTDIR$libexec"
$APXS -i -S LIBEXECDIR="$DESTDIR$libexec" -n memguard \
    mod_memguard/mod_memguard.la

if [ -d "$DESTDIR$sysconf/mods-available" ] || [ -f /etc/debian_version ]; then
    d="$DESTDIR$sysconf/mods-available"
    mkdir -p "$d"
    sed "s|@LIBEXECDIR@|$libexec|" conf/memguard.load > "$d/memguard.load"
    cp conf/memguard.conf "$d/memguard.conf"
    echo "installed $d/memguard.load and memguard.conf: a2enmod memguard"
else
    # Fedora/RHEL: SYSCONFDIR is /etc/httpd/conf, but conf.modules.d and
    # conf.d sit beside it, in the ServerRoot (/etc/httpd)
    case $sysconf in
    */conf) top=${sysconf%/conf} ;;
    *) top=$sysconf ;;
    esac
    mkdir -p "$DESTDIR$top/conf.modules.d" "$DESTDIR$top/conf.d"
    sed "s|@LIBEXECDIR@|modules|" conf/memguard.load \
        > "$DESTDIR$top/conf.modules.d/10-memguard.conf"
    cp conf/memguard.conf "$DESTDIR$top/conf.d/memguard.conf"
    echo "installed $top/conf.modules.d/10-memguard.conf and" \
        "$top/conf.d/memguard.conf"
fi
