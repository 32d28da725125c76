/*
 * mg_version.h - the project's version, written here and nowhere else.
 *
 * The module shows it on the status page and in its start-up log line;
 * the Makefile reads it (`make version`) and gives it to the Debian
 * changelog and the RPM spec it makes from tools/debian and tools/rpm.
 * Keep the line's shape: `#define MG_VERSION "x.y.z"`.
 */
#ifndef MG_VERSION_H
#define MG_VERSION_H

#define MG_VERSION "0.3.0"

#endif
