/* SPDX-License-Identifier: Apache-2.0 */
/* mmfsctl.h -- mmfsctl's subcommands kept in files of their own. */
#ifndef MMFS_FS_MMFSCTL_H
#define MMFS_FS_MMFSCTL_H

#include <stdbool.h>

/* mmfsctl snapshot ...: argv as main's; returns the exit code */
int mmfsctl_snapshot(int argc, char *argv[]);

#endif
