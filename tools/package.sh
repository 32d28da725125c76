#!/bin/sh
# Packages from the source tree, for the Makefile (README, "Packages"):
#
#   package.sh tarball  build/pkg/mod_memguard-VERSION.tar.gz
#   package.sh deb      build/deb/libapache2-mod-memguard_VERSION-1_ARCH.deb
#   package.sh srpm     build/rpm/SRPMS/mod_memguard-VERSION-1.src.rpm
#   package.sh rpm      build/rpm/RPMS/ARCH/mod_memguard-VERSION-1.ARCH.rpm
#                       (Fedora/RHEL, with httpd-devel installed)
#
# VERSION comes from the Makefile, which reads mod_memguard/core/mg_version.h.
# Every package is built from the tarball, so what is packaged is what a
# distribution would get: the tracked files as they are now (uncommitted
# edits included, untracked files not). The Debian changelog and the spec
# are made from tools/debian/changelog.in and tools/rpm/mod_memguard.spec.in
# with the version and the date of the last commit (SOURCE_DATE_EPOCH, if
# set, wins), so two builds of one commit say the same.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
: "${VERSION:?run through the Makefile (make deb, make srpm)}"
name=mod_memguard-$VERSION
tarball=$top/build/pkg/$name.tar.gz

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

subst() { # template -> stdout, with @VERSION@ and @DATE@ (date format $1)
    fmt=$1
    shift
    sed -e "s/@VERSION@/$VERSION/g" \
        -e "s/@DATE@/$(LC_ALL=C date -u -d "@$SOURCE_DATE_EPOCH" "$fmt")/g" \
        "$@"
}

make_tarball() {
    mkdir -p build/pkg
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # `git stash create` commits the work tree's tracked files to an
        # object of its own, touching neither HEAD, the index nor the
        # stash; it prints nothing when nothing is modified.
        rev=$(git stash create)
        git archive --format=tar --prefix="$name/" "${rev:-HEAD}" \
            | gzip -n -9 >"$tarball.tmp"
    else
        # not a git checkout (an unpacked tarball): the tree, without
        # build outputs
        tar -cf - --exclude=./build --exclude='*.o' --exclude='*.lo' \
            --exclude='*.la' --exclude='*.slo' --exclude=.libs \
            --exclude=__pycache__ --exclude=.pytest_cache \
            --transform="s,^\\.,$name," . | gzip -n -9 >"$tarball.tmp"
    fi
    mv "$tarball.tmp" "$tarball"
    echo "tarball: build/pkg/$name.tar.gz"
}

# Debian: source package mod-memguard (Debian's names have no "_"),
# binary package libapache2-mod-memguard. The tarball becomes the orig
# tarball and is unpacked beside it; tools/debian becomes its debian/.
make_deb() {
    make_tarball
    d=build/deb
    src=mod-memguard-$VERSION
    rm -rf "$d"
    mkdir -p "$d"
    cp "$tarball" "$d/mod-memguard_$VERSION.orig.tar.gz"
    tar -xzf "$tarball" -C "$d"
    mv "$d/$name" "$d/$src"
    rm -rf "$d/$src/debian"
    cp -R tools/debian "$d/$src/debian"
    rm "$d/$src/debian/changelog.in"
    subst '+%a, %d %b %Y %H:%M:%S +0000' tools/debian/changelog.in \
        >"$d/$src/debian/changelog"
    (cd "$d/$src" && dpkg-buildpackage -b -us -uc -jauto)
    ls "$d"/*.deb
}

# RPM: a private _topdir under build/rpm, so nothing lands in ~/rpmbuild.
rpm_setup() {
    make_tarball
    r=$top/build/rpm
    rm -rf "$r"
    mkdir -p "$r/SOURCES" "$r/SPECS"
    cp "$tarball" "$r/SOURCES/"
    subst '+%a %b %d %Y' tools/rpm/mod_memguard.spec.in \
        >"$r/SPECS/mod_memguard.spec"
}

case "${1:-}" in
tarball)
    make_tarball
    ;;
deb)
    make_deb
    ;;
srpm)
    rpm_setup
    rpmbuild -bs --define "_topdir $r" "$r/SPECS/mod_memguard.spec"
    ;;
rpm)
    rpm_setup
    rpmbuild -bb --define "_topdir $r" "$r/SPECS/mod_memguard.spec"
    ;;
*)
    echo "usage: VERSION=x.y.z $0 tarball|deb|srpm|rpm" >&2
    exit 2
    ;;
esac
